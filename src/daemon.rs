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
//! are fixed at start. Starting a hook or an exec check lays its argv and
//! environment out in fixed buffers for `posix_spawn` ([`crate::os::child`]),
//! and the syslog writer formats each line into a fixed buffer
//! ([`crate::os::log`]). What std and mio do inside their own calls is
//! theirs; `tests/alloc.rs` counts allocations of the cluster core only.
//!
//! This file holds the [`Daemon`] itself, its start and the loop. The rest
//! of the shell, one room each:
//!
//! - `setup`: what `run` checks and opens before the loop;
//! - `datagrams`: the cluster sockets, in through the codec, out sealed;
//! - `exec`: carrying out the node's outputs (steps, checks, hooks,
//!   alerts) and feeding their results back; `work` holds what is in flight;
//! - `control`: the control socket; `request` parses its requests and
//!   `status` writes the status text and JSON;
//! - `lifecycle`: what the signals ask for (stop, reload, reap);
//! - `health`: this box's load and memory, measured every second.

mod control;
mod datagrams;
mod exec;
mod health;
mod lifecycle;
pub mod request;
mod setup;
mod status;
mod work;

use core::fmt;
use core::time::Duration;
use std::io;
use std::path::{Path, PathBuf};

use heapless::String as HString;
use log::{debug, warn};
use mio::net::{UdpSocket, UnixListener};
use mio::{Events, Poll, Token};

use crate::cluster::Dest;
use crate::config::{self, Config, Key, NodeId, VsId};
use crate::limits::{MAX_DATAGRAM, MAX_NODES, MAX_VSERVERS};
use crate::node::Node;
use crate::os::control::SocketFile;
use crate::os::ifaddr::Rtnl;
use crate::os::notify::Notify;
use crate::os::signals::{self, Signal, Signals};
use crate::os::{clock, net, process, random};
use crate::proto::Codec;
use crate::time::Instant;

use control::Conn;
use datagrams::{Counters, Heard};
use exec::{Alias, VsIf};
pub use status::{json_str, member_name, role_name, Quoted};
use work::{Purpose, Work, ARP_BASE, CHECK_BASE, CHILD_BASE, MAX_CHECKS};

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
    // The service manager's socket, if the daemon runs under one.
    let notify = Notify::from_env().map_err(|e| Failure::os(format_args!("NOTIFY_SOCKET"), e))?;
    // A reload asked for while starting waits for the loop.
    signals::hold_reload().map_err(|e| Failure::os(format_args!("sigprocmask"), e))?;
    let path = opts.config.to_string_lossy().into_owned();
    let (config, revision) = load(&path)?;
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
        setup::capabilities()?;
    }
    // Nothing above waits or changes the box, so SIGTERM and SIGINT kept
    // their default action (stop at once). From here on the daemon
    // changes things: the loop reads them from the signalfd (a signal
    // arriving before the loop runs waits there) and stops cleanly.
    let signals = Signals::new().map_err(|e| Failure::os(format_args!("signalfd"), e))?;
    // Dropping the daemon removes its control socket file.
    let file = ConfigFile { path, revision };
    let mut daemon = Daemon::start(config, me, signals, &opts.socket, file)?;
    daemon.notify = notify;
    daemon.run_loop()
}

/// The configuration at `path` on the heap, and its revision. In a frame
/// of its own, so `run`'s, under the loop for the daemon's life, stays small.
#[inline(never)]
fn load(path: &str) -> Result<(Box<Config>, lifecycle::Revision), Failure> {
    let (config, places) = config::load_placed(path)
        .map_err(|errs| Failure::data(format!("{errs}").trim_end().to_owned()))?;
    Ok((Box::new(config), places.revision))
}

/// Give back the stack pages start-up or a reload touched in frames that
/// have returned ([`process::trim_stack`]): resident memory stays what the
/// loop needs.
fn trim_stack() {
    match process::trim_stack() {
        Ok(bytes) => debug!("stack-trimmed bytes={bytes}"),
        Err(e) => debug!("stack-trim-failed error={e}"),
    }
}

/// The configuration file a daemon starts from.
struct ConfigFile {
    path: String,
    revision: lifecycle::Revision,
}

/// The shell: every descriptor, the codec and the node, and what is in
/// flight between them.
///
/// The configuration and the node are large fixed-size tables (about 100 KB
/// and 190 KB): they live on the heap and are never moved, and the daemon
/// itself is boxed, so starting does not leave megabytes of stack touched
/// (resident for the process's life).
struct Daemon {
    poll: Poll,
    config: Box<Config>,
    /// The file `config` was read from: the one SIGHUP reads again.
    config_path: String,
    /// Its revision (its first comment line), for `status` and the log.
    revision: lifecycle::Revision,
    me: NodeId,
    incarnation: u64,
    started: Instant,
    codec: Codec,
    node: Box<Node>,
    multicast: UdpSocket,
    unicast: UdpSocket,
    /// The cluster interface (link-local IPv6 addresses are scoped to it).
    iface: net::Interface,
    /// Address requests (add a lifetime, renew it, remove).
    rtnl: Rtnl,
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
    /// The service manager's notify socket (systemd `Type=notify`), if
    /// the daemon runs under one.
    notify: Option<Notify>,
    /// When the loop next tells the manager's watchdog it is alive.
    next_watchdog: Option<Instant>,
}

impl Daemon {
    /// Open everything the daemon owns and set up the node (see
    /// [`setup`] for what fails how). Nothing here waits.
    #[inline(never)]
    fn start(
        config: Box<Config>,
        me: NodeId,
        signals: Signals,
        socket: &Path,
        file: ConfigFile,
    ) -> Result<Box<Daemon>, Failure> {
        let now = clock::now();
        let ifname = config.interface.as_str();
        let iface = net::interface(ifname)
            .map_err(|e| Failure::os(format_args!("interface {ifname}"), e))?;

        // First what only one daemon on a box can have: the control socket
        // and the cluster port on this box's address. A second `run` stops
        // here, before it changes anything (the running daemon's addresses
        // above all: the clean-up below would take them).
        let (listener, socket_file) = setup::control_socket(socket)?;
        let (unicast, multicast) = setup::cluster_sockets(&config, me, &iface)?;

        // Addresses a crashed run left behind go before this box says
        // anything: the boss must not count a claim nobody makes.
        let mut rtnl =
            Rtnl::open().map_err(|e| Failure::os(format_args!("rtnetlink socket"), e))?;
        setup::startup_cleanup(&config, &mut rtnl);

        let mut work = Work::new();
        let vs_if = setup::arp_sockets(&config, &mut work)?;

        let incarnation = random::u64().map_err(|e| Failure::os(format_args!("getrandom"), e))?;
        let seed = random::u64().map_err(|e| Failure::os(format_args!("getrandom"), e))?;

        let poll = Poll::new().map_err(|e| Failure::os(format_args!("epoll"), e))?;
        let mut multicast = UdpSocket::from_std(multicast);
        let mut unicast = UdpSocket::from_std(unicast);
        let mut listener = UnixListener::from_std(listener);
        setup::register(
            &poll,
            &mut multicast,
            &mut unicast,
            &signals,
            &mut listener,
            &work,
        )?;

        let codec = Codec::for_config(&config, me, incarnation, seed);
        let mut node = Node::boxed(&config, me, incarnation, now);
        node.set_mac(setup::answer_mac(&work, iface.mac));
        setup::log_start(&config, me, incarnation, &iface);
        Ok(Box::new(Daemon {
            poll,
            config,
            config_path: file.path,
            revision: file.revision,
            me,
            incarnation,
            started: now,
            codec,
            node,
            multicast,
            unicast,
            iface,
            rtnl,
            signals,
            listener,
            _socket_file: socket_file,
            conns: core::array::from_fn(|_| Conn::new(now)),
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
            notify: None,
            next_watchdog: None,
        }))
    }

    fn run_loop(&mut self) -> Result<(), Failure> {
        let mut events = Events::with_capacity(64);
        let mut now = self.started;
        trim_stack();
        // Health first: a tracked link that is down must keep this box off
        // the list from its first hello on.
        self.measure_health(now);
        // The node may want to speak at once (a first hello).
        self.flush(now);
        // Sockets open, control socket answering: started.
        self.tell_manager("READY=1");
        self.next_watchdog = self.watchdog_after(now);
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
        if let Some(t) = self.next_watchdog {
            earliest(t);
        }
        d
    }

    fn timers(&mut self, now: Instant) {
        if self.node.poll_timeout().is_some_and(|t| t <= now) {
            self.node.handle_timeout(now);
        }
        self.work.timers(self.poll.registry(), now);
        self.measure_health(now);
        if self.next_watchdog.is_some_and(|t| t <= now) {
            self.tell_manager("WATCHDOG=1");
            self.next_watchdog = self.watchdog_after(now);
        }
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
                let _ = status::write_drops(&mut line, self.codec.drops(), false);
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

    fn name(&self, n: NodeId) -> &str {
        self.config
            .nodes
            .get(n as usize)
            .map(|x| x.name.as_str())
            .unwrap_or("?")
    }
}
