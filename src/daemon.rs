//! The mio shell (DESIGN section 8): one thread, one `mio::Poll`.
//!
//! It owns every descriptor (the multicast and unicast UDP sockets, the
//! control socket and its connections, the signalfd) and the two sans-IO
//! state machines (the [`Codec`] and the cluster [`Core`]). Each turn:
//!
//! 1. wait in `poll` until a descriptor is ready or the earliest deadline
//!    (the core's `poll_timeout`, a control connection's deadline, the next
//!    drop summary) is due;
//! 2. read the clock **once** and hand that `now` to everything below;
//! 3. drain every ready descriptor until `WouldBlock` (readiness is only a
//!    hint; `EINTR` is retried);
//! 4. fire due timers;
//! 5. carry out what the codec and the core asked for: seal and send.
//!
//! Nothing in the loop blocks, and nothing allocates once the loop runs:
//! datagram buffers and control answers use buffers allocated at start. (Log
//! lines do allocate inside the syslog writer; they are events, rate-limited
//! where traffic could cause them.)

use core::fmt::{self, Write as _};
use core::net::{Ipv4Addr, SocketAddr, SocketAddrV4};
use core::time::Duration;
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};

use log::{debug, error, info, warn};
use mio::net::{UdpSocket, UnixListener, UnixStream};
use mio::unix::SourceFd;
use mio::{Events, Interest, Poll, Token};

use crate::cluster::{Action, Control, Core, Dest};
use crate::config::{self, Config, Key, NodeId};
use crate::limits::{MAX_DATAGRAM, MAX_NODES};
use crate::os::signals::{Signal, Signals};
use crate::os::{clock, control, net, process, random};
use crate::proto::{Body, Codec, DecodeError, Role};
use crate::time::Instant;

/// Accepted control connections served at once; more are refused.
pub const MAX_CONTROL: usize = 4;
/// A control client must send its line and read its answer within this.
pub const CONTROL_TIMEOUT: Duration = Duration::from_secs(1);
/// At most one line summarising dropped datagrams per this interval.
pub const DROP_SUMMARY_EVERY: Duration = Duration::from_secs(10);
/// Bytes of a control request line.
const REQUEST_BYTES: usize = 128;
/// Bytes of a control answer (a full status of 32 boxes and 64 vservers in
/// JSON fits with room to spare).
const ANSWER_BYTES: usize = 24 * 1024;
/// Distinct drop reasons counted; any further reason counts as "other".
const DROP_REASONS: usize = 16;

const MULTICAST: Token = Token(0);
const UNICAST: Token = Token(1);
const SIGNALS: Token = Token(2);
const LISTENER: Token = Token(3);
/// Control connection `i` has token `CONN_BASE + i`.
const CONN_BASE: usize = 16;

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
    // Blocked before anything else so no signal arrives unhandled.
    let signals = Signals::new().map_err(|e| Failure::os(format_args!("signalfd"), e))?;
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
    let mut d = Daemon::start(config, me, signals, &opts.socket, path)?;
    let r = d.run_loop();
    control::remove(&opts.socket);
    r
}

/// Counted drops: by the codec's reason, in a fixed table.
struct Drops {
    reasons: heapless::Vec<(DecodeError, u64), DROP_REASONS>,
    /// Reasons beyond the table's capacity.
    other: u64,
    total: u64,
    /// `total` at the last summary line.
    logged: u64,
    next_summary: Instant,
}

impl Drops {
    fn count(&mut self, e: DecodeError) {
        self.total += 1;
        if let Some(slot) = self.reasons.iter_mut().find(|(r, _)| *r == e) {
            slot.1 += 1;
        } else if self.reasons.push((e, 1)).is_err() {
            // Table full: policy is to count it, unnamed.
            self.other += 1;
        }
    }

    /// Write `reason=count` pairs (or JSON members) for the log and status.
    fn write(&self, w: &mut impl fmt::Write, json: bool) -> fmt::Result {
        let mut first = true;
        for (reason, n) in &self.reasons {
            let mut name: heapless::String<48> = heapless::String::new();
            // Truncation of an absurdly long reason name is harmless.
            let _ = write!(name, "{reason:?}");
            // A variant carrying data prints `Name(..)`: keep the name.
            let name = name.split(['(', ' ', '{']).next().unwrap_or("");
            if json {
                w.write_str(if first { "" } else { "," })?;
                json_str(w, name)?;
                write!(w, ":{n}")?;
            } else {
                write!(w, " {name}={n}")?;
            }
            first = false;
        }
        if self.other > 0 {
            if json {
                write!(
                    w,
                    "{}\"other\":{}",
                    if first { "" } else { "," },
                    self.other
                )?;
            } else {
                write!(w, " other={}", self.other)?;
            }
        }
        Ok(())
    }
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

struct Daemon {
    poll: Poll,
    config: Config,
    config_path: String,
    me: NodeId,
    incarnation: u64,
    started: Instant,
    codec: Codec,
    core: Core,
    multicast: UdpSocket,
    unicast: UdpSocket,
    signals: Signals,
    listener: UnixListener,
    conns: [Conn; MAX_CONTROL],
    rx: Box<[u8; MAX_DATAGRAM + 1]>,
    tx: Box<[u8; MAX_DATAGRAM]>,
    drops: Drops,
    heard: [Heard; MAX_NODES],
    counters: Counters,
    stop: Option<Signal>,
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
        let multicast =
            net::multicast_socket(config.multicast, config.port, iface.index).map_err(|e| {
                Failure::os(
                    format_args!(
                        "multicast socket {}:{} on {ifname}",
                        config.multicast, config.port
                    ),
                    e,
                )
            })?;
        let unicast = net::unicast_socket(my_addr, config.port, iface.index).map_err(|e| {
            Failure::os(format_args!("unicast socket {my_addr}:{}", config.port), e)
        })?;
        let listener = control::listen(socket)
            .map_err(|e| Failure::os(format_args!("control socket {}", socket.display()), e))?;
        let incarnation = random::u64().map_err(|e| Failure::os(format_args!("getrandom"), e))?;
        let seed = random::u64().map_err(|e| Failure::os(format_args!("getrandom"), e))?;

        let poll = Poll::new().map_err(|e| Failure::os(format_args!("epoll"), e))?;
        let mut multicast = UdpSocket::from_std(multicast);
        let mut unicast = UdpSocket::from_std(unicast);
        let mut listener = UnixListener::from_std(listener);
        let reg = poll.registry();
        let r = reg
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
        if let Err(e) = r {
            control::remove(socket);
            return Err(Failure::os(format_args!("epoll register"), e));
        }

        let codec = Codec::for_config(&config, me, incarnation, seed);
        let core = Core::new(&config, me, incarnation, now);
        let conns = core::array::from_fn(|_| Conn {
            stream: None,
            deadline: now,
            phase: Phase::Reading,
            request: [0; REQUEST_BYTES],
            len: 0,
            answer: Vec::with_capacity(ANSWER_BYTES),
            written: 0,
        });
        let mac = iface.mac;
        info!(
            "start node={} incarnation={incarnation:016x} interface={ifname} ifindex={} mac={:02x}:{:02x}:{:02x}:{:02x}:{:02x}:{:02x} group={} port={} nodes={} vservers={} auth={}",
            config.nodes.get(me as usize).map(|n| n.name.as_str()).unwrap_or("?"),
            iface.index,
            mac[0], mac[1], mac[2], mac[3], mac[4], mac[5],
            config.multicast,
            config.port,
            config.nodes.len(),
            config.vservers.len(),
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
            core,
            multicast,
            unicast,
            signals,
            listener,
            conns,
            rx: Box::new([0; MAX_DATAGRAM + 1]),
            tx: Box::new([0; MAX_DATAGRAM]),
            drops: Drops {
                reasons: heapless::Vec::new(),
                other: 0,
                total: 0,
                logged: 0,
                next_summary: now + DROP_SUMMARY_EVERY,
            },
            heard: [Heard::default(); MAX_NODES],
            counters: Counters::default(),
            stop: None,
        })
    }

    fn run_loop(&mut self) -> Result<(), Failure> {
        let mut events = Events::with_capacity(64);
        let mut now = self.started;
        // The core may want to speak at once (a first hello).
        self.flush();
        loop {
            let timeout = self.next_deadline().map(|d| d.saturating_since(now));
            match self.poll.poll(&mut events, timeout) {
                Ok(()) => {}
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(Failure::os(format_args!("epoll_wait"), e)),
            }
            now = clock::now();
            for ev in events.iter() {
                match ev.token() {
                    MULTICAST => self.receive(now, false),
                    UNICAST => self.receive(now, true),
                    SIGNALS => self.signals(),
                    LISTENER => self.accept(now),
                    Token(t) if (CONN_BASE..CONN_BASE + MAX_CONTROL).contains(&t) => {
                        self.serve(now, t - CONN_BASE)
                    }
                    Token(_) => {}
                }
            }
            self.timers(now);
            self.flush();
            if let Some(sig) = self.stop {
                self.shutdown(now, sig);
                return Ok(());
            }
        }
    }

    /// The earliest deadline: the core's, a control connection's, the drop
    /// summary's (only when there is something to summarise).
    fn next_deadline(&self) -> Option<Instant> {
        let mut d = self.core.poll_timeout();
        let mut earliest = |t: Instant| d = Some(d.map_or(t, |x| x.min(t)));
        for c in &self.conns {
            if c.stream.is_some() {
                earliest(c.deadline);
            }
        }
        if self.drops.total != self.drops.logged {
            earliest(self.drops.next_summary);
        }
        d
    }

    fn timers(&mut self, now: Instant) {
        if self.core.poll_timeout().is_some_and(|t| t <= now) {
            self.core.handle_timeout(now);
        }
        for i in 0..MAX_CONTROL {
            if self.conns[i].stream.is_some() && self.conns[i].deadline <= now {
                debug!("control-timeout slot={i}");
                self.close(i);
            }
        }
        if self.drops.next_summary <= now {
            if self.drops.total != self.drops.logged {
                let mut line: heapless::String<512> = heapless::String::new();
                // A truncated summary is still a useful summary.
                let _ = self.drops.write(&mut line, false);
                warn!(
                    "drops window={}s new={} total={}{line}",
                    DROP_SUMMARY_EVERY.as_secs(),
                    self.drops.total - self.drops.logged,
                    self.drops.total
                );
                self.drops.logged = self.drops.total;
            }
            self.drops.next_summary = now + DROP_SUMMARY_EVERY;
        }
    }

    /// Read every waiting datagram from one socket.
    fn receive(&mut self, now: Instant, unicast: bool) {
        loop {
            let sock = if unicast {
                &self.unicast
            } else {
                &self.multicast
            };
            let n = match sock.recv_from(&mut self.rx[..]) {
                Ok((n, _from)) => n,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => {
                    debug!(
                        "receive-error socket={} error={e}",
                        if unicast { "unicast" } else { "multicast" }
                    );
                    return;
                }
            };
            self.counters.received += 1;
            // The buffer is one byte larger than the largest datagram, so an
            // oversized one reaches the codec longer than it allows.
            let Some(datagram) = self.rx.get(..n) else {
                continue;
            };
            match self.codec.open(now, datagram) {
                Ok(Some(msg)) => {
                    self.counters.accepted += 1;
                    let from = msg.header.sender;
                    if let Some(h) = self.heard.get_mut(from as usize) {
                        h.last = Some(now);
                        h.received += 1;
                    }
                    self.core
                        .handle_message(now, from, msg.header.incarnation, &msg.body);
                }
                // A challenge or response, handled inside the codec.
                Ok(None) => self.counters.accepted += 1,
                Err(e) => self.drops.count(e),
            }
        }
    }

    /// Carry out what the codec and the core asked for.
    fn flush(&mut self) {
        while let Some((to, body)) = self.codec.poll_transmit() {
            self.send(Dest::Node(to), &body);
        }
        while let Some(action) = self.core.poll_action() {
            match action {
                Action::Send { to, body } => self.send(to, &body),
                Action::RoleChanged {
                    role,
                    boss,
                    generation,
                } => info!(
                    "role role={} boss={} generation={generation}",
                    role_name(role),
                    boss.and_then(|b| self.config.nodes.get(b as usize))
                        .map_or("none", |n| n.name.as_str())
                ),
                Action::Alert { node, kind } => error!(
                    target: crate::os::log::ALERT,
                    "alert node={} kind={kind:?}",
                    self.config.nodes.get(node as usize).map_or("?", |n| n.name.as_str())
                ),
            }
        }
        // Sealing can make the codec want to speak (a challenge to a new
        // incarnation is sent on hearing it, not on sending); drain again.
        while let Some((to, body)) = self.codec.poll_transmit() {
            self.send(Dest::Node(to), &body);
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

    fn signals(&mut self) {
        loop {
            match self.signals.read() {
                Ok(None) => return,
                Ok(Some(sig @ (Signal::Term | Signal::Int))) => self.stop = Some(sig),
                Ok(Some(Signal::Hup)) => self.reload(),
                Ok(Some(Signal::Chld)) => {
                    // Hooks and exec checks come with the takeover work; until
                    // then any child is reaped and logged.
                    process::reap(|pid, how| debug!("child-exit pid={pid} how={how:?}"));
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

    /// SIGTERM or SIGINT.
    fn shutdown(&mut self, now: Instant, sig: Signal) {
        // Hook point: releasing every vserver this box holds (pre_release,
        // unalias, post_release; DESIGN section 2) goes here with the
        // takeover work. Until then the box holds nothing to release.
        info!(
            "stop signal={} uptime_ms={} incarnation={:016x}",
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
            let text = core::str::from_utf8(&line[..len]).unwrap_or("").trim();
            let mut answer = core::mem::take(&mut self.conns[i].answer);
            answer.clear();
            if self.answer(now, text, &mut Fixed(&mut answer)).is_err() {
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
                // Too long for any request: answer with an error anyway.
                c.len = 0;
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

    /// Answer one request line. Errors start with `error CODE`, CODE being
    /// the sysexits code the client exits with.
    fn answer(&mut self, now: Instant, line: &str, w: &mut impl fmt::Write) -> fmt::Result {
        let mut words = line.split_ascii_whitespace();
        match (words.next(), words.next(), words.next()) {
            (Some("status"), None, _) => self.status(now, w),
            (Some("status-json"), None, _) => self.status_json(now, w),
            (Some("hold"), None, _) => {
                info!("control command=hold");
                self.core.handle_control(now, Control::Hold);
                w.write_str("ok hold: this box is going on hold\n")
            }
            (Some("resume"), None, _) => {
                info!("control command=resume");
                self.core.handle_control(now, Control::Resume);
                w.write_str("ok resume: this box is back on the list\n")
            }
            (Some("release"), Some(name), None) => match self.config.vserver_id(name) {
                None => writeln!(w, "error 65 no vserver named {name:?} in {}", self.config_path),
                // The cluster core has no release command yet; say so
                // instead of pretending.
                Some(_) => writeln!(w, "error 69 release of {name} is not available yet: the cluster core does not take release commands in this version"),
            },
            _ => writeln!(w, "error 64 unknown request {line:?}: status, status-json, hold, resume, release NAME"),
        }
    }

    fn name(&self, n: NodeId) -> &str {
        self.config
            .nodes
            .get(n as usize)
            .map(|x| x.name.as_str())
            .unwrap_or("?")
    }

    fn status(&self, now: Instant, w: &mut impl fmt::Write) -> fmt::Result {
        writeln!(w, "node        {}", self.name(self.me))?;
        writeln!(w, "cluster     {}", self.config.cluster)?;
        writeln!(w, "role        {}", role_name(self.core.role()))?;
        match self.core.boss() {
            Some(b) => writeln!(w, "boss        {}", self.name(b))?,
            None => writeln!(w, "boss        none")?,
        }
        writeln!(w, "generation  {}", self.core.generation())?;
        let up = now.saturating_since(self.started);
        writeln!(w, "uptime      {}.{:03}s", up.as_secs(), up.subsec_millis())?;
        writeln!(w, "incarnation {:016x}", self.incarnation)?;
        writeln!(w, "members")?;
        for (i, n) in self.config.nodes.iter().enumerate() {
            write!(
                w,
                "  {:<16} {:<15} priority {:>3}",
                n.name, n.address, n.priority
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
            if self.core.boss() == Some(i as NodeId) {
                w.write_str("  boss")?;
            }
            w.write_char('\n')?;
        }
        writeln!(w, "vservers")?;
        for v in &self.config.vservers {
            writeln!(
                w,
                "  {:<16} {}/{} on {}  state unknown",
                v.name, v.address, v.prefix, v.interface
            )?;
        }
        let c = &self.counters;
        writeln!(
            w,
            "packets     received {} accepted {} sent {} send-errors {}",
            c.received, c.accepted, c.sent, c.send_errors
        )?;
        write!(w, "drops       total {}", self.drops.total)?;
        self.drops.write(w, false)?;
        w.write_char('\n')
    }

    fn status_json(&self, now: Instant, w: &mut impl fmt::Write) -> fmt::Result {
        w.write_str("{\"node\":")?;
        json_str(w, self.name(self.me))?;
        w.write_str(",\"cluster\":")?;
        json_str(w, &self.config.cluster)?;
        write!(w, ",\"role\":\"{}\",\"boss\":", role_name(self.core.role()))?;
        match self.core.boss() {
            Some(b) => json_str(w, self.name(b))?,
            None => w.write_str("null")?,
        }
        write!(
            w,
            ",\"generation\":{},\"uptime_ms\":{},\"incarnation\":\"{:016x}\",\"members\":[",
            self.core.generation(),
            now.saturating_since(self.started).as_millis(),
            self.incarnation
        )?;
        for (i, n) in self.config.nodes.iter().enumerate() {
            if i > 0 {
                w.write_char(',')?;
            }
            w.write_str("{\"name\":")?;
            json_str(w, &n.name)?;
            let h = self.heard.get(i).copied().unwrap_or_default();
            write!(
                w,
                ",\"address\":\"{}\",\"priority\":{},\"self\":{},\"boss\":{},\"received\":{},\"heard_ms_ago\":",
                n.address,
                n.priority,
                i == self.me as usize,
                self.core.boss() == Some(i as NodeId),
                h.received
            )?;
            match h.last {
                Some(t) => write!(w, "{}}}", now.saturating_since(t).as_millis())?,
                None => w.write_str("null}")?,
            }
        }
        w.write_str("],\"vservers\":[")?;
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
            w.write_str(",\"state\":\"unknown\"}")?;
        }
        let c = &self.counters;
        write!(
            w,
            "],\"packets\":{{\"received\":{},\"accepted\":{},\"sent\":{},\"send_errors\":{}}},\"drops\":{{\"total\":{},\"by_reason\":{{",
            c.received, c.accepted, c.sent, c.send_errors, self.drops.total
        )?;
        self.drops.write(w, true)?;
        w.write_str("}}}\n")
    }
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

#[cfg(test)]
mod tests {
    use super::*;

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
    fn drops_are_counted_by_reason() {
        let mut d = Drops {
            reasons: heapless::Vec::new(),
            other: 0,
            total: 0,
            logged: 0,
            next_summary: Instant::ZERO,
        };
        d.count(DecodeError::Malformed);
        d.count(DecodeError::Malformed);
        let mut s = String::new();
        d.write(&mut s, false).unwrap();
        assert_eq!(s, " Malformed=2");
        s.clear();
        d.write(&mut s, true).unwrap();
        assert_eq!(s, "\"Malformed\":2");
        assert_eq!(d.total, 2);
    }
}
