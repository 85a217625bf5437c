//! The daemon's log: syslog (facility daemon, ident `bongoyo`, with the pid)
//! and, with `-f`, standard error too.
//!
//! Messages are one line, `event key=value key=value`, so an operator can
//! grep them and a script can split them.
//!
//! The syslog socket is `/dev/log`; the environment variable
//! `BONGOYO_SYSLOG_SOCKET` names another one (the tests bind a socket of
//! their own there). A datagram socket, as busybox syslogd, rsyslog and
//! journald bind; if it is a stream socket (syslog-ng), lines go over a
//! stream connection, each ended by a NUL as glibc's `syslog(3)` does.
//! While no syslog daemon listens (missing at start, or restarting), lines
//! go to standard error, which the daemon reports once, and the socket is
//! tried again at most once a second: syslog is never lost for good.
//!
//! The syslog socket is non-blocking: a syslog daemon that stops reading
//! (or a full socket buffer) must never freeze the fail-over loop. A line
//! that would block is dropped and counted; the next line that goes through
//! says how many were lost.
//!
//! `log` has no alert level: an `error!` with target [`ALERT`] is sent with
//! syslog severity alert (docs/MODEL.md, records and alerts).
//!
//! Lines go out in the local form of RFC 3164 that musl's and glibc's
//! `syslog(3)` use on `/dev/log`: `<PRI>Mmm dd hh:mm:ss bongoyo[PID]:
//! message`, the time local. The timestamp matters: OpenWrt's logd drops
//! the first 16 bytes after the priority whenever the 16th is a space,
//! taking them for a timestamp; without one, a five-digit PID put a space
//! there and the ident was cut off. A line is at most [`MAX_LINE`] bytes
//! (busybox syslogd's buffer); a longer message goes out in several lines,
//! each after the first starting with `+ `. Writing the lines here rather
//! than through the `syslog` crate keeps that crate's date formatting (the
//! `time` crate, about 28 KB of a firmware binary) out of the build.

use std::io::{self, Write};
use std::os::unix::net::{UnixDatagram, UnixStream};
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use log::{Level, LevelFilter, Log, Metadata, Record};

/// Syslog facility daemon (RFC 3164 section 4.1.1), already shifted.
const FACILITY_DAEMON: u8 = 3 << 3;
/// Longest line sent, priority and header included (busybox syslogd reads
/// 256-byte lines, the NUL included).
pub const MAX_LINE: usize = 255;
/// Longest message taken from one log record; longer ones are cut.
const MAX_MESSAGE: usize = 1024;
/// Least time between two tries to reach a missing syslog.
const RETRY: Duration = Duration::from_secs(1);

/// A connected, non-blocking socket to the syslog daemon.
enum Sock {
    Datagram(UnixDatagram),
    /// Lines end with a NUL.
    Stream(UnixStream),
}

struct Syslog {
    sock: Sock,
    pid: u32,
}

/// A `fmt::Write` into a fixed buffer that silently cuts at its end.
struct Buf<const N: usize> {
    buf: [u8; N],
    len: usize,
}

impl<const N: usize> Buf<N> {
    fn new() -> Self {
        Buf {
            buf: [0; N],
            len: 0,
        }
    }
    fn bytes(&self) -> &[u8] {
        &self.buf[..self.len]
    }
}

impl<const N: usize> core::fmt::Write for Buf<N> {
    fn write_str(&mut self, s: &str) -> core::fmt::Result {
        let room = N - self.len;
        let n = s.len().min(room);
        self.buf[self.len..self.len + n].copy_from_slice(&s.as_bytes()[..n]);
        self.len += n;
        Ok(())
    }
}

const MONTHS: [&str; 12] = [
    "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
];

/// The local time now as RFC 3164 wants it: month, day, hour, minute,
/// second (`None` if the C library cannot tell).
fn local_now() -> Option<(usize, i32, i32, i32, i32)> {
    // SAFETY: `time(NULL)` only reads the clock.
    let t = unsafe { libc::time(core::ptr::null_mut()) };
    // SAFETY: an all-zero `tm` is a valid value of the plain C struct.
    let mut tm: libc::tm = unsafe { core::mem::zeroed() };
    // SAFETY: `t` and `tm` are valid for the call; `localtime_r` writes
    // only `tm` and is thread-safe.
    let r = unsafe { libc::localtime_r(&t, &mut tm) };
    if r.is_null() {
        return None;
    }
    let month = usize::try_from(tm.tm_mon).ok().filter(|&m| m < 12)?;
    Some((month, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec))
}

/// The lines of one message: `<PRI>TIMESTAMP bongoyo[PID]: text`, the text
/// split on spaces (or anywhere, for a word too long) so that no line
/// passes [`MAX_LINE`]; lines after the first start with `+ `.
fn lines(
    pri: u8,
    time: Option<(usize, i32, i32, i32, i32)>,
    pid: u32,
    text: &str,
    mut out: impl FnMut(&[u8]),
) {
    use core::fmt::Write as _;
    let mut head = Buf::<64>::new();
    let _ = write!(head, "<{pri}>");
    if let Some((mon, day, h, m, sec)) = time {
        let _ = write!(head, "{} {day:>2} {h:02}:{m:02}:{sec:02} ", MONTHS[mon]);
    }
    let _ = write!(head, "{IDENT}[{pid}]: ");
    let room = MAX_LINE.saturating_sub(head.len + 2).max(16);
    let mut rest = text;
    let mut first = true;
    loop {
        let mut line = Buf::<MAX_LINE>::new();
        let _ = line.write_str(core::str::from_utf8(head.bytes()).unwrap_or(""));
        if !first {
            let _ = line.write_str("+ ");
        }
        let take = if rest.len() <= room {
            rest.len()
        } else {
            // Cut at the last space that fits, else at a char boundary.
            let mut cut = room;
            while !rest.is_char_boundary(cut) {
                cut -= 1;
            }
            rest[..cut].rfind(' ').filter(|&i| i > 0).unwrap_or(cut)
        };
        let _ = line.write_str(&rest[..take]);
        out(line.bytes());
        rest = rest[take..].trim_start_matches(' ');
        first = false;
        if rest.is_empty() {
            break;
        }
    }
}

impl Syslog {
    /// One message at syslog severity `severity` (0 emergency .. 7 debug),
    /// in as many lines as it takes.
    fn send(&mut self, severity: u8, msg: &core::fmt::Arguments) -> io::Result<()> {
        use core::fmt::Write as _;
        let mut text = Buf::<MAX_MESSAGE>::new();
        let _ = write!(text, "{msg}");
        let text = core::str::from_utf8(text.bytes()).unwrap_or_else(|e| {
            // Cut inside a character: keep what is whole.
            core::str::from_utf8(&text.buf[..e.valid_up_to()]).unwrap_or("")
        });
        let mut result = Ok(());
        let (pid, sock) = (self.pid, &mut self.sock);
        lines(FACILITY_DAEMON | severity, local_now(), pid, text, |line| {
            if result.is_ok() {
                result = match sock {
                    Sock::Datagram(d) => d.send(line).map(|_| ()),
                    Sock::Stream(s) => write_framed(s, line),
                };
            }
        });
        result
    }
}

/// One line on a stream socket, NUL-terminated. A line half written would
/// break the framing: that counts as a broken socket (reconnect).
fn write_framed(s: &mut UnixStream, line: &[u8]) -> io::Result<()> {
    let mut frame = [0u8; MAX_LINE + 1];
    frame[..line.len()].copy_from_slice(line);
    let frame = &frame[..line.len() + 1];
    match s.write(frame) {
        Ok(n) if n == frame.len() => Ok(()),
        Ok(_) => Err(io::Error::new(io::ErrorKind::BrokenPipe, "line cut")),
        Err(e) => Err(e),
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
    /// While syslog is missing: the next time to try it.
    retry_at: Option<Instant>,
    /// Lines dropped because the syslog socket would have blocked.
    dropped: u64,
    /// `-f`: standard error too, always.
    foreground: bool,
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
    /// Connect to syslog at `path`; with `foreground`, also copy every line
    /// to standard error. A missing syslog is reported once on standard
    /// error, and tried again at most once a second.
    pub fn new(path: PathBuf, foreground: bool) -> Fanout {
        let syslog = match connect(&path) {
            Ok(s) => Some(s),
            Err(e) => {
                let _ = writeln!(
                    std::io::stderr(),
                    "{IDENT}: warning: syslog unavailable at {} ({e}); logging to stderr until it is back",
                    path.display()
                );
                None
            }
        };
        let retry_at = syslog.is_none().then(|| Instant::now() + RETRY);
        Fanout {
            state: Mutex::new(State {
                syslog,
                retry_at,
                dropped: 0,
                foreground,
            }),
            path,
        }
    }

    fn send(s: &mut Syslog, level: Level, alert: bool, msg: &core::fmt::Arguments) -> Sent {
        let severity = if alert {
            1
        } else {
            match level {
                Level::Error => 3,
                Level::Warn => 4,
                Level::Info => 6,
                Level::Debug | Level::Trace => 7,
            }
        };
        match s.send(severity, msg) {
            Ok(()) => Sent::Ok,
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => Sent::WouldBlock,
            Err(_) => Sent::Failed,
        }
    }

    /// Syslog if it is there, trying a missing one again once its retry
    /// time has come.
    fn syslog<'a>(&self, st: &'a mut State) -> Option<&'a mut Syslog> {
        if st.syslog.is_none() && st.retry_at.is_some_and(|t| Instant::now() >= t) {
            match connect(&self.path) {
                Ok(s) => {
                    st.syslog = Some(s);
                    st.retry_at = None;
                }
                Err(_) => st.retry_at = Some(Instant::now() + RETRY),
            }
        }
        st.syslog.as_mut()
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

/// Connect to the syslog socket, non-blocking: as a datagram socket (what
/// `/dev/log` is for busybox syslogd, rsyslog and journald), or as a stream
/// one if that is what listens there (syslog-ng).
fn connect(path: &Path) -> io::Result<Syslog> {
    let sock = UnixDatagram::unbound()?;
    let sock = match sock.connect(path) {
        Ok(()) => {
            sock.set_nonblocking(true)?;
            Sock::Datagram(sock)
        }
        Err(e) if e.raw_os_error() == Some(libc::EPROTOTYPE) => {
            let s = UnixStream::connect(path)?;
            s.set_nonblocking(true)?;
            Sock::Stream(s)
        }
        Err(e) => return Err(e),
    };
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
        let dropped = st.dropped;
        let mut on_syslog = false;
        if let Some(s) = self.syslog(st) {
            if dropped > 0
                && Fanout::send(
                    s,
                    Level::Warn,
                    false,
                    &format_args!("log-dropped lines={dropped}"),
                ) == Sent::Ok
            {
                st.dropped = 0;
            }
        }
        if let Some(s) = st.syslog.as_mut() {
            match Fanout::send(s, record.level(), alert, args) {
                Sent::Ok => on_syslog = true,
                Sent::WouldBlock => st.dropped += 1,
                // syslogd restarted: its socket is new; reconnect once now,
                // then at most once a second while it is missing.
                Sent::Failed => match connect(&self.path) {
                    Ok(mut fresh) => {
                        on_syslog =
                            Fanout::send(&mut fresh, record.level(), alert, args) == Sent::Ok;
                        st.syslog = Some(fresh);
                    }
                    Err(_) => {
                        st.syslog = None;
                        st.retry_at = Some(Instant::now() + RETRY);
                    }
                },
            }
        }
        if st.foreground || (!on_syslog && st.syslog.is_none()) {
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

    fn all_lines(pid: u32, text: &str) -> std::vec::Vec<String> {
        let mut v = std::vec::Vec::new();
        lines(30, Some((11, 3, 9, 5, 7)), pid, text, |l| {
            v.push(String::from_utf8(l.to_vec()).unwrap())
        });
        v
    }

    #[test]
    fn every_line_has_a_timestamp_that_openwrt_logd_strips_cleanly() {
        let l = all_lines(12345, "start node=f1");
        assert_eq!(l, ["<30>Dec  3 09:05:07 bongoyo[12345]: start node=f1"]);
        // ubox logd: after the priority, if byte 15 is a space, the first
        // 16 bytes are a timestamp and go. What is left names us.
        let body = l[0].split_once('>').unwrap().1;
        assert_eq!(body.as_bytes()[15], b' ');
        assert!(body[16..].starts_with("bongoyo[12345]: "), "{body}");
    }

    #[test]
    fn a_long_message_goes_out_in_lines_busybox_syslogd_keeps_whole() {
        let words: std::vec::Vec<String> = (0..120).map(|i| format!("k{i}=v{i}")).collect();
        let text = words.join(" ");
        let l = all_lines(12345, &text);
        assert!(l.len() > 1);
        let head = "<30>Dec  3 09:05:07 bongoyo[12345]: ";
        let mut back = std::vec::Vec::new();
        for (i, line) in l.iter().enumerate() {
            assert!(line.len() <= MAX_LINE, "{} bytes: {line}", line.len());
            let rest = line.strip_prefix(head).unwrap();
            back.push(if i == 0 {
                rest
            } else {
                rest.strip_prefix("+ ").unwrap()
            });
        }
        assert_eq!(back.join(" "), text, "split on spaces, nothing lost");
        // A word longer than a line is cut anywhere, on a char boundary.
        let long = "é".repeat(300);
        let l = all_lines(1, &long);
        assert!(l.iter().all(|x| x.len() <= MAX_LINE));
    }

    fn sock_path(tag: &str) -> PathBuf {
        let p = std::env::temp_dir().join(format!("bongoyo-log-{tag}-{}.sock", std::process::id()));
        let _ = std::fs::remove_file(&p);
        p
    }

    fn info(f: &Fanout, msg: &str) {
        f.log(
            &Record::builder()
                .level(Level::Info)
                .args(format_args!("{msg}"))
                .build(),
        );
    }

    fn recv(rx: &UnixDatagram) -> String {
        let mut b = [0u8; 512];
        let n = rx.recv(&mut b).unwrap();
        String::from_utf8(b[..n].to_vec()).unwrap()
    }

    #[test]
    fn a_syslog_missing_or_restarted_is_found_again_within_a_second() {
        log::set_max_level(LevelFilter::Info);
        let path = sock_path("restart");
        // Missing at start.
        let f = Fanout::new(path.clone(), false);
        info(&f, "one");
        let rx = UnixDatagram::bind(&path).unwrap();
        rx.set_read_timeout(Some(Duration::from_secs(2))).unwrap();
        std::thread::sleep(RETRY + Duration::from_millis(100));
        info(&f, "two");
        assert!(recv(&rx).ends_with("]: two"));
        // The stand-in restarts: a new socket at the same path.
        drop(rx);
        let _ = std::fs::remove_file(&path);
        info(&f, "three");
        let rx = UnixDatagram::bind(&path).unwrap();
        rx.set_read_timeout(Some(Duration::from_secs(2))).unwrap();
        std::thread::sleep(RETRY + Duration::from_millis(100));
        info(&f, "four");
        assert!(recv(&rx).ends_with("]: four"));
        let _ = std::fs::remove_file(&path);
    }

    #[test]
    fn a_stream_syslog_gets_nul_terminated_lines() {
        use std::io::Read as _;
        log::set_max_level(LevelFilter::Info);
        let path = sock_path("stream");
        let l = std::os::unix::net::UnixListener::bind(&path).unwrap();
        let f = Fanout::new(path.clone(), false);
        let (mut c, _) = l.accept().unwrap();
        c.set_read_timeout(Some(Duration::from_secs(2))).unwrap();
        info(&f, "start node=f1");
        info(&f, "stop");
        let mut got = std::vec::Vec::new();
        let mut b = [0u8; 512];
        while got.iter().filter(|&&x| x == 0).count() < 2 {
            let n = c.read(&mut b).unwrap();
            assert!(n > 0);
            got.extend_from_slice(&b[..n]);
        }
        let text = String::from_utf8(got).unwrap();
        let frames: std::vec::Vec<&str> = text.split_terminator('\0').collect();
        assert_eq!(frames.len(), 2, "{text:?}");
        assert!(frames[0].starts_with("<30>") && frames[0].ends_with("]: start node=f1"));
        assert!(frames[1].ends_with("]: stop"));
        let _ = std::fs::remove_file(&path);
    }
}
