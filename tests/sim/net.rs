//! What both simulated worlds are made of, below their boxes: the seeded
//! random numbers, each box's drifting clock, the network (cuts, loss,
//! delay), the event queue and the trace of a failing seed.
//!
//! `world` (cluster cores) and `vworld` (whole boxes) differ in what runs on
//! a box and in what they check; time, the wire and the record of a run are
//! the same in both, and live here once. Nothing here decides what a box
//! does: each world calls in and does the rest itself.
//!
//! The wire carries bytes, as quinn-proto's test pair does: every box seals
//! its messages with its own [`Codec`] (one per daemon start, as the shell
//! makes it), the network moves the sealed datagram, and the receiver's
//! codec opens it, so the incarnation challenge after a restart, the replay
//! window and the size limits act in the simulator as they do in the
//! daemon. [`Wire`] counts what the codecs did over a whole run.
//!
//! Determinism is the point of the simulator (a seed replays exactly), so
//! every helper that draws random numbers says which, in which order: a
//! refactor that reorders the draws changes every run.
//!
//! Declared inside `world` (not beside it in `main.rs`) because
//! `tests/cluster_rules.rs` and `tests/node_scenarios.rs` include
//! `world.rs` by path and need it there too.

use std::cmp::Ordering;
use std::collections::{BinaryHeap, VecDeque};
use std::fmt::Display;
use std::rc::Rc;

use bongoyo::cluster::{lease::DRIFT_PPM, Dest};
use bongoyo::config::NodeId;
use bongoyo::limits::MAX_DATAGRAM;
use bongoyo::proto::{Body, Codec, DecodeError, Drops, EncodeError, Received};
use bongoyo::time::Instant;

/// splitmix64: small, fast, good enough, and ours.
#[derive(Clone)]
pub struct Rng(pub u64);

impl Rng {
    pub fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
    /// Uniform in 0..n (n > 0).
    pub fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }
    /// Uniform in lo..=hi.
    pub fn range(&mut self, lo: u64, hi: u64) -> u64 {
        lo + self.below(hi - lo + 1)
    }
    pub fn chance(&mut self, per_mille: u64) -> bool {
        self.below(1000) < per_mille
    }
}

/// One box's clock: it runs `ppm` parts per million fast (or slow, if
/// negative) from `offset_us`, and shows milliseconds, as the shell's
/// `CLOCK_BOOTTIME` reading does. Real time is the world's `now_us`.
#[derive(Clone, Copy, Debug)]
pub struct Clock {
    pub ppm: i64,
    pub offset_us: u64,
}

impl Clock {
    /// The clock of a scripted test: no drift, starts at 0 with real time.
    pub const PERFECT: Clock = Clock {
        ppm: 0,
        offset_us: 0,
    };

    /// A clock within the drift the lease allows (`DRIFT_PPM`), from any
    /// offset up to 1000 s. Draws the rate, then the offset.
    pub fn drawn(rng: &mut Rng) -> Clock {
        let ppm = rng.range(0, 2 * DRIFT_PPM) as i64 - DRIFT_PPM as i64;
        Clock {
            ppm,
            offset_us: rng.range(0, 1_000_000_000),
        }
    }

    /// What this clock shows at real time `t_us`.
    pub fn local_at(&self, t_us: u64) -> Instant {
        let scaled = (t_us as i128 * (1_000_000 + self.ppm as i128)) / 1_000_000;
        Instant(((self.offset_us as i128 + scaled) / 1000) as u64)
    }

    /// The earliest real time at which this clock shows `at`: the inverse
    /// of [`Clock::local_at`], rounded so that the timer fires no earlier
    /// than the core asked for on its own clock.
    pub fn real_of(&self, at: Instant) -> u64 {
        let want = at.0 as i128 * 1000 - self.offset_us as i128;
        if want <= 0 {
            return 0;
        }
        let mut r = (want * 1_000_000 / (1_000_000 + self.ppm as i128)) as u64;
        r = r.saturating_sub(2);
        while self.local_at(r) < at {
            r += 1;
        }
        r
    }
}

/// A box's one timer, re-armed after every input (the shell asks the core
/// for `poll_timeout` each turn). Each arming gets a new token, so a queued
/// wake-up of an earlier arming, or of a crashed daemon, is recognised as
/// stale when it comes due instead of being dug out of the queue.
#[derive(Default)]
pub struct Timer {
    token: u64,
}

impl Timer {
    /// Void any wake-up in the queue (the daemon died).
    pub fn cancel(&mut self) {
        self.token += 1;
    }

    /// Void the wake-up in the queue and, if the core wants one at local
    /// `wake`, say when (real time, at least 1 us from `now_us`) and with
    /// which token to queue it.
    pub fn arm(&mut self, clock: &Clock, now_us: u64, wake: Option<Instant>) -> Option<(u64, u64)> {
        self.cancel();
        wake.map(|w| (clock.real_of(w).max(now_us + 1), self.token))
    }

    /// A wake-up queued with `token` is the one armed last.
    pub fn is_current(&self, token: u64) -> bool {
        self.token == token
    }
}

/// One directed link whose cut changed (for the trace).
pub struct Cut {
    pub from: usize,
    pub to: usize,
    pub cut: bool,
}

/// The segment all boxes share: directed cuts (partitions of any shape,
/// asymmetric ones included), loss, and delay with jitter (so datagrams
/// overtake each other).
pub struct Net {
    /// `cut[a][b]`: frames from box a do not reach box b.
    pub cut: Vec<Vec<bool>>,
    pub loss_pm: u64,
    pub delay_min_us: u64,
    pub delay_jitter_us: u64,
}

impl Net {
    /// `n` boxes, all linked, no loss, 0.3 to 2.3 ms delay.
    pub fn new(n: usize) -> Net {
        Net {
            cut: vec![vec![false; n]; n],
            loss_pm: 0,
            delay_min_us: 300,
            delay_jitter_us: 2_000,
        }
    }

    /// The network of a scripted test: 0.5 ms delay exactly, no loss.
    pub fn scripted(&mut self) {
        self.delay_min_us = 500;
        self.delay_jitter_us = 0;
    }

    fn n(&self) -> usize {
        self.cut.len()
    }

    /// Cut (or restore) the link from box `from` to box `to`; the change,
    /// if it is one.
    pub fn set_cut(&mut self, from: usize, to: usize, cut: bool) -> Option<Cut> {
        (self.cut[from][to] != cut).then(|| {
            self.cut[from][to] = cut;
            Cut { from, to, cut }
        })
    }

    /// Cut both ways between the groups (`group[i]` per box), restore the
    /// links within each; the changes.
    pub fn partition(&mut self, group: &[usize]) -> Vec<Cut> {
        let mut changed = Vec::new();
        for a in 0..self.n() {
            for b in 0..self.n() {
                changed.extend(self.set_cut(a, b, group[a] != group[b]));
            }
        }
        changed
    }

    /// Every link restored.
    pub fn heal(&mut self) -> Vec<Cut> {
        self.partition(&vec![0; self.n()])
    }

    /// Box `i` cut off from all others, the others linked.
    pub fn isolate(&mut self, i: usize) -> Vec<Cut> {
        let g: Vec<usize> = (0..self.n()).map(|x| (x == i) as usize).collect();
        self.partition(&g)
    }

    /// Frames pass both ways between boxes a and b.
    pub fn linked(&self, a: usize, b: usize) -> bool {
        a == b || (!self.cut[a][b] && !self.cut[b][a])
    }

    /// A datagram from `from` to `to` sent now: after how long it arrives,
    /// or `None` if it is cut off or lost. Draws the loss only over a link
    /// that is not cut, then the jitter only for a datagram not lost.
    pub fn delay(&self, rng: &mut Rng, from: usize, to: usize) -> Option<u64> {
        if self.cut[from][to] || rng.chance(self.loss_pm) {
            return None;
        }
        Some(self.delay_min_us + rng.below(self.delay_jitter_us + 1))
    }
}

/// A sealed datagram in flight. One seal serves every receiver of a
/// multicast, as in the daemon (it seals once and sends the same bytes to
/// the group and to each unicast peer).
pub type Datagram = Rc<[u8]>;

/// Whether the simulated network can make a codec drop a datagram for this
/// reason: a boot not verified yet (first contact, a restart), a datagram
/// of a replaced boot still in flight, one reordered below the replay
/// window. The simulator never corrupts, misaddresses or misconfigures, so
/// any other reason is a mistake of the simulator or the codec.
pub fn expected_drop(e: DecodeError) -> bool {
    matches!(
        e,
        DecodeError::UnverifiedIncarnation | DecodeError::StaleIncarnation | DecodeError::Replayed
    )
}

/// What the codecs of one run did, summed over every daemon of every box (a
/// codec dies with its daemon; its counts are added here as they happen).
#[derive(Clone, Default)]
pub struct Wire {
    /// Datagrams sealed: one per send, whatever the number of receivers.
    pub sealed: u64,
    /// Of those, the codecs' own: challenges and responses.
    pub codec_sent: u64,
    /// Bodies a codec refused to seal (too large for a datagram, ...); the
    /// daemon counts a send error and the message is gone.
    pub seal_failed: u64,
    /// Datagrams a running daemon's codec opened.
    pub opened: u64,
    /// Of those, handed to the node.
    pub delivered: u64,
    /// Of those, dropped, by reason.
    pub drops: Drops,
}

impl Wire {
    /// Seal `body` for `to` with `codec`, as the daemon's `send` does: a
    /// message for one box names it in the header, one for all names none.
    pub fn seal(
        &mut self,
        codec: &mut Codec,
        to: Dest,
        body: &Body,
    ) -> Result<Datagram, EncodeError> {
        let dest = match to {
            Dest::All => None,
            Dest::Node(n) => Some(n),
        };
        let mut buf = [0u8; MAX_DATAGRAM];
        match codec.seal_to(dest, body, &mut buf) {
            Ok(len) => {
                self.sealed += 1;
                Ok(Rc::from(&buf[..len]))
            }
            Err(e) => {
                self.seal_failed += 1;
                Err(e)
            }
        }
    }

    /// Open `datagram` with the receiver's `codec` at its local `now`, as
    /// the daemon's `receive` does. `Ok(Some)`: for the node; `Ok(None)`:
    /// the codec's own (a challenge or a response); `Err`: dropped (the
    /// codec counted it too).
    pub fn open(
        &mut self,
        codec: &mut Codec,
        now: Instant,
        datagram: &[u8],
    ) -> Result<Option<Received>, DecodeError> {
        self.opened += 1;
        let r = codec.open(now, datagram);
        match &r {
            Ok(Some(_)) => self.delivered += 1,
            Ok(None) => {}
            Err(e) => self.drops.count(*e),
        }
        r
    }

    /// Add another run's counts (for the summary of many seeds).
    pub fn add(&mut self, other: &Wire) {
        self.sealed += other.sealed;
        self.codec_sent += other.codec_sent;
        self.seal_failed += other.seal_failed;
        self.opened += other.opened;
        self.delivered += other.delivered;
        self.drops.add(&other.drops);
    }

    /// One line: `sealed=… delivered=… …` and the drops that happened, by
    /// name.
    pub fn summary(&self) -> String {
        let mut s = format!(
            "sealed={} codec_sent={} seal_failed={} opened={} delivered={} dropped={}",
            self.sealed,
            self.codec_sent,
            self.seal_failed,
            self.opened,
            self.delivered,
            self.drops.total()
        );
        for (name, n) in self.drops.iter().filter(|&(_, n)| n > 0) {
            s.push_str(&format!(" {name}={n}"));
        }
        s
    }
}

/// The boxes a datagram box `from` sends to `to` goes to, of `n`, in the
/// order it is sent to them (a multicast: every other box, lowest first).
pub fn receivers(to: Dest, from: usize, n: usize) -> Vec<usize> {
    match to {
        Dest::All => (0..n).filter(|&j| j != from).collect(),
        Dest::Node(j) => vec![j as usize],
    }
}

/// What the sending side of the wire needs of a world: [`flush_codec`],
/// [`send`] and [`transmit`] are written once against it. Each world keeps
/// its own trace, event and violation list.
pub trait Wired {
    /// The real time now, in microseconds.
    fn now_us(&self) -> u64;
    /// How many boxes.
    fn n(&self) -> usize;
    /// Box `i`'s codec, if its daemon runs, and the run's counts.
    fn codec_and_wire(&mut self, i: usize) -> (Option<&mut Codec>, &mut Wire);
    /// The network and the random numbers its delays are drawn from.
    fn net_and_rng(&mut self) -> (&Net, &mut Rng);
    /// Trace: box `i`'s codec sent its own `kind` (a challenge or a
    /// response) to box `to`.
    fn note_codec(&mut self, i: usize, to: NodeId, kind: &'static str);
    /// A datagram arrives at box `to` at real time `t_us`.
    fn arrive(&mut self, t_us: u64, to: usize, datagram: Datagram);
    /// Record a violation.
    fn violation(&mut self, what: String);
}

/// `impl Wired for $world`, for a world whose fields are named as both
/// worlds name them (`now_us`, `boxes[i].codec`, `wire`, `net`, `rng`) and
/// that has `n`, `note` and `violation` of its own: `$trace` is its trace's
/// enum (with a `Codec` variant), `$arrive` queues a datagram for a box.
macro_rules! wired {
    ($world:ident, $trace:ident, |$w:ident, $t_us:ident, $to:ident, $datagram:ident| $arrive:expr) => {
        impl net::Wired for $world {
            fn now_us(&self) -> u64 {
                self.now_us
            }

            fn n(&self) -> usize {
                $world::n(self)
            }

            fn codec_and_wire(&mut self, i: usize) -> (Option<&mut Codec>, &mut Wire) {
                (self.boxes[i].codec.as_mut(), &mut self.wire)
            }

            fn net_and_rng(&mut self) -> (&Net, &mut Rng) {
                (&self.net, &mut self.rng)
            }

            fn note_codec(&mut self, i: usize, to: u8, kind: &'static str) {
                self.note(i, $trace::Codec { to, kind });
            }

            fn arrive(&mut self, $t_us: u64, $to: usize, $datagram: Datagram) {
                let $w = self;
                $arrive
            }

            fn violation(&mut self, what: String) {
                $world::violation(self, what);
            }
        }
    };
}
pub(crate) use wired;

/// Send what box i's codec asks for (challenges, responses), each to
/// its one box, as the shell's flush does.
pub fn flush_codec(w: &mut impl Wired, i: usize) {
    while let Some((to, body)) = w.codec_and_wire(i).0.and_then(|c| c.poll_transmit()) {
        w.codec_and_wire(i).1.codec_sent += 1;
        w.note_codec(i, to, body.kind());
        send(w, i, Dest::Node(to), &body);
    }
}

/// Seal `body` with box i's codec and put the datagram on the wire to
/// every receiver; a body the codec refuses is lost, as in the daemon,
/// and is a violation (nothing a box sends may be too large).
pub fn send(w: &mut impl Wired, i: usize, to: Dest, body: &Body) {
    let sealed = match w.codec_and_wire(i) {
        (Some(codec), wire) => wire.seal(codec, to, body),
        (None, _) => return,
    };
    match sealed {
        Ok(datagram) => {
            for j in receivers(to, i, w.n()) {
                transmit(w, i, j, datagram.clone());
            }
        }
        Err(e) => {
            let now_us = w.now_us();
            w.violation(format!(
                "box {i} could not seal a {} at t={now_us}us: {e}",
                body.kind(),
            ))
        }
    }
}

/// Put `datagram` on the way from box `from` to box `to`: it arrives after
/// the network's delay (one draw), or never on a cut or a loss.
pub fn transmit(w: &mut impl Wired, from: usize, to: usize, datagram: Datagram) {
    let (net, rng) = w.net_and_rng();
    let Some(d) = net.delay(rng, from, to) else {
        return;
    };
    let t_us = w.now_us() + d;
    w.arrive(t_us, to, datagram);
}

/// An event queued for real time `t_us`; `seq` keeps events due at the
/// same instant in the order they were queued.
struct Queued<E> {
    t_us: u64,
    seq: u64,
    ev: E,
}

impl<E> Queued<E> {
    fn key(&self) -> (u64, u64) {
        (self.t_us, self.seq)
    }
}

impl<E> PartialEq for Queued<E> {
    fn eq(&self, other: &Self) -> bool {
        self.key() == other.key()
    }
}

impl<E> Eq for Queued<E> {}

impl<E> PartialOrd for Queued<E> {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl<E> Ord for Queued<E> {
    /// Reversed: the heap's greatest is the earliest.
    fn cmp(&self, other: &Self) -> Ordering {
        other.key().cmp(&self.key())
    }
}

/// The world's future: events by real time, first in first out among
/// events due at the same microsecond (so a run never depends on the
/// heap's tie-breaking).
pub struct Queue<E> {
    heap: BinaryHeap<Queued<E>>,
    seq: u64,
}

impl<E> Default for Queue<E> {
    fn default() -> Self {
        Queue {
            heap: BinaryHeap::new(),
            seq: 0,
        }
    }
}

impl<E> Queue<E> {
    /// Queue `ev` for real time `t_us`.
    pub fn push(&mut self, t_us: u64, ev: E) {
        self.seq += 1;
        self.heap.push(Queued {
            t_us,
            seq: self.seq,
            ev,
        });
    }

    /// The earliest event and its time.
    pub fn pop(&mut self) -> Option<(u64, E)> {
        self.heap.pop().map(|q| (q.t_us, q.ev))
    }

    /// Some event is due at or before real time `t_us`.
    pub fn due(&self, t_us: u64) -> bool {
        self.heap.peek().is_some_and(|q| q.t_us <= t_us)
    }
}

/// Events a trace keeps, the last ones before a violation (what a failing
/// seed prints).
pub const TRACE_LEN: usize = 300;

/// The last [`TRACE_LEN`] events of a run, one line each (`Display`).
pub struct Trace<E> {
    events: VecDeque<E>,
}

impl<E> Default for Trace<E> {
    fn default() -> Self {
        Trace {
            events: VecDeque::with_capacity(TRACE_LEN),
        }
    }
}

impl<E: Display> Trace<E> {
    /// Record `ev`, forgetting the oldest if the trace is full.
    pub fn push(&mut self, ev: E) {
        if self.events.len() == TRACE_LEN {
            self.events.pop_front();
        }
        self.events.push_back(ev);
    }

    /// The trace, one line per event.
    pub fn text(&self) -> String {
        let mut s = String::new();
        for e in &self.events {
            s.push_str(&format!("{e}\n"));
        }
        s
    }
}

/// Record violation `what` in a world's `list` (the first five are enough to
/// tell what went wrong), and if it is the first, the trace as it is now in
/// `first_trace`: what led up to it, not what came after.
pub fn violation<E: Display>(
    list: &mut Vec<String>,
    first_trace: &mut String,
    trace: &Trace<E>,
    what: String,
) {
    if list.is_empty() {
        *first_trace = trace.text();
    }
    if list.len() < 5 {
        list.push(what);
    }
}
