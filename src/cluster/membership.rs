//! Membership (docs/MODEL.md): hellos as the heartbeat, one entry per
//! box, incarnations, indirect probing, records and lost alerts.
//!
//! A box heard within `dead` is alive (or joining / hold, as it announces).
//! Silent for `dead` it becomes *suspect*: this box asks up to
//! [`PROBE_FANOUT`](super::PROBE_FANOUT) live others whether they still hear
//! it. If one heard it within `dead` it stays suspect (not lost: an
//! asymmetric cut is not a death) and is asked about again when that box,
//! too, would have missed it for `dead`;
//! if none did by the end of the probe window it is *lost*. A box with no one
//! to ask declares at once. Hearing it directly makes it alive again.
//!
//! Probe answers also feed the lapse proof of the holding lease (see
//! [`lease`](super::lease)): lost boxes are asked about until it is made.

use super::lease::{stretch, MARGIN_MS, RECORD_HALF_LIFE_MS};
use super::timer::Timer;
use super::{ms, Action, AlertKind, Core, Dest, MemberChange, PROBE_FANOUT};
use crate::config::{NodeId, VsId};
use crate::limits::{MAX_NODES, MAX_VSERVERS};
use crate::proto::{Ack, Body, Hello, Record, Role, StateSync, VsEntry, SYNC_PAGE};
use crate::time::Instant;
use heapless::Vec;

/// How this box sees another box.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum MemberState {
    /// Never heard since this box started.
    Unknown,
    /// Heard, announcing that it is joining (listening before it acts).
    Joining,
    /// Heard within the dead interval.
    Alive,
    /// Silent for the dead interval; indirect probe under way, or another
    /// box still hears it.
    Suspect,
    /// Silent, and no box asked heard it: gone.
    Lost,
    /// Heard, announcing hold: not fully functional, off the list.
    Hold,
}

impl MemberState {
    /// Heard within the dead interval (counts toward quorum).
    pub fn is_live(self) -> bool {
        matches!(
            self,
            MemberState::Alive | MemberState::Joining | MemberState::Hold
        )
    }
}

/// One other box, as this box sees it.
#[derive(Clone, Debug)]
pub(super) struct Peer {
    pub state: MemberState,
    pub incarnation: u64,
    /// Newest hello sequence heard (this incarnation).
    pub seq: u32,
    pub heard: Instant,
    // From its newest hello.
    pub role: Role,
    pub boss: Option<NodeId>,
    pub generation: u32,
    /// When it booted, on this box's clock (receipt time − its uptime, from
    /// the first hello of its incarnation).
    pub started: Instant,
    /// Since when it and this box both claim boss (merge fallback).
    pub rival_since: Option<Instant>,
    /// Bit n: it heard box n within the dead interval (its newest hello).
    pub hears: u32,
    pub health: u8,
    /// The newest of this box's hellos it acknowledged (0: none).
    pub ack_any: u32,
    /// The same, but only from a hello that endorsed this box as boss.
    pub ack_endorse: u32,
    /// It runs another configuration; alerted once.
    pub mismatch: bool,
    /// The digest its newest hello announced, when `mismatch`.
    pub digest: u32,
    // The current probe round about it.
    pub probe_nonce: u32,
    pub probe_sent: Instant,
    pub probe_until: Option<Instant>,
    pub next_probe: Option<Instant>,
    /// Someone asked heard it within the dead interval: the least time ago.
    pub proxy: Option<u64>,
    pub far: u8,
    /// Bit n: box n was asked in the current round; it answered.
    pub asked: u32,
    pub answered: u32,
    pub me_far: bool,
    /// The most an answer fell short of proving its box far (ms), and the
    /// longest round trip an answer took: a round that failed by that little
    /// is asked again as soon as it could succeed.
    pub short: u64,
    pub waited: u64,
    /// When this box declared it lost.
    pub lost_at: Option<Instant>,
    /// Its holding lease surely lapsed since it was last heard: at the
    /// local send time of the probe round that proved it.
    pub lapsed: Option<Instant>,
    /// The first proof of the current unbroken run of proofs (a withdrawn
    /// proof, or the box heard again, ends the run): its lease has been
    /// lapsed since then, and its kernel lost its addresses soon after
    /// (fencing layer 2).
    pub lapsed_since: Option<Instant>,
    /// The vservers its newest hello claims (bit per vserver).
    pub claims: u64,
    /// When that hello arrived: its claims are only as fresh as it is.
    pub claims_at: Instant,
    /// Its MAC on the cluster interface, from its hellos.
    pub mac: [u8; 6],
    /// The newest of its hellos known to have been heard by anyone (this
    /// box included), per incarnation, the last few incarnations: from its
    /// own hellos and from every box's acknowledgements.
    pub acked: Vec<Ack, ACKED_INCARNATIONS>,
    /// Counts each time `acked` grew: somebody heard a hello of it that was
    /// not known heard before.
    pub news: u32,
    /// `news` when the current probe round about it was started.
    pub probe_news: u32,
    /// This run of it said it was leaving on purpose ([`Body::Leave`]): its
    /// silence is not reported or alerted, and status shows it as left. A
    /// new run (incarnation) clears it.
    pub left: bool,
}

/// Incarnations of a box whose newest acknowledged hello is remembered.
const ACKED_INCARNATIONS: usize = 4;

impl Peer {
    pub const UNKNOWN: Peer = Peer {
        state: MemberState::Unknown,
        incarnation: 0,
        seq: 0,
        heard: Instant::ZERO,
        role: Role::Joining,
        boss: None,
        generation: 0,
        started: Instant(u64::MAX),
        rival_since: None,
        hears: 0,
        health: 0,
        ack_any: 0,
        ack_endorse: 0,
        mismatch: false,
        digest: 0,
        probe_nonce: 0,
        probe_sent: Instant::ZERO,
        probe_until: None,
        next_probe: None,
        proxy: None,
        far: 0,
        asked: 0,
        answered: 0,
        me_far: false,
        short: 0,
        waited: 0,
        lost_at: None,
        lapsed: None,
        lapsed_since: None,
        claims: 0,
        claims_at: Instant::ZERO,
        mac: [0; 6],
        acked: Vec::new(),
        news: 0,
        probe_news: 0,
        left: false,
    };

    /// Announces itself as boss or semi-boss.
    pub fn claims(&self) -> bool {
        matches!(self.role, Role::Boss | Role::SemiBoss)
    }
}

impl Core {
    pub(super) fn on_hello(&mut self, now: Instant, from: NodeId, incarnation: u64, h: &Hello) {
        let p = from as usize;
        let known = self.peers[p].state != MemberState::Unknown;
        // A box with another file is never heard (its state stays Unknown)
        // but its run is remembered, so it is alerted about once a run, not
        // at every hello.
        let new_run =
            self.peers[p].incarnation != incarnation || !(known || self.peers[p].mismatch);
        if new_run {
            // A new boot: nothing it said before holds (acks, endorsements).
            let old = core::mem::replace(&mut self.peers[p], Peer::UNKNOWN);
            let peer = &mut self.peers[p];
            peer.incarnation = incarnation;
            peer.lost_at = old.lost_at;
            peer.state = old.state;
            peer.acked = old.acked;
            peer.news = old.news;
        } else if h.seq <= self.peers[p].seq {
            // Reordered or repeated: older news than we have.
            return;
        }
        if h.config_digest != self.digest {
            self.peers[p].digest = h.config_digest;
            if !self.peers[p].mismatch {
                self.peers[p].mismatch = true;
                self.push(Action::Alert {
                    node: from,
                    kind: AlertKind::ConfigMismatch,
                });
            }
            return;
        }
        if new_run {
            self.push(Action::Member {
                node: from,
                change: MemberChange::Joined { incarnation },
            });
        } else {
            self.back(now, p);
        }
        self.mark_heard(now, p, h.role);
        for (n, &ack) in h.acks.iter().enumerate().take(self.n as usize) {
            if n != self.me as usize {
                self.note_ack(n, ack);
            }
        }
        let me = self.me;
        let mine = h
            .acks
            .get(me as usize)
            .filter(|a| a.incarnation == self.incarnation && a.seq <= self.seq)
            .map_or(0, |a| a.seq);
        let endorses =
            h.boss == Some(me) && h.generation == self.generation && self.boss == Some(me);
        let follows = self.boss == Some(from) && matches!(h.role, Role::Boss | Role::SemiBoss);
        let peer = &mut self.peers[p];
        peer.seq = h.seq;
        peer.role = h.role;
        peer.boss = h.boss;
        peer.generation = h.generation;
        if peer.started == Instant(u64::MAX) {
            // Estimated once per incarnation: later estimates differ by the
            // delay, and a moving estimate would reorder the list.
            peer.started = now - ms(h.uptime_ms);
        }
        peer.health = h.health;
        peer.hears = h.hears;
        peer.claims = h.claims;
        peer.claims_at = now;
        peer.mac = h.mac;
        peer.ack_any = mine;
        peer.ack_endorse = if endorses { mine } else { 0 };
        self.max_generation = self.max_generation.max(h.generation);
        if follows && !self.claiming() {
            self.generation = h.generation;
            if !h.list.is_empty() {
                // Keep only valid, distinct node indexes: the list indexes
                // our tables.
                self.list.clear();
                for &x in &h.list {
                    if x < self.n && !self.list.contains(&x) {
                        let _ = self.list.push(x);
                    }
                }
            }
        }
    }

    /// Box `p`'s hello `ack` was heard by someone (an acknowledgement, or
    /// its own hello). News, a hello of it not known heard before, ends a
    /// lapse proof: whoever heard it may have renewed its lease since the
    /// proof's probe round was asked (sim seed 2718296492: a box cut off
    /// from the boss alone was proven lapsed while the others had not heard
    /// it for a partition, then heard again, renewed its lease through
    /// them, took a vserver, and the boss gave it away on that proof).
    fn note_ack(&mut self, p: usize, ack: Ack) {
        if ack.seq == 0 {
            return;
        }
        let peer = &mut self.peers[p];
        match peer
            .acked
            .iter_mut()
            .find(|a| a.incarnation == ack.incarnation)
        {
            Some(known) if known.seq >= ack.seq => return,
            Some(known) => known.seq = ack.seq,
            None => {
                if peer.acked.is_full() {
                    peer.acked.remove(0);
                }
                let _ = peer.acked.push(ack);
            }
        }
        peer.news = peer.news.wrapping_add(1);
        peer.lapsed = None;
        peer.lapsed_since = None;
    }

    /// Any other message from a known incarnation proves it alive, unless
    /// it is lost: a lost box comes back only through a hello, which says
    /// what it is now. Taken back through another message, it kept the
    /// role its last hello before the loss announced: a boss cut off for
    /// seconds, whose probe request came before its first hello after the
    /// heal, was followed again as boss at its old generation by boxes
    /// that had moved on, and nobody claimed (sim seed 5709372906).
    pub(super) fn heard_other(&mut self, now: Instant, from: NodeId, incarnation: u64) {
        let p = from as usize;
        let peer = &self.peers[p];
        if !matches!(peer.state, MemberState::Unknown | MemberState::Lost)
            && peer.incarnation == incarnation
            && !peer.mismatch
        {
            let role = peer.role;
            self.back(now, p);
            self.mark_heard(now, p, role);
        }
    }

    /// Box `from` says this run of it leaves on purpose.
    pub(super) fn on_leave(&mut self, from: NodeId, incarnation: u64) {
        let peer = &mut self.peers[from as usize];
        if peer.state == MemberState::Unknown
            || peer.incarnation != incarnation
            || peer.mismatch
            || peer.left
        {
            return;
        }
        peer.left = true;
        self.push(Action::Member {
            node: from,
            change: MemberChange::Left,
        });
    }

    /// Report box `p`, heard now in the same run, as back if it was suspect
    /// or lost (and did not leave on purpose).
    fn back(&mut self, now: Instant, p: usize) {
        let peer = &self.peers[p];
        if matches!(peer.state, MemberState::Suspect | MemberState::Lost) && !peer.left {
            let silent_ms = now.saturating_since(peer.heard).as_millis() as u64;
            self.push(Action::Member {
                node: p as NodeId,
                change: MemberChange::Back { silent_ms },
            });
        }
    }

    fn mark_heard(&mut self, now: Instant, p: usize, role: Role) {
        let peer = &mut self.peers[p];
        peer.heard = now;
        peer.state = match role {
            Role::Joining => MemberState::Joining,
            Role::Hold => MemberState::Hold,
            _ => MemberState::Alive,
        };
        peer.probe_until = None;
        peer.next_probe = None;
        peer.lapsed = None;
        peer.lapsed_since = None;
        if let Some(at) = peer.lost_at.take() {
            // Back from the lost: its downtime goes on its record.
            let r = &mut self.records[p];
            r.downtime_ms = r
                .downtime_ms
                .saturating_add(now.saturating_since(at).as_millis() as u64);
            r.lost_for_ms = 0;
            r.alerted = false;
        }
    }

    /// Time-driven membership rules: suspect, probe, lost, lost alerts.
    pub(super) fn check_peers(&mut self, now: Instant) {
        for p in 0..self.n as usize {
            if p == self.me as usize {
                continue;
            }
            match self.peers[p].state {
                MemberState::Alive | MemberState::Joining | MemberState::Hold => {
                    if now >= self.peers[p].heard + ms(self.t.dead) {
                        self.peers[p].state = MemberState::Suspect;
                        self.silent(p, now, |silent_ms| MemberChange::Suspect { silent_ms });
                        self.start_probe(p, now);
                    }
                }
                MemberState::Suspect | MemberState::Lost => {
                    let peer = &self.peers[p];
                    if peer.probe_until.is_some_and(|u| now >= u) {
                        self.finish_probe(p, now);
                    } else if peer.probe_until.is_none()
                        && peer.next_probe.is_some_and(|u| now >= u)
                    {
                        self.start_probe(p, now);
                    }
                }
                MemberState::Unknown => {
                    // Never heard since this box started: its claims are
                    // unknown, so its holding lease must be proven lapsed
                    // before the boss may give away anything (it may hold a
                    // vserver, heard by others but not by us: an asymmetric
                    // cut). Probe like a lost box once we have listened for
                    // one dead interval, every hello until proven.
                    let peer = &self.peers[p];
                    {
                        if peer.probe_until.is_some_and(|u| now >= u) {
                            self.finish_probe(p, now);
                        } else if peer.probe_until.is_none()
                            && now >= peer.next_probe.unwrap_or(self.started + ms(self.t.dead))
                        {
                            self.start_probe(p, now);
                        }
                    }
                }
            }
            if let (MemberState::Lost, Some(at)) = (self.peers[p].state, self.peers[p].lost_at) {
                let lost_for = now.saturating_since(at).as_millis() as u64;
                if self.role == Role::Boss
                    && !self.records[p].alerted
                    && !self.peers[p].left
                    && lost_for >= self.t.lost_alert
                {
                    self.records[p].alerted = true;
                    self.push(Action::Alert {
                        node: p as NodeId,
                        kind: AlertKind::Lost {
                            lost_for_ms: lost_for,
                        },
                    });
                }
            }
        }
    }

    /// When box `p` next needs attention.
    pub(super) fn peer_deadline(&self, p: NodeId) -> Option<Instant> {
        let peer = &self.peers[p as usize];
        match peer.state {
            MemberState::Alive | MemberState::Joining | MemberState::Hold => {
                Some(peer.heard + ms(self.t.dead))
            }
            MemberState::Suspect => peer.probe_until.or(peer.next_probe),
            MemberState::Lost => {
                let probe = peer.probe_until.or(peer.next_probe);
                let alert = match (self.role, peer.lost_at) {
                    (Role::Boss, Some(at)) if !self.records[p as usize].alerted && !peer.left => {
                        Some(at + ms(self.t.lost_alert))
                    }
                    _ => None,
                };
                match (probe, alert) {
                    (Some(a), Some(b)) => Some(a.min(b)),
                    (a, b) => a.or(b),
                }
            }
            MemberState::Unknown => Some(
                peer.probe_until
                    .or(peer.next_probe)
                    .unwrap_or(self.started + ms(self.t.dead)),
            ),
        }
    }

    fn start_probe(&mut self, p: usize, now: Instant) {
        self.nonce = self.nonce.wrapping_add(1);
        let nonce = self.nonce;
        let n = self.n as usize;
        // Never heard: this box has not heard it since it started.
        let heard = match self.peers[p].state {
            MemberState::Unknown => self.started,
            _ => self.peers[p].heard,
        };
        let me_far = now.saturating_since(heard).as_millis() as u64 >= self.t.block;
        {
            let peer = &mut self.peers[p];
            peer.probe_nonce = nonce;
            peer.probe_sent = now;
            peer.probe_until = Some(now + ms(self.t.probe));
            peer.next_probe = None;
            peer.proxy = None;
            peer.far = 0;
            peer.asked = 0;
            peer.answered = 0;
            peer.short = 0;
            peer.waited = 0;
            peer.me_far = me_far;
            peer.probe_news = peer.news;
        }
        // Ask a few live boxes, starting at a rotating place so the load of
        // answering spreads. Proving the lease lapsed needs n - quorum + 1
        // boxes that no longer hear it (this one may be one of them): in a
        // cluster of 9 or more that is more than the fan-out, and a round
        // that cannot reach it would leave the box's vservers claimed forever.
        let fanout = PROBE_FANOUT.max((self.n - self.quorum) as usize);
        let mut asked = 0;
        for k in 0..n {
            let h = (nonce as usize + k) % n;
            if h == p || h == self.me as usize || !self.peers[h].state.is_live() {
                continue;
            }
            self.send(
                Dest::Node(h as NodeId),
                Body::ProbeRequest {
                    target: p as NodeId,
                    nonce,
                },
            );
            self.peers[p].asked |= 1 << (h as u32 % 32);
            asked += 1;
            if asked == fanout {
                break;
            }
        }
        if asked == 0 {
            // Nobody to ask: decide now.
            self.finish_probe(p, now);
        }
    }

    fn finish_probe(&mut self, p: usize, now: Instant) {
        let need = (self.n - self.quorum + 1) as u32;
        let shelf_life = self.proof_shelf_life();
        let peer = &mut self.peers[p];
        peer.probe_until = None;
        // Heard by someone since the round was asked: proves nothing.
        let news = peer.news != peer.probe_news;
        if peer.far as u32 + peer.me_far as u32 >= need && !news {
            // A run of proofs continues only without a gap longer than a
            // proof stands (see `lease_lapsed_at`).
            let gap = peer
                .lapsed
                .is_none_or(|at| peer.probe_sent >= at + ms(shelf_life));
            if gap {
                peer.lapsed_since = Some(peer.probe_sent);
            }
            peer.lapsed = Some(peer.probe_sent);
        } else if peer.proxy.is_some() || news {
            // Someone still hears it: it may have renewed its lease (and
            // taken a vserver from another boss) since an earlier proof. A
            // proof holds only for the instant it was made.
            peer.lapsed = None;
            peer.lapsed_since = None;
        }
        if peer.state == MemberState::Suspect {
            if let Some(ago) = peer.proxy {
                // Someone still hears it: not lost. Ask again when that box
                // too would have missed it for the dead interval.
                peer.next_probe = Some(now + ms(self.t.dead.saturating_sub(ago).max(1)));
                return;
            }
            peer.state = MemberState::Lost;
            peer.lost_at = Some(now);
            let r = &mut self.records[p];
            r.losses = r.losses.saturating_add(1);
            r.alerted = false;
            self.silent(p, now, |silent_ms| MemberChange::Lost { silent_ms });
        }
        let peer = &mut self.peers[p];
        // Keep asking about a lost box: every hello until its lease is
        // proven lapsed, then every dead interval, so a box others still
        // hear (a one-way cut) is noticed and its proof withdrawn. A round
        // whose answers all came and fell short of proof by a few ms (the
        // others heard the box a moment after this box did) is asked again
        // as soon as they would be far enough, not a hello later.
        let retry = if peer.short > 0 && peer.answered == peer.asked && peer.proxy.is_none() {
            (peer.short + peer.waited + 1).min(self.t.hello)
        } else {
            self.t.hello
        };
        peer.next_probe = if peer.lapsed.is_some() {
            Some(now + ms(self.t.dead))
        } else {
            Some(now + ms(retry))
        };
    }

    pub(super) fn on_probe_request(
        &mut self,
        now: Instant,
        from: NodeId,
        target: NodeId,
        nonce: u32,
    ) {
        if target >= self.n {
            return;
        }
        let ago = if target == self.me {
            Some(0)
        } else {
            let peer = &self.peers[target as usize];
            let since_boot = now.saturating_since(self.started).as_millis() as u64;
            // Never heard since boot: say how long we have been up, so an ack
            // from a previous life is not taken for silence.
            let ago = if peer.state == MemberState::Unknown {
                since_boot
            } else {
                now.saturating_since(peer.heard).as_millis() as u64
            };
            Some(ago.min(u32::MAX as u64) as u32)
        };
        self.send(
            Dest::Node(from),
            Body::ProbeAnswer {
                target,
                nonce,
                heard_ms_ago: ago,
            },
        );
    }

    pub(super) fn on_probe_answer(
        &mut self,
        now: Instant,
        from: NodeId,
        target: NodeId,
        nonce: u32,
        ago: Option<u32>,
    ) {
        if target >= self.n || target == self.me {
            return;
        }
        let (lease, dead) = (self.t.lease, self.t.dead);
        let peer = &mut self.peers[target as usize];
        let bit = 1u32 << (from as u32 % 32);
        if peer.probe_until.is_none() || peer.probe_nonce != nonce || peer.answered & bit != 0 {
            return;
        }
        peer.answered |= bit;
        let Some(ago) = ago.map(u64::from) else {
            return;
        };
        if ago < dead {
            peer.proxy = Some(peer.proxy.map_or(ago, |p| p.min(ago)));
        }
        // Silent long enough that its acks cannot have kept the lease alive
        // when the question was asked (see the lease module).
        let waited = now.saturating_since(peer.probe_sent).as_millis() as u64;
        let far = stretch(lease + waited) + MARGIN_MS;
        if ago >= far {
            peer.far = peer.far.saturating_add(1);
        } else if ago >= dead {
            peer.short = peer.short.max(far - ago);
        }
        peer.waited = peer.waited.max(waited);
        // Every box asked has answered: nothing more can come, so the round
        // ends now rather than at the end of its window (the window is for
        // a box that is slow or gone; issue 13: it cost every box death
        // half a hello).
        if peer.answered & peer.asked == peer.asked {
            self.finish_probe(target as usize, now);
        }
    }

    /// Report box `p`'s silence as `change` (suspect, lost), unless it left
    /// on purpose.
    fn silent(&mut self, p: usize, now: Instant, change: fn(u64) -> MemberChange) {
        let peer = &self.peers[p];
        if !peer.left {
            let silent_ms = now.saturating_since(peer.heard).as_millis() as u64;
            self.push(Action::Member {
                node: p as NodeId,
                change: change(silent_ms),
            });
        }
    }

    pub(super) fn on_state_sync(&mut self, now: Instant, from: NodeId, s: &StateSync) {
        if self.boss != Some(from) || self.claiming() || s.generation != self.generation {
            return;
        }
        self.synced_records = [Record::default(); MAX_NODES];
        for (i, r) in s.records.iter().enumerate().take(MAX_NODES) {
            self.synced_records[i] = *r;
        }
        // Merge the page into the table; the table grows to cover it.
        let first = s.first as usize;
        for (i, e) in s.vservers.iter().enumerate() {
            let at = first + i;
            if at >= MAX_VSERVERS {
                break;
            }
            while self.vservers.len() <= at {
                if self.vservers.push(VsEntry::default()).is_err() {
                    break;
                }
            }
            if let Some(slot) = self.vservers.get_mut(at) {
                *slot = *e;
            }
        }
        self.synced_from = Some((from, s.generation));
        self.synced_at = Some(now);
    }

    /// Halve every downtime record each half-life.
    pub(super) fn decay_records(&mut self, now: Instant) {
        while now >= self.next_decay {
            for r in self.records.iter_mut() {
                r.downtime_ms /= 2;
            }
            self.next_decay = self.next_decay + ms(RECORD_HALF_LIFE_MS);
        }
    }

    /// The boss's records with `lost_for_ms` brought up to `now`.
    fn current_records(&self, now: Instant) -> Vec<Record, MAX_NODES> {
        let mut v = Vec::new();
        for i in 0..self.n as usize {
            let mut r = self.records[i];
            if let Some(at) = self.peers[i].lost_at {
                r.lost_for_ms = now.saturating_since(at).as_millis() as u64;
            }
            let _ = v.push(r);
        }
        v
    }

    /// Send a hello (and, as boss, the whole state to each deputy).
    pub(super) fn send_hello(&mut self, now: Instant) {
        if self.claiming() {
            self.recompute_list();
        }
        self.seq = self.seq.wrapping_add(1).max(1);
        let seq = self.seq;
        self.announced_claims = self.claims;
        self.remember_sent(seq, now);
        let endorse = if self.timers.expired(Timer::Endorse, now) {
            self.boss
        } else {
            None
        };
        if endorse.is_some() && endorse == Some(self.me) {
            self.self_endorsed = Some(now);
        }
        if let Some(b) = endorse.filter(|&b| b != self.me) {
            self.endorsed_at[b as usize] = Some(now);
        }
        let mut hears = 0u32;
        let mut acks: Vec<Ack, MAX_NODES> = Vec::new();
        for i in 0..self.n as usize {
            let ack = if i == self.me as usize {
                Ack {
                    incarnation: self.incarnation,
                    seq,
                }
            } else {
                let peer = &self.peers[i];
                if peer.state.is_live() {
                    hears |= 1 << i;
                }
                if peer.state == MemberState::Unknown {
                    Ack::default()
                } else {
                    Ack {
                        incarnation: peer.incarnation,
                        seq: peer.seq,
                    }
                }
            };
            let _ = acks.push(ack);
        }
        let claiming = self.claiming();
        let hello = Hello {
            seq,
            role: self.role,
            boss: endorse,
            generation: self.generation,
            uptime_ms: now.saturating_since(self.started).as_millis() as u64,
            health: if self.on_hold() { 0 } else { self.health },
            config_digest: self.digest,
            mac: self.mac,
            claims: self.claims,
            suitability: self.suitability.clone(),
            hears,
            acks,
            list: if claiming {
                self.list.clone()
            } else {
                Vec::new()
            },
        };
        self.send(Dest::All, Body::Hello(hello));
        if claiming {
            let deputies = self.deputies();
            if !deputies.is_empty() {
                let records = self.current_records(now);
                // One page at least (the records), then one per SYNC_PAGE
                // vservers.
                let pages = self.vservers.len().div_ceil(SYNC_PAGE).max(1);
                for page in 0..pages {
                    let first = page * SYNC_PAGE;
                    let mut vservers = Vec::new();
                    for e in self.vservers.iter().skip(first).take(SYNC_PAGE) {
                        let _ = vservers.push(*e);
                    }
                    let sync = StateSync {
                        generation: self.generation,
                        list: self.list.clone(),
                        deputies: deputies.clone(),
                        records: records.clone(),
                        first: first as VsId,
                        vservers,
                    };
                    for &d in &deputies {
                        self.send(Dest::Node(d), Body::StateSync(sync.clone()));
                    }
                }
            }
        }
        self.timers.set(Timer::Hello, Some(now + ms(self.t.hello)));
    }
}
