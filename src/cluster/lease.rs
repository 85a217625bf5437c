//! Leases (docs/MODEL.md, fencing layer 1): the timing constants, the
//! ring of hello send times, and the two leases every box computes.
//!
//! # Acknowledgements
//!
//! Every hello carries `acks[n]`: the newest hello sequence (and incarnation)
//! its sender heard from box `n`. A box keeps the send time of its recent
//! hellos in a ring; an acknowledgement of hello `s` from box `y` proves `y`
//! heard this box at or after the local time `s` was sent. A lease of length
//! L counts from that send time, never from the arrival of the ack, so a
//! box frozen for seconds cannot wake up with a lease made of old acks.
//!
//! # The holding lease ([`Core::lease_until`])
//!
//! The quorum-th newest of { this box's newest hello, every peer's newest
//! ack } plus L. Acks from any box count, so the boss's death does not cut
//! anyone's lease short. A box holds vservers only while this is valid and
//! since [`Core::lease_since`] (a lapse ends every holding; the vserver layer
//! takes a vserver again only on a new order).
//!
//! The boss may give a lost box's vservers away once
//! [`Core::lease_lapsed`] says so: a probe round asked at local `P0` found
//! `n − quorum + 1` boxes (the boss among them) that had not heard the box for
//! long enough to be sure none of their acks kept its lease alive at `P0`.
//! Then at most `quorum − 1` boxes (itself included) could renew it: it lapsed.
//! The proof holds for that instant only: it ends when anyone's
//! acknowledgements show a hello of the box not known heard before (it may
//! have been renewed through them), and it ages out after
//! [`Core::proof_shelf_life`].
//!
//! # The boss lease ([`Core::acting_until`])
//!
//! As above, but counting only *endorsing* hellos: those whose `boss` field
//! names this box with its generation. A box endorses one boss at a time,
//! and when it switches from boss X to another it endorses nobody until
//! `last heard X + W`, W = L·(1+ρ)/(1−ρ) + 2 ms. Any endorsement X holds
//! from it refers to a hello it heard by then, so X's lease through it has
//! ended in real time before the new endorsement is even sent. Two bosses
//! acting at once would need a box in both (majority) quorums endorsing both
//! at that instant: impossible. A boss acts only while this lease is valid
//! ([`Core::is_acting`]).
//!
//! # Why L ≈ 0.99 D (the longest with stretch(L) + 2 ms <= D)
//!
//! A box notices its boss missing after D and declares it lost after the
//! probe window; its block ends `W <= D` after it last heard the boss, so
//! the block costs nothing in the usual fail-over: only the round trip in
//! which the others endorse the new boss, at most one hello interval (they
//! send an early hello on a boss change). By the time a peer is declared
//! lost, its lease has surely run out.
//!
//! L must also outlast the acknowledgement cycle: a boss's hello is
//! acknowledged in the others' next hellos, so the quorum-th newest
//! acknowledged hello is up to two intervals plus a delay old. With the
//! default D = 3 H, L ≈ 2.97 H leaves most of a hello for delay and loss
//! (a shorter L = D − H lapsed every cycle in the simulator).
//!
//! `ρ` ([`DRIFT_PPM`]) is the bound on any clock's rate error against real
//! time; the simulator draws clock rates within it.

use super::timer::Timer;
use super::{ms, Core};
use crate::config::{Fencing, NodeId};
use crate::proto::Role;
use crate::time::Instant;
use core::time::Duration;
use heapless::Vec;

use crate::limits::MAX_NODES;

/// Bound on any box's clock-rate error against real time, in parts per
/// million (0.5 %: crystal oscillators are within 100 ppm; the rest is room
/// for NTP slewing and virtual machines).
pub const DRIFT_PPM: u64 = 5_000;

/// Safety margin added to waits that protect leases, in ms (the millisecond
/// rounding of two clocks).
pub const MARGIN_MS: u64 = 2;

/// Half-life of a box's downtime record: recent downtime lowers a box more.
pub const RECORD_HALF_LIFE_MS: u64 = 3_600_000;

/// `x` local milliseconds on a clock running fast by up to ρ may last up to
/// this many on a clock running slow by up to ρ (rounded up).
pub fn stretch(x: u64) -> u64 {
    let num = x.saturating_mul(1_000_000 + DRIFT_PPM);
    num.div_ceil(1_000_000 - DRIFT_PPM)
}

/// The timers of one cluster, derived from `hello` and `dead` (all ms).
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub struct Timers {
    /// Hello interval H.
    pub hello: u64,
    /// Dead interval D: silence after which a peer is suspect.
    pub dead: u64,
    /// Probe window: how long answers to an indirect probe are awaited (H/2).
    pub probe: u64,
    /// Lease length L: the longest with stretch(L) + margin <= D (about
    /// 0.99 D), at most 60 hellos.
    pub lease: u64,
    /// Endorsement block W = stretch(L) + margin: after switching bosses a
    /// box endorses the new one only W after it last heard the old one.
    pub block: u64,
    /// A box lost longer than this raises an alert (`lost-alert`).
    pub lost_alert: u64,
}

impl Timers {
    /// The timers for these configured intervals.
    pub fn new(hello: Duration, dead: Duration, lost_alert: Duration) -> Timers {
        let hello = (hello.as_millis() as u64).max(1);
        let dead = (dead.as_millis() as u64).max(2);
        // The longest lease whose block still fits in the dead interval.
        let lease =
            (dead.saturating_sub(MARGIN_MS) * (1_000_000 - DRIFT_PPM)) / (1_000_000 + DRIFT_PPM);
        // The ring of send times must cover a lease.
        let lease = lease.clamp(1, hello * (super::RING as u64 - 4));
        Timers {
            hello,
            dead,
            probe: (hello / 2).max(1),
            lease,
            block: stretch(lease) + MARGIN_MS,
            lost_alert: lost_alert.as_millis() as u64,
        }
    }
}

impl Core {
    /// The send time of this box's hello `seq`, if still in the ring.
    pub(super) fn sent_at(&self, seq: u32) -> Option<Instant> {
        if seq == 0 {
            return None;
        }
        let (s, t) = self.ring[seq as usize % super::RING];
        (s == seq).then_some(t)
    }

    /// Record a hello just sent.
    pub(super) fn remember_sent(&mut self, seq: u32, now: Instant) {
        self.ring[seq as usize % super::RING] = (seq, now);
        self.last_hello = Some(now);
    }

    /// Recompute both leases from the acknowledgements on hand.
    pub(super) fn refresh_leases(&mut self, now: Instant) {
        let q = self.quorum as usize;
        // Holding lease: acks from anyone, plus this box's own newest hello.
        let mut times: Vec<Instant, MAX_NODES> = Vec::new();
        if let Some(t) = self.last_hello {
            let _ = times.push(t);
        }
        for p in self.others() {
            let peer = &self.peers[p as usize];
            if let Some(t) = self.sent_at(peer.ack_any) {
                let _ = times.push(t);
            }
        }
        let until = quorum_th(&times, q).map(|t| t + ms(self.t.lease));
        // A lapse ends the lease period; a new one starts when it is renewed.
        let was_valid = self.timers.running(Timer::Lease, now);
        match until {
            Some(u) if now < u => {
                if !was_valid {
                    self.lease_since = Some(now);
                }
            }
            _ => self.lease_since = None,
        }
        self.timers.set(Timer::Lease, until);

        // Boss lease: endorsements only.
        self.timers.set(Timer::Acting, None);
        if !self.claiming() {
            return;
        }
        times.clear();
        if let Some(t) = self.self_endorsed {
            let _ = times.push(t);
        }
        for p in self.others() {
            let peer = &self.peers[p as usize];
            if let Some(t) = self.sent_at(peer.ack_endorse) {
                let _ = times.push(t);
            }
        }
        let acting = quorum_th(&times, q).map(|t| t + ms(self.t.lease));
        self.timers.set(Timer::Acting, acting);
    }

    /// Until when this box may act as boss (local time). `None` unless it is
    /// boss (with quorum) and holds a boss lease; under `fencing none` a boss
    /// with quorum acts without a lease (`Instant(u64::MAX)`).
    pub fn acting_until(&self) -> Option<Instant> {
        if self.role != Role::Boss {
            return None;
        }
        match self.fencing {
            Fencing::None => Some(Instant(u64::MAX)),
            Fencing::Lease => self.timers.get(Timer::Acting),
        }
    }

    /// Bit `n` set: box `n`'s newest hello endorses this box as boss (with
    /// an acknowledgement still in the ring). Test support.
    #[cfg(any(test, feature = "testing"))]
    pub fn endorsers(&self) -> u32 {
        let mut bits = 0;
        for p in self.others() {
            if self.sent_at(self.peers[p as usize].ack_endorse).is_some() {
                bits |= 1 << p;
            }
        }
        if self.self_endorsed.is_some() && self.claiming() {
            bits |= 1 << self.me;
        }
        bits
    }

    /// Whether this box acts as boss at local time `now` (a pure function of
    /// its state: also true of a frozen box until its lease runs out, which is
    /// what the simulator checks).
    pub fn is_acting(&self, now: Instant) -> bool {
        self.acting_until().is_some_and(|u| now < u)
    }

    /// Until when this box's holding lease is valid (local time). `None`
    /// without acknowledgements from a quorum, and under `fencing none`
    /// (there a box holds until told otherwise).
    pub fn lease_until(&self) -> Option<Instant> {
        match self.fencing {
            Fencing::None => None,
            Fencing::Lease => self.timers.get(Timer::Lease),
        }
    }

    /// Since when the holding lease has been valid without a break (local
    /// time). A vserver taken before this instant must be given up: the
    /// lease lapsed in between, and the boss may have reassigned it.
    pub fn lease_since(&self) -> Option<Instant> {
        match self.fencing {
            Fencing::None => None,
            Fencing::Lease => self.lease_since,
        }
    }

    /// Whether this box may hold a vserver it was told to take at local time
    /// `taken` (what the simulator checks of the vserver layer). Test
    /// support.
    #[cfg(any(test, feature = "testing"))]
    pub fn holds_since(&self, taken: Instant, now: Instant) -> bool {
        match self.fencing {
            Fencing::None => true,
            Fencing::Lease => {
                self.lease_since.is_some_and(|s| s <= taken)
                    && self.timers.running(Timer::Lease, now)
            }
        }
    }

    /// Whether box `node`'s holding lease has surely lapsed since this box
    /// last heard it (see the module doc): the boss may then reassign its
    /// vservers. Under `fencing none`: once the box is lost.
    pub fn lease_lapsed(&self, node: NodeId) -> bool {
        let Some(p) = self.peers.get(node as usize) else {
            return false;
        };
        match self.fencing {
            Fencing::None => p.state == super::MemberState::Lost,
            Fencing::Lease => self.lease_lapsed_at(node).is_some(),
        }
    }

    /// The local instant at which box `node`'s holding lease is proven to
    /// have been lapsed (the send time of the proving probe round), if it is.
    /// Whatever `node` took before that instant it no longer holds.
    ///
    /// A proof ages: after it, the box may have been heard again by others,
    /// renewed its lease through them and taken a vserver from another boss,
    /// and only a new probe round would tell. Lost boxes are re-probed every
    /// dead interval, so a proof older than [`Core::proof_shelf_life`] means
    /// the rounds could not be held (this box was cut off from the boxes to
    /// ask) and proves nothing now (sim seed 1846217653: a box isolated for
    /// 4.6 s came back, became boss on a 5 s old proof and gave away a
    /// vserver the box it thought lapsed had taken meanwhile).
    pub fn lease_lapsed_at(&self, node: NodeId) -> Option<Instant> {
        match self.fencing {
            Fencing::None => None,
            Fencing::Lease => self
                .peers
                .get(node as usize)
                .and_then(|p| p.lapsed)
                .filter(|&at| self.now < at + ms(self.proof_shelf_life())),
        }
    }

    /// How long a lapse proof stands (ms): the re-probe period (`dead`), the
    /// probe window and a hello of slack for the answers.
    pub fn proof_shelf_life(&self) -> u64 {
        self.t.dead + self.t.probe + self.t.hello
    }

    /// Since when box `node`'s holding lease has been proven lapsed, proof
    /// after proof with none withdrawn (the send time of the first of them),
    /// if it is now. Its kernel lifetimes ran out soon after (fencing layer
    /// 2: [`crate::takeover::KERNEL_HOLD_BOUND`]).
    pub fn lease_lapsed_since(&self, node: NodeId) -> Option<Instant> {
        match self.fencing {
            Fencing::None => None,
            Fencing::Lease => self
                .lease_lapsed_at(node)
                .and_then(|_| self.peers.get(node as usize))
                .and_then(|p| p.lapsed_since),
        }
    }
}

/// The quorum-th newest instant, if there are that many: the newest instant
/// with at least `q` instants at or after it. At most [`MAX_NODES`] of them,
/// so counting beats linking a sort (3 KB of binary).
fn quorum_th(times: &[Instant], q: usize) -> Option<Instant> {
    if q == 0 || times.len() < q {
        return None;
    }
    times
        .iter()
        .copied()
        .filter(|&t| times.iter().filter(|&&u| u >= t).count() >= q)
        .max()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timers_for_defaults() {
        let t = Timers::new(
            Duration::from_millis(200),
            Duration::from_millis(1000),
            Duration::from_secs(30),
        );
        // 998 * 0.995 / 1.005 = 988.07
        assert_eq!(t.lease, 988);
        assert_eq!(t.probe, 100);
        // 988 * 1.005 / 0.995 = 997.93 -> 998, plus the margin.
        assert_eq!(t.block, 1000);
        assert!(
            t.block <= t.dead,
            "the block must not delay the usual fail-over"
        );
    }

    #[test]
    fn short_dead_interval_still_gives_a_lease() {
        let t = Timers::new(
            Duration::from_millis(200),
            Duration::from_millis(150),
            Duration::from_secs(1),
        );
        assert_eq!(t.lease, 146);
        assert!(t.block <= t.dead);
    }

    #[test]
    fn quorum_th_is_the_qth_newest() {
        let t = |v: &[u64]| v.iter().map(|&x| Instant(x)).collect::<std::vec::Vec<_>>();
        let times = t(&[30, 10, 50, 20, 50, 40]);
        let mut sorted = times.clone();
        sorted.sort_unstable_by(|a, b| b.cmp(a));
        for q in 1..=times.len() {
            assert_eq!(quorum_th(&times, q), Some(sorted[q - 1]), "q={q}");
        }
        assert_eq!(quorum_th(&times, 0), None);
        assert_eq!(quorum_th(&times, 7), None);
        assert_eq!(quorum_th(&t(&[5, 5, 5]), 3), Some(Instant(5)));
        assert_eq!(quorum_th(&[], 1), None);
    }

    #[test]
    fn stretch_rounds_up() {
        assert_eq!(stretch(0), 0);
        assert_eq!(stretch(1), 2);
        assert_eq!(stretch(995), 1005);
    }
}
