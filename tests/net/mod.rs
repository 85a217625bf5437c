//! Fail-over tests on a real kernel (DESIGN sections 4, 5 and 9): a small
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
//! Everything created is recorded (namespace names, daemon PIDs, threads)
//! and removed in `Drop`, so a failed assertion still cleans up. 10.x
//! addresses exist only inside these namespaces.
//!
//! The client's view is the measure: the prober starts a TCP connection to
//! VIP:8080 every [`SLOT_MS`] (a pool of threads, so a slow attempt never
//! delays the next one) and records which box answered; the ARP watcher
//! probes the VIP every [`ARP_MS`] and records the set of MACs that reply.
#![allow(dead_code)]

use std::io::{Read, Write};
use std::net::{Ipv4Addr, SocketAddr, SocketAddrV4, TcpListener, TcpStream};
use std::os::unix::net::UnixDatagram;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use bongoyo::os::arp::{ArpSocket, OP_REPLY};
use bongoyo::os::ifaddr;

/// The daemon under test.
pub const BIN: &str = env!("CARGO_BIN_EXE_bongoyo");
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

/// True when running as root (namespaces); otherwise prints a clear SKIP.
pub fn root_or_skip(test: &str) -> bool {
    let out = Command::new("id").arg("-u").output();
    let root = matches!(out, Ok(o) if o.stdout.trim_ascii() == b"0");
    if !root {
        eprintln!("SKIP {test}: needs root for network namespaces");
    }
    root
}

/// True when `nft` is installed; otherwise prints a clear SKIP.
pub fn nft_or_skip(test: &str) -> bool {
    let ok = Command::new("nft")
        .arg("--version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .map(|s| s.success())
        .unwrap_or(false);
    if !ok {
        eprintln!("SKIP {test}: nft (package nftables) is not installed; `make deps` installs it");
    }
    ok
}

/// Run a command that must succeed; its stdout.
pub fn sh(args: &[&str]) -> String {
    let out = Command::new(args[0])
        .args(&args[1..])
        .stdin(Stdio::null())
        .output()
        .unwrap_or_else(|e| panic!("spawn {args:?}: {e}"));
    assert!(
        out.status.success(),
        "{args:?} failed: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Milliseconds since `t0`.
fn ms_since(t0: Instant) -> u64 {
    t0.elapsed().as_millis() as u64
}

/// Run `f` on a new thread inside namespace `ns` (network namespaces are per
/// thread; threads it spawns inherit the namespace).
pub fn spawn_in<T: Send + 'static>(
    ns: &str,
    f: impl FnOnce() -> T + Send + 'static,
) -> JoinHandle<T> {
    let path = format!("/var/run/netns/{ns}");
    std::thread::spawn(move || {
        let file = std::fs::File::open(&path).unwrap_or_else(|e| panic!("open {path}: {e}"));
        nix::sched::setns(&file, nix::sched::CloneFlags::CLONE_NEWNET).expect("setns");
        f()
    })
}

/// How a test wants the cluster configured.
#[derive(Clone, Default)]
pub struct Opts {
    /// `hello` (None: the daemon's default).
    pub hello: Option<String>,
    /// Extra lines inside `vserver web { }`; `{box}` is replaced by the
    /// box's name and `{dir}` by the test's directory.
    pub vserver_extra: Vec<String>,
}

/// A TCP service answering its box name, in one namespace.
struct Service {
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl Service {
    fn start(ns: &str, name: &str) -> Service {
        let stop = Arc::new(AtomicBool::new(false));
        let (flag, name) = (stop.clone(), name.to_owned());
        let (tx, rx) = std::sync::mpsc::channel();
        let thread = spawn_in(ns, move || {
            // 0.0.0.0: it answers on the VIP once the alias is there.
            let l = TcpListener::bind(("0.0.0.0", PORT)).expect("bind service");
            l.set_nonblocking(true).expect("nonblocking");
            let _ = tx.send(());
            while !flag.load(Ordering::Relaxed) {
                match l.accept() {
                    Ok((mut s, _)) => {
                        let _ = s.set_nonblocking(false);
                        let _ = s.write_all(name.as_bytes());
                    }
                    Err(_) => std::thread::sleep(Duration::from_millis(2)),
                }
            }
        });
        rx.recv_timeout(Duration::from_secs(5))
            .expect("service did not bind");
        Service {
            stop,
            thread: Some(thread),
        }
    }
}

impl Drop for Service {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// Syslog lines of every daemon of one cluster, collected by a thread.
struct SyslogSink {
    lines: Arc<Mutex<Vec<String>>>,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl SyslogSink {
    fn bind(path: &Path) -> SyslogSink {
        let sock = UnixDatagram::bind(path).expect("bind syslog socket");
        sock.set_read_timeout(Some(Duration::from_millis(50)))
            .expect("timeout");
        let lines = Arc::new(Mutex::new(Vec::new()));
        let stop = Arc::new(AtomicBool::new(false));
        let (l, s) = (lines.clone(), stop.clone());
        let t0 = Instant::now();
        let thread = std::thread::spawn(move || {
            let mut buf = [0u8; 2048];
            while !s.load(Ordering::Relaxed) {
                if let Ok(n) = sock.recv(&mut buf) {
                    let line = format!(
                        "+{:>6}ms {}",
                        ms_since(t0),
                        String::from_utf8_lossy(&buf[..n])
                    );
                    if let Ok(mut v) = l.lock() {
                        // Bounded: a runaway daemon must not eat the memory.
                        if v.len() < 20_000 {
                            v.push(line);
                        }
                    }
                }
            }
        });
        SyslogSink {
            lines,
            stop,
            thread: Some(thread),
        }
    }
}

impl Drop for SyslogSink {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
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
    stop: Arc<AtomicBool>,
    attempts: Arc<Mutex<Vec<Attempt>>>,
    arp: Arc<Mutex<Vec<ArpInterval>>>,
    threads: Vec<JoinHandle<()>>,
}

impl Client {
    /// Start probing `vip:PORT` from namespace `ns`; `names` maps MACs to
    /// host names.
    pub fn start(ns: &str, vip: Ipv4Addr, names: Vec<([u8; 6], String)>) -> Client {
        let t0 = Instant::now();
        let stop = Arc::new(AtomicBool::new(false));
        let attempts = Arc::new(Mutex::new(Vec::new()));
        let arp = Arc::new(Mutex::new(Vec::new()));
        let mut threads = Vec::new();
        let to = SocketAddr::V4(SocketAddrV4::new(vip, PORT));
        for w in 0..WORKERS {
            let (stop, out) = (stop.clone(), attempts.clone());
            threads.push(spawn_in(ns, move || {
                let mut slot = w;
                // Bounded: at most ten minutes of slots.
                while !stop.load(Ordering::Relaxed) && slot * SLOT_MS < 600_000 {
                    let at = slot * SLOT_MS;
                    let now = ms_since(t0);
                    if now < at {
                        std::thread::sleep(Duration::from_millis(at - now));
                    }
                    let who = attempt(to);
                    if let Ok(mut v) = out.lock() {
                        v.push(Attempt { at, who });
                    }
                    slot += WORKERS;
                }
            }));
        }
        let (stop2, out) = (stop.clone(), arp.clone());
        threads.push(spawn_in(ns, move || {
            let idx = ifaddr::ifindex("eth0").expect("client eth0");
            let mac = names
                .iter()
                .find(|(_, n)| n == "cl")
                .map(|(m, _)| *m)
                .expect("client MAC");
            let sock = ArpSocket::open(idx, mac).expect("ARP socket");
            let mut k = 0u64;
            while !stop2.load(Ordering::Relaxed) && k * ARP_MS < 600_000 {
                let at = k * ARP_MS;
                let _ = sock.probe(vip);
                let mut seen: Vec<String> = Vec::new();
                while ms_since(t0) < at + ARP_MS {
                    match sock.recv() {
                        Ok(Some(p)) if p.op == OP_REPLY && p.sender_ip == vip => {
                            let n = names
                                .iter()
                                .find(|(m, _)| *m == p.sender_mac)
                                .map(|(_, n)| n.clone())
                                .unwrap_or_else(|| format!("{:02x?}", p.sender_mac));
                            if !seen.contains(&n) {
                                seen.push(n);
                            }
                        }
                        Ok(Some(_)) => {}
                        _ => std::thread::sleep(Duration::from_millis(2)),
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
            stop,
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
        self.halt();
        self.view()
    }

    fn halt(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        for t in self.threads.drain(..) {
            let _ = t.join();
        }
    }
}

impl Drop for Client {
    fn drop(&mut self) {
        self.halt();
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

    /// A short readable summary for assertion messages.
    pub fn summary(&self, from: u64) -> String {
        let mut s = String::new();
        let mut prev: Option<(Option<String>, u64, u64)> = None;
        for a in self.attempts.iter().filter(|a| a.at >= from) {
            match &mut prev {
                Some((w, _, end)) if *w == a.who => *end = a.at,
                _ => {
                    if let Some((w, b, e)) = prev.take() {
                        s += &format!("  tcp {b}..{e}ms: {}\n", w.as_deref().unwrap_or("-"));
                    }
                    prev = Some((a.who.clone(), a.at, a.at));
                }
            }
        }
        if let Some((w, b, e)) = prev {
            s += &format!("  tcp {b}..{e}ms: {}\n", w.as_deref().unwrap_or("-"));
        }
        let mut prev: Option<(Vec<String>, u64, u64)> = None;
        for i in self.arp.iter().filter(|i| i.at >= from) {
            match &mut prev {
                Some((m, _, end)) if *m == i.macs => *end = i.at,
                _ => {
                    if let Some((m, b, e)) = prev.take() {
                        s += &format!("  arp {b}..{e}ms: {m:?}\n");
                    }
                    prev = Some((i.macs.clone(), i.at, i.at));
                }
            }
        }
        if let Some((m, b, e)) = prev {
            s += &format!("  arp {b}..{e}ms: {m:?}\n");
        }
        s
    }
}

/// One test's LAN, daemons and services; everything removed on drop.
pub struct Lan {
    /// Namespace name prefix (`bn<pid>k<K>`).
    pub prefix: String,
    /// The third octet: 10.81.K.0/24.
    pub k: u8,
    /// The test's directory (configs, sockets, hook scripts).
    pub dir: PathBuf,
    opts: Opts,
    created: Vec<String>,
    daemons: Vec<Option<Child>>,
    services: Vec<(String, Service)>,
    syslog: Option<SyslogSink>,
    macs: Vec<([u8; 6], String)>,
    nft: Vec<String>,
}

impl Lan {
    /// Build the LAN for test number `k` (distinct per test): switch, three
    /// boxes, original host, client; a service in each box. No daemons yet.
    pub fn new(k: u8, opts: Opts) -> Lan {
        let prefix = format!("bn{}k{k}", std::process::id());
        let dir = std::env::temp_dir().join(format!("bongoyo-net-{prefix}"));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("test dir");
        let mut lan = Lan {
            prefix,
            k,
            dir,
            opts,
            created: Vec::new(),
            daemons: vec![None, None, None],
            services: Vec::new(),
            syslog: None,
            macs: Vec::new(),
            nft: Vec::new(),
        };
        lan.syslog = Some(SyslogSink::bind(&lan.dir.join("log.sock")));
        let sw = lan.add_ns("sw");
        sh(&["ip", "-n", &sw, "link", "add", "br0", "type", "bridge"]);
        sh(&["ip", "-n", &sw, "link", "set", "br0", "up"]);
        for (host, part) in [("f1", 11), ("f2", 12), ("f3", 13), ("or", 60), ("cl", 100)] {
            let ns = lan.add_ns(host);
            let port = format!("p-{host}");
            sh(&[
                "ip", "-n", &sw, "link", "add", &port, "type", "veth", "peer", "name", "eth0",
                "netns", &ns,
            ]);
            sh(&["ip", "-n", &sw, "link", "set", &port, "master", "br0", "up"]);
            let addr = format!("10.81.{k}.{part}/24");
            sh(&["ip", "-n", &ns, "addr", "add", &addr, "dev", "eth0"]);
            sh(&["ip", "-n", &ns, "link", "set", "eth0", "up"]);
            sh(&[
                "ip",
                "-n",
                &ns,
                "route",
                "add",
                "224.0.0.0/4",
                "dev",
                "eth0",
            ]);
            lan.macs.push((mac(&ns, "eth0"), host.to_owned()));
        }
        for b in BOXES {
            let s = Service::start(&lan.ns(b), b);
            lan.services.push((b.to_owned(), s));
        }
        lan
    }

    fn add_ns(&mut self, host: &str) -> String {
        let name = self.ns(host);
        let _ = Command::new("ip")
            .args(["netns", "del", &name])
            .stderr(Stdio::null())
            .status();
        sh(&["ip", "netns", "add", &name]);
        self.created.push(name.clone());
        sh(&["ip", "-n", &name, "link", "set", "lo", "up"]);
        name
    }

    /// The namespace name of host `h` (`f1`, `f2`, `f3`, `or`, `cl`, `sw`).
    pub fn ns(&self, h: &str) -> String {
        format!("{}-{h}", self.prefix)
    }

    /// The vserver address.
    pub fn vip(&self) -> Ipv4Addr {
        Ipv4Addr::new(10, 81, self.k, 50)
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
            "# bongoyo namespace test {prefix}\n\
             cluster net-{prefix}\n\
             key-file insecure\n\
             interface eth0\n\
             multicast 239.255.76.7 port 7607\n",
            prefix = self.prefix
        );
        if let Some(h) = &self.opts.hello {
            s += &format!("hello {h}\n");
        }
        s += &format!(
            "node f1 10.81.{k}.11 priority 200\n\
             node f2 10.81.{k}.12\n\
             node f3 10.81.{k}.13\n\
             vserver web {{\n\
             \x20   address 10.81.{k}.50/24\n\
             \x20   interface eth0\n\
             \x20   service tcp {PORT}\n"
        );
        let dir = self.dir.display().to_string();
        for l in &self.opts.vserver_extra {
            s += "    ";
            s += &l.replace("{box}", BOXES[i]).replace("{dir}", &dir);
            s += "\n";
        }
        s += "}\n";
        let p = self.dir.join(format!("{}.conf", BOXES[i]));
        std::fs::write(&p, s).expect("write config");
        p
    }

    /// The control socket of box `i`.
    pub fn socket(&self, i: usize) -> PathBuf {
        self.dir.join(format!("{}.sock", BOXES[i]))
    }

    /// Start the daemon of box `i`.
    pub fn start(&mut self, i: usize) {
        let conf = self.config(i);
        let child = Command::new("ip")
            .args(["netns", "exec", &self.ns(BOXES[i]), BIN, "run", "-f", "-c"])
            .arg(&conf)
            .args(["-n", BOXES[i], "-s"])
            .arg(self.socket(i))
            .env("BONGOYO_SYSLOG_SOCKET", self.dir.join("log.sock"))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn daemon");
        if let Some(old) = self.daemons[i].replace(child) {
            reap(old);
        }
    }

    /// Start all three daemons.
    pub fn start_all(&mut self) {
        for i in 0..3 {
            self.start(i);
        }
    }

    /// PID of box `i`'s daemon (`ip netns exec` execs it, so it is the child).
    pub fn pid(&self, i: usize) -> Option<i32> {
        self.daemons[i].as_ref().map(|c| c.id() as i32)
    }

    /// Send `sig` to box `i`'s daemon.
    pub fn signal(&self, i: usize, sig: nix::sys::signal::Signal) {
        if let Some(p) = self.pid(i) {
            let _ = nix::sys::signal::kill(nix::unistd::Pid::from_raw(p), sig);
        }
    }

    /// kill -9 box `i`'s daemon and reap it.
    pub fn kill9(&mut self, i: usize) {
        if let Some(c) = self.daemons[i].take() {
            reap(c);
        }
    }

    /// SIGTERM box `i`'s daemon; true if it exited within `limit`.
    pub fn stop_gracefully(&mut self, i: usize, limit: Duration) -> bool {
        self.signal(i, nix::sys::signal::Signal::SIGTERM);
        let end = Instant::now() + limit;
        while Instant::now() < end {
            if let Some(c) = self.daemons[i].as_mut() {
                if let Ok(Some(_)) = c.try_wait() {
                    self.daemons[i] = None;
                    return true;
                }
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        false
    }

    /// The box dies: its link goes down (its neighbours lose it at once).
    pub fn link_down(&self, h: &str) {
        sh(&["ip", "-n", &self.ns(h), "link", "set", "eth0", "down"]);
    }

    /// Which hosts hold the VIP in their kernel right now.
    pub fn holders(&self) -> Vec<String> {
        let want = format!(" {}/", self.vip());
        let mut v = Vec::new();
        for h in ["f1", "f2", "f3", "or"] {
            let out = Command::new("ip")
                .args(["-n", &self.ns(h), "-4", "-o", "addr", "show"])
                .output();
            if let Ok(o) = out {
                if String::from_utf8_lossy(&o.stdout).contains(&want) {
                    v.push(h.to_owned());
                }
            }
        }
        v
    }

    /// `bongoyo status` of box `i` (text), or the error.
    pub fn status(&self, i: usize) -> String {
        let out = Command::new(BIN)
            .args(["status", "-s"])
            .arg(self.socket(i))
            .stdin(Stdio::null())
            .output();
        match out {
            Ok(o) => format!(
                "{}{}",
                String::from_utf8_lossy(&o.stdout),
                String::from_utf8_lossy(&o.stderr)
            ),
            Err(e) => format!("status: {e}"),
        }
    }

    /// Run `bongoyo ARGS... -s SOCK` against box `i`'s daemon: (exit code,
    /// stdout and stderr).
    pub fn ctl(&self, i: usize, args: &[&str]) -> (Option<i32>, String) {
        let out = Command::new(BIN)
            .args(args)
            .arg("-s")
            .arg(self.socket(i))
            .stdin(Stdio::null())
            .output();
        match out {
            Ok(o) => (
                o.status.code(),
                format!(
                    "{}{}",
                    String::from_utf8_lossy(&o.stdout),
                    String::from_utf8_lossy(&o.stderr)
                ),
            ),
            Err(e) => (None, format!("{args:?}: {e}")),
        }
    }

    /// True if some daemon's log line so far contains `needle`.
    pub fn logged(&self, needle: &str) -> bool {
        self.syslog.as_ref().is_some_and(|sl| {
            sl.lines
                .lock()
                .map(|v| v.iter().any(|l| l.contains(needle)))
                .unwrap_or(false)
        })
    }

    /// When (ms since the log sink started, as stamped on receipt) each
    /// daemon log line containing `needle` arrived, in order.
    pub fn log_times(&self, needle: &str) -> Vec<u64> {
        let Some(sl) = self.syslog.as_ref() else {
            return Vec::new();
        };
        let Ok(v) = sl.lines.lock() else {
            return Vec::new();
        };
        v.iter()
            .filter(|l| l.contains(needle))
            .filter_map(|l| {
                let t = l.strip_prefix('+')?.split("ms").next()?;
                t.trim().parse().ok()
            })
            .collect()
    }

    /// True while box `i`'s daemon runs.
    pub fn running(&mut self, i: usize) -> bool {
        self.daemons[i]
            .as_mut()
            .is_some_and(|c| matches!(c.try_wait(), Ok(None)))
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
        Client::start(&self.ns("cl"), self.vip(), self.macs())
    }

    /// The original host comes back: the VIP on its eth0, its own service,
    /// and a gratuitous ARP as a host does when an address comes up.
    pub fn original_back(&mut self) {
        let ns = self.ns("or");
        let s = Service::start(&ns, "or");
        self.services.push(("or".to_owned(), s));
        let vip = self.vip();
        sh(&[
            "ip",
            "-n",
            &ns,
            "addr",
            "add",
            &format!("{vip}/24"),
            "dev",
            "eth0",
        ]);
        let mac = mac(&ns, "eth0");
        spawn_in(&ns, move || {
            if let Ok(idx) = ifaddr::ifindex("eth0") {
                if let Ok(s) = ArpSocket::open(idx, mac) {
                    let _ = s.announce(vip);
                }
            }
        })
        .join()
        .expect("announce thread");
    }

    /// Drop all cluster traffic (UDP 7607) of host `h` to and from every
    /// other host, with nftables inside `h`'s namespace.
    pub fn partition(&mut self, h: &str) {
        let ns = self.ns(h);
        let rules = "table inet bgypart {\n\
              chain in { type filter hook input priority 0; udp dport 7607 drop; }\n\
              chain out { type filter hook output priority 0; udp dport 7607 drop; }\n\
            }\n";
        let f = self.dir.join(format!("part-{h}.nft"));
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
        use std::os::unix::fs::PermissionsExt;
        let p = self.dir.join(name);
        std::fs::write(&p, body).expect("write script");
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o755)).expect("chmod");
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
        if let Some(sl) = &self.syslog {
            if let Ok(v) = sl.lines.lock() {
                for l in v.iter().skip(v.len().saturating_sub(80)) {
                    s += l;
                    s += "\n";
                }
            }
        }
        s
    }
}

impl Drop for Lan {
    fn drop(&mut self) {
        for c in self.daemons.iter_mut().filter_map(Option::take) {
            reap(c);
        }
        self.services.clear();
        self.syslog = None;
        for n in self.created.iter().rev() {
            let _ = Command::new("ip").args(["netns", "del", n]).status();
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// SIGKILL (works on a stopped process too) and reap.
fn reap(mut c: Child) {
    let _ = c.kill();
    let _ = c.wait();
}

/// The MAC of `dev` in namespace `ns`.
pub fn mac(ns: &str, dev: &str) -> [u8; 6] {
    let out = sh(&["ip", "-n", ns, "-o", "link", "show", dev]);
    let at = out.find("link/ether ").expect("ether link") + "link/ether ".len();
    let mut mac = [0u8; 6];
    for (i, part) in out[at..at + 17].split(':').enumerate() {
        mac[i] = u8::from_str_radix(part, 16).expect("hex");
    }
    mac
}

/// Poll `f` every 50 ms until it returns `Some`, at most `limit`.
pub fn eventually<T>(limit: Duration, mut f: impl FnMut() -> Option<T>) -> Option<T> {
    let end = Instant::now() + limit;
    loop {
        if let Some(x) = f() {
            return Some(x);
        }
        if Instant::now() >= end {
            return None;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// A path as a `&str` (test paths are ASCII).
pub fn p(path: &Path) -> &str {
    path.to_str().expect("utf-8 path")
}
