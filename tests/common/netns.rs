//! Network namespaces and links for the tests (the network-test rules in README.md): every
//! namespace is created by name and removed by that name when its guard
//! drops, even when the test fails; every wait is bounded.
//!
//! Names are `bgy<pid>-<tag>`: the pid keeps runs of different test
//! binaries apart, the tag the tests of one binary (they run in parallel,
//! so each test uses tags of its own).

use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// True when running as root (namespaces need it); otherwise prints a
/// clear SKIP naming the test, which then passes without running.
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

/// Run a command that must succeed (a setup step); its stdout. Panics with
/// the command's output when it fails: a half-built network would only
/// make the test fail later, further from the cause.
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

/// The name of this process's namespace `tag`: `bgy<pid>-<tag>`.
pub fn ns_name(tag: &str) -> String {
    format!("bgy{}-{tag}", std::process::id())
}

/// A network namespace, deleted on drop (with every link inside it).
pub struct Netns {
    /// `bgy<pid>-<tag>`, as `ip netns` knows it.
    pub name: String,
}

impl Netns {
    /// Create namespace [`ns_name`]`(tag)` with `lo` up. A leftover of that
    /// name (an earlier run under the same pid) is ours to remove first.
    pub fn new(tag: &str) -> Netns {
        let name = ns_name(tag);
        let _ = Command::new("ip")
            .args(["netns", "del", &name])
            .stderr(Stdio::null())
            .status();
        sh(&["ip", "netns", "add", &name]);
        let ns = Netns { name };
        ns.up("lo");
        ns
    }

    /// `ip -n NAME ARGS...`, which must succeed; its stdout.
    pub fn ip(&self, args: &[&str]) -> String {
        let mut v = vec!["ip", "-n", &self.name];
        v.extend_from_slice(args);
        sh(&v)
    }

    /// Set link `dev` up.
    pub fn up(&self, dev: &str) {
        self.ip(&["link", "set", dev, "up"]);
    }

    /// A veth pair with both ends in this namespace, both down.
    pub fn veth(&self, dev: &str, peer_dev: &str) {
        self.ip(&["link", "add", dev, "type", "veth", "peer", "name", peer_dev]);
    }

    /// A veth pair from `dev` here to `peer_dev` in namespace `peer`, both
    /// down (the ends may share a name: they live in different namespaces).
    pub fn veth_to(&self, dev: &str, peer: &str, peer_dev: &str) {
        self.ip(&[
            "link", "add", dev, "type", "veth", "peer", "name", peer_dev, "netns", peer,
        ]);
    }

    /// A bridge `br`, up: the switch of a test LAN.
    pub fn bridge(&self, br: &str) {
        self.ip(&["link", "add", br, "type", "bridge"]);
        self.up(br);
    }

    /// Plug host namespace `host` into bridge `br` of this (switch)
    /// namespace: a veth pair from port `port` here, enslaved and up, to
    /// `dev` in `host` (left down for [`Netns::bring_up`]).
    pub fn plug(&self, br: &str, port: &str, host: &str, dev: &str) {
        self.veth_to(port, host, dev);
        self.ip(&["link", "set", port, "master", br, "up"]);
    }

    /// Give `dev` the address `addr` (with its prefix length), set it up
    /// and route multicast (224.0.0.0/4) through it: the interface a box's
    /// daemon sends its cluster traffic on.
    pub fn bring_up(&self, dev: &str, addr: &str) {
        self.ip(&["addr", "add", addr, "dev", dev]);
        self.up(dev);
        self.ip(&["route", "add", "224.0.0.0/4", "dev", dev]);
    }
}

impl Drop for Netns {
    fn drop(&mut self) {
        let _ = Command::new("ip")
            .args(["netns", "del", &self.name])
            .status();
    }
}

/// True if some interface in namespace `ns` has the IPv4 address `addr`
/// (the kernel's view; a failed `ip` counts as no).
pub fn has_addr(ns: &str, addr: &str) -> bool {
    let out = Command::new("ip")
        .args(["-n", ns, "-o", "addr", "show"])
        .stdin(Stdio::null())
        .output()
        .expect("spawn ip");
    String::from_utf8_lossy(&out.stdout).contains(&format!(" {addr}/"))
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

/// Run `f` on a new thread inside namespace `ns`. Network namespaces are
/// per thread, so the rest of the test stays where it was; threads that
/// `f` spawns inherit the namespace.
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

/// Run `f` inside namespace `ns` and wait for its result.
pub fn run_in<T: Send + 'static>(ns: &str, f: impl FnOnce() -> T + Send + 'static) -> T {
    spawn_in(ns, f).join().expect("namespace thread")
}

/// Threads that run until told to stop, stopped and joined on drop: the
/// services, probers and log readers a test starts must not outlive it.
/// Each thread polls the flag and so must not block for long.
pub struct Threads {
    stop: Arc<AtomicBool>,
    handles: Vec<JoinHandle<()>>,
}

impl Threads {
    /// No threads yet.
    pub fn new() -> Threads {
        Threads {
            stop: Arc::new(AtomicBool::new(false)),
            handles: Vec::new(),
        }
    }

    /// The stop flag, to move into a thread.
    pub fn flag(&self) -> Arc<AtomicBool> {
        self.stop.clone()
    }

    /// Record a started thread.
    pub fn push(&mut self, t: JoinHandle<()>) {
        self.handles.push(t);
    }

    /// Raise the flag and join every thread.
    pub fn halt(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        for t in self.handles.drain(..) {
            let _ = t.join();
        }
    }
}

impl Drop for Threads {
    fn drop(&mut self) {
        self.halt();
    }
}

/// Poll `f` every 50 ms until it returns `Some`, at most `limit`.
pub fn eventually<T>(limit: Duration, f: impl FnMut() -> Option<T>) -> Option<T> {
    eventually_every(limit, Duration::from_millis(50), f)
}

/// Poll `f` every `every` until it returns `Some`, at most `limit`. The
/// last look is taken at the limit, so an answer that arrives while the
/// test thread sleeps still counts.
pub fn eventually_every<T>(
    limit: Duration,
    every: Duration,
    mut f: impl FnMut() -> Option<T>,
) -> Option<T> {
    let end = Instant::now() + limit;
    loop {
        if let Some(x) = f() {
            return Some(x);
        }
        if Instant::now() >= end {
            return None;
        }
        std::thread::sleep(every);
    }
}
