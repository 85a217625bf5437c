//! The cluster core (docs/MODEL.md): membership, the priority list, boss
//! election with two deputies, generations, merge, quorum and lease fencing.
//!
//! # Shape (sans-IO)
//!
//! [`Core`] never opens a socket, reads a clock or allocates after
//! [`Core::new`]. The shell feeds it inputs, each with the current
//! [`Instant`]:
//!
//! * [`Core::handle_message`]: a verified message from another box (the codec
//!   has authenticated it, dropped duplicates and checked the incarnation);
//! * [`Core::handle_timeout`]: time passed ([`Core::poll_timeout`] says when
//!   it next must be called);
//! * [`Core::handle_control`]: `bongoyo hold` / `bongoyo resume`;
//! * [`Core::handle_health`]: this box's health from its self-checks (0 = hold);
//! * [`Core::leave`]: the daemon exits on purpose (SIGTERM, after handing
//!   over): the others are told, so its silence is not taken for a loss.
//!
//! and drains [`Core::poll_action`] after each input. Getters tell the status
//! command everything else.
//!
//! # Files
//!
//! * `membership.rs`: the per-box table (joining / alive / suspect / lost /
//!   hold), incarnations, indirect probing, records and lost alerts.
//! * `election.rs`: who is boss: cold start, succession (deputy 1, deputy 2,
//!   then the list), quorum (semi-boss), merge, hold.
//! * [`lease`] (`lease.rs`): hellos' send-time ring, acknowledgements, the boss lease
//!   (from endorsing boxes) and the holding lease (from any boxes), the
//!   timing constants and why they are safe.
//! * `list.rs`: the priority list's ranking.
//! * `timer.rs`: the core's own deadlines, one slot per kind, which
//!   [`Core::poll_timeout`] folds with the peers' deadlines.
//!
//! # Timers (hello H, dead D, both from the config)
//!
//! * every H: a hello (plus the boss's state to each deputy);
//! * a peer silent for D is *suspect*: ask up to [`PROBE_FANOUT`] others; after
//!   the probe window H/2 it is *lost* unless one of them heard it within D;
//! * joining lasts D; a box that then hears no boss claims by rank (cold start);
//! * lease L ≈ 0.99 D (the longest whose drift-stretched length fits in D),
//!   so a lost peer's lease has expired before it is declared lost (see
//!   [`lease`]).

use heapless::{Deque, Vec};

use crate::config::{Config, Fencing, NodeId};
use crate::limits::{MAX_NODES, MAX_VSERVERS};
use crate::proto::{Body, Record, Role, VsEntry};
use crate::time::Instant;

mod election;
pub mod lease;
mod list;
mod membership;
mod timer;

pub use lease::Timers;
pub use membership::MemberState;
use membership::Peer;
use timer::{Timer, TimerTable};

/// Actions the queue holds between two drains. The shell drains after every
/// input; a full queue means it did not.
///
/// Policy when full: a new `Send` is dropped (hellos repeat every interval
/// and probes are retried, so a lost send only delays); a new `RoleChanged`,
/// `Member` or `Alert` evicts the oldest queued `Send`, else the oldest
/// action. Every drop is counted in [`Core::dropped_actions`].
pub const ACTION_QUEUE: usize = 32;

/// How many other boxes a box asks about a peer it misses (indirect probe).
pub const PROBE_FANOUT: usize = 3;

/// Where a message goes.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum Dest {
    /// Every box (multicast, plus each unicast peer).
    All,
    /// One box, unicast to its node address.
    Node(NodeId),
}

/// Why the core raises an alert (syslog LOG_ALERT plus the `notify` hook).
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum AlertKind {
    /// The box has been lost for longer than `lost-alert` (raised by the
    /// acting boss, once per loss).
    Lost {
        /// How long it has been lost, in milliseconds.
        lost_for_ms: u64,
    },
    /// The box sends hellos with another configuration digest: its file
    /// differs. Its messages are ignored. Raised once per incarnation.
    ConfigMismatch,
}

/// A change in how this box sees another box, logged when it happens
/// (docs/LOGS.md, `member`). The silence of a box that left on purpose is
/// not reported: it said it was going.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum MemberChange {
    /// A run (incarnation) of the box is heard for the first time: it was
    /// never heard since this box started, or it restarted.
    Joined {
        /// Its new incarnation.
        incarnation: u64,
    },
    /// The same run is heard again after it was suspect or lost (a cut
    /// healed, or it was frozen and resumed).
    Back {
        /// How long it had been silent, in milliseconds.
        silent_ms: u64,
    },
    /// Silent for the dead interval: other boxes are being asked about it.
    Suspect {
        /// How long it has been silent, in milliseconds.
        silent_ms: u64,
    },
    /// Silent, and no box asked still hears it.
    Lost {
        /// How long it has been silent, in milliseconds.
        silent_ms: u64,
    },
    /// It said it is leaving on purpose (its daemon stops after handing
    /// over what it held).
    Left,
}

/// What the core asks the shell to do.
// `Send` carries a whole state sync by value: boxing it would allocate.
#[allow(clippy::large_enum_variant)]
#[derive(Clone, Debug, PartialEq)]
pub enum Action {
    /// Send a message.
    Send {
        /// Destination.
        to: Dest,
        /// The message.
        body: Body,
    },
    /// This box's role, the boss it follows or the generation changed: log
    /// it (and let the vserver layer know who gives orders).
    RoleChanged {
        /// The new role.
        role: Role,
        /// The boss now followed (this box if it claims boss).
        boss: Option<NodeId>,
        /// The generation of that boss.
        generation: u32,
    },
    /// How this box sees another box changed: log it.
    Member {
        /// The box concerned.
        node: NodeId,
        /// What changed.
        change: MemberChange,
    },
    /// Tell the operator: syslog LOG_ALERT and the `notify` hook.
    Alert {
        /// The box concerned.
        node: NodeId,
        /// What happened.
        kind: AlertKind,
    },
}

/// Operator commands that reach the core.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum Control {
    /// `bongoyo hold`.
    Hold,
    /// `bongoyo resume`.
    Resume,
}

/// Ring of the send times of this box's recent hellos: an acknowledgement
/// names a hello by sequence, and the lease counts from its send time. An
/// acknowledgement older than the ring is too old to extend any lease as
/// long as `RING * hello >= lease` (checked in [`Timers::new`]'s clamp).
pub const RING: usize = 64;

/// The cluster core of one box.
pub struct Core {
    // --- fixed at construction ---
    me: NodeId,
    n: u8,
    quorum: u8,
    fencing: Fencing,
    t: Timers,
    priority: [u8; MAX_NODES],
    /// Position of each node when sorted by name (merge tie-break "lower name").
    name_rank: [u8; MAX_NODES],
    digest: u32,
    incarnation: u64,
    started: Instant,

    // --- this box ---
    now: Instant,
    role: Role,
    boss: Option<NodeId>,
    generation: u32,
    max_generation: u32,
    /// When the followed boss went away (lost, stepped down, or none at start).
    boss_gone_at: Option<Instant>,
    /// A block is running: send a hello the moment it ends, so the new boss
    /// gets its endorsement without waiting for the next interval.
    endorse_pending: bool,
    /// Per box: when this box last sent a hello endorsing it as boss (this
    /// run). Leaving a boss blocks endorsing another only for W after the
    /// newest of these (see [`Core::switch_boss`]).
    endorsed_at: [Option<Instant>; MAX_NODES],
    /// The block every run starts with (it may have endorsed a boss in a
    /// previous life): no endorsement before this.
    boot_block: Instant,
    held: bool,
    health: u8,
    /// A role or boss change wants an early hello.
    want_hello: bool,
    /// The claims the newest hello carried.
    announced_claims: u64,
    /// As claimant: saw a quorum at some point, and when last.
    had_quorum: bool,
    quorum_seen_at: Instant,

    // --- hellos and leases ---
    seq: u32,
    ring: [(u32, Instant); RING],
    last_hello: Option<Instant>,
    /// Send time of the newest hello that endorsed this box itself as boss.
    self_endorsed: Option<Instant>,
    /// Next hello, joining end, endorsement block end, boss lease and
    /// holding lease ends.
    timers: TimerTable,
    lease_since: Option<Instant>,

    // --- the table ---
    peers: [Peer; MAX_NODES],
    list: Vec<NodeId, MAX_NODES>,
    records: [Record; MAX_NODES],
    next_decay: Instant,
    /// The state streamed by the boss (kept by a deputy; continued from when
    /// it becomes boss): which boss and generation it came from.
    synced_from: Option<(NodeId, u32)>,
    /// When the newest state-sync page arrived; `None` once the table is
    /// this box's own (set as boss), which nobody keeps current once it
    /// stops acting.
    synced_at: Option<Instant>,
    synced_records: [Record; MAX_NODES],
    /// The vserver table the boss streams to its deputies (filled by the
    /// vserver layer through [`Core::set_vservers`]).
    vservers: Vec<VsEntry, MAX_VSERVERS>,
    nonce: u32,

    // --- what this box announces for the vserver layer ---
    mac: [u8; 6],
    claims: u64,
    suitability: Vec<u8, MAX_VSERVERS>,

    actions: Deque<Action, ACTION_QUEUE>,
    dropped: u32,
}

impl Core {
    /// A new core for box `me` (its index among the config's `node` lines,
    /// which the shell found by name: it must be below their count),
    /// booted as `incarnation`, at `now`. It starts joining: it listens for
    /// one dead interval before it may claim boss.
    pub fn new(config: &Config, me: NodeId, incarnation: u64, now: Instant) -> Self {
        let n = config.nodes.len().min(MAX_NODES) as u8;
        debug_assert!(me < n, "this box is not among the config's nodes");
        let t = Timers::new(config.hello, config.dead, config.lost_alert);
        let mut priority = [0u8; MAX_NODES];
        for (i, node) in config.nodes.iter().enumerate().take(MAX_NODES) {
            priority[i] = node.priority;
        }
        let mut name_rank = [0u8; MAX_NODES];
        for (i, a) in config.nodes.iter().enumerate().take(MAX_NODES) {
            let below = config
                .nodes
                .iter()
                .enumerate()
                .filter(|(j, b)| b.name < a.name || (b.name == a.name && *j < i));
            name_rank[i] = below.count() as u8;
        }
        let quorum = config.quorum.clamp(1, n.max(1));
        let mut core = Core {
            me,
            n,
            quorum,
            fencing: config.fencing,
            t,
            priority,
            name_rank,
            digest: config.digest(),
            incarnation,
            started: now,
            now,
            role: Role::Joining,
            boss: None,
            generation: 0,
            max_generation: 0,
            boss_gone_at: None,
            endorse_pending: false,
            endorsed_at: [None; MAX_NODES],
            boot_block: now + ms(t.block),
            held: false,
            health: 100,
            want_hello: false,
            announced_claims: 0,
            had_quorum: false,
            quorum_seen_at: now,
            seq: 0,
            ring: [(0, Instant::ZERO); RING],
            last_hello: None,
            self_endorsed: None,
            timers: TimerTable::default(),
            lease_since: None,
            peers: [Peer::UNKNOWN; MAX_NODES],
            list: Vec::new(),
            records: [Record::default(); MAX_NODES],
            next_decay: now + ms(lease::RECORD_HALF_LIFE_MS),
            synced_from: None,
            synced_at: None,
            synced_records: [Record::default(); MAX_NODES],
            vservers: Vec::new(),
            nonce: (incarnation as u32) | 1,
            mac: [0; 6],
            claims: 0,
            suitability: Vec::new(),
            actions: Deque::new(),
            dropped: 0,
        };
        // A box that just booted may have endorsed a boss in its previous
        // life; it endorses nobody for one block (joining covers it).
        core.timers.set(Timer::Endorse, Some(now + ms(t.block)));
        core.timers.set(Timer::Joining, Some(now + ms(t.dead)));
        // The first hello goes out at once: others learn of us early.
        core.timers.set(Timer::Hello, Some(now));
        core
    }

    /// A verified message from `from` (incarnation from the header).
    pub fn handle_message(&mut self, now: Instant, from: NodeId, incarnation: u64, body: &Body) {
        if from >= self.n || from == self.me {
            return;
        }
        self.advance(now);
        let now = self.now;
        match body {
            Body::Hello(h) => self.on_hello(now, from, incarnation, h),
            Body::ProbeRequest { target, nonce } => {
                self.heard_other(now, from, incarnation);
                self.on_probe_request(now, from, *target, *nonce);
            }
            Body::ProbeAnswer {
                target,
                nonce,
                heard_ms_ago,
            } => {
                self.heard_other(now, from, incarnation);
                self.on_probe_answer(now, from, *target, *nonce, *heard_ms_ago);
            }
            Body::StateSync(s) => {
                self.heard_other(now, from, incarnation);
                self.on_state_sync(now, from, s);
            }
            Body::Leave => self.on_leave(from, incarnation),
            // Vserver traffic belongs to the vserver layer; challenges to the
            // codec. They still prove the sender is alive.
            _ => self.heard_other(now, from, incarnation),
        }
        self.settle(now);
    }

    /// Time passed.
    pub fn handle_timeout(&mut self, now: Instant) {
        self.advance(now);
        self.settle(self.now);
    }

    /// An operator command: `Hold` takes this box off the list (if boss, it
    /// steps down at once); `Resume` puts it back (if healthy).
    pub fn handle_control(&mut self, now: Instant, cmd: Control) {
        self.advance(now);
        self.held = matches!(cmd, Control::Hold);
        self.settle(self.now);
    }

    /// This box's health from its self-checks, load and free memory, 0-100.
    /// 0 means not fully functional: the box goes on hold until it reports
    /// more than 0 again. Health also ranks the priority list.
    pub fn handle_health(&mut self, now: Instant, health: u8) {
        self.advance(now);
        self.health = health.min(100);
        self.settle(self.now);
    }

    /// The daemon exits now, on purpose, after handing over what it held:
    /// tell every box, so they show it as left and raise no `node-lost`
    /// alert for its silence. Sent twice: a lost datagram would make the
    /// stop look like a loss. Nothing else changes here (its membership,
    /// lease and claims age out at the others as for any silent box).
    pub fn leave(&mut self, now: Instant) {
        self.advance(now);
        for _ in 0..2 {
            self.send(Dest::All, Body::Leave);
        }
    }

    /// The next instant [`Core::handle_timeout`] must be called (at the
    /// latest): next hello, joining end, a peer's dead deadline, a probe
    /// window, a lease expiry, an alert.
    pub fn poll_timeout(&self) -> Option<Instant> {
        // The next hello bounds the wait even when overdue; every other
        // deadline counts while it is still ahead.
        let hello = self.timers.get(Timer::Hello)?;
        let ahead = Timer::ALL
            .into_iter()
            .filter(|&k| k != Timer::Joining || self.role == Role::Joining)
            .filter_map(|k| self.timers.get(k))
            .chain(self.boss_gone_at.map(|g| g + ms(self.t.dead)))
            .chain(self.others().filter_map(|p| self.peer_deadline(p)))
            .filter(|&x| x > self.now);
        Some(ahead.fold(hello, Instant::min))
    }

    /// The next action (drain after every input).
    #[must_use]
    pub fn poll_action(&mut self) -> Option<Action> {
        self.actions.pop_front()
    }

    /// This box's role.
    pub fn role(&self) -> Role {
        self.role
    }

    /// The boss this box follows (itself if it claims boss).
    pub fn boss(&self) -> Option<NodeId> {
        self.boss
    }

    /// The generation of the boss this box follows.
    pub fn generation(&self) -> u32 {
        self.generation
    }

    /// This box's node index.
    pub fn me(&self) -> NodeId {
        self.me
    }

    /// This box's incarnation.
    pub fn incarnation(&self) -> u64 {
        self.incarnation
    }

    /// The priority list, best first: the boss's published list (on the
    /// boss, the one it last published).
    pub fn list(&self) -> &[NodeId] {
        &self.list
    }

    /// The deputies, first in line first: the two best on the list other
    /// than the boss.
    pub fn deputies(&self) -> Vec<NodeId, 2> {
        let mut d = Vec::new();
        for &x in self.list.iter().filter(|&&x| Some(x) != self.boss) {
            if d.push(x).is_err() {
                break;
            }
        }
        d
    }

    /// How this box sees box `node` (its own entry: joining, alive or hold).
    pub fn member(&self, node: NodeId) -> MemberState {
        if node == self.me {
            return match self.role {
                Role::Joining => MemberState::Joining,
                Role::Hold => MemberState::Hold,
                _ => MemberState::Alive,
            };
        }
        self.peers
            .get(node as usize)
            .map_or(MemberState::Unknown, |p| p.state)
    }

    /// Whether box `node` said it was leaving on purpose and has not been
    /// heard in a new run since (shown as `left`, not `lost`).
    pub fn left(&self, node: NodeId) -> bool {
        node != self.me && self.peers.get(node as usize).is_some_and(|p| p.left)
    }

    /// The configuration digest box `node` announces, if its current run
    /// runs another file than this box (its messages are ignored; status
    /// shows it as `other-file`).
    pub fn other_file(&self, node: NodeId) -> Option<u32> {
        self.peers
            .get(node as usize)
            .filter(|p| p.mismatch && node != self.me)
            .map(|p| p.digest)
    }

    /// This box's configuration digest, as its hellos announce it.
    pub fn digest(&self) -> u32 {
        self.digest
    }

    /// How many boxes this box hears now (alive, joining or on hold), itself
    /// included: what it counts toward [`Core::quorum`].
    pub fn live_boxes(&self) -> usize {
        self.live_count()
    }

    /// How many live boxes a boss needs (the resolved `quorum`).
    pub fn quorum(&self) -> u8 {
        self.quorum
    }

    /// Every configured box with its state, in node order.
    pub fn members(&self) -> impl Iterator<Item = (NodeId, MemberState)> + '_ {
        (0..self.n).map(|i| (i, self.member(i)))
    }

    /// What box `node`'s newest hello said: role, boss, generation and its
    /// sequence number. Test support.
    #[cfg(any(test, feature = "testing"))]
    pub fn peer_said(&self, node: NodeId) -> (Role, Option<NodeId>, u32, u32) {
        let p = &self.peers[node as usize % MAX_NODES];
        (p.role, p.boss, p.generation, p.seq)
    }

    /// The boss's record of box `node` (meaningful on the boss and deputies).
    pub fn record(&self, node: NodeId) -> Record {
        self.records.get(node as usize).copied().unwrap_or_default()
    }

    /// Whether this box is on hold (operator `hold` or health 0).
    pub fn on_hold(&self) -> bool {
        self.held || self.health == 0
    }

    /// Actions dropped because the queue was full (see [`ACTION_QUEUE`]).
    pub fn dropped_actions(&self) -> u32 {
        self.dropped
    }

    /// The timers derived from the configuration.
    pub fn timers(&self) -> &Timers {
        &self.t
    }

    /// The MAC this box announces.
    pub fn mac(&self) -> [u8; 6] {
        self.mac
    }

    /// The vservers box `node` claims in its newest hello (bit per vserver;
    /// this box's own claims for `me`).
    pub fn peer_claims(&self, node: NodeId) -> u64 {
        if node == self.me {
            return self.claims;
        }
        self.peers.get(node as usize).map_or(0, |p| p.claims)
    }

    /// When the hello carrying box `node`'s claims arrived (`None`: never, or
    /// `node` is this box, whose claims are always current).
    pub fn peer_claims_at(&self, node: NodeId) -> Option<Instant> {
        if node == self.me {
            return None;
        }
        self.peers
            .get(node as usize)
            .filter(|p| p.state != MemberState::Unknown)
            .map(|p| p.claims_at)
    }

    /// The MAC box `node` announces (all-zero: not heard yet).
    pub fn peer_mac(&self, node: NodeId) -> [u8; 6] {
        if node == self.me {
            return self.mac;
        }
        self.peers.get(node as usize).map_or([0; 6], |p| p.mac)
    }

    /// Set the MAC announced in hellos (the shell reads it from the interface).
    pub fn set_mac(&mut self, mac: [u8; 6]) {
        self.mac = mac;
    }

    /// Set the vservers this box claims (bit per vserver) and its suitability
    /// for each, announced in the next hellos (the vserver layer's input).
    ///
    /// A change goes out in an early hello (at most four per interval), so
    /// the boss learns of a takeover or a release at once.
    pub fn set_claims(&mut self, claims: u64, suitability: &[u8]) {
        if claims != self.claims {
            let early = self
                .last_hello
                .map_or(self.now, |l| l + ms(self.t.hello / 4));
            if self.timers.get(Timer::Hello).is_none_or(|h| early < h) {
                self.timers.set(Timer::Hello, Some(early.max(self.now)));
            }
        }
        self.claims = claims;
        self.suitability.clear();
        for &s in suitability.iter().take(MAX_VSERVERS) {
            // Cannot fail: at most MAX_VSERVERS items after `take`.
            let _ = self.suitability.push(s);
        }
    }

    /// True when the newest hello sent carried this box's current claims.
    pub fn claims_announced(&self) -> bool {
        self.announced_claims == self.claims
    }

    /// Set the vserver table the boss streams to its deputies every hello.
    pub fn set_vservers(&mut self, table: &[VsEntry]) {
        self.synced_at = None;
        self.vservers.clear();
        for &e in table.iter().take(MAX_VSERVERS) {
            let _ = self.vservers.push(e);
        }
    }

    /// The vserver table: on the boss what it set, on a deputy what the boss
    /// last streamed (a deputy that becomes boss continues from it).
    pub fn vservers(&self) -> &[VsEntry] {
        &self.vservers
    }

    /// The vserver table as the boss this box follows now streamed it, and
    /// how old the newest page is (ms): only on a box that is not that boss,
    /// from that boss at its current generation, and younger than the dead
    /// interval (the boss streams every hello to its deputies; an older copy
    /// means this box no longer gets it). `None` otherwise: a copy from an
    /// earlier boss, or this box's own table from when it acted, is not
    /// what anyone knows now.
    pub fn synced_table(&self, now: Instant) -> Option<(&[VsEntry], u64)> {
        let at = self.synced_at?;
        let boss = self.boss.filter(|&b| b != self.me)?;
        let age = now.saturating_since(at).as_millis() as u64;
        (self.synced_from == Some((boss, self.generation)) && age < self.t.dead)
            .then_some((self.vservers.as_slice(), age))
    }

    // --- internals shared by the files of this module ---

    fn others(&self) -> impl Iterator<Item = NodeId> {
        let me = self.me;
        (0..self.n).filter(move |&i| i != me)
    }

    /// This box claims boss (boss or semi-boss).
    fn claiming(&self) -> bool {
        self.boss == Some(self.me) && matches!(self.role, Role::Boss | Role::SemiBoss)
    }

    /// Move the clock forward (never back) and run every time-driven rule.
    fn advance(&mut self, now: Instant) {
        if now >= self.now + ms(self.t.dead) {
            self.resume_after_stall(now);
        }
        if now > self.now {
            self.now = now;
        }
        let now = self.now;
        self.check_peers(now);
        self.decay_records(now);
        self.abandon_stale_claim(now);
        if self.endorse_pending && self.timers.expired(Timer::Endorse, now) {
            self.endorse_pending = false;
            self.want_hello = true;
        }
    }

    /// After an input: decide roles, refresh leases, send hellos due.
    fn settle(&mut self, now: Instant) {
        self.refresh_leases(now);
        self.decide(now);
        self.refresh_leases(now);
        if self.want_hello {
            // An early hello tells everyone at once about a new role or
            // boss, but no more than four per interval.
            let early = self.last_hello.map_or(now, |l| l + ms(self.t.hello / 4));
            if self.timers.get(Timer::Hello).is_none_or(|h| early < h) {
                self.timers.set(Timer::Hello, Some(early.max(now)));
            }
            self.want_hello = false;
        }
        if self.timers.expired(Timer::Hello, now) {
            self.send_hello(now);
            self.decide(now);
            self.refresh_leases(now);
        }
    }

    fn push(&mut self, a: Action) {
        if !self.actions.is_full() {
            let _ = self.actions.push_back(a);
            return;
        }
        self.dropped = self.dropped.saturating_add(1);
        if matches!(a, Action::Send { .. }) {
            return;
        }
        // Make room for a role change or an alert: evict the oldest send.
        let len = self.actions.len();
        let mut evicted = false;
        for _ in 0..len {
            if let Some(x) = self.actions.pop_front() {
                if !evicted && matches!(x, Action::Send { .. }) {
                    evicted = true;
                    continue;
                }
                let _ = self.actions.push_back(x);
            }
        }
        if !evicted {
            let _ = self.actions.pop_front();
        }
        let _ = self.actions.push_back(a);
    }

    fn send(&mut self, to: Dest, body: Body) {
        self.push(Action::Send { to, body });
    }
}

/// Milliseconds as a `Duration` for `Instant` arithmetic.
fn ms(x: u64) -> core::time::Duration {
    core::time::Duration::from_millis(x)
}
