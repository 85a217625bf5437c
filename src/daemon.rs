//! The mio shell (docs/MODEL.md): one thread, one `mio::Poll`.
//!
//! It owns every descriptor (the multicast and unicast UDP sockets, the
//! control socket and its connections, the signalfd, one ARP packet socket
//! per vserver interface, health-check connects and hook output pipes) and
//! the two sans-IO state machines: the [`Codec`] and the box's [`Node`]
//! (cluster core, boss-side monitor, holder). Each turn:
//!
//! 1. wait in `poll` until a descriptor is ready or the earliest deadline
//!    (the node's `poll_timeout`, an in-flight check's or child's deadline,
//!    a control connection's deadline, the next drop summary, the next
//!    health measuring, the stop deadline) is due;
//! 2. read the clock and hand that `now` to everything below;
//! 3. drain every ready descriptor until `WouldBlock` (readiness is only a
//!    hint; `EINTR` is retried), except the cluster sockets: at most a
//!    burst of datagrams each per turn, so a flood cannot hold the loop
//!    while timers wait (the loop comes back to them at once);
//! 4. read the clock again and fire due timers (lease expiry included);
//! 5. carry out what the codec and the node asked for: seal and send, start
//!    checks and hooks, alias and unalias, announce; feed results back.
//!
//! Nothing in the loop waits for the network or a child: connects are
//! non-blocking, hooks are children reaped on SIGCHLD, ARP probes collect
//! answers during a window. The address ioctls and rtnetlink requests
//! ([`crate::os::ifaddr`]) are synchronous, but they are local syscalls the
//! kernel answers at once (no network round trip), so they run inline.
//!
//! Allocation: datagram buffers, control answers and every in-flight table
//! are fixed at start. What still allocates is event-driven, never per
//! packet: spawning a hook (the standard library builds its argv), and log
//! lines inside the syslog writer (rate-limited where traffic could cause
//! them).

mod health;
pub mod request;
mod status;
mod work;

use core::fmt::{self, Write as _};
use core::net::{Ipv4Addr, SocketAddr, SocketAddrV4};
use core::time::Duration;
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};

use heapless::String as HString;
use log::{debug, error, info, warn};
use mio::net::{UdpSocket, UnixListener, UnixStream};
use mio::unix::SourceFd;
use mio::{Events, Interest, Poll, Token};

use crate::cluster::{AlertKind, Control, Dest, MemberChange};
use crate::config::{self, Check, Config, HookKind, IfName, Key, NodeId, Reachability, VsId};
use crate::limits::{MAX_DATAGRAM, MAX_NODES, MAX_VSERVERS};
use crate::node::{MoveAnswer, Node, Output};
use crate::os::arp::ArpSocket;
use crate::os::child::{self, Context};
use crate::os::control::{ListenError, SocketFile};
use crate::os::signals::{self, Signal, Signals};
use crate::os::{clock, control, ifaddr, net, process, random};
use crate::proto::{Body, Codec, Role};
use crate::takeover::Step;
use crate::time::Instant;
use crate::vserver::monitor::{arp_window, CheckKind, MoveStart, VsAlert};

use request::{Request, REQUEST_BYTES};
use work::{ArpIf, Done, Purpose, Work, ARP_BASE, CHECK_BASE, CHILD_BASE, MAX_CHECKS};

/// Accepted control connections served at once; more are refused.
pub const MAX_CONTROL: usize = 4;
/// A control client must send its line and read its answer within this.
pub const CONTROL_TIMEOUT: Duration = Duration::from_secs(1);
/// At most one line summarising dropped datagrams per this interval.
pub const DROP_SUMMARY_EVERY: Duration = Duration::from_secs(10);
/// A hook (pre/post takeover/release, notify) must exit within this or it
/// is killed and its step fails.
pub const HOOK_TIMEOUT: Duration = Duration::from_secs(10);
/// Shortest time a TCP check may take to connect (a `check` interval below
/// it would fail healthy services on a busy box).
pub const MIN_CHECK_TIMEOUT: Duration = Duration::from_millis(100);
/// Shortest time an `exec` check may run (starting a process costs a few
/// milliseconds on a small ARM box; a script more).
pub const MIN_EXEC_TIMEOUT: Duration = Duration::from_secs(1);
pub use crate::takeover::ALIAS_LIFETIME_S;
pub use crate::vserver::monitor::MAX_ARP_WINDOW;
/// After SIGTERM the loop keeps running (releasing, with hooks) at most
/// this long; then what is left is removed directly and the daemon exits.
pub const STOP_GRACE: Duration = Duration::from_secs(5);
/// Hooks and checks waiting for a free child slot; when full, a new one
/// fails at once (logged).
const CHILD_QUEUE: usize = 32;
/// Bytes of a control answer (a full status of 32 boxes and 64 vservers in
/// JSON fits with room to spare).
const ANSWER_BYTES: usize = 32 * 1024;

const MULTICAST: Token = Token(0);
const UNICAST: Token = Token(1);
const SIGNALS: Token = Token(2);
const LISTENER: Token = Token(3);
/// Control connection `i` has token `CONN_BASE + i`.
const CONN_BASE: usize = 16;
const _: () = assert!(CONN_BASE + MAX_CONTROL <= ARP_BASE);
const _: () = assert!(ARP_BASE + MAX_VSERVERS <= CHECK_BASE);
const _: () = assert!(CHECK_BASE + MAX_CHECKS <= CHILD_BASE);

/// What `bongoyo run` was given.
#[derive(Clone, Debug)]
pub struct Options {
    /// The configuration file (`-c`).
    pub config: PathBuf,
    /// This box's name (`-n`); the host name if `None`.
    pub name: Option<String>,
    /// The control socket (`-s`).
    pub socket: PathBuf,
    /// `-f`: stay in the foreground and log to standard error too.
    pub foreground: bool,
    /// Number of `-v`.
    pub verbose: u8,
}

/// Why the daemon could not start or had to stop: a sysexits code and a
/// message for the operator.
#[derive(Debug)]
pub struct Failure {
    /// The process exit code (sysexits).
    pub code: u8,
    /// What went wrong, naming the file, interface or socket.
    pub message: String,
}

/// sysexits: bad configuration data.
pub const EX_DATAERR: u8 = 65;
/// sysexits: a service is unavailable.
pub const EX_UNAVAILABLE: u8 = 69;
/// sysexits: an operating system error.
pub const EX_OSERR: u8 = 71;
/// sysexits: an output file cannot be created (something that is not a
/// socket is at the control socket's path).
pub const EX_CANTCREAT: u8 = 73;
/// sysexits: permission denied.
pub const EX_NOPERM: u8 = 77;

impl Failure {
    fn data(message: String) -> Failure {
        Failure {
            code: EX_DATAERR,
            message,
        }
    }

    /// An OS error while doing `what`: 77 for a permission error, else 71.
    fn os(what: fmt::Arguments, e: io::Error) -> Failure {
        let code = match e.kind() {
            io::ErrorKind::PermissionDenied => EX_NOPERM,
            _ => EX_OSERR,
        };
        Failure {
            code,
            message: format!("{what}: {e}"),
        }
    }
}

/// Run the daemon until SIGTERM or SIGINT. Logging must already be set up
/// ([`crate::os::log::init`]).
pub fn run(opts: &Options) -> Result<(), Failure> {
    // A reload asked for while starting waits for the loop.
    signals::hold_reload().map_err(|e| Failure::os(format_args!("sigprocmask"), e))?;
    let path = opts.config.to_string_lossy().into_owned();
    let config = config::load(&path)
        .map_err(|errs| Failure::data(format!("{errs}").trim_end().to_owned()))?;
    if let Key::Unread(file) = &config.key {
        return Err(Failure::data(format!(
            "{path}: key file {file} was not read"
        )));
    }
    let name = match &opts.name {
        Some(n) => n.clone(),
        None => process::hostname().map_err(|e| Failure::os(format_args!("uname"), e))?,
    };
    let me = config::validate_node(&path, &config, &name)
        .map_err(|errs| Failure::data(format!("{errs}").trim_end().to_owned()))?;
    if !config.vservers.is_empty() {
        capabilities()?;
    }
    // Nothing above waits or changes the box, so SIGTERM and SIGINT kept
    // their default action (stop at once). From here on the daemon
    // changes things: the loop reads them from the signalfd (a signal
    // arriving before the loop runs waits there) and stops cleanly.
    let signals = Signals::new().map_err(|e| Failure::os(format_args!("signalfd"), e))?;
    // Dropping the daemon removes its control socket file.
    Daemon::start(config, me, signals, &opts.socket, path)?.run_loop()
}

/// Vservers need CAP_NET_ADMIN (their addresses) and CAP_NET_RAW (the ARP
/// packet socket). Without one, `run` stops here, exit 77, before it claims
/// or changes anything: without CAP_NET_ADMIN it would start, volunteer and
/// fail every takeover. (An unreadable capability set is left to the calls
/// that need them.)
fn capabilities() -> Result<(), Failure> {
    use process::{has_capability, CAP_NET_ADMIN, CAP_NET_RAW};
    let lacks = |cap| matches!(has_capability(cap), Ok(false));
    let missing = match (lacks(CAP_NET_ADMIN), lacks(CAP_NET_RAW)) {
        (false, false) => return Ok(()),
        (true, true) => "CAP_NET_ADMIN and CAP_NET_RAW",
        (true, false) => "CAP_NET_ADMIN",
        (false, true) => "CAP_NET_RAW",
    };
    Err(Failure {
        code: EX_NOPERM,
        message: format!(
            "missing {missing}: vservers need CAP_NET_ADMIN (their addresses) and CAP_NET_RAW (the ARP packet socket); run as root or grant both (setcap cap_net_admin,cap_net_raw+ep, or systemd AmbientCapabilities=)"
        ),
    })
}

/// What the shell itself sees of each box: its datagrams that passed the
/// codec.
#[derive(Copy, Clone, Default)]
struct Heard {
    last: Option<Instant>,
    received: u64,
}

/// Transport counters.
#[derive(Default)]
struct Counters {
    received: u64,
    accepted: u64,
    sent: u64,
    send_errors: u64,
}

#[derive(Copy, Clone, PartialEq, Eq)]
enum Phase {
    Reading,
    Writing,
}

/// One control connection slot; its buffers live as long as the daemon.
struct Conn {
    stream: Option<UnixStream>,
    deadline: Instant,
    phase: Phase,
    /// The client's user id (`SO_PEERCRED`); only root and the daemon's
    /// own user may change anything.
    uid: u32,
    request: [u8; REQUEST_BYTES],
    len: usize,
    answer: Vec<u8>,
    written: usize,
}

/// A `fmt::Write` into a vector that never grows past its capacity, so
/// writing an answer never allocates.
struct Fixed<'a>(&'a mut Vec<u8>);

impl fmt::Write for Fixed<'_> {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        if self.0.len() + s.len() > self.0.capacity() {
            return Err(fmt::Error);
        }
        self.0.extend_from_slice(s.as_bytes());
        Ok(())
    }
}

/// An address this box has put on an interface for a vserver.
#[derive(Clone)]
struct Alias {
    label: IfName,
    ifindex: u32,
    since: Instant,
}

/// Where a vserver lives on this box: its interface's index and ARP socket.
#[derive(Copy, Clone)]
struct VsIf {
    ifindex: u32,
    arp: usize,
}

/// A vserver address as `A.B.C.D/P`.
type AddrText = HString<20>;

struct Daemon {
    poll: Poll,
    config: Config,
    config_path: String,
    me: NodeId,
    incarnation: u64,
    started: Instant,
    codec: Codec,
    node: Node,
    multicast: UdpSocket,
    unicast: UdpSocket,
    signals: Signals,
    listener: UnixListener,
    /// The control socket's file, removed when the daemon is dropped.
    _socket_file: SocketFile,
    conns: [Conn; MAX_CONTROL],
    rx: Box<[u8; MAX_DATAGRAM + 1]>,
    tx: Box<[u8; MAX_DATAGRAM]>,
    work: Work,
    /// Hooks and exec checks waiting for a child slot.
    waiting: heapless::Deque<Purpose, CHILD_QUEUE>,
    vs_if: heapless::Vec<VsIf, MAX_VSERVERS>,
    aliases: [Option<Alias>; MAX_VSERVERS],
    /// Drop total at the last summary line, and when the next may go out.
    drops_logged: u64,
    next_summary: Instant,
    heard: [Heard; MAX_NODES],
    counters: Counters,
    stop: Option<(Signal, Instant)>,
    /// What this box gave up while stopping (the `stop` line's counters).
    stop_tally: status::StopTally,
    /// This box's health, measured every second and fed to the node.
    health: health::Health,
}

fn addr_text(v: &config::VServer) -> AddrText {
    let mut s = AddrText::new();
    // 18 bytes at most: always fits.
    let _ = write!(s, "{}/{}", v.address, v.prefix);
    s
}

fn check_timeout(every: Duration, exec: bool) -> Duration {
    every.max(if exec {
        MIN_EXEC_TIMEOUT
    } else {
        MIN_CHECK_TIMEOUT
    })
}

impl Daemon {
    fn start(
        config: Config,
        me: NodeId,
        signals: Signals,
        socket: &Path,
        config_path: String,
    ) -> Result<Daemon, Failure> {
        let now = clock::now();
        let ifname = config.interface.as_str();
        let iface = net::interface(ifname)
            .map_err(|e| Failure::os(format_args!("interface {ifname}"), e))?;
        let my_addr = config
            .nodes
            .get(me as usize)
            .map(|n| n.address)
            .unwrap_or(Ipv4Addr::UNSPECIFIED);

        // First what only one daemon on a box can have: the control socket
        // and the cluster port on this box's address. A second `run` stops
        // here, before it changes anything (the running daemon's addresses
        // above all: the clean-up below would take them).
        let (listener, socket_file) = control::listen(socket).map_err(|e| {
            let code = match &e {
                ListenError::NotSocket(_) => EX_CANTCREAT,
                ListenError::Io(io) if io.kind() == io::ErrorKind::PermissionDenied => EX_NOPERM,
                ListenError::Live(_) | ListenError::Io(_) => EX_OSERR,
            };
            Failure {
                code,
                message: format!("control socket {}: {e}", socket.display()),
            }
        })?;
        let port = config.port;
        let unicast = net::unicast_socket(my_addr, port, iface.index).map_err(|e| {
            if e.kind() == io::ErrorKind::AddrInUse {
                let name = config.nodes.get(me as usize).map_or("?", |n| n.name.as_str());
                Failure {
                    code: EX_OSERR,
                    message: format!(
                        "UDP {my_addr}:{port} is in use: another bongoyo runs as node {name} on this box (or another program has the port); nothing was changed"
                    ),
                }
            } else {
                Failure::os(format_args!("unicast socket {my_addr}:{port}"), e)
            }
        })?;
        let multicast =
            net::multicast_socket(config.multicast, port, iface.index).map_err(|e| {
                Failure::os(
                    format_args!("multicast socket {}:{port} on {ifname}", config.multicast),
                    e,
                )
            })?;

        // Addresses a crashed run left behind go before this box says
        // anything: the boss must not count a claim nobody makes.
        startup_cleanup(&config);

        // One ARP socket per distinct vserver interface.
        let mut work = Work::new();
        let mut vs_if = heapless::Vec::new();
        for v in &config.vservers {
            let arp = match work.arp_index(&v.interface) {
                Some(i) => i,
                None => {
                    let name = v.interface.as_str();
                    let i = net::interface(name)
                        .map_err(|e| Failure::os(format_args!("interface {name}"), e))?;
                    let sock = ArpSocket::open(i.index, i.mac)
                        .map_err(|e| Failure::os(format_args!("ARP packet socket on {name}"), e))?;
                    // At most one per vserver: fits.
                    let _ = work.arps.push(ArpIf {
                        name: v.interface.clone(),
                        ifindex: i.index,
                        sock,
                    });
                    work.arps.len() - 1
                }
            };
            let ifindex = work.arps.get(arp).map_or(0, |a| a.ifindex);
            // At most MAX_VSERVERS vservers (the parser checks).
            let _ = vs_if.push(VsIf { ifindex, arp });
        }

        let incarnation = random::u64().map_err(|e| Failure::os(format_args!("getrandom"), e))?;
        let seed = random::u64().map_err(|e| Failure::os(format_args!("getrandom"), e))?;

        let poll = Poll::new().map_err(|e| Failure::os(format_args!("epoll"), e))?;
        let mut multicast = UdpSocket::from_std(multicast);
        let mut unicast = UdpSocket::from_std(unicast);
        let mut listener = UnixListener::from_std(listener);
        let reg = poll.registry();
        let mut r = reg
            .register(&mut multicast, MULTICAST, Interest::READABLE)
            .and_then(|_| reg.register(&mut unicast, UNICAST, Interest::READABLE))
            .and_then(|_| {
                reg.register(
                    &mut SourceFd(&std::os::fd::AsRawFd::as_raw_fd(&signals)),
                    SIGNALS,
                    Interest::READABLE,
                )
            })
            .and_then(|_| reg.register(&mut listener, LISTENER, Interest::READABLE));
        for (i, a) in work.arps.iter().enumerate() {
            r = r.and_then(|_| {
                reg.register(
                    &mut SourceFd(&std::os::fd::AsRawFd::as_raw_fd(&a.sock)),
                    Token(ARP_BASE + i),
                    Interest::READABLE,
                )
            });
        }
        if let Err(e) = r {
            return Err(Failure::os(format_args!("epoll register"), e));
        }

        let codec = Codec::for_config(&config, me, incarnation, seed);
        let mut node = Node::new(&config, me, incarnation, now);
        // Hellos carry the MAC that answers ARP for this box's vserver
        // addresses, so the boss can tell which box answers (docs/MODEL.md):
        // the vserver interface's, not necessarily the cluster one's.
        // Hellos have room for one MAC; vservers on interfaces with other
        // MACs are reported as answered by "someone else" (logged here).
        let answer_mac = work.arps.first().map_or(iface.mac, |a| a.sock.mac());
        for a in work.arps.iter().skip(1) {
            if a.sock.mac() != answer_mac {
                warn!(
                    "mac-ambiguous interface={} vservers on it are announced with the MAC of {}; the boss cannot tell this box's ARP answers there from the original host's",
                    a.name,
                    work.arps.first().map_or("?", |f| f.name.as_str())
                );
            }
        }
        node.set_mac(answer_mac);
        let conns = core::array::from_fn(|_| Conn {
            stream: None,
            deadline: now,
            phase: Phase::Reading,
            uid: u32::MAX,
            request: [0; REQUEST_BYTES],
            len: 0,
            answer: Vec::with_capacity(ANSWER_BYTES),
            written: 0,
        });
        let mac = iface.mac;
        info!(
            "start node={} incarnation={incarnation:016x} interface={ifname} ifindex={} mac={:02x}:{:02x}:{:02x}:{:02x}:{:02x}:{:02x} group={} port={} nodes={} vservers={} quorum={} fencing={} auth={}",
            config.nodes.get(me as usize).map(|n| n.name.as_str()).unwrap_or("?"),
            iface.index,
            mac[0], mac[1], mac[2], mac[3], mac[4], mac[5],
            config.multicast,
            config.port,
            config.nodes.len(),
            config.vservers.len(),
            config.quorum,
            if config.fencing == config::Fencing::Lease { "lease" } else { "none" },
            if matches!(config.key, Key::Insecure) { "INSECURE" } else { "hmac-sha256" },
        );
        if matches!(config.key, Key::Insecure) {
            warn!("insecure key-file=insecure: cluster messages are not authenticated");
        }
        Ok(Daemon {
            poll,
            config,
            config_path,
            me,
            incarnation,
            started: now,
            codec,
            node,
            multicast,
            unicast,
            signals,
            listener,
            _socket_file: socket_file,
            conns,
            rx: Box::new([0; MAX_DATAGRAM + 1]),
            tx: Box::new([0; MAX_DATAGRAM]),
            work,
            waiting: heapless::Deque::new(),
            vs_if,
            aliases: core::array::from_fn(|_| None),
            drops_logged: 0,
            next_summary: now + DROP_SUMMARY_EVERY,
            heard: [Heard::default(); MAX_NODES],
            counters: Counters::default(),
            stop: None,
            stop_tally: status::StopTally::default(),
            health: health::Health::new(now),
        })
    }

    /// Datagrams read from one cluster socket per turn. A flood must not
    /// hold the loop in one drain while timers and lease expiry wait: after
    /// a burst the loop fires what is due (with a fresh clock reading) and
    /// comes back to the socket at once.
    const RECV_BURST: usize = 256;

    fn run_loop(&mut self) -> Result<(), Failure> {
        let mut events = Events::with_capacity(64);
        let mut now = self.started;
        // Health first: a tracked link that is down must keep this box off
        // the list from its first hello on.
        self.measure_health(now);
        // The node may want to speak at once (a first hello).
        self.flush(now);
        // Sockets a burst left unread (multicast, unicast): epoll reports
        // an edge only once, so the loop itself comes back to them.
        let mut more = [false; 2];
        loop {
            let timeout = if more.contains(&true) {
                Some(Duration::ZERO)
            } else {
                self.next_deadline().map(|d| d.saturating_since(now))
            };
            match self.poll.poll(&mut events, timeout) {
                Ok(()) => {}
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(Failure::os(format_args!("epoll_wait"), e)),
            }
            now = clock::now();
            let mut read = [false; 2];
            for ev in events.iter() {
                match ev.token() {
                    MULTICAST => {
                        read[0] = true;
                        more[0] = self.receive(now, false);
                    }
                    UNICAST => {
                        read[1] = true;
                        more[1] = self.receive(now, true);
                    }
                    SIGNALS => self.signals(now),
                    LISTENER => self.accept(now),
                    Token(t) if (CONN_BASE..CONN_BASE + MAX_CONTROL).contains(&t) => {
                        self.serve(now, t - CONN_BASE)
                    }
                    Token(t) if (ARP_BASE..CHECK_BASE).contains(&t) => {
                        self.work.arp_ready(t - ARP_BASE)
                    }
                    t => self.work.ready(self.poll.registry(), t),
                }
            }
            for (i, unicast) in [(0, false), (1, true)] {
                if more[i] && !read[i] {
                    more[i] = self.receive(now, unicast);
                }
            }
            // The drain took time: timers and leases go by the clock now.
            now = clock::now();
            self.timers(now);
            self.flush(now);
            if let Some((sig, until)) = self.stop {
                if self.node.stopped() || now >= until {
                    self.shutdown(now, sig);
                    return Ok(());
                }
            }
        }
    }

    /// The earliest deadline: the node's, the in-flight work's, a control
    /// connection's, the drop summary's (only when there is something to
    /// summarise), the stop deadline, the next health measuring.
    fn next_deadline(&self) -> Option<Instant> {
        let mut d = self.node.poll_timeout();
        let mut earliest = |t: Instant| d = Some(d.map_or(t, |x| x.min(t)));
        if let Some(t) = self.work.poll_timeout() {
            earliest(t);
        }
        for c in &self.conns {
            if c.stream.is_some() {
                earliest(c.deadline);
            }
        }
        if self.codec.drops().total() != self.drops_logged {
            earliest(self.next_summary);
        }
        if let Some((_, until)) = self.stop {
            earliest(until);
        }
        earliest(self.health.poll_timeout());
        d
    }

    fn timers(&mut self, now: Instant) {
        if self.node.poll_timeout().is_some_and(|t| t <= now) {
            self.node.handle_timeout(now);
        }
        self.work.timers(self.poll.registry(), now);
        self.measure_health(now);
        for i in 0..MAX_CONTROL {
            if self.conns[i].stream.is_some() && self.conns[i].deadline <= now {
                debug!("control-timeout slot={i}");
                self.close(i);
            }
        }
        if self.next_summary <= now {
            let total = self.codec.drops().total();
            if total != self.drops_logged {
                let mut line: HString<512> = HString::new();
                // A truncated summary is still a useful summary.
                let _ = write_drops(&mut line, self.codec.drops(), false);
                warn!(
                    "drops window={}s new={} total={total}{line}",
                    DROP_SUMMARY_EVERY.as_secs(),
                    total - self.drops_logged,
                );
                self.drops_logged = total;
            }
            self.next_summary = now + DROP_SUMMARY_EVERY;
        }
    }

    /// Measure this box's health if it is time; a change goes to the node
    /// (0 puts the box on hold, more takes it off).
    fn measure_health(&mut self, now: Instant) {
        if let Some(h) = self.health.sample(now, &self.config.health) {
            self.node.handle_health(now, h);
        }
    }

    /// Read the waiting datagrams from one socket, at most
    /// [`Self::RECV_BURST`]; true if it stopped with some left.
    fn receive(&mut self, now: Instant, unicast: bool) -> bool {
        for _ in 0..Self::RECV_BURST {
            let sock = if unicast {
                &self.unicast
            } else {
                &self.multicast
            };
            let n = match sock.recv_from(&mut self.rx[..]) {
                Ok((n, _from)) => n,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return false,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => {
                    debug!(
                        "receive-error socket={} error={e}",
                        if unicast { "unicast" } else { "multicast" }
                    );
                    return false;
                }
            };
            self.counters.received += 1;
            // The buffer is one byte larger than the largest datagram, so an
            // oversized one reaches the codec longer than it allows.
            let Some(datagram) = self.rx.get(..n) else {
                continue;
            };
            // Every Err is counted inside the codec (`drops()`).
            if let Ok(msg) = self.codec.open(now, datagram) {
                self.counters.accepted += 1;
                if let Some(msg) = msg {
                    let from = msg.header.sender;
                    if let Some(h) = self.heard.get_mut(from as usize) {
                        h.last = Some(now);
                        h.received += 1;
                    }
                    self.node
                        .handle_message(now, from, msg.header.incarnation, &msg.body);
                }
            }
        }
        true
    }

    /// Carry out what the codec and the node asked for, feed back the
    /// results that are already there, until nothing is left.
    fn flush(&mut self, now: Instant) {
        // Bounded: each round only moves what is queued; results and
        // outputs feed each other a finite number of times.
        for _ in 0..64 {
            let mut moved = false;
            while let Some((to, body)) = self.codec.poll_transmit() {
                self.send(Dest::Node(to), &body);
            }
            while let Some(o) = self.node.poll_output() {
                moved = true;
                self.output(now, o);
            }
            self.start_waiting(now);
            while let Some(d) = self.work.poll_done() {
                moved = true;
                self.done(now, d);
            }
            if !moved {
                break;
            }
        }
        // Sealing can make the codec want to speak (a challenge to a new
        // incarnation is sent on hearing it, not on sending); drain again.
        while let Some((to, body)) = self.codec.poll_transmit() {
            self.send(Dest::Node(to), &body);
        }
    }

    fn vs_name(&self, vs: VsId) -> &str {
        self.config
            .vservers
            .get(vs as usize)
            .map_or("?", |v| v.name.as_str())
    }

    /// One output of the node.
    fn output(&mut self, now: Instant, o: Output) {
        match o {
            Output::Send { to, body } => self.send(to, &body),
            Output::Check { vserver, kind } => self.check(now, vserver, kind),
            Output::SelfCheck { vserver } => self.self_check(now, vserver),
            Output::Step { vserver, step } => self.step(now, vserver, step),
            Output::Renew { vserver } => self.renew(vserver),
            Output::RoleChanged {
                role,
                boss,
                generation,
            } => info!(
                "role role={} boss={} generation={generation}",
                role_name(role),
                boss.map_or("none", |b| self.name(b))
            ),
            Output::VsChanged {
                vserver,
                combo,
                holder,
            } => {
                let c = combo.to_bytes();
                info!(
                    "vserver name={} state={} holder={}",
                    self.vs_name(vserver),
                    core::str::from_utf8(&c).unwrap_or("???"),
                    holder.map_or("none", |h| self.name(h))
                );
            }
            Output::VsMoving { vserver, from, to } => info!(
                "move vserver={} from={} to={}",
                self.vs_name(vserver),
                self.name(from),
                self.name(to)
            ),
            Output::MoveRequested {
                vserver,
                by,
                result,
            } => info!(
                "move-request vserver={} by={} result={}",
                self.vs_name(vserver),
                self.name(by),
                move_word(result)
            ),
            Output::Member { node, change } => {
                let mut field: HString<40> = HString::new();
                let (word, silent) = match change {
                    MemberChange::Joined { incarnation } => {
                        let _ = write!(field, " incarnation={incarnation:016x}");
                        ("joined", None)
                    }
                    MemberChange::Back { silent_ms } => ("back", Some(silent_ms)),
                    MemberChange::Suspect { silent_ms } => ("suspect", Some(silent_ms)),
                    MemberChange::Lost { silent_ms } => ("lost", Some(silent_ms)),
                    MemberChange::Left => ("left", None),
                };
                if let Some(ms) = silent {
                    let _ = write!(field, " silent_ms={ms}");
                }
                let name = self.name(node);
                if matches!(change, MemberChange::Lost { .. }) {
                    warn!("member node={name} change={word}{field}");
                } else {
                    info!("member node={name} change={word}{field}");
                }
            }
            Output::NodeAlert { node, kind } => {
                let name = self.name(node);
                let mut field: HString<40> = HString::new();
                let event = match kind {
                    AlertKind::Lost { lost_for_ms } => {
                        let _ = write!(field, "lost_for_ms={lost_for_ms}");
                        "node-lost"
                    }
                    AlertKind::ConfigMismatch => "config-mismatch",
                };
                error!(target: crate::os::log::ALERT, "alert event={event} node={name} {field}");
                let mut n: HString<48> = HString::new();
                let _ = write!(n, "node={name}");
                self.notify(now, event, &n, &field);
            }
            Output::VsAlert { vserver, kind } => {
                let (event, mac) = match kind {
                    VsAlert::ServiceDeadAddressAlive => ("service-dead-address-alive", None),
                    VsAlert::NoVolunteer => ("no-volunteer", None),
                    VsAlert::OriginalIsBack => ("original-is-back", None),
                    VsAlert::NoSuccessor => ("no-successor", None),
                    VsAlert::ServiceDeadEverywhere => ("service-dead-everywhere", None),
                    VsAlert::ForeignMac { mac } => ("foreign-mac", Some(mac)),
                    VsAlert::StaleBoxMac { mac } => ("stale-box-mac", Some(mac)),
                };
                let v = self.config.vservers.get(vserver as usize);
                let (name, addr) =
                    v.map_or(("?", AddrText::new()), |v| (v.name.as_str(), addr_text(v)));
                let mut a: HString<64> = HString::new();
                let _ = write!(a, "address={addr}");
                if let Some(m) = mac {
                    let _ = write!(
                        a,
                        " mac={:02x}:{:02x}:{:02x}:{:02x}:{:02x}:{:02x}",
                        m[0], m[1], m[2], m[3], m[4], m[5]
                    );
                }
                error!(target: crate::os::log::ALERT, "alert event={event} vserver={name} {a}");
                let mut n: HString<48> = HString::new();
                let _ = write!(n, "vserver={name}");
                self.notify(now, event, &n, &a);
            }
        }
    }

    /// Run the `notify` hook for an alert: the event name and its fields as
    /// arguments. Nobody waits for it; a failure is logged.
    fn notify(&mut self, now: Instant, event: &'static str, a: &str, b: &str) {
        let Some(cmd) = self.config.notify.as_ref() else {
            return;
        };
        if !self.work.child_free() {
            warn!("notify-skipped event={event} reason=all-child-slots-busy");
            return;
        }
        let args = [event, a, b];
        let n = if b.is_empty() { 2 } else { 3 };
        match child::spawn_with(cmd, &args[..n], &[("BONGOYO_EVENT", event)]) {
            Ok(c) => self.work.adopt_child(
                self.poll.registry(),
                now,
                Purpose::Notify,
                c,
                HOOK_TIMEOUT,
                "-",
                "notify",
            ),
            Err(e) => warn!("notify-failed event={event} command={} error={e}", cmd.line),
        }
    }

    /// A boss-side check of a vserver.
    fn check(&mut self, now: Instant, vs: VsId, kind: CheckKind) {
        let Some(v) = self.config.vservers.get(vs as usize) else {
            return;
        };
        let timeout = check_timeout(v.check, false);
        let addr = v.address;
        match kind {
            CheckKind::Service => match &v.service {
                Check::None => self.node.handle_service(now, vs, true),
                Check::Tcp(port) => self.work.start_tcp(
                    self.poll.registry(),
                    now,
                    Purpose::Service(vs),
                    SocketAddrV4::new(addr, *port),
                    timeout,
                ),
                Check::Exec(_) => self.queue_child(Purpose::Service(vs)),
            },
            CheckKind::Reach => match v.reachability {
                Reachability::Arp => {
                    let window = arp_window(v.check);
                    let sock = self.vs_if.get(vs as usize).map_or(usize::MAX, |i| i.arp);
                    self.work.box_macs.clear();
                    for n in 0..self.config.nodes.len() as NodeId {
                        let m = self.node.core().peer_mac(n);
                        if m != [0; 6] {
                            let _ = self.work.box_macs.push(m);
                        }
                    }
                    self.work
                        .start_arp(now, Purpose::Reach(vs), sock, addr, window);
                }
                Reachability::Tcp(port) => self.work.start_tcp(
                    self.poll.registry(),
                    now,
                    Purpose::Reach(vs),
                    SocketAddrV4::new(addr, port),
                    timeout,
                ),
            },
        }
    }

    /// This box's self-check for a vserver.
    fn self_check(&mut self, now: Instant, vs: VsId) {
        let Some(v) = self.config.vservers.get(vs as usize) else {
            return;
        };
        match &v.self_check {
            Check::None => self.node.handle_self_check(now, vs, true),
            Check::Tcp(port) => {
                let timeout = check_timeout(v.check, false);
                self.work.start_tcp(
                    self.poll.registry(),
                    now,
                    Purpose::SelfCheck(vs),
                    SocketAddrV4::new(Ipv4Addr::LOCALHOST, *port),
                    timeout,
                )
            }
            Check::Exec(_) => self.queue_child(Purpose::SelfCheck(vs)),
        }
    }

    /// One takeover or release step.
    fn step(&mut self, now: Instant, vs: VsId, step: Step) {
        let hook = match step {
            Step::PreTakeover => Some(HookKind::PreTakeover),
            Step::PostTakeover => Some(HookKind::PostTakeover),
            Step::PreRelease => Some(HookKind::PreRelease),
            Step::PostRelease => Some(HookKind::PostRelease),
            Step::AddAlias | Step::Garp | Step::RemoveAlias => None,
        };
        if let Some(kind) = hook {
            let configured = self
                .config
                .vservers
                .get(vs as usize)
                .is_some_and(|v| v.hook(kind).is_some());
            if configured {
                self.queue_child(Purpose::Step(vs, step));
            } else {
                // The sequence skips unconfigured hooks; be safe anyway.
                self.node.handle_step(now, vs, step, true);
            }
            return;
        }
        let ok = match step {
            Step::AddAlias => self.add_alias(now, vs),
            Step::Garp => self.garp(vs),
            _ => {
                let here = self.aliases.get(vs as usize).is_some_and(Option::is_some);
                let ok = self.remove_alias(vs);
                self.stop_tally.removed(vs, here && ok, false);
                ok
            }
        };
        self.node.handle_step(now, vs, step, ok);
    }

    fn add_alias(&mut self, now: Instant, vs: VsId) -> bool {
        let Some(v) = self.config.vservers.get(vs as usize) else {
            return false;
        };
        let ifindex = self.vs_if.get(vs as usize).map_or(0, |i| i.ifindex);
        let label = if v.dedicated {
            Some(v.interface.clone())
        } else {
            match ifaddr::list_addresses() {
                Ok(used) => {
                    // Already there (a retry after a failed step): reuse it.
                    match used.iter().find(|a| a.addr == v.address) {
                        Some(a) => Some(a.label.clone()),
                        None => ifaddr::free_label(&v.interface, &used),
                    }
                }
                Err(e) => {
                    error!(
                        "alias-failed vserver={} error=listing addresses: {e}",
                        v.name
                    );
                    return false;
                }
            }
        };
        let Some(label) = label else {
            error!(
                "alias-failed vserver={} error=no free label on {}",
                v.name, v.interface
            );
            return false;
        };
        let r = ifaddr::add_alias(&label, v.address, v.prefix).and_then(|_| {
            // At once: from here on a dead daemon's address dies with it.
            ifaddr::set_lifetime(ifindex, &label, v.address, v.prefix, ALIAS_LIFETIME_S)
        });
        match r {
            Ok(()) => {
                info!(
                    "alias-added vserver={} address={} label={label} lifetime_s={ALIAS_LIFETIME_S}",
                    v.name,
                    addr_text(v)
                );
                self.aliases[vs as usize] = Some(Alias {
                    label,
                    ifindex,
                    since: now,
                });
                true
            }
            Err(e) => {
                error!(
                    "alias-failed vserver={} address={} label={label} error={e}",
                    v.name,
                    addr_text(v)
                );
                // Half-added (address set, lifetime not): take it away again.
                let _ = ifaddr::remove_address(ifindex, v.address, v.prefix);
                false
            }
        }
    }

    fn garp(&mut self, vs: VsId) -> bool {
        let Some(v) = self.config.vservers.get(vs as usize) else {
            return false;
        };
        let Some(a) = self
            .vs_if
            .get(vs as usize)
            .and_then(|i| self.work.arps.get(i.arp))
        else {
            return false;
        };
        match a.sock.announce(v.address) {
            Ok(()) => {
                debug!("garp vserver={} address={}", v.name, v.address);
                true
            }
            Err(e) => {
                warn!(
                    "garp-failed vserver={} interface={} error={e}",
                    v.name, a.name
                );
                false
            }
        }
    }

    fn remove_alias(&mut self, vs: VsId) -> bool {
        let Some(v) = self.config.vservers.get(vs as usize) else {
            return false;
        };
        let ifindex = self.vs_if.get(vs as usize).map_or(0, |i| i.ifindex);
        match ifaddr::remove_address(ifindex, v.address, v.prefix) {
            Ok(()) => {
                let label = self.aliases[vs as usize].take().map(|a| a.label);
                info!(
                    "alias-removed vserver={} address={} label={}",
                    v.name,
                    addr_text(v),
                    label.as_ref().map_or("-", |l| l.as_str())
                );
                true
            }
            Err(e) => {
                error!(
                    "unalias-failed vserver={} address={} error={e}",
                    v.name,
                    addr_text(v)
                );
                false
            }
        }
    }

    /// Renew a held address's kernel lifetime (fencing layer 2).
    fn renew(&mut self, vs: VsId) {
        let (Some(v), Some(a)) = (
            self.config.vservers.get(vs as usize),
            self.aliases.get(vs as usize).and_then(Option::as_ref),
        ) else {
            return;
        };
        if let Err(e) =
            ifaddr::set_lifetime(a.ifindex, &a.label, v.address, v.prefix, ALIAS_LIFETIME_S)
        {
            // The kernel already took it (this daemon was frozen longer than
            // the lifetime): the boss's checks will see it unreachable.
            warn!(
                "renew-failed vserver={} address={} label={} error={e}",
                v.name,
                addr_text(v),
                a.label
            );
        }
    }

    /// A hook or exec check: start it now if a child slot is free, else
    /// queue it (policy when the queue is full: it fails at once).
    fn queue_child(&mut self, p: Purpose) {
        if self.waiting.push_back(p).is_err() {
            warn!("child-queue-full purpose={p:?}");
            self.work.fail_now(p);
        }
    }

    fn start_waiting(&mut self, now: Instant) {
        while self.work.child_free() {
            let Some(p) = self.waiting.pop_front() else {
                return;
            };
            self.spawn(now, p);
        }
    }

    fn spawn(&mut self, now: Instant, p: Purpose) {
        let (vs, event, timeout) = match p {
            Purpose::Service(vs) => (vs, "service-check", None),
            Purpose::SelfCheck(vs) => (vs, "self-check", None),
            Purpose::Step(vs, step) => (
                vs,
                match step {
                    Step::PreTakeover => "pre-takeover",
                    Step::PostTakeover => "post-takeover",
                    Step::PreRelease => "pre-release",
                    _ => "post-release",
                },
                Some(HOOK_TIMEOUT),
            ),
            Purpose::Reach(_) | Purpose::Notify => return self.work.fail_now(p),
        };
        let Some(v) = self.config.vservers.get(vs as usize) else {
            return self.work.fail_now(p);
        };
        let cmd = match p {
            Purpose::Service(_) => match &v.service {
                Check::Exec(c) => Some(c),
                _ => None,
            },
            Purpose::SelfCheck(_) => match &v.self_check {
                Check::Exec(c) => Some(c),
                _ => None,
            },
            Purpose::Step(_, step) => v.hook(match step {
                Step::PreTakeover => HookKind::PreTakeover,
                Step::PostTakeover => HookKind::PostTakeover,
                Step::PreRelease => HookKind::PreRelease,
                _ => HookKind::PostRelease,
            }),
            _ => None,
        };
        let Some(cmd) = cmd else {
            return self.work.fail_now(p);
        };
        let timeout = timeout.unwrap_or_else(|| check_timeout(v.check, true));
        let addr = addr_text(v);
        let label = self.aliases[vs as usize]
            .as_ref()
            .map_or(v.interface.as_str(), |a| a.label.as_str());
        let ctx = Context {
            vserver: &v.name,
            address: &addr,
            interface: label,
            event,
        };
        // Checks get exactly the argv written (a check is often an
        // existing tool such as curl, which extra words would break);
        // hooks get the context appended too (docs/DECISIONS.md).
        let spawned = if matches!(p, Purpose::Step(..)) {
            child::spawn_hook(cmd, ctx)
        } else {
            child::spawn_check(cmd, ctx)
        };
        match spawned {
            Ok(c) => {
                if matches!(p, Purpose::Step(..)) {
                    info!("hook-start vserver={} event={event} pid={}", v.name, c.pid);
                }
                self.work
                    .adopt_child(self.poll.registry(), now, p, c, timeout, &v.name, event)
            }
            Err(e) => {
                error!(
                    "hook-failed vserver={} event={event} command={} error={e}",
                    v.name, cmd.line
                );
                self.work.fail_now(p);
            }
        }
    }

    /// A finished check or child: feed it to the node.
    fn done(&mut self, now: Instant, d: Done) {
        match d.purpose {
            Purpose::Service(vs) => self.node.handle_service(now, vs, d.ok),
            Purpose::SelfCheck(vs) => self.node.handle_self_check(now, vs, d.ok),
            Purpose::Step(vs, step) => {
                if !d.ok {
                    warn!("step-failed vserver={} step={step:?}", self.vs_name(vs));
                }
                self.node.handle_step(now, vs, step, d.ok)
            }
            Purpose::Reach(vs) => {
                let arp = matches!(
                    self.config
                        .vservers
                        .get(vs as usize)
                        .map(|v| &v.reachability),
                    Some(Reachability::Arp)
                );
                let mut macs = d.macs;
                if arp {
                    // This box's own kernel never answers its own probe: if
                    // the address is on our interface, we answer for it.
                    if self.aliases.get(vs as usize).is_some_and(Option::is_some) {
                        let mine = self
                            .vs_if
                            .get(vs as usize)
                            .and_then(|i| self.work.arps.get(i.arp))
                            .map(|a| a.sock.mac());
                        if let Some(m) = mine {
                            if !macs.contains(&m) {
                                let _ = macs.push(m);
                            }
                        }
                    }
                } else if d.ok {
                    // `reachability tcp`: something answered; who is unknown.
                    macs.clear();
                    let _ = macs.push([0; 6]);
                }
                self.node.handle_reach(now, vs, &macs);
            }
            Purpose::Notify => {}
        }
    }

    fn send(&mut self, to: Dest, body: &Body) {
        // A unicast datagram names its one receiver (authenticated), so it
        // cannot be replayed to another box.
        let dest = match to {
            Dest::All => None,
            Dest::Node(n) => Some(n),
        };
        let len = match self.codec.seal_to(dest, body, &mut self.tx[..]) {
            Ok(len) => len,
            Err(e) => {
                self.counters.send_errors += 1;
                debug!("seal-failed kind={} error={e:?}", body.kind());
                return;
            }
        };
        let port = self.config.port;
        let my_addr = self.config.nodes.get(self.me as usize).map(|n| n.address);
        match to {
            Dest::All => {
                self.send_to(SocketAddrV4::new(self.config.multicast, port), len);
                for i in 0..self.config.peers.len() {
                    let peer = self.config.peers[i];
                    if Some(peer) != my_addr {
                        self.send_to(SocketAddrV4::new(peer, port), len);
                    }
                }
            }
            Dest::Node(n) => match self.config.nodes.get(n as usize) {
                Some(node) => {
                    let addr = SocketAddrV4::new(node.address, port);
                    self.send_to(addr, len)
                }
                None => self.counters.send_errors += 1,
            },
        }
    }

    fn send_to(&mut self, addr: SocketAddrV4, len: usize) {
        let Some(datagram) = self.tx.get(..len) else {
            self.counters.send_errors += 1;
            return;
        };
        loop {
            match self.unicast.send_to(datagram, SocketAddr::V4(addr)) {
                Ok(_) => {
                    self.counters.sent += 1;
                    return;
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                // A full send buffer drops the datagram: the protocol
                // tolerates loss and the next hello repeats the state.
                Err(e) => {
                    self.counters.send_errors += 1;
                    debug!("send-error to={addr} error={e}");
                    return;
                }
            }
        }
    }

    fn signals(&mut self, now: Instant) {
        loop {
            match self.signals.read() {
                Ok(None) => return,
                Ok(Some(sig @ (Signal::Term | Signal::Int))) => {
                    if self.stop.is_none() {
                        info!(
                            "stopping signal={} holding={} handing-over",
                            sig.name(),
                            self.aliases.iter().flatten().count()
                        );
                        self.stop = Some((sig, now + STOP_GRACE));
                        self.stop_tally.begin();
                        self.node.shutdown(now);
                    }
                }
                Ok(Some(Signal::Hup)) => self.reload(),
                Ok(Some(Signal::Chld)) => {
                    let reg = self.poll.registry();
                    let work = &mut self.work;
                    process::reap(|pid, how| {
                        if !work.exited(reg, pid, how) {
                            debug!("child-exit pid={pid} how={how:?} (not ours)");
                        }
                    });
                }
                Err(e) => {
                    error!("signalfd-error error={e}");
                    return;
                }
            }
        }
    }

    /// SIGHUP: parse and validate the whole file; report, change nothing yet.
    fn reload(&mut self) {
        info!("reload file={}", self.config_path);
        match config::load(&self.config_path) {
            Ok(new) => {
                let same = new.digest() == self.config.digest();
                info!(
                    "reload-accepted file={} nodes={} vservers={} cluster-view={} applied=no (applying a reloaded configuration comes in a later version; the running configuration is unchanged)",
                    self.config_path,
                    new.nodes.len(),
                    new.vservers.len(),
                    if same { "unchanged" } else { "changed" },
                );
            }
            Err(errs) => {
                let all = format!("{errs}");
                let mut n = 0;
                for line in all.lines() {
                    error!("reload-error {line}");
                    n += 1;
                }
                error!(
                    "reload-rejected file={} errors={n} running configuration unchanged",
                    self.config_path
                );
            }
        }
    }

    /// The stop after SIGTERM or SIGINT: everything released through the
    /// node (hooks included), or the grace period is over. What is still on
    /// an interface then is removed directly; running hooks are killed.
    fn shutdown(&mut self, now: Instant, sig: Signal) {
        let clean = self.node.stopped();
        for vs in 0..self.config.vservers.len().min(MAX_VSERVERS) {
            if self.aliases[vs].is_some() {
                warn!(
                    "stop-forced-release vserver={} after_ms={}",
                    self.vs_name(vs as VsId),
                    STOP_GRACE.as_millis()
                );
                let ok = self.remove_alias(vs as VsId);
                self.stop_tally.removed(vs as VsId, ok, true);
            }
        }
        // Tell the others this box leaves on purpose. Only the messages go
        // out: a step or check the node would still ask for is moot now.
        self.node.leave(now);
        while let Some(o) = self.node.poll_output() {
            if let Output::Send { to, body } = o {
                self.send(to, &body);
            }
        }
        while let Some((to, body)) = self.codec.poll_transmit() {
            self.send(Dest::Node(to), &body);
        }
        self.work.kill_all();
        let (released, forced) = self.stop_tally.counts();
        info!(
            "stop signal={} released={released} forced={forced} clean={clean} uptime_ms={} incarnation={:016x}",
            sig.name(),
            now.saturating_since(self.started).as_millis(),
            self.incarnation
        );
    }

    fn accept(&mut self, now: Instant) {
        loop {
            let (stream, _) = match self.listener.accept() {
                Ok(s) => s,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => {
                    warn!("control-accept-error error={e}");
                    return;
                }
            };
            let Some(i) = self.conns.iter().position(|c| c.stream.is_none()) else {
                // Every slot busy: refuse this one rather than stall (policy:
                // refuse). Best effort; the client may retry.
                let mut s = stream;
                let _ = s.write(b"error 69 busy: too many control connections\n");
                continue;
            };
            let mut stream = stream;
            // Unknown: treated as nobody in particular (status only).
            let uid = control::peer_uid(&stream).unwrap_or(u32::MAX);
            let token = Token(CONN_BASE + i);
            if let Err(e) = self
                .poll
                .registry()
                .register(&mut stream, token, Interest::READABLE)
            {
                warn!("control-register-error error={e}");
                continue;
            }
            let c = &mut self.conns[i];
            c.stream = Some(stream);
            c.deadline = now + CONTROL_TIMEOUT;
            c.phase = Phase::Reading;
            c.uid = uid;
            c.len = 0;
            c.answer.clear();
            c.written = 0;
            // Data may already be there: readiness is edge-triggered.
            self.serve(now, i);
        }
    }

    fn serve(&mut self, now: Instant, i: usize) {
        if self.conns[i].phase == Phase::Reading {
            match self.read_request(i) {
                Ok(false) => return,
                Ok(true) => {}
                Err(_) => return self.close(i),
            }
            let len = self.conns[i].len;
            let mut line = [0u8; REQUEST_BYTES];
            line[..len].copy_from_slice(&self.conns[i].request[..len]);
            let uid = self.conns[i].uid;
            let mut answer = core::mem::take(&mut self.conns[i].answer);
            answer.clear();
            if self
                .answer(now, &line[..len], uid, &mut Fixed(&mut answer))
                .is_err()
            {
                answer.clear();
                let _ = Fixed(&mut answer).write_str("error 71 answer too large\n");
            }
            let c = &mut self.conns[i];
            c.answer = answer;
            c.phase = Phase::Writing;
            if let Some(s) = c.stream.as_mut() {
                let _ =
                    self.poll
                        .registry()
                        .reregister(s, Token(CONN_BASE + i), Interest::WRITABLE);
            }
        }
        let c = &mut self.conns[i];
        let Some(s) = c.stream.as_mut() else { return };
        while c.written < c.answer.len() {
            match s.write(&c.answer[c.written..]) {
                Ok(0) => break,
                Ok(n) => c.written += n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return,
                Err(_) => break,
            }
        }
        self.close(i);
    }

    /// Read what the client sent. `Ok(true)`: a whole request is there.
    fn read_request(&mut self, i: usize) -> io::Result<bool> {
        let c = &mut self.conns[i];
        let Some(s) = c.stream.as_mut() else {
            return Err(io::ErrorKind::NotConnected.into());
        };
        loop {
            if c.request[..c.len].contains(&b'\n') {
                c.len = c.request[..c.len]
                    .iter()
                    .position(|&b| b == b'\n')
                    .unwrap_or(c.len);
                return Ok(true);
            }
            if c.len == REQUEST_BYTES {
                // Too long for any request: the parser names what it is.
                return Ok(true);
            }
            match s.read(&mut c.request[c.len..]) {
                // End of stream: what came is the request.
                Ok(0) => return Ok(true),
                Ok(n) => c.len += n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(false),
                Err(e) => return Err(e),
            }
        }
    }

    fn close(&mut self, i: usize) {
        if let Some(mut s) = self.conns[i].stream.take() {
            let _ = self.poll.registry().deregister(&mut s);
        }
    }

    /// Answer one request line from a client with user id `uid`. Errors
    /// start with `error CODE`, CODE being the sysexits code the client
    /// exits with.
    fn answer(
        &mut self,
        now: Instant,
        line: &[u8],
        uid: u32,
        w: &mut impl fmt::Write,
    ) -> fmt::Result {
        let request = request::parse(line);
        let changes = request.map_or(true, |r| r.changes());
        if changes && !control::may_change(uid) {
            let word = request.map_or("other", |r| r.word());
            warn!("control-refused request={word} uid={uid}");
            return w.write_str(
                "error 77 only root (or the daemon's own user) may change anything; others may only ask for status\n",
            );
        }
        let request = match request {
            Ok(r) => r,
            Err(e) => {
                return writeln!(
                    w,
                    "error 64 {e}: status, status-json, hold, resume, release NAME"
                )
            }
        };
        match request {
            Request::Status => self.status(now, w),
            Request::StatusJson => self.status_json(now, w),
            Request::Hold => {
                info!("control command=hold");
                self.node.handle_control(now, Control::Hold);
                w.write_str("ok hold: this box is off the list; it serves what it holds until the boss has moved each vserver to another box\n")
            }
            Request::Resume => {
                info!("control command=resume");
                self.node.handle_control(now, Control::Resume);
                w.write_str("ok resume: this box is back on the list\n")
            }
            Request::Release(name) => match self.config.vserver_id(name) {
                None => writeln!(
                    w,
                    "error 65 no vserver named {name:?} in {}",
                    self.config_path
                ),
                Some(vs) => {
                    let answer = self.node.request_move(now, vs);
                    info!(
                        "control command=release vserver={name} answer={}",
                        answer_word(answer)
                    );
                    self.release_answer(name, answer, w)
                }
            },
        }
    }

    /// The control answer to `release NAME`.
    fn release_answer(&self, name: &str, a: MoveAnswer, w: &mut impl fmt::Write) -> fmt::Result {
        let me = self.name(self.me);
        match a {
            MoveAnswer::Forwarded { boss } => {
                writeln!(w, "ok asked boss {} to move {name}", self.name(boss))
            }
            MoveAnswer::Boss(MoveStart::Started { from }) => writeln!(
                w,
                "ok boss {me} moves {name} off {}: a successor is being chosen while it serves",
                self.name(from)
            ),
            MoveAnswer::Boss(MoveStart::ToOriginal { from }) => writeln!(
                w,
                "ok {} releases {name}: its original host answers again",
                self.name(from)
            ),
            MoveAnswer::Boss(MoveStart::NoSuccessor { from }) => writeln!(
                w,
                "error 69 no other box can take {name}: it stays on {}",
                self.name(from)
            ),
            MoveAnswer::Boss(MoveStart::NotHeld) => {
                writeln!(w, "error 69 {name} is not held by any box: nothing to move")
            }
            MoveAnswer::Boss(MoveStart::Busy) => writeln!(
                w,
                "error 69 {name} is being checked or moved right now: try again in a moment"
            ),
            MoveAnswer::Boss(MoveStart::Blocked) => writeln!(
                w,
                "error 69 a box is not heard and its lease is not proven lapsed: nothing is moved until it is"
            ),
            MoveAnswer::Boss(MoveStart::Unknown) | MoveAnswer::Unknown => {
                writeln!(w, "error 65 no vserver named {name:?} in {}", self.config_path)
            }
            MoveAnswer::NoBoss => writeln!(
                w,
                "error 69 no boss to ask: {me} follows no acting boss (joining, cut off, or no quorum)"
            ),
        }
    }

    fn name(&self, n: NodeId) -> &str {
        self.config
            .nodes
            .get(n as usize)
            .map(|x| x.name.as_str())
            .unwrap_or("?")
    }

    /// What this box knows of vserver `vs` (docs/STATUS.md): the acting
    /// boss's table, a deputy's recent copy of it with its age, or nothing;
    /// and the claims heard, with their age.
    fn vs_known(&self, now: Instant, vs: usize) -> (status::Known, status::Claimers) {
        let core = self.node.core();
        let acting = core.is_acting(now);
        let known = status::Known::of(self.node.known_table(now), acting, vs);
        let claims = |n: NodeId| {
            if n == self.me {
                return Some((self.node.holder().claims(), None));
            }
            let at = core.peer_claims_at(n)?;
            let ago = now.saturating_since(at).as_millis() as u64;
            Some((core.peer_claims(n), Some(ago)))
        };
        let claimers = status::claimers(self.config.nodes.len(), vs as VsId, claims);
        (known, claimers)
    }

    /// How this box sees box `n`: `left` when it said it left on purpose.
    fn member_word(&self, n: NodeId) -> &'static str {
        let core = self.node.core();
        if core.left(n) {
            "left"
        } else {
            member_name(core.member(n))
        }
    }

    fn quorum(&self) -> status::Quorum {
        let core = self.node.core();
        status::Quorum {
            heard: core.live_boxes(),
            nodes: self.config.nodes.len(),
            needed: core.quorum(),
        }
    }

    fn status(&self, now: Instant, w: &mut impl fmt::Write) -> fmt::Result {
        let core = self.node.core();
        writeln!(w, "node        {}", self.name(self.me))?;
        writeln!(w, "cluster     {}", self.config.cluster)?;
        writeln!(w, "role        {}", role_name(core.role()))?;
        match core.boss() {
            Some(b) => writeln!(w, "boss        {}", self.name(b))?,
            None => writeln!(w, "boss        none")?,
        }
        writeln!(w, "generation  {}", core.generation())?;
        self.quorum().text(w)?;
        let up = now.saturating_since(self.started);
        writeln!(w, "uptime      {}.{:03}s", up.as_secs(), up.subsec_millis())?;
        writeln!(w, "incarnation {:016x}", self.incarnation)?;
        writeln!(w, "health      {}", self.health.why())?;
        if self.stop.is_some() {
            writeln!(w, "stopping    releasing every vserver")?;
        }
        writeln!(w, "members")?;
        for (i, n) in self.config.nodes.iter().enumerate() {
            write!(
                w,
                "  {:<16} {:<15} priority {:>3}  {:<8}",
                n.name,
                n.address,
                n.priority,
                self.member_word(i as NodeId)
            )?;
            if i == self.me as usize {
                w.write_str("  this box")?;
            } else {
                let h = self.heard.get(i).copied().unwrap_or_default();
                write!(w, "  received {}", h.received)?;
                match h.last {
                    Some(t) => write!(w, "  heard {}ms ago", now.saturating_since(t).as_millis())?,
                    None => w.write_str("  never heard")?,
                }
            }
            if core.boss() == Some(i as NodeId) {
                w.write_str("  boss")?;
            }
            w.write_char('\n')?;
        }
        writeln!(w, "vservers")?;
        for (i, v) in self.config.vservers.iter().enumerate() {
            write!(
                w,
                "  {:<16} {}/{} on {}",
                v.name, v.address, v.prefix, v.interface
            )?;
            let (known, claimers) = self.vs_known(now, i);
            status::vs_text(w, known, &claimers, |n| self.name(n))?;
            if let Some(a) = &self.aliases[i] {
                write!(
                    w,
                    "  here as {} for {}ms",
                    a.label,
                    now.saturating_since(a.since).as_millis()
                )?;
            }
            w.write_char('\n')?;
        }
        w.write_str("claims     ")?;
        let claims = self.node.holder().claims();
        let mut any = false;
        for (i, v) in self.config.vservers.iter().enumerate() {
            if claims & (1u64 << i) != 0 {
                write!(w, " {}", v.name)?;
                any = true;
            }
        }
        w.write_str(if any { "\n" } else { " none\n" })?;
        let c = &self.counters;
        writeln!(
            w,
            "packets     received {} accepted {} sent {} send-errors {} ignored {}",
            c.received,
            c.accepted,
            c.sent,
            c.send_errors,
            self.node.ignored_messages()
        )?;
        let (checks, children) = self.work.in_flight();
        writeln!(
            w,
            "in-flight   checks {checks} children {children} waiting {}",
            self.waiting.len()
        )?;
        write!(w, "drops       total {}", self.codec.drops().total())?;
        write_drops(w, self.codec.drops(), false)?;
        w.write_char('\n')
    }

    fn status_json(&self, now: Instant, w: &mut impl fmt::Write) -> fmt::Result {
        let core = self.node.core();
        w.write_str("{\"node\":")?;
        json_str(w, self.name(self.me))?;
        w.write_str(",\"cluster\":")?;
        json_str(w, &self.config.cluster)?;
        write!(w, ",\"role\":\"{}\",\"boss\":", role_name(core.role()))?;
        match core.boss() {
            Some(b) => json_str(w, self.name(b))?,
            None => w.write_str("null")?,
        }
        write!(
            w,
            ",\"generation\":{},\"uptime_ms\":{},\"incarnation\":\"{:016x}\",\"stopping\":{},\"health\":{},\"health_reason\":\"{}\"",
            core.generation(),
            now.saturating_since(self.started).as_millis(),
            self.incarnation,
            self.stop.is_some(),
            self.health.value,
            self.health.reason.word()
        )?;
        self.quorum().json(w)?;
        w.write_str(",\"members\":[")?;
        for (i, n) in self.config.nodes.iter().enumerate() {
            if i > 0 {
                w.write_char(',')?;
            }
            w.write_str("{\"name\":")?;
            json_str(w, &n.name)?;
            let h = self.heard.get(i).copied().unwrap_or_default();
            write!(
                w,
                ",\"address\":\"{}\",\"priority\":{},\"state\":\"{}\",\"self\":{},\"boss\":{},\"received\":{},\"heard_ms_ago\":",
                n.address,
                n.priority,
                self.member_word(i as NodeId),
                i == self.me as usize,
                core.boss() == Some(i as NodeId),
                h.received
            )?;
            match h.last {
                Some(t) => write!(w, "{}}}", now.saturating_since(t).as_millis())?,
                None => w.write_str("null}")?,
            }
        }
        w.write_str("],\"vservers\":[")?;
        let claims = self.node.holder().claims();
        for (i, v) in self.config.vservers.iter().enumerate() {
            if i > 0 {
                w.write_char(',')?;
            }
            w.write_str("{\"name\":")?;
            json_str(w, &v.name)?;
            write!(
                w,
                ",\"address\":\"{}/{}\",\"interface\":",
                v.address, v.prefix
            )?;
            json_str(w, &v.interface)?;
            let (known, claimers) = self.vs_known(now, i);
            status::vs_json(w, known, &claimers, |n| self.name(n))?;
            write!(
                w,
                ",\"claimed_here\":{},\"label\":",
                claims & (1u64 << i) != 0
            )?;
            match &self.aliases[i] {
                Some(a) => json_str(w, &a.label)?,
                None => w.write_str("null")?,
            }
            w.write_char('}')?;
        }
        let c = &self.counters;
        let (checks, children) = self.work.in_flight();
        write!(
            w,
            "],\"packets\":{{\"received\":{},\"accepted\":{},\"sent\":{},\"send_errors\":{},\"ignored\":{}}},\"in_flight\":{{\"checks\":{checks},\"children\":{children},\"waiting\":{}}},\"drops\":{{\"total\":{},\"by_reason\":{{",
            c.received, c.accepted, c.sent, c.send_errors, self.node.ignored_messages(), self.waiting.len(), self.codec.drops().total()
        )?;
        write_drops(w, self.codec.drops(), true)?;
        w.write_str("}}}\n")
    }
}

/// Start-up (docs/MODEL.md, fencing layer 2 covers the rest): a vserver
/// address found on its interface belongs to an earlier run of this daemon
/// that crashed; nobody renews it, so remove it now instead of in 1-2 s.
fn startup_cleanup(config: &Config) {
    let found = match ifaddr::list_addresses() {
        Ok(f) => f,
        Err(e) => {
            warn!("startup-cleanup-skipped error={e}");
            return;
        }
    };
    for v in &config.vservers {
        for a in found.iter().filter(|a| a.addr == v.address) {
            let base = a.label.split(':').next().unwrap_or("");
            if base != v.interface.as_str() {
                continue;
            }
            info!(
                "startup-cleanup vserver={} address={} label={}",
                v.name,
                addr_text(v),
                a.label
            );
            let r =
                ifaddr::ifindex(base).and_then(|i| ifaddr::remove_address(i, v.address, v.prefix));
            if let Err(e) = r {
                error!("startup-cleanup-failed address={} error={e}", v.address);
            }
        }
    }
}

/// One word for what became of `bongoyo release` here, for the log.
fn answer_word(a: MoveAnswer) -> &'static str {
    match a {
        MoveAnswer::Boss(r) => move_word(r),
        MoveAnswer::Forwarded { .. } => "forwarded",
        MoveAnswer::NoBoss => "no-boss",
        MoveAnswer::Unknown => "unknown-vserver",
    }
}

/// One word for a move request's result, for the log.
fn move_word(r: MoveStart) -> &'static str {
    match r {
        MoveStart::Started { .. } => "started",
        MoveStart::ToOriginal { .. } => "released-to-original",
        MoveStart::NotHeld => "not-held",
        MoveStart::Busy => "busy",
        MoveStart::NoSuccessor { .. } => "no-successor",
        MoveStart::Blocked => "blocked",
        MoveStart::Unknown => "unknown-vserver",
    }
}

/// Write the non-zero drop counters as ` reason=count` pairs (or JSON
/// members) for the log and status.
fn write_drops(w: &mut impl fmt::Write, drops: &crate::proto::Drops, json: bool) -> fmt::Result {
    let mut first = true;
    for (name, n) in drops.iter().filter(|(_, n)| *n > 0) {
        if json {
            w.write_str(if first { "" } else { "," })?;
            json_str(w, name)?;
            write!(w, ":{n}")?;
        } else {
            write!(w, " {name}={n}")?;
        }
        first = false;
    }
    Ok(())
}

/// A role as `status` prints it.
pub fn role_name(r: Role) -> &'static str {
    match r {
        Role::Joining => "joining",
        Role::Member => "member",
        Role::Deputy => "deputy",
        Role::SemiBoss => "semi-boss",
        Role::Boss => "boss",
        Role::Hold => "hold",
    }
}

/// Write `s` as a JSON string literal.
pub fn json_str(w: &mut impl fmt::Write, s: &str) -> fmt::Result {
    w.write_char('"')?;
    for ch in s.chars() {
        match ch {
            '"' => w.write_str("\\\"")?,
            '\\' => w.write_str("\\\\")?,
            '\n' => w.write_str("\\n")?,
            c if (c as u32) < 0x20 => write!(w, "\\u{:04x}", c as u32)?,
            c => w.write_char(c)?,
        }
    }
    w.write_char('"')
}

/// A member's state as `bongoyo status` shows it.
pub fn member_name(s: crate::cluster::MemberState) -> &'static str {
    use crate::cluster::MemberState::*;
    match s {
        Unknown => "unknown",
        Joining => "joining",
        Alive => "alive",
        Suspect => "suspect",
        Lost => "lost",
        Hold => "hold",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::proto::DecodeError;

    #[test]
    fn json_strings_are_escaped() {
        let mut s = String::new();
        json_str(&mut s, "a\"b\\c\nd\u{1}").unwrap();
        assert_eq!(s, r#""a\"b\\c\nd\u0001""#);
    }

    #[test]
    fn fixed_writer_refuses_to_grow() {
        let mut v = Vec::with_capacity(4);
        let cap = v.capacity();
        let mut f = Fixed(&mut v);
        assert!(f.write_str("ab").is_ok());
        assert!(f.write_str(&"x".repeat(cap)).is_err());
        assert_eq!(v.capacity(), cap);
        assert_eq!(v, b"ab");
    }

    #[test]
    fn only_nonzero_drops_are_written() {
        let mut d = crate::proto::Drops::default();
        d.count(DecodeError::Malformed);
        d.count(DecodeError::Malformed);
        let name = DecodeError::Malformed.name();
        let mut s = String::new();
        write_drops(&mut s, &d, false).unwrap();
        assert_eq!(s, format!(" {name}=2"));
        s.clear();
        write_drops(&mut s, &d, true).unwrap();
        assert_eq!(s, format!("\"{name}\":2"));
    }

    #[test]
    fn check_timeouts_have_floors() {
        let ms = Duration::from_millis;
        assert_eq!(check_timeout(ms(20), false), MIN_CHECK_TIMEOUT);
        assert_eq!(check_timeout(ms(500), false), ms(500));
        assert_eq!(check_timeout(ms(200), true), MIN_EXEC_TIMEOUT);
    }
}
