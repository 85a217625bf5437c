//! The service manager's notify protocol (systemd's `sd_notify(3)`),
//! without libsystemd: each state is one datagram, `READY=1`,
//! `WATCHDOG=1` or `STOPPING=1`, sent to the Unix datagram socket named by
//! `$NOTIFY_SOCKET` (a path, or an abstract name written with a leading
//! `@`). Under `Type=notify` the manager counts the unit started at
//! `READY=1`; with `WatchdogSec=` it sets `$WATCHDOG_USEC` and kills a
//! daemon that stays silent that long (for another process than the one
//! `$WATCHDOG_PID` names, the watchdog is not ours).
//!
//! Hooks and checks the daemon starts inherit the variables; the manager
//! listens to the main process only (`NotifyAccess=main`, the default for
//! `Type=notify`), so they cannot speak for it. The socket is non-blocking:
//! a manager that does not read must never hold the fail-over loop.

use std::ffi::OsStr;
use std::io;
use std::os::linux::net::SocketAddrExt;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::net::{SocketAddr, UnixDatagram};
use std::time::Duration;

/// Where the manager listens, and how often it wants to hear from the loop.
pub struct Notify {
    sock: UnixDatagram,
    to: SocketAddr,
    watchdog: Option<Duration>,
}

impl Notify {
    /// The manager's socket from `$NOTIFY_SOCKET`, or `None` when the
    /// daemon does not run under one (the variable is unset or empty).
    pub fn from_env() -> io::Result<Option<Notify>> {
        let Some(socket) = std::env::var_os("NOTIFY_SOCKET").filter(|s| !s.is_empty()) else {
            return Ok(None);
        };
        let usec = std::env::var_os("WATCHDOG_USEC");
        let pid = std::env::var_os("WATCHDOG_PID");
        let to = address(&socket)?;
        let sock = UnixDatagram::unbound()?;
        sock.set_nonblocking(true)?;
        Ok(Some(Notify {
            sock,
            to,
            watchdog: watchdog_every(
                usec.as_deref().map(OsStr::as_bytes),
                pid.as_deref().map(OsStr::as_bytes),
                std::process::id(),
            ),
        }))
    }

    /// How often to send `WATCHDOG=1`: half the manager's watchdog
    /// timeout, as `sd_watchdog_enabled(3)` advises; `None` without one.
    pub fn watchdog_every(&self) -> Option<Duration> {
        self.watchdog
    }

    /// Send one state, e.g. `READY=1`. A full socket buffer is an error
    /// (`WouldBlock`), not a wait.
    pub fn send(&self, state: &str) -> io::Result<()> {
        self.sock
            .send_to_addr(state.as_bytes(), &self.to)
            .map(|_| ())
    }
}

/// The socket address `$NOTIFY_SOCKET` names: `@name` is the abstract
/// `\0name`, anything else a path.
fn address(socket: &OsStr) -> io::Result<SocketAddr> {
    match socket.as_bytes() {
        [b'@', name @ ..] => SocketAddr::from_abstract_name(name),
        _ => SocketAddr::from_pathname(socket),
    }
}

/// Half of `WATCHDOG_USEC`, if it is a positive number and `WATCHDOG_PID`
/// is unset or names `me`.
fn watchdog_every(usec: Option<&[u8]>, pid: Option<&[u8]>, me: u32) -> Option<Duration> {
    if pid.is_some_and(|p| number(p) != Some(u64::from(me))) {
        return None;
    }
    let usec = number(usec?).filter(|&u| u > 0)?;
    Some(Duration::from_micros(usec / 2))
}

/// A decimal number, digits only (what systemd writes).
fn number(digits: &[u8]) -> Option<u64> {
    if digits.is_empty() {
        return None;
    }
    digits.iter().try_fold(0u64, |n, &d| {
        d.is_ascii_digit()
            .then(|| n.checked_mul(10)?.checked_add(u64::from(d - b'0')))?
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn watchdog_is_half_the_timeout_and_only_for_us() {
        let w = |usec: Option<&str>, pid: Option<&str>| {
            watchdog_every(usec.map(str::as_bytes), pid.map(str::as_bytes), 7)
        };
        assert_eq!(w(Some("10000000"), None), Some(Duration::from_secs(5)));
        assert_eq!(
            w(Some("3000000"), Some("7")),
            Some(Duration::from_millis(1500))
        );
        assert_eq!(w(Some("3000000"), Some("8")), None);
        assert_eq!(w(Some("3000000"), Some("")), None);
        assert_eq!(w(Some("0"), None), None);
        assert_eq!(w(Some("soon"), None), None);
        assert_eq!(w(Some("99999999999999999999999"), None), None);
        assert_eq!(w(None, None), None);
    }

    #[test]
    fn sends_to_a_path_and_to_an_abstract_name() {
        let dir = std::env::temp_dir().join(format!("bongoyo-notify-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("notify.sock");
        let abs = format!("@bongoyo-notify-test-{}", std::process::id());
        for name in [path.as_os_str(), OsStr::new(&abs)] {
            let to = address(name).unwrap();
            let server = UnixDatagram::bind_addr(&to).unwrap();
            let sock = UnixDatagram::unbound().unwrap();
            let n = Notify {
                sock,
                to,
                watchdog: None,
            };
            n.send("READY=1").unwrap();
            let mut buf = [0u8; 64];
            let len = server.recv(&mut buf).unwrap();
            assert_eq!(&buf[..len], b"READY=1", "{name:?}");
        }
        let _ = std::fs::remove_dir_all(&dir);
    }
}
