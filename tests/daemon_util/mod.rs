//! Helpers for the daemon tests: root check, network namespaces and
//! processes with Drop guards, a syslog receiver, bounded waits.
//!
//! Every namespace and process is recorded by name or pid and removed in
//! `Drop`, so a failing assertion still cleans up.
#![allow(dead_code)]

use std::os::unix::net::UnixDatagram;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Output, Stdio};
use std::time::{Duration, Instant};

pub const BIN: &str = env!("CARGO_BIN_EXE_bongoyo");

/// True when running as root; otherwise prints why the test is skipped.
pub fn root_or_skip(test: &str) -> bool {
    let out = Command::new("id").arg("-u").output();
    let root = matches!(out, Ok(o) if o.stdout.trim_ascii() == b"0");
    if !root {
        eprintln!("SKIPPED {test}: needs root for network namespaces");
    }
    root
}

/// Run a command that must succeed (setup steps).
pub fn sh(args: &[&str]) {
    let out = Command::new(args[0])
        .args(&args[1..])
        .output()
        .expect("spawn");
    assert!(
        out.status.success(),
        "{args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A network namespace, deleted on drop (with every link inside it).
pub struct Netns {
    pub name: String,
}

impl Netns {
    pub fn new(tag: &str) -> Netns {
        let name = format!("bgy{}{tag}", std::process::id());
        // A leftover from an earlier run of this pid is ours to remove.
        let _ = Command::new("ip")
            .args(["netns", "del", &name])
            .stderr(Stdio::null())
            .status();
        sh(&["ip", "netns", "add", &name]);
        let ns = Netns { name };
        ns.ip(&["link", "set", "lo", "up"]);
        ns
    }

    /// `ip -n NS ARGS...`
    pub fn ip(&self, args: &[&str]) {
        let mut v = vec!["ip", "-n", &self.name];
        v.extend_from_slice(args);
        sh(&v);
    }

    /// A veth pair inside this namespace, `veth0` with `addr` (a /24) and
    /// the multicast route: a single box talking to nobody. (Not loopback:
    /// on `lo` a box's own multicast comes back in whatever the loop option
    /// says, and would muddle the counters the tests read.)
    pub fn lonely_veth(&self, addr: &str) {
        self.ip(&[
            "link", "add", "veth0", "type", "veth", "peer", "name", "veth1",
        ]);
        self.ip(&["addr", "add", addr, "dev", "veth0"]);
        self.ip(&["link", "set", "veth0", "up"]);
        self.ip(&["link", "set", "veth1", "up"]);
        self.ip(&["route", "add", "224.0.0.0/4", "dev", "veth0"]);
    }
}

impl Drop for Netns {
    fn drop(&mut self) {
        let _ = Command::new("ip")
            .args(["netns", "del", &self.name])
            .status();
    }
}

/// A temporary directory, removed on drop.
pub struct TempDir(pub PathBuf);

impl TempDir {
    pub fn new(tag: &str) -> TempDir {
        let p = std::env::temp_dir().join(format!("bongoyo-test-{}-{tag}", std::process::id()));
        let _ = std::fs::remove_dir_all(&p);
        std::fs::create_dir_all(&p).unwrap();
        TempDir(p)
    }
    pub fn path(&self, name: &str) -> PathBuf {
        self.0.join(name)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Write a key file (64 hex digits, mode 0600).
pub fn write_key(path: &Path) {
    use std::os::unix::fs::PermissionsExt;
    std::fs::write(
        path,
        "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff\n",
    )
    .unwrap();
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600)).unwrap();
}

/// A daemon process, killed and reaped on drop.
pub struct Daemon {
    pub child: Option<Child>,
    pub socket: PathBuf,
}

impl Daemon {
    /// `ip netns exec NS bongoyo run -f -c CONF -n NAME -s SOCK` with the
    /// syslog socket redirected.
    pub fn start(ns: &Netns, conf: &Path, name: &str, socket: &Path, syslog: &Path) -> Daemon {
        let child = Command::new("ip")
            .args(["netns", "exec", &ns.name, BIN, "run", "-f", "-c"])
            .arg(conf)
            .args(["-n", name, "-s"])
            .arg(socket)
            .env("BONGOYO_SYSLOG_SOCKET", syslog)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("spawn daemon");
        Daemon {
            child: Some(child),
            socket: socket.to_owned(),
        }
    }

    pub fn pid(&self) -> u32 {
        self.child.as_ref().map(|c| c.id()).unwrap_or(0)
    }

    pub fn signal(&self, sig: &str) {
        sh(&["kill", &format!("-{sig}"), &self.pid().to_string()]);
    }

    /// Wait for the exit, at most `limit`.
    pub fn wait(&mut self, limit: Duration) -> Option<ExitStatus> {
        let end = Instant::now() + limit;
        let child = self.child.as_mut()?;
        while Instant::now() < end {
            if let Ok(Some(st)) = child.try_wait() {
                self.child = None;
                return Some(st);
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        None
    }

    /// Still running?
    pub fn alive(&mut self) -> bool {
        matches!(self.child.as_mut().map(|c| c.try_wait()), Some(Ok(None)))
    }

    /// Wait until the control socket answers `status`, at most `limit`.
    pub fn wait_ready(&mut self, limit: Duration) -> bool {
        let end = Instant::now() + limit;
        while Instant::now() < end {
            if !self.alive() {
                return false;
            }
            if self.socket.exists()
                && client(&["status", "-s", self.socket.to_str().unwrap()])
                    .status
                    .success()
            {
                return true;
            }
            std::thread::sleep(Duration::from_millis(30));
        }
        false
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

/// Run the bongoyo binary as a client (in the test's own namespace: the
/// control socket is a file, reachable from any network namespace).
pub fn client(args: &[&str]) -> Output {
    Command::new(BIN)
        .args(args)
        .stdin(Stdio::null())
        .output()
        .expect("spawn bongoyo")
}

/// A syslog stand-in: a Unix datagram socket collecting lines.
pub struct Syslog {
    sock: UnixDatagram,
    pub lines: Vec<String>,
}

impl Syslog {
    pub fn bind(path: &Path) -> Syslog {
        let sock = UnixDatagram::bind(path).unwrap();
        sock.set_read_timeout(Some(Duration::from_millis(50)))
            .unwrap();
        Syslog {
            sock,
            lines: Vec::new(),
        }
    }

    /// Collect every line waiting now, without waiting (call it often in a
    /// long test: the daemon drops lines rather than block on a full socket).
    pub fn drain(&mut self) {
        let mut buf = [0u8; 2048];
        let _ = self.sock.set_nonblocking(true);
        for _ in 0..10_000 {
            match self.sock.recv(&mut buf) {
                Ok(n) => self
                    .lines
                    .push(String::from_utf8_lossy(&buf[..n]).into_owned()),
                Err(_) => break,
            }
        }
        let _ = self.sock.set_nonblocking(false);
    }

    /// Collect lines until one satisfies `pred` (returned) or `limit` passes.
    pub fn wait_for(&mut self, limit: Duration, pred: impl Fn(&str) -> bool) -> Option<String> {
        if let Some(l) = self.lines.iter().find(|l| pred(l)) {
            return Some(l.clone());
        }
        let end = Instant::now() + limit;
        let mut buf = [0u8; 2048];
        while Instant::now() < end {
            if let Ok(n) = self.sock.recv(&mut buf) {
                let line = String::from_utf8_lossy(&buf[..n]).into_owned();
                let hit = pred(&line);
                self.lines.push(line.clone());
                if hit {
                    return Some(line);
                }
            }
        }
        None
    }
}

/// Poll `f` until it returns `Some`, at most `limit`.
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
