//! The daemon under test, its command-line client, and what they need
//! around them: a syslog stand-in, a temporary directory, a key file, hook
//! scripts.
//!
//! Every process is recorded by its `Child` and every directory by its
//! path, and each is removed on drop, so a failing assertion still cleans
//! up (the network-test rules in README.md).

use std::os::unix::net::UnixDatagram;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Output, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use nix::sys::signal::Signal;

use super::netns::Threads;

/// The daemon under test, as cargo built it for these tests.
pub const BIN: &str = env!("CARGO_BIN_EXE_bongoyo");

/// A temporary directory, removed on drop.
pub struct TempDir(pub PathBuf);

impl TempDir {
    /// `$TMPDIR/bongoyo-test-<pid>-<tag>`, empty (a leftover of an earlier
    /// run under the same pid is ours to remove).
    pub fn new(tag: &str) -> TempDir {
        let p = std::env::temp_dir().join(format!("bongoyo-test-{}-{tag}", std::process::id()));
        let _ = std::fs::remove_dir_all(&p);
        std::fs::create_dir_all(&p).expect("test directory");
        TempDir(p)
    }

    /// The path of `name` inside the directory.
    pub fn path(&self, name: &str) -> PathBuf {
        self.0.join(name)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Write a key file (64 hex digits, mode 0600: the daemon refuses a key
/// others can read).
pub fn write_key(path: &Path) {
    use std::os::unix::fs::PermissionsExt;
    std::fs::write(
        path,
        "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff\n",
    )
    .expect("write key");
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600)).expect("chmod key");
}

/// A temporary directory ([`TempDir::new`]) with a key file in it; the
/// key's path.
pub fn keyed_dir(tag: &str) -> (TempDir, PathBuf) {
    let dir = TempDir::new(tag);
    let key = dir.path("key");
    write_key(&key);
    (dir, key)
}

/// Write an executable script (a hook) at `path`.
pub fn write_script(path: &Path, body: &str) {
    use std::os::unix::fs::PermissionsExt;
    std::fs::write(path, body).expect("write script");
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o755)).expect("chmod script");
}

/// A daemon process, killed and reaped on drop.
pub struct Daemon {
    child: Option<Child>,
    /// Its control socket.
    pub socket: PathBuf,
}

impl Daemon {
    /// `ip netns exec NS bongoyo run -f -c CONF -n NAME -s SOCKET` with the
    /// syslog socket redirected to `syslog`. `ip netns exec` execs the
    /// daemon, so the child's pid is the daemon's. `stderr` is where its
    /// foreground log goes: inherited where one daemon's lines help read a
    /// failure, discarded where three daemons would bury it.
    pub fn start(
        ns: &str,
        conf: &Path,
        name: &str,
        socket: &Path,
        syslog: &Path,
        stderr: Stdio,
    ) -> Daemon {
        Daemon::start_with_env(ns, conf, name, socket, syslog, stderr, &[])
    }

    /// [`Daemon::start`] with `env` added to the daemon's environment
    /// (`NOTIFY_SOCKET`, a service manager's variables).
    pub fn start_with_env(
        ns: &str,
        conf: &Path,
        name: &str,
        socket: &Path,
        syslog: &Path,
        stderr: Stdio,
        env: &[(&str, &Path)],
    ) -> Daemon {
        let child = Command::new("ip")
            .args(["netns", "exec", ns, BIN, "run", "-f", "-c"])
            .arg(conf)
            .args(["-n", name, "-s"])
            .arg(socket)
            .env("BONGOYO_SYSLOG_SOCKET", syslog)
            .envs(env.iter().copied())
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(stderr)
            .spawn()
            .expect("spawn daemon");
        Daemon {
            child: Some(child),
            socket: socket.to_owned(),
        }
    }

    /// `ip netns exec NS ARGV...` with `envs` added to the environment:
    /// any daemon (another fail-over daemon to compare with, or this one
    /// from another build), its output to `out`. Like [`Daemon::start`],
    /// the child's pid is the program's; it has no control socket.
    pub fn exec(ns: &str, argv: &[String], envs: &[(String, String)], out: Stdio) -> Daemon {
        let child = Command::new("ip")
            .args(["netns", "exec", ns])
            .args(argv)
            .envs(envs.iter().map(|(k, v)| (k, v)))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(out)
            .spawn()
            .unwrap_or_else(|e| panic!("spawn {argv:?}: {e}"));
        Daemon {
            child: Some(child),
            socket: PathBuf::new(),
        }
    }

    /// The daemon's pid (0 once it has been waited for).
    pub fn pid(&self) -> u32 {
        self.child.as_ref().map(|c| c.id()).unwrap_or(0)
    }

    /// Send `sig`, unless the daemon has been waited for already (its pid
    /// may then belong to someone else). Until it is reaped the pid stays
    /// ours, stopped or exited, so the signal cannot fail.
    pub fn signal(&self, sig: Signal) {
        if let Some(c) = &self.child {
            let pid = nix::unistd::Pid::from_raw(c.id() as i32);
            nix::sys::signal::kill(pid, sig).unwrap_or_else(|e| panic!("kill -{sig}: {e}"));
        }
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

    /// Still running (a stopped daemon counts as running)?
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
        // SIGKILL works on a stopped process too.
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

/// Run `cmd` (stdin closed, stdout and stderr collected) and wait for it
/// at most `limit`: its output, or `None` when it had to be killed (a
/// process that hangs must fail the test, not the test run).
pub fn bounded(cmd: &mut Command, limit: Duration) -> Option<Output> {
    let mut child = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn");
    let end = Instant::now() + limit;
    while Instant::now() < end {
        if let Ok(Some(_)) = child.try_wait() {
            return child.wait_with_output().ok();
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    let _ = child.kill();
    let _ = child.wait();
    None
}

/// [`client`], killed after `limit`: `None` then.
pub fn client_within(args: &[&str], limit: Duration) -> Option<Output> {
    bounded(Command::new(BIN).args(args), limit)
}

/// Most lines a [`Syslog`] keeps: a runaway daemon must not eat the memory.
const SYSLOG_LINES: usize = 20_000;

/// A syslog stand-in: a Unix datagram socket where the daemons' syslog
/// lines arrive, read by a thread all the time (the daemon drops a line
/// rather than block on a full socket, so an unread socket loses lines).
pub struct Syslog {
    /// (ms since bind, line) in order of arrival.
    lines: Arc<Mutex<Vec<(u64, String)>>>,
    threads: Threads,
}

impl Syslog {
    /// Bind the socket at `path` and start reading.
    pub fn bind(path: &Path) -> Syslog {
        let sock = UnixDatagram::bind(path).expect("bind syslog socket");
        // The reader looks at its stop flag between reads.
        sock.set_read_timeout(Some(Duration::from_millis(50)))
            .expect("timeout");
        let lines = Arc::new(Mutex::new(Vec::new()));
        let mut threads = Threads::new();
        let (out, stop) = (lines.clone(), threads.flag());
        let t0 = Instant::now();
        threads.push(std::thread::spawn(move || {
            let mut buf = [0u8; 2048];
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                if let Ok(n) = sock.recv(&mut buf) {
                    let line = String::from_utf8_lossy(&buf[..n]).into_owned();
                    if let Ok(mut v) = out.lock() {
                        if v.len() < SYSLOG_LINES {
                            v.push((t0.elapsed().as_millis() as u64, line));
                        }
                    }
                }
            }
        }));
        Syslog { lines, threads }
    }

    /// Every line so far, as the daemon sent it.
    pub fn lines(&self) -> Vec<String> {
        let v = self.lines.lock().expect("syslog lines");
        v.iter().map(|(_, l)| l.clone()).collect()
    }

    /// The first line so far that satisfies `pred`.
    pub fn find(&self, pred: impl Fn(&str) -> bool) -> Option<String> {
        let v = self.lines.lock().expect("syslog lines");
        v.iter().find(|(_, l)| pred(l)).map(|(_, l)| l.clone())
    }

    /// The first line that satisfies `pred`, waiting for it at most `limit`.
    pub fn wait_for(&self, limit: Duration, pred: impl Fn(&str) -> bool) -> Option<String> {
        super::netns::eventually_every(limit, Duration::from_millis(10), || self.find(&pred))
    }

    /// When (ms since bind, as stamped on receipt) each line containing
    /// `needle` arrived, in order.
    pub fn times(&self, needle: &str) -> Vec<u64> {
        let v = self.lines.lock().expect("syslog lines");
        v.iter()
            .filter(|(_, l)| l.contains(needle))
            .map(|(t, _)| *t)
            .collect()
    }

    /// The last `n` lines, each stamped `+<ms>ms`, for a failure report.
    pub fn tail(&self, n: usize) -> Vec<String> {
        let v = self.lines.lock().expect("syslog lines");
        v.iter()
            .skip(v.len().saturating_sub(n))
            .map(|(t, l)| format!("+{t:>6}ms {l}"))
            .collect()
    }
}
