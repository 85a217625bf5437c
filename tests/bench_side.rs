//! Side by side (issue 13): bongoyo and keepalived on the same namespace
//! LAN (`common::lan`: a switch, boxes f1 f2 f3, a client), with equal
//! settings, under the faults of `tests/net_failover.rs`, and what each
//! costs while idle. `make bench` runs it; `cargo test` skips it (it takes
//! many minutes) unless `BENCH_SIDE=1`.
//!
//! Equal settings, one vserver address 10.81.200.50/24 on eth0 and no
//! service check on either side (bongoyo `service none`, its default;
//! keepalived without a `track_script`):
//!
//! - bongoyo: `hello H`, `dead` its default 3 x H, f1 priority 200, f2 and
//!   f3 the default; no `prefer`, so a box never takes a vserver back;
//! - keepalived: VRRPv3, `advert_int H`, priorities 200/100/100, every
//!   instance `state BACKUP` with `nopreempt` (the same no-take-back rule;
//!   its master-down interval is 3 x H plus a skew of (256 - priority) /
//!   256 x H), `-P` (VRRP only), its own config and pid files per box.
//!
//! Faults, on the box the client is served by, half a second (plus two
//! heartbeats) after it was served steadily:
//!
//! - `death`: the daemon killed -9 and the box's link down at once;
//! - `kill9`: the daemon killed -9, the box stays up (keepalived: its
//!   parent stopped first so it cannot respawn the VRRP child, then every
//!   process killed); watched for 5 s + 5 x H;
//! - `pause`: every process of the daemon stopped for 5 s, then continued;
//!   watched 3 s + 5 x H more;
//! - `graceful`: SIGTERM.
//!
//! Per run: the client's outage (a TCP connect to the address every 10
//! ms; from the last answered attempt before the fault to the first after)
//! and the time with two holders (a watcher thread in each box's namespace
//! lists the box's addresses every 5 ms; a box whose link is down holds
//! nothing; "open" when two still hold at the end of the watch), and two
//! MACs answering the client's ARP probes (every 50 ms).
//!
//! Knobs (environment): `BENCH_RUNS` (10), `BENCH_HELLOS` in ms (20,100,1000),
//! `BENCH_DAEMONS` (bongoyo,keepalived), `BENCH_FAULTS`
//! (death,kill9,pause,graceful), `BENCH_IDLE_SECS` (60; 0 skips the idle
//! figures), `BENCH_IDLE_HELLOS` (100,20), `BENCH_SCALE` (3,8,32: idle
//! clusters of that many boxes on one switch; empty skips them),
//! `BENCH_SCALE_SECS` (30), `BENCH_SCALE_HELLO` (100), `BENCH_BONGOYO` (the binary;
//! default the test build, `make bench` passes the release one),
//! `BENCH_OUT` (bench-results). Writes `side-raw.txt`, `side-summary.md`,
//! `side-plot.dat`, `side-plot.gp` and (with gnuplot) `side-outage.png`.
//!
//! Namespaces are `bgy<pid>-k200-*` (and `-k201-*` for the many-box
//! clusters), removed by name when a run ends, and
//! every process is killed by pid; every wait is bounded.

mod common;

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::net::Ipv4Addr;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bongoyo::os::ifaddr;
use common::daemon::{Daemon, TempDir, BIN};
use common::lan::{Lan, Opts, BOXES};
use common::netns::{
    eventually, eventually_every, has_addr, root_or_skip, spawn_in, Netns, Threads,
};
use nix::sys::signal::Signal;
use nix::unistd::Pid;

/// The LAN's third octet: 10.81.200.0/24, namespaces `bgy<pid>-k200-*`.
const K: u8 = 200;
/// The client's interval between TCP connects.
const SLOT_MS: u64 = 10;
/// Consecutive answered connects (x [`SLOT_MS`]) that count as served.
const STEADY: usize = 20;
/// The watcher's interval between looks at a box's addresses.
const WATCH_MS: u64 = 5;
/// How long a paused daemon stays stopped.
const PAUSE_MS: u64 = 5000;

/// The daemons compared.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Kind {
    Bongoyo,
    Keepalived,
}

impl Kind {
    fn name(self) -> &'static str {
        match self {
            Kind::Bongoyo => "bongoyo",
            Kind::Keepalived => "keepalived",
        }
    }

    fn parse(s: &str) -> Option<Kind> {
        [Kind::Bongoyo, Kind::Keepalived]
            .into_iter()
            .find(|k| k.name() == s)
    }
}

/// The faults, in the order of the tables.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Fault {
    Death,
    Kill9,
    Pause,
    Graceful,
}

impl Fault {
    fn name(self) -> &'static str {
        match self {
            Fault::Death => "death",
            Fault::Kill9 => "kill9",
            Fault::Pause => "pause",
            Fault::Graceful => "graceful",
        }
    }

    fn parse(s: &str) -> Option<Fault> {
        [Fault::Death, Fault::Kill9, Fault::Pause, Fault::Graceful]
            .into_iter()
            .find(|f| f.name() == s)
    }
}

/// What one run is asked to do, from the environment.
struct Bench {
    runs: usize,
    hellos: Vec<u64>,
    kinds: Vec<Kind>,
    faults: Vec<Fault>,
    idle_secs: u64,
    idle_hellos: Vec<u64>,
    scale: Vec<usize>,
    scale_secs: u64,
    scale_hello: u64,
    bongoyo: String,
    out: PathBuf,
}

fn env_or(name: &str, default: &str) -> String {
    std::env::var(name).unwrap_or_else(|_| default.to_owned())
}

fn list<T>(s: &str, parse: impl Fn(&str) -> Option<T>) -> Vec<T> {
    s.split(',')
        .map(str::trim)
        .filter(|x| !x.is_empty())
        .map(|x| parse(x).unwrap_or_else(|| panic!("unknown value {x:?}")))
        .collect()
}

impl Bench {
    fn from_env() -> Bench {
        Bench {
            runs: env_or("BENCH_RUNS", "10").parse().expect("BENCH_RUNS"),
            hellos: list(&env_or("BENCH_HELLOS", "20,100,1000"), |x| x.parse().ok()),
            kinds: list(&env_or("BENCH_DAEMONS", "bongoyo,keepalived"), Kind::parse),
            faults: list(
                &env_or("BENCH_FAULTS", "death,kill9,pause,graceful"),
                Fault::parse,
            ),
            idle_secs: env_or("BENCH_IDLE_SECS", "60")
                .parse()
                .expect("BENCH_IDLE_SECS"),
            idle_hellos: list(&env_or("BENCH_IDLE_HELLOS", "100,20"), |x| x.parse().ok()),
            scale: list(&env_or("BENCH_SCALE", "3,8,32"), |x| x.parse().ok()),
            scale_secs: env_or("BENCH_SCALE_SECS", "30")
                .parse()
                .expect("BENCH_SCALE_SECS"),
            scale_hello: env_or("BENCH_SCALE_HELLO", "100")
                .parse()
                .expect("BENCH_SCALE_HELLO"),
            bongoyo: env_or("BENCH_BONGOYO", BIN),
            out: PathBuf::from(env_or("BENCH_OUT", "bench-results")),
        }
    }
}

/// `H` as the daemons' configurations write it.
fn duration_text(ms: u64) -> String {
    if ms % 1000 == 0 {
        format!("{}s", ms / 1000)
    } else {
        format!("{ms}ms")
    }
}

// ---------------------------------------------------------------------
// Processes

/// Pid → parent pid of every process now.
fn process_parents() -> Vec<(u32, u32)> {
    let mut v = Vec::new();
    let Ok(dir) = std::fs::read_dir("/proc") else {
        return v;
    };
    for e in dir.flatten() {
        let Some(pid) = e.file_name().to_str().and_then(|s| s.parse::<u32>().ok()) else {
            continue;
        };
        if let Some(f) = stat_fields(pid) {
            if let Some(pp) = f.get(1).and_then(|x| x.parse().ok()) {
                v.push((pid, pp));
            }
        }
    }
    v
}

/// The fields of /proc/PID/stat after the command name: state first
/// (field 3 of proc(5) at index 0).
fn stat_fields(pid: u32) -> Option<Vec<String>> {
    let s = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let rest = &s[s.rfind(')')? + 2..];
    Some(rest.split_whitespace().map(str::to_owned).collect())
}

/// `pid` and every process descended from it.
fn tree(pid: u32) -> Vec<u32> {
    let parents = process_parents();
    let mut out = vec![pid];
    let mut k = 0;
    // Bounded by the number of processes.
    while k < out.len() && k < parents.len() + 1 {
        let p = out[k];
        out.extend(parents.iter().filter(|(_, pp)| *pp == p).map(|(c, _)| *c));
        k += 1;
    }
    out
}

/// utime + stime of `pid`, in clock ticks.
fn cpu_ticks(pid: u32) -> u64 {
    stat_fields(pid)
        .map(|f| {
            // utime and stime are fields 14 and 15 of proc(5).
            f.get(11).and_then(|x| x.parse::<u64>().ok()).unwrap_or(0)
                + f.get(12).and_then(|x| x.parse::<u64>().ok()).unwrap_or(0)
        })
        .unwrap_or(0)
}

/// A line `Key: N kB` of /proc/PID/status, in KiB.
fn status_kib(pid: u32, key: &str) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with(key))
                .and_then(|l| l.split_whitespace().nth(1)?.parse().ok())
        })
        .unwrap_or(0)
}

/// Packets sent on eth0 in `pid`'s network namespace (/proc/PID/net/dev):
/// an idle box's cluster traffic, gratuitous ARP included. (Ip
/// OutRequests misses keepalived's adverts, sent with their own IP header.)
fn eth0_tx_packets(pid: u32) -> u64 {
    let Ok(s) = std::fs::read_to_string(format!("/proc/{pid}/net/dev")) else {
        return 0;
    };
    s.lines()
        .find_map(|l| l.trim().strip_prefix("eth0:"))
        // Eight receive fields, then transmit bytes and packets.
        .and_then(|rest| rest.split_whitespace().nth(9)?.parse().ok())
        .unwrap_or(0)
}

fn signal(pid: u32, sig: Signal) {
    let _ = nix::sys::signal::kill(Pid::from_raw(pid as i32), sig);
}

/// A keepalived.conf: one VRRPv3 instance for `vip`/24 on eth0, every
/// box `state BACKUP` and `nopreempt`, `advert_int` the heartbeat.
fn keepalived_conf(name: &str, prio: u8, hello_ms: u64, vip: Ipv4Addr) -> String {
    let advert = hello_ms as f64 / 1000.0;
    format!(
        "global_defs {{\n\
         \x20   router_id {name}\n\
         \x20   vrrp_version 3\n\
         }}\n\
         vrrp_instance web {{\n\
         \x20   state BACKUP\n\
         \x20   interface eth0\n\
         \x20   virtual_router_id 51\n\
         \x20   priority {prio}\n\
         \x20   advert_int {advert}\n\
         \x20   nopreempt\n\
         \x20   virtual_ipaddress {{\n\
         \x20       {vip}/24 dev eth0\n\
         \x20   }}\n\
         }}\n"
    )
}

/// The argv of keepalived for box `name` with its files in `dir`:
/// foreground, console log, VRRP only, its own config and pid files.
fn keepalived_argv(dir: &Path, name: &str) -> Vec<String> {
    let path = |f: String| dir.join(f).display().to_string();
    vec![
        "keepalived".to_owned(),
        "-n".into(),
        "-l".into(),
        "-D".into(),
        "-G".into(),
        "-P".into(),
        "-f".into(),
        path(format!("{name}.keepalived.conf")),
        "-p".into(),
        path(format!("{name}.keepalived.pid")),
        "-r".into(),
        path(format!("{name}.vrrp.pid")),
    ]
}

/// The argv of bongoyo for box `name` with its files in `dir`.
fn bongoyo_argv(bin: &str, conf: &Path, name: &str, sock: &Path) -> Vec<String> {
    vec![
        bin.to_owned(),
        "run".into(),
        "-f".into(),
        "-c".into(),
        conf.display().to_string(),
        "-n".into(),
        name.into(),
        "-s".into(),
        sock.display().to_string(),
    ]
}

// ---------------------------------------------------------------------
// A cluster of one kind on the LAN

/// The LAN with three daemons of one kind; on drop, every process of
/// theirs is killed (children first, so keepalived cannot respawn one),
/// then the LAN goes.
struct Cluster {
    lan: Lan,
    kind: Kind,
    hello_ms: u64,
}

impl Cluster {
    fn new(kind: Kind, hello_ms: u64) -> Cluster {
        let opts = Opts {
            hello: Some(duration_text(hello_ms)),
            vserver_extra: Vec::new(),
            service: Some("none".to_owned()),
            ipv6: false,
            ipv6_only: false,
        };
        Cluster {
            lan: Lan::new(K, opts),
            kind,
            hello_ms,
        }
    }

    fn start_all(&mut self, bongoyo: &str) {
        for i in 0..3 {
            self.start(i, bongoyo);
        }
    }

    fn start(&mut self, i: usize, bongoyo: &str) {
        let dir = self.lan.dir().to_owned();
        let path = |f: &str| dir.join(f).display().to_string();
        let name = BOXES[i];
        let log = std::fs::File::create(dir.join(format!("{name}.out"))).expect("log file");
        match self.kind {
            Kind::Bongoyo => {
                let conf = self.lan.config(i);
                let argv = bongoyo_argv(bongoyo, &conf, name, &self.lan.socket(i));
                let env = [("BONGOYO_SYSLOG_SOCKET".to_owned(), path("log.sock"))];
                self.lan.start_argv(i, &argv, &env, Stdio::from(log));
            }
            Kind::Keepalived => {
                let conf = dir.join(format!("{name}.keepalived.conf"));
                std::fs::write(&conf, self.keepalived_conf(i)).expect("write keepalived.conf");
                let argv = keepalived_argv(&dir, name);
                self.lan.start_argv(i, &argv, &[], Stdio::from(log));
            }
        }
    }

    /// keepalived.conf of box `i`: see the module doc.
    fn keepalived_conf(&self, i: usize) -> String {
        let prio = if i == 0 { 200 } else { 100 };
        keepalived_conf(BOXES[i], prio, self.hello_ms, self.lan.vip())
    }

    /// Every process of box `i`'s daemon (the started one first).
    fn pids(&self, i: usize) -> Vec<u32> {
        self.lan.pid(i).map(tree).unwrap_or_default()
    }

    /// kill -9 every process of box `i`'s daemon: the parent stopped first
    /// (a stopped keepalived cannot respawn its child), the children
    /// killed, then the parent killed and reaped.
    fn kill9(&mut self, i: usize) {
        let pids = self.pids(i);
        if let Some(&p) = pids.first() {
            signal(p, Signal::SIGSTOP);
        }
        for &c in pids.iter().skip(1) {
            signal(c, Signal::SIGKILL);
        }
        self.lan.kill9(i);
    }

    /// Send `sig` to every process of box `i`'s daemon.
    fn signal_all(&self, i: usize, sig: Signal) {
        for p in self.pids(i) {
            signal(p, sig);
        }
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        for i in 0..3 {
            self.kill9(i);
        }
    }
}

// ---------------------------------------------------------------------
// The watcher

/// A thread in each box's namespace that lists the box's addresses every
/// [`WATCH_MS`] and records each change of "holds the address".
struct Watcher {
    t0: Instant,
    /// (µs since `t0`, box, holds) at each change, per box in time order.
    changes: Arc<Mutex<Vec<(u64, usize, bool)>>>,
    /// Stopped and joined on drop.
    _threads: Threads,
}

impl Watcher {
    fn start(lan: &Lan) -> Watcher {
        let t0 = Instant::now();
        let changes = Arc::new(Mutex::new(Vec::new()));
        let mut threads = Threads::new();
        let vip = lan.vip();
        for (b, name) in BOXES.iter().enumerate() {
            let (stop, out) = (threads.flag(), changes.clone());
            threads.push(spawn_in(&lan.ns(name), move || {
                let mut last: Option<bool> = None;
                // Bounded: at most ten minutes.
                while !stop.load(Ordering::Relaxed) && t0.elapsed() < Duration::from_secs(600) {
                    // A box whose link is down answers nobody, whatever
                    // its kernel keeps.
                    let held = ifaddr::link_up("eth0").unwrap_or(false)
                        && ifaddr::list_addresses()
                            .map(|v| v.iter().any(|a| a.addr == vip))
                            .unwrap_or(false);
                    if last != Some(held) {
                        last = Some(held);
                        let at = t0.elapsed().as_micros() as u64;
                        if let Ok(mut v) = out.lock() {
                            v.push((at, b, held));
                        }
                    }
                    std::thread::sleep(Duration::from_millis(WATCH_MS));
                }
            }));
        }
        Watcher {
            t0,
            changes,
            _threads: threads,
        }
    }

    fn now_us(&self) -> u64 {
        self.t0.elapsed().as_micros() as u64
    }

    /// Ms in `from..to` (µs) during which two or more boxes held the
    /// address, and whether two held it at `to`.
    fn two_holders(&self, from: u64, to: u64) -> (u64, bool) {
        let mut ch = self.changes.lock().map(|v| v.clone()).unwrap_or_default();
        ch.sort();
        let mut held = [false; 3];
        let mut since = 0u64;
        let mut total = 0u64;
        let mut count = 0;
        for (at, b, h) in ch.into_iter().filter(|c| c.0 <= to) {
            if count >= 2 {
                total += at.max(from).saturating_sub(since.max(from));
            }
            held[b] = h;
            count = held.iter().filter(|&&x| x).count();
            since = at;
        }
        if count >= 2 {
            total += to.saturating_sub(since.max(from));
        }
        (total / 1000, count >= 2)
    }
}

// ---------------------------------------------------------------------
// One run

/// What one run measured.
struct Figures {
    /// The client's outage after the fault (ms), `None` if never served
    /// again.
    outage: Option<u64>,
    /// Ms with two holders after the fault.
    two_ms: u64,
    /// Two holders still at the end of the watch.
    open: bool,
    /// Ms during which two MACs answered the client's ARP probes.
    arp_two_ms: u64,
    /// The box first served, and the one served at the end.
    from: String,
    to: String,
}

fn run_once(b: &Bench, kind: Kind, hello: u64, fault: Fault) -> Result<Figures, String> {
    let mut c = Cluster::new(kind, hello);
    let watcher = Watcher::start(&c.lan);
    let client = c.lan.client_every(SLOT_MS);
    c.start_all(&b.bongoyo);
    let serve_limit = Duration::from_millis(20_000 + 10 * hello);
    let holder = client
        .wait_served(serve_limit, STEADY)
        .ok_or_else(|| format!("never served\n{}", client.view().summary(0)))?;
    std::thread::sleep(Duration::from_millis(500 + 2 * hello));
    let i = Lan::index(&holder);
    let (mark, wmark) = (client.now(), watcher.now_us());
    let limit = Duration::from_millis(15_000 + 10 * hello);
    let fail = |what: &str| format!("{what}\n{}", client.view().summary(mark));
    let to = match fault {
        Fault::Death => {
            c.kill9(i);
            c.lan.link_down(&holder);
            client
                .wait_served_by_other(mark, &holder, limit, STEADY)
                .ok_or_else(|| fail("nobody took over"))?
        }
        Fault::Kill9 => {
            c.kill9(i);
            let to = client
                .wait_served_by_other(mark, &holder, limit, STEADY)
                .ok_or_else(|| fail("nobody took over"))?;
            let end = wmark + (5000 + 5 * hello) * 1000;
            let now = watcher.now_us();
            if now < end {
                std::thread::sleep(Duration::from_micros(end - now));
            }
            to
        }
        Fault::Pause => {
            c.signal_all(i, Signal::SIGSTOP);
            std::thread::sleep(Duration::from_millis(PAUSE_MS));
            c.signal_all(i, Signal::SIGCONT);
            std::thread::sleep(Duration::from_millis(3000 + 5 * hello));
            client
                .wait_served(limit, STEADY)
                .ok_or_else(|| fail("not served after the pause"))?
        }
        Fault::Graceful => {
            if !c.lan.stop_gracefully(i, Duration::from_secs(10)) {
                return Err(fail("no exit on SIGTERM"));
            }
            client
                .wait_served_by_other(mark, &holder, limit, STEADY)
                .ok_or_else(|| fail("nobody took over"))?
        }
    };
    let wend = watcher.now_us();
    let v = client.view();
    let (two_ms, open) = watcher.two_holders(wmark, wend);
    drop(watcher);
    drop(client);
    Ok(Figures {
        outage: v.outage_ms(mark),
        two_ms,
        open,
        arp_two_ms: v.duplicate_ms(mark),
        from: holder,
        to,
    })
}

// ---------------------------------------------------------------------
// Idle cost

/// One kind at one heartbeat, idle for `secs`: CPU (s) and datagrams per
/// second per box, resident memory per box (KiB, all its processes), and
/// the processes per box.
struct Idle {
    cpu_s: [f64; 3],
    pkts_s: [f64; 3],
    rss_kib: [u64; 3],
    procs: usize,
}

fn idle(b: &Bench, kind: Kind, hello: u64) -> Result<Idle, String> {
    let mut c = Cluster::new(kind, hello);
    c.start_all(&b.bongoyo);
    let limit = Duration::from_millis(20_000 + 10 * hello);
    eventually(limit, || (c.lan.holders().len() == 1).then_some(()))
        .ok_or("nobody took the address")?;
    std::thread::sleep(Duration::from_secs(2));
    let tick = clock_tick();
    let look = |c: &Cluster| -> Vec<(u64, u64)> {
        (0..3)
            .map(|i| {
                let pids = c.pids(i);
                let cpu = pids.iter().map(|&p| cpu_ticks(p)).sum();
                (cpu, pids.first().map(|&p| eth0_tx_packets(p)).unwrap_or(0))
            })
            .collect()
    };
    let before = look(&c);
    let t = Instant::now();
    std::thread::sleep(Duration::from_secs(b.idle_secs));
    let after = look(&c);
    let secs = t.elapsed().as_secs_f64();
    let mut r = Idle {
        cpu_s: [0.0; 3],
        pkts_s: [0.0; 3],
        rss_kib: [0; 3],
        procs: c.pids(0).len(),
    };
    for i in 0..3 {
        r.cpu_s[i] = after[i].0.saturating_sub(before[i].0) as f64 / tick;
        r.pkts_s[i] = after[i].1.saturating_sub(before[i].1) as f64 / secs;
        r.rss_kib[i] = c.pids(i).iter().map(|&p| status_kib(p, "VmRSS:")).sum();
    }
    if c.pids(0).is_empty() || c.pids(1).is_empty() || c.pids(2).is_empty() {
        return Err("a daemon exited".into());
    }
    Ok(r)
}

// ---------------------------------------------------------------------
// Many boxes

/// N boxes of one kind on one switch, idle: namespaces `bgy<pid>-k201-sw`
/// and `-bI`, box I at 10.81.201.(10 + I), the address 10.81.201.250/24.
/// On drop every process of theirs is killed, then the namespaces go (the
/// switch last).
struct Many {
    daemons: Vec<Daemon>,
    namespaces: Vec<Netns>,
    _dir: TempDir,
}

impl Many {
    fn start(kind: Kind, n: usize, hello_ms: u64, bongoyo: &str) -> Many {
        let dir = TempDir::new("bench-many");
        let sw = Netns::new("k201-sw");
        sw.bridge("br0");
        let mut conf = format!(
            "cluster scale{}\nkey-file insecure\ninterface eth0\n\
             multicast 239.255.76.7 port 7607\nhello {}\n",
            std::process::id(),
            duration_text(hello_ms)
        );
        let mut namespaces = Vec::new();
        for b in 1..=n {
            let ns = Netns::new(&format!("k201-b{b}"));
            sw.plug("br0", &format!("p-b{b}"), &ns.name, "eth0");
            ns.bring_up("eth0", &format!("10.81.201.{}/24", 10 + b));
            let prio = if b == 1 { " priority 200" } else { "" };
            let _ = writeln!(conf, "node b{b} 10.81.201.{}{prio}", 10 + b);
            namespaces.push(ns);
        }
        // Deleted last: its ports go with it.
        namespaces.insert(0, sw);
        conf += "vserver web {\n    address 10.81.201.250/24\n    interface eth0\n    service none\n}\n";
        let conf_path = dir.path("bongoyo.conf");
        std::fs::write(&conf_path, conf).expect("write config");
        let mut daemons = Vec::new();
        for (b, ns) in (1..=n).zip(&namespaces[1..]) {
            let name = format!("b{b}");
            let argv = match kind {
                Kind::Bongoyo => bongoyo_argv(
                    bongoyo,
                    &conf_path,
                    &name,
                    &dir.path(&format!("{name}.sock")),
                ),
                Kind::Keepalived => {
                    let prio = if b == 1 { 200 } else { 100 };
                    let vip = Ipv4Addr::new(10, 81, 201, 250);
                    let c = keepalived_conf(&name, prio, hello_ms, vip);
                    std::fs::write(dir.path(&format!("{name}.keepalived.conf")), c)
                        .expect("write keepalived.conf");
                    keepalived_argv(&dir.0, &name)
                }
            };
            let env = [(
                "BONGOYO_SYSLOG_SOCKET".to_owned(),
                dir.path("nolog").display().to_string(),
            )];
            daemons.push(Daemon::exec(&ns.name, &argv, &env, Stdio::null()));
        }
        Many {
            daemons,
            namespaces,
            _dir: dir,
        }
    }

    /// Every process of box `b`'s daemon (index from 0).
    fn pids(&self, b: usize) -> Vec<u32> {
        match self.daemons[b].pid() {
            0 => Vec::new(),
            p => tree(p),
        }
    }

    /// Boxes holding the address now.
    fn holders(&self) -> usize {
        self.namespaces[1..]
            .iter()
            .filter(|ns| has_addr(&ns.name, "10.81.201.250"))
            .count()
    }
}

impl Drop for Many {
    fn drop(&mut self) {
        for b in 0..self.daemons.len() {
            let pids = self.pids(b);
            if let Some(&p) = pids.first() {
                signal(p, Signal::SIGSTOP);
            }
            for &c in pids.iter().skip(1) {
                signal(c, Signal::SIGKILL);
            }
        }
        self.daemons.clear();
        while let Some(ns) = self.namespaces.pop() {
            drop(ns);
        }
    }
}

/// N boxes idle: CPU (s, all boxes, and the busiest box), packets sent
/// per second (all boxes, and the busiest), resident memory of the
/// largest box (KiB).
struct Scale {
    cpu_all: f64,
    cpu_max: f64,
    pkts_all: f64,
    pkts_max: f64,
    rss_max: u64,
}

fn scale(b: &Bench, kind: Kind, n: usize) -> Result<Scale, String> {
    let m = Many::start(kind, n, b.scale_hello, &b.bongoyo);
    let limit = Duration::from_millis(30_000 + 10 * b.scale_hello);
    eventually_every(limit, Duration::from_millis(500), || {
        (m.holders() == 1).then_some(())
    })
    .ok_or("not one holder")?;
    std::thread::sleep(Duration::from_secs(3));
    let tick = clock_tick();
    let look = |m: &Many| -> Vec<(u64, u64)> {
        (0..n)
            .map(|i| {
                let pids = m.pids(i);
                let cpu = pids.iter().map(|&p| cpu_ticks(p)).sum();
                (cpu, pids.first().map(|&p| eth0_tx_packets(p)).unwrap_or(0))
            })
            .collect()
    };
    let before = look(&m);
    let t = Instant::now();
    std::thread::sleep(Duration::from_secs(b.scale_secs));
    let after = look(&m);
    let secs = t.elapsed().as_secs_f64();
    if (0..n).any(|i| m.pids(i).is_empty()) {
        return Err("a daemon exited".into());
    }
    let cpu: Vec<f64> = (0..n)
        .map(|i| after[i].0.saturating_sub(before[i].0) as f64 / tick)
        .collect();
    let pk: Vec<f64> = (0..n)
        .map(|i| after[i].1.saturating_sub(before[i].1) as f64 / secs)
        .collect();
    Ok(Scale {
        cpu_all: cpu.iter().sum(),
        cpu_max: cpu.iter().copied().fold(0.0, f64::max),
        pkts_all: pk.iter().sum(),
        pkts_max: pk.iter().copied().fold(0.0, f64::max),
        rss_max: (0..n)
            .map(|i| m.pids(i).iter().map(|&p| status_kib(p, "VmRSS:")).sum())
            .max()
            .unwrap_or(0),
    })
}

fn clock_tick() -> f64 {
    command_text("getconf", &["CLK_TCK"])
        .trim()
        .parse()
        .unwrap_or(100.0)
}

// ---------------------------------------------------------------------
// Sizes and the machine

fn command_text(cmd: &str, args: &[&str]) -> String {
    Command::new(cmd)
        .args(args)
        .stdin(Stdio::null())
        .output()
        .map(|o| {
            format!(
                "{}{}",
                String::from_utf8_lossy(&o.stdout),
                String::from_utf8_lossy(&o.stderr)
            )
        })
        .unwrap_or_default()
}

/// The size of `bin` and of the shared libraries `ldd` lists for it
/// (bytes of the files the links point at), and their number.
fn sizes(bin: &Path) -> (u64, u64, usize) {
    let size = |p: &Path| {
        std::fs::canonicalize(p)
            .and_then(std::fs::metadata)
            .map(|m| m.len())
            .unwrap_or(0)
    };
    let ldd = command_text("ldd", &[&bin.display().to_string()]);
    let libs: Vec<PathBuf> = ldd
        .lines()
        .filter_map(|l| {
            let l = l.trim();
            let p = l.split("=> ").nth(1).unwrap_or(l);
            let p = p.split(" (").next()?.trim();
            p.starts_with('/').then(|| PathBuf::from(p))
        })
        .collect();
    (size(bin), libs.iter().map(|p| size(p)).sum(), libs.len())
}

fn which(prog: &str) -> Option<PathBuf> {
    let out = command_text("sh", &["-c", &format!("command -v {prog}")]);
    let p = out.trim();
    p.starts_with('/').then(|| PathBuf::from(p))
}

fn machine() -> String {
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("model name"))
                .and_then(|l| l.split(':').nth(1))
                .map(|x| x.trim().to_owned())
        })
        .unwrap_or_default();
    let cores = std::thread::available_parallelism().map_or(0, |n| n.get());
    let kernel = std::fs::read_to_string("/proc/sys/kernel/osrelease").unwrap_or_default();
    format!("{cpu}, {cores} cores, Linux {}", kernel.trim())
}

fn loadavg() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|s| s.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_default()
}

// ---------------------------------------------------------------------
// Figures into tables

/// min, median (the lower one for an even count, as tests/bench does),
/// max.
fn stats(v: &[u64]) -> Option<(u64, u64, u64)> {
    let mut s = v.to_vec();
    s.sort_unstable();
    Some((*s.first()?, s[(s.len() - 1) / 2], *s.last()?))
}

fn cell(v: &[u64], n: usize) -> String {
    match stats(v) {
        Some((lo, med, hi)) if v.len() == n => format!("{lo} / **{med}** / {hi}"),
        Some((lo, med, hi)) => format!("{lo} / **{med}** / {hi} ({} of {n})", v.len()),
        None => "none".into(),
    }
}

fn ratio(ours: &[u64], theirs: &[u64]) -> String {
    match (stats(ours), stats(theirs)) {
        (Some((_, a, _)), Some((_, b, _))) if b > 0 => format!("{:.2} x", a as f64 / b as f64),
        (Some((_, 0, _)), Some((_, 0, _))) => "equal (0)".into(),
        (Some((_, 0, _)), Some(_)) => "bongoyo 0".into(),
        (Some(_), Some(_)) => "keepalived 0".into(),
        _ => "-".into(),
    }
}

/// Every figure of the runs: (kind, hello, fault) → the runs.
type Results = BTreeMap<(Kind, u64, Fault), Vec<Result<Figures, String>>>;

/// What a row of the tables reads from a run.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Metric {
    /// The client's outage.
    Outage,
    /// The time two boxes held the address.
    TwoHolders,
}

impl Metric {
    fn read(self, f: &Figures) -> Option<u64> {
        match self {
            Metric::Outage => f.outage,
            Metric::TwoHolders => Some(f.two_ms),
        }
    }
}

/// The rows of the tables: a title, the fault, and what is read.
fn metrics() -> Vec<(&'static str, Fault, Metric)> {
    vec![
        (
            "holder box dies: client outage",
            Fault::Death,
            Metric::Outage,
        ),
        (
            "daemon kill -9: time two boxes hold the address",
            Fault::Kill9,
            Metric::TwoHolders,
        ),
        (
            "daemon kill -9: client outage",
            Fault::Kill9,
            Metric::Outage,
        ),
        (
            "daemon paused 5 s: time two boxes hold the address",
            Fault::Pause,
            Metric::TwoHolders,
        ),
        (
            "daemon paused 5 s: client outage",
            Fault::Pause,
            Metric::Outage,
        ),
        (
            "graceful stop: client outage",
            Fault::Graceful,
            Metric::Outage,
        ),
    ]
}

fn values(runs: &[Result<Figures, String>], m: Metric) -> Vec<u64> {
    runs.iter()
        .filter_map(|r| r.as_ref().ok().and_then(|f| m.read(f)))
        .collect()
}

fn tables(b: &Bench, res: &Results) -> String {
    let mut s = String::new();
    let kinds = &b.kinds;
    let _ = write!(s, "| fault, figure (ms) | hello |");
    for k in kinds {
        let _ = write!(s, " {} min / **median** / max |", k.name());
    }
    let _ = writeln!(s, " bongoyo / keepalived (medians) |");
    let _ = writeln!(s, "|---|---|{}---|", "---|".repeat(kinds.len()));
    for (title, fault, m) in metrics() {
        if !b.faults.contains(&fault) {
            continue;
        }
        for &h in &b.hellos {
            let _ = write!(s, "| {title} | {} |", duration_text(h));
            let mut cols: BTreeMap<Kind, Vec<u64>> = BTreeMap::new();
            for &k in kinds {
                let runs = res.get(&(k, h, fault)).map(Vec::as_slice).unwrap_or(&[]);
                let v = values(runs, m);
                let mut c = cell(&v, b.runs);
                let open = runs
                    .iter()
                    .filter(|r| r.as_ref().is_ok_and(|f| f.open))
                    .count();
                if m == Metric::TwoHolders && open > 0 {
                    let _ = write!(c, " (still two at the end in {open})");
                }
                let _ = write!(s, " {c} |");
                cols.insert(k, v);
            }
            let r = match (cols.get(&Kind::Bongoyo), cols.get(&Kind::Keepalived)) {
                (Some(a), Some(k)) => ratio(a, k),
                _ => "-".into(),
            };
            let _ = writeln!(s, " {r} |");
        }
    }
    s
}

fn idle_table(idles: &[(Kind, u64, Result<Idle, String>)], secs: u64) -> String {
    let mut s = format!(
        "| daemon | hello | CPU over {secs} s, 3 boxes in all (per box) | packets sent / s per box | resident memory per box | processes per box |\n|---|---|---|---|---|---|\n"
    );
    for (k, h, r) in idles {
        match r {
            Ok(i) => {
                let per: Vec<String> = i.cpu_s.iter().map(|x| format!("{x:.2}")).collect();
                let pk: Vec<String> = i.pkts_s.iter().map(|x| format!("{x:.1}")).collect();
                let rss: Vec<String> = i.rss_kib.iter().map(|x| format!("{x}")).collect();
                let _ = writeln!(
                    s,
                    "| {} | {} | {:.2} s ({}) | {} | {} KiB | {} |",
                    k.name(),
                    duration_text(*h),
                    i.cpu_s.iter().sum::<f64>(),
                    per.join(", "),
                    pk.join(", "),
                    rss.join(", "),
                    i.procs
                );
            }
            Err(e) => {
                let _ = writeln!(
                    s,
                    "| {} | {} | failed: {e} | | | |",
                    k.name(),
                    duration_text(*h)
                );
            }
        }
    }
    s
}

/// The plot: client outage and time with two holders, median with min-max
/// bars, per fault and heartbeat, one bar per daemon (log scale; 0 drawn
/// as 1).
fn plot(b: &Bench, res: &Results) {
    let dat = b.out.join("side-plot.dat");
    let mut d = String::new();
    for (block, m, rows) in [
        (
            "outage",
            Metric::Outage,
            vec![Fault::Death, Fault::Kill9, Fault::Pause, Fault::Graceful],
        ),
        (
            "two holders",
            Metric::TwoHolders,
            vec![Fault::Kill9, Fault::Pause],
        ),
    ] {
        let _ = writeln!(d, "# {block}: label, then per daemon median min max");
        for f in rows.into_iter().filter(|f| b.faults.contains(f)) {
            for &h in &b.hellos {
                let _ = write!(d, "\"{} {}\"", f.name(), duration_text(h));
                for &k in &b.kinds {
                    let runs = res.get(&(k, h, f)).map(Vec::as_slice).unwrap_or(&[]);
                    let v = values(runs, m);
                    match stats(&v) {
                        Some((lo, med, hi)) => {
                            let _ = write!(d, " {} {} {}", med.max(1), lo.max(1), hi.max(1));
                        }
                        None => d += " NaN NaN NaN",
                    }
                }
                d += "\n";
            }
        }
        d += "\n\n";
    }
    let _ = std::fs::write(&dat, d);
    let png = b.out.join("side-outage.png");
    let mut gp = format!(
        "set terminal pngcairo size 1200,900 noenhanced\nset output '{}'\n\
         set multiplot layout 2,1 title 'bongoyo vs keepalived, {} runs each (median, min-max)'\n\
         set style data histogram\nset style histogram errorbars gap 2 lw 1\n\
         set style fill solid 0.6 border -1\nset logscale y\nset grid ytics\n\
         set xtics rotate by -30\nset key top left\n",
        png.display(),
        b.runs
    );
    let two = b
        .faults
        .iter()
        .any(|f| [Fault::Kill9, Fault::Pause].contains(f));
    for (idx, title) in [
        (0, "client outage after the fault (ms, log; 0 drawn as 1)"),
        (1, "time two boxes hold the address (ms, log; 0 drawn as 1)"),
    ] {
        if idx == 1 && !two {
            break;
        }
        let _ = writeln!(gp, "set title '{title}'");
        let mut parts = Vec::new();
        for (j, k) in b.kinds.iter().enumerate() {
            let c = 2 + 3 * j;
            let x = if j == 0 { ":xtic(1)" } else { "" };
            parts.push(format!(
                "'{}' index {idx} using {}:{}:{}{x} title '{}'",
                dat.display(),
                c,
                c + 1,
                c + 2,
                k.name()
            ));
        }
        let _ = writeln!(gp, "plot {}", parts.join(", "));
    }
    gp += "unset multiplot\n";
    let gpf = b.out.join("side-plot.gp");
    let _ = std::fs::write(&gpf, gp);
    match Command::new("gnuplot")
        .arg(&gpf)
        .stdin(Stdio::null())
        .output()
    {
        Ok(o) if o.status.success() => println!("plot: {}", png.display()),
        Ok(o) => println!("gnuplot failed: {}", String::from_utf8_lossy(&o.stderr)),
        Err(_) => println!("no plot: gnuplot is not installed (make bench installs gnuplot-nox)"),
    }
}

// ---------------------------------------------------------------------

#[test]
fn side_by_side() {
    if std::env::var("BENCH_SIDE").as_deref() != Ok("1") {
        eprintln!(
            "SKIP side_by_side: a benchmark of many minutes; `make bench` runs it (BENCH_SIDE=1)"
        );
        return;
    }
    if !root_or_skip("side_by_side") {
        return;
    }
    let mut b = Bench::from_env();
    if b.kinds.contains(&Kind::Keepalived) && which("keepalived").is_none() {
        println!("keepalived is not installed (make bench installs it): bongoyo alone");
        b.kinds.retain(|&k| k != Kind::Keepalived);
    }
    std::fs::create_dir_all(&b.out).expect("output directory");
    let started = command_text("date", &["-u", "+%Y-%m-%dT%H:%M:%SZ"]);
    let load0 = loadavg();
    let ka_version = command_text("keepalived", &["-v"])
        .lines()
        .next()
        .unwrap_or("")
        .to_owned();
    let raw_path = b.out.join("side-raw.txt");
    let mut raw = String::from(
        "# daemon hello_ms fault run outage_ms two_holders_ms open arp_two_ms from to | error\n",
    );
    let mut res: Results = BTreeMap::new();
    for &h in &b.hellos {
        for &f in &b.faults {
            for run in 1..=b.runs {
                // Interleaved, so a burst of load hits both daemons alike.
                for &k in &b.kinds {
                    let t = Instant::now();
                    let r = run_once(&b, k, h, f);
                    let line = match &r {
                        Ok(x) => format!(
                            "{} {h} {} {run} {} {} {} {} {} {}",
                            k.name(),
                            f.name(),
                            x.outage.map_or("none".into(), |o| o.to_string()),
                            x.two_ms,
                            u8::from(x.open),
                            x.arp_two_ms,
                            x.from,
                            x.to
                        ),
                        Err(e) => format!(
                            "{} {h} {} {run} failed | {}",
                            k.name(),
                            f.name(),
                            e.replace('\n', " / ")
                        ),
                    };
                    println!("{line}  ({:.1} s)", t.elapsed().as_secs_f64());
                    raw += &line;
                    raw += "\n";
                    let _ = std::fs::write(&raw_path, &raw);
                    res.entry((k, h, f)).or_default().push(r);
                }
            }
        }
    }
    let mut idles = Vec::new();
    if b.idle_secs > 0 {
        for &h in &b.idle_hellos {
            for &k in &b.kinds {
                let r = idle(&b, k, h);
                println!(
                    "idle {} {}: {}",
                    k.name(),
                    duration_text(h),
                    r.as_ref().map_or_else(
                        |e| e.clone(),
                        |i| format!(
                            "cpu {:?} s, pkts {:?}/s, rss {:?} KiB",
                            i.cpu_s, i.pkts_s, i.rss_kib
                        )
                    )
                );
                idles.push((k, h, r));
            }
        }
    }
    let mut scales = Vec::new();
    for &n in &b.scale {
        for &k in &b.kinds {
            let r = scale(&b, k, n);
            println!(
                "scale {} {n} boxes: {}",
                k.name(),
                r.as_ref().map_or_else(
                    |e| e.clone(),
                    |x| format!("cpu {:.2} s, {:.1} packets/s", x.cpu_all, x.pkts_all)
                )
            );
            scales.push((k, n, r));
        }
    }

    let mut s = String::new();
    let _ = writeln!(
        s,
        "## Side by side: bongoyo and keepalived on one namespace LAN\n"
    );
    let _ = writeln!(
        s,
        "{} ({} runs each, interleaved), {}; load average {} at the start, {} at the end.\n\
         bongoyo: {}. {}.\n",
        started.trim(),
        b.runs,
        machine(),
        load0,
        loadavg(),
        b.bongoyo,
        if ka_version.is_empty() {
            "keepalived: not run".to_owned()
        } else {
            ka_version.trim().to_owned()
        },
    );
    let _ = writeln!(
        s,
        "Three boxes, priorities 200/100/100, one address, no service check; bongoyo \
         `hello H`, `dead` 3 x H; keepalived VRRPv3 `advert_int H`, `nopreempt`. Client: a TCP \
         connect every {SLOT_MS} ms. Two holders: each box's addresses listed every {WATCH_MS} ms. \
         kill -9 watched {} ms + 5 x H from the fault, pause 5 s + 3 s + 5 x H (tests/bench_side.rs).\n",
        5000
    );
    s += &tables(&b, &res);
    if !idles.is_empty() {
        let _ = writeln!(s, "\nIdle, 3 boxes, no client, after the address was taken (utime + stime of every process of each daemon, /proc/PID/stat; VmRSS; packets sent on eth0, /proc/PID/net/dev):\n");
        s += &idle_table(&idles, b.idle_secs);
    }
    if !scales.is_empty() {
        let _ = writeln!(
            s,
            "\nIdle, N boxes on one switch (namespaces), hello {}, {} s, one address, no client:\n\n\
             | daemon | boxes | CPU, all boxes (busiest box) | packets sent / s, all boxes (busiest box) | resident memory, largest box |\n|---|---|---|---|---|",
            duration_text(b.scale_hello),
            b.scale_secs
        );
        for (k, n, r) in &scales {
            match r {
                Ok(x) => {
                    let _ = writeln!(
                        s,
                        "| {} | {n} | {:.2} s ({:.2}) | {:.0} ({:.0}) | {} KiB |",
                        k.name(),
                        x.cpu_all,
                        x.cpu_max,
                        x.pkts_all,
                        x.pkts_max,
                        x.rss_max
                    );
                }
                Err(e) => {
                    let _ = writeln!(s, "| {} | {n} | failed: {e} | | |", k.name());
                }
            }
        }
    }
    let _ = writeln!(
        s,
        "\nSizes (the file, and the shared libraries `ldd` lists):\n"
    );
    let _ = writeln!(s, "| daemon | binary | shared libraries |\n|---|---|---|");
    let mut bins = vec![("bongoyo", PathBuf::from(&b.bongoyo))];
    if let Some(p) = which("keepalived") {
        bins.push(("keepalived", p));
    }
    for (name, p) in bins {
        let (bin, libs, n) = sizes(&p);
        let _ = writeln!(s, "| {name} ({}) | {bin} B | {n}, {libs} B |", p.display());
    }
    let failed: usize = res.values().flatten().filter(|r| r.is_err()).count();
    let _ = writeln!(s, "\nFailed runs: {failed} (see {}).", raw_path.display());
    std::fs::write(b.out.join("side-summary.md"), &s).expect("write summary");
    println!("\n{s}");
    plot(&b, &res);
}
