//! One box's whole sans-IO brain: the cluster [`Core`], the boss's vserver
//! [`Monitor`] and this box's [`Holder`], joined.
//!
//! The shell (the mio loop, or the simulator) feeds a [`Node`] the same
//! `(now, input)` pairs it would feed the core, plus the results of the OS
//! work the node asked for (checks, takeover steps), and drains [`Output`]s.
//!
//! What the join decides:
//!
//! * Only the **acting boss** (boss with quorum and a valid boss lease) runs
//!   the monitor. When a box starts acting it continues from the table its
//!   predecessor streamed to it ([`Monitor::restore`]), and it hands its own
//!   table to the core every turn to stream to its deputies.
//! * Orders are obeyed only from the boss this box follows, at the
//!   generation it follows or newer.
//! * A **claim counts** (for the combo state's third character) if an alive or
//!   suspect box announces it, or if a lost box announced it and its lease
//!   has not surely lapsed (docs/MODEL.md: the boss waits for the lease).
//! * A box takes over only while its own lease is valid, and gives up
//!   everything when it lapses ([`Holder::tick`], fencing layer 1).
//! * Orders to itself (the boss is a volunteer too) are delivered locally.
//! * **Checks nobody needs to run.** A vserver without a service check
//!   (`service none`) is up: the node answers that check itself as it hands
//!   its outputs out, so the shell never sees it. A box without a
//!   self-check is always suitable and is never asked for one.
//! * **Hand-over.** A box on hold (`bongoyo hold`, health 0, or stopping)
//!   keeps serving what it holds; the acting boss moves each vserver to
//!   another box by a planned move (see [`crate::vserver::monitor`]). A
//!   stopping box that still holds something after [`HANDOVER_LIMIT`]
//!   releases it itself. `bongoyo release` goes to the acting boss's monitor,
//!   through a [`Body::MoveRequest`] when this box is not the boss.

use core::time::Duration;

use heapless::{Deque, Vec};

use crate::cluster::{Action, AlertKind, Control, Core, Dest, MemberChange, MemberState};
use crate::config::{Check, Config, Fencing, NodeId, VsId};
use crate::limits::{MAX_ANSWERING, MAX_NODES, MAX_VSERVERS};
use crate::proto::{Body, Role, VsEntry};
use crate::takeover::holder::{Holder, HolderAction};
use crate::takeover::{kernel_hold_bound, Step};
use crate::time::Instant;
use crate::vserver::combo::Combo;
use crate::vserver::monitor::{
    Answer, CheckKind, Monitor, MonitorAction, MoveStart, Order, View, VsAlert, ARP_PROBES,
    BOSS_ROUND_ARP_PROBES, ROUND_ARP_PROBES,
};

/// Outputs the queue holds between two drains. Policy when full: the newest
/// is dropped and counted; hellos, checks and renewals repeat, orders are
/// retried by the boss's timeouts.
pub const OUTPUT_QUEUE: usize = 64;

/// Monitor actions handled per pump round (see [`Node::handle_timeout`]).
const MONITOR_BURST: usize = 32;

/// How long the claims of a box count as current after the hello that
/// carried them arrived: two hellos and a half, so one lost hello and some
/// jitter do not make a box stale. A box heard less lately is treated as
/// not heard ([`View::unknown`]): behind a one-way cut it still hears the
/// boss and follows it while its own hellos stop, and it may have taken a
/// vserver since (from an earlier boss's order) that the boss cannot see.
/// Before this rule the boss counted such a box as alive with its old
/// claims until `dead` made it suspect, and gave its vserver to a second box
/// (simulator seed 137107135).
pub fn claims_fresh(hello_ms: u64) -> Duration {
    Duration::from_millis(2 * hello_ms + hello_ms / 2)
}

/// How long a stopping box waits for the boss to move its vservers away
/// before it releases what is left itself. A move takes an early hello, a
/// round (one hello at most), the release and a message; a boss that stops
/// hands its role over first, and its successor checks once. Two seconds
/// cover that at the default timers and leave the shell's own stop grace
/// (5 s, `daemon::STOP_GRACE`) three seconds for the release hooks.
pub const HANDOVER_LIMIT: Duration = Duration::from_secs(2);

/// What became of an operator's `bongoyo release` on this box.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum MoveAnswer {
    /// This box is the acting boss: what its monitor did.
    Boss(MoveStart),
    /// Sent to the boss this box follows.
    Forwarded {
        /// That boss.
        boss: NodeId,
    },
    /// No acting boss to ask: this box follows none (joining, or cut off),
    /// or it is itself a boss without quorum.
    NoBoss,
    /// No such vserver.
    Unknown,
}

/// What the node asks the shell to do.
// `Send` carries a whole message by value (a state-sync page is the largest):
// boxing it would allocate per message, which the core never does.
#[allow(clippy::large_enum_variant)]
#[derive(Clone, Debug, PartialEq)]
pub enum Output {
    /// Send a message.
    Send {
        /// Destination.
        to: Dest,
        /// The message.
        body: Body,
    },
    /// Run a boss-side check of a vserver; answer with
    /// [`Node::handle_service`], [`Node::handle_reach`] or
    /// [`Node::handle_reach_tcp`]. Never a service check of a vserver with
    /// `service none`: the node answers those itself.
    Check {
        /// The vserver.
        vserver: VsId,
        /// Which check.
        kind: CheckKind,
        /// ARP probes an ARP reachability check sends in its window:
        /// [`ARP_PROBES`] for the boss's checks, more for a volunteer
        /// round's probe, which a takeover rests on
        /// ([`ROUND_ARP_PROBES`], [`BOSS_ROUND_ARP_PROBES`]).
        arp_probes: u32,
    },
    /// Run this box's self-check for a vserver; answer with
    /// [`Node::handle_self_check`].
    SelfCheck {
        /// The vserver.
        vserver: VsId,
    },
    /// One step of a takeover or release; answer with [`Node::handle_step`].
    Step {
        /// The vserver.
        vserver: VsId,
        /// The step.
        step: Step,
    },
    /// Renew the kernel lifetime of a held vserver's address.
    Renew {
        /// The vserver.
        vserver: VsId,
    },
    /// Role, boss or generation changed.
    RoleChanged {
        /// The new role.
        role: Role,
        /// The boss followed.
        boss: Option<NodeId>,
        /// Its generation.
        generation: u32,
    },
    /// A vserver's combo state or holder changed (boss only).
    VsChanged {
        /// The vserver.
        vserver: VsId,
        /// New combo state.
        combo: Combo,
        /// The box told to serve it.
        holder: Option<NodeId>,
    },
    /// How this box sees another box changed (suspect, lost, joined, back,
    /// left): log it.
    Member {
        /// The box.
        node: NodeId,
        /// What changed.
        change: MemberChange,
    },
    /// A box needs the operator (syslog LOG_ALERT and the notify hook).
    NodeAlert {
        /// The box.
        node: NodeId,
        /// What happened.
        kind: AlertKind,
    },
    /// A vserver needs the operator.
    VsAlert {
        /// The vserver.
        vserver: VsId,
        /// What happened.
        kind: VsAlert,
    },
    /// A planned move (boss only): `from` was told to release, `to` takes
    /// over as soon as it has.
    VsMoving {
        /// The vserver.
        vserver: VsId,
        /// The holder.
        from: NodeId,
        /// The successor.
        to: NodeId,
    },
    /// Another box forwarded an operator's `release` (boss only).
    MoveRequested {
        /// The vserver.
        vserver: VsId,
        /// The box it came from.
        by: NodeId,
        /// What the monitor did.
        result: MoveStart,
    },
}

/// One box.
pub struct Node {
    core: Core,
    monitor: Monitor,
    holder: Holder,
    me: NodeId,
    nodes: u8,
    hello: Duration,
    fencing_none: bool,
    /// Self-check verdicts as suitability 0-100, per vserver.
    suitability: [u8; MAX_VSERVERS],
    /// Bit per vserver without a service check (`service none`).
    no_service: u64,
    self_check: [bool; MAX_VSERVERS],
    check_every: [Duration; MAX_VSERVERS],
    next_self_check: [Instant; MAX_VSERVERS],
    self_check_in_flight: [bool; MAX_VSERVERS],
    nvs: usize,
    acting: bool,
    lost: u32,
    /// Bit per other box heard now (alive, joining or on hold): a box that
    /// joins the set makes the holder announce its addresses again.
    heard: u32,
    /// Bit per vserver another box claims in its newest hello: one that
    /// leaves the set while held here is announced again.
    others_claim: u64,
    next_tick: Instant,
    lease_valid: bool,
    claims_sent: u64,
    claimers: [u32; MAX_VSERVERS],
    /// Per vserver: a volunteer request that asked for a probe, answered
    /// when the probe's result comes (the boss and the round).
    probing: [Option<(NodeId, u32)>; MAX_VSERVERS],
    table: Vec<VsEntry, MAX_VSERVERS>,
    out: Deque<Output, OUTPUT_QUEUE>,
    dropped: u32,
    /// Messages dropped because they were not expected here (an order from
    /// a box this one does not follow, an answer to a boss that no longer
    /// acts, a vserver index out of range).
    ignored: u32,
    stopping: bool,
    /// A stopping box releases what is left itself from then on.
    handover_until: Option<Instant>,
    last_now: Instant,
}

impl Node {
    /// Box `me` of `config`, starting at `now` with a fresh incarnation.
    pub fn new(config: &Config, me: NodeId, incarnation: u64, now: Instant) -> Node {
        let mut n = Node {
            core: Core::new(config, me, incarnation, now),
            monitor: Monitor::new(config, now),
            holder: Holder::new(config),
            me,
            nodes: config.nodes.len() as u8,
            hello: config.hello,
            fencing_none: config.fencing == Fencing::None,
            suitability: [0; MAX_VSERVERS],
            no_service: 0,
            self_check: [false; MAX_VSERVERS],
            check_every: [Duration::ZERO; MAX_VSERVERS],
            next_self_check: [now; MAX_VSERVERS],
            self_check_in_flight: [false; MAX_VSERVERS],
            nvs: config.vservers.len().min(MAX_VSERVERS),
            acting: false,
            lost: 0,
            heard: 0,
            others_claim: 0,
            next_tick: now,
            lease_valid: false,
            claims_sent: u64::MAX,
            claimers: [0; MAX_VSERVERS],
            probing: [None; MAX_VSERVERS],
            table: Vec::new(),
            out: Deque::new(),
            dropped: 0,
            ignored: 0,
            stopping: false,
            handover_until: None,
            last_now: now,
        };
        for (i, v) in config.vservers.iter().enumerate().take(MAX_VSERVERS) {
            // No self-check configured: always suitable.
            n.self_check[i] = !matches!(v.self_check, Check::None);
            n.suitability[i] = if n.self_check[i] { 0 } else { 100 };
            n.check_every[i] = v.check;
            if matches!(v.service, Check::None) {
                n.no_service |= 1 << i;
            }
        }
        n
    }

    /// [`Node::new`] on the heap, built in a frame of its own so the
    /// caller's stack does not hold a copy (the node is about 190 KB).
    #[inline(never)]
    pub fn boxed(config: &Config, me: NodeId, incarnation: u64, now: Instant) -> Box<Node> {
        Box::new(Node::new(config, me, incarnation, now))
    }

    /// The cluster core (role, boss, members, list, leases).
    pub fn core(&self) -> &Core {
        &self.core
    }

    /// The holder (what this box serves).
    pub fn holder(&self) -> &Holder {
        &self.holder
    }

    /// The vserver table: the boss's own, or the one streamed to a deputy.
    pub fn vservers(&self) -> &[VsEntry] {
        if self.acting {
            &self.table
        } else {
            self.core.vservers()
        }
    }

    /// Outputs dropped because the queue was full.
    pub fn dropped_outputs(&self) -> u32 {
        self.dropped
    }

    /// Verified messages dropped because they were not expected here.
    pub fn ignored_messages(&self) -> u32 {
        self.ignored
    }

    /// Set the MAC announced in hellos.
    pub fn set_mac(&mut self, mac: [u8; 6]) {
        self.core.set_mac(mac);
    }

    /// A verified message from `from`.
    pub fn handle_message(&mut self, now: Instant, from: NodeId, incarnation: u64, body: &Body) {
        if from >= self.nodes || from == self.me {
            return;
        }
        self.core.handle_message(now, from, incarnation, body);
        let follows = self.core.boss() == Some(from);
        let known = |vs: VsId| (vs as usize) < self.nvs;
        let mut used = true;
        match *body {
            Body::VolunteerRequest {
                vserver,
                round,
                probe,
            } if follows && known(vserver) => {
                if probe {
                    self.probe_for(from, vserver, round);
                } else {
                    self.send_answer(now, from, vserver, round, &[]);
                }
            }
            Body::VolunteerAnswer {
                vserver,
                round,
                suitability,
                holding,
                ref answering,
            } if self.acting && known(vserver) => {
                let a = Answer {
                    vserver,
                    round,
                    suitability,
                    holding,
                    answering: answering.clone(),
                };
                self.with_view(now, |m, now, v| m.handle_volunteer(now, from, a, v));
            }
            Body::Assume {
                vserver,
                round,
                generation,
            } if follows && generation >= self.core.generation() && known(vserver) => {
                // Only on a lease still being renewed (see `lease_fresh`).
                let lease = self.lease_fresh(now);
                self.holder
                    .assume(now, from, vserver, round, lease && !self.stopping);
            }
            Body::Release {
                vserver,
                generation,
                round,
            } if follows && generation >= self.core.generation() && known(vserver) => {
                let report = (round != 0).then_some((from, round));
                self.holder.release(now, vserver, report);
            }
            Body::Outcome { vserver, round, ok } if self.acting && known(vserver) => {
                self.with_view(now, |m, now, v| {
                    m.handle_outcome(now, from, vserver, round, ok, v)
                });
            }
            Body::MoveRequest { vserver } if self.acting && known(vserver) => {
                let result = self.monitor_move(now, vserver);
                self.emit(Output::MoveRequested {
                    vserver,
                    by: from,
                    result,
                });
            }
            // The cluster core's and the codec's own messages.
            Body::Hello(_)
            | Body::ProbeRequest { .. }
            | Body::ProbeAnswer { .. }
            | Body::StateSync(_)
            | Body::Challenge { .. }
            | Body::Response { .. }
            | Body::Leave => {}
            // Vserver traffic this box does not expect: an order from a box
            // it does not follow or of an older generation, an answer or a
            // request for a boss that no longer acts, an index out of range.
            _ => used = false,
        }
        if !used {
            self.ignored = self.ignored.saturating_add(1);
        }
        self.pump(now);
    }

    /// Time passed.
    pub fn handle_timeout(&mut self, now: Instant) {
        self.core.handle_timeout(now);
        self.pump(now);
    }

    /// An operator command. `Hold` takes this box off the list: it stops
    /// volunteering (a boss steps down at once) and announces hold; it keeps
    /// serving what it holds until the acting boss has moved each vserver to
    /// another box (make-before-break: the successor is chosen while this box
    /// still serves). With nobody to take a vserver, it stays here.
    pub fn handle_control(&mut self, now: Instant, cmd: Control) {
        self.core.handle_control(now, cmd);
        self.pump(now);
    }

    /// `bongoyo release VSERVER` on this box: the acting boss's monitor
    /// moves the vserver off its holder. On the boss itself the answer says
    /// what the monitor did; elsewhere the request goes to the boss this box
    /// follows in a [`Body::MoveRequest`].
    pub fn request_move(&mut self, now: Instant, vserver: VsId) -> MoveAnswer {
        if vserver as usize >= self.nvs {
            return MoveAnswer::Unknown;
        }
        let answer = if self.acting && self.core.is_acting(now) {
            MoveAnswer::Boss(self.monitor_move(now, vserver))
        } else {
            match self.core.boss() {
                Some(boss) if boss != self.me => {
                    self.emit(Output::Send {
                        to: Dest::Node(boss),
                        body: Body::MoveRequest { vserver },
                    });
                    MoveAnswer::Forwarded { boss }
                }
                _ => MoveAnswer::NoBoss,
            }
        };
        self.pump(now);
        answer
    }

    /// This boss's monitor takes a request to move `vserver`.
    fn monitor_move(&mut self, now: Instant, vserver: VsId) -> MoveStart {
        let mut result = MoveStart::Unknown;
        self.with_view(now, |m, now, v| result = m.request_move(now, vserver, v));
        result
    }

    /// Graceful stop (SIGTERM): hand everything over, then exit. The box
    /// goes on hold, which it announces (a boss steps down at once and its
    /// successor is elected without waiting for `dead`); the acting boss
    /// moves its vservers away as for `hold`. Whatever is still held after
    /// [`HANDOVER_LIMIT`] is released here. The shell exits once
    /// [`Node::stopped`] is true (or after its own deadline).
    pub fn shutdown(&mut self, now: Instant) {
        self.stopping = true;
        self.handover_until = Some(now + HANDOVER_LIMIT);
        self.core.handle_control(now, Control::Hold);
        self.pump(now);
    }

    /// The daemon exits now (after [`Node::shutdown`], or at its stop
    /// deadline): tell the others it leaves on purpose ([`Core::leave`]).
    pub fn leave(&mut self, now: Instant) {
        self.core.leave(now);
        self.pump(now);
    }

    /// The vserver table this box knows now, and how old it is (ms): the
    /// acting boss's own (age 0), or the copy the boss it follows streamed
    /// to it lately ([`Core::synced_table`]). `None` on any other box: a
    /// table it kept from an earlier boss, or from when it acted itself, is
    /// not what anyone knows now (what `bongoyo status` shows).
    pub fn known_table(&self, now: Instant) -> Option<(&[VsEntry], u64)> {
        if self.acting && self.core.is_acting(now) {
            Some((&self.table, 0))
        } else {
            self.core.synced_table(now)
        }
    }

    /// True once a shutdown has released everything.
    pub fn stopped(&self) -> bool {
        // ...and a hello has told the others it no longer claims anything,
        // so the boss reassigns at once instead of waiting for `dead`.
        self.stopping
            && (0..self.nvs).all(|v| !self.holder.busy(v as VsId))
            && self.core.claims_announced()
    }

    /// This box's health (0 = hold), from load and memory checks.
    pub fn handle_health(&mut self, now: Instant, health: u8) {
        self.core.handle_health(now, health);
        self.pump(now);
    }

    /// Result of a boss-side service check.
    pub fn handle_service(&mut self, now: Instant, vserver: VsId, up: bool) {
        if self.acting {
            self.with_view(now, |m, now, v| m.handle_service(now, vserver, up, v));
        }
        self.pump(now);
    }

    /// Result of an ARP reachability check (the boss's, or a volunteer's
    /// probe asked for by a volunteer request): every MAC that answered.
    pub fn handle_reach(&mut self, now: Instant, vserver: VsId, answered: &[[u8; 6]]) {
        match self
            .probing
            .get_mut(vserver as usize)
            .and_then(Option::take)
        {
            // The boss's own answer to its probing round.
            Some((boss, round)) if boss == self.me && self.acting => {
                let mut a = self.answer(now, vserver, round);
                a.answering = answered.iter().take(MAX_ANSWERING).copied().collect();
                let me = self.me;
                self.with_view(now, |m, now, v| m.handle_volunteer(now, me, a, v));
            }
            // No longer acting: the round is gone.
            Some((boss, _)) if boss == self.me => {}
            Some((boss, round)) => self.send_answer(now, boss, vserver, round, answered),
            None => {}
        }
        if self.acting {
            self.with_view(now, |m, now, v| m.handle_reach(now, vserver, answered, v));
        }
        self.pump(now);
    }

    /// Result of a `reachability tcp` check: the address answered (somebody
    /// holds it; who is unknown, so it counts as the all-zero MAC the
    /// monitor reads as "someone") or not (nobody).
    pub fn handle_reach_tcp(&mut self, now: Instant, vserver: VsId, answered: bool) {
        const SOMEONE: [[u8; 6]; 1] = [[0; 6]];
        let macs: &[[u8; 6]] = if answered { &SOMEONE } else { &[] };
        self.handle_reach(now, vserver, macs);
    }

    /// Result of this box's self-check for a vserver.
    pub fn handle_self_check(&mut self, now: Instant, vserver: VsId, up: bool) {
        let v = vserver as usize;
        if let Some(s) = self.suitability.get_mut(v) {
            self.self_check_in_flight[v] = false;
            // A check started before a reload removed it does not count.
            if self.self_check[v] {
                *s = if up { 100 } else { 0 };
            }
        }
        self.pump(now);
    }

    /// A reload changed per-box settings only (`Config::changes` found no
    /// cluster-wide difference): take the new self-checks and service
    /// checks. Nothing moves because of it: a vserver whose self-check is
    /// new keeps its suitability until that check first answers; one whose
    /// self-check is gone is suitable at once; hooks change for takeovers
    /// and releases that start from now on.
    pub fn apply_local(&mut self, now: Instant, config: &Config) {
        for (i, v) in config.vservers.iter().enumerate().take(self.nvs) {
            let had = self.self_check[i];
            self.self_check[i] = !matches!(v.self_check, Check::None);
            if had && !self.self_check[i] {
                self.suitability[i] = 100;
            } else if !had && self.self_check[i] {
                self.next_self_check[i] = now;
            }
            if matches!(v.service, Check::None) {
                self.no_service |= 1 << i;
            } else {
                self.no_service &= !(1 << i);
            }
        }
        self.holder.apply_local(config);
        self.claims_sent = u64::MAX;
        self.pump(now);
    }

    /// Result of a takeover or release step.
    pub fn handle_step(&mut self, now: Instant, vserver: VsId, step: Step, ok: bool) {
        self.holder.step_done(now, vserver, step, ok);
        self.pump(now);
    }

    /// The next instant [`Node::handle_timeout`] is needed.
    pub fn poll_timeout(&self) -> Option<Instant> {
        let mut t = self.next_tick;
        let mut at = |x: Option<Instant>| {
            if let Some(x) = x {
                t = t.min(x);
            }
        };
        at(self.core.poll_timeout());
        at(self.holder.poll_timeout());
        // Fencing layer 1 to the millisecond: wake when the lease ends, not
        // at the next hello.
        if self.lease_valid {
            at(self.core.lease_until());
        }
        at(self.handover_until);
        if self.acting {
            at(self.monitor.poll_timeout());
            if self.monitor.has_actions() {
                at(Some(self.core_now()));
            }
        }
        for v in 0..self.nvs {
            if self.self_check[v] && !self.self_check_in_flight[v] {
                at(Some(self.next_self_check[v]));
            }
        }
        Some(t)
    }

    /// The next output. A service check of a vserver with `service none`
    /// is answered here (up) instead of handed out, at the same place in
    /// the sequence as a shell answering it at once would have: what the
    /// answer causes queues behind the outputs already waiting.
    #[must_use]
    pub fn poll_output(&mut self) -> Option<Output> {
        loop {
            match self.out.pop_front()? {
                Output::Check {
                    vserver,
                    kind: CheckKind::Service,
                    ..
                } if self.no_service & (1u64 << (vserver as u32 % 64)) != 0 => {
                    self.handle_service(self.last_now, vserver, true);
                }
                o => return Some(o),
            }
        }
    }

    fn emit(&mut self, o: Output) {
        if self.out.push_back(o).is_err() {
            self.dropped = self.dropped.saturating_add(1);
        }
    }

    fn lease_ok(&self, now: Instant) -> bool {
        match self.core.lease_until() {
            Some(u) => now < u,
            // `fencing none`: a box holds until told otherwise.
            None => self.fencing_none,
        }
    }

    /// The lease holds and is being renewed: the hello it counts from was
    /// sent at most 2¼ hellos ago. In steady state a hello is acknowledged
    /// in the others' next hellos, so the newest acknowledged one is at most
    /// two intervals plus two delays old. An older one means the box's
    /// acknowledgements stopped coming (it is cut off, or was until a moment
    /// ago): its lease will likely lapse during a takeover, and it would give
    /// the address up again at once (a flap the simulator found, twice).
    fn lease_fresh(&self, now: Instant) -> bool {
        let t = self.core.timers();
        let fresh = t.lease.saturating_sub(2 * t.hello + t.hello / 4);
        match self.core.lease_until() {
            Some(u) => now + Duration::from_millis(fresh) < u,
            None => self.fencing_none,
        }
    }

    /// Probe `vserver`'s address for `boss`'s round: answered with what the
    /// probe saw when its result comes ([`Node::handle_reach`]).
    fn probe_for(&mut self, boss: NodeId, vserver: VsId, round: u32) {
        self.probing[vserver as usize] = Some((boss, round));
        let arp_probes = if boss == self.me {
            BOSS_ROUND_ARP_PROBES
        } else {
            ROUND_ARP_PROBES
        };
        self.emit(Output::Check {
            vserver,
            kind: CheckKind::Reach,
            arp_probes,
        });
    }

    /// Answer the boss's volunteer request; `answered`: the MACs this box's
    /// probe saw answer for the address (the first few).
    fn send_answer(
        &mut self,
        now: Instant,
        boss: NodeId,
        vserver: VsId,
        round: u32,
        answered: &[[u8; 6]],
    ) {
        let a = self.answer(now, vserver, round);
        let answering = answered.iter().take(MAX_ANSWERING).copied().collect();
        self.emit(Output::Send {
            to: Dest::Node(boss),
            body: Body::VolunteerAnswer {
                vserver,
                round,
                suitability: a.suitability,
                holding: a.holding,
                answering,
            },
        });
    }

    fn answer(&self, now: Instant, vserver: VsId, round: u32) -> Answer {
        // A box without a valid lease would refuse the order at once: it
        // must not win the round (the boss answering itself would loop).
        // One whose lease is about to lapse would take over and give up.
        let suitability = if self.core.on_hold() || self.stopping || !self.lease_fresh(now) {
            0
        } else {
            self.suitability.get(vserver as usize).copied().unwrap_or(0)
        };
        Answer {
            vserver,
            round,
            suitability,
            holding: self.holder.holding(),
            answering: Vec::new(),
        }
    }

    /// Call into the monitor with a fresh view of the cluster.
    fn with_view(&mut self, now: Instant, f: impl FnOnce(&mut Monitor, Instant, &View<'_>)) {
        let mut volunteers = 0u32;
        let mut lost = 0u32;
        let mut unknown = 0u32;
        let mut held = 0u32;
        let mut kernel_gone = 0u32;
        let mut silent_boxes = 0u32;
        let mut macs = [[0u8; 6]; MAX_NODES];
        let claims_fresh = claims_fresh(self.core.timers().hello);
        for n in 0..self.nodes {
            let state = self.core.member(n);
            if state == MemberState::Alive
                && !(n == self.me && (self.core.on_hold() || self.stopping))
            {
                volunteers |= 1 << n;
            }
            if state == MemberState::Lost {
                lost |= 1 << n;
            }
            // Fencing layer 2 removed its addresses by now.
            let lapsed = self.core.lease_lapsed_since(n);
            if lapsed.is_some_and(|at| now >= at + kernel_hold_bound(self.hello)) {
                kernel_gone |= 1 << n;
            }
            if state == MemberState::Hold || (n == self.me && self.stopping) {
                held |= 1 << n;
            }
            // Not heard now (never, or not lately), or its newest claims
            // are stale, and not proven to hold no valid lease: it may hold
            // anything (see `View::unknown`).
            let silent = matches!(
                state,
                MemberState::Unknown | MemberState::Suspect | MemberState::Lost
            );
            let stale = self
                .core
                .peer_claims_at(n)
                .is_some_and(|at| now >= at + claims_fresh);
            if n != self.me && silent {
                silent_boxes |= 1 << n;
            }
            if n != self.me
                && !self.fencing_none
                && (silent || stale)
                && self.core.lease_lapsed_at(n).is_none()
            {
                unknown |= 1 << n;
            }
            macs[n as usize] = if n == self.me {
                self.core.mac()
            } else {
                self.core.peer_mac(n)
            };
        }
        for v in 0..self.nvs {
            let mut c = 0u32;
            for n in 0..self.nodes {
                let claims = if n == self.me {
                    self.holder.claims()
                } else {
                    self.core.peer_claims(n)
                };
                if claims & (1u64 << v) == 0 {
                    continue;
                }
                let counts = match self.core.member(n) {
                    MemberState::Alive | MemberState::Suspect | MemberState::Hold => true,
                    MemberState::Lost => !self.core.lease_lapsed(n),
                    MemberState::Unknown | MemberState::Joining => false,
                };
                if counts {
                    c |= 1 << n;
                }
            }
            self.claimers[v] = c;
        }
        let list = self.core.list();
        let view = View {
            volunteers,
            claimers: &self.claimers[..self.nvs],
            list,
            macs: &macs[..self.nodes as usize],
            lost,
            unknown,
            held,
            kernel_gone,
            silent: silent_boxes,
            generation: self.core.generation(),
        };
        f(&mut self.monitor, now, &view);
        self.monitor.entries(now, &view, &mut self.table);
    }

    /// Move everything between the parts until nothing is left to move.
    fn pump(&mut self, now: Instant) {
        self.last_now = self.last_now.max(now);
        // A stopping box whose vservers were not all moved away in time.
        if self.handover_until.is_some_and(|t| now >= t) {
            self.handover_until = None;
            self.holder.release_all(now);
        }
        // Bounded: each round only moves queued items; local deliveries
        // create a bounded number of follow-ups.
        for _ in 0..16 {
            let mut moved = false;

            while let Some(a) = self.core.poll_action() {
                moved = true;
                match a {
                    Action::Send { to, body } => self.emit(Output::Send { to, body }),
                    Action::RoleChanged {
                        role,
                        boss,
                        generation,
                    } => self.emit(Output::RoleChanged {
                        role,
                        boss,
                        generation,
                    }),
                    Action::Alert { node, kind } => self.emit(Output::NodeAlert { node, kind }),
                    Action::Member { node, change } => self.emit(Output::Member { node, change }),
                }
            }

            // Start or stop acting as boss.
            let acting = self.core.is_acting(now);
            if acting && !self.acting {
                self.monitor.restart(now, self.core.vservers());
                // Every box lost now is news to the new term: the vservers
                // the table gives to one are handled as lost below.
                self.lost = 0;
            }
            self.acting = acting;

            if self.acting {
                let lost = self.lost_mask();
                let newly = lost & !self.lost;
                self.lost = lost;
                for n in 0..self.nodes {
                    if newly & (1 << n) != 0 {
                        self.with_view(now, |m, now, v| m.handle_lost(now, n, v));
                    }
                }
                if self.monitor.poll_timeout().is_some_and(|t| t <= now) {
                    self.with_view(now, |m, now, v| m.handle_timeout(now, v));
                }
                // Bounded: an order to this box can feed the monitor again
                // (a refused assume starts a new round); what is left waits
                // for the next turn, which `poll_timeout` makes immediate.
                for _ in 0..MONITOR_BURST {
                    let Some(a) = self.monitor.poll_action() else {
                        break;
                    };
                    moved = true;
                    self.monitor_action(now, a);
                }
                self.core.set_vservers(&self.table);
            }

            // Every hello, at a lease change, or for a spaced gratuitous ARP.
            let lease = self.lease_ok(now);
            let garp_due = self.holder.poll_timeout().is_some_and(|t| t <= now);
            if now >= self.next_tick || lease != self.lease_valid || garp_due {
                if now >= self.next_tick {
                    self.next_tick = now + self.hello;
                }
                self.lease_valid = lease;
                self.holder.tick(now, lease);
            }
            // A box heard again that was not (a partition or a cut healed, a
            // box came back): hosts on its side may have missed a takeover's
            // gratuitous ARPs and still name the old holder (issue 17). And
            // another box that claimed what this one holds and stopped
            // (several claimers settled, `fencing none`): it may have
            // announced itself last.
            let heard = self.heard_mask();
            let others = self.others_claim_mask();
            let mut again = self.others_claim & !others;
            if heard & !self.heard != 0 {
                again = u64::MAX;
            }
            if again & self.holder.claims() != 0 && lease {
                self.holder.reannounce(now, again);
            }
            self.heard = heard;
            self.others_claim = others;
            while let Some(a) = self.holder.poll_action() {
                moved = true;
                self.holder_action(now, a);
            }

            for v in 0..self.nvs {
                if self.self_check[v]
                    && !self.self_check_in_flight[v]
                    && now >= self.next_self_check[v]
                {
                    self.self_check_in_flight[v] = true;
                    self.next_self_check[v] = now + self.check_every[v];
                    self.emit(Output::SelfCheck { vserver: v as VsId });
                }
            }

            let claims = self.holder.claims();
            if claims != self.claims_sent {
                self.claims_sent = claims;
                self.core.set_claims(claims, &self.suitability[..self.nvs]);
            }

            if !moved {
                break;
            }
        }
    }

    /// The latest instant this node was handed.
    fn core_now(&self) -> Instant {
        self.last_now
    }

    fn heard_mask(&self) -> u32 {
        (0..self.nodes)
            .filter(|&n| n != self.me && self.core.member(n).is_live())
            .fold(0, |m, n| m | 1 << n)
    }

    fn others_claim_mask(&self) -> u64 {
        (0..self.nodes)
            .filter(|&n| n != self.me)
            .fold(0, |m, n| m | self.core.peer_claims(n))
    }

    fn lost_mask(&self) -> u32 {
        (0..self.nodes)
            .filter(|&n| self.core.member(n) == MemberState::Lost)
            .fold(0, |m, n| m | 1 << n)
    }

    fn monitor_action(&mut self, now: Instant, a: MonitorAction) {
        match a {
            MonitorAction::Check { vserver, kind } => self.emit(Output::Check {
                vserver,
                kind,
                arp_probes: ARP_PROBES,
            }),
            MonitorAction::Changed {
                vserver,
                combo,
                holder,
            } => self.emit(Output::VsChanged {
                vserver,
                combo,
                holder,
            }),
            MonitorAction::Alert { vserver, kind } => self.emit(Output::VsAlert { vserver, kind }),
            MonitorAction::Moving { vserver, from, to } => {
                self.emit(Output::VsMoving { vserver, from, to })
            }
            MonitorAction::Send { to, order } => {
                let me = self.me;
                // The boss is a box like the others: orders to it are
                // delivered here, the rest go on the wire.
                match (to, order) {
                    (
                        Dest::All,
                        Order::VolunteerRequest {
                            vserver,
                            round,
                            probe,
                        },
                    ) => {
                        self.emit(Output::Send {
                            to,
                            body: order.body(),
                        });
                        if probe {
                            // The boss probes afresh too: its last check
                            // may predate a cut that healed (sim seed
                            // 3605552357).
                            self.probe_for(me, vserver, round);
                        } else {
                            let a = self.answer(now, vserver, round);
                            self.with_view(now, |m, now, v| m.handle_volunteer(now, me, a, v));
                        }
                    }
                    (Dest::Node(n), Order::Assume { vserver, round, .. }) if n == me => {
                        let lease = self.lease_fresh(now) && !self.stopping;
                        self.holder.assume(now, me, vserver, round, lease);
                    }
                    (Dest::Node(n), Order::Release { vserver, round, .. }) if n == me => {
                        let report = (round != 0).then_some((me, round));
                        self.holder.release(now, vserver, report);
                    }
                    _ => self.emit(Output::Send {
                        to,
                        body: order.body(),
                    }),
                }
            }
        }
    }

    fn holder_action(&mut self, now: Instant, a: HolderAction) {
        match a {
            HolderAction::Step { vserver, step } => self.emit(Output::Step { vserver, step }),
            HolderAction::Renew { vserver } => self.emit(Output::Renew { vserver }),
            HolderAction::Claims { claims } => {
                self.claims_sent = claims;
                self.core.set_claims(claims, &self.suitability[..self.nvs]);
            }
            HolderAction::Outcome {
                boss,
                vserver,
                round,
                ok,
            } => {
                if boss == self.me {
                    if self.acting {
                        self.with_view(now, |m, now, v| {
                            m.handle_outcome(now, boss, vserver, round, ok, v)
                        });
                    }
                } else {
                    self.emit(Output::Send {
                        to: Dest::Node(boss),
                        body: Body::Outcome { vserver, round, ok },
                    });
                }
            }
            // To the boss acting now, whoever gave the order: a new boss
            // inherits the takeover (`Monitor::restore`).
            HolderAction::GaveUp { vserver, round } => match self.core.boss() {
                Some(boss) if boss == self.me && self.acting => {
                    self.with_view(now, |m, now, v| {
                        m.handle_outcome(now, boss, vserver, round, false, v)
                    });
                }
                Some(boss) if boss == self.me => {}
                Some(boss) => self.emit(Output::Send {
                    to: Dest::Node(boss),
                    body: Body::Outcome {
                        vserver,
                        round,
                        ok: false,
                    },
                }),
                None => {}
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::parse;
    use crate::vserver::combo::{Claims, Tri};

    /// One box (its own quorum, so it becomes the acting boss) and one
    /// vserver checked by TCP, with the service check `service`.
    fn one_box(service: &str) -> Node {
        let conf = format!(
            "cluster t\nkey-file insecure\ninterface eth0\nnode f1 10.0.0.11\n\
             vserver web {{\n address 10.0.0.50/24\n interface eth0\n service {service}\n \
             reachability tcp 80\n self-check none\n check 200ms\n}}\n"
        );
        let cfg = parse("t.conf", &conf).expect("config");
        Node::new(&cfg, 0, 1, Instant(0))
    }

    /// Run the node's timers to `until` ms in 10 ms turns, answering each
    /// check it hands out at once: reachability by `reach` (TCP), the
    /// service up. The checks asked for and the combo states reported.
    fn run(node: &mut Node, until: u64, reach: bool) -> (Vec<CheckKind, 64>, Vec<Combo, 8>) {
        run_from(node, 0, until, reach)
    }

    /// [`run`] from `from` ms on.
    fn run_from(
        node: &mut Node,
        from: u64,
        until: u64,
        reach: bool,
    ) -> (Vec<CheckKind, 64>, Vec<Combo, 8>) {
        let (mut asked, mut combos) = (Vec::new(), Vec::new());
        for t in (from..=until).step_by(10) {
            let now = Instant(t);
            if node.poll_timeout().is_some_and(|d| d <= now) {
                node.handle_timeout(now);
            }
            while let Some(o) = node.poll_output() {
                match o {
                    Output::Check { vserver, kind, .. } => {
                        let _ = asked.push(kind);
                        match kind {
                            CheckKind::Reach => node.handle_reach_tcp(now, vserver, reach),
                            CheckKind::Service => node.handle_service(now, vserver, true),
                        }
                    }
                    Output::VsChanged { combo, .. } => {
                        let _ = combos.push(combo);
                    }
                    _ => {}
                }
            }
        }
        (asked, combos)
    }

    fn combo(s: &[u8; 3]) -> Combo {
        let tri = |c| match c {
            b'U' => Tri::Up,
            b'D' => Tri::Down,
            _ => Tri::Pending,
        };
        let claims = if s[2] == b'0' {
            Claims::Zero
        } else {
            Claims::One
        };
        Combo::new(tri(s[0]), tri(s[1]), claims)
    }

    #[test]
    fn service_none_is_answered_up_by_the_node() {
        let mut node = one_box("none");
        let (asked, combos) = run(&mut node, 3_000, true);
        assert!(node.core().is_acting(Instant(3_000)), "never acted");
        assert!(asked.contains(&CheckKind::Reach));
        assert!(!asked.contains(&CheckKind::Service), "{asked:?}");
        // Service up (answered here), address up ("someone" answered),
        // nobody claims it: served by a host outside the cluster.
        assert_eq!(combos.last(), Some(&combo(b"UU0")), "{combos:?}");
    }

    #[test]
    fn a_service_check_goes_to_the_shell() {
        let mut node = one_box("tcp 80");
        let (asked, combos) = run(&mut node, 3_000, true);
        assert!(asked.contains(&CheckKind::Service));
        assert_eq!(combos.last(), Some(&combo(b"UU0")), "{combos:?}");
    }

    #[test]
    fn a_reload_that_adds_a_service_check_hands_it_to_the_shell() {
        let mut node = one_box("none");
        let (asked, _) = run(&mut node, 3_000, true);
        assert!(!asked.contains(&CheckKind::Service), "{asked:?}");
        let conf = "cluster t\nkey-file insecure\ninterface eth0\nnode f1 10.0.0.11\n\
             vserver web {\n address 10.0.0.50/24\n interface eth0\n service tcp 80\n \
             reachability tcp 80\n self-check none\n check 200ms\n}\n";
        let cfg = parse("t.conf", conf).expect("config");
        node.apply_local(Instant(3_000), &cfg);
        let (asked, combos) = run_from(&mut node, 3_010, 6_000, true);
        assert!(asked.contains(&CheckKind::Service), "{asked:?}");
        // The service answers up, as before: nothing changes state.
        assert!(combos.is_empty(), "{combos:?}");
    }

    #[test]
    fn a_reload_that_removes_a_self_check_makes_the_box_suitable_at_once() {
        let conf = |check: &str| {
            format!(
                "cluster t\nkey-file insecure\ninterface eth0\nnode f1 10.0.0.11\n\
                 vserver web {{\n address 10.0.0.50/24\n interface eth0\n service none\n \
                 self-check {check}\n}}\n"
            )
        };
        let cfg = parse("t.conf", &conf("exec /bin/false")).expect("config");
        let mut node = Node::new(&cfg, 0, 1, Instant(0));
        let mut asked = 0;
        for t in (0..=1_000).step_by(10) {
            let now = Instant(t);
            if node.poll_timeout().is_some_and(|d| d <= now) {
                node.handle_timeout(now);
            }
            while let Some(o) = node.poll_output() {
                if let Output::SelfCheck { vserver } = o {
                    asked += 1;
                    node.handle_self_check(now, vserver, false);
                }
            }
        }
        assert!(asked > 0);
        assert_eq!(node.suitability[0], 0, "the failing self-check counts");
        node.apply_local(
            Instant(1_000),
            &parse("t.conf", &conf("none")).expect("config"),
        );
        assert_eq!(node.suitability[0], 100);
        // A check started before the reload answers late: it does not count.
        node.handle_self_check(Instant(1_010), 0, false);
        assert_eq!(node.suitability[0], 100);
        while let Some(o) = node.poll_output() {
            assert!(!matches!(o, Output::SelfCheck { .. }), "{o:?}");
        }
    }

    #[test]
    fn a_box_with_another_file_is_alerted_once_a_run() {
        let conf = "cluster t\nkey-file insecure\ninterface eth0\n\
                    node f1 10.0.0.11\nnode f2 10.0.0.12\n";
        let cfg = parse("t.conf", conf).expect("config");
        let mut node = Node::new(&cfg, 0, 1, Instant(0));
        let hello = |seq| {
            Body::Hello(crate::proto::Hello {
                seq,
                role: Role::Member,
                boss: None,
                generation: 0,
                uptime_ms: 1_000,
                health: 100,
                config_digest: cfg.digest() ^ 1,
                mac: [2, 0, 0, 0, 0, 2],
                claims: 0,
                suitability: Vec::new(),
                hears: 0,
                acks: Vec::new(),
                list: Vec::new(),
            })
        };
        let mut alerts = 0;
        for (i, inc) in [(1, 7), (2, 7), (3, 7), (4, 7), (5, 8), (6, 8), (7, 8)] {
            node.handle_message(Instant(i * 200), 1, inc, &hello(i as u32));
            while let Some(o) = node.poll_output() {
                if let Output::NodeAlert {
                    node: 1,
                    kind: AlertKind::ConfigMismatch,
                } = o
                {
                    alerts += 1;
                }
            }
        }
        // One for each run of f2 (incarnations 7 and 8), not one a hello.
        assert_eq!(alerts, 2);
        assert_eq!(node.core().member(1), MemberState::Unknown);
    }

    #[test]
    fn reach_tcp_unanswered_is_nobody() {
        let mut node = one_box("none");
        let (_, combos) = run(&mut node, 3_000, false);
        // Nobody answers: the address is down and so is the service, even
        // one without a check.
        assert!(combos.contains(&combo(b"DD0")), "{combos:?}");
    }
}
