//! The configuration file parser (docs/CONFIG.md).
//!
//! # Grammar, for operators
//!
//! The file is read line by line. `#` starts a comment wherever it appears,
//! even inside a word (so no path or argument can contain `#`). Words are
//! separated by spaces or tabs; a CRLF line end is fine. Keywords are lower
//! case and case-sensitive. Each directive is one line; its words are the
//! keyword and its values, nothing else may follow on the line. Directives may
//! come in any order; `node`, `peer`, `track-interface` and `vserver` repeat,
//! every other directive may appear once (once per block inside a `vserver`
//! block).
//!
//! ```text
//! cluster NAME                         required
//! key-file PATH | insecure             required; PATH absolute
//! interface IFACE                      required; where the cluster talks
//! multicast GROUP [port N]             default 239.255.76.7 port 7607; GROUP in 224.0.0.0/4
//! peer ADDR                            repeatable, at most MAX_PEERS
//! hello DURATION                       default 200ms; at least 10ms
//! dead DURATION                        default 3 x hello; at least 2 x hello
//! lost-alert DURATION                  a box lost this long raises an alert; default 30s
//! quorum auto | N                      default auto = (node lines / 2) + 1; 1 <= N <= node lines
//! fencing auto | lease | none          default auto = lease when quorum >= 2, else none
//! notify PATH [ARG...]                 alert hook
//! track-interface IFACE                repeatable, at most MAX_TRACKED; down or missing: this box is on hold
//! max-load-percent N | none            default 800; load average per CPU x 100 at which health is lowest
//! min-free-memory SIZE | none          default 4M; available memory at which health is 0
//! garp-refresh DURATION | none         default none; every vserver's, unless its block sets one
//! node NAME ADDR [priority N]          at least one; priority 0-255, default 100, higher ranks first
//! vserver NAME {                       `{` on this line, or alone on the next line
//!     address A.B.C.D/P                required; P is 1-32
//!     interface IFACE [dedicated]      required
//!     service tcp PORT | exec PATH [ARG...] | none       default none
//!     reachability arp | tcp PORT                        default arp
//!     check DURATION                                     default 200ms; at least 10ms
//!     self-check tcp PORT | exec PATH [ARG...] | none    default none
//!     takeover-timeout DURATION                          default 3s
//!     pre-takeover | post-takeover | pre-release | post-release PATH [ARG...]
//!     failback auto | manual                             default auto
//!     original-mac XX:XX:XX:XX:XX:XX                     the original host's MAC; default learned
//!     prefer NODE [NODE...] | none                       boxes that should serve it, best first
//!     preempt-delay DURATION                             default 5 x hello
//!     garp-refresh DURATION | none                       while held, a gratuitous ARP this often; at least 1s
//! }                                    alone on its line
//! ```
//!
//! Decisions the design leaves open, and why:
//!
//! * **Names** (cluster, node, vserver) are 1 to MAX_NAME (32) bytes of ASCII
//!   letters, digits, `-`, `_` and `.`: they appear in syslog lines, hook
//!   arguments and `status` output, where anything else would need quoting.
//! * **Interface names** are 1 to MAX_IFNAME (15) bytes without `/`, `:` or
//!   control characters. A vserver's interface that is not `dedicated` gets an
//!   alias label `IFACE:N` (N < MAX_VSERVERS, two digits), so its name may be
//!   at most 12 bytes. A `dedicated` interface belongs to one vserver only and
//!   may not be the cluster interface (its own address would be replaced).
//! * **Durations** are digits immediately followed by a unit: `ms`, `s`, `m`
//!   or `h` (`200ms`, `3s`); no unit, no space, no fractions. Every duration is
//!   greater than zero and at most 24h. `hello` and `check` are at least 10ms
//!   (below that, scheduling jitter alone looks like a lost box). `dead` must be
//!   at least twice `hello`, so one lost hello never makes a peer suspected.
//!   `garp-refresh` is at least 1s: it keeps caches that missed every other
//!   announcement from naming an old holder for long (the kernel's own
//!   bound is tens of seconds), and more often would be a broadcast flood.
//! * **Numbers** are plain decimal digits. Ports are 1-65535. Priorities are
//!   0-255 (0 is allowed and ranks last). `max-load-percent` is 10-100000:
//!   the 1-minute load average per online CPU times 100 (a load is a
//!   fraction; per CPU, so the one file fits boxes with different CPUs).
//! * **Sizes** are digits immediately followed by `K`, `M` or `G` (KiB, MiB,
//!   GiB): `512K`, `16M`. No space, no fraction, no unit-less number; greater
//!   than zero and at most 1024G.
//! * **Addresses** of nodes, peers and vservers are dotted IPv4 and may not be
//!   0.0.0.0, 255.255.255.255 or multicast; loopback is allowed, for tests on
//!   one machine. Node addresses are unique; a peer may repeat a node's address
//!   (that is its purpose) but not another peer's. A vserver address is unique
//!   among vservers, is not a node's address, and for prefixes up to /30 is
//!   neither the network nor the broadcast address of its prefix.
//! * **Commands** (hooks, `notify`, `exec` checks) are split on whitespace and
//!   run without a shell: no quoting. The program must be an absolute path (no
//!   PATH search in a daemon). At most MAX_ARGS (16) words, program included,
//!   and MAX_COMMAND (192) bytes once single-spaced. Hooks get `VSERVER
//!   ADDRESS INTERFACE EVENT` appended to their arguments by the daemon (and
//!   the same in `BONGOYO_*` environment variables); `exec` checks run with
//!   exactly the words written, their context in the environment only.
//! * **`key-file`** takes an absolute path (the daemon's working directory is
//!   not something to depend on) or the word `insecure`. [`load`] reads the
//!   key: hex digits only after trimming surrounding whitespace, an even number
//!   of them, at least 2 x MIN_KEY (32) and at most 2 x MAX_KEY (128). The
//!   key file must be a regular file named directly (a symbolic link is
//!   refused, not followed) and must not be world-readable; group-readable
//!   is the operator's choice.
//! * **Files** (the configuration and the key) are read only when they are
//!   regular files, opened without waiting (`O_NONBLOCK`): a FIFO, device
//!   or directory is refused at once (`FILE:0:0: not a regular file`)
//!   instead of blocking start-up, `bongoyo check` or a reload. A symbolic
//!   link to the configuration is followed.
//! * **Blocks**: `vserver NAME {` opens a block; the `{` may instead stand alone
//!   on the next line. `}` stands alone on its line. Blocks do not nest.
//! * **Errors** are all collected (up to MAX_CONFIG_ERRORS, then counted) and
//!   printed one per line as `FILE:LINE:COL: message`, sorted by place.
//!   Lines and columns count from 1; a column counts characters, a tab is one.
//!   Line 0, column 0 means the file as a whole: a missing required directive,
//!   an unreadable file, or a box name not among the node lines.

// `Errors` is large (a fixed table of messages), but the `Ok` side, `Config`,
// is larger still, and both are built once at start-up or reload: boxing
// either would only add an allocation.
#![allow(clippy::result_large_err)]

use core::fmt::{self, Write as _};
use core::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use core::time::Duration;

use heapless::{String, Vec};

use super::HealthLimits;
use super::{
    Check, Command, Config, Failback, Fencing, HookKind, IfName, Key, Name, NodeConf, NodeId,
    Reachability, VServer, DEFAULT_CHECK, DEFAULT_GROUP, DEFAULT_GROUP6, DEFAULT_HELLO,
    DEFAULT_LOST_ALERT, DEFAULT_PORT, DEFAULT_PRIORITY, DEFAULT_TAKEOVER_TIMEOUT,
};
use crate::limits::MAX_TRACKED;
use crate::limits::{
    MAX_ARGS, MAX_COMMAND, MAX_CONFIG_BYTES, MAX_CONFIG_ERRORS, MAX_IFNAME, MAX_KEY, MAX_NAME,
    MAX_NODES, MAX_PEERS, MAX_VSERVERS, MIN_KEY,
};

/// Shortest `hello` and `check` interval accepted.
pub const MIN_INTERVAL: Duration = Duration::from_millis(10);
/// Longest duration accepted anywhere in the file.
pub const MAX_DURATION: Duration = Duration::from_secs(24 * 3600);
/// Bytes of one error message (longer ones are cut).
pub const MAX_MESSAGE: usize = 160;
/// Bytes of the file name carried in [`Errors`] (longer ones are cut).
pub const MAX_FILE_NAME: usize = 192;
/// Bytes read from a key file at most (a real one has 65).
const MAX_KEY_FILE: usize = 1024;
/// Longest alias label suffix `:NN` (N < MAX_VSERVERS = 64).
const LABEL_SUFFIX: usize = 3;
/// Characters of a user's word quoted in a message.
const QUOTE_CHARS: usize = 40;

/// Records an error at a position: `bad!(parser, at, "format", args...)`.
macro_rules! bad {
    ($p:expr, $at:expr, $($fmt:tt)+) => {
        $p.err($at, format_args!($($fmt)+))
    };
}

/// One error: where and what.
#[derive(Clone, Debug, PartialEq)]
pub struct ConfigError {
    /// Line, from 1; 0 for the file as a whole.
    pub line: u32,
    /// Column in characters, from 1; 0 for the file as a whole.
    pub col: u32,
    /// What is wrong, for a person.
    pub message: String<MAX_MESSAGE>,
}

/// Every error of one file ([`parse`] sorts them by line and column).
#[derive(Clone, Debug, Default)]
pub struct Errors {
    /// The file name as given (cut at [`MAX_FILE_NAME`] bytes).
    pub file: String<MAX_FILE_NAME>,
    /// The first [`MAX_CONFIG_ERRORS`] errors.
    pub list: Vec<ConfigError, MAX_CONFIG_ERRORS>,
    /// Errors found after the list was full: counted, not kept.
    pub more: u32,
}

impl Errors {
    /// No errors yet, for this file.
    pub fn new(file: &str) -> Self {
        let mut e = Errors::default();
        let _ = Cut::new(&mut e.file).write_str(file);
        e
    }

    /// Records an error; once the list is full it is only counted.
    pub fn push(&mut self, line: u32, col: u32, message: fmt::Arguments<'_>) {
        let mut m = String::new();
        let _ = Cut::new(&mut m).write_fmt(message);
        let e = ConfigError {
            line,
            col,
            message: m,
        };
        if self.list.push(e).is_err() {
            self.more = self.more.saturating_add(1);
        }
    }

    /// True when nothing was recorded.
    pub fn is_empty(&self) -> bool {
        self.list.is_empty() && self.more == 0
    }

    /// Orders the list by line and column, as [`parse`] does.
    pub fn sort(&mut self) {
        sort_by_place(&mut self.list);
    }
}

impl fmt::Display for Errors {
    /// One line per error, `FILE:LINE:COL: message`, plus one line counting
    /// the errors that did not fit.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for e in &self.list {
            writeln!(f, "{}:{}:{}: {}", self.file, e.line, e.col, e.message)?;
        }
        if self.more > 0 {
            let more = Count(self.more as usize, "more error");
            writeln!(f, "{}:0:0: {more} not shown", self.file)?;
        }
        Ok(())
    }
}

/// Parses configuration text; `file` only names it in errors. Pure: the key
/// stays [`Key::Unread`] (or [`Key::Insecure`]); [`load`] reads it.
pub fn parse(file: &str, text: &str) -> Result<Config, Errors> {
    parse_at(file, text).map(|(cfg, _)| cfg)
}

/// Reads the configuration file (at most MAX_CONFIG_BYTES), parses it, then
/// reads the key file it names and replaces [`Key::Unread`] with
/// [`Key::Secret`]. Errors about the key point at the `key-file` path.
pub fn load(path: &str) -> Result<Config, Errors> {
    load_placed(path).map(|(cfg, _)| cfg)
}

/// [`load`], and where things were written ([`Places`]): what `bongoyo
/// check` needs to point at a line when it checks this host.
pub fn load_placed(path: &str) -> Result<(Config, Places), Errors> {
    let bytes = match read_limited(path, MAX_CONFIG_BYTES) {
        Ok(Some(b)) => b,
        Ok(None) => {
            let mut e = Errors::new(path);
            e.push(
                0,
                0,
                format_args!("file is larger than {MAX_CONFIG_BYTES} bytes"),
            );
            return Err(e);
        }
        Err(Refused::Io(err)) => {
            let mut e = Errors::new(path);
            e.push(0, 0, format_args!("cannot read: {err}"));
            return Err(e);
        }
        // (The configuration's links are followed: `Link` cannot come.)
        Err(Refused::NotRegular | Refused::Link) => {
            let mut e = Errors::new(path);
            e.push(0, 0, format_args!("not a regular file"));
            return Err(e);
        }
    };
    let text = match core::str::from_utf8(&bytes) {
        Ok(t) => t,
        Err(bad) => {
            // Point at the first byte that is not UTF-8.
            let good = bytes.get(..bad.valid_up_to()).unwrap_or_default();
            let good = core::str::from_utf8(good).unwrap_or_default();
            let line = good.bytes().filter(|&b| b == b'\n').count() + 1;
            let last = good.rsplit('\n').next().unwrap_or_default();
            let mut e = Errors::new(path);
            e.push(
                line as u32,
                last.chars().count() as u32 + 1,
                format_args!("not UTF-8 text"),
            );
            return Err(e);
        }
    };
    let (mut cfg, places) = parse_at(path, text)?;
    let key_at = places.key_file;
    if let Key::Unread(key_path) = &cfg.key {
        match read_key(key_path) {
            Ok(k) => cfg.key = Key::Secret(k),
            Err(why) => {
                let mut e = Errors::new(path);
                e.push(
                    key_at.line,
                    key_at.col,
                    format_args!("key file {key_path} {why}"),
                );
                return Err(e);
            }
        }
    }
    Ok((cfg, places))
}

/// Checks that this box's name (`-n NAME`, default the host name) has a node
/// line, and returns its index. The error, at line 0 column 0 (the file as a
/// whole), lists the names that do.
pub fn validate_node(file: &str, cfg: &Config, name: &str) -> Result<NodeId, Errors> {
    if let Some(id) = cfg.node_id(name) {
        return Ok(id);
    }
    let mut e = Errors::new(file);
    e.push(
        0,
        0,
        format_args!(
            "this box's name {} is not among the node lines ({})",
            Q(name),
            NodeNames(cfg)
        ),
    );
    Err(e)
}

/// The node names, comma-separated, for an error message.
struct NodeNames<'a>(&'a Config);

impl fmt::Display for NodeNames<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, n) in self.0.nodes.iter().enumerate() {
            if i > 0 {
                f.write_str(", ")?;
            }
            f.write_str(n.name.as_str())?;
        }
        Ok(())
    }
}

/// Why a file is not read.
enum Refused {
    /// Opening or reading it failed.
    Io(std::io::Error),
    /// A FIFO, directory, device or socket: only regular files are read.
    NotRegular,
    /// A symbolic link where none is followed (the key file).
    Link,
}

/// Opens a regular file for reading and nothing else, without waiting:
/// `O_NONBLOCK` makes the open of a FIFO or a device return at once (a FIFO
/// would wait for a writer, and the daemon's loop with it), and the type is
/// checked on the opened file, so it is the one read. `follow`: whether a
/// symbolic link at `path` is followed (`O_NOFOLLOW` otherwise).
fn open_regular(path: &str, follow: bool) -> Result<std::fs::File, Refused> {
    use std::os::unix::fs::OpenOptionsExt;
    let flags = libc::O_NONBLOCK | if follow { 0 } else { libc::O_NOFOLLOW };
    let f = match std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(flags)
        .open(path)
    {
        Ok(f) => f,
        Err(e) if !follow && e.raw_os_error() == Some(libc::ELOOP) => return Err(Refused::Link),
        Err(e) => return Err(Refused::Io(e)),
    };
    let meta = f.metadata().map_err(Refused::Io)?;
    if !meta.file_type().is_file() {
        return Err(Refused::NotRegular);
    }
    Ok(f)
}

/// Reads at most `limit` bytes of a regular file (symbolic links followed);
/// `Ok(None)` when the file is longer. Start-up and reload only, so a std
/// `Vec` is fine here.
fn read_limited(path: &str, limit: usize) -> Result<Option<std::vec::Vec<u8>>, Refused> {
    use std::io::Read;
    let f = open_regular(path, true)?;
    let mut buf = std::vec::Vec::new();
    f.take(limit as u64 + 1)
        .read_to_end(&mut buf)
        .map_err(Refused::Io)?;
    Ok(if buf.len() > limit { None } else { Some(buf) })
}

/// Why a key file is refused; the caller prefixes "key file PATH".
enum KeyError {
    Io(std::io::Error),
    NotRegular,
    Link,
    WorldReadable,
    TooBig,
    NotHex,
    Odd,
    Short(usize),
    Long(usize),
}

impl fmt::Display for KeyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            KeyError::Io(e) => write!(f, "cannot be read: {e}"),
            KeyError::NotRegular => f.write_str("is not a regular file"),
            KeyError::Link => {
                f.write_str("is a symbolic link (not followed: name the key file itself)")
            }
            KeyError::WorldReadable => f.write_str("is world-readable (chmod 600)"),
            KeyError::TooBig => write!(f, "is larger than {MAX_KEY_FILE} bytes"),
            KeyError::NotHex => f.write_str("is not hex digits (bongoyo keygen writes one)"),
            KeyError::Odd => f.write_str("has an odd number of hex digits"),
            KeyError::Short(n) => write!(
                f,
                "has {}, at least {} needed",
                Count(*n, "hex digit"),
                2 * MIN_KEY
            ),
            KeyError::Long(n) => write!(
                f,
                "has {}, at most {} allowed",
                Count(*n, "hex digit"),
                2 * MAX_KEY
            ),
        }
    }
}

/// Reads and decodes the key file: a regular file named directly (no
/// symbolic link), not world-readable. Type and mode are checked on the
/// opened file, so it is the same file that is read.
fn read_key(path: &str) -> Result<Vec<u8, MAX_KEY>, KeyError> {
    use std::io::Read;
    use std::os::unix::fs::PermissionsExt;
    let f = open_regular(path, false).map_err(|r| match r {
        Refused::Io(e) => KeyError::Io(e),
        Refused::NotRegular => KeyError::NotRegular,
        Refused::Link => KeyError::Link,
    })?;
    let mode = f.metadata().map_err(KeyError::Io)?.permissions().mode();
    if mode & 0o004 != 0 {
        return Err(KeyError::WorldReadable);
    }
    let mut buf = [0u8; MAX_KEY_FILE + 1];
    let mut n = 0;
    let mut f = f.take(buf.len() as u64);
    while let Some(rest) = buf.get_mut(n..) {
        match f.read(rest) {
            Ok(0) => break,
            Ok(k) => n += k,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(KeyError::Io(e)),
        }
    }
    let r = decode_key(buf.get(..n).unwrap_or_default());
    // The secret should not linger on the stack longer than needed.
    buf.fill(0);
    core::hint::black_box(&buf);
    r
}

/// Hex text (surrounding whitespace trimmed) to key bytes.
fn decode_key(text: &[u8]) -> Result<Vec<u8, MAX_KEY>, KeyError> {
    if text.len() > MAX_KEY_FILE {
        return Err(KeyError::TooBig);
    }
    let hex = text.trim_ascii();
    if !hex.iter().all(u8::is_ascii_hexdigit) {
        return Err(KeyError::NotHex);
    }
    if hex.len() < 2 * MIN_KEY {
        return Err(KeyError::Short(hex.len()));
    }
    if hex.len() > 2 * MAX_KEY {
        return Err(KeyError::Long(hex.len()));
    }
    if hex.len() % 2 != 0 {
        return Err(KeyError::Odd);
    }
    let mut key = Vec::new();
    for pair in hex.chunks_exact(2) {
        let digit = |b: u8| (b as char).to_digit(16).unwrap_or(0) as u8;
        let (hi, lo) = match pair {
            [h, l] => (digit(*h), digit(*l)),
            _ => return Err(KeyError::Odd),
        };
        // Capacity: at most 2 x MAX_KEY digits, checked above.
        key.push((hi << 4) | lo)
            .map_err(|_| KeyError::Long(hex.len()))?;
    }
    Ok(key)
}

/// A place in the file: line and column from 1; 0:0 is the file as a whole.
#[derive(Copy, Clone, Debug, Default, PartialEq, Eq)]
pub struct Pos {
    /// Line, from 1.
    pub line: u32,
    /// Column in characters, from 1.
    pub col: u32,
}

/// One word of a line and where it starts.
#[derive(Copy, Clone)]
struct Tok<'a> {
    s: &'a str,
    at: Pos,
}

/// The words of one line (comment already cut off).
struct Toks<'a> {
    s: &'a str,
    i: usize,
    at: Pos,
}

impl<'a> Toks<'a> {
    fn new(line: u32, s: &'a str) -> Self {
        Toks {
            s,
            i: 0,
            at: Pos { line, col: 1 },
        }
    }
}

impl<'a> Iterator for Toks<'a> {
    type Item = Tok<'a>;

    // Splits on ASCII whitespace bytes, which never occur inside a UTF-8
    // sequence, so every cut is a char boundary. Columns count chars: every
    // byte that is not a continuation byte.
    fn next(&mut self) -> Option<Tok<'a>> {
        let b = self.s.as_bytes();
        while b.get(self.i).is_some_and(u8::is_ascii_whitespace) {
            self.i += 1;
            self.at.col += 1;
        }
        let start = self.i;
        let at = self.at;
        while let Some(&c) = b.get(self.i) {
            if c.is_ascii_whitespace() {
                break;
            }
            if c & 0xc0 != 0x80 {
                self.at.col += 1;
            }
            self.i += 1;
        }
        let s = self.s.get(start..self.i)?;
        if s.is_empty() {
            None
        } else {
            Some(Tok { s, at })
        }
    }
}

/// A user's word in a message: back-quoted, shortened, control characters
/// shown as `?`.
struct Q<'a>(&'a str);

impl fmt::Display for Q<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_char('`')?;
        for (i, c) in self.0.chars().enumerate() {
            if i == QUOTE_CHARS {
                f.write_char('…')?;
                break;
            }
            f.write_char(if c.is_control() { '?' } else { c })?;
        }
        f.write_char('`')
    }
}

/// A number and a noun, the noun plural unless the number is 1:
/// `Count(1, "vserver")` is `1 vserver`, `Count(2, "vserver")` `2 vservers`.
pub struct Count<'a>(pub usize, pub &'a str);

impl fmt::Display for Count<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let s = if self.0 == 1 { "" } else { "s" };
        write!(f, "{} {}{s}", self.0, self.1)
    }
}

/// Milliseconds in a message.
struct Ms(Duration);

impl fmt::Display for Ms {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}ms", self.0.as_millis())
    }
}

/// Writes into a fixed string and silently cuts what does not fit (at a char
/// boundary): a long message loses its tail, never the whole error.
struct Cut<'a, const N: usize> {
    s: &'a mut String<N>,
    full: bool,
}

impl<'a, const N: usize> Cut<'a, N> {
    fn new(s: &'a mut String<N>) -> Self {
        Cut { s, full: false }
    }
}

impl<const N: usize> fmt::Write for Cut<'_, N> {
    fn write_str(&mut self, text: &str) -> fmt::Result {
        for c in text.chars() {
            if self.full || self.s.push(c).is_err() {
                self.full = true;
                break;
            }
        }
        Ok(())
    }
}

/// Top-level keywords; the discriminant indexes `Parser::seen`.
#[derive(Copy, Clone, PartialEq, Eq)]
enum Top {
    Cluster,
    KeyFile,
    Interface,
    Multicast,
    Peer,
    Hello,
    Dead,
    Quorum,
    Fencing,
    Notify,
    Node,
    Vserver,
    LostAlert,
    TrackInterface,
    MaxLoadPercent,
    MinFreeMemory,
    GarpRefresh,
}

const TOP: [(&str, Top); 17] = [
    ("cluster", Top::Cluster),
    ("key-file", Top::KeyFile),
    ("interface", Top::Interface),
    ("multicast", Top::Multicast),
    ("peer", Top::Peer),
    ("hello", Top::Hello),
    ("dead", Top::Dead),
    ("quorum", Top::Quorum),
    ("fencing", Top::Fencing),
    ("notify", Top::Notify),
    ("node", Top::Node),
    ("vserver", Top::Vserver),
    ("lost-alert", Top::LostAlert),
    ("track-interface", Top::TrackInterface),
    ("max-load-percent", Top::MaxLoadPercent),
    ("min-free-memory", Top::MinFreeMemory),
    ("garp-refresh", Top::GarpRefresh),
];

/// Keywords inside a `vserver` block; the discriminant indexes `VsBuild::seen`.
#[derive(Copy, Clone, PartialEq, Eq)]
enum Vk {
    Address,
    Interface,
    Service,
    Reachability,
    Check,
    SelfCheck,
    TakeoverTimeout,
    PreTakeover,
    PostTakeover,
    PreRelease,
    PostRelease,
    Failback,
    OriginalMac,
    Prefer,
    PreemptDelay,
    GarpRefresh,
}

const VK: [(&str, Vk); 16] = [
    ("address", Vk::Address),
    ("interface", Vk::Interface),
    ("service", Vk::Service),
    ("reachability", Vk::Reachability),
    ("check", Vk::Check),
    ("self-check", Vk::SelfCheck),
    ("takeover-timeout", Vk::TakeoverTimeout),
    ("pre-takeover", Vk::PreTakeover),
    ("post-takeover", Vk::PostTakeover),
    ("pre-release", Vk::PreRelease),
    ("post-release", Vk::PostRelease),
    ("failback", Vk::Failback),
    ("original-mac", Vk::OriginalMac),
    ("prefer", Vk::Prefer),
    ("preempt-delay", Vk::PreemptDelay),
    ("garp-refresh", Vk::GarpRefresh),
];

/// `02:00:5e:10:00:01`: six bytes of two hex digits each, `:` between.
fn parse_mac(s: &str) -> Option<[u8; 6]> {
    let mut mac = [0u8; 6];
    let mut parts = s.split(':');
    for b in mac.iter_mut() {
        let p = parts.next()?;
        if p.len() != 2 || !p.bytes().all(|c| c.is_ascii_hexdigit()) {
            return None;
        }
        *b = u8::from_str_radix(p, 16).ok()?;
    }
    parts.next().is_none().then_some(mac)
}

fn lookup<T: Copy>(table: &[(&str, T)], word: &str) -> Option<T> {
    table.iter().find(|(k, _)| *k == word).map(|&(_, v)| v)
}

/// Where the parts of a vserver block were written: for checks across
/// blocks, and for `bongoyo check`'s checks of this host ([`Places`]).
/// A directive that is not in the block is at 0:0.
#[derive(Copy, Clone, Debug, Default)]
pub struct VsPos {
    /// The name on the `vserver` line.
    pub name: Pos,
    /// The `address` value.
    pub address: Pos,
    /// The `interface` value.
    pub interface: Pos,
    /// The `service exec` program.
    pub service: Pos,
    /// The `self-check exec` program.
    pub self_check: Pos,
    /// Each hook's program, indexed by `HookKind as usize`.
    pub hooks: [Pos; 4],
}

/// Where the directives that name things on the box (interfaces, addresses,
/// programs) were written, so a check of this host can point at them with
/// `FILE:LINE:COL` ([`load_placed`]).
#[derive(Clone, Debug, Default)]
pub struct Places {
    /// The `key-file` value.
    pub key_file: Pos,
    /// The cluster `interface` value.
    pub interface: Pos,
    /// The `notify` program.
    pub notify: Pos,
    /// Each node line's address, in file order.
    pub nodes: Vec<Pos, MAX_NODES>,
    /// Each vserver block, in file order.
    pub vservers: Vec<VsPos, MAX_VSERVERS>,
    /// Each `track-interface` value, in file order.
    pub track: Vec<Pos, MAX_TRACKED>,
    /// The file's revision: its first comment line ([`revision_of`]).
    pub revision: String<MAX_REVISION>,
}

/// Bytes of a revision kept ([`revision_of`]).
pub const MAX_REVISION: usize = 64;

/// The short name `status` and the reload log give a file: the text of its
/// first comment line, blanks trimmed, cut at [`MAX_REVISION`] bytes (on a
/// character boundary); empty if it has none. A file written for a
/// roll-out says so there (`# v7: adds vserver mail`).
pub fn revision_of(text: &str) -> String<MAX_REVISION> {
    let mut r = String::new();
    let Some(line) = text.lines().map(str::trim).find(|l| l.starts_with('#')) else {
        return r;
    };
    for c in line.trim_start_matches('#').trim().chars() {
        if c.is_control() || r.push(c).is_err() {
            break;
        }
    }
    r
}

/// A vserver block being read.
struct VsBuild {
    vs: VServer,
    at: VsPos,
    /// The `{`, once seen.
    open: Option<Pos>,
    /// First line of each keyword, for duplicates and missing fields.
    seen: [Option<Pos>; VK.len()],
    /// Over the MAX_VSERVERS limit: read for errors, then dropped.
    dropped: bool,
    /// `prefer` names, resolved at the end of the file (node lines may
    /// come after the block).
    prefer: std::vec::Vec<(Name, Pos)>,
}

/// A kind of number with a unit (durations, sizes): its words for
/// [`Parser::amount`]'s errors, its units and its largest value.
struct Amount {
    what: &'static str,
    units: &'static [(&'static str, u64)],
    unit_list: &'static str,
    example: &'static str,
    max: u64,
    over: &'static str,
}

/// Shortest `garp-refresh` accepted (its error message says 1s).
const MIN_GARP_REFRESH: Duration = Duration::from_secs(1);

/// Durations, in milliseconds.
const DURATION: Amount = Amount {
    what: "duration",
    units: &[("ms", 1), ("s", 1_000), ("m", 60_000), ("h", 3_600_000)],
    unit_list: "ms, s, m or h",
    example: "200ms",
    max: MAX_DURATION.as_millis() as u64,
    over: "is too long (at most 24h)",
};

/// Sizes, in KiB.
const SIZE: Amount = Amount {
    what: "size",
    units: &[("K", 1), ("M", 1 << 10), ("G", 1 << 20)],
    unit_list: "K, M or G",
    example: "16M",
    max: 1 << 30,
    over: "is too large (at most 1024G)",
};

/// A number, or why it is not one.
enum Num {
    Ok(u64),
    NotNumber,
    TooLarge,
}

fn number(s: &str) -> Num {
    if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
        return Num::NotNumber;
    }
    let mut v: u64 = 0;
    for b in s.bytes() {
        match v
            .checked_mul(10)
            .and_then(|v| v.checked_add(u64::from(b - b'0')))
        {
            Some(n) => v = n,
            None => return Num::TooLarge,
        }
    }
    Num::Ok(v)
}

fn valid_name(s: &str) -> bool {
    s.bytes()
        .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
}

fn valid_ifname(s: &str) -> bool {
    s.chars().all(|c| !c.is_control() && c != '/' && c != ':')
}

/// The parser's state: the config being filled in place (it is large, so it
/// is not copied around), and where each directive was first seen.
struct Parser {
    errs: Errors,
    cfg: Config,
    seen: [Option<Pos>; TOP.len()],
    /// `None` is `auto`.
    quorum: Option<u64>,
    quorum_at: Pos,
    /// `None` is `auto`.
    fencing: Option<Fencing>,
    /// `None` is the default, 3 x hello.
    dead: Option<(Duration, Pos)>,
    node_at: Vec<Pos, MAX_NODES>,
    /// Each node line's address, beside `node_at`.
    node_addr_at: Vec<Pos, MAX_NODES>,
    peer_at: Vec<Pos, MAX_PEERS>,
    vs_at: Vec<VsPos, MAX_VSERVERS>,
    track_at: Vec<Pos, MAX_TRACKED>,
    block: Option<VsBuild>,
    /// A `}` ended a directive line: close the block after that line.
    close_after_line: bool,
    /// `prefer` names of each kept vserver (its index), for `finish`.
    prefer: std::vec::Vec<(usize, Name, Pos)>,
    /// The top-level `garp-refresh` (`None`: off), for `finish`.
    garp_refresh: Option<Duration>,
    /// Bit per kept vserver whose block sets its own `garp-refresh`.
    own_refresh: u64,
    /// Limit errors are reported once each.
    over_nodes: bool,
    over_peers: bool,
    /// A `multicast` line set the group (not a line with an error).
    group_set: bool,
    over_vservers: bool,
    over_track: bool,
}

/// Parses and also returns where things were written ([`Places`]).
pub(super) fn parse_at(file: &str, text: &str) -> Result<(Config, Places), Errors> {
    let mut p = Parser::new(file);
    for (i, raw) in text.split('\n').enumerate() {
        let no = u32::try_from(i + 1).unwrap_or(u32::MAX);
        let line = match raw.find('#') {
            Some(h) => raw.get(..h).unwrap_or_default(),
            None => raw,
        };
        p.line(no, line);
    }
    p.finish();
    sort_by_place(&mut p.errs.list);
    if p.errs.is_empty() {
        let at = |k: Top| p.seen[k as usize].unwrap_or_default();
        let places = Places {
            key_file: at(Top::KeyFile),
            interface: at(Top::Interface),
            notify: at(Top::Notify),
            nodes: p.node_addr_at,
            vservers: p.vs_at,
            track: p.track_at,
            revision: revision_of(text),
        };
        Ok((p.cfg, places))
    } else {
        Err(p.errs)
    }
}

/// Orders errors by line and column, keeping the order found among errors
/// at one place (a stable insertion sort: at most MAX_CONFIG_ERRORS, no
/// allocation). Checks that need the whole file run last but report early
/// lines; an operator reads the list top to bottom like the file.
fn sort_by_place(list: &mut [ConfigError]) {
    for i in 1..list.len() {
        let mut j = i;
        while j > 0 {
            let (Some(a), Some(b)) = (list.get(j - 1), list.get(j)) else {
                break;
            };
            if (a.line, a.col) <= (b.line, b.col) {
                break;
            }
            list.swap(j - 1, j);
            j -= 1;
        }
    }
}

impl Parser {
    fn new(file: &str) -> Self {
        Parser {
            errs: Errors::new(file),
            cfg: Config {
                cluster: Name::new(),
                key: Key::Insecure,
                interface: IfName::new(),
                multicast: IpAddr::V4(DEFAULT_GROUP),
                port: DEFAULT_PORT,
                peers: Vec::new(),
                hello: DEFAULT_HELLO,
                dead: DEFAULT_HELLO * 3,
                quorum: 1,
                fencing: Fencing::None,
                notify: None,
                lost_alert: DEFAULT_LOST_ALERT,
                health: HealthLimits::default(),
                nodes: Vec::new(),
                vservers: Vec::new(),
            },
            seen: [None; TOP.len()],
            quorum: None,
            quorum_at: Pos::default(),
            fencing: None,
            dead: None,
            node_at: Vec::new(),
            node_addr_at: Vec::new(),
            peer_at: Vec::new(),
            vs_at: Vec::new(),
            track_at: Vec::new(),
            block: None,
            close_after_line: false,
            prefer: std::vec::Vec::new(),
            garp_refresh: None,
            own_refresh: 0,
            over_nodes: false,
            over_peers: false,
            group_set: false,
            over_vservers: false,
            over_track: false,
        }
    }

    fn err(&mut self, at: Pos, m: fmt::Arguments<'_>) {
        self.errs.push(at.line, at.col, m);
    }

    /// One line, comment removed.
    fn line(&mut self, no: u32, mut line: &str) {
        let mut words = 0;
        let mut last = None;
        let mut opens = false;
        for tok in Toks::new(no, line) {
            if let Some(off) = tok.s.chars().position(char::is_control) {
                let at = Pos {
                    line: no,
                    col: tok.at.col + off as u32,
                };
                bad!(self, at, "control character in the line");
                return;
            }
            opens |= words == 0 && tok.s == "vserver";
            words += 1;
            last = Some(tok);
        }
        // `address 10.0.0.5/24 }`: say so, and close the block after this
        // line so the rest of the file still parses right.
        if let Some(brace) =
            last.filter(|l| words > 1 && l.s == "}" && (opens || self.block.is_some()))
        {
            bad!(self, brace.at, "`}}` must be on a line of its own");
            self.close_after_line = true;
            let cut = line.trim_end_matches(|c: char| c.is_ascii_whitespace());
            line = cut.strip_suffix('}').unwrap_or(cut);
        }
        let mut t = Toks::new(no, line);
        let Some(kw) = t.next() else { return };
        let mut brace_line = false;
        // `vserver NAME` without `{`: this line must be the `{`.
        if let Some(b) = self.block.as_mut() {
            if b.open.is_none() {
                b.open = Some(kw.at);
                if kw.s == "{" {
                    brace_line = true;
                } else {
                    let name = b.vs.name.clone();
                    bad!(
                        self,
                        kw.at,
                        "expected `{{` after `vserver {name}`, found {}",
                        Q(kw.s)
                    );
                    // Read on as if it had been there: fewer follow-on errors.
                }
            }
        }
        if brace_line {
            self.end(&mut t);
        } else if self.block.is_some() {
            self.block_line(kw, &mut t);
        } else {
            self.top_line(kw, &mut t);
        }
        if self.close_after_line {
            self.close_after_line = false;
            self.close_block();
        }
    }

    /// Reports the first word left on a directive line.
    fn end(&mut self, t: &mut Toks<'_>) {
        if let Some(extra) = t.next() {
            bad!(self, extra.at, "unexpected {} at end of line", Q(extra.s));
        }
    }

    /// The next word, or an error naming what the keyword needs.
    fn need<'a>(&mut self, kw: Tok<'_>, t: &mut Toks<'a>, what: &str) -> Option<Tok<'a>> {
        let v = t.next();
        if v.is_none() {
            bad!(self, kw.at, "`{}` needs {what}", kw.s);
        }
        v
    }

    /// Marks a once-only keyword as seen; false (and an error) on a repeat.
    fn once(&mut self, seen_at: Option<Pos>, kw: Tok<'_>) -> bool {
        match seen_at {
            Some(first) => {
                bad!(
                    self,
                    kw.at,
                    "duplicate `{}` (first on line {})",
                    kw.s,
                    first.line
                );
                false
            }
            None => true,
        }
    }

    /// A line outside any block: the keyword's reader, then (unless the
    /// directive takes every word of its line) a check that nothing is left.
    fn top_line(&mut self, kw: Tok<'_>, t: &mut Toks<'_>) {
        let Some(k) = lookup(&TOP, kw.s) else {
            if kw.s == "}" {
                bad!(self, kw.at, "stray `}}`: no block is open");
            } else if lookup(&VK, kw.s).is_some() {
                bad!(self, kw.at, "`{}` belongs inside a vserver block", kw.s);
            } else {
                bad!(self, kw.at, "unknown keyword {}", Q(kw.s));
            }
            return;
        };
        let repeats = matches!(
            k,
            Top::Peer | Top::Node | Top::Vserver | Top::TrackInterface
        );
        if !repeats && !self.once(self.seen[k as usize], kw) {
            return;
        }
        if self.seen[k as usize].is_none() {
            self.seen[k as usize] = Some(kw.at);
        }
        let read = match k {
            Top::Cluster => self.top_cluster(kw, t),
            Top::KeyFile => self.top_key_file(kw, t),
            Top::Interface => self.top_interface(kw, t),
            Top::Multicast => self.top_multicast(kw, t),
            Top::Peer => self.top_peer(kw, t),
            Top::Hello => self.top_hello(kw, t),
            Top::Dead => self.top_dead(kw, t),
            Top::LostAlert => self.top_lost_alert(kw, t),
            Top::GarpRefresh => self.top_garp_refresh(kw, t),
            Top::Quorum => self.top_quorum(kw, t),
            Top::Fencing => self.top_fencing(kw, t),
            Top::TrackInterface => self.top_track_interface(kw, t),
            Top::MaxLoadPercent => self.top_max_load_percent(kw, t),
            Top::MinFreeMemory => self.top_min_free_memory(kw, t),
            // These take every word left, or end their line themselves.
            Top::Notify => return self.top_notify(kw, t),
            Top::Node => return self.node(kw, t),
            Top::Vserver => return self.open_block(kw, t),
        };
        if read.is_some() {
            self.end(t);
        }
    }

    // The top-level directives, one reader each, grouped as in the grammar:
    // the cluster and where it talks, its timers, quorum and fencing, this
    // box's health, the alert hook. A reader stores what it read and returns
    // `Some`, or reports why not and returns `None`.

    /// `cluster NAME`.
    fn top_cluster(&mut self, kw: Tok<'_>, t: &mut Toks<'_>) -> Option<()> {
        let v = self.need(kw, t, "a name")?;
        self.cfg.cluster = self.name(v)?;
        Some(())
    }

    /// `key-file PATH | insecure`: the path only; [`load`] reads the key.
    fn top_key_file(&mut self, kw: Tok<'_>, t: &mut Toks<'_>) -> Option<()> {
        let v = self.need(kw, t, "a path or `insecure`")?;
        // `load` reports key problems at the path, not the keyword.
        self.seen[Top::KeyFile as usize] = Some(v.at);
        if v.s == "insecure" {
            self.cfg.key = Key::Insecure;
        } else if !v.s.starts_with('/') {
            bad!(self, v.at, "key file {} must be an absolute path", Q(v.s));
            return None;
        } else {
            match String::try_from(v.s) {
                Ok(p) => self.cfg.key = Key::Unread(p),
                Err(_) => {
                    bad!(self, v.at, "path too long (at most {MAX_COMMAND} bytes)");
                    return None;
                }
            }
        }
        Some(())
    }

    /// `interface IFACE`: where the cluster talks.
    fn top_interface(&mut self, kw: Tok<'_>, t: &mut Toks<'_>) -> Option<()> {
        let v = self.need(kw, t, "an interface name")?;
        // A check of this host points at the name, not the keyword.
        self.seen[Top::Interface as usize] = Some(v.at);
        self.cfg.interface = self.ifname(v, MAX_IFNAME)?;
        Some(())
    }

    /// `multicast GROUP [port N]`.
    fn top_multicast(&mut self, kw: Tok<'_>, t: &mut Toks<'_>) -> Option<()> {
        let v = self.need(kw, t, "a group address")?;
        let group = if v.s.contains(':') {
            let g = self.ipv6(v)?;
            if !g.is_multicast() {
                bad!(self, v.at, "{g} is not a multicast group (ff00::/8)");
                return None;
            }
            IpAddr::V6(g)
        } else {
            let g = self.ipv4(v)?;
            if !g.is_multicast() {
                bad!(self, v.at, "{g} is not a multicast group (224.0.0.0/4)");
                return None;
            }
            IpAddr::V4(g)
        };
        self.cfg.multicast = group;
        self.group_set = true;
        if let Some(p) = t.next() {
            if p.s != "port" {
                bad!(self, p.at, "unexpected {}: expected `port N`", Q(p.s));
                return None;
            }
            let n = self.need(p, t, "a number")?;
            self.cfg.port = self.port(n)?;
        }
        Some(())
    }

    /// `peer ADDR`, repeatable.
    fn top_peer(&mut self, kw: Tok<'_>, t: &mut Toks<'_>) -> Option<()> {
        let v = self.need(kw, t, "an address")?;
        let a = self.cluster_addr(v)?;
        if let Some(i) = self.cfg.peers.iter().position(|&p| p == a) {
            let first = self.peer_at.get(i).map_or(0, |p| p.line);
            bad!(self, v.at, "duplicate peer {a} (first on line {first})");
            return None;
        }
        if self.cfg.peers.push(a).is_err() || self.peer_at.push(v.at).is_err() {
            if !self.over_peers {
                self.over_peers = true;
                bad!(
                    self,
                    kw.at,
                    "more than {MAX_PEERS} peer lines (limits::MAX_PEERS)"
                );
            }
            return None;
        }
        Some(())
    }

    /// `hello DURATION`.
    fn top_hello(&mut self, kw: Tok<'_>, t: &mut Toks<'_>) -> Option<()> {
        self.cfg.hello = self.interval(kw, t)?;
        Some(())
    }

    /// `dead DURATION`, checked against `hello` by [`Parser::finish`].
    fn top_dead(&mut self, kw: Tok<'_>, t: &mut Toks<'_>) -> Option<()> {
        let v = self.need(kw, t, "a duration such as 600ms")?;
        let d = self.duration(v)?;
        self.dead = Some((d, v.at));
        Some(())
    }

    /// `lost-alert DURATION`.
    fn top_lost_alert(&mut self, kw: Tok<'_>, t: &mut Toks<'_>) -> Option<()> {
        self.cfg.lost_alert = self.duration_after(kw, t, "a duration such as 30s")?;
        Some(())
    }

    /// `garp-refresh DURATION | none`: every block's, unless it sets one.
    fn top_garp_refresh(&mut self, kw: Tok<'_>, t: &mut Toks<'_>) -> Option<()> {
        self.garp_refresh = self.garp_refresh(kw, t)?;
        Some(())
    }

    /// `quorum auto | N`, checked against the node lines by
    /// [`Parser::finish`].
    fn top_quorum(&mut self, kw: Tok<'_>, t: &mut Toks<'_>) -> Option<()> {
        let v = self.need(kw, t, "`auto` or a number")?;
        self.quorum_at = v.at;
        if v.s != "auto" {
            match number(v.s) {
                Num::Ok(0) => {
                    bad!(self, v.at, "quorum must be at least 1 (or `auto`)");
                    return None;
                }
                Num::Ok(n) => self.quorum = Some(n),
                Num::TooLarge => self.quorum = Some(u64::MAX),
                Num::NotNumber => {
                    bad!(self, v.at, "bad quorum {}: `auto` or a number", Q(v.s));
                    return None;
                }
            }
        }
        Some(())
    }

    /// `fencing auto | lease | none`.
    fn top_fencing(&mut self, kw: Tok<'_>, t: &mut Toks<'_>) -> Option<()> {
        let modes = [
            ("auto", None),
            ("lease", Some(Fencing::Lease)),
            ("none", Some(Fencing::None)),
        ];
        self.fencing = self.one_of(kw, t, "`auto`, `lease` or `none`", &modes)?;
        Some(())
    }

    /// `track-interface IFACE`, repeatable.
    fn top_track_interface(&mut self, kw: Tok<'_>, t: &mut Toks<'_>) -> Option<()> {
        let v = self.need(kw, t, "an interface name")?;
        let ifname = self.ifname(v, MAX_IFNAME)?;
        let track = &self.cfg.health.track;
        if let Some(i) = track.iter().position(|x| *x == ifname) {
            let first = self.track_at.get(i).map_or(0, |p| p.line);
            bad!(
                self,
                v.at,
                "interface {ifname} is already tracked (line {first})"
            );
            return None;
        }
        if self.cfg.health.track.push(ifname).is_err() || self.track_at.push(v.at).is_err() {
            // Policy: refuse, and say so once.
            if !self.over_track {
                self.over_track = true;
                bad!(
                    self,
                    kw.at,
                    "more than {MAX_TRACKED} track-interface lines (limits::MAX_TRACKED)"
                );
            }
            return None;
        }
        Some(())
    }

    /// `max-load-percent N | none`.
    fn top_max_load_percent(&mut self, kw: Tok<'_>, t: &mut Toks<'_>) -> Option<()> {
        let v = self.need(kw, t, "a number such as 800, or `none`")?;
        self.cfg.health.max_load_percent = match (v.s, number(v.s)) {
            ("none", _) => None,
            (_, Num::Ok(n)) if (10..=100_000).contains(&n) => Some(n as u32),
            _ => {
                bad!(
                    self,
                    v.at,
                    "bad max-load-percent {}: 10-100000 (load average per CPU x 100) or `none`",
                    Q(v.s)
                );
                return None;
            }
        };
        Some(())
    }

    /// `min-free-memory SIZE | none`.
    fn top_min_free_memory(&mut self, kw: Tok<'_>, t: &mut Toks<'_>) -> Option<()> {
        let v = self.need(kw, t, "a size such as 16M, or `none`")?;
        self.cfg.health.min_free_memory_kib = if v.s == "none" {
            None
        } else {
            Some(self.size_kib(v)?)
        };
        Some(())
    }

    /// `notify PATH [ARG...]`: the alert hook, which takes every word left.
    fn top_notify(&mut self, kw: Tok<'_>, t: &mut Toks<'_>) {
        let Some(v) = self.need(kw, t, "a program path") else {
            return;
        };
        // A check of this host points at the program, not the keyword.
        self.seen[Top::Notify as usize] = Some(v.at);
        if let Some(c) = self.command(v, t) {
            self.cfg.notify = Some(c);
        }
    }

    fn node(&mut self, kw: Tok<'_>, t: &mut Toks<'_>) {
        let Some(n) = self.need(kw, t, "a name and an address") else {
            return;
        };
        let Some(name) = self.name(n) else { return };
        let Some(a) = t.next() else {
            bad!(self, n.at, "node `{name}` needs an address");
            return;
        };
        let Some(address) = self.cluster_addr(a) else {
            return;
        };
        let mut priority = DEFAULT_PRIORITY;
        if let Some(p) = t.next() {
            if p.s != "priority" {
                bad!(self, p.at, "unexpected {}: expected `priority N`", Q(p.s));
                return;
            }
            let Some(v) = self.need(p, t, "a number 0-255") else {
                return;
            };
            match number(v.s) {
                Num::Ok(x) if x <= 255 => priority = x as u8,
                _ => {
                    bad!(self, v.at, "bad priority {} (0-255)", Q(v.s));
                    return;
                }
            }
        }
        self.end(t);
        if let Some(i) = self.cfg.nodes.iter().position(|x| x.name == name) {
            let first = self.node_at.get(i).map_or(0, |p| p.line);
            bad!(
                self,
                n.at,
                "duplicate node name `{name}` (first on line {first})"
            );
            return;
        }
        if let Some(i) = self.cfg.nodes.iter().position(|x| x.address == address) {
            let other = self
                .cfg
                .nodes
                .get(i)
                .map(|x| x.name.clone())
                .unwrap_or_default();
            let first = self.node_at.get(i).map_or(0, |p| p.line);
            bad!(
                self,
                a.at,
                "address {address} is already node `{other}`'s (line {first})"
            );
            return;
        }
        if self
            .cfg
            .nodes
            .push(NodeConf {
                name,
                address,
                priority,
            })
            .is_err()
            || self.node_at.push(n.at).is_err()
            || self.node_addr_at.push(a.at).is_err()
        {
            // Policy: refuse, and say so once; the first MAX_NODES stay.
            if !self.over_nodes {
                self.over_nodes = true;
                bad!(
                    self,
                    kw.at,
                    "more than {MAX_NODES} node lines (limits::MAX_NODES)"
                );
            }
        }
    }

    fn open_block(&mut self, kw: Tok<'_>, t: &mut Toks<'_>) {
        let Some(n) = self.need(kw, t, "a name") else {
            return;
        };
        let mut name = Name::new();
        let mut dropped = false;
        if n.s == "{" {
            bad!(self, n.at, "`vserver` needs a name before `{{`");
            dropped = true;
        } else if let Some(good) = self.name(n) {
            if let Some(i) = self.cfg.vservers.iter().position(|v| v.name == good) {
                let first = self.vs_at.get(i).map_or(0, |p| p.name.line);
                bad!(
                    self,
                    n.at,
                    "duplicate vserver name `{good}` (first on line {first})"
                );
                dropped = true;
            }
            name = good;
        } else {
            dropped = true;
        }
        if self.cfg.vservers.is_full() {
            if !self.over_vservers {
                self.over_vservers = true;
                bad!(
                    self,
                    kw.at,
                    "more than {MAX_VSERVERS} vserver blocks (limits::MAX_VSERVERS)"
                );
            }
            dropped = true;
        }
        let mut open = None;
        let mut check_end = false;
        if n.s == "{" {
            open = Some(n.at);
            check_end = true;
        } else if let Some(b) = t.next() {
            open = Some(b.at);
            if b.s == "{" {
                check_end = true;
            } else {
                bad!(self, b.at, "unexpected {}: expected `{{`", Q(b.s));
            }
        }
        let vs = VServer {
            name,
            address: IpAddr::V4(Ipv4Addr::UNSPECIFIED),
            prefix: 0,
            interface: IfName::new(),
            dedicated: false,
            service: Check::None,
            reachability: Reachability::Arp,
            check: DEFAULT_CHECK,
            self_check: Check::None,
            takeover_timeout: DEFAULT_TAKEOVER_TIMEOUT,
            hooks: [None, None, None, None],
            failback: Failback::Auto,
            original_mac: None,
            prefer: Vec::new(),
            preempt_delay: None,
            garp_refresh: None,
        };
        let at = VsPos {
            name: n.at,
            ..VsPos::default()
        };
        self.block = Some(VsBuild {
            vs,
            at,
            open,
            seen: [None; VK.len()],
            dropped,
            prefer: std::vec::Vec::new(),
        });
        if check_end {
            self.end(t);
        }
    }

    /// A line inside a vserver block: the keyword's reader, then (unless
    /// the directive takes every word of its line) a check that nothing is
    /// left.
    fn block_line(&mut self, kw: Tok<'_>, t: &mut Toks<'_>) {
        let Some(k) = lookup(&VK, kw.s) else {
            return self.block_other(kw, t);
        };
        let Some(first) = self.block.as_ref().map(|b| b.seen[k as usize]) else {
            return;
        };
        if !self.once(first, kw) {
            return;
        }
        if let Some(b) = self.block.as_mut() {
            b.seen[k as usize] = Some(kw.at);
        }
        let read = match k {
            Vk::Address => self.vs_address(kw, t),
            Vk::Interface => self.vs_interface(kw, t),
            Vk::Reachability => self.vs_reachability(kw, t),
            Vk::Check => self.vs_check(kw, t),
            Vk::TakeoverTimeout => self.vs_takeover_timeout(kw, t),
            Vk::Failback => self.vs_failback(kw, t),
            Vk::OriginalMac => self.vs_original_mac(kw, t),
            Vk::PreemptDelay => self.vs_preempt_delay(kw, t),
            Vk::GarpRefresh => self.vs_garp_refresh(kw, t),
            // These take every word left, or end their line themselves.
            Vk::Service | Vk::SelfCheck => return self.vs_service(k, kw, t),
            Vk::PreTakeover => return self.vs_hook(HookKind::PreTakeover, kw, t),
            Vk::PostTakeover => return self.vs_hook(HookKind::PostTakeover, kw, t),
            Vk::PreRelease => return self.vs_hook(HookKind::PreRelease, kw, t),
            Vk::PostRelease => return self.vs_hook(HookKind::PostRelease, kw, t),
            Vk::Prefer => return self.vs_prefer(kw, t),
        };
        if read.is_some() {
            self.end(t);
        }
    }

    /// A word in a block that is no vserver keyword: the block's `}`, or a
    /// mistake to name.
    fn block_other(&mut self, kw: Tok<'_>, t: &mut Toks<'_>) {
        match kw.s {
            "}" => {
                self.end(t);
                self.close_block();
            }
            "vserver" => {
                let name = self
                    .block
                    .as_ref()
                    .map(|b| b.vs.name.clone())
                    .unwrap_or_default();
                bad!(
                    self,
                    kw.at,
                    "`vserver` inside the block of vserver `{name}` (missing `}}`?)"
                );
                self.close_block();
                self.open_block(kw, t);
            }
            "{" => bad!(self, kw.at, "unexpected `{{`: blocks do not nest"),
            _ if lookup(&TOP, kw.s).is_some() => {
                bad!(
                    self,
                    kw.at,
                    "`{}` is a top-level keyword, not allowed in a vserver block",
                    kw.s
                )
            }
            _ => bad!(self, kw.at, "unknown vserver keyword {}", Q(kw.s)),
        }
    }

    // The directives of a vserver block, one reader each, grouped as in the
    // grammar: where it lives (address, interface), how it is checked, its
    // takeover and hooks, where it should run. A reader stores what it read
    // in the open block and returns `Some`, or reports why not and returns
    // `None`.

    /// `address A.B.C.D/P`, unique among the vservers.
    fn vs_address(&mut self, kw: Tok<'_>, t: &mut Toks<'_>) -> Option<()> {
        let v = self.need(kw, t, "an address such as 10.0.0.50/24 or 2001:db8::50/64")?;
        let (a, prefix) = self.vs_cidr(v)?;
        if let Some(i) = self.cfg.vservers.iter().position(|x| x.address == a) {
            let other = self.vserver_name(i);
            let line = self.vs_at.get(i).map_or(0, |p| p.address.line);
            bad!(
                self,
                v.at,
                "address {a} is already vserver `{other}`'s (line {line})"
            );
            return None;
        }
        let b = self.block.as_mut()?;
        b.vs.address = a;
        b.vs.prefix = prefix;
        b.at.address = v.at;
        Some(())
    }

    /// `interface IFACE [dedicated]`: a dedicated interface serves one
    /// vserver only.
    fn vs_interface(&mut self, kw: Tok<'_>, t: &mut Toks<'_>) -> Option<()> {
        let v = self.need(kw, t, "an interface name")?;
        let dedicated = match t.next() {
            None => false,
            Some(d) if d.s == "dedicated" => true,
            Some(d) => {
                bad!(self, d.at, "unexpected {}: expected `dedicated`", Q(d.s));
                return None;
            }
        };
        // A shared interface needs room for the `:NN` alias label.
        let max = if dedicated {
            MAX_IFNAME
        } else {
            MAX_IFNAME - LABEL_SUFFIX
        };
        let ifname = self.ifname(v, max)?;
        if dedicated {
            let taken = self
                .cfg
                .vservers
                .iter()
                .position(|x| x.dedicated && x.interface == ifname);
            if let Some(i) = taken {
                let other = self.vserver_name(i);
                bad!(
                    self,
                    v.at,
                    "interface {ifname} is already dedicated to vserver `{other}`"
                );
                return None;
            }
        }
        let b = self.block.as_mut()?;
        b.vs.interface = ifname;
        b.vs.dedicated = dedicated;
        b.at.interface = v.at;
        Some(())
    }

    /// `service` and `self-check`: a check, which ends its line itself.
    fn vs_service(&mut self, k: Vk, kw: Tok<'_>, t: &mut Toks<'_>) {
        let Some((c, at)) = self.check(kw, t) else {
            return;
        };
        if let Some(b) = self.block.as_mut() {
            if k == Vk::Service {
                b.vs.service = c;
                b.at.service = at;
            } else {
                b.vs.self_check = c;
                b.at.self_check = at;
            }
        }
    }

    /// `reachability arp | tcp PORT`.
    fn vs_reachability(&mut self, kw: Tok<'_>, t: &mut Toks<'_>) -> Option<()> {
        let v = self.need(kw, t, "`arp` or `tcp PORT`")?;
        let r = match v.s {
            "arp" => Reachability::Arp,
            "tcp" => {
                let n = self.need(v, t, "a port")?;
                Reachability::Tcp(self.port(n)?)
            }
            _ => {
                bad!(
                    self,
                    v.at,
                    "bad reachability {}: `arp` or `tcp PORT`",
                    Q(v.s)
                );
                return None;
            }
        };
        self.block.as_mut()?.vs.reachability = r;
        Some(())
    }

    /// `check DURATION`: how often the service is checked.
    fn vs_check(&mut self, kw: Tok<'_>, t: &mut Toks<'_>) -> Option<()> {
        let d = self.interval(kw, t)?;
        self.block.as_mut()?.vs.check = d;
        Some(())
    }

    /// `takeover-timeout DURATION`.
    fn vs_takeover_timeout(&mut self, kw: Tok<'_>, t: &mut Toks<'_>) -> Option<()> {
        let d = self.duration_after(kw, t, "a duration such as 200ms")?;
        self.block.as_mut()?.vs.takeover_timeout = d;
        Some(())
    }

    /// `pre-takeover`, `post-takeover`, `pre-release` and `post-release`:
    /// a hook's command, which takes every word left.
    fn vs_hook(&mut self, kind: HookKind, kw: Tok<'_>, t: &mut Toks<'_>) {
        let Some(v) = self.need(kw, t, "a program path") else {
            return;
        };
        let Some(c) = self.command(v, t) else { return };
        if let Some(b) = self.block.as_mut() {
            if let Some(slot) = b.vs.hooks.get_mut(kind as usize) {
                *slot = Some(c);
            }
            if let Some(at) = b.at.hooks.get_mut(kind as usize) {
                *at = v.at;
            }
        }
    }

    /// `failback auto | manual`.
    fn vs_failback(&mut self, kw: Tok<'_>, t: &mut Toks<'_>) -> Option<()> {
        let modes = [("auto", Failback::Auto), ("manual", Failback::Manual)];
        let f = self.one_of(kw, t, "`auto` or `manual`", &modes)?;
        self.block.as_mut()?.vs.failback = f;
        Some(())
    }

    /// `original-mac XX:XX:XX:XX:XX:XX`: a host's MAC, not a group's.
    fn vs_original_mac(&mut self, kw: Tok<'_>, t: &mut Toks<'_>) -> Option<()> {
        let v = self.need(kw, t, "a MAC address (`02:00:00:00:00:50`)")?;
        let Some(mac) = parse_mac(v.s) else {
            bad!(
                self,
                v.at,
                "bad MAC address {}: six hex bytes joined by `:`",
                Q(v.s)
            );
            return None;
        };
        if mac == [0; 6] || mac[0] & 1 != 0 {
            bad!(
                self,
                v.at,
                "bad MAC address {}: not a host's (zero, multicast or broadcast)",
                Q(v.s)
            );
            return None;
        }
        self.block.as_mut()?.vs.original_mac = Some(mac);
        Some(())
    }

    /// `prefer NODE [NODE...] | none`, which ends its line itself. The
    /// names are checked against the node lines by [`Parser::finish`]
    /// (node lines may come after the block).
    fn vs_prefer(&mut self, kw: Tok<'_>, t: &mut Toks<'_>) {
        let Some(first) = self.need(kw, t, "node names, or `none`") else {
            return;
        };
        if first.s == "none" {
            return self.end(t);
        }
        let mut next = Some(first);
        while let Some(v) = next {
            let Some(name) = self.name(v) else { return };
            if let Some(b) = self.block.as_mut() {
                if b.prefer.iter().any(|(n, _)| *n == name) {
                    bad!(self, v.at, "node `{name}` is named twice in `prefer`");
                    return;
                }
                b.prefer.push((name, v.at));
            }
            next = t.next();
        }
    }

    /// `preempt-delay DURATION`.
    fn vs_preempt_delay(&mut self, kw: Tok<'_>, t: &mut Toks<'_>) -> Option<()> {
        let d = self.duration_after(kw, t, "a duration such as 1s")?;
        self.block.as_mut()?.vs.preempt_delay = Some(d);
        Some(())
    }

    /// `garp-refresh DURATION | none`: this block's own.
    fn vs_garp_refresh(&mut self, kw: Tok<'_>, t: &mut Toks<'_>) -> Option<()> {
        let r = self.garp_refresh(kw, t)?;
        self.block.as_mut()?.vs.garp_refresh = r;
        Some(())
    }

    /// The name of kept vserver `i`, for a message.
    fn vserver_name(&self, i: usize) -> Name {
        self.cfg
            .vservers
            .get(i)
            .map(|x| x.name.clone())
            .unwrap_or_default()
    }

    /// `tcp PORT | exec PATH ARG... | none`, and where the program is
    /// (for `exec`; else the keyword).
    fn check(&mut self, kw: Tok<'_>, t: &mut Toks<'_>) -> Option<(Check, Pos)> {
        let v = self.need(kw, t, "`tcp PORT`, `exec PATH ...` or `none`")?;
        let c = match v.s {
            "tcp" => {
                let n = self.need(v, t, "a port")?;
                Check::Tcp(self.port(n)?)
            }
            "exec" => {
                let p = self.need(v, t, "a program path")?;
                return self.command(p, t).map(|c| (Check::Exec(c), p.at));
            }
            "none" => Check::None,
            _ => {
                bad!(
                    self,
                    v.at,
                    "bad check {}: `tcp PORT`, `exec PATH ...` or `none`",
                    Q(v.s)
                );
                return None;
            }
        };
        self.end(t);
        Some((c, kw.at))
    }

    /// The `}` (or the end of the file, or a nested `vserver`): check the
    /// block's required fields and keep it.
    fn close_block(&mut self) {
        let Some(b) = self.block.take() else { return };
        let mut complete = true;
        for (k, what) in [(Vk::Address, "address"), (Vk::Interface, "interface")] {
            if b.seen[k as usize].is_none() {
                let at = b.at.name;
                bad!(self, at, "vserver `{}` has no `{what}` line", b.vs.name);
                complete = false;
            }
        }
        // A field that was written but refused already has its error.
        if b.dropped || !complete || b.vs.address.is_unspecified() || b.vs.interface.is_empty() {
            return;
        }
        // Capacity: `dropped` is set when the table was full at `vserver`.
        let index = self.cfg.vservers.len();
        let own_refresh = b.seen[Vk::GarpRefresh as usize].is_some();
        if self.cfg.vservers.push(b.vs).is_ok() {
            let _ = self.vs_at.push(b.at);
            if own_refresh {
                self.own_refresh |= 1 << index;
            }
            for (name, at) in b.prefer {
                self.prefer.push((index, name, at));
            }
        }
    }

    /// End of file: close what is open, resolve `auto`s, check what needs the
    /// whole file.
    fn finish(&mut self) {
        if let Some(b) = &self.block {
            match b.open {
                Some(at) => {
                    let name = b.vs.name.clone();
                    bad!(
                        self,
                        at,
                        "unterminated block: `{{` of vserver `{name}` has no `}}`"
                    );
                }
                None => {
                    let (name, at) = (b.vs.name.clone(), b.at.name);
                    bad!(self, at, "vserver `{name}` has no `{{`");
                }
            }
            self.close_block();
        }
        let whole = Pos::default();
        for (k, what) in [
            (Top::Cluster, "cluster NAME"),
            (Top::KeyFile, "key-file PATH"),
            (Top::Interface, "interface IFACE"),
            (Top::Node, "node NAME ADDR"),
        ] {
            if self.seen[k as usize].is_none() {
                bad!(self, whole, "missing `{what}` line");
            }
        }
        self.one_family();
        let n = self.cfg.nodes.len();
        match self.quorum {
            None => self.cfg.quorum = (n / 2 + 1) as u8,
            Some(q) if q <= n as u64 => self.cfg.quorum = q as u8,
            Some(q) if n > 0 => {
                let at = self.quorum_at;
                let lines = Count(n, "node line");
                bad!(self, at, "quorum {q} is larger than the {lines}");
            }
            Some(_) => {} // no nodes: already reported
        }
        self.cfg.fencing = match self.fencing {
            Some(f) => f,
            None if self.cfg.quorum >= 2 => Fencing::Lease,
            None => Fencing::None,
        };
        match self.dead {
            None => self.cfg.dead = self.cfg.hello * 3,
            Some((d, _)) if d >= self.cfg.hello * 2 => self.cfg.dead = d,
            Some((d, at)) => {
                let hello = self.cfg.hello;
                bad!(
                    self,
                    at,
                    "dead {} must be at least twice hello ({})",
                    Ms(d),
                    Ms(hello)
                );
            }
        }
        // `prefer` names are node names.
        for (i, name, at) in core::mem::take(&mut self.prefer) {
            match self.cfg.nodes.iter().position(|x| x.name == name) {
                Some(n) => {
                    if let Some(v) = self.cfg.vservers.get_mut(i) {
                        let _ = v.prefer.push(n as NodeId);
                    }
                }
                None => bad!(self, at, "`prefer` names `{name}`, which is not a node"),
            }
        }
        // A block without its own `garp-refresh` takes the top-level one.
        for (i, v) in self.cfg.vservers.iter_mut().enumerate() {
            if self.own_refresh & (1 << i) == 0 {
                v.garp_refresh = self.garp_refresh;
            }
        }
        // Checks across blocks and node lines, in vserver order.
        for i in 0..self.cfg.vservers.len() {
            let Some(v) = self.cfg.vservers.get(i) else {
                break;
            };
            let at = self.vs_at.get(i).copied().unwrap_or_default();
            let (addr, dedicated, ifname) = (v.address, v.dedicated, v.interface.clone());
            if let Some(node) = self.cfg.nodes.iter().find(|x| x.address == addr) {
                let node = node.name.clone();
                bad!(
                    self,
                    at.address,
                    "vserver address {addr} is node `{node}`'s address"
                );
            }
            if dedicated && ifname == self.cfg.interface {
                bad!(
                    self,
                    at.interface,
                    "the cluster interface {ifname} cannot be dedicated to a vserver"
                );
            }
        }
    }

    fn name(&mut self, v: Tok<'_>) -> Option<Name> {
        if !valid_name(v.s) {
            bad!(
                self,
                v.at,
                "bad name {}: letters, digits, `-`, `_`, `.` only",
                Q(v.s)
            );
            return None;
        }
        match Name::try_from(v.s) {
            Ok(n) => Some(n),
            Err(_) => {
                bad!(
                    self,
                    v.at,
                    "name {} is too long (at most {MAX_NAME} bytes)",
                    Q(v.s)
                );
                None
            }
        }
    }

    fn ifname(&mut self, v: Tok<'_>, max: usize) -> Option<IfName> {
        if !valid_ifname(v.s) {
            bad!(self, v.at, "bad interface name {}: no `/` or `:`", Q(v.s));
            return None;
        }
        if v.s.len() > max {
            let why = if max < MAX_IFNAME {
                " to leave room for the `:N` alias label"
            } else {
                ""
            };
            bad!(
                self,
                v.at,
                "interface name {} is too long (at most {max} bytes{why})",
                Q(v.s)
            );
            return None;
        }
        IfName::try_from(v.s).ok()
    }

    fn ipv4(&mut self, v: Tok<'_>) -> Option<Ipv4Addr> {
        match v.s.parse::<Ipv4Addr>() {
            Ok(a) => Some(a),
            Err(_) => {
                bad!(self, v.at, "bad IPv4 address {}", Q(v.s));
                None
            }
        }
    }

    fn ipv6(&mut self, v: Tok<'_>) -> Option<Ipv6Addr> {
        match v.s.parse::<Ipv6Addr>() {
            Ok(a) => Some(a),
            Err(_) => {
                bad!(self, v.at, "bad IPv6 address {}", Q(v.s));
                None
            }
        }
    }

    /// A node's or peer's address: IPv4 (see [`Parser::unicast`]) or IPv6:
    /// not `::`, multicast or IPv4-mapped; link-local is allowed (the
    /// cluster interface is its scope).
    fn cluster_addr(&mut self, v: Tok<'_>) -> Option<IpAddr> {
        if !v.s.contains(':') {
            return self.unicast(v).map(IpAddr::V4);
        }
        let a = self.ipv6(v)?;
        if a.is_unspecified() || a.is_multicast() {
            bad!(self, v.at, "{a} is not a unicast address");
            return None;
        }
        if a.to_ipv4_mapped().is_some() {
            bad!(
                self,
                v.at,
                "{a} is an IPv4-mapped address: write the IPv4 address"
            );
            return None;
        }
        Some(IpAddr::V6(a))
    }

    /// An address a box can have: not 0.0.0.0, broadcast or multicast.
    fn unicast(&mut self, v: Tok<'_>) -> Option<Ipv4Addr> {
        let a = self.ipv4(v)?;
        if a.is_unspecified() || a.is_broadcast() || a.is_multicast() {
            bad!(self, v.at, "{a} is not a unicast address");
            return None;
        }
        Some(a)
    }

    /// The cluster talks one family: every node and peer, and the group,
    /// of the first node's. An IPv6 cluster without a `multicast` line uses
    /// [`DEFAULT_GROUP6`].
    fn one_family(&mut self) {
        let Some(first) = self.cfg.nodes.first().map(|n| n.address) else {
            return;
        };
        let six = first.is_ipv6();
        let fam = if six { "IPv6" } else { "IPv4" };
        let line0 = self.node_at.first().map_or(0, |p| p.line);
        for i in 1..self.cfg.nodes.len() {
            if self.cfg.nodes[i].address.is_ipv6() != six {
                let at = self.node_at.get(i).copied().unwrap_or_default();
                let (name, a) = (self.cfg.nodes[i].name.clone(), self.cfg.nodes[i].address);
                bad!(
                    self,
                    at,
                    "node `{name}`'s address {a} is not {fam} as the first node's (line {line0}): a cluster talks one family"
                );
            }
        }
        for i in 0..self.cfg.peers.len() {
            if self.cfg.peers[i].is_ipv6() != six {
                let at = self.peer_at.get(i).copied().unwrap_or_default();
                let a = self.cfg.peers[i];
                bad!(self, at, "peer {a} is not {fam} as the nodes are");
            }
        }
        match self.seen[Top::Multicast as usize] {
            _ if !self.group_set && six => self.cfg.multicast = IpAddr::V6(DEFAULT_GROUP6),
            Some(at) if self.group_set && self.cfg.multicast.is_ipv6() != six => {
                let g = self.cfg.multicast;
                bad!(
                    self,
                    at,
                    "multicast group {g} is not {fam} as the nodes are"
                );
            }
            _ => {}
        }
    }

    /// A vserver's address: `A.B.C.D/P` or an IPv6 `ADDR/P`.
    fn vs_cidr(&mut self, v: Tok<'_>) -> Option<(IpAddr, u8)> {
        if !v.s.contains(':') {
            return self.cidr(v).map(|(a, p)| (IpAddr::V4(a), p));
        }
        let Some((addr, prefix)) = v.s.split_once('/') else {
            bad!(
                self,
                v.at,
                "address {} needs a prefix length: ADDR/P",
                Q(v.s)
            );
            return None;
        };
        let Ok(a) = addr.parse::<Ipv6Addr>() else {
            bad!(self, v.at, "bad IPv6 address {}", Q(addr));
            return None;
        };
        let pat = Pos {
            line: v.at.line,
            col: v.at.col + addr.chars().count() as u32 + 1,
        };
        let p = match number(prefix) {
            Num::Ok(p) if (1..=128).contains(&p) => p as u8,
            _ => {
                bad!(self, pat, "bad prefix {} (1-128)", Q(prefix));
                return None;
            }
        };
        // Scoped (link-local) and mapped addresses are not ones a client
        // reaches a service on across the LAN.
        let why = if a.is_unspecified() || a.is_multicast() || a.is_loopback() {
            Some("is not a unicast address")
        } else if a.is_unicast_link_local() {
            Some("is link-local (fe80::/10): use a global or unique local address")
        } else if a.to_ipv4_mapped().is_some() {
            Some("is an IPv4-mapped address: write the IPv4 address")
        } else {
            None
        };
        if let Some(why) = why {
            bad!(self, v.at, "{a} {why}");
            return None;
        }
        Some((IpAddr::V6(a), p))
    }

    /// `A.B.C.D/P`.
    fn cidr(&mut self, v: Tok<'_>) -> Option<(Ipv4Addr, u8)> {
        let Some((addr, prefix)) = v.s.split_once('/') else {
            bad!(
                self,
                v.at,
                "address {} needs a prefix length: A.B.C.D/P",
                Q(v.s)
            );
            return None;
        };
        let a = self.unicast(Tok { s: addr, at: v.at })?;
        let pat = Pos {
            line: v.at.line,
            col: v.at.col + addr.chars().count() as u32 + 1,
        };
        let p = match number(prefix) {
            Num::Ok(p) if (1..=32).contains(&p) => p as u8,
            _ => {
                bad!(self, pat, "bad prefix {} (1-32)", Q(prefix));
                return None;
            }
        };
        if p <= 30 {
            let host = u32::MAX >> p;
            let bits = u32::from(a) & host;
            if bits == 0 || bits == host {
                let what = if bits == 0 { "network" } else { "broadcast" };
                bad!(self, v.at, "{a} is the {what} address of its /{p}");
                return None;
            }
        }
        Some((a, p))
    }

    fn port(&mut self, v: Tok<'_>) -> Option<u16> {
        match number(v.s) {
            Num::Ok(p) if (1..=65535).contains(&p) => Some(p as u16),
            _ => {
                bad!(self, v.at, "bad port {} (1-65535)", Q(v.s));
                None
            }
        }
    }

    /// `hello` and `check`: a duration of at least MIN_INTERVAL.
    fn interval(&mut self, kw: Tok<'_>, t: &mut Toks<'_>) -> Option<Duration> {
        let v = self.need(kw, t, "a duration such as 200ms")?;
        let d = self.duration(v)?;
        if d < MIN_INTERVAL {
            bad!(
                self,
                v.at,
                "{} {} is too short (at least {})",
                kw.s,
                v.s,
                Ms(MIN_INTERVAL)
            );
            return None;
        }
        Some(d)
    }

    /// One of a few words (`table`) after a keyword; `what` lists them in
    /// the errors.
    fn one_of<T: Copy>(
        &mut self,
        kw: Tok<'_>,
        t: &mut Toks<'_>,
        what: &str,
        table: &[(&str, T)],
    ) -> Option<T> {
        let v = self.need(kw, t, what)?;
        let found = lookup(table, v.s);
        if found.is_none() {
            bad!(self, v.at, "bad {} {}: {what}", kw.s, Q(v.s));
        }
        found
    }

    /// The duration after a keyword; `what` names it in the error when it
    /// is missing.
    fn duration_after(&mut self, kw: Tok<'_>, t: &mut Toks<'_>, what: &str) -> Option<Duration> {
        let v = self.need(kw, t, what)?;
        self.duration(v)
    }

    /// `garp-refresh DURATION | none`: `Some(None)` is `none`.
    fn garp_refresh(&mut self, kw: Tok<'_>, t: &mut Toks<'_>) -> Option<Option<Duration>> {
        let v = self.need(kw, t, "a duration such as 10s, or `none`")?;
        if v.s == "none" {
            return Some(None);
        }
        let d = self.duration(v)?;
        if d < MIN_GARP_REFRESH {
            bad!(
                self,
                v.at,
                "garp-refresh {} is too short (at least 1s)",
                v.s
            );
            return None;
        }
        Some(Some(d))
    }

    fn duration(&mut self, v: Tok<'_>) -> Option<Duration> {
        self.amount(v, &DURATION).map(Duration::from_millis)
    }

    /// A size such as `16M`, in KiB.
    fn size_kib(&mut self, v: Tok<'_>) -> Option<u64> {
        self.amount(v, &SIZE)
    }

    /// Digits followed at once by one of `k`'s units, in its base unit:
    /// greater than zero and at most `k.max`, or an error naming why not.
    fn amount(&mut self, v: Tok<'_>, k: &Amount) -> Option<u64> {
        let digits = v.s.bytes().take_while(u8::is_ascii_digit).count();
        let (n, unit) = (
            v.s.get(..digits).unwrap_or_default(),
            v.s.get(digits..).unwrap_or_default(),
        );
        let (what, units, example) = (k.what, k.unit_list, k.example);
        let scale = match k.units.iter().find(|(u, _)| *u == unit) {
            Some(&(_, scale)) => scale,
            None if n.is_empty() => {
                bad!(
                    self,
                    v.at,
                    "bad {what} {}: a number and a unit, such as {example}",
                    Q(v.s)
                );
                return None;
            }
            None if unit.is_empty() => {
                bad!(self, v.at, "{what} {} needs a unit: {units}", Q(v.s));
                return None;
            }
            None => {
                bad!(self, v.at, "bad {what} unit {} ({units})", Q(unit));
                return None;
            }
        };
        let amount = match number(n) {
            Num::Ok(x) => x.checked_mul(scale),
            Num::TooLarge => None,
            Num::NotNumber => {
                bad!(
                    self,
                    v.at,
                    "bad {what} {}: a number and a unit, such as {example}",
                    Q(v.s)
                );
                return None;
            }
        };
        match amount {
            Some(0) => {
                bad!(self, v.at, "{what} must be greater than zero");
                None
            }
            Some(x) if x <= k.max => Some(x),
            _ => {
                bad!(self, v.at, "{what} {} {}", Q(v.s), k.over);
                None
            }
        }
    }

    /// A program and its arguments: `first` and every word left on the line.
    fn command<'a>(&mut self, first: Tok<'a>, t: &mut Toks<'a>) -> Option<Command> {
        if !first.s.starts_with('/') {
            bad!(
                self,
                first.at,
                "program {} must be an absolute path",
                Q(first.s)
            );
            return None;
        }
        let mut line = String::<MAX_COMMAND>::new();
        let mut words = 0;
        for w in core::iter::once(first).chain(t) {
            words += 1;
            if words > MAX_ARGS {
                bad!(
                    self,
                    w.at,
                    "too many words in command (at most {MAX_ARGS}, program included)"
                );
                return None;
            }
            let sep = if words > 1 { " " } else { "" };
            if line.push_str(sep).is_err() || line.push_str(w.s).is_err() {
                bad!(self, w.at, "command too long (at most {MAX_COMMAND} bytes)");
                return None;
            }
        }
        Some(Command { line })
    }
}
#[cfg(test)]
mod tests {
    use super::*;

    const GOOD: &str = "\
cluster office-nas
key-file /etc/bongoyo.key
interface eth0
multicast 239.255.76.7 port 7607
peer 10.0.0.12
hello 200ms
dead 600ms
quorum auto
fencing auto
notify /etc/bongoyo/notify.sh --verbose
node f1 10.0.0.11 priority 200
node f2 10.0.0.12
node f3 10.0.0.13

vserver web {
    address       10.0.0.50/24
    interface     eth0
    service       tcp 80
    reachability  arp
    check         200ms
    self-check    tcp 80
    takeover-timeout 3s
    pre-takeover  /etc/bongoyo/web-up.sh
    post-takeover /etc/bongoyo/web-up2.sh
    pre-release   /etc/bongoyo/web-down.sh
    post-release  /etc/bongoyo/web-down2.sh
    failback      auto
}
";

    /// Four valid lines; test text is appended from line 5 on.
    const MIN: &str = "cluster c\nkey-file insecure\ninterface eth0\nnode a 10.0.0.1\n";

    /// A vserver block with the two required lines (lines 5-8 after MIN).
    fn vs(name: &str, addr: &str, iface: &str) -> std::string::String {
        format!("vserver {name} {{\naddress {addr}\ninterface {iface}\n}}\n")
    }

    /// The error lines of a text (none when it parses).
    fn errs(text: &str) -> std::vec::Vec<std::string::String> {
        match parse("t.conf", text) {
            Ok(_) => std::vec::Vec::new(),
            Err(e) => e.to_string().lines().map(str::to_string).collect(),
        }
    }

    /// Each text, appended to MIN, gives exactly these error lines.
    fn expect(cases: &[(&str, &[&str])]) {
        for (extra, want) in cases {
            assert_eq!(errs(&format!("{MIN}{extra}\n")), *want, "for {extra:?}");
        }
    }

    /// Each text, appended to MIN, parses.
    fn accept(cases: &[&str]) {
        for extra in cases {
            assert_eq!(errs(&format!("{MIN}{extra}\n")), [""; 0], "for {extra:?}");
        }
    }

    #[test]
    fn full_example() {
        let c = parse("t.conf", GOOD).unwrap();
        assert_eq!(c.cluster, "office-nas");
        assert_eq!(
            c.key,
            Key::Unread(String::try_from("/etc/bongoyo.key").unwrap())
        );
        assert_eq!((c.interface.as_str(), c.port), ("eth0", 7607));
        assert_eq!(c.multicast, Ipv4Addr::new(239, 255, 76, 7));
        assert_eq!(c.peers.as_slice(), &[Ipv4Addr::new(10, 0, 0, 12)]);
        assert_eq!(
            (c.hello, c.dead),
            (Duration::from_millis(200), Duration::from_millis(600))
        );
        assert_eq!((c.quorum, c.fencing), (2, Fencing::Lease));
        assert_eq!(
            c.notify
                .as_ref()
                .unwrap()
                .argv()
                .collect::<std::vec::Vec<_>>(),
            ["/etc/bongoyo/notify.sh", "--verbose"]
        );
        let prio: std::vec::Vec<u8> = c.nodes.iter().map(|n| n.priority).collect();
        assert_eq!(prio, [200, DEFAULT_PRIORITY, DEFAULT_PRIORITY]);
        assert_eq!(c.nodes[2].address, Ipv4Addr::new(10, 0, 0, 13));
        let v = &c.vservers[0];
        assert_eq!(
            (v.name.as_str(), v.address, v.prefix),
            ("web", IpAddr::V4(Ipv4Addr::new(10, 0, 0, 50)), 24)
        );
        assert_eq!((v.interface.as_str(), v.dedicated), ("eth0", false));
        assert_eq!(
            (&v.service, &v.self_check),
            (&Check::Tcp(80), &Check::Tcp(80))
        );
        assert_eq!(
            (&v.reachability, v.failback),
            (&Reachability::Arp, Failback::Auto)
        );
        assert_eq!(
            (v.check, v.takeover_timeout),
            (Duration::from_millis(200), Duration::from_secs(3))
        );
        assert_eq!(
            v.hook(HookKind::PreTakeover).unwrap().line,
            "/etc/bongoyo/web-up.sh"
        );
        assert_eq!(
            v.hook(HookKind::PostRelease).unwrap().line,
            "/etc/bongoyo/web-down2.sh"
        );
    }

    #[test]
    fn defaults_and_auto() {
        let c = parse("t.conf", MIN).unwrap();
        assert_eq!(c.key, Key::Insecure);
        assert_eq!(
            (c.multicast, c.port),
            (IpAddr::V4(DEFAULT_GROUP), DEFAULT_PORT)
        );
        assert_eq!((c.hello, c.dead), (DEFAULT_HELLO, DEFAULT_HELLO * 3));
        assert_eq!((c.quorum, c.fencing, c.notify), (1, Fencing::None, None));
        let two = format!("{MIN}node b 10.0.0.2\nhello 1s\n");
        let c = parse("t", &two).unwrap();
        assert_eq!(
            (c.quorum, c.fencing, c.dead),
            (2, Fencing::Lease, Duration::from_secs(3))
        );
        let four = format!("{MIN}node b 10.0.0.2\nnode c 10.0.0.3\nnode d 10.0.0.4\n");
        assert_eq!(parse("t", &four).unwrap().quorum, 3);
        let c = parse("t", &format!("{MIN}node b 10.0.0.2\nquorum 1\n")).unwrap();
        assert_eq!((c.quorum, c.fencing), (1, Fencing::None));
        let c = parse("t", &format!("{MIN}node b 10.0.0.2\nfencing none\n")).unwrap();
        assert_eq!((c.quorum, c.fencing), (2, Fencing::None));
        assert_eq!(
            parse("t", &format!("{MIN}fencing lease\n"))
                .unwrap()
                .fencing,
            Fencing::Lease
        );
        let c = parse("t", &format!("{MIN}{}", vs("v", "10.1.0.1/16", "eth1"))).unwrap();
        let v = &c.vservers[0];
        assert_eq!(
            (&v.service, &v.self_check, &v.reachability),
            (&Check::None, &Check::None, &Reachability::Arp)
        );
        assert_eq!(
            (v.check, v.takeover_timeout, v.failback),
            (DEFAULT_CHECK, DEFAULT_TAKEOVER_TIMEOUT, Failback::Auto)
        );
        assert!(v.hooks.iter().all(Option::is_none));
        let c = parse("t", &format!("{MIN}vserver v {{\naddress 10.1.0.1/16\ninterface eth1 dedicated\n\
            service exec /bin/check -q\nreachability tcp 22\nself-check none\nfailback manual\n}}\n"))
        .unwrap();
        let v = &c.vservers[0];
        assert!(v.dedicated);
        assert!(matches!(&v.service, Check::Exec(cmd) if cmd.line == "/bin/check -q"));
        assert_eq!(
            (&v.reachability, v.failback),
            (&Reachability::Tcp(22), Failback::Manual)
        );
    }

    #[test]
    fn garp_refresh() {
        let refresh = |text: &str| -> std::vec::Vec<Option<Duration>> {
            let c = parse("t", &format!("{MIN}{text}")).unwrap();
            c.vservers.iter().map(|v| v.garp_refresh).collect()
        };
        let (a, b) = (vs("a", "10.1.0.1/16", "e"), vs("b", "10.1.0.2/16", "e"));
        assert_eq!(refresh(&a), [None], "off by default");
        // The top-level one is every block's default, wherever it stands;
        // a block's own wins, `none` included.
        let own = "vserver c {\naddress 10.1.0.3/16\ninterface e\ngarp-refresh 5s\n}\n\
            vserver d {\naddress 10.1.0.4/16\ninterface e\ngarp-refresh none\n}\n";
        assert_eq!(
            refresh(&format!("{a}garp-refresh 1m\n{b}{own}")),
            [
                Some(Duration::from_secs(60)),
                Some(Duration::from_secs(60)),
                Some(Duration::from_secs(5)),
                None
            ]
        );
        assert_eq!(
            refresh(&format!("garp-refresh none\n{own}")),
            [Some(Duration::from_secs(5)), None]
        );
        accept(&["garp-refresh 1s", "garp-refresh 24h", "garp-refresh 1000ms"]);
        expect(&[
            (
                "garp-refresh 999ms",
                &["t.conf:5:14: garp-refresh 999ms is too short (at least 1s)"],
            ),
            (
                "garp-refresh",
                &["t.conf:5:1: `garp-refresh` needs a duration such as 10s, or `none`"],
            ),
            ("garp-refresh 10", &["t.conf:5:14: duration `10` needs a unit: ms, s, m or h"]),
            ("garp-refresh off", &["t.conf:5:14: bad duration `off`: a number and a unit, such as 200ms"]),
            ("garp-refresh 2s 3s", &["t.conf:5:17: unexpected `3s` at end of line"]),
            (
                "garp-refresh 2s\ngarp-refresh 3s",
                &["t.conf:6:1: duplicate `garp-refresh` (first on line 5)"],
            ),
            (
                "vserver v {\naddress 10.1.0.1/16\ninterface e\ngarp-refresh 1s\ngarp-refresh none\n}",
                &["t.conf:9:1: duplicate `garp-refresh` (first on line 8)"],
            ),
            (
                "vserver v {\naddress 10.1.0.1/16\ninterface e\ngarp-refresh 25h\n}",
                &["t.conf:8:14: duration `25h` is too long (at most 24h)"],
            ),
        ]);
    }

    #[test]
    fn health_directives() {
        assert_eq!(parse("t", MIN).unwrap().health, HealthLimits::default());
        let c = parse(
            "t",
            &format!(
                "{MIN}track-interface eth1\ntrack-interface wan0\nmax-load-percent 400\nmin-free-memory 16M\n"
            ),
        )
        .unwrap();
        let h = &c.health;
        assert_eq!(h.track.as_slice(), ["eth1", "wan0"]);
        assert_eq!(
            (h.max_load_percent, h.min_free_memory_kib),
            (Some(400), Some(16 * 1024))
        );
        let c = parse(
            "t",
            &format!("{MIN}max-load-percent none\nmin-free-memory none\n"),
        )
        .unwrap();
        assert_eq!(
            (c.health.max_load_percent, c.health.min_free_memory_kib),
            (None, None)
        );
        for (size, kib) in [("512K", 512), ("1G", 1 << 20), ("1024G", 1 << 30)] {
            let c = parse("t", &format!("{MIN}min-free-memory {size}\n")).unwrap();
            assert_eq!(c.health.min_free_memory_kib, Some(kib), "{size}");
        }
        let nine: std::string::String = (0..9).map(|i| format!("track-interface t{i}\n")).collect();
        expect(&[
            (
                "track-interface",
                &["t.conf:5:1: `track-interface` needs an interface name"],
            ),
            (
                "track-interface eth1\ntrack-interface eth1",
                &["t.conf:6:17: interface eth1 is already tracked (line 5)"],
            ),
            (
                "track-interface a/b",
                &["t.conf:5:17: bad interface name `a/b`: no `/` or `:`"],
            ),
            (
                "track-interface eth1 eth2",
                &["t.conf:5:22: unexpected `eth2` at end of line"],
            ),
            (
                nine.trim_end(),
                &["t.conf:13:1: more than 8 track-interface lines (limits::MAX_TRACKED)"],
            ),
            (
                "max-load-percent 5",
                &["t.conf:5:18: bad max-load-percent `5`: 10-100000 (load average per CPU x 100) or `none`"],
            ),
            (
                "max-load-percent 4.0",
                &["t.conf:5:18: bad max-load-percent `4.0`: 10-100000 (load average per CPU x 100) or `none`"],
            ),
            (
                "max-load-percent 400\nmax-load-percent 500",
                &["t.conf:6:1: duplicate `max-load-percent` (first on line 5)"],
            ),
            (
                "min-free-memory 16",
                &["t.conf:5:17: size `16` needs a unit: K, M or G"],
            ),
            (
                "min-free-memory 16MB",
                &["t.conf:5:17: bad size unit `MB` (K, M or G)"],
            ),
            (
                "min-free-memory M",
                &["t.conf:5:17: bad size `M`: a number and a unit, such as 16M"],
            ),
            (
                "min-free-memory 0M",
                &["t.conf:5:17: size must be greater than zero"],
            ),
            (
                "min-free-memory 1025G",
                &["t.conf:5:17: size `1025G` is too large (at most 1024G)"],
            ),
            (
                "min-free-memory 99999999999999999999K",
                &["t.conf:5:17: size `99999999999999999999K` is too large (at most 1024G)"],
            ),
        ]);
    }

    #[test]
    fn comments_tabs_crlf_and_brace_on_next_line() {
        let t = "# head\r\ncluster\tc # trailing\r\nkey-file insecure#x\r\ninterface eth0\r\n\
                 node a 10.0.0.1\r\nvserver v\r\n\r\n  {  # open\r\naddress 10.1.0.1/16\r\n\
                 interface eth1 dedicated\r\n}\r\n";
        let c = parse("t.conf", t).unwrap();
        assert_eq!((c.cluster.as_str(), c.vservers[0].dedicated), ("c", true));
    }

    #[test]
    fn unknown_keywords() {
        expect(&[
            (
                "  frobnicate 3",
                &["t.conf:5:3: unknown keyword `frobnicate`"],
            ),
            ("Hello 1s", &["t.conf:5:1: unknown keyword `Hello`"]),
            (
                "address 10.0.0.9/24",
                &["t.conf:5:1: `address` belongs inside a vserver block"],
            ),
            ("{", &["t.conf:5:1: unknown keyword `{`"]),
            (
                "vserver v {\naddress 10.1.0.1/16\ninterface eth1\n  colour red\n  hello 1s\n}",
                &[
                    "t.conf:8:3: unknown vserver keyword `colour`",
                    "t.conf:9:3: `hello` is a top-level keyword, not allowed in a vserver block",
                ],
            ),
        ]);
    }

    #[test]
    fn bad_addresses_and_prefixes() {
        let v = |a: &str| format!("vserver v {{\naddress {a}\ninterface eth1\n}}");
        expect(&[
            (
                "node b 10.0.0.256",
                &["t.conf:5:8: bad IPv4 address `10.0.0.256`"],
            ),
            (
                "node b 010.0.0.2",
                &["t.conf:5:8: bad IPv4 address `010.0.0.2`"],
            ),
            (
                "peer 224.0.0.1",
                &["t.conf:5:6: 224.0.0.1 is not a unicast address"],
            ),
            (
                "peer 0.0.0.0",
                &["t.conf:5:6: 0.0.0.0 is not a unicast address"],
            ),
            (
                "multicast 10.0.0.1",
                &["t.conf:5:11: 10.0.0.1 is not a multicast group (224.0.0.0/4)"],
            ),
            ("multicast x", &["t.conf:5:11: bad IPv4 address `x`"]),
            (
                &v("10.0.0.50"),
                &["t.conf:6:9: address `10.0.0.50` needs a prefix length: A.B.C.D/P"],
            ),
            (&v("10.0.0.50/33"), &["t.conf:6:19: bad prefix `33` (1-32)"]),
            (&v("10.0.0.50/0"), &["t.conf:6:19: bad prefix `0` (1-32)"]),
            (&v("10.0.0.50/"), &["t.conf:6:19: bad prefix `` (1-32)"]),
            (&v("10.0.0/24"), &["t.conf:6:9: bad IPv4 address `10.0.0`"]),
            (
                &v("10.0.0.0/24"),
                &["t.conf:6:9: 10.0.0.0 is the network address of its /24"],
            ),
            (
                &v("10.0.0.255/24"),
                &["t.conf:6:9: 10.0.0.255 is the broadcast address of its /24"],
            ),
            (
                &v("239.0.0.1/24"),
                &["t.conf:6:9: 239.0.0.1 is not a unicast address"],
            ),
        ]);
        accept(&[
            &v("10.1.0.0/31"),
            &v("10.1.0.255/32"),
            "peer 10.0.0.1\nmulticast 224.0.0.18",
            "node b 127.0.0.2",
        ]);
    }

    /// An IPv6 cluster (issue 15): nodes, peers and group of one family;
    /// the default group is link-local scope; errors name the line.
    #[test]
    fn an_ipv6_cluster_talks_one_family() {
        let six = "cluster c\nkey-file insecure\ninterface eth0\nnode a fd00::1\nnode b fe80::2\n";
        let c = parse("t.conf", six).unwrap();
        assert_eq!(c.nodes[1].address, "fe80::2".parse::<IpAddr>().unwrap());
        assert_eq!(c.multicast, IpAddr::V6(DEFAULT_GROUP6));
        let c = parse(
            "t.conf",
            &format!("{six}multicast ff02::99 port 7000\npeer fd00::9\n"),
        )
        .unwrap();
        assert_eq!((c.multicast, c.port), ("ff02::99".parse().unwrap(), 7000));
        assert_eq!(c.peers[0], "fd00::9".parse::<IpAddr>().unwrap());
        let errs = |t: &str| match parse("t.conf", t) {
            Ok(_) => std::string::String::new(),
            Err(e) => e.to_string(),
        };
        assert_eq!(
            errs(&format!("{six}node c 10.0.0.3\n")),
            "t.conf:6:6: node `c`'s address 10.0.0.3 is not IPv6 as the first node's (line 4): a cluster talks one family\n"
        );
        assert_eq!(
            errs(&format!("{six}peer 10.0.0.9\nmulticast 239.1.1.1\n")),
            "t.conf:6:6: peer 10.0.0.9 is not IPv6 as the nodes are\n\
             t.conf:7:1: multicast group 239.1.1.1 is not IPv6 as the nodes are\n"
        );
        assert_eq!(
            errs(&format!("{MIN}multicast ff02::1\n")),
            "t.conf:5:1: multicast group ff02::1 is not IPv4 as the nodes are\n"
        );
        assert_eq!(
            errs(&format!("{six}multicast fd00::5\n")),
            "t.conf:6:11: fd00::5 is not a multicast group (ff00::/8)\n"
        );
        assert_eq!(
            errs(&format!("{six}node c ff02::3\n")),
            "t.conf:6:8: ff02::3 is not a unicast address\n"
        );
    }

    /// IPv6 vserver addresses (issue 15): any unicast, not scoped or
    /// mapped, with a prefix of 1-128; an IPv4 and an IPv6 vserver in one
    /// file; errors name the column.
    #[test]
    fn ipv6_vserver_addresses() {
        let v = |a: &str| format!("vserver w {{\naddress {a}\ninterface eth0\n}}");
        expect(&[
            (
                &v("2001:db8::50"),
                &["t.conf:6:9: address `2001:db8::50` needs a prefix length: ADDR/P"],
            ),
            (&v("2001:db8::50/129"), &["t.conf:6:22: bad prefix `129` (1-128)"]),
            (&v("2001:db8::50/0"), &["t.conf:6:22: bad prefix `0` (1-128)"]),
            (&v("2001:db8:::50/64"), &["t.conf:6:9: bad IPv6 address `2001:db8:::50`"]),
            (&v("::/64"), &["t.conf:6:9: :: is not a unicast address"]),
            (&v("::1/128"), &["t.conf:6:9: ::1 is not a unicast address"]),
            (&v("ff02::1/64"), &["t.conf:6:9: ff02::1 is not a unicast address"]),
            (
                &v("fe80::50/64"),
                &["t.conf:6:9: fe80::50 is link-local (fe80::/10): use a global or unique local address"],
            ),
            (
                &v("::ffff:10.0.0.50/120"),
                &["t.conf:6:9: ::ffff:10.0.0.50 is an IPv4-mapped address: write the IPv4 address"],
            ),
        ]);
        accept(&[
            &v("2001:db8::50/64"),
            &v("fd00:0:0:1::1/128"),
            &v("2001:DB8::A/48"),
        ]);
        let text = format!(
            "{MIN}{}\n{}\n",
            v("2001:db8::50/64"),
            "vserver x {\naddress 10.0.0.60/24\ninterface eth0\n}"
        );
        let c = parse("t.conf", &text).unwrap();
        assert_eq!(
            c.vservers[0].address,
            "2001:db8::50".parse::<IpAddr>().unwrap()
        );
        assert_eq!(c.vservers[0].prefix, 64);
        assert_eq!(
            c.vservers[1].address,
            IpAddr::V4(Ipv4Addr::new(10, 0, 0, 60))
        );
        // The same address twice, in another spelling.
        let twice = format!(
            "{MIN}{}\n{}\n",
            v("2001:db8::50/64"),
            "vserver x {\naddress 2001:DB8:0::50/64\ninterface eth0\n}"
        );
        let e = parse("t.conf", &twice).unwrap_err().to_string();
        assert!(
            e.contains("t.conf:10:9: address 2001:db8::50 is already vserver `w`'s (line 6)"),
            "{e}"
        );
    }

    #[test]
    fn bad_durations() {
        expect(&[
            (
                "hello 200",
                &["t.conf:5:7: duration `200` needs a unit: ms, s, m or h"],
            ),
            (
                "hello 200us",
                &["t.conf:5:7: bad duration unit `us` (ms, s, m or h)"],
            ),
            (
                "hello 2 s",
                &["t.conf:5:7: duration `2` needs a unit: ms, s, m or h"],
            ),
            (
                "hello ms",
                &["t.conf:5:7: bad duration `ms`: a number and a unit, such as 200ms"],
            ),
            (
                "hello -1s",
                &["t.conf:5:7: bad duration `-1s`: a number and a unit, such as 200ms"],
            ),
            (
                "hello 0s",
                &["t.conf:5:7: duration must be greater than zero"],
            ),
            (
                "hello 25h",
                &["t.conf:5:7: duration `25h` is too long (at most 24h)"],
            ),
            (
                "hello 99999999999999999999ms",
                &["t.conf:5:7: duration `99999999999999999999ms` is too long (at most 24h)"],
            ),
            (
                "hello 18446744073709551615h",
                &["t.conf:5:7: duration `18446744073709551615h` is too long (at most 24h)"],
            ),
            (
                "hello 9ms",
                &["t.conf:5:7: hello 9ms is too short (at least 10ms)"],
            ),
            (
                "dead 300ms",
                &["t.conf:5:6: dead 300ms must be at least twice hello (200ms)"],
            ),
            (
                "hello 1s\ndead 1s",
                &["t.conf:6:6: dead 1000ms must be at least twice hello (1000ms)"],
            ),
            (
                "vserver v {\naddress 10.1.0.1/16\ninterface e\ncheck 5ms\n}",
                &["t.conf:8:7: check 5ms is too short (at least 10ms)"],
            ),
            (
                "vserver v {\naddress 10.1.0.1/16\ninterface e\ntakeover-timeout 0ms\n}",
                &["t.conf:8:18: duration must be greater than zero"],
            ),
        ]);
        accept(&[
            "hello 1m\ndead 1h",
            "hello 20ms\ndead 40ms",
            "dead 24h",
            "vserver v {\naddress 10.1.0.1/16\ninterface e\ntakeover-timeout 1ms\n}",
        ]);
    }

    #[test]
    fn bad_numbers() {
        expect(&[
            (
                "multicast 239.1.1.1 port 0",
                &["t.conf:5:26: bad port `0` (1-65535)"],
            ),
            (
                "multicast 239.1.1.1 port 65536",
                &["t.conf:5:26: bad port `65536` (1-65535)"],
            ),
            (
                "multicast 239.1.1.1 prt 1",
                &["t.conf:5:21: unexpected `prt`: expected `port N`"],
            ),
            (
                "node b 10.0.0.2 priority 256",
                &["t.conf:5:26: bad priority `256` (0-255)"],
            ),
            (
                "node b 10.0.0.2 priority +5",
                &["t.conf:5:26: bad priority `+5` (0-255)"],
            ),
            (
                "node b 10.0.0.2 prio 5",
                &["t.conf:5:17: unexpected `prio`: expected `priority N`"],
            ),
            (
                "quorum 0",
                &["t.conf:5:8: quorum must be at least 1 (or `auto`)"],
            ),
            (
                "quorum many",
                &["t.conf:5:8: bad quorum `many`: `auto` or a number"],
            ),
            (
                "quorum 2",
                &["t.conf:5:8: quorum 2 is larger than the 1 node line"],
            ),
            (
                "quorum 99999999999999999999999",
                &["t.conf:5:8: quorum 18446744073709551615 is larger than the 1 node line"],
            ),
            (
                "fencing maybe",
                &["t.conf:5:9: bad fencing `maybe`: `auto`, `lease` or `none`"],
            ),
            (
                "vserver v {\naddress 10.1.0.1/16\ninterface e\nservice tcp http\n}",
                &["t.conf:8:13: bad port `http` (1-65535)"],
            ),
            (
                "vserver v {\naddress 10.1.0.1/16\ninterface e\nservice udp 53\n}",
                &["t.conf:8:9: bad check `udp`: `tcp PORT`, `exec PATH ...` or `none`"],
            ),
            (
                "vserver v {\naddress 10.1.0.1/16\ninterface e\nreachability tcp 0\n}",
                &["t.conf:8:18: bad port `0` (1-65535)"],
            ),
        ]);
        accept(&[
            "node b 10.0.0.2 priority 0\nmulticast 239.1.1.1 port 65535",
            "node b 10.0.0.2 priority 255\nquorum 2",
        ]);
    }

    #[test]
    fn duplicates() {
        let d = |n: &str, a: &str| {
            format!("vserver {n} {{\naddress {a}\ninterface eth1 dedicated\n}}\n")
        };
        expect(&[
            (
                "node a 10.0.0.2",
                &["t.conf:5:6: duplicate node name `a` (first on line 4)"],
            ),
            (
                "node b 10.0.0.1",
                &["t.conf:5:8: address 10.0.0.1 is already node `a`'s (line 4)"],
            ),
            (
                "peer 10.0.0.9\npeer 10.0.0.9",
                &["t.conf:6:6: duplicate peer 10.0.0.9 (first on line 5)"],
            ),
            (
                "hello 1s\nhello 2s",
                &["t.conf:6:1: duplicate `hello` (first on line 5)"],
            ),
            (
                "key-file /k",
                &["t.conf:5:1: duplicate `key-file` (first on line 2)"],
            ),
            (
                &(vs("w", "10.1.0.1/16", "eth0") + &vs("w", "10.1.0.2/16", "eth0")),
                &["t.conf:9:9: duplicate vserver name `w` (first on line 5)"],
            ),
            (
                &(vs("w", "10.1.0.1/16", "eth0") + &vs("x", "10.1.0.1/24", "eth0")),
                &["t.conf:10:9: address 10.1.0.1 is already vserver `w`'s (line 6)"],
            ),
            (
                &vs("w", "10.0.0.1/24", "eth0"),
                &["t.conf:6:9: vserver address 10.0.0.1 is node `a`'s address"],
            ),
            (
                "vserver w {\naddress 10.1.0.1/16\naddress 10.1.0.2/16\ninterface e\n}",
                &["t.conf:7:1: duplicate `address` (first on line 6)"],
            ),
            (
                &(d("w", "10.1.0.1/16") + &d("x", "10.1.0.2/16")),
                &["t.conf:11:11: interface eth1 is already dedicated to vserver `w`"],
            ),
            (
                &vs("w", "10.1.0.1/16", "eth0 dedicated"),
                &["t.conf:7:11: the cluster interface eth0 cannot be dedicated to a vserver"],
            ),
        ]);
        // A peer may name a node's address: that is what peers are for.
        accept(&[
            "peer 10.0.0.1",
            &(vs("w", "10.1.0.1/16", "eth1") + &vs("x", "10.1.0.2/16", "eth1")),
        ]);
    }

    #[test]
    fn missing_fields() {
        assert_eq!(
            errs(""),
            [
                "t.conf:0:0: missing `cluster NAME` line",
                "t.conf:0:0: missing `key-file PATH` line",
                "t.conf:0:0: missing `interface IFACE` line",
                "t.conf:0:0: missing `node NAME ADDR` line",
            ]
        );
        let e = errs("cluster c\nkey-file insecure\ninterface eth0\n");
        assert_eq!(e, ["t.conf:0:0: missing `node NAME ADDR` line"]);
        // A line present but wrong is reported once, not also as missing.
        let e = errs("cluster c!\nkey-file insecure\ninterface eth0\nnode a 10.0.0.1.1\n");
        assert_eq!(
            e,
            [
                "t.conf:1:9: bad name `c!`: letters, digits, `-`, `_`, `.` only",
                "t.conf:4:8: bad IPv4 address `10.0.0.1.1`"
            ]
        );
        expect(&[
            (
                "vserver w {\n}",
                &[
                    "t.conf:5:9: vserver `w` has no `address` line",
                    "t.conf:5:9: vserver `w` has no `interface` line",
                ],
            ),
            (
                "vserver w {\naddress 10.1.0.1/16\n}",
                &["t.conf:5:9: vserver `w` has no `interface` line"],
            ),
        ]);
    }

    #[test]
    fn missing_values_and_trailing_garbage() {
        let v =
            |line: &str| format!("vserver v {{\naddress 10.1.0.1/16\ninterface eth1\n{line}\n}}");
        expect(&[
            (
                "hello",
                &["t.conf:5:1: `hello` needs a duration such as 200ms"],
            ),
            (
                "dead",
                &["t.conf:5:1: `dead` needs a duration such as 600ms"],
            ),
            ("node", &["t.conf:5:1: `node` needs a name and an address"]),
            ("node b", &["t.conf:5:6: node `b` needs an address"]),
            (
                "node b 10.0.0.2 priority",
                &["t.conf:5:17: `priority` needs a number 0-255"],
            ),
            (
                "multicast 239.1.1.1 port",
                &["t.conf:5:21: `port` needs a number"],
            ),
            ("notify", &["t.conf:5:1: `notify` needs a program path"]),
            (
                "hello 1s 2s",
                &["t.conf:5:10: unexpected `2s` at end of line"],
            ),
            (
                "node b 10.0.0.2 priority 1 x",
                &["t.conf:5:28: unexpected `x` at end of line"],
            ),
            (
                "multicast 239.1.1.1 port 9 x",
                &["t.conf:5:28: unexpected `x` at end of line"],
            ),
            (
                &v("service tcp 80 81"),
                &["t.conf:8:16: unexpected `81` at end of line"],
            ),
            (
                &v("service exec"),
                &["t.conf:8:9: `exec` needs a program path"],
            ),
            (
                &v("self-check"),
                &["t.conf:8:1: `self-check` needs `tcp PORT`, `exec PATH ...` or `none`"],
            ),
            (
                &v("self-check none x"),
                &["t.conf:8:17: unexpected `x` at end of line"],
            ),
            (
                &v("reachability"),
                &["t.conf:8:1: `reachability` needs `arp` or `tcp PORT`"],
            ),
            (
                &v("reachability icmp"),
                &["t.conf:8:14: bad reachability `icmp`: `arp` or `tcp PORT`"],
            ),
            (
                &v("failback sometimes"),
                &["t.conf:8:10: bad failback `sometimes`: `auto` or `manual`"],
            ),
            (
                &v("pre-release"),
                &["t.conf:8:1: `pre-release` needs a program path"],
            ),
            (
                "vserver v {\naddress 10.1.0.1/16\ninterface eth1 shared\n}",
                &["t.conf:7:16: unexpected `shared`: expected `dedicated`"],
            ),
            (
                "notify sh -c x",
                &["t.conf:5:8: program `sh` must be an absolute path"],
            ),
        ]);
        let e = errs("cluster c d\nkey-file etc/key\ninterface eth0\nnode a 10.0.0.1\n");
        assert_eq!(
            e,
            [
                "t.conf:1:11: unexpected `d` at end of line",
                "t.conf:2:10: key file `etc/key` must be an absolute path"
            ]
        );
    }

    #[test]
    fn blocks() {
        expect(&[
            ("}", &["t.conf:5:1: stray `}`: no block is open"]),
            ("vserver v {\naddress 10.1.0.1/16\ninterface eth1", &["t.conf:5:11: unterminated block: `{` of vserver `v` has no `}`"]),
            ("vserver v\naddress 10.1.0.1/16\ninterface eth1\n}", &["t.conf:6:1: expected `{` after `vserver v`, found `address`"]),
            ("vserver v", &[
                "t.conf:5:9: vserver `v` has no `{`",
                "t.conf:5:9: vserver `v` has no `address` line",
                "t.conf:5:9: vserver `v` has no `interface` line",
            ]),
            ("vserver", &["t.conf:5:1: `vserver` needs a name"]),
            ("vserver v [\naddress 10.1.0.1/16\ninterface eth1\n}", &["t.conf:5:11: unexpected `[`: expected `{`"]),
            ("vserver v { x\naddress 10.1.0.1/16\ninterface eth1\n}", &["t.conf:5:13: unexpected `x` at end of line"]),
            ("vserver {\naddress 10.1.0.1/16\ninterface eth1\n}", &["t.conf:5:9: `vserver` needs a name before `{`"]),
            ("vserver v {\n{\naddress 10.1.0.1/16\ninterface eth1\n}", &["t.conf:6:1: unexpected `{`: blocks do not nest"]),
            // A `vserver` inside a block closes it and starts the next one.
            ("vserver v {\naddress 10.1.0.1/16\ninterface eth1\nvserver w {\naddress 10.1.0.2/16\ninterface eth1\n}", &[
                "t.conf:8:1: `vserver` inside the block of vserver `v` (missing `}`?)",
            ]),
            // A `}` at the end of a line is reported, and still closes.
            ("vserver v {\naddress 10.1.0.1/16\ninterface eth1 }\nhello 1s", &["t.conf:7:16: `}` must be on a line of its own"]),
            ("vserver v {\naddress 10.1.0.1/16\npre-takeover /x }\ninterface eth1", &[
                "t.conf:5:9: vserver `v` has no `interface` line",
                "t.conf:7:17: `}` must be on a line of its own",
                "t.conf:8:1: duplicate `interface` (first on line 3)",
            ]),
            ("vserver v { }\nhello 1s", &[
                "t.conf:5:9: vserver `v` has no `address` line",
                "t.conf:5:9: vserver `v` has no `interface` line",
                "t.conf:5:13: `}` must be on a line of its own",
            ]),
        ]);
        let c = parse(
            "t",
            &format!("{MIN}vserver v {{\naddress 10.1.0.1/16\ninterface eth1 }}\nhello 1s\n"),
        );
        assert_eq!(c.unwrap_err().list.len(), 1);
    }

    #[test]
    fn limits() {
        let mut t = std::string::String::from("cluster c\nkey-file insecure\ninterface eth0\n");
        for i in 0..=MAX_NODES {
            t += &format!("node n{i} 10.0.1.{}\n", i + 1);
        }
        for i in 0..=MAX_PEERS {
            t += &format!("peer 10.0.2.{}\n", i + 1);
        }
        for i in 0..=MAX_VSERVERS {
            t += &vs(&format!("v{i}"), &format!("10.0.3.{}/16", i + 1), "eth0");
        }
        let last_vs = format!(
            "t.conf:{}:1: more than 64 vserver blocks (limits::MAX_VSERVERS)",
            70 + 4 * 64
        );
        assert_eq!(
            errs(&t),
            [
                "t.conf:36:1: more than 32 node lines (limits::MAX_NODES)",
                "t.conf:69:1: more than 32 peer lines (limits::MAX_PEERS)",
                last_vs.as_str(),
            ]
        );
        // Exactly at every limit is fine.
        let at_limit: std::string::String = t
            .lines()
            .filter(|l| !l.contains("n32 ") && !l.contains(".2.33"))
            .collect::<std::vec::Vec<_>>()
            .join("\n");
        let at_limit = at_limit.split("vserver v64").next().unwrap();
        let c = parse("t", at_limit).unwrap();
        assert_eq!(
            (c.nodes.len(), c.peers.len(), c.vservers.len()),
            (MAX_NODES, MAX_PEERS, MAX_VSERVERS)
        );
        assert_eq!(c.quorum as usize, MAX_NODES / 2 + 1);

        let name = "n".repeat(MAX_NAME);
        let args = "/bin/x".to_string() + &" a".repeat(MAX_ARGS - 1);
        let path = format!("/{}", "p".repeat(MAX_COMMAND - 1));
        expect(&[
            (&format!("node {name}n 10.0.0.2"), &[format!("t.conf:5:6: name `{name}n` is too long (at most 32 bytes)").as_str()]),
            ("vserver v {\naddress 10.1.0.1/16\ninterface abcdefghijklm\n}", &[
                "t.conf:7:11: interface name `abcdefghijklm` is too long (at most 12 bytes to leave room for the `:N` alias label)",
            ]),
            ("vserver v {\naddress 10.1.0.1/16\ninterface eth0:1\n}", &["t.conf:7:11: bad interface name `eth0:1`: no `/` or `:`"]),
            (&format!("notify {args} b"), &["t.conf:5:45: too many words in command (at most 16, program included)"]),
            (&format!("notify {path} x"), &["t.conf:5:201: command too long (at most 192 bytes)"]),
            (&format!("notify {path}p"), &["t.conf:5:8: command too long (at most 192 bytes)"]),
        ]);
        let key = format!("/{}", "k".repeat(MAX_COMMAND));
        let e = errs(&format!(
            "cluster c\nkey-file {key}\ninterface eth0\nnode a 10.0.0.1\n"
        ));
        assert_eq!(e, ["t.conf:2:10: path too long (at most 192 bytes)"]);
        let e = errs("cluster c\nkey-file insecure\ninterface abcdefghijklmnop\nnode a 10.0.0.1\n");
        assert_eq!(
            e,
            ["t.conf:3:11: interface name `abcdefghijklmnop` is too long (at most 15 bytes)"]
        );
        accept(&[
            &format!("node {name} 10.0.0.2"),
            "vserver v {\naddress 10.1.0.1/16\ninterface abcdefghijklm dedicated\n}",
            &format!("notify {args}"),
            &format!("notify {path}"),
        ]);
    }

    #[test]
    fn error_list_is_bounded_and_messages_are_cut() {
        let mut t = std::string::String::from(MIN);
        for _ in 0..100 {
            t += "bogus\n";
        }
        let e = parse("t.conf", &t).unwrap_err();
        assert_eq!(
            (e.list.len(), e.more),
            (MAX_CONFIG_ERRORS, 100 - MAX_CONFIG_ERRORS as u32)
        );
        assert!(e.to_string().ends_with(
            "t.conf:68:1: unknown keyword `bogus`\nt.conf:0:0: 36 more errors not shown\n"
        ));
        // Columns count characters, not bytes; a tab is one column.
        let long = "é".repeat(300);
        expect(&[
            (
                &format!("{long}\u{1}"),
                &["t.conf:5:301: control character in the line"],
            ),
            (
                "hello é é",
                &["t.conf:5:7: bad duration `é`: a number and a unit, such as 200ms"],
            ),
            (
                "node é 10.0.0.2",
                &["t.conf:5:6: bad name `é`: letters, digits, `-`, `_`, `.` only"],
            ),
            ("node b\t\té", &["t.conf:5:9: bad IPv4 address `é`"]),
            (
                "cluster\u{b}x",
                &["t.conf:5:8: control character in the line"],
            ),
        ]);
        let m = errs(&format!("{MIN}{long}\n")).join("");
        let quoted = "é".repeat(QUOTE_CHARS);
        assert_eq!(m, format!("t.conf:5:1: unknown keyword `{quoted}…`"));
        let e = parse(&"f".repeat(500), "x").unwrap_err();
        assert_eq!(e.file.len(), MAX_FILE_NAME);
        let mut e = Errors::new("f");
        e.push(1, 1, format_args!("{}", "m".repeat(500)));
        assert_eq!(e.list[0].message.len(), MAX_MESSAGE);
    }

    #[test]
    fn counts_are_singular_for_one() {
        let s = |n, w| Count(n, w).to_string();
        assert_eq!(s(0, "vserver"), "0 vservers");
        assert_eq!(s(1, "vserver"), "1 vserver");
        assert_eq!(s(2, "node"), "2 nodes");
        let mut t = std::string::String::from(MIN);
        for _ in 0..=MAX_CONFIG_ERRORS {
            t += "bogus\n";
        }
        let e = parse("t.conf", &t).unwrap_err();
        assert!(e
            .to_string()
            .ends_with("t.conf:0:0: 1 more error not shown\n"));
    }

    #[test]
    fn places_point_at_what_names_the_host() {
        let (_, at) = parse_at("t.conf", GOOD).unwrap();
        let p = |line, col| Pos { line, col };
        assert_eq!(at.key_file, p(2, 10));
        assert_eq!(at.interface, p(3, 11));
        assert_eq!(at.notify, p(10, 8));
        assert_eq!(at.nodes.as_slice(), [p(11, 9), p(12, 9), p(13, 9)]);
        let v = at.vservers[0];
        assert_eq!((v.address, v.interface), (p(16, 19), p(17, 19)));
        // `self-check tcp 80`: the keyword; an `exec` check: its program.
        assert_eq!((v.service, v.self_check), (p(18, 5), p(21, 5)));
        assert_eq!(v.hooks, [p(23, 19), p(24, 19), p(25, 19), p(26, 19)]);
        let (_, at) = parse_at("t.conf", &format!("{MIN}vserver v {{\naddress 10.1.0.1/16\ninterface e\nservice exec /bin/true x\n}}\n")).unwrap();
        assert_eq!(at.vservers[0].service, p(8, 14));
        assert_eq!(at.vservers[0].hooks, [Pos::default(); 4]);
    }

    #[test]
    fn validate_node_names_the_box() {
        let c = parse("t.conf", GOOD).unwrap();
        assert_eq!(validate_node("t.conf", &c, "f2").unwrap(), 1);
        let e = validate_node("t.conf", &c, "nas9").unwrap_err();
        assert_eq!(
            e.to_string(),
            "t.conf:0:0: this box's name `nas9` is not among the node lines (f1, f2, f3)\n"
        );
    }

    #[test]
    fn key_decoding() {
        let k = decode_key(b"  00112233445566778899aabbccddeeFF\r\n")
            .ok()
            .unwrap();
        assert_eq!((k.len(), k[0], k[1], k[15]), (16, 0x00, 0x11, 0xff));
        assert!(matches!(decode_key(b"0011"), Err(KeyError::Short(4))));
        assert!(matches!(decode_key(b""), Err(KeyError::Short(0))));
        assert!(matches!(decode_key(&[b'a'; 130]), Err(KeyError::Long(130))));
        assert!(matches!(decode_key(&[b'a'; 33]), Err(KeyError::Odd)));
        assert!(matches!(
            decode_key(b"00112233445566778899aabbccddeeffzz"),
            Err(KeyError::NotHex)
        ));
        assert!(matches!(
            decode_key(b"0011223344556677 8899aabbccddeeff"),
            Err(KeyError::NotHex)
        ));
        assert!(matches!(
            decode_key(&[b' '; MAX_KEY_FILE + 1]),
            Err(KeyError::TooBig)
        ));
        assert_eq!(
            decode_key(&[b'A'; 128]).ok().unwrap().as_slice(),
            &[0xaa; MAX_KEY]
        );
    }

    /// A scratch path unique to this test process.
    fn tmp(name: &str) -> std::path::PathBuf {
        let d = std::env::temp_dir().join(format!("bongoyo-config-{}", std::process::id()));
        std::fs::create_dir_all(&d).unwrap();
        d.join(name)
    }

    #[test]
    fn load_reads_the_key() {
        use std::os::unix::fs::PermissionsExt;
        let (key, conf) = (tmp("k1.key"), tmp("k1.conf"));
        let mode = |m| std::fs::set_permissions(&key, std::fs::Permissions::from_mode(m)).unwrap();
        std::fs::write(
            &key,
            "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef\n",
        )
        .unwrap();
        mode(0o600);
        let text = format!(
            "cluster c\nkey-file   {}\ninterface eth0\nnode a 10.0.0.1\n",
            key.display()
        );
        std::fs::write(&conf, &text).unwrap();
        let conf_s = conf.to_str().unwrap();
        match &load(conf_s).unwrap().key {
            Key::Secret(k) => assert_eq!((k.len(), k[0], k[31]), (32, 0x01, 0xef)),
            other => panic!("{other:?}"),
        }
        let at = format!("{}:2:12: key file {}", conf.display(), key.display());
        mode(0o644);
        assert_eq!(
            load(conf_s).unwrap_err().to_string(),
            format!("{at} is world-readable (chmod 600)\n")
        );
        mode(0o640); // group-readable is the operator's choice
        assert!(load(conf_s).is_ok());
        std::fs::write(&key, "nothex").unwrap();
        assert_eq!(
            load(conf_s).unwrap_err().to_string(),
            format!("{at} is not hex digits (bongoyo keygen writes one)\n")
        );
        std::fs::remove_file(&key).unwrap();
        let e = load(conf_s).unwrap_err().to_string();
        assert!(e.starts_with(&format!("{at} cannot be read: ")), "{e}");
        std::fs::remove_file(&conf).unwrap();
    }

    /// Issue 17: a key file is a regular file, named directly, with a
    /// secret in it, that others cannot read; anything else is refused
    /// with the key-file line's place, and nothing waits.
    #[test]
    fn load_refuses_key_files_that_are_not_a_private_regular_file() {
        use std::os::unix::fs::PermissionsExt;
        let (key, conf) = (tmp("k2.key"), tmp("k2.conf"));
        let good = "0123456789abcdef0123456789abcdef\n";
        let text = format!(
            "cluster c\nkey-file {}\ninterface eth0\nnode a 10.0.0.1\n",
            key.display()
        );
        std::fs::write(&conf, &text).unwrap();
        let conf_s = conf.to_str().unwrap();
        let at = format!("{}:2:10: key file {}", conf.display(), key.display());
        let err = || load(conf_s).unwrap_err().to_string();
        let private = |body: &str| {
            let _ = std::fs::remove_file(&key);
            std::fs::write(&key, body).unwrap();
            std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o600)).unwrap();
        };
        private(good);
        assert!(load(conf_s).is_ok());
        private("");
        assert_eq!(
            err(),
            format!("{at} has 0 hex digits, at least 32 needed\n")
        );
        private("0011223344\n");
        assert_eq!(
            err(),
            format!("{at} has 10 hex digits, at least 32 needed\n")
        );
        private("a\n");
        assert_eq!(err(), format!("{at} has 1 hex digit, at least 32 needed\n"));
        private("secret secret secret secret secret\n");
        assert_eq!(
            err(),
            format!("{at} is not hex digits (bongoyo keygen writes one)\n")
        );
        private(good);
        std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o604)).unwrap();
        assert_eq!(err(), format!("{at} is world-readable (chmod 600)\n"));
        // Group-readable is accepted (docs/DECISIONS.md, "Configuration").
        std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o640)).unwrap();
        assert!(load(conf_s).is_ok());

        // A symbolic link, even to a good private key: refused, not followed.
        let real = tmp("k2-real.key");
        std::fs::rename(&key, &real).unwrap();
        std::os::unix::fs::symlink(&real, &key).unwrap();
        assert_eq!(
            err(),
            format!("{at} is a symbolic link (not followed: name the key file itself)\n")
        );
        std::fs::remove_file(&key).unwrap();
        std::fs::remove_file(&real).unwrap();
        // A directory and a FIFO (no writer: a blocking open would wait).
        std::fs::create_dir(&key).unwrap();
        assert_eq!(err(), format!("{at} is not a regular file\n"));
        std::fs::remove_dir(&key).unwrap();
        nix::unistd::mkfifo(&key, nix::sys::stat::Mode::from_bits_truncate(0o600)).unwrap();
        assert_eq!(err(), format!("{at} is not a regular file\n"));
        std::fs::remove_file(&key).unwrap();
        std::fs::remove_file(&conf).unwrap();
    }

    #[test]
    fn load_refuses_a_configuration_that_is_not_a_regular_file() {
        let fifo = tmp("fifo.conf");
        nix::unistd::mkfifo(&fifo, nix::sys::stat::Mode::from_bits_truncate(0o600)).unwrap();
        let e = load(fifo.to_str().unwrap()).unwrap_err().to_string();
        assert_eq!(e, format!("{}:0:0: not a regular file\n", fifo.display()));
        std::fs::remove_file(&fifo).unwrap();
        let dir = tmp("dir.conf");
        std::fs::create_dir(&dir).unwrap();
        let e = load(dir.to_str().unwrap()).unwrap_err().to_string();
        assert_eq!(e, format!("{}:0:0: not a regular file\n", dir.display()));
        std::fs::remove_dir(&dir).unwrap();
        // A link to a good file is followed.
        let (ok, link) = (tmp("real.conf"), tmp("link.conf"));
        std::fs::write(&ok, MIN).unwrap();
        std::os::unix::fs::symlink(&ok, &link).unwrap();
        assert_eq!(load(link.to_str().unwrap()).unwrap().key, Key::Insecure);
        std::fs::remove_file(&link).unwrap();
        std::fs::remove_file(&ok).unwrap();
    }

    #[test]
    fn load_reports_unreadable_and_non_text() {
        let missing = tmp("missing.conf");
        let e = load(missing.to_str().unwrap()).unwrap_err().to_string();
        assert!(
            e.starts_with(&format!("{}:0:0: cannot read: ", missing.display())),
            "{e}"
        );
        let bin = tmp("bin.conf");
        std::fs::write(&bin, b"cluster c\nkey-file insecure\nint\xffrface eth0\n").unwrap();
        let e = load(bin.to_str().unwrap()).unwrap_err().to_string();
        assert_eq!(e, format!("{}:3:4: not UTF-8 text\n", bin.display()));
        let big = tmp("big.conf");
        std::fs::write(&big, vec![b'#'; MAX_CONFIG_BYTES + 1]).unwrap();
        let e = load(big.to_str().unwrap()).unwrap_err().to_string();
        assert_eq!(
            e,
            format!(
                "{}:0:0: file is larger than {MAX_CONFIG_BYTES} bytes\n",
                big.display()
            )
        );
        let ok = tmp("ok.conf");
        std::fs::write(&ok, MIN).unwrap();
        assert_eq!(load(ok.to_str().unwrap()).unwrap().key, Key::Insecure);
        let bad = tmp("bad.conf");
        std::fs::write(&bad, "cluster c\n").unwrap();
        let e = load(bad.to_str().unwrap()).unwrap_err();
        assert_eq!(e.list.len(), 3);
        for f in [bin, big, ok, bad] {
            std::fs::remove_file(f).unwrap();
        }
    }

    /// xorshift64: a tiny deterministic generator for the no-panic test.
    struct Rng(u64);

    impl Rng {
        fn next(&mut self) -> u64 {
            self.0 ^= self.0 << 13;
            self.0 ^= self.0 >> 7;
            self.0 ^= self.0 << 17;
            self.0
        }
        fn below(&mut self, n: usize) -> usize {
            (self.next() % n.max(1) as u64) as usize
        }
    }

    /// 20 000 inputs: random bytes, and the full example with random
    /// deletions, byte flips, inserted keywords and repeated slices. Nothing
    /// may panic, and whatever parses must hold what the daemon relies on.
    #[test]
    fn never_panics_on_random_or_mutated_input() {
        const WORDS: &[&str] = &[
            "{",
            "}",
            "#",
            "\n",
            " ",
            "\t",
            "vserver",
            "node",
            "peer",
            "0",
            "255",
            "65536",
            "1.2.3.4/",
            "/",
            "ms",
            "99999999999999999999",
            "exec",
            "tcp",
            "é",
            "\u{0}",
            "dedicated",
            "priority",
            "port",
            "auto",
            "224.0.0.1",
            "10.0.0.0/31",
            "quorum 9",
            "dead 1ms",
        ];
        let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
        let mut ok = 0;
        for i in 0..20_000 {
            let text: std::vec::Vec<u8> = if i % 4 == 0 {
                (0..rng.below(300)).map(|_| rng.next() as u8).collect()
            } else {
                let mut t = GOOD.as_bytes().to_vec();
                for _ in 0..1 + rng.below(6) {
                    let at = rng.below(t.len() + 1);
                    match rng.below(5) {
                        0 if at < t.len() => {
                            let end = (at + rng.below(20)).min(t.len());
                            t.drain(at..end);
                        }
                        1 if at < t.len() => t[at] = rng.next() as u8,
                        2 => {
                            let w = WORDS[rng.below(WORDS.len())];
                            t.splice(at..at, w.bytes());
                        }
                        3 => {
                            let from = rng.below(t.len());
                            let end = (from + rng.below(200)).min(t.len());
                            let piece = t[from..end].to_vec();
                            t.splice(at..at, piece);
                        }
                        _ => t.insert(at.min(t.len()), b'\n'),
                    }
                }
                t
            };
            let text = std::string::String::from_utf8_lossy(&text);
            match parse("fuzz.conf", &text) {
                Ok(c) => {
                    ok += 1;
                    assert!(c.quorum >= 1 && c.quorum as usize <= c.nodes.len());
                    assert!(c.dead >= c.hello * 2 && c.hello >= MIN_INTERVAL);
                    assert!(!c.cluster.is_empty() && !c.interface.is_empty());
                    assert!(c
                        .vservers
                        .iter()
                        .all(|v| v.prefix >= 1 && !v.interface.is_empty()));
                }
                Err(e) => assert!(!e.is_empty() && !e.to_string().is_empty()),
            }
        }
        assert!(ok > 100, "mutations should sometimes stay valid: {ok}");
    }
}
