//! The daemon's log: syslog (facility daemon, ident `bongoyo`, with the pid)
//! and, with `-f`, standard error too.
//!
//! Messages are one line, `event key=value key=value`, so an operator can
//! grep them and a script can split them.
//!
//! The syslog socket is `/dev/log`; the environment variable
//! `BONGOYO_SYSLOG_SOCKET` names another one (the tests bind a datagram
//! socket of their own there). If no syslog daemon listens, the log warns
//! once on standard error and goes to standard error from then on.
//!
//! The syslog socket is non-blocking: a syslog daemon that stops reading
//! (or a full socket buffer) must never freeze the fail-over loop. A line
//! that would block is dropped and counted; the next line that goes through
//! says how many were lost.
//!
//! `log` has no alert level: an `error!` with target [`ALERT`] is sent with
//! syslog severity alert (docs/MODEL.md, records and alerts).
//!
//! Lines go out in the local form of RFC 3164 that glibc's `syslog(3)` and
//! busybox `logger` use on `/dev/log`, minus the timestamp, which every local
//! syslog daemon (busybox syslogd, rsyslog, journald) adds on receipt:
//! `<PRI>bongoyo[PID]: message`. Writing it here rather than through the
//! `syslog` crate keeps that crate's date formatting (the `time` crate, about
//! 28 KB of a firmware binary) out of the build.

use std::io::{self, Write};
use std::os::unix::net::UnixDatagram;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use log::{Level, LevelFilter, Log, Metadata, Record};

/// Syslog facility daemon (RFC 3164 section 4.1.1), already shifted.
const FACILITY_DAEMON: u8 = 3 << 3;
/// Longest line sent; longer messages are cut (syslog daemons cut at 1024
/// or so anyway).
const MAX_LINE: usize = 1024;

/// A connected, non-blocking datagram socket to the syslog daemon.
struct Syslog {
    sock: UnixDatagram,
    pid: u32,
}

/// A `fmt::Write` into a fixed buffer that silently cuts at its end.
struct Line {
    buf: [u8; MAX_LINE],
    len: usize,
}

impl core::fmt::Write for Line {
    fn write_str(&mut self, s: &str) -> core::fmt::Result {
        let room = MAX_LINE - self.len;
        let n = s.len().min(room);
        self.buf[self.len..self.len + n].copy_from_slice(&s.as_bytes()[..n]);
        self.len += n;
        Ok(())
    }
}

impl Syslog {
    /// One line at syslog severity `severity` (0 emergency .. 7 debug).
    fn send(&self, severity: u8, msg: &core::fmt::Arguments) -> io::Result<()> {
        use core::fmt::Write as _;
        let mut line = Line {
            buf: [0; MAX_LINE],
            len: 0,
        };
        let _ = write!(
            line,
            "<{}>{IDENT}[{}]: {msg}",
            FACILITY_DAEMON | severity,
            self.pid
        );
        self.sock.send(&line.buf[..line.len]).map(|_| ())
    }

    fn alert(&self, msg: &core::fmt::Arguments) -> io::Result<()> {
        self.send(1, msg)
    }
    fn err(&self, msg: &core::fmt::Arguments) -> io::Result<()> {
        self.send(3, msg)
    }
    fn warning(&self, msg: &core::fmt::Arguments) -> io::Result<()> {
        self.send(4, msg)
    }
    fn info(&self, msg: &core::fmt::Arguments) -> io::Result<()> {
        self.send(6, msg)
    }
    fn debug(&self, msg: &core::fmt::Arguments) -> io::Result<()> {
        self.send(7, msg)
    }
}

/// Environment variable naming the syslog socket instead of `/dev/log`.
pub const SOCKET_ENV: &str = "BONGOYO_SYSLOG_SOCKET";
/// The default syslog socket.
pub const DEFAULT_SOCKET: &str = "/dev/log";
/// The ident every line carries.
pub const IDENT: &str = "bongoyo";
/// Log target that raises the syslog severity to alert: `error!(target: ALERT, ...)`.
pub const ALERT: &str = "alert";

struct State {
    syslog: Option<Syslog>,
    /// Lines dropped because the syslog socket would have blocked.
    dropped: u64,
    /// Standard error as well: `-f`, or syslog unavailable.
    stderr: bool,
}

/// The fan-out logger: syslog and (optionally) standard error.
pub struct Fanout {
    state: Mutex<State>,
    path: PathBuf,
}

/// The syslog socket path: `$BONGOYO_SYSLOG_SOCKET` or `/dev/log`.
pub fn socket_path() -> PathBuf {
    std::env::var_os(SOCKET_ENV)
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(DEFAULT_SOCKET))
}

impl Fanout {
    /// Connect to syslog at `path`; with `stderr`, also copy every line to
    /// standard error. A missing syslog is reported once on standard error.
    pub fn new(path: PathBuf, stderr: bool) -> Fanout {
        let syslog = match connect(&path) {
            Ok(s) => Some(s),
            Err(e) => {
                let _ = writeln!(
                    std::io::stderr(),
                    "{IDENT}: warning: syslog unavailable at {} ({e}); logging to stderr",
                    path.display()
                );
                None
            }
        };
        let stderr = stderr || syslog.is_none();
        Fanout {
            state: Mutex::new(State {
                syslog,
                dropped: 0,
                stderr,
            }),
            path,
        }
    }

    fn send(s: &mut Syslog, level: Level, alert: bool, msg: &core::fmt::Arguments) -> Sent {
        let s = &*s;
        let r = if alert {
            s.alert(msg)
        } else {
            match level {
                Level::Error => s.err(msg),
                Level::Warn => s.warning(msg),
                Level::Info => s.info(msg),
                Level::Debug | Level::Trace => s.debug(msg),
            }
        };
        match r {
            Ok(()) => Sent::Ok,
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => Sent::WouldBlock,
            Err(_) => Sent::Failed,
        }
    }
}

/// How one line fared.
#[derive(PartialEq, Eq)]
enum Sent {
    Ok,
    /// The socket buffer is full: dropped, the daemon goes on.
    WouldBlock,
    /// The socket is broken (syslogd restarted).
    Failed,
}

/// Connect to the syslog socket (a datagram socket, as `/dev/log` is for
/// busybox syslogd, rsyslog and journald), non-blocking.
fn connect(path: &Path) -> io::Result<Syslog> {
    let sock = UnixDatagram::unbound()?;
    sock.connect(path)?;
    sock.set_nonblocking(true)?;
    Ok(Syslog {
        sock,
        pid: std::process::id(),
    })
}

impl Log for Fanout {
    fn enabled(&self, metadata: &Metadata) -> bool {
        metadata.level() <= log::max_level()
    }

    fn log(&self, record: &Record) {
        if !self.enabled(record.metadata()) {
            return;
        }
        let Ok(mut st) = self.state.lock() else {
            return;
        };
        let alert = record.target() == ALERT;
        let args = record.args();
        let st = &mut *st;
        if let Some(s) = st.syslog.as_mut() {
            if st.dropped > 0 {
                let n = st.dropped;
                if Fanout::send(
                    s,
                    Level::Warn,
                    false,
                    &format_args!("log-dropped lines={n}"),
                ) == Sent::Ok
                {
                    st.dropped = 0;
                }
            }
            let sent = Fanout::send(s, record.level(), alert, args);
            if sent == Sent::WouldBlock {
                st.dropped += 1;
            } else if sent == Sent::Failed {
                // syslogd restarted: its socket is new; reconnect once.
                match connect(&self.path) {
                    Ok(mut fresh) => {
                        Fanout::send(&mut fresh, record.level(), alert, args);
                        st.syslog = Some(fresh);
                    }
                    Err(_) => {
                        st.syslog = None;
                        st.stderr = true;
                    }
                }
            }
        }
        if st.stderr {
            let lvl = if alert {
                "alert"
            } else {
                level_name(record.level())
            };
            let _ = writeln!(
                std::io::stderr(),
                "{IDENT}[{}] {lvl}: {args}",
                std::process::id()
            );
        }
    }

    fn flush(&self) {}
}

fn level_name(l: Level) -> &'static str {
    match l {
        Level::Error => "error",
        Level::Warn => "warning",
        Level::Info => "info",
        Level::Debug => "debug",
        Level::Trace => "trace",
    }
}

/// Install the logger for the whole process. `verbosity` counts `-v`:
/// 0 info, 1 debug, 2 or more trace.
pub fn init(foreground: bool, verbosity: u8) {
    let level = match verbosity {
        0 => LevelFilter::Info,
        1 => LevelFilter::Debug,
        _ => LevelFilter::Trace,
    };
    let logger = Box::new(Fanout::new(socket_path(), foreground));
    // A second init (tests) keeps the first logger; that is fine.
    if log::set_logger(Box::leak(logger)).is_ok() {
        log::set_max_level(level);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::net::UnixDatagram;

    #[test]
    fn lines_reach_syslog_with_ident_facility_and_severity() {
        let path = std::env::temp_dir().join(format!("bongoyo-log-{}.sock", std::process::id()));
        let _ = std::fs::remove_file(&path);
        let rx = UnixDatagram::bind(&path).unwrap();
        rx.set_read_timeout(Some(std::time::Duration::from_secs(2)))
            .unwrap();
        let f = Fanout::new(path.clone(), false);
        log::set_max_level(LevelFilter::Info);
        f.log(
            &Record::builder()
                .level(Level::Info)
                .args(format_args!("start node=f1"))
                .build(),
        );
        f.log(
            &Record::builder()
                .level(Level::Error)
                .target(ALERT)
                .args(format_args!("lost node=f2"))
                .build(),
        );
        let mut b = [0u8; 512];
        let n = rx.recv(&mut b).unwrap();
        let line = std::str::from_utf8(&b[..n]).unwrap();
        // daemon (3) * 8 + info (6) = 30
        assert!(line.starts_with("<30>"), "{line}");
        assert!(
            line.contains(&format!("bongoyo[{}]: start node=f1", std::process::id())),
            "{line}"
        );
        let n = rx.recv(&mut b).unwrap();
        // daemon * 8 + alert (1) = 25
        assert!(std::str::from_utf8(&b[..n]).unwrap().starts_with("<25>"));
        let _ = std::fs::remove_file(&path);
    }
}
