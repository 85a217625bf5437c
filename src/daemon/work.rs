//! The shell's in-flight OS work: non-blocking TCP connects, ARP probe
//! windows and child processes (hooks, `exec` checks, the notify hook).
//!
//! Every item sits in a small fixed table with a deadline that the loop
//! folds into its poll timeout, and every item ends in exactly one [`Done`]
//! (a time-out is a failure), so the node never waits for an answer that
//! cannot come. The table never touches the node: the daemon drains
//! [`Work::poll_done`] and feeds the results in.
//!
//! Tokens: link sockets (ARP for IPv4 vservers, neighbour discovery for
//! IPv6 ones) from [`ARP_BASE`], checks from [`CHECK_BASE`], child output
//! pipes from [`CHILD_BASE`].

use core::fmt;
use core::net::{IpAddr, SocketAddr};
use core::time::Duration;
use std::io;
use std::os::fd::{AsRawFd, OwnedFd};

use heapless::{Deque, Vec};
use log::{info, warn};
use mio::net::TcpStream;
use mio::unix::SourceFd;
use mio::{Interest, Registry, Token};

use crate::config::{IfName, Name, VsId};
use crate::limits::{MAX_CHILDREN, MAX_NODES, MAX_VSERVERS};
use crate::os::arp::{ArpSocket, OP_REPLY};
use crate::os::child::{self, Child};
use crate::os::ndp::NdpSocket;
use crate::os::process::Exit;
use crate::takeover::Step;
use crate::time::Instant;

/// Checks in flight at once: the boss's service and reachability check and
/// this box's self-check for every vserver, so the table cannot fill while
/// the node keeps at most one of each kind in flight.
pub const MAX_CHECKS: usize = MAX_VSERVERS * 3;
/// MACs collected per ARP window; more than one already means "several
/// answer", so further ones are ignored.
pub const MAX_MACS: usize = 8;
/// Results held between two drains: one per in-flight item at most.
const DONE_QUEUE: usize = MAX_CHECKS + MAX_CHILDREN + 8;
/// A killed child that is still not reaped after this frees its slot anyway
/// (it is stuck in the kernel; its pid is forgotten).
pub const REAP_GRACE: Duration = Duration::from_secs(5);

/// First token of the ARP sockets.
pub const ARP_BASE: usize = 32;
/// First token of the checks.
pub const CHECK_BASE: usize = 128;
/// First token of the child output pipes.
pub const CHILD_BASE: usize = CHECK_BASE + MAX_CHECKS;

/// What an in-flight item answers.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum Purpose {
    /// The boss's service check of a vserver.
    Service(VsId),
    /// The boss's reachability check of a vserver.
    Reach(VsId),
    /// This box's self-check for a vserver.
    SelfCheck(VsId),
    /// A hook of a takeover or release step.
    Step(VsId, Step),
    /// The notify hook (nobody waits for it; its failure is logged).
    Notify,
}

/// `Service(0)`, `Step(0, PreTakeover)`, `Notify`: the text of the derived
/// `Debug` (`child-queue-full purpose=`, `check-table-full purpose=`),
/// written out so a build without `Debug` formatting (`make tiny`) logs it
/// too.
impl fmt::Display for Purpose {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Purpose::Service(vs) => write!(f, "Service({vs})"),
            Purpose::Reach(vs) => write!(f, "Reach({vs})"),
            Purpose::SelfCheck(vs) => write!(f, "SelfCheck({vs})"),
            Purpose::Step(vs, step) => write!(f, "Step({vs}, {step})"),
            Purpose::Notify => f.write_str("Notify"),
        }
    }
}

/// The result of one item.
#[derive(Clone, Debug, PartialEq)]
pub struct Done {
    /// What it answers.
    pub purpose: Purpose,
    /// Connected / exited 0 / probe window over.
    pub ok: bool,
    /// ARP: every MAC that answered for the address during the window.
    pub macs: Vec<[u8; 6], MAX_MACS>,
}

/// One link socket, on one interface: ARP for its IPv4 vservers, or
/// neighbour discovery for its IPv6 ones.
pub struct ArpIf {
    /// The interface.
    pub name: IfName,
    /// Its index.
    pub ifindex: u32,
    /// The socket.
    pub sock: LinkSock,
}

/// Who answers for an address on a link, and announcing that we do.
pub enum LinkSock {
    /// IPv4: ARP (RFC 5227 probes, gratuitous ARP).
    Arp(ArpSocket),
    /// IPv6: neighbour solicitations and advertisements (RFC 4861).
    Ndp(NdpSocket),
}

impl LinkSock {
    /// The interface's MAC.
    pub fn mac(&self) -> [u8; 6] {
        match self {
            LinkSock::Arp(s) => s.mac(),
            LinkSock::Ndp(s) => s.mac(),
        }
    }

    /// Ask who has `addr` (an address of this socket's family).
    pub fn probe(&self, addr: IpAddr) -> io::Result<()> {
        match (self, addr) {
            (LinkSock::Arp(s), IpAddr::V4(a)) => s.probe(a),
            (LinkSock::Ndp(s), IpAddr::V6(a)) => s.probe(a),
            _ => Err(io::Error::from(io::ErrorKind::InvalidInput)),
        }
    }

    /// Tell the link that `addr` is at our MAC (gratuitous ARP, or an
    /// unsolicited neighbour advertisement with the override flag).
    pub fn announce(&self, addr: IpAddr) -> io::Result<()> {
        match (self, addr) {
            (LinkSock::Arp(s), IpAddr::V4(a)) => s.announce(a),
            (LinkSock::Ndp(s), IpAddr::V6(a)) => s.announce(a),
            _ => Err(io::Error::from(io::ErrorKind::InvalidInput)),
        }
    }

    /// Whether this socket speaks for `addr`'s family.
    pub fn family_of(&self, addr: IpAddr) -> bool {
        matches!(
            (self, addr),
            (LinkSock::Arp(_), IpAddr::V4(_)) | (LinkSock::Ndp(_), IpAddr::V6(_))
        )
    }
}

impl AsRawFd for LinkSock {
    fn as_raw_fd(&self) -> std::os::fd::RawFd {
        match self {
            LinkSock::Arp(s) => s.as_raw_fd(),
            LinkSock::Ndp(s) => s.as_raw_fd(),
        }
    }
}

enum Probe {
    Tcp(TcpStream),
    Arp {
        sock: usize,
        addr: IpAddr,
        /// When the next probe goes, how many are left after it, and the
        /// time between two.
        next_probe: Option<Instant>,
        left: u32,
        every: Duration,
        macs: Vec<[u8; 6], MAX_MACS>,
    },
}

struct Check {
    purpose: Purpose,
    deadline: Instant,
    probe: Probe,
}

#[derive(Copy, Clone, PartialEq, Eq)]
enum ChildState {
    Running,
    /// Killed at its deadline (failure already reported); waiting for the reap.
    Killed,
}

struct ChildSlot {
    pid: i32,
    output: Option<OwnedFd>,
    pending: Vec<u8, 256>,
    deadline: Instant,
    purpose: Purpose,
    /// For the log: the vserver (or `-`) and the event.
    name: Name,
    event: &'static str,
    state: ChildState,
}

/// Every in-flight check and child.
pub struct Work {
    /// The ARP sockets, one per distinct vserver interface.
    pub arps: Vec<ArpIf, MAX_VSERVERS>,
    /// The boxes' MACs as their hellos announce them (refreshed by the
    /// shell before each probe): a reply or announcement for the address
    /// that is not an answer to our probe still counts when a box sends it
    /// (its kernel holds the address, whoever asked).
    pub box_macs: Vec<[u8; 6], MAX_NODES>,
    checks: [Option<Check>; MAX_CHECKS],
    children: [Option<ChildSlot>; MAX_CHILDREN],
    done: Deque<Done, DONE_QUEUE>,
    /// Results lost because the queue was full (cannot happen while the
    /// queue is as large as the tables; counted to prove it).
    pub lost: u32,
}

impl Default for Work {
    fn default() -> Self {
        Work::new()
    }
}

impl Work {
    /// Empty tables.
    pub fn new() -> Work {
        Work {
            arps: Vec::new(),
            box_macs: Vec::new(),
            checks: core::array::from_fn(|_| None),
            children: core::array::from_fn(|_| None),
            done: Deque::new(),
            lost: 0,
        }
    }

    /// The link socket on interface `name` for `addr`'s family.
    pub fn arp_index(&self, name: &str, addr: IpAddr) -> Option<usize> {
        self.arps
            .iter()
            .position(|a| a.name == name && a.sock.family_of(addr))
    }

    fn finish(&mut self, purpose: Purpose, ok: bool, macs: Vec<[u8; 6], MAX_MACS>) {
        if self.done.push_back(Done { purpose, ok, macs }).is_err() {
            self.lost = self.lost.saturating_add(1);
        }
    }

    /// Report a result that needed no waiting (spawn failed, table full).
    pub fn fail_now(&mut self, purpose: Purpose) {
        self.finish(purpose, false, Vec::new());
    }

    /// The next result.
    pub fn poll_done(&mut self) -> Option<Done> {
        self.done.pop_front()
    }

    /// The earliest deadline of anything in flight.
    pub fn poll_timeout(&self) -> Option<Instant> {
        let mut t: Option<Instant> = None;
        let mut at = |x: Instant| t = Some(t.map_or(x, |y| y.min(x)));
        for c in self.checks.iter().flatten() {
            at(c.deadline);
            if let Probe::Arp {
                next_probe: Some(p),
                ..
            } = c.probe
            {
                at(p);
            }
        }
        for c in self.children.iter().flatten() {
            at(c.deadline);
        }
        t
    }

    /// Items in flight: (checks, children).
    pub fn in_flight(&self) -> (usize, usize) {
        (
            self.checks.iter().flatten().count(),
            self.children.iter().flatten().count(),
        )
    }

    /// True if a child can start now.
    pub fn child_free(&self) -> bool {
        self.children.iter().any(Option::is_none)
    }

    /// Start a non-blocking TCP connect; `ok` if it connects within `timeout`.
    pub fn start_tcp(
        &mut self,
        reg: &Registry,
        now: Instant,
        purpose: Purpose,
        to: SocketAddr,
        timeout: Duration,
    ) {
        let Some(i) = self.checks.iter().position(Option::is_none) else {
            warn!("check-table-full purpose={purpose}");
            return self.fail_now(purpose);
        };
        let mut s = match TcpStream::connect(to) {
            Ok(s) => s,
            // Refused or unreachable at once: a clear "down".
            Err(_) => return self.fail_now(purpose),
        };
        if reg
            .register(&mut s, Token(CHECK_BASE + i), Interest::WRITABLE)
            .is_err()
        {
            return self.fail_now(purpose);
        }
        self.checks[i] = Some(Check {
            purpose,
            deadline: now + timeout,
            probe: Probe::Tcp(s),
        });
    }

    /// Start an ARP probe window on socket `sock` for `addr`: `probes` RFC
    /// 5227 probes evenly spaced from now, and every MAC that answers for
    /// `addr` until `now + window`.
    pub fn start_arp(
        &mut self,
        now: Instant,
        purpose: Purpose,
        sock: usize,
        addr: IpAddr,
        window: Duration,
        probes: u32,
    ) {
        let Some(i) = self.checks.iter().position(Option::is_none) else {
            warn!("check-table-full purpose={purpose}");
            return self.fail_now(purpose);
        };
        let Some(a) = self.arps.get(sock) else {
            return self.fail_now(purpose);
        };
        if let Err(e) = a.sock.probe(addr) {
            // The later probes may still go out; an unsent probe reads as
            // silence only if all fail.
            warn!("arp-probe-error interface={} error={e}", a.name);
        }
        self.checks[i] = Some(Check {
            purpose,
            deadline: now + window,
            probe: Probe::Arp {
                sock,
                addr,
                next_probe: (probes > 1).then(|| now + window / probes),
                left: probes.saturating_sub(2),
                every: window / probes.max(1),
                macs: Vec::new(),
            },
        });
    }

    /// Take a spawned child into the table (the caller checked
    /// [`Work::child_free`]); its output pipe is read by the loop.
    #[allow(clippy::too_many_arguments)]
    pub fn adopt_child(
        &mut self,
        reg: &Registry,
        now: Instant,
        purpose: Purpose,
        child: Child,
        timeout: Duration,
        name: &str,
        event: &'static str,
    ) {
        let Some(i) = self.children.iter().position(Option::is_none) else {
            // Cannot happen after child_free(); kill rather than lose track.
            let _ = child::kill(child.pid);
            return self.fail_now(purpose);
        };
        let fd = child.output.as_raw_fd();
        let output = match reg.register(
            &mut SourceFd(&fd),
            Token(CHILD_BASE + i),
            Interest::READABLE,
        ) {
            Ok(()) => Some(child.output),
            // Unreadable output is no reason to fail the hook: it runs, its
            // lines are lost.
            Err(_) => None,
        };
        let mut n = Name::new();
        let _ = n.push_str(name);
        self.children[i] = Some(ChildSlot {
            pid: child.pid,
            output,
            pending: Vec::new(),
            deadline: now + timeout,
            purpose,
            name: n,
            event,
            state: ChildState::Running,
        });
    }

    /// A readiness event on a check's or a child's token.
    pub fn ready(&mut self, reg: &Registry, token: Token) {
        let t = token.0;
        if (CHECK_BASE..CHECK_BASE + MAX_CHECKS).contains(&t) {
            self.tcp_ready(reg, t - CHECK_BASE);
        } else if (CHILD_BASE..CHILD_BASE + MAX_CHILDREN).contains(&t) {
            self.child_output(reg, t - CHILD_BASE);
        }
    }

    fn tcp_ready(&mut self, reg: &Registry, i: usize) {
        let Some(Check {
            probe: Probe::Tcp(s),
            purpose,
            ..
        }) = &self.checks[i]
        else {
            return;
        };
        // mio's recipe: an error or a peer address settles the connect;
        // NotConnected means the event was spurious.
        let ok = match s.take_error() {
            Ok(Some(_)) | Err(_) => false,
            Ok(None) => match s.peer_addr() {
                Ok(_) => true,
                Err(e) if e.kind() == io::ErrorKind::NotConnected => return,
                Err(_) => false,
            },
        };
        let purpose = *purpose;
        self.close_check(reg, i);
        self.finish(purpose, ok, Vec::new());
    }

    fn close_check(&mut self, reg: &Registry, i: usize) {
        if let Some(Check {
            probe: Probe::Tcp(mut s),
            ..
        }) = self.checks[i].take()
        {
            let _ = reg.deregister(&mut s);
        }
    }

    /// Read every packet waiting on link socket `sock` and credit the open
    /// probe windows for the addresses they answer for.
    pub fn arp_ready(&mut self, sock: usize) {
        let Some(a) = self.arps.get(sock) else { return };
        let mine = a.sock.mac();
        // Bounded: a flood cannot hold the loop here forever.
        for _ in 0..256 {
            // Who answered for which address: answers to our probe, from
            // anyone; anything else that shows a box's kernel holding the
            // address (a reply to another prober, an announcement). Other
            // hosts' unsolicited ARP or advertisements are anybody's to
            // forge.
            let got = match &a.sock {
                LinkSock::Arp(s) => s.recv().map(|p| {
                    p.map(|p| {
                        let ip = IpAddr::V4(p.sender_ip);
                        let asked = p.answers_probe(p.sender_ip, mine);
                        let said = p.op == OP_REPLY || p.target_ip == p.sender_ip;
                        (ip, p.sender_mac, asked, said)
                    })
                }),
                LinkSock::Ndp(s) => s.recv().map(|p| {
                    p.and_then(|p| {
                        let mac = p.mac?;
                        // A solicited advertisement came to us: it answers
                        // our solicitation (we send the only ones here).
                        Some((IpAddr::V6(p.target), mac, p.solicited, true))
                    })
                }),
            };
            let (ip, mac, asked, said) = match got {
                Ok(Some(x)) => x,
                Ok(None) => return,
                Err(e) => {
                    warn!("arp-receive-error interface={} error={e}", a.name);
                    return;
                }
            };
            let unsolicited = said && self.box_macs.contains(&mac);
            for c in self.checks.iter_mut().flatten() {
                if let Probe::Arp {
                    sock: s,
                    addr,
                    macs,
                    ..
                } = &mut c.probe
                {
                    let answer = *s == sock && ip == *addr && (asked || unsolicited);
                    if answer && !macs.contains(&mac) {
                        // Full: already "several answer"; the rest adds nothing.
                        let _ = macs.push(mac);
                    }
                }
            }
        }
    }

    fn child_output(&mut self, reg: &Registry, i: usize) {
        let Some(c) = self.children[i].as_mut() else {
            return;
        };
        let Some(fd) = c.output.as_ref() else { return };
        let (name, event) = (&c.name, c.event);
        let r = child::read_output(fd, &mut c.pending, |line| {
            info!("hook-output vserver={name} event={event} line={line}")
        });
        if !matches!(r, Ok(false)) {
            // End of file or a broken pipe: stop watching it.
            if let Some(fd) = c.output.take() {
                let _ = reg.deregister(&mut SourceFd(&fd.as_raw_fd()));
            }
        }
    }

    /// A child was reaped. Returns false if it is not one of ours.
    pub fn exited(&mut self, reg: &Registry, pid: i32, how: Exit) -> bool {
        let Some(i) = self
            .children
            .iter()
            .position(|c| c.as_ref().is_some_and(|c| c.pid == pid))
        else {
            return false;
        };
        // What it wrote last is still in the pipe.
        self.child_output(reg, i);
        let Some(mut c) = self.children[i].take() else {
            return true;
        };
        if let Some(fd) = c.output.take() {
            let _ = reg.deregister(&mut SourceFd(&fd.as_raw_fd()));
        }
        let ok = how == Exit::Code(0);
        if !ok || c.purpose == Purpose::Notify {
            info!(
                "child-exit vserver={} event={} pid={pid} how={how}",
                c.name, c.event
            );
        }
        if c.state == ChildState::Running {
            self.finish(c.purpose, ok, Vec::new());
        }
        true
    }

    /// Fire due deadlines: later ARP probes, ARP windows that end, connects
    /// and children that time out.
    pub fn timers(&mut self, reg: &Registry, now: Instant) {
        for i in 0..MAX_CHECKS {
            let Some(c) = self.checks[i].as_mut() else {
                continue;
            };
            if let Probe::Arp {
                sock,
                addr,
                next_probe,
                left,
                every,
                ..
            } = &mut c.probe
            {
                if let Some(t) = next_probe.filter(|&t| t <= now) {
                    *next_probe = (*left > 0).then(|| t + *every);
                    *left = left.saturating_sub(1);
                    if let Some(a) = self.arps.get(*sock) {
                        if let Err(e) = a.sock.probe(*addr) {
                            warn!("arp-probe-error interface={} error={e}", a.name);
                        }
                    }
                }
            }
            if c.deadline > now {
                continue;
            }
            let purpose = c.purpose;
            match self.checks[i].take().map(|c| c.probe) {
                Some(Probe::Arp { macs, .. }) => self.finish(purpose, true, macs),
                Some(Probe::Tcp(mut s)) => {
                    let _ = reg.deregister(&mut s);
                    self.finish(purpose, false, Vec::new());
                }
                None => {}
            }
        }
        for i in 0..MAX_CHILDREN {
            let Some(c) = self.children[i].as_mut() else {
                continue;
            };
            if c.deadline > now {
                continue;
            }
            match c.state {
                ChildState::Running => {
                    warn!(
                        "child-timeout vserver={} event={} pid={} killed",
                        c.name, c.event, c.pid
                    );
                    let _ = child::kill(c.pid);
                    c.state = ChildState::Killed;
                    c.deadline = now + REAP_GRACE;
                    let purpose = c.purpose;
                    self.finish(purpose, false, Vec::new());
                }
                ChildState::Killed => {
                    warn!(
                        "child-unreaped vserver={} event={} pid={} forgotten",
                        c.name, c.event, c.pid
                    );
                    if let Some(fd) = c.output.take() {
                        let _ = reg.deregister(&mut SourceFd(&fd.as_raw_fd()));
                    }
                    self.children[i] = None;
                }
            }
        }
    }

    /// Kill every child still running (the daemon is exiting).
    pub fn kill_all(&mut self) {
        for c in self.children.iter().flatten() {
            if c.state == ChildState::Running {
                warn!(
                    "child-killed-at-exit vserver={} event={} pid={}",
                    c.name, c.event, c.pid
                );
                let _ = child::kill(c.pid);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use core::net::{Ipv4Addr, SocketAddrV4};
    use mio::{Events, Poll};

    /// What `make tiny` logs (no `Debug` there) is what `Debug` says.
    #[test]
    fn purpose_step_and_exit_print_as_their_debug() {
        let steps = [
            Step::PreTakeover,
            Step::AddAlias,
            Step::Garp,
            Step::PostTakeover,
            Step::PreRelease,
            Step::RemoveAlias,
            Step::PostRelease,
        ];
        for step in steps {
            assert_eq!(step.to_string(), format!("{step:?}"));
            let p = Purpose::Step(3, step);
            assert_eq!(p.to_string(), format!("{p:?}"));
        }
        for p in [
            Purpose::Service(0),
            Purpose::Reach(63),
            Purpose::SelfCheck(7),
            Purpose::Notify,
        ] {
            assert_eq!(p.to_string(), format!("{p:?}"));
        }
        for e in [Exit::Code(0), Exit::Code(-1), Exit::Signal(9)] {
            assert_eq!(e.to_string(), format!("{e:?}"));
        }
    }

    /// An ARP window sends its probes evenly spaced and ends at its
    /// deadline with what answered. On the loopback interface, as root (a
    /// packet socket needs CAP_NET_RAW): a second socket on `lo` sees the
    /// probes go out.
    #[test]
    fn an_arp_window_spreads_its_probes() {
        let lo = 1;
        let Ok(watch) = ArpSocket::open(lo, [0; 6]) else {
            eprintln!("an_arp_window_spreads_its_probes: skipped, needs root");
            return;
        };
        let mut w = Work::new();
        let sock = ArpSocket::open(lo, [2, 0, 0, 0, 0, 1]).expect("socket on lo");
        let name = IfName::try_from("lo").unwrap();
        assert!(w
            .arps
            .push(ArpIf {
                name,
                ifindex: lo,
                sock: LinkSock::Arp(sock),
            })
            .is_ok());
        let target = Ipv4Addr::new(127, 9, 8, 7);
        let addr = IpAddr::V4(target);
        let t0 = Instant::ZERO;
        let ms = Duration::from_millis;
        w.start_arp(t0, Purpose::Reach(2), 0, addr, ms(60), 6);
        // Probes at 0, 10, ..., 50 ms; the window ends at 60 ms.
        let mut wakes = std::vec::Vec::new();
        while let Some(t) = w.poll_timeout() {
            assert!(wakes.len() < 10, "{wakes:?}");
            wakes.push(t.0);
            w.timers(Poll::new().unwrap().registry(), t);
        }
        assert_eq!(wakes, [10, 20, 30, 40, 50, 60]);
        let done = w.poll_done().expect("window over");
        assert!(done.ok && done.purpose == Purpose::Reach(2));
        let mut seen = 0;
        while let Ok(Some(p)) = watch.recv() {
            seen += usize::from(p.target_ip == target);
        }
        // Each probe once or twice (going out and looped back).
        assert!((6..=12).contains(&seen), "{seen} probes seen");
    }

    /// Run the loop (bounded: 50 turns of 20 ms) until a result is done.
    fn wait_done(poll: &mut Poll, w: &mut Work) -> Option<Done> {
        let mut events = Events::with_capacity(8);
        for _ in 0..50 {
            if let Some(d) = w.poll_done() {
                return Some(d);
            }
            poll.poll(&mut events, Some(Duration::from_millis(20)))
                .unwrap();
            for e in events.iter() {
                w.ready(poll.registry(), e.token());
            }
        }
        None
    }

    #[test]
    fn refused_and_timed_out_connects_are_failures() {
        let mut poll = Poll::new().unwrap();
        let mut w = Work::new();
        let now = Instant::ZERO;
        // A listener that we close: the port refuses.
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = l.local_addr().unwrap().port();
        drop(l);
        w.start_tcp(
            poll.registry(),
            now,
            Purpose::Service(0),
            SocketAddr::V4(SocketAddrV4::new(Ipv4Addr::LOCALHOST, port)),
            Duration::from_secs(1),
        );
        let got = wait_done(&mut poll, &mut w);
        let d = got.expect("a result");
        assert_eq!((d.purpose, d.ok), (Purpose::Service(0), false));
        assert_eq!(w.in_flight(), (0, 0));
    }

    #[test]
    fn a_listening_port_is_up_and_deadlines_fail_the_rest() {
        let mut poll = Poll::new().unwrap();
        let mut w = Work::new();
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = l.local_addr().unwrap().port();
        let now = Instant::ZERO;
        w.start_tcp(
            poll.registry(),
            now,
            Purpose::SelfCheck(3),
            SocketAddr::V4(SocketAddrV4::new(Ipv4Addr::LOCALHOST, port)),
            Duration::from_secs(1),
        );
        let got = wait_done(&mut poll, &mut w);
        assert_eq!(
            got.map(|d| (d.purpose, d.ok)),
            Some((Purpose::SelfCheck(3), true))
        );
        // An ARP window on a socket that does not exist fails at once; one
        // that exists would end at its deadline. A connect that never
        // settles fails at its deadline.
        w.start_arp(
            now,
            Purpose::Reach(1),
            7,
            IpAddr::V4(Ipv4Addr::LOCALHOST),
            Duration::from_millis(50),
            3,
        );
        assert_eq!(w.poll_done().map(|d| d.ok), Some(false));
        w.start_tcp(
            poll.registry(),
            now,
            Purpose::Service(2),
            SocketAddr::V4(SocketAddrV4::new(Ipv4Addr::LOCALHOST, port)),
            Duration::from_millis(100),
        );
        assert_eq!(w.poll_timeout(), Some(now + Duration::from_millis(100)));
        w.timers(poll.registry(), now + Duration::from_millis(100));
        assert_eq!(
            w.poll_done().map(|d| (d.purpose, d.ok)),
            Some((Purpose::Service(2), false))
        );
        assert_eq!(w.in_flight(), (0, 0));
    }
}
