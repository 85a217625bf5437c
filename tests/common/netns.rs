//! Network namespaces for tests (DESIGN section 9): created by name, removed
//! by the same name when the guard drops, even when the test fails.
#![allow(dead_code)]

use std::process::Command;
use std::time::{Duration, Instant};

/// True when the tests can create namespaces (root).
pub fn can_netns() -> bool {
    let uid = Command::new("id")
        .arg("-u")
        .output()
        .map(|o| o.stdout)
        .unwrap_or_default();
    if String::from_utf8_lossy(&uid).trim() != "0" {
        eprintln!("SKIP: namespace tests need root");
        return false;
    }
    true
}

/// Run a command, panicking with its output if it fails.
pub fn sh(args: &[&str]) -> String {
    let out = Command::new(args[0])
        .args(&args[1..])
        .output()
        .expect("spawn");
    assert!(
        out.status.success(),
        "{:?} failed: {}{}",
        args,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Namespaces created by this guard; deleted on drop.
pub struct Netns {
    pub names: Vec<String>,
}

impl Netns {
    /// An empty guard.
    pub fn new() -> Netns {
        Netns { names: Vec::new() }
    }

    /// Create namespace `bgyt<pid>-<tag>` with lo up; returns its name.
    pub fn add(&mut self, tag: &str) -> String {
        let name = format!("bgyt{}-{}", std::process::id(), tag);
        let _ = Command::new("ip").args(["netns", "del", &name]).output();
        sh(&["ip", "netns", "add", &name]);
        self.names.push(name.clone());
        sh(&["ip", "-n", &name, "link", "set", "lo", "up"]);
        name
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

    /// Run `f` on a thread that has entered namespace `ns` (network
    /// namespaces are per thread, so the rest of the test is untouched).
    pub fn run_in<T: Send + 'static>(ns: &str, f: impl FnOnce() -> T + Send + 'static) -> T {
        let path = format!("/var/run/netns/{ns}");
        std::thread::spawn(move || {
            let file = std::fs::File::open(&path).expect("open netns");
            nix::sched::setns(&file, nix::sched::CloneFlags::CLONE_NEWNET).expect("setns");
            f()
        })
        .join()
        .expect("namespace thread")
    }
}

impl Drop for Netns {
    fn drop(&mut self) {
        for n in &self.names {
            let _ = Command::new("ip").args(["netns", "del", n]).output();
        }
    }
}

/// Poll `cond` every 20 ms until it holds or `limit` passes; returns the
/// time it took, or `None` on time-out.
pub fn wait_for(limit: Duration, mut cond: impl FnMut() -> bool) -> Option<Duration> {
    let start = Instant::now();
    while start.elapsed() < limit {
        if cond() {
            return Some(start.elapsed());
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    None
}
