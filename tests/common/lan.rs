//! Fail-over tests on a real kernel (docs/MODEL.md): a small
//! LAN in network namespaces, the real daemon on three boxes, a real TCP
//! service on each, and a client that measures what it saw.
//!
//! Topology, one per test (distinct names and subnet, so tests may run in
//! parallel):
//!
//! ```text
//!   switch ns "sw": bridge br0
//!     ├─ f1  eth0 10.81.K.11     daemon + service "f1"
//!     ├─ f2  eth0 10.81.K.12     daemon + service "f2"
//!     ├─ f3  eth0 10.81.K.13     daemon + service "f3"
//!     ├─ or  eth0 10.81.K.60     the vserver's original host (VIP only when "back")
//!     └─ cl  eth0 10.81.K.100    the client: TCP prober + ARP watcher
//!   VIP 10.81.K.50/24, service tcp 8080
//! ```
//!
//! Everything created is recorded (namespace guards, daemons, threads, the
//! test's directory) and removed in `Drop`, so a failed assertion still
//! cleans up. 10.x addresses exist only inside these namespaces.
//!
//! The client's view is the measure: the prober starts a TCP connection to
//! VIP:8080 every [`SLOT_MS`] (a pool of threads, so a slow attempt never
//! delays the next one) and records which box answered; the ARP watcher
//! probes the VIP every [`ARP_MS`] and records the set of MACs that reply.

use std::io::{Read, Write};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use bongoyo::os::arp::{ArpPacket, ArpSocket, OP_REPLY};
use bongoyo::os::ifaddr;
use bongoyo::os::ndp::NdpSocket;
use nix::sys::signal::Signal;

use super::daemon::{client, write_script, Daemon, Syslog, TempDir};
use super::netns::{eventually, has_addr, mac, ns_name, run_in, sh, spawn_in, Netns, Threads};
/// The vserver's service port.
pub const PORT: u16 = 8080;
/// Interval between the client's TCP attempts.
pub const SLOT_MS: u64 = 20;
/// Prober threads: each attempt may take up to `WORKERS * SLOT_MS` minus a
/// margin before its thread's next slot.
const WORKERS: u64 = 8;
/// Interval between the client's ARP probes.
pub const ARP_MS: u64 = 50;
/// Box names, in node order.
pub const BOXES: [&str; 3] = ["f1", "f2", "f3"];

/// Milliseconds since `t0`.
fn ms_since(t0: Instant) -> u64 {
    t0.elapsed().as_millis() as u64
}

/// How a test wants the cluster configured.
#[derive(Clone, Default)]
pub struct Opts {
    /// `hello` (None: the daemon's default).
    pub hello: Option<String>,
    /// Extra lines inside `vserver web { }`; `{box}` is replaced by the
    /// box's name and `{dir}` by the test's directory.
    pub vserver_extra: Vec<String>,
    /// `web`'s service line (None: `tcp PORT`, the boxes' own service).
    pub service: Option<String>,
    /// `web` is IPv6 (issue 15): every host also has `fd81:K::part/64`,
    /// the VIP is `fd81:K::50/64`, the client connects over IPv6 and its
    /// watcher sends neighbour solicitations instead of ARP probes. The
    /// cluster itself still talks IPv4 (see `ipv6_only`).
    pub ipv6: bool,
    /// With `ipv6`: the hosts have no IPv4 address at all and the cluster
    /// talks IPv6 too (nodes `fd81:K::11`..., the link-local default group).
    pub ipv6_only: bool,
}

/// A TCP service answering its box name, in one namespace; stopped on
/// drop.
struct Service(Threads);

impl Service {
    fn start(ns: &str, name: &str) -> Service {
        let mut threads = Threads::new();
        let (stop, name) = (threads.flag(), name.to_owned());
        let (tx, rx) = std::sync::mpsc::channel();
        threads.push(spawn_in(ns, move || {
            // Every address (IPv6 and, through it, IPv4): it answers on the
            // VIP once the alias is there.
            let l = TcpListener::bind(("::", PORT)).expect("bind service");
            l.set_nonblocking(true).expect("nonblocking");
            let _ = tx.send(());
            while !stop.load(Ordering::Relaxed) {
                match l.accept() {
                    Ok((mut s, _)) => {
                        let _ = s.set_nonblocking(false);
                        let _ = s.write_all(name.as_bytes());
                    }
                    Err(_) => std::thread::sleep(Duration::from_millis(2)),
                }
            }
        }));
        rx.recv_timeout(Duration::from_secs(5))
            .expect("service did not bind");
        Service(threads)
    }
}

/// One TCP attempt of the client.
#[derive(Clone, Debug)]
pub struct Attempt {
    /// Slot start, ms since the prober started.
    pub at: u64,
    /// The box that answered, or `None`.
    pub who: Option<String>,
}

/// One ARP interval of the client.
#[derive(Clone, Debug)]
pub struct ArpInterval {
    /// Interval start, ms since the prober started.
    pub at: u64,
    /// Names of the hosts whose MAC replied for the VIP.
    pub macs: Vec<String>,
}

/// The client: TCP prober and ARP watcher running in the client namespace.
pub struct Client {
    t0: Instant,
    attempts: Arc<Mutex<Vec<Attempt>>>,
    arp: Arc<Mutex<Vec<ArpInterval>>>,
    threads: Threads,
}

impl Client {
    /// Start probing `vip:PORT` from namespace `ns`; `names` maps MACs to
    /// host names.
    pub fn start(ns: &str, vip: IpAddr, names: Vec<([u8; 6], String)>) -> Client {
        Client::start_every(ns, vip, names, SLOT_MS)
    }

    /// [`Client::start`] with a TCP attempt every `slot_ms` (at least 1);
    /// more prober threads for shorter slots, so that an attempt that
    /// times out still ends before its thread's next slot.
    pub fn start_every(
        ns: &str,
        vip: IpAddr,
        names: Vec<([u8; 6], String)>,
        slot_ms: u64,
    ) -> Client {
        let slot_ms = slot_ms.max(1);
        let workers = WORKERS.max((WORKERS * SLOT_MS).div_ceil(slot_ms));
        let t0 = Instant::now();
        let attempts = Arc::new(Mutex::new(Vec::new()));
        let arp = Arc::new(Mutex::new(Vec::new()));
        let mut threads = Threads::new();
        let to = SocketAddr::new(vip, PORT);
        for w in 0..workers {
            let (stop, out) = (threads.flag(), attempts.clone());
            threads.push(spawn_in(ns, move || {
                let mut slot = w;
                // Bounded: at most ten minutes of slots.
                while !stop.load(Ordering::Relaxed) && slot * slot_ms < 600_000 {
                    let at = slot * slot_ms;
                    let now = ms_since(t0);
                    if now < at {
                        std::thread::sleep(Duration::from_millis(at - now));
                    }
                    let who = attempt(to);
                    if let Ok(mut v) = out.lock() {
                        v.push(Attempt { at, who });
                    }
                    slot += workers;
                }
            }));
        }
        let (stop, out) = (threads.flag(), arp.clone());
        threads.push(spawn_in(ns, move || {
            let idx = ifaddr::ifindex("eth0").expect("client eth0");
            let mac = names
                .iter()
                .find(|(_, n)| n == "cl")
                .map(|(m, _)| *m)
                .expect("client MAC");
            // Who answers for the VIP: ARP replies for IPv4, neighbour
            // advertisements for IPv6.
            let sock = match vip {
                IpAddr::V4(_) => Watch::Arp(ArpSocket::open(idx, mac).expect("ARP socket")),
                IpAddr::V6(_) => Watch::Ndp(NdpSocket::open(idx, mac).expect("NDP socket")),
            };
            let mut k = 0u64;
            while !stop.load(Ordering::Relaxed) && k * ARP_MS < 600_000 {
                let at = k * ARP_MS;
                sock.probe(vip);
                let mut seen: Vec<String> = Vec::new();
                while ms_since(t0) < at + ARP_MS {
                    match sock.answer(vip) {
                        Some(Some(m)) => {
                            let n = names
                                .iter()
                                .find(|(x, _)| *x == m)
                                .map(|(_, n)| n.clone())
                                .unwrap_or_else(|| format!("{m:02x?}"));
                            if !seen.contains(&n) {
                                seen.push(n);
                            }
                        }
                        Some(None) => {}
                        None => std::thread::sleep(Duration::from_millis(2)),
                    }
                }
                seen.sort();
                if let Ok(mut v) = out.lock() {
                    v.push(ArpInterval { at, macs: seen });
                }
                k += 1;
            }
        }));
        Client {
            t0,
            attempts,
            arp,
            threads,
        }
    }

    /// Ms since the client started (to mark events on its time line).
    pub fn now(&self) -> u64 {
        ms_since(self.t0)
    }

    /// What the client has seen so far, in time order.
    pub fn view(&self) -> View {
        let mut attempts = self.attempts.lock().map(|v| v.clone()).unwrap_or_default();
        attempts.sort_by_key(|a| a.at);
        let arp = self.arp.lock().map(|v| v.clone()).unwrap_or_default();
        View { attempts, arp }
    }

    /// Wait until the last `n` attempts were all answered by one box;
    /// that box, or `None` after `limit`.
    pub fn wait_served(&self, limit: Duration, n: usize) -> Option<String> {
        let end = Instant::now() + limit;
        while Instant::now() < end {
            let v = self.view();
            if v.attempts.len() >= n {
                let tail = &v.attempts[v.attempts.len() - n..];
                if let Some(w) = &tail[0].who {
                    if tail.iter().all(|a| a.who.as_ref() == Some(w)) {
                        return Some(w.clone());
                    }
                }
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        None
    }

    /// Wait until `n` consecutive attempts after `since` were answered by a
    /// box other than `not`; that box.
    pub fn wait_served_by_other(
        &self,
        since: u64,
        not: &str,
        limit: Duration,
        n: usize,
    ) -> Option<String> {
        let end = Instant::now() + limit;
        while Instant::now() < end {
            let v = self.view();
            let after: Vec<&Attempt> = v.attempts.iter().filter(|a| a.at >= since).collect();
            if after.len() >= n {
                let tail = &after[after.len() - n..];
                if let Some(w) = &tail[0].who {
                    if w != not && tail.iter().all(|a| a.who.as_ref() == Some(w)) {
                        return Some(w.clone());
                    }
                }
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        None
    }

    /// Stop the threads; the whole view.
    pub fn stop(mut self) -> View {
        self.threads.halt();
        self.view()
    }
}

/// The client's watcher socket.
enum Watch {
    Arp(ArpSocket),
    Ndp(NdpSocket),
}

impl Watch {
    fn probe(&self, vip: IpAddr) {
        let _ = match (self, vip) {
            (Watch::Arp(s), IpAddr::V4(a)) => s.probe(a),
            (Watch::Ndp(s), IpAddr::V6(a)) => s.probe(a),
            _ => Ok(()),
        };
    }

    /// The next packet: `Some(Some(mac))` if it says `mac` has `vip`,
    /// `Some(None)` for any other, `None` when nothing is waiting.
    fn answer(&self, vip: IpAddr) -> Option<Option<[u8; 6]>> {
        match self {
            Watch::Arp(s) => match s.recv() {
                Ok(Some(p)) => Some(
                    (p.op == OP_REPLY && IpAddr::V4(p.sender_ip) == vip).then_some(p.sender_mac),
                ),
                _ => None,
            },
            Watch::Ndp(s) => match s.recv() {
                // Answers to our solicitation only, as the ARP watcher
                // counts replies only (not announcements).
                Ok(Some(p)) => Some(match vip {
                    IpAddr::V6(a) if p.answers_probe(a) => p.mac,
                    _ => None,
                }),
                _ => None,
            },
        }
    }
}

/// One TCP attempt: connect, read the answering box's name.
fn attempt(to: SocketAddr) -> Option<String> {
    let mut s = TcpStream::connect_timeout(&to, Duration::from_millis(100)).ok()?;
    s.set_read_timeout(Some(Duration::from_millis(40))).ok()?;
    let mut buf = [0u8; 16];
    let mut n = 0;
    while n < buf.len() {
        match s.read(&mut buf[n..]) {
            Ok(0) => break,
            Ok(k) => n += k,
            Err(_) => return None,
        }
    }
    (n > 0).then(|| String::from_utf8_lossy(&buf[..n]).into_owned())
}

/// The client's time line and the figures drawn from it.
#[derive(Clone, Debug)]
pub struct View {
    /// TCP attempts in time order.
    pub attempts: Vec<Attempt>,
    /// ARP intervals in time order.
    pub arp: Vec<ArpInterval>,
}

impl View {
    /// The longest outage starting at or after `from` ms: from the last
    /// answered attempt before the failures to the first answered one after
    /// (the client's own notion of "down"). `None` if never answered again.
    pub fn outage_ms(&self, from: u64) -> Option<u64> {
        let mut last_ok: Option<u64> = None;
        let mut worst = 0;
        let mut failing = false;
        for a in &self.attempts {
            match (&a.who, last_ok) {
                (Some(_), Some(l)) => {
                    if failing && a.at >= from {
                        worst = worst.max(a.at - l);
                    }
                    failing = false;
                    last_ok = Some(a.at);
                }
                (Some(_), None) => last_ok = Some(a.at),
                (None, Some(_)) => failing = true,
                (None, None) => {}
            }
        }
        (!failing).then_some(worst)
    }

    /// Total ms during which two or more MACs answered ARP for the VIP.
    pub fn duplicate_ms(&self, from: u64) -> u64 {
        self.arp
            .iter()
            .filter(|i| i.at >= from && i.macs.len() >= 2)
            .count() as u64
            * ARP_MS
    }

    /// The boxes that answered TCP after `from`, consecutive repeats merged.
    pub fn answer_sequence(&self, from: u64) -> Vec<String> {
        let mut seq: Vec<String> = Vec::new();
        for a in self.attempts.iter().filter(|a| a.at >= from) {
            if let Some(w) = &a.who {
                if seq.last() != Some(w) {
                    seq.push(w.clone());
                }
            }
        }
        seq
    }

    /// A short readable summary for assertion messages: each stretch of
    /// equal answers after `from` on one line.
    pub fn summary(&self, from: u64) -> String {
        let tcp = self.attempts.iter().filter(|a| a.at >= from);
        let arp = self.arp.iter().filter(|i| i.at >= from);
        let mut s = String::new();
        for (w, b, e) in stretches(tcp.map(|a| (a.at, a.who.as_deref().unwrap_or("-")))) {
            s += &format!("  tcp {b}..{e}ms: {w}\n");
        }
        for (m, b, e) in stretches(arp.map(|i| (i.at, &i.macs))) {
            s += &format!("  arp {b}..{e}ms: {m:?}\n");
        }
        s
    }
}

/// Runs of equal values in a time line of `(ms, value)`: `(value, first
/// ms, last ms)` for each.
fn stretches<T: PartialEq>(line: impl Iterator<Item = (u64, T)>) -> Vec<(T, u64, u64)> {
    let mut runs: Vec<(T, u64, u64)> = Vec::new();
    for (at, x) in line {
        match runs.last_mut() {
            Some((y, _, end)) if *y == x => *end = at,
            _ => runs.push((x, at, at)),
        }
    }
    runs
}

/// One test's LAN, daemons and services; everything removed on drop.
pub struct Lan {
    /// The third octet: 10.81.K.0/24, and the tag of the test's namespaces.
    pub k: u8,
    opts: Opts,
    // Dropped in this order (see `Drop`): daemons, services, the log, the
    // namespaces (the switch last), the directory.
    daemons: Vec<Option<Daemon>>,
    services: Vec<(String, Service)>,
    syslog: Syslog,
    macs: Vec<([u8; 6], String)>,
    nft: Vec<String>,
    namespaces: Vec<Netns>,
    dir: TempDir,
    /// Vservers after `web` (see [`Lan::add_vserver`]): name, address.
    more: Vec<(String, Ipv4Addr)>,
    /// Top-level lines (see [`Lan::add_line`]).
    top: Vec<String>,
}

impl Lan {
    /// Build the LAN for test number `k` (distinct per test): switch, three
    /// boxes, original host, client; a service in each box. No daemons yet.
    pub fn new(k: u8, opts: Opts) -> Lan {
        let dir = TempDir::new(&format!("net-k{k}"));
        let syslog = Syslog::bind(&dir.path("log.sock"));
        let mut lan = Lan {
            k,
            opts,
            daemons: vec![None, None, None],
            services: Vec::new(),
            syslog,
            macs: Vec::new(),
            nft: Vec::new(),
            namespaces: Vec::new(),
            dir,
            more: Vec::new(),
            top: Vec::new(),
        };
        let sw = Netns::new(&lan.tag("sw"));
        sw.bridge("br0");
        for (host, part) in [("f1", 11), ("f2", 12), ("f3", 13), ("or", 60), ("cl", 100)] {
            let ns = Netns::new(&lan.tag(host));
            sw.plug("br0", &format!("p-{host}"), &ns.name, "eth0");
            if lan.opts.ipv6 {
                // No duplicate address detection on the LAN: addresses
                // (link-local ones included) are usable at once.
                for k in ["all", "default", "eth0"] {
                    let key = format!("net.ipv6.conf.{k}.accept_dad=0");
                    sh(&["ip", "netns", "exec", &ns.name, "sysctl", "-qw", &key]);
                }
                let a6 = format!("fd81:{k:x}::{part}/64");
                ns.ip(&["-6", "addr", "add", &a6, "dev", "eth0", "nodad"]);
            }
            if lan.opts.ipv6 && lan.opts.ipv6_only {
                ns.up("eth0");
            } else {
                ns.bring_up("eth0", &format!("10.81.{k}.{part}/24"));
            }
            lan.macs.push((mac(&ns.name, "eth0"), host.to_owned()));
            lan.namespaces.push(ns);
        }
        // Deleted last: its ports go with it, and with them the boxes' ends.
        lan.namespaces.insert(0, sw);
        for b in BOXES {
            let s = Service::start(&lan.ns(b), b);
            lan.services.push((b.to_owned(), s));
        }
        lan
    }

    /// The namespace tag of host `h`: `k<K>-<h>`.
    fn tag(&self, h: &str) -> String {
        format!("k{}-{h}", self.k)
    }

    /// The namespace name of host `h` (`f1`, `f2`, `f3`, `or`, `cl`, `sw`).
    pub fn ns(&self, h: &str) -> String {
        ns_name(&self.tag(h))
    }

    /// The test's directory (configs, sockets, hook scripts).
    pub fn dir(&self) -> &Path {
        &self.dir.0
    }

    /// The vserver address (IPv4; see [`Lan::vip_ip`]).
    pub fn vip(&self) -> Ipv4Addr {
        Ipv4Addr::new(10, 81, self.k, 50)
    }

    /// `web`'s address: [`Lan::vip`], or `fd81:K::50` with [`Opts::ipv6`].
    pub fn vip_ip(&self) -> IpAddr {
        if self.opts.ipv6 {
            IpAddr::V6(Ipv6Addr::new(0xfd81, self.k as u16, 0, 0, 0, 0, 0, 0x50))
        } else {
            IpAddr::V4(self.vip())
        }
    }

    /// The hosts talk IPv6 only ([`Opts::ipv6_only`]).
    fn six_only(&self) -> bool {
        self.opts.ipv6 && self.opts.ipv6_only
    }

    /// `web`'s address with its prefix, as the configuration writes it.
    fn vip_cidr(&self) -> String {
        match self.vip_ip() {
            IpAddr::V4(a) => format!("{a}/24"),
            IpAddr::V6(a) => format!("{a}/64"),
        }
    }

    /// MAC → host name for every host.
    pub fn macs(&self) -> Vec<([u8; 6], String)> {
        self.macs.clone()
    }

    /// Box index of `f1`..`f3`.
    pub fn index(name: &str) -> usize {
        BOXES.iter().position(|b| *b == name).expect("box name")
    }

    /// The configuration file of box `i`.
    pub fn config(&self, i: usize) -> PathBuf {
        let k = self.k;
        let mut s = format!(
            "# bongoyo namespace test {name}\n\
             cluster {name}\n\
             key-file insecure\n\
             interface eth0\n\
             multicast {group} port 7607\n",
            name = format_args!("net-{}k{k}", std::process::id()),
            group = if self.six_only() {
                "ff02::7607"
            } else {
                "239.255.76.7"
            },
        );
        if let Some(h) = &self.opts.hello {
            s += &format!("hello {h}\n");
        }
        for l in &self.top {
            s += l;
            s += "\n";
        }
        let node = |part: u8| {
            if self.six_only() {
                format!("fd81:{k:x}::{part}")
            } else {
                format!("10.81.{k}.{part}")
            }
        };
        s += &format!(
            "node f1 {n1} priority 200\n\
             node f2 {n2}\n\
             node f3 {n3}\n\
             vserver web {{\n\
             \x20   address {vip}\n\
             \x20   interface eth0\n\
             \x20   service {service}\n",
            vip = self.vip_cidr(),
            n1 = node(11),
            n2 = node(12),
            n3 = node(13),
            service = self
                .opts
                .service
                .clone()
                .unwrap_or_else(|| format!("tcp {PORT}"))
        );
        // The original host's MAC, as an operator whose vserver has one
        // writes it (an unknown MAC is never taken for the original).
        if let Some((m, _)) = self.macs.iter().find(|(_, n)| n == "or") {
            s += &format!(
                "    original-mac {:02x}:{:02x}:{:02x}:{:02x}:{:02x}:{:02x}\n",
                m[0], m[1], m[2], m[3], m[4], m[5]
            );
        }
        let dir = self.dir().display().to_string();
        for l in &self.opts.vserver_extra {
            s += "    ";
            s += &l.replace("{box}", BOXES[i]).replace("{dir}", &dir);
            s += "\n";
        }
        s += "}\n";
        for (name, addr) in &self.more {
            s += &format!(
                "vserver {name} {{\n    address {addr}/24\n    interface eth0\n    service tcp {PORT}\n}}\n"
            );
        }
        let p = self.dir.path(&format!("{}.conf", BOXES[i]));
        std::fs::write(&p, s).expect("write config");
        p
    }

    /// The control socket of box `i`.
    pub fn socket(&self, i: usize) -> PathBuf {
        self.dir.path(&format!("{}.sock", BOXES[i]))
    }

    /// Start the daemon of box `i` (a daemon already there is killed).
    pub fn start(&mut self, i: usize) {
        let conf = self.config(i);
        let d = Daemon::start(
            &self.ns(BOXES[i]),
            &conf,
            BOXES[i],
            &self.socket(i),
            &self.dir.path("log.sock"),
            Stdio::null(),
        );
        self.daemons[i] = Some(d);
    }

    /// Start box `i`'s daemon as `ip netns exec NS ARGV...` with `envs`
    /// (a daemon already there is killed): another program in the place
    /// of ours, or ours from another build. Its stderr goes to `out`.
    pub fn start_argv(&mut self, i: usize, argv: &[String], envs: &[(String, String)], out: Stdio) {
        self.daemons[i] = None;
        let d = Daemon::exec(&self.ns(BOXES[i]), argv, envs, out);
        self.daemons[i] = Some(d);
    }

    /// The pid of box `i`'s daemon (the process started, not its
    /// children), if it runs.
    pub fn pid(&self, i: usize) -> Option<u32> {
        self.daemons[i]
            .as_ref()
            .map(|d| d.pid())
            .filter(|&p| p != 0)
    }

    /// Start all three daemons.
    pub fn start_all(&mut self) {
        for i in 0..3 {
            self.start(i);
        }
    }

    /// Send `sig` to box `i`'s daemon.
    pub fn signal(&self, i: usize, sig: Signal) {
        if let Some(d) = &self.daemons[i] {
            d.signal(sig);
        }
    }

    /// kill -9 box `i`'s daemon and reap it.
    pub fn kill9(&mut self, i: usize) {
        self.daemons[i] = None;
    }

    /// SIGTERM box `i`'s daemon; true if it exited within `limit`.
    pub fn stop_gracefully(&mut self, i: usize, limit: Duration) -> bool {
        self.signal(i, Signal::SIGTERM);
        let exited = self.daemons[i]
            .as_mut()
            .and_then(|d| d.wait(limit))
            .is_some();
        if exited {
            self.daemons[i] = None;
        }
        exited
    }

    /// True while box `i`'s daemon runs.
    pub fn running(&mut self, i: usize) -> bool {
        self.daemons[i].as_mut().is_some_and(|d| d.alive())
    }

    /// The box dies: its link goes down (its neighbours lose it at once).
    pub fn link_down(&self, h: &str) {
        sh(&["ip", "-n", &self.ns(h), "link", "set", "eth0", "down"]);
    }

    /// Host `h`'s link comes back up (after [`Lan::link_down`]); the
    /// multicast route goes with the link and is put back.
    pub fn link_up(&self, h: &str) {
        let ns = self.ns(h);
        sh(&["ip", "-n", &ns, "link", "set", "eth0", "up"]);
        sh(&[
            "ip",
            "-n",
            &ns,
            "route",
            "replace",
            "224.0.0.0/4",
            "dev",
            "eth0",
        ]);
    }

    /// One more vserver after `web`, in every box's configuration from the
    /// next daemon start on: `name` at 10.81.K.(51 + n)/24 on eth0, the
    /// same service (tcp [`PORT`]), no original host. Its address.
    pub fn add_vserver(&mut self, name: &str) -> Ipv4Addr {
        let addr = Ipv4Addr::new(10, 81, self.k, 51 + self.more.len() as u8);
        self.more.push((name.to_owned(), addr));
        addr
    }

    /// The options every box's configuration is written from (changed
    /// ones take effect at the next [`Lan::config`] or daemon start).
    pub fn opts_mut(&mut self) -> &mut Opts {
        &mut self.opts
    }

    /// One more top-level line (`track-interface trk0`) in every box's
    /// configuration from the next daemon start on.
    pub fn add_line(&mut self, line: &str) {
        self.top.push(line.to_owned());
    }

    /// Every vserver, `web` first: name and address.
    pub fn vservers(&self) -> Vec<(String, Ipv4Addr)> {
        let mut v = vec![("web".to_owned(), self.vip())];
        v.extend(self.more.iter().cloned());
        v
    }

    /// Put the VIP on host `h`'s eth0 by hand (as the original host or a
    /// takeover would).
    pub fn add_vip(&self, h: &str) {
        let vip = format!("{}/24", self.vip());
        sh(&["ip", "-n", &self.ns(h), "addr", "add", &vip, "dev", "eth0"]);
    }

    /// Take the VIP off host `h`'s eth0 by hand.
    pub fn del_vip(&self, h: &str) {
        let vip = format!("{}/24", self.vip());
        sh(&["ip", "-n", &self.ns(h), "addr", "del", &vip, "dev", "eth0"]);
    }

    /// A gratuitous ARP for the VIP from host `h`'s eth0, as a host sends
    /// when an address comes up: the client's cache follows it.
    pub fn announce(&self, h: &str) {
        let ns = self.ns(h);
        let (vip, mac) = (self.vip(), mac(&ns, "eth0"));
        run_in(&ns, move || {
            let idx = ifaddr::ifindex("eth0").expect("ifindex");
            let s = ArpSocket::open(idx, mac).expect("arp socket");
            s.announce(vip).expect("announce");
        });
    }

    /// A host without the key forges ARP from host `h` for `d`: every 20 ms,
    /// to each box's MAC, a reply "VIP is-at `claimed`" shaped as an answer
    /// to that box's own probe (the only answers a box believes), so only
    /// the boxes hear it and the client's cache stays clean.
    pub fn forge_arp(&self, h: &str, claimed: [u8; 6], d: Duration) -> JoinHandle<u32> {
        let ns = self.ns(h);
        let vip = self.vip();
        let boxes: Vec<[u8; 6]> = self
            .macs
            .iter()
            .filter(|(_, n)| BOXES.contains(&n.as_str()))
            .map(|(m, _)| *m)
            .collect();
        let own = mac(&ns, "eth0");
        spawn_in(&ns, move || {
            let idx = ifaddr::ifindex("eth0").expect("ifindex");
            let s = ArpSocket::open(idx, own).expect("arp socket");
            let end = Instant::now() + d;
            let mut sent = 0;
            while Instant::now() < end {
                for &m in &boxes {
                    let p = ArpPacket {
                        op: OP_REPLY,
                        sender_mac: claimed,
                        sender_ip: vip,
                        target_mac: m,
                        target_ip: Ipv4Addr::UNSPECIFIED,
                    };
                    sent += u32::from(s.send_to(&p, m).is_ok());
                }
                std::thread::sleep(Duration::from_millis(20));
            }
            sent
        })
    }

    /// Which hosts hold the VIP in their kernel right now.
    pub fn holders(&self) -> Vec<String> {
        let vip = self.vip_ip().to_string();
        ["f1", "f2", "f3", "or"]
            .into_iter()
            .filter(|h| has_addr(&self.ns(h), &vip))
            .map(str::to_owned)
            .collect()
    }

    /// Wait until `h` alone holds the VIP, at most `limit`.
    pub fn wait_sole_holder(&self, h: &str, limit: Duration) -> bool {
        eventually(limit, || (self.holders() == [h]).then_some(())).is_some()
    }

    /// `bongoyo status` of box `i` (text), or the error.
    pub fn status(&self, i: usize) -> String {
        self.ctl(i, &["status"]).1
    }

    /// Run `bongoyo ARGS... -s SOCK` against box `i`'s daemon: (exit code,
    /// stdout and stderr).
    pub fn ctl(&self, i: usize, args: &[&str]) -> (Option<i32>, String) {
        let sock = self.socket(i);
        let mut v = args.to_vec();
        v.extend(["-s", sock.to_str().expect("utf-8 path")]);
        let o = client(&v);
        (
            o.status.code(),
            format!(
                "{}{}",
                String::from_utf8_lossy(&o.stdout),
                String::from_utf8_lossy(&o.stderr)
            ),
        )
    }

    /// True if some daemon's log line so far contains `needle`.
    pub fn logged(&self, needle: &str) -> bool {
        self.syslog.find(|l| l.contains(needle)).is_some()
    }

    /// When (ms since the log sink started, as stamped on receipt) each
    /// daemon log line containing `needle` arrived, in order.
    pub fn log_times(&self, needle: &str) -> Vec<u64> {
        self.syslog.times(needle)
    }

    /// The daemons' last `n` log lines, each stamped `+<ms>ms` (since the
    /// log sink started, at the start of [`Lan::new`]).
    pub fn log_tail(&self, n: usize) -> Vec<String> {
        self.syslog.tail(n)
    }

    /// The boss named by box `i`'s status, if any.
    pub fn boss_seen_by(&self, i: usize) -> Option<String> {
        let s = self.status(i);
        let line = s.lines().find(|l| l.starts_with("boss "))?;
        let b = line.split_whitespace().nth(1)?;
        (b != "none").then(|| b.to_owned())
    }

    /// Start the client in the client namespace.
    pub fn client(&self) -> Client {
        Client::start(&self.ns("cl"), self.vip_ip(), self.macs())
    }

    /// Start the client with a TCP attempt every `slot_ms` instead of
    /// [`SLOT_MS`].
    pub fn client_every(&self, slot_ms: u64) -> Client {
        Client::start_every(&self.ns("cl"), self.vip_ip(), self.macs(), slot_ms)
    }

    /// The original host comes back: the VIP on its eth0, its own service,
    /// and a gratuitous ARP as a host does when an address comes up.
    pub fn original_back(&mut self) {
        let s = Service::start(&self.ns("or"), "or");
        self.services.push(("or".to_owned(), s));
        self.add_vip("or");
        self.announce("or");
    }

    /// Drop all cluster traffic (UDP 7607) of host `h` to and from every
    /// other host, with nftables inside `h`'s namespace.
    pub fn partition(&mut self, h: &str) {
        let ns = self.ns(h);
        let rules = "table inet bgypart {\n\
              chain in { type filter hook input priority 0; udp dport 7607 drop; }\n\
              chain out { type filter hook output priority 0; udp dport 7607 drop; }\n\
            }\n";
        let f = self.dir.path(&format!("part-{h}.nft"));
        std::fs::write(&f, rules).expect("write nft rules");
        sh(&["ip", "netns", "exec", &ns, "nft", "-f", f.to_str().unwrap()]);
        self.nft.push(ns);
    }

    /// Heal the partition of host `h`.
    pub fn heal(&mut self, h: &str) {
        let ns = self.ns(h);
        sh(&[
            "ip", "netns", "exec", &ns, "nft", "delete", "table", "inet", "bgypart",
        ]);
        self.nft.retain(|n| *n != ns);
    }

    /// Write an executable script in the test directory; its path.
    pub fn script(&self, name: &str, body: &str) -> PathBuf {
        let p = self.dir.path(name);
        write_script(&p, body);
        p
    }

    /// Everything a person needs to see when a test fails: the client's
    /// view, who holds the VIP, each daemon's status, the daemons' log.
    pub fn report(&self, view: &View, from: u64) -> String {
        let mut s = format!(
            "\n--- client view from {from}ms ---\n{}",
            view.summary(from)
        );
        s += &format!("--- VIP held by {:?} ---\n", self.holders());
        for (i, name) in BOXES.iter().enumerate() {
            if self.daemons[i].is_some() {
                s += &format!("--- status {name} ---\n{}", self.status(i));
            }
        }
        s += "--- syslog (last 80) ---\n";
        for l in self.syslog.tail(80) {
            s += &l;
            s += "\n";
        }
        s
    }
}

impl Drop for Lan {
    fn drop(&mut self) {
        self.daemons.clear();
        self.services.clear();
        while let Some(ns) = self.namespaces.pop() {
            drop(ns);
        }
        // The log reader and the directory follow as fields.
    }
}
