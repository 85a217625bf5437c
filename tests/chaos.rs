//! Chaos on a real kernel (issue 17): random faults on the three-box
//! namespace LAN (`tests/common/lan.rs`) with three vservers, the real
//! daemon at its default timers and fencing, while a client connects to
//! every vserver every [`SLOT_MS`] and a watcher reads, every
//! [`WATCH_MS`], which boxes hold each address in their kernel.
//!
//! Faults (drawn from a seed, see [`Fault`]): daemon kill -9 and restart,
//! pause and resume (SIGSTOP/SIGCONT), box death (kill -9 and link down,
//! later link up and a fresh daemon), link flaps, partitions, one-way cuts
//! and packet loss (nftables on the switch, `numgen random mod 100 < P
//! drop`), and a graceful stop (SIGTERM, wait for the exit) followed at
//! once by a start. They come in bursts of one to four, overlapping; after
//! each burst every fault is healed and every vserver must be served again
//! by the cluster within [`recovery_bound_ms`], and to the client within
//! its ARP cache's bound after that ([`arp_bound_ms`]: a client that missed
//! every gratuitous ARP of a new holder, the repeat after the heal
//! included, keeps the old MAC; reported as `stale client ARP`, not
//! failed). `CHAOS_VERBOSE=1` prints the
//! full report after a passing run too.
//!
//! Checked all the time (fail at once, with the schedule so far):
//! never two boxes holding one address where a host can reach both, and no
//! daemon dead that the test did not kill. A box whose death the test
//! staged is not counted while it is dead: its link is down, and a real
//! dead box's memory is gone. Two boxes on opposite sides of a partition
//! (or one with its link down) are not on one segment: no host sees both,
//! as the simulator's invariant (b) says; a frozen holder cut off that way
//! keeps its address in its kernel for up to two lifetimes while the other
//! side takes over, and that counts only if it outlasts the cut.
//!
//! `CHAOS_FAULTS` (default [`DEFAULT_FAULTS`], the short run inside `make
//! test`) and `CHAOS_SEED` (default: fresh, printed first) steer it; `make
//! chaos` runs it. The seed line and the result line are written to the
//! real stderr so they show even when the harness captures output:
//!
//! ```text
//! chaos: seed=S faults=N (replay: make chaos CHAOS_SEED=S CHAOS_FAULTS=N)
//! chaos: faults=N duplicate_ms=0 max_outage_ms=M daemon_deaths=0
//! ```
//!
//! The watcher reads the addresses through rtnetlink (an `RTM_GETADDR`
//! dump on a socket opened inside each box's namespace), not `ip`: one
//! dump costs microseconds, so all three boxes are read at one instant.

mod common;

use std::io::Write as _;
use std::net::{Ipv4Addr, SocketAddr, SocketAddrV4, TcpStream};
use std::os::fd::{AsRawFd, OwnedFd};
use std::sync::atomic::{AtomicBool, AtomicI8, AtomicU8, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bongoyo::config::{DEFAULT_CHECK, DEFAULT_HELLO, DEFAULT_TAKEOVER_TIMEOUT};
use bongoyo::daemon::STOP_GRACE;
use bongoyo::os::ifaddr;
use bongoyo::takeover::ALIAS_LIFETIME_S;
use bongoyo::vserver::monitor::{DOWN_CONFIRM, GRACE_CHECKS};
use common::lan::{Lan, Opts, BOXES, PORT};
use common::netns::{nft_or_skip, root_or_skip, run_in, sh, spawn_in, Threads};
use nix::sys::signal::Signal;

/// The third octet of this test's subnet (10.81.40.0/24); the other
/// namespace tests use 11-31.
const K: u8 = 40;
/// Interval between the client's TCP attempts, per vserver.
const SLOT_MS: u64 = 10;
/// Prober threads per vserver: an attempt takes at most 100 + 40 ms, less
/// than `WORKERS * SLOT_MS`, so no slot is late.
const WORKERS: u64 = 16;
/// Interval between the watcher's readings of the boxes' addresses.
const WATCH_MS: u64 = 10;
/// Consecutive answered attempts (x [`SLOT_MS`]) that count as "served".
const STEADY: usize = 10;
/// Faults when `CHAOS_FAULTS` is not set: the short run of `make test`
/// (about two and a half minutes).
const DEFAULT_FAULTS: usize = 60;
/// The cluster must serve every vserver this long after the daemons start.
const COLD_START: Duration = Duration::from_secs(30);
/// Quiet time between a burst's recovery and the next burst.
const QUIET_MS: u64 = 300;
/// Daemon log lines in a failure report at most.
const REPORT_LINES: usize = 600;
/// Extra vservers beside `web`.
const MORE_VSERVERS: [&str; 2] = ["db", "dns"];

/// Milliseconds of a duration.
fn ms(d: Duration) -> u64 {
    d.as_millis() as u64
}

/// After a burst is healed, every vserver is served within this bound
/// (ms), derived from the default timers as the simulator's `served_bound`
/// (`tests/sim/vsim.rs`): the cluster agrees again (4 dead + 6 hello + 200,
/// the simulator's convergence bound, which covers a fresh daemon joining);
/// an orphan alias of a killed or frozen daemon goes within two kernel
/// lifetimes; a takeover ordered just before may run out its timeout; a
/// verdict takes `DOWN_CONFIRM` checks and a dead holder `GRACE_CHECKS`
/// more, then a round (a hello) and the takeover, twice (a takeover ordered
/// while the cluster settled may fail once). 12 s at the defaults; doubled
/// for real processes on two slow shared cores: 24 s.
fn recovery_bound_ms() -> u64 {
    let (hello, check) = (ms(DEFAULT_HELLO), ms(DEFAULT_CHECK));
    let dead = 3 * hello;
    let converge = 4 * dead + 6 * hello + 200;
    let orphan = 2 * 1000 * u64::from(ALIAS_LIFETIME_S);
    let confirm = (u64::from(DOWN_CONFIRM) + u64::from(GRACE_CHECKS) + 1) * check;
    let served = converge + orphan + ms(DEFAULT_TAKEOVER_TIMEOUT) + 2 * (confirm + hello + 200);
    2 * served
}

/// How long a host's ARP entry may keep naming a box that no longer
/// holds the address when it missed the new holder's gratuitous ARPs (ms),
/// from the client namespace's neighbour settings: the entry stays
/// reachable for up to 1.5 x `base_reachable_time` after its last
/// confirmation, then `delay_first_probe_time`, then `ucast_solicit`
/// unicast probes `retrans_time` apart before the kernel asks by
/// broadcast: 53 s at the kernel's defaults. Twice that: the entry was seen
/// confirmed again, on the old MAC, after the fault healed (a stale wait
/// of 52 s), which starts the reachable time over once. 106 s.
fn arp_bound_ms(ns: &str) -> u64 {
    run_in(ns, || {
        let get = |name: &str| -> u64 {
            let p = format!("/proc/sys/net/ipv4/neigh/eth0/{name}");
            std::fs::read_to_string(&p)
                .ok()
                .and_then(|s| s.trim().parse().ok())
                .unwrap_or_else(|| panic!("read {p}"))
        };
        2 * (get("base_reachable_time_ms") * 3 / 2
            + 1000 * get("delay_first_probe_time")
            + get("ucast_solicit") * get("retrans_time_ms"))
    })
}

/// A SIGTERM'd daemon exits once it has handed over (or at its own stop
/// grace, `STOP_GRACE`); twice that is a stop that hangs.
fn graceful_limit() -> Duration {
    2 * STOP_GRACE
}

/// The `+<ms>ms` stamp of a [`Lan::log_tail`] line.
fn stamp(line: &str) -> u64 {
    let t = line.trim_start_matches('+').trim_start();
    t.split("ms")
        .next()
        .and_then(|n| n.parse().ok())
        .unwrap_or(0)
}

/// Write a line to the real stderr, past the test harness's capture.
fn say(line: &str) {
    let mut e = std::io::stderr();
    let _ = writeln!(e, "{line}");
    let _ = e.flush();
}

/// SplitMix64: the schedule's only source of randomness.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// Uniform in `lo..=hi`.
    fn range(&mut self, lo: u64, hi: u64) -> u64 {
        lo + self.next() % (hi - lo + 1)
    }

    /// One box index.
    fn pick_box(&mut self) -> usize {
        self.range(0, 2) as usize
    }
}

/// One fault. Boxes are indices into [`BOXES`]; durations in ms.
#[derive(Clone, Debug)]
enum Fault {
    /// kill -9 the daemon; start a new one `after` ms later.
    Kill { b: usize, after: u64 },
    /// SIGSTOP the daemon, SIGCONT after `ms`.
    Pause { b: usize, ms: u64 },
    /// The box dies: kill -9 and link down; after `ms` the link comes up
    /// and a fresh daemon starts (a reboot).
    Death { b: usize, ms: u64 },
    /// The box's link goes down and up after `ms`; the daemon runs on.
    Flap { b: usize, ms: u64 },
    /// Box `alone` is cut off from the other two (every frame, both ways,
    /// on the switch); the client and the original host stay on the side
    /// of `alone` when `client_with_alone`, else on the other.
    Partition {
        alone: usize,
        client_with_alone: bool,
        ms: u64,
    },
    /// Frames from box `from` to box `to` (to both others when `None`) are
    /// dropped; the other way still works.
    Cut {
        from: usize,
        to: Option<usize>,
        ms: u64,
    },
    /// `pct` % of the frames to and from box `b` (every box when `None`)
    /// are dropped.
    Loss { b: Option<usize>, pct: u64, ms: u64 },
    /// SIGTERM, wait for the exit, start again at once.
    Restart { b: usize },
}

impl Fault {
    /// Draw a fault.
    fn draw(r: &mut Rng) -> Fault {
        match r.range(0, 99) {
            0..=14 => Fault::Kill {
                b: r.pick_box(),
                after: r.range(0, 2000),
            },
            15..=29 => Fault::Pause {
                b: r.pick_box(),
                ms: r.range(100, 4000),
            },
            // At least 2.5 s: longer than two kernel address lifetimes, so
            // the rebooted box's kernel holds nothing of the old run (a
            // real reboot forgets it).
            30..=39 => Fault::Death {
                b: r.pick_box(),
                ms: r.range(2500, 5000),
            },
            40..=49 => Fault::Flap {
                b: r.pick_box(),
                ms: r.range(50, 3000),
            },
            50..=64 => Fault::Partition {
                alone: r.pick_box(),
                client_with_alone: r.range(0, 1) == 0,
                ms: r.range(300, 4000),
            },
            65..=79 => {
                let from = r.pick_box();
                let to = match r.range(0, 2) {
                    0 => None,
                    k => Some((from + k as usize) % 3),
                };
                Fault::Cut {
                    from,
                    to,
                    ms: r.range(300, 4000),
                }
            }
            80..=89 => Fault::Loss {
                b: (r.range(0, 3) < 3).then(|| r.pick_box()),
                pct: r.range(10, 60),
                ms: r.range(500, 5000),
            },
            _ => Fault::Restart { b: r.pick_box() },
        }
    }

    /// How long the fault lasts (ms from its start to its end step).
    fn length(&self) -> u64 {
        match *self {
            Fault::Kill { after, .. } => after,
            Fault::Pause { ms, .. }
            | Fault::Death { ms, .. }
            | Fault::Flap { ms, .. }
            | Fault::Partition { ms, .. }
            | Fault::Cut { ms, .. }
            | Fault::Loss { ms, .. } => ms,
            Fault::Restart { .. } => 0,
        }
    }

    /// The box whose daemon this fault stops, kills or freezes.
    fn daemon_box(&self) -> Option<usize> {
        match *self {
            Fault::Kill { b, .. }
            | Fault::Pause { b, .. }
            | Fault::Death { b, .. }
            | Fault::Restart { b } => Some(b),
            _ => None,
        }
    }

    /// The box whose link this fault takes down.
    fn link_box(&self) -> Option<usize> {
        match *self {
            Fault::Death { b, .. } | Fault::Flap { b, .. } => Some(b),
            _ => None,
        }
    }

    /// Whether this fault may overlap `other` on the boxes: one daemon
    /// fault per box at a time, one link fault per box at a time (a box
    /// death is both).
    fn fits_with(&self, other: &Fault) -> bool {
        let same = |a: Option<usize>, b: Option<usize>| a.is_some() && a == b;
        !same(self.daemon_box(), other.daemon_box()) && !same(self.link_box(), other.link_box())
    }
}

impl std::fmt::Display for Fault {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let name = |b: usize| BOXES[b];
        match *self {
            Fault::Kill { b, after } => write!(f, "kill -9 {}, start after {after}ms", name(b)),
            Fault::Pause { b, ms } => write!(f, "pause {} for {ms}ms", name(b)),
            Fault::Death { b, ms } => write!(f, "box death {} for {ms}ms", name(b)),
            Fault::Flap { b, ms } => write!(f, "link flap {} for {ms}ms", name(b)),
            Fault::Partition {
                alone,
                client_with_alone,
                ms,
            } => {
                let (a, o) = Fault::sides(alone, client_with_alone);
                write!(f, "partition {} | {} for {ms}ms", a.join(" "), o.join(" "))
            }
            Fault::Cut { from, to, ms } => match to {
                Some(t) => write!(f, "one-way cut {} -> {} for {ms}ms", name(from), name(t)),
                None => write!(f, "one-way cut {} -> both boxes for {ms}ms", name(from)),
            },
            Fault::Loss { b, pct, ms } => match b {
                Some(b) => write!(f, "loss {pct}% at {} for {ms}ms", name(b)),
                None => write!(f, "loss {pct}% at every box for {ms}ms"),
            },
            Fault::Restart { b } => write!(f, "graceful stop {}, start at once", name(b)),
        }
    }
}

impl Fault {
    /// The two sides of a partition, as host names (= switch port suffixes).
    fn sides(alone: usize, client_with_alone: bool) -> (Vec<&'static str>, Vec<&'static str>) {
        let mut a = vec![BOXES[alone]];
        let mut o: Vec<&str> = (0..3).filter(|&i| i != alone).map(|i| BOXES[i]).collect();
        if client_with_alone {
            a.extend(["cl", "or"]);
        } else {
            o.extend(["cl", "or"]);
        }
        (a, o)
    }

    /// The nftables rules (bridge family, on the switch) of a network
    /// fault, one per line; empty for the others.
    fn rules(&self) -> Vec<String> {
        let port = |h: &str| format!("\"p-{h}\"");
        let drop = |a: &str, b: &str| format!("iifname {} oifname {} drop", port(a), port(b));
        match *self {
            Fault::Partition {
                alone,
                client_with_alone,
                ..
            } => {
                let (a, o) = Fault::sides(alone, client_with_alone);
                let mut v = Vec::new();
                for x in &a {
                    for y in &o {
                        v.push(drop(x, y));
                        v.push(drop(y, x));
                    }
                }
                v
            }
            Fault::Cut { from, to, .. } => (0..3)
                .filter(|&t| t != from && to.is_none_or(|x| x == t))
                .map(|t| drop(BOXES[from], BOXES[t]))
                .collect(),
            Fault::Loss { b, pct, .. } => {
                let boxes: Vec<usize> = b.map_or(vec![0, 1, 2], |b| vec![b]);
                let mut v = Vec::new();
                for i in boxes {
                    let p = port(BOXES[i]);
                    v.push(format!("iifname {p} numgen random mod 100 < {pct} drop"));
                    v.push(format!("oifname {p} numgen random mod 100 < {pct} drop"));
                }
                v
            }
            _ => Vec::new(),
        }
    }
}

/// A fault planned at `at` ms from its burst's start.
#[derive(Clone, Debug)]
struct Planned {
    at: u64,
    fault: Fault,
}

/// The whole schedule: bursts of faults, from the seed alone. The first
/// faults of a seed are the same whatever `n` is, so a longer run of the
/// same seed replays a shorter one and goes on.
fn schedule(seed: u64, n: usize) -> Vec<Vec<Planned>> {
    let mut r = Rng(seed);
    let mut bursts = Vec::new();
    let mut left = n;
    while left > 0 {
        let m = (r.range(1, 4) as usize).min(left);
        let mut burst: Vec<Planned> = Vec::new();
        let mut at = 0;
        for k in 0..m {
            if k > 0 {
                at += r.range(0, 1500);
            }
            // Bounded: a fault that clashes with one still on is drawn
            // again; network faults fit always.
            let mut fault = Fault::draw(&mut r);
            for _ in 0..50 {
                let clash = burst
                    .iter()
                    .any(|p| p.at + p.fault.length() >= at && !fault.fits_with(&p.fault));
                if !clash {
                    break;
                }
                fault = Fault::draw(&mut r);
            }
            if burst
                .iter()
                .any(|p| p.at + p.fault.length() >= at && !fault.fits_with(&p.fault))
            {
                fault = Fault::Loss {
                    b: None,
                    pct: 20,
                    ms: 1000,
                };
            }
            burst.push(Planned { at, fault });
        }
        left -= m;
        bursts.push(burst);
    }
    bursts
}

/// The client: TCP attempts to every vserver from the client namespace,
/// one per [`SLOT_MS`] each, recorded by slot: who answered.
struct Prober {
    /// Per vserver, per slot: [`PENDING`], [`FAILED`] or the box index
    /// ([`OTHER`] for an answer from no box).
    slots: Vec<Arc<Vec<AtomicI8>>>,
    /// Stopped and joined on drop.
    _threads: Threads,
}

const PENDING: i8 = -2;
const FAILED: i8 = -1;
const OTHER: i8 = 3;

impl Prober {
    /// Start probing `vips` from namespace `ns` with time base `t0`, for at
    /// most `limit`.
    fn start(ns: &str, vips: &[Ipv4Addr], t0: Instant, limit: Duration) -> Prober {
        let n = (ms(limit) / SLOT_MS) as usize;
        let mut threads = Threads::new();
        let mut slots = Vec::new();
        for &vip in vips {
            let line: Arc<Vec<AtomicI8>> =
                Arc::new((0..n).map(|_| AtomicI8::new(PENDING)).collect());
            let to = SocketAddr::V4(SocketAddrV4::new(vip, PORT));
            for w in 0..WORKERS as usize {
                let (stop, line) = (threads.flag(), line.clone());
                threads.push(spawn_in(ns, move || {
                    let mut slot = w;
                    while !stop.load(Ordering::Relaxed) && slot < line.len() {
                        let at = slot as u64 * SLOT_MS;
                        let now = ms(t0.elapsed());
                        if now < at {
                            std::thread::sleep(Duration::from_millis(at - now));
                        }
                        line[slot].store(attempt(to), Ordering::Relaxed);
                        slot += WORKERS as usize;
                    }
                }));
            }
            slots.push(line);
        }
        Prober {
            slots,
            _threads: threads,
        }
    }

    /// The outcome of slot `s` of vserver `v`.
    fn at(&self, v: usize, s: usize) -> i8 {
        self.slots[v]
            .get(s)
            .map_or(PENDING, |x| x.load(Ordering::Relaxed))
    }

    /// The first slot at or after `from` that starts [`STEADY`] answered
    /// attempts in a row for vserver `v`, if the client saw one yet.
    fn steady_from(&self, v: usize, from: usize) -> Option<usize> {
        let mut run = 0;
        let mut s = from;
        while s < self.slots[v].len() {
            match self.at(v, s) {
                PENDING => return None,
                FAILED => run = 0,
                _ => run += 1,
            }
            if run == STEADY {
                return Some(s + 1 - STEADY);
            }
            s += 1;
        }
        None
    }

    /// The longest run of unanswered attempts of vserver `v` between slots
    /// `from` and `to` that ended with an answer: (ms, the slot it began).
    fn longest_outage(&self, v: usize, from: usize, to: usize) -> (u64, usize) {
        let mut worst = (0, from);
        let mut began: Option<usize> = None;
        for s in from..to.min(self.slots[v].len()) {
            match self.at(v, s) {
                PENDING => break,
                FAILED => {
                    began.get_or_insert(s);
                }
                _ => {
                    if let Some(b) = began.take() {
                        let len = (s - b) as u64 * SLOT_MS;
                        if len > worst.0 {
                            worst = (len, b);
                        }
                    }
                }
            }
        }
        worst
    }

    /// Who answered vserver `v` from slot `from` to `to`, as runs: "f1
    /// 120..560ms, - 570..900ms, ...".
    fn story(&self, v: usize, from: usize, to: usize) -> String {
        let mut runs: Vec<(i8, usize, usize)> = Vec::new();
        for s in from..to.min(self.slots[v].len()) {
            let x = self.at(v, s);
            match runs.last_mut() {
                Some((y, _, e)) if *y == x => *e = s,
                _ => runs.push((x, s, s)),
            }
        }
        let name = |x: i8| match x {
            PENDING => "?",
            FAILED => "-",
            OTHER => "other",
            b => BOXES[b as usize],
        };
        runs.iter()
            .map(|&(x, b, e)| {
                format!(
                    "{} {}..{}ms",
                    name(x),
                    b as u64 * SLOT_MS,
                    e as u64 * SLOT_MS
                )
            })
            .collect::<Vec<_>>()
            .join(", ")
    }
}

/// One TCP attempt: connect, read the answering box's name.
fn attempt(to: SocketAddr) -> i8 {
    use std::io::Read;
    let Ok(mut s) = TcpStream::connect_timeout(&to, Duration::from_millis(100)) else {
        return FAILED;
    };
    if s.set_read_timeout(Some(Duration::from_millis(40))).is_err() {
        return FAILED;
    }
    let mut buf = [0u8; 16];
    match s.read(&mut buf) {
        Ok(n) if n > 0 => BOXES
            .iter()
            .position(|b| b.as_bytes() == &buf[..n])
            .map_or(OTHER, |i| i as i8),
        _ => FAILED,
    }
}

/// An rtnetlink socket opened in one box's namespace (a netlink socket
/// stays in the namespace it was made in), and that box's eth0 index.
struct Rtnl {
    fd: OwnedFd,
    eth0: u32,
    seq: u32,
}

// rtnetlink ABI (include/uapi/linux/netlink.h, rtnetlink.h, if_addr.h).
const NLMSG_ERROR: u16 = 2;
const NLMSG_DONE: u16 = 3;
const NLM_F_REQUEST: u16 = 0x1;
const NLM_F_DUMP: u16 = 0x300;
const RTM_NEWADDR: u16 = 20;
const RTM_GETADDR: u16 = 22;
const IFA_ADDRESS: u16 = 1;
const IFA_LOCAL: u16 = 2;

impl Rtnl {
    /// Open one inside namespace `ns`.
    fn open(ns: &str) -> Rtnl {
        run_in(ns, || {
            use nix::sys::socket::{
                bind, setsockopt, socket, sockopt, AddressFamily, NetlinkAddr, SockFlag,
                SockProtocol, SockType,
            };
            let fd = socket(
                AddressFamily::Netlink,
                SockType::Raw,
                SockFlag::SOCK_CLOEXEC,
                SockProtocol::NetlinkRoute,
            )
            .expect("netlink socket");
            bind(fd.as_raw_fd(), &NetlinkAddr::new(0, 0)).expect("bind netlink");
            let tv = nix::sys::time::TimeVal::new(0, 200_000);
            setsockopt(&fd, sockopt::ReceiveTimeout, &tv).expect("SO_RCVTIMEO");
            let eth0 = ifaddr::ifindex("eth0").expect("eth0 index");
            Rtnl { fd, eth0, seq: 0 }
        })
    }

    /// The IPv4 addresses on eth0 now (`RTM_GETADDR` dump).
    fn addresses(&mut self) -> Result<Vec<Ipv4Addr>, String> {
        use nix::sys::socket::{recv, send, MsgFlags};
        self.seq = self.seq.wrapping_add(1);
        let mut req = Vec::with_capacity(24);
        req.extend_from_slice(&24u32.to_ne_bytes());
        req.extend_from_slice(&RTM_GETADDR.to_ne_bytes());
        req.extend_from_slice(&(NLM_F_REQUEST | NLM_F_DUMP).to_ne_bytes());
        req.extend_from_slice(&self.seq.to_ne_bytes());
        req.extend_from_slice(&0u32.to_ne_bytes());
        // ifaddrmsg: family AF_INET, prefix, flags, scope, index 0 (all).
        req.extend_from_slice(&[libc::AF_INET as u8, 0, 0, 0, 0, 0, 0, 0]);
        send(self.fd.as_raw_fd(), &req, MsgFlags::empty()).map_err(|e| format!("send: {e}"))?;
        let mut out = Vec::new();
        let mut buf = vec![0u8; 32 * 1024];
        // Bounded: a dump of a box's few addresses is one or two reads.
        for _ in 0..64 {
            let n = recv(self.fd.as_raw_fd(), &mut buf, MsgFlags::empty())
                .map_err(|e| format!("recv: {e}"))?;
            let mut off = 0;
            while off + 16 <= n {
                let u32_at = |o: usize| u32::from_ne_bytes(buf[o..o + 4].try_into().unwrap());
                let u16_at = |o: usize| u16::from_ne_bytes(buf[o..o + 2].try_into().unwrap());
                let len = u32_at(off) as usize;
                let (kind, seq) = (u16_at(off + 4), u32_at(off + 8));
                if len < 16 || off + len > n {
                    return Err(format!("bad netlink length {len}"));
                }
                if seq == self.seq {
                    match kind {
                        NLMSG_DONE => return Ok(out),
                        NLMSG_ERROR => return Err("netlink error".into()),
                        RTM_NEWADDR if len >= 24 && u32_at(off + 20) == self.eth0 => {
                            out.extend(Rtnl::address(&buf[off + 24..off + len]));
                        }
                        _ => {}
                    }
                }
                off += (len + 3) & !3;
            }
        }
        Err("netlink dump did not end".into())
    }

    /// The address in one `RTM_NEWADDR`'s attributes (`IFA_LOCAL`, else
    /// `IFA_ADDRESS`).
    fn address(mut attrs: &[u8]) -> Option<Ipv4Addr> {
        let mut found = None;
        while attrs.len() >= 4 {
            let len = u16::from_ne_bytes([attrs[0], attrs[1]]) as usize;
            let kind = u16::from_ne_bytes([attrs[2], attrs[3]]);
            if len < 4 || len > attrs.len() {
                break;
            }
            if len == 8 && (kind == IFA_LOCAL || (kind == IFA_ADDRESS && found.is_none())) {
                found = Some(Ipv4Addr::new(attrs[4], attrs[5], attrs[6], attrs[7]));
            }
            attrs = &attrs[((len + 3) & !3).min(attrs.len())..];
        }
        found
    }
}

/// What the watcher saw.
#[derive(Default)]
struct Watched {
    /// (ms, per box: bit v set when the box holds vserver v), on change.
    changes: Vec<(u64, [u8; 3])>,
    /// Total ms during which two counted boxes held one address.
    duplicate_ms: u64,
    /// Total ms two boxes held one address where one was a hidden orphan
    /// (excused, as the simulator's invariant (b) excuses it).
    excused_ms: u64,
    /// Each time two or more boxes began to hold one address: (ms,
    /// vserver, boxes as bits).
    episodes: Vec<(u64, usize, u8)>,
    /// Readings that failed (the box's namespace busy or gone).
    errors: u64,
    /// The newest reading, counted boxes only.
    now: [u8; 3],
}

/// The watcher: which boxes hold each vserver address, every
/// [`WATCH_MS`], through rtnetlink.
struct Watcher {
    seen: Arc<Mutex<Watched>>,
    /// Boxes whose staged death is on: not counted (link down, and a real
    /// dead box's kernel is gone).
    dead: Arc<[AtomicBool; 3]>,
    /// Per box: faults that cut it off from both others now (a partition
    /// with it alone, its link down). Two holders count as a duplicate
    /// only when neither is cut off.
    apart: Arc<[AtomicU8; 3]>,
    /// Per box: 0 its daemon runs; 1 killed or frozen; 2 killed or frozen
    /// and cut off from both others at some instant since (a hidden
    /// orphan: no probe could see its kernel then, and the kernel keeps
    /// its addresses up to two lifetimes after the last renewal; the
    /// design's narrowing, docs/MODEL.md and the simulator's (b)).
    orphan: Arc<[AtomicU8; 3]>,
    /// Stopped and joined on drop.
    _threads: Threads,
}

impl Watcher {
    fn start(lan: &Lan, vips: Vec<Ipv4Addr>, t0: Instant, limit: Duration) -> Watcher {
        let mut socks: Vec<Rtnl> = BOXES.iter().map(|b| Rtnl::open(&lan.ns(b))).collect();
        let seen = Arc::new(Mutex::new(Watched::default()));
        let dead: Arc<[AtomicBool; 3]> = Arc::new(Default::default());
        let apart: Arc<[AtomicU8; 3]> = Arc::new(Default::default());
        let cut_off = apart.clone();
        let orphan: Arc<[AtomicU8; 3]> = Arc::new(Default::default());
        let orphans = orphan.clone();
        let mut threads = Threads::new();
        let (stop, out, gone) = (threads.flag(), seen.clone(), dead.clone());
        threads.push(std::thread::spawn(move || {
            let mut last_at = ms(t0.elapsed());
            let mut dup = vec![false; vips.len()];
            while !stop.load(Ordering::Relaxed) && t0.elapsed() < limit {
                let mut masks = [0u8; 3];
                let mut errors = 0;
                for (b, s) in socks.iter_mut().enumerate() {
                    match s.addresses() {
                        Ok(addrs) => {
                            for (v, vip) in vips.iter().enumerate() {
                                if addrs.contains(vip) {
                                    masks[b] |= 1 << v;
                                }
                            }
                        }
                        Err(_) => errors += 1,
                    }
                }
                let at = ms(t0.elapsed());
                let counted: [u8; 3] = std::array::from_fn(|b| {
                    if gone[b].load(Ordering::Relaxed) {
                        0
                    } else {
                        masks[b]
                    }
                });
                if let Ok(mut w) = out.lock() {
                    w.errors += errors;
                    if w.changes.last().map(|c| c.1) != Some(masks) {
                        w.changes.push((at, masks));
                    }
                    for (v, d) in dup.iter_mut().enumerate() {
                        let who = (0..3)
                            .filter(|&b| counted[b] & (1 << v) != 0)
                            .fold(0u8, |m, b| m | 1 << b);
                        let apart = (0..3)
                            .filter(|&b| cut_off[b].load(Ordering::Relaxed) > 0)
                            .fold(0u8, |m, b| m | 1 << b);
                        for b in 0..3 {
                            if apart & (1 << b) != 0 {
                                let _ = orphans[b].compare_exchange(
                                    1,
                                    2,
                                    Ordering::Relaxed,
                                    Ordering::Relaxed,
                                );
                            }
                        }
                        let hidden = (0..3)
                            .filter(|&b| orphans[b].load(Ordering::Relaxed) == 2)
                            .fold(0u8, |m, b| m | 1 << b);
                        let both = (who & !apart).count_ones() >= 2;
                        if both && who & hidden != 0 {
                            w.excused_ms += (at - last_at).clamp(1, 100);
                        }
                        let two = both && who & hidden == 0;
                        if two {
                            // A stalled reading counts at most 100 ms.
                            w.duplicate_ms += (at - last_at).clamp(1, 100);
                            if !*d {
                                w.episodes.push((at, v, who));
                            }
                        }
                        *d = two;
                    }
                    w.now = counted;
                }
                last_at = at;
                let next = at + WATCH_MS;
                let now = ms(t0.elapsed());
                if now < next {
                    std::thread::sleep(Duration::from_millis(next - now));
                }
            }
        }));
        Watcher {
            seen,
            dead,
            apart,
            orphan,
            _threads: threads,
        }
    }

    /// Box `b`'s daemon was killed or frozen (`true`), or runs again.
    fn set_orphan(&self, b: usize, orphan: bool) {
        self.orphan[b].store(u8::from(orphan), Ordering::Relaxed);
    }

    /// Box `b` is cut off from both others (`true`), or one such fault ended.
    fn set_apart(&self, b: usize, apart: bool) {
        if apart {
            self.apart[b].fetch_add(1, Ordering::Relaxed);
        } else {
            self.apart[b].fetch_sub(1, Ordering::Relaxed);
        }
    }

    fn set_dead(&self, b: usize, dead: bool) {
        self.dead[b].store(dead, Ordering::Relaxed);
    }

    fn with<T>(&self, f: impl FnOnce(&Watched) -> T) -> T {
        f(&self.seen.lock().expect("watcher"))
    }
}

/// A step of the schedule as it ran.
struct Ran {
    /// ms since the test's time base.
    at: u64,
    burst: usize,
    /// The fault's number in the whole schedule, from 1.
    fault: usize,
    what: String,
}

/// The run: the LAN and what watches it, the state the faults left, and
/// the log for a failure report. Fields drop in order: the client and the
/// watcher before the LAN whose namespaces they use.
struct Chaos {
    prober: Prober,
    watcher: Watcher,
    vips: Vec<(String, Ipv4Addr)>,
    t0: Instant,
    seed: u64,
    faults: usize,
    /// Daemons that should be running (not killed or stopped by the test).
    expected: [bool; 3],
    /// Daemons frozen by a pause, links taken down, nft tables on.
    paused: [bool; 3],
    link_down: [bool; 3],
    tables: Vec<String>,
    ran: Vec<Ran>,
    deaths: Vec<String>,
    failures: Vec<String>,
    /// Waits for a client whose ARP cache named an earlier holder.
    stale_arp: Vec<String>,
    /// How long the client's ARP cache may name an earlier holder (ms,
    /// [`arp_bound_ms`]).
    arp_bound: u64,
    /// When the burst under way began (ms).
    burst_start: u64,
    /// The slowest recovery: (ms, burst, when the burst was healed).
    slowest: (u64, usize, u64),
    lan: Lan,
}

impl Chaos {
    fn now(&self) -> u64 {
        ms(self.t0.elapsed())
    }

    fn note(&mut self, burst: usize, fault: usize, what: String) {
        let at = self.now();
        self.ran.push(Ran {
            at,
            burst,
            fault,
            what,
        });
    }

    /// Run an nft script in the switch namespace.
    fn nft(&self, script: &str) {
        let f = self.lan.dir().join("chaos.nft");
        std::fs::write(&f, script).expect("write nft rules");
        let sw = self.lan.ns("sw");
        sh(&["ip", "netns", "exec", &sw, "nft", "-f", f.to_str().unwrap()]);
    }

    /// Begin fault number `n` (its nft table is `chaosN`).
    fn begin(&mut self, k: usize, n: usize, f: &Fault) {
        match *f {
            Fault::Kill { b, .. } => {
                self.expected[b] = false;
                self.lan.kill9(b);
                self.watcher.set_orphan(b, true);
            }
            Fault::Pause { b, .. } => {
                self.lan.signal(b, Signal::SIGSTOP);
                self.paused[b] = true;
                self.watcher.set_orphan(b, true);
            }
            Fault::Death { b, .. } => {
                self.watcher.set_dead(b, true);
                self.expected[b] = false;
                self.lan.kill9(b);
                self.lan.link_down(BOXES[b]);
                self.link_down[b] = true;
            }
            Fault::Flap { b, .. } => {
                self.lan.link_down(BOXES[b]);
                self.link_down[b] = true;
                self.watcher.set_apart(b, true);
            }
            Fault::Partition { .. } | Fault::Cut { .. } | Fault::Loss { .. } => {
                let table = format!("chaos{n}");
                let mut s = format!(
                    "table bridge {table} {{\n  chain cut {{\n    type filter hook forward priority 0; policy accept;\n"
                );
                for r in f.rules() {
                    s += &format!("    {r}\n");
                }
                s += "  }\n}\n";
                self.nft(&s);
                self.tables.push(table);
                if let Fault::Partition { alone, .. } = *f {
                    self.watcher.set_apart(alone, true);
                }
            }
            Fault::Restart { b } => {
                self.expected[b] = false;
                let t = Instant::now();
                if !self.lan.stop_gracefully(b, graceful_limit()) {
                    self.failures.push(format!(
                        "graceful stop of {} did not end within {} ms",
                        BOXES[b],
                        ms(graceful_limit())
                    ));
                    self.lan.kill9(b);
                }
                let took = ms(t.elapsed());
                self.lan.start(b);
                self.expected[b] = true;
                self.note(
                    k,
                    n,
                    format!("  ({} exited after {took}ms, started)", BOXES[b]),
                );
            }
        }
    }

    /// End fault number `n`.
    fn end(&mut self, n: usize, f: &Fault) {
        match *f {
            Fault::Kill { b, .. } => {
                self.lan.start(b);
                self.expected[b] = true;
                self.watcher.set_orphan(b, false);
            }
            Fault::Pause { b, .. } => {
                self.lan.signal(b, Signal::SIGCONT);
                self.paused[b] = false;
                self.watcher.set_orphan(b, false);
            }
            Fault::Death { b, .. } => {
                self.lan.link_up(BOXES[b]);
                self.link_down[b] = false;
                self.watcher.set_dead(b, false);
                self.lan.start(b);
                self.expected[b] = true;
            }
            Fault::Flap { b, .. } => {
                self.watcher.set_apart(b, false);
                self.lan.link_up(BOXES[b]);
                self.link_down[b] = false;
            }
            Fault::Partition { .. } | Fault::Cut { .. } | Fault::Loss { .. } => {
                if let Fault::Partition { alone, .. } = *f {
                    self.watcher.set_apart(alone, false);
                }
                let table = format!("chaos{n}");
                let sw = self.lan.ns("sw");
                sh(&[
                    "ip", "netns", "exec", &sw, "nft", "delete", "table", "bridge", &table,
                ]);
                self.tables.retain(|t| *t != table);
            }
            Fault::Restart { .. } => {}
        }
    }

    /// The invariants, now: no daemon dead that should run, no address on
    /// two boxes. Anything found goes to `failures`.
    fn check(&mut self) {
        for (b, name) in BOXES.iter().enumerate() {
            if self.expected[b] && !self.lan.running(b) {
                let at = self.now();
                self.deaths
                    .push(format!("daemon {name} died (seen at {at}ms)"));
                self.expected[b] = false;
            }
        }
        let seen = self.watcher.with(|w| w.episodes.len());
        let reported = self
            .failures
            .iter()
            .filter(|f| f.starts_with("two boxes"))
            .count();
        if seen > reported {
            let new: Vec<(u64, usize, u8)> = self.watcher.with(|w| w.episodes[reported..].to_vec());
            for (at, v, who) in new {
                let boxes: Vec<&str> = (0..3)
                    .filter(|&b| who & (1 << b) != 0)
                    .map(|b| BOXES[b])
                    .collect();
                self.failures.push(format!(
                    "two boxes held {} ({}) at {at}ms: {boxes:?}",
                    self.vips[v].0, self.vips[v].1
                ));
            }
        }
    }

    fn failed(&self) -> bool {
        !self.failures.is_empty() || !self.deaths.is_empty()
    }

    /// Wait until `until` (ms), checking every 20 ms; false on a failure.
    fn wait_until(&mut self, until: u64) -> bool {
        // Bounded by `until`.
        loop {
            self.check();
            if self.failed() {
                return false;
            }
            let now = self.now();
            if now >= until {
                return true;
            }
            std::thread::sleep(Duration::from_millis((until - now).min(20)));
        }
    }

    /// Run one burst: its faults' begin and end steps in time order. The
    /// first fault's number is `first`.
    fn burst(&mut self, k: usize, first: usize, burst: &[Planned]) -> bool {
        let start = self.now();
        self.burst_start = start;
        let mut steps: Vec<(u64, bool, usize)> = Vec::new();
        for (i, p) in burst.iter().enumerate() {
            steps.push((p.at, true, i));
            if !matches!(p.fault, Fault::Restart { .. }) {
                steps.push((p.at + p.fault.length(), false, i));
            }
        }
        // Begins before ends at one instant (a kill with a restart after
        // 0 ms), then in fault order.
        steps.sort_by_key(|&(at, begin, i)| (at, !begin, i));
        // When each fault really began: a step that runs late (a slow
        // machine) must not shorten the fault it ends (a box death must
        // outlast two alias lifetimes).
        let mut began = vec![start; burst.len()];
        for (at, begin, i) in steps {
            let due = if begin {
                start + at
            } else {
                (start + at).max(began[i] + burst[i].fault.length())
            };
            if !self.wait_until(due) {
                return false;
            }
            let n = first + i;
            let f = burst[i].fault.clone();
            let what = if begin {
                format!("begin {f}")
            } else {
                format!("end   {f}")
            };
            self.note(k, n, what);
            let t = Instant::now();
            if begin {
                began[i] = self.now();
                self.begin(k, n, &f);
            } else {
                self.end(n, &f);
            }
            let took = ms(t.elapsed());
            if took > 1000 {
                self.note(k, n, format!("  (that step took {took}ms)"));
            }
            self.check();
            if self.failed() {
                return false;
            }
        }
        true
    }

    /// After a burst: wait until every vserver is served again, at most
    /// [`recovery_bound_ms`]; (how long it took, when the burst was
    /// healed).
    ///
    /// Served by the cluster: one box holds the address and answers a
    /// connection from a host that asks ARP afresh (the original host,
    /// its neighbour entry flushed before each try), or the client saw
    /// [`STEADY`] answers in a row. The client itself, whose ARP cache may
    /// still name a box that held the address before (the new holder's
    /// gratuitous ARPs lost behind a fault), must be served within its
    /// own cache's bound after that ([`Chaos::arp_bound`]); such a wait is
    /// counted in `stale_arp` and reported, not failed.
    fn recover(&mut self, k: usize) -> Option<(u64, u64)> {
        let end = self.now();
        let from = (end / SLOT_MS) as usize + 1;
        let bound = recovery_bound_ms();
        let nv = self.vips.len();
        // When each vserver was first seen served by the cluster, and the
        // client's ARP entry then (when the client was not served yet).
        let mut cluster: Vec<Option<(u64, Option<String>)>> = vec![None; nv];
        // The client's ARP entry for each, as it changed while the cluster
        // served and the client was not: (ms, entry).
        let mut arp_seen: Vec<Vec<(u64, String)>> = vec![Vec::new(); nv];
        let mut next_look = vec![0u64; nv];
        // Bounded: by `bound`, then by `arp_bound` after the cluster serves.
        loop {
            self.check();
            if self.failed() {
                return None;
            }
            let now = self.now();
            let holders: Vec<Option<usize>> = self.watcher.with(|w| {
                (0..nv)
                    .map(|v| {
                        let who: Vec<usize> =
                            (0..3).filter(|&b| w.now[b] & (1 << v) != 0).collect();
                        (who.len() == 1).then(|| who[0])
                    })
                    .collect()
            });
            let steady: Vec<Option<usize>> =
                (0..nv).map(|v| self.prober.steady_from(v, from)).collect();
            for v in 0..nv {
                if cluster[v].is_some() {
                    continue;
                }
                if let Some(s) = steady[v] {
                    cluster[v] = Some(((s as u64 * SLOT_MS).max(end), None));
                } else if let Some(h) = holders[v] {
                    if self.fresh_attempt(v) == h as i8 {
                        let entry = self.client_arp(v);
                        cluster[v] = Some((self.now(), Some(entry)));
                    }
                }
            }
            for v in 0..nv {
                let waiting = matches!(cluster[v], Some((_, Some(_)))) && steady[v].is_none();
                if waiting && now >= next_look[v] {
                    let e = self.client_arp(v);
                    if arp_seen[v].last().map(|x| &x.1) != Some(&e) {
                        arp_seen[v].push((now, e));
                    }
                    next_look[v] = now + 500;
                }
            }
            if holders.iter().all(Option::is_some) && steady.iter().all(Option::is_some) {
                let mut took = 0;
                for v in 0..nv {
                    let client_at = (steady[v].unwrap_or(from) as u64 * SLOT_MS).max(end);
                    let (at, entry) = cluster[v].clone().unwrap_or((client_at, None));
                    took = took.max(at.min(client_at) - end);
                    if let Some(entry) = entry.filter(|_| client_at > at + 1000) {
                        let seen: Vec<String> = arp_seen[v]
                            .iter()
                            .map(|(t, e)| format!("{t}ms {e}"))
                            .collect();
                        self.stale_arp.push(format!(
                            "burst {k}: {} served by the cluster at {at}ms, by the client only at \
                             {client_at}ms (its ARP entry then: {entry}; as it changed: {}); \
                             the burst: {}",
                            self.vips[v].0,
                            seen.join(", "),
                            self.burst_faults(k)
                        ));
                    }
                }
                return Some((took, end));
            }
            for v in 0..nv {
                let late = match &cluster[v] {
                    None => now > end + bound,
                    Some((at, _)) => steady[v].is_none() && now > at + self.arp_bound,
                };
                if !late {
                    continue;
                }
                let why = match &cluster[v] {
                    None => format!("not served {bound}ms after burst {k} was healed (at {end}ms)"),
                    Some((at, entry)) => format!(
                        "served by the cluster at {at}ms after burst {k}, but not to the client \
                         {}ms later (its ARP entry then: {})",
                        self.arp_bound,
                        entry.as_deref().unwrap_or("?")
                    ),
                };
                self.failures.push(format!(
                    "{} {why}; holders {:?}; client: {}",
                    self.vips[v].0,
                    holders[v].map(|b| BOXES[b]),
                    self.prober.story(v, from, (now / SLOT_MS) as usize)
                ));
            }
            if self.failed() {
                return None;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// The faults of burst `k`, as they began.
    fn burst_faults(&self, k: usize) -> String {
        let began: Vec<&str> = self
            .ran
            .iter()
            .filter(|r| r.burst == k)
            .filter_map(|r| r.what.strip_prefix("begin "))
            .collect();
        began.join("; ")
    }

    /// One connection to vserver `v` from the original host's namespace
    /// with its ARP entry for the address flushed first: who answered.
    fn fresh_attempt(&self, v: usize) -> i8 {
        let (ns, vip) = (self.lan.ns("or"), self.vips[v].1);
        let _ = std::process::Command::new("ip")
            .args(["-n", &ns, "neigh", "flush", "to", &vip.to_string()])
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .status();
        run_in(&ns, move || {
            attempt(SocketAddr::V4(SocketAddrV4::new(vip, PORT)))
        })
    }

    /// The client's ARP entry for vserver `v`'s address, with the name of
    /// the host whose MAC it holds.
    fn client_arp(&self, v: usize) -> String {
        let vip = self.vips[v].1.to_string();
        let out = std::process::Command::new("ip")
            .args(["-n", &self.lan.ns("cl"), "neigh", "show", &vip])
            .output()
            .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned())
            .unwrap_or_default();
        let who = self
            .lan
            .macs()
            .into_iter()
            .find(|(m, _)| {
                let s = m
                    .iter()
                    .map(|b| format!("{b:02x}"))
                    .collect::<Vec<_>>()
                    .join(":");
                out.contains(&s)
            })
            .map_or("nobody".to_owned(), |(_, n)| n);
        format!("{out} = {who}")
    }

    /// Undo every fault still on (after a failure), so the daemons can be
    /// asked for their status.
    fn heal_all(&mut self) {
        for (b, name) in BOXES.iter().enumerate() {
            if self.paused[b] {
                self.lan.signal(b, Signal::SIGCONT);
                self.paused[b] = false;
            }
            if self.link_down[b] {
                self.lan.link_up(name);
                self.link_down[b] = false;
            }
        }
        let sw = self.lan.ns("sw");
        for t in std::mem::take(&mut self.tables) {
            sh(&[
                "ip", "netns", "exec", &sw, "nft", "delete", "table", "bridge", &t,
            ]);
        }
    }

    /// The result line.
    fn line(&self, faults: usize, max_outage: u64) -> String {
        let (dup, excused) = self.watcher.with(|w| (w.duplicate_ms, w.excused_ms));
        format!(
            "chaos: faults={faults} duplicate_ms={dup} max_outage_ms={max_outage} daemon_deaths={} excused_orphan_ms={excused}",
            self.deaths.len()
        )
    }

    /// The longest outage of any vserver from `from` ms to now: (ms,
    /// vserver, when it began).
    fn max_outage(&self, from: u64) -> (u64, usize, u64) {
        let (a, b) = ((from / SLOT_MS) as usize, (self.now() / SLOT_MS) as usize);
        (0..self.vips.len())
            .map(|v| {
                let (len, s) = self.prober.longest_outage(v, a, b);
                (len, v, s as u64 * SLOT_MS)
            })
            .max()
            .unwrap_or((0, 0, 0))
    }

    /// Everything a person needs to replay and read a failure.
    /// What the watcher, the client and the daemons' log saw is shown from
    /// `since` ms on.
    fn report(&mut self, faults_done: usize, measured_from: u64, since: u64) -> String {
        self.heal_all();
        let (out, _, _) = self.max_outage(measured_from);
        let mut s = format!(
            "\n{}\nseed {} (replay: make chaos CHAOS_SEED={} CHAOS_FAULTS={})\n",
            self.line(faults_done, out),
            self.seed,
            self.seed,
            self.faults
        );
        s += "--- failures ---\n";
        for f in self.deaths.iter().chain(&self.failures) {
            s += &format!("  {f}\n");
        }
        for f in &self.stale_arp {
            s += &format!("  (not a failure) stale client ARP: {f}\n");
        }
        s += "--- schedule as it ran (ms since start, burst, fault) ---\n";
        for r in &self.ran {
            s += &format!(
                "  {:>8}ms  b{:<3} #{:<4} {}\n",
                r.at, r.burst, r.fault, r.what
            );
        }
        let now = self.now();
        s += &format!("--- who held what, from {since}ms (watcher) ---\n");
        self.watcher.with(|w| {
            let start = w.changes.iter().rposition(|c| c.0 <= since).unwrap_or(0);
            for (at, m) in &w.changes[start..] {
                let held: Vec<String> = (0..self.vips.len())
                    .map(|v| {
                        let who: Vec<&str> = (0..3)
                            .filter(|&b| m[b] & (1 << v) != 0)
                            .map(|b| BOXES[b])
                            .collect();
                        format!("{}={}", self.vips[v].0, who.join("+"))
                    })
                    .collect();
                s += &format!("  {at:>8}ms {}\n", held.join(" "));
            }
            s += &format!("  (readings failed: {})\n", w.errors);
        });
        s += &format!("--- client, from {since}ms ---\n");
        let (a, b) = ((since / SLOT_MS) as usize, (now / SLOT_MS) as usize);
        for v in 0..self.vips.len() {
            s += &format!("  {}: {}\n", self.vips[v].0, self.prober.story(v, a, b));
        }
        for (b, name) in BOXES.iter().enumerate() {
            if self.expected[b] {
                s += &format!("--- status {name} ---\n{}", self.lan.status(b));
            }
        }
        // The log sink started with the time base, within a few ms.
        s += &format!("--- daemons' log from {since}ms (at most {REPORT_LINES} lines) ---\n");
        let lines: Vec<String> = self
            .lan
            .log_tail(usize::MAX)
            .into_iter()
            .filter(|l| stamp(l) >= since)
            .collect();
        for l in &lines[lines.len().saturating_sub(REPORT_LINES)..] {
            s += l;
            s += "\n";
        }
        s
    }
}

/// `CHAOS_FAULTS`, or the short default.
fn faults_from_env() -> usize {
    match std::env::var("CHAOS_FAULTS") {
        Ok(s) if !s.trim().is_empty() => s.trim().parse().expect("CHAOS_FAULTS: a number"),
        _ => DEFAULT_FAULTS,
    }
}

/// `CHAOS_SEED`, or a fresh one from the clock and the pid.
fn seed_from_env() -> u64 {
    match std::env::var("CHAOS_SEED") {
        Ok(s) if !s.trim().is_empty() => s.trim().parse().expect("CHAOS_SEED: a number"),
        _ => {
            let t = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_nanos() as u64)
                .unwrap_or(0);
            (t ^ (u64::from(std::process::id()) << 20)) % 1_000_000_000
        }
    }
}

#[test]
fn chaos_never_two_holders_and_every_vserver_served_after() {
    let name = "chaos_never_two_holders_and_every_vserver_served_after";
    if !root_or_skip(name) || !nft_or_skip(name) {
        return;
    }
    let (faults, seed) = (faults_from_env(), seed_from_env());
    say(&format!(
        "chaos: seed={seed} faults={faults} (replay: make chaos CHAOS_SEED={seed} CHAOS_FAULTS={faults})"
    ));
    let plan = schedule(seed, faults);
    // The time base of the client, the watcher, the schedule and (within a
    // few ms: its sink starts first thing in `Lan::new`) the daemons' log.
    let t0 = Instant::now();
    let mut lan = Lan::new(
        K,
        Opts {
            hello: None,
            vserver_extra: Vec::new(),
            service: None,
            ipv6: false,
            ipv6_only: false,
        },
    );
    for v in MORE_VSERVERS {
        lan.add_vserver(v);
    }
    // The three boxes share one kernel, so one load average: on a busy
    // machine its load put all three on hold at once (health 0) and
    // nobody took a dead holder's vservers. Health from load and memory is
    // off; the faults are the test's own.
    lan.add_line("max-load-percent none");
    lan.add_line("min-free-memory none");
    let vips = lan.vservers();
    let arp_bound = arp_bound_ms(&lan.ns("cl"));
    // The whole run is bounded: per burst its faults (at most 4 x 5 s
    // after a 4.5 s spread), a graceful stop's wait per fault, the
    // recovery bound, the client's ARP bound and the quiet; plus the cold
    // start. The client and the watcher stop at that limit.
    let per_burst = 10_000 + 4 * ms(graceful_limit()) + recovery_bound_ms() + arp_bound + QUIET_MS;
    let limit = Duration::from_millis(ms(COLD_START) + 10_000 + plan.len() as u64 * per_burst);
    let addrs: Vec<Ipv4Addr> = vips.iter().map(|v| v.1).collect();
    let prober = Prober::start(&lan.ns("cl"), &addrs, t0, limit);
    let watcher = Watcher::start(&lan, addrs, t0, limit);
    lan.start_all();
    let mut c = Chaos {
        prober,
        watcher,
        vips,
        t0,
        seed,
        faults,
        expected: [true; 3],
        paused: [false; 3],
        link_down: [false; 3],
        tables: Vec::new(),
        ran: Vec::new(),
        deaths: Vec::new(),
        failures: Vec::new(),
        slowest: (0, 0, 0),
        burst_start: 0,
        stale_arp: Vec::new(),
        arp_bound,
        lan,
    };

    // Cold start: every vserver served, by one box each.
    let cold = Instant::now();
    let served = loop {
        c.check();
        let all = (0..c.vips.len()).all(|v| c.prober.steady_from(v, 0).is_some());
        let one_each = c.watcher.with(|w| {
            (0..c.vips.len()).all(|v| (0..3).filter(|&b| w.now[b] & (1 << v) != 0).count() == 1)
        });
        if (all && one_each) || c.failed() || cold.elapsed() > COLD_START {
            break all && one_each && !c.failed();
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    if !served {
        c.failures.push(format!(
            "cold start: not every vserver served within {}s",
            COLD_START.as_secs()
        ));
        let r = c.report(0, 0, 0);
        panic!("{r}");
    }
    std::thread::sleep(Duration::from_millis(500));
    let measured_from = c.now();

    let mut done = 0;
    for (k, burst) in plan.iter().enumerate() {
        let ok = c.burst(k + 1, done + 1, burst);
        done += burst.len();
        let healed = ok
            && match c.recover(k + 1) {
                Some((took, healed_at)) => {
                    c.slowest = c.slowest.max((took, k + 1, healed_at));
                    true
                }
                None => false,
            };
        if !healed || !c.wait_until(c.now() + QUIET_MS) {
            let since = c.burst_start.saturating_sub(2000);
            let r = c.report(done, measured_from, since);
            say(r.lines().nth(1).unwrap_or(""));
            panic!("{r}");
        }
    }

    let (outage, v, when) = c.max_outage(measured_from);
    say(&c.line(done, outage));
    let longest = if outage > 0 {
        format!("{} at {when}ms", c.vips[v].0)
    } else {
        "none".to_owned()
    };
    say(&format!(
        "chaos: seed={seed} bursts={} max_recovery_ms={} (bound {}ms) stale_client_arp={} (bound {}ms) longest outage: {longest}; ran {}s",
        plan.len(),
        c.slowest.0,
        recovery_bound_ms(),
        c.stale_arp.len(),
        c.arp_bound,
        c.now() / 1000
    ));
    for s in &c.stale_arp {
        say(&format!("chaos: stale client ARP: {s}"));
    }
    let (took, k, healed_at) = c.slowest;
    if took > 0 {
        say(&format!(
            "chaos: slowest recovery {took}ms after burst {k}, healed at {healed_at}ms:"
        ));
        for r in c.ran.iter().filter(|r| r.burst == k) {
            say(&format!("  {:>8}ms  #{:<4} {}", r.at, r.fault, r.what));
        }
    }
    if std::env::var_os("CHAOS_VERBOSE").is_some() {
        let since = c
            .ran
            .iter()
            .find(|r| r.burst == k)
            .map_or(0, |r| r.at.saturating_sub(2000));
        let r = c.report(done, measured_from, since);
        say(&r);
    }
}
