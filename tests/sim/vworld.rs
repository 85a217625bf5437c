//! A deterministic simulated world for whole boxes: N real [`Node`]s (cluster
//! core + vserver monitor + holder), each on a simulated kernel, on a
//! simulated network and clock, everything drawn from one seed.
//!
//! # What is modelled
//!
//! * **Clocks and network** as in `world` (both are `world::net`'s): per-box
//!   drift and offset, loss, delay with jitter, directed cuts.
//! * **The codec** as in `world`: each daemon start makes the box a
//!   [`Codec`]; messages cross the network sealed, the receiver's codec
//!   opens them (challenging a boot it has not verified, dropping replays
//!   and a replaced boot's datagrams) and the node gets only what it
//!   accepts.
//! * **The kernel** of every box outlives its daemon. It holds the vserver
//!   aliases; each alias has a lifetime of 1 s, set at `AddAlias` and at every
//!   `Renew` (what the shell does through rtnetlink). Like Linux, the kernel
//!   checks lifetimes on its own one-second tick (a per-box phase), so an
//!   alias goes at the first tick at least 1 s after its last renewal:
//!   between 1 and 2 s after it. ARP answers come from the kernel.
//! * **Two kinds of crash.** `crash_daemon`: the daemon dies (kill -9), the
//!   kernel keeps its aliases until their lifetime runs out. `crash_box`: the
//!   whole box dies, aliases and all. A restarted daemon's shell first
//!   removes its own leftover aliases (they carry its label).
//! * **Pause** freezes the daemon, never the kernel: inputs (datagrams, hook
//!   exits, check results) wait and are handled at resume.
//! * **Checks** are answered by the world. Reachability (ARP) from the boss's
//!   box: the MAC of every kernel holding the address that can exchange
//!   frames with the boss's box now (each answer lost with the loss rate),
//!   plus the original host's MAC while it is up. Service: up if one of those
//!   kernels' boxes has the service healthy, or the original host serves.
//!   Self-checks: the box's own health for that vserver.
//! * **Steps**: hooks take a few ms and fail with `hook_fail_pm`; `AddAlias`
//!   fails with `alias_fail_pm` (else the kernel has the address at once);
//!   `RemoveAlias` removes it at once; results come back after a short delay.
//!
//! # Invariants checked on every step (`check_invariants`)
//!
//! * **(a) one believer.** With lease fencing and a majority quorum: at any
//!   real instant, for each vserver, at most one box whose daemon exists
//!   (running or paused) both *believes* it answers for the vserver
//!   ([`Holder::owns`]: held, or taken over past the alias step) and has a
//!   valid holding lease on its own clock. And a running daemon never
//!   believes past its lease: after every input it handles, a box whose lease
//!   is not valid owns nothing.
//! * **(b) one MAC per segment.** No two kernels hold the same address while
//!   some box can exchange frames with both (a client there would see two
//!   MACs). *Narrowed, by design:* an alias whose daemon is dead or frozen
//!   (an orphan) is excused while its kernel, since the daemon stopped, has
//!   at some instant been cut off from the acting boss and from every
//!   running box the boss can reach: fencing layer 3 (the ARP probes of the
//!   boss and of every box it asks) cannot see what none of them can reach, the
//!   lease (under `dead`) is shorter than the kernel lifetime (1-2 s), so
//!   an isolation plus a freeze or kill leaves a window of up to 2 s in
//!   which the orphan answers on its own side and shows up as a duplicate
//!   when the cut heals. Such windows are counted (`excused_windows`), not
//!   hidden. Everything else (two running daemons, or an orphan some
//!   running box could see whenever the boss could not) is a violation.
//!
//! Liveness and flapping are checked by the scenario (`main.rs`).
#![allow(dead_code)]

use std::fmt;
use std::time::Duration;

use bongoyo::cluster::{Control, Dest};
use bongoyo::config::{Check, Config, Failback, Fencing, Reachability, VServer, VsId};
use bongoyo::daemon::STOP_GRACE;
use bongoyo::node::{MoveAnswer, Node, Output};
use bongoyo::proto::{Body, Codec};
use bongoyo::takeover::Step;
use bongoyo::time::Instant;
use bongoyo::vserver::monitor::CheckKind;

use super::world::net::{
    self, expected_drop, Clock, Cut, Datagram, Net, Queue, Rng, Timer, Trace, Wire,
};

/// Kernel alias lifetime the shell sets (docs/MODEL.md, layer 2).
pub const LIFETIME_US: u64 = 1_000_000;

/// Add `nv` vservers to `cfg` (check interval, takeover timeout, hooks).
pub fn with_vservers(
    mut cfg: Config,
    nv: usize,
    check_ms: u64,
    takeover_ms: u64,
    hooks: bool,
) -> Config {
    for v in 0..nv {
        let mut name = heapless::String::new();
        let _ = core::fmt::Write::write_fmt(&mut name, format_args!("v{}", v + 1));
        let hook = || {
            hooks.then(|| bongoyo::config::Command {
                line: heapless::String::try_from("/bin/true").unwrap(),
            })
        };
        let _ = cfg.vservers.push(VServer {
            name,
            // Every third vserver is IPv6 (issue 15): the core does not
            // care which family an address is; the configuration's digest
            // and the hooks' environment do.
            address: if v % 3 == 2 {
                core::net::IpAddr::V6(core::net::Ipv6Addr::new(
                    0x2001,
                    0xdb8,
                    1,
                    0,
                    0,
                    0,
                    0,
                    1 + v as u16,
                ))
            } else {
                core::net::IpAddr::V4(core::net::Ipv4Addr::new(10, 0, 1, 1 + v as u8))
            },
            prefix: if v % 3 == 2 { 64 } else { 24 },
            interface: heapless::String::try_from("eth0").unwrap(),
            dedicated: false,
            service: Check::Tcp(80),
            reachability: Reachability::Arp,
            check: Duration::from_millis(check_ms),
            self_check: Check::Tcp(80),
            takeover_timeout: Duration::from_millis(takeover_ms),
            hooks: [hook(), hook(), hook(), hook()],
            failback: Failback::Auto,
            original_mac: Some(original_mac(v)),
            prefer: heapless::Vec::new(),
            preempt_delay: None,
            garp_refresh: None,
        });
    }
    cfg
}

/// The MAC of box `i`.
pub fn box_mac(i: usize) -> [u8; 6] {
    [2, 0, 0, 0, 0, i as u8 + 1]
}

/// The MAC of vserver `v`'s original host.
pub fn original_mac(v: usize) -> [u8; 6] {
    [2, 0, 0, 0, 1, v as u8 + 1]
}

/// Something that happened, for the trace of a failing seed.
#[derive(Clone, Debug)]
pub enum VTrace {
    Msg {
        from: u8,
        kind: &'static str,
    },
    /// The codec asked for a challenge or a response to be sent.
    Codec {
        to: u8,
        kind: &'static str,
    },
    /// The codec dropped a datagram (`DecodeError::name`).
    Dropped {
        reason: &'static str,
    },
    Out(String),
    Fault(String),
    Kernel {
        vs: u8,
        up: bool,
    },
}

#[derive(Clone, Debug)]
pub struct VTraceEv {
    pub t_us: u64,
    pub node: u8,
    pub kind: VTrace,
}

impl fmt::Display for VTraceEv {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:>12}us box{} {:?}", self.t_us, self.node, self.kind)
    }
}

/// An input waiting for a daemon (in flight, or buffered while paused).
#[derive(Clone)]
enum Input {
    /// A datagram, for whichever daemon runs on the box when it arrives.
    Datagram(Datagram),
    Step {
        vs: VsId,
        step: Step,
        ok: bool,
    },
    Check {
        vs: VsId,
        kind: CheckKind,
        /// ARP exchanges: a holder goes unseen only if every one is lost.
        tries: u32,
    },
    SelfCheck {
        vs: VsId,
    },
}

enum Ev {
    /// An input for box `to`'s daemon incarnation `inc` (0: any).
    Input {
        to: usize,
        inc: u64,
        input: Input,
    },
    Timer {
        node: usize,
        token: u64,
    },
    Start {
        node: usize,
    },
    /// The shell's stop deadline for daemon incarnation `inc`.
    StopGrace {
        node: usize,
        inc: u64,
    },
}

/// One box's kernel.
pub struct Kernel {
    /// The box has power (a crashed box has no kernel either).
    pub up: bool,
    /// Per vserver: real time of the alias's last renewal, if present.
    pub renewed: Vec<Option<u64>>,
    /// The kernel's lifetime tick phase (us in 0..1 s).
    pub phase_us: u64,
    /// Per vserver: the service runs healthily here.
    pub service_ok: Vec<bool>,
}

impl Kernel {
    /// When an alias renewed at `r` goes: the first tick >= r + lifetime.
    pub fn expiry(&self, r: u64) -> u64 {
        let base = r + LIFETIME_US;
        let k = (base - self.phase_us).div_ceil(1_000_000);
        self.phase_us + k * 1_000_000
    }
    pub fn holds(&self, vs: usize, now: u64) -> bool {
        self.up && self.renewed[vs].is_some_and(|r| now < self.expiry(r))
    }
}

pub struct VBox {
    pub node: Option<Node>,
    /// The daemon's codec: made at its start, gone with it.
    pub codec: Option<Codec>,
    pub inc: u64,
    pub clock: Clock,
    pub paused: bool,
    buffered: Vec<Input>,
    timer: Timer,
    pub kernel: Kernel,
    pub held: bool,
    /// `hold` or `resume` asked while the daemon was frozen: it reads the
    /// request from its control socket when it runs again.
    control_queued: Option<Control>,
    /// The daemon was told to stop (SIGTERM) and has not exited yet.
    pub stopping: bool,
    /// The daemon is dead or frozen and its kernel was cut off from the
    /// acting boss at some instant since (invariant (b)'s narrowing).
    pub hidden_orphan: bool,
    /// Per vserver: successful `AddAlias` count (moves).
    pub takeovers: Vec<u32>,
    /// Per vserver: successful `AddAlias` count of takeovers begun (first
    /// step) at or after [`VWorld::quiet_since`].
    pub quiet_takeovers: Vec<u32>,
    /// Per vserver: when the takeover under way began (its first step).
    taking_since: Vec<Option<u64>>,
}

pub struct VWorld {
    pub seed: u64,
    pub cfg: Config,
    pub nv: usize,
    pub now_us: u64,
    pub rng: Rng,
    pub boxes: Vec<VBox>,
    queue: Queue<Ev>,
    pub net: Net,
    pub hook_fail_pm: u64,
    pub alias_fail_pm: u64,
    /// Per vserver: the original host is up and serves.
    pub original_up: Vec<bool>,
    pub trace: Trace<VTraceEv>,
    pub violations: Vec<String>,
    pub first_trace: String,
    pub steps: u64,
    /// Check invariant (a) (lease fencing with a majority quorum).
    pub check_lease: bool,
    /// Excused duplicate windows (invariant (b)'s narrowing).
    pub excused_windows: u64,
    excused_now: Vec<bool>,
    /// Record every output in the trace (slower; for failing seeds).
    pub verbose: bool,
    /// Print every trace event as it happens (`SIM_DUMP=1`, one seed).
    pub dump: bool,
    /// When the faults' echoes were over (invariant (d) counts takeovers
    /// begun since).
    pub quiet_since: Option<u64>,
    /// A stopping daemon exits as the shell does: once its node says it is
    /// `stopped`, or at the shell's stop grace (removing what is left); an
    /// init system starts it again 200 ms later. Off: the test decides.
    pub shell_exits: bool,
    /// Planned moves ordered by the bosses (`Output::VsMoving`).
    pub planned_moves: u64,
    /// Gratuitous ARPs the daemons sent: (real time us, box, vserver).
    pub garps: Vec<(u64, usize, usize)>,
    /// What the codecs did.
    pub wire: Wire,
}

// Datagrams are not tied to the receiver's incarnation.
net::wired!(VWorld, VTrace, |w, t_us, to, datagram| {
    let input = Input::Datagram(datagram);
    w.queue.push(t_us, Ev::Input { to, inc: 0, input })
});

impl VWorld {
    pub fn new(cfg: Config, seed: u64) -> VWorld {
        let n = cfg.nodes.len();
        let nv = cfg.vservers.len();
        let mut rng = Rng(seed ^ 0x0bad_cafe_f00d);
        let mut boxes = Vec::new();
        for _ in 0..n {
            boxes.push(VBox {
                node: None,
                codec: None,
                inc: 0,
                // Drawn before the kernel's tick phase below.
                clock: Clock::drawn(&mut rng),
                paused: false,
                buffered: Vec::new(),
                timer: Timer::default(),
                kernel: Kernel {
                    up: true,
                    renewed: vec![None; nv],
                    phase_us: rng.below(1_000_000),
                    service_ok: vec![true; nv],
                },
                held: false,
                control_queued: None,
                stopping: false,
                hidden_orphan: false,
                takeovers: vec![0; nv],
                quiet_takeovers: vec![0; nv],
                taking_since: vec![None; nv],
            });
        }
        let check_lease = cfg.fencing == Fencing::Lease && 2 * cfg.quorum as usize > n;
        VWorld {
            seed,
            cfg,
            nv,
            now_us: 0,
            rng,
            boxes,
            queue: Queue::default(),
            net: Net::new(n),
            hook_fail_pm: 0,
            alias_fail_pm: 0,
            original_up: vec![false; nv],
            trace: Trace::default(),
            violations: Vec::new(),
            first_trace: String::new(),
            steps: 0,
            check_lease,
            excused_windows: 0,
            excused_now: vec![false; nv],
            verbose: false,
            dump: false,
            quiet_since: None,
            shell_exits: false,
            planned_moves: 0,
            garps: Vec::new(),
            wire: Wire::default(),
        }
    }

    /// Perfect clocks, 0.5 ms delay, no loss (scripted tests).
    pub fn scripted(cfg: Config) -> VWorld {
        let mut w = VWorld::new(cfg, 0);
        for b in &mut w.boxes {
            b.clock = Clock::PERFECT;
        }
        w.net.scripted();
        w
    }

    pub fn n(&self) -> usize {
        self.boxes.len()
    }

    pub fn ms(&self) -> u64 {
        self.now_us / 1000
    }

    /// Box i's local clock now.
    pub fn local(&self, i: usize) -> Instant {
        self.boxes[i].clock.local_at(self.now_us)
    }

    fn note(&mut self, node: usize, kind: VTrace) {
        let ev = VTraceEv {
            t_us: self.now_us,
            node: node as u8,
            kind,
        };
        if self.dump {
            eprintln!("{ev}");
        }
        self.trace.push(ev);
    }

    pub fn note_fault(&mut self, node: usize, what: String) {
        self.note(node, VTrace::Fault(what));
    }

    // --- faults and operator ---

    pub fn start_at(&mut self, i: usize, t_us: u64) {
        self.queue.push(t_us, Ev::Start { node: i });
    }

    /// Boot box i's daemon again at once, unless it is up.
    pub fn restart(&mut self, i: usize) {
        if !self.up(i) {
            self.start_at(i, self.now_us + 1);
        }
    }

    fn boot(&mut self, i: usize) {
        // Started twice (an init system and a heal): one daemon runs.
        if self.boxes[i].node.is_some() {
            return;
        }
        // The shell draws the incarnation, then the codec's nonce seed.
        let inc = self.rng.next() | 1;
        let seed = self.rng.next();
        let local = self.local(i);
        let mut node = Node::new(&self.cfg, i as u8, inc, local);
        node.set_mac(box_mac(i));
        if self.boxes[i].held {
            node.handle_control(local, Control::Hold);
        }
        let codec = Codec::for_config(&self.cfg, i as u8, inc, seed);
        let b = &mut self.boxes[i];
        b.node = Some(node);
        b.codec = Some(codec);
        b.inc = inc;
        b.paused = false;
        b.buffered.clear();
        b.control_queued = None;
        b.hidden_orphan = false;
        // Power back, and the shell's start-up: remove its own leftovers.
        b.kernel.up = true;
        for r in b.kernel.renewed.iter_mut() {
            *r = None;
        }
        self.note_fault(i, "start".into());
        self.after_input(i);
    }

    /// The daemon dies; its kernel and aliases live on.
    pub fn crash_daemon(&mut self, i: usize) {
        if self.boxes[i].node.is_some() {
            self.note_fault(i, "daemon crash".into());
        }
        let b = &mut self.boxes[i];
        b.node = None;
        b.codec = None;
        b.paused = false;
        b.stopping = false;
        b.buffered.clear();
        b.control_queued = None;
        b.timer.cancel();
        b.taking_since.iter_mut().for_each(|t| *t = None);
    }

    /// A stopped daemon exits; the init system starts it again.
    fn exit(&mut self, i: usize) {
        self.note_fault(i, "exit after stop".into());
        // The shell's last act: tell the others this box leaves on purpose
        // (only the messages go out, then what the codec asks for).
        let local = self.local(i);
        let paused = self.boxes[i].paused;
        if let (Some(n), false) = (self.boxes[i].node.as_mut(), paused) {
            n.leave(local);
        }
        while let Some(o) = self.boxes[i].node.as_mut().and_then(|n| n.poll_output()) {
            if let Output::Send { to, body } = o {
                self.send(i, to, &body);
            }
        }
        self.flush_codec(i);
        self.crash_daemon(i);
        self.start_at(i, self.now_us + 200_000);
    }

    /// The shell's stop deadline: what is still on an interface is removed
    /// directly (no hooks).
    pub fn force_release(&mut self, i: usize) {
        self.note_fault(i, "stop deadline: forced release".into());
        for r in self.boxes[i].kernel.renewed.iter_mut() {
            *r = None;
        }
    }

    /// The whole box dies: daemon, kernel, aliases.
    pub fn crash_box(&mut self, i: usize) {
        self.crash_daemon(i);
        self.note_fault(i, "box crash".into());
        let k = &mut self.boxes[i].kernel;
        k.up = false;
        for r in k.renewed.iter_mut() {
            *r = None;
        }
    }

    pub fn up(&self, i: usize) -> bool {
        self.boxes[i].node.is_some()
    }

    pub fn running(&self, i: usize) -> bool {
        self.boxes[i].node.is_some() && !self.boxes[i].paused
    }

    pub fn pause(&mut self, i: usize) {
        if self.boxes[i].node.is_some() && !self.boxes[i].paused {
            self.note_fault(i, "pause".into());
            self.boxes[i].paused = true;
        }
    }

    pub fn resume(&mut self, i: usize) {
        if !self.boxes[i].paused {
            return;
        }
        self.note_fault(i, "resume".into());
        self.boxes[i].paused = false;
        let local = self.local(i);
        if let Some(n) = self.boxes[i].node.as_mut() {
            n.handle_timeout(local);
        }
        self.after_input(i);
        let buffered = std::mem::take(&mut self.boxes[i].buffered);
        for input in buffered {
            self.feed(i, input);
        }
        if let Some(cmd) = self.boxes[i].control_queued.take() {
            self.control(i, cmd);
        }
    }

    pub fn control(&mut self, i: usize, cmd: Control) {
        self.boxes[i].held = cmd == Control::Hold;
        let local = self.local(i);
        if self.boxes[i].paused {
            // Seed 531004532: a `resume` lost while the box was frozen left
            // it on hold for good, which no operator would see happen.
            self.boxes[i].control_queued = Some(cmd);
        } else if self.running(i) {
            self.note_fault(i, format!("{cmd:?}"));
            self.boxes[i]
                .node
                .as_mut()
                .unwrap()
                .handle_control(local, cmd);
            self.after_input(i);
        }
    }

    /// `bongoyo release v` run on box `i`: its node asks the boss (or is it).
    pub fn release(&mut self, i: usize, v: usize) -> Option<MoveAnswer> {
        let local = self.local(i);
        if !self.running(i) {
            return None;
        }
        let a = self.boxes[i]
            .node
            .as_mut()
            .unwrap()
            .request_move(local, v as VsId);
        self.note_fault(i, format!("release v{v}: {a:?}"));
        self.after_input(i);
        Some(a)
    }

    /// SIGTERM: the daemon hands everything over, then exits (`stopped`).
    pub fn shutdown(&mut self, i: usize) {
        let local = self.local(i);
        if self.running(i) {
            self.note_fault(i, "shutdown".into());
            self.boxes[i].stopping = true;
            self.boxes[i].node.as_mut().unwrap().shutdown(local);
            if self.shell_exits {
                let inc = self.boxes[i].inc;
                self.queue.push(
                    self.now_us + STOP_GRACE.as_micros() as u64,
                    Ev::StopGrace { node: i, inc },
                );
            }
            self.after_input(i);
        }
    }

    pub fn set_cut(&mut self, from: usize, to: usize, cut: bool) {
        self.rewire(|net| net.set_cut(from, to, cut));
    }

    pub fn partition(&mut self, group: &[usize]) {
        self.rewire(|net| net.partition(group));
    }

    pub fn heal(&mut self) {
        self.rewire(Net::heal);
    }

    /// Change the network with `f`, tracing every link it cut or restored.
    fn rewire<C: IntoIterator<Item = Cut>>(&mut self, f: impl FnOnce(&mut Net) -> C) {
        for Cut { from, to, cut } in f(&mut self.net) {
            self.note_fault(from, format!("cut to {to} {cut}"));
        }
    }

    /// Frames pass both ways between boxes a and b.
    pub fn linked(&self, a: usize, b: usize) -> bool {
        self.net.linked(a, b)
    }

    // --- the engine ---

    /// Hand `input` to box i's daemon; false if no node got it (no daemon,
    /// a frozen one, or a datagram the codec kept for itself or dropped).
    fn feed(&mut self, i: usize, input: Input) -> bool {
        if self.boxes[i].node.is_none() {
            return false;
        }
        if self.boxes[i].paused {
            if self.boxes[i].buffered.len() < 1024 {
                self.boxes[i].buffered.push(input);
            }
            return false;
        }
        let local = self.local(i);
        let now = self.now_us;
        match input {
            // Opened here; it comes back to the node only if the codec
            // accepts it.
            Input::Datagram(datagram) => return self.receive(i, &datagram),
            Input::Step { vs, step, ok } => {
                if self.verbose {
                    self.note(i, VTrace::Out(format!("step done v{vs} {step:?} {ok}")));
                }
                let n = self.boxes[i].node.as_mut().unwrap();
                n.handle_step(local, vs, step, ok);
            }
            Input::Check { vs, kind, tries } => {
                let (macs, service) = self.answer_check(i, vs as usize, now, tries);
                if self.verbose {
                    self.note(
                        i,
                        VTrace::Out(format!("check v{vs} {kind:?} macs={macs:?} svc={service}")),
                    );
                }
                let n = self.boxes[i].node.as_mut().unwrap();
                match kind {
                    CheckKind::Reach => n.handle_reach(local, vs, &macs),
                    CheckKind::Service => n.handle_service(local, vs, service),
                }
            }
            Input::SelfCheck { vs } => {
                let ok = self.boxes[i].kernel.service_ok[vs as usize];
                let n = self.boxes[i].node.as_mut().unwrap();
                n.handle_self_check(local, vs, ok);
            }
        }
        self.after_input(i);
        true
    }

    /// What the boss on box `c` sees of vserver `vs` now.
    fn answer_check(&mut self, c: usize, vs: usize, now: u64, tries: u32) -> (Vec<[u8; 6]>, bool) {
        let mut macs = Vec::new();
        let mut service = self.original_up[vs];
        if self.original_up[vs] && !self.rng.chance(self.net.loss_pm) {
            macs.push(original_mac(vs));
        }
        for k in 0..self.n() {
            if self.boxes[k].kernel.holds(vs, now) && self.linked(c, k) {
                // The probe is several ARP requests: a holder goes unseen
                // only if every exchange is lost.
                if !(0..tries).all(|_| self.rng.chance(self.net.loss_pm)) {
                    macs.push(box_mac(k));
                }
                service |= self.boxes[k].kernel.service_ok[vs];
            }
        }
        (macs, service)
    }

    /// Drain box i's codec and outputs in the order of the shell's flush
    /// (the codec's challenges and responses, the node's outputs, the codec
    /// again), re-arm its timer, check.
    fn after_input(&mut self, i: usize) {
        self.flush_codec(i);
        loop {
            let Some(node) = self.boxes[i].node.as_mut() else {
                return;
            };
            let Some(o) = node.poll_output() else { break };
            self.output(i, o);
        }
        self.flush_codec(i);
        if self.shell_exits
            && self.boxes[i].stopping
            && self.boxes[i].node.as_ref().is_some_and(|n| n.stopped())
        {
            return self.exit(i);
        }
        let local = self.local(i);
        let node = self.boxes[i].node.as_ref().unwrap();
        let wake = node.poll_timeout();
        // Invariant (a), second half: a running daemon never believes past
        // its lease.
        if self.check_lease {
            let lease = node.core().lease_until().is_some_and(|u| local < u);
            if !lease {
                if let Some(v) = (0..self.nv).find(|&v| node.holder().owns(v as VsId)) {
                    self.violation(format!(
                        "box {i} owns v{v} after its lease ended (t={}us)",
                        self.now_us
                    ));
                }
            }
        }
        let b = &mut self.boxes[i];
        if let Some((r, token)) = b.timer.arm(&b.clock, self.now_us, wake) {
            self.queue.push(r, Ev::Timer { node: i, token });
        }
    }

    fn output(&mut self, i: usize, o: Output) {
        if self.verbose && !matches!(o, Output::Send { .. } | Output::Renew { .. }) {
            self.note(i, VTrace::Out(format!("{o:?}")));
        }
        let now = self.now_us;
        match o {
            Output::Send { to, body } => {
                if self.verbose && !matches!(body, Body::Hello(_)) {
                    self.note(i, VTrace::Out(format!("send {to:?} {}", body.kind())));
                }
                self.send(i, to, &body);
            }
            Output::Check {
                vserver,
                kind,
                arp_probes,
            } => {
                let d = match kind {
                    CheckKind::Reach => self.rng.range(5_000, 60_000),
                    CheckKind::Service => self.rng.range(500, 20_000),
                };
                let input = Input::Check {
                    vs: vserver,
                    kind,
                    tries: arp_probes,
                };
                self.reply(i, now + d, input);
            }
            Output::SelfCheck { vserver } => {
                let d = self.rng.range(500, 20_000);
                self.reply(i, now + d, Input::SelfCheck { vs: vserver });
            }
            Output::Step { vserver, step } => {
                let v = vserver as usize;
                let (ok, d) = match step {
                    Step::PreTakeover
                    | Step::PostTakeover
                    | Step::PreRelease
                    | Step::PostRelease => {
                        if step == Step::PreTakeover && v < self.nv {
                            self.boxes[i].taking_since[v] = Some(now);
                        }
                        (
                            !self.rng.chance(self.hook_fail_pm),
                            self.rng.range(1_000, 40_000),
                        )
                    }
                    Step::AddAlias => {
                        let ok = !self.rng.chance(self.alias_fail_pm);
                        if ok && v < self.nv {
                            self.boxes[i].kernel.renewed[v] = Some(now);
                            self.boxes[i].takeovers[v] += 1;
                            let began = self.boxes[i].taking_since[v].take().unwrap_or(now);
                            if self.quiet_since.is_some_and(|q| began >= q) {
                                self.boxes[i].quiet_takeovers[v] += 1;
                            }
                            self.note(
                                i,
                                VTrace::Kernel {
                                    vs: vserver,
                                    up: true,
                                },
                            );
                        }
                        (ok, self.rng.range(100, 1_000))
                    }
                    Step::RemoveAlias => {
                        if v < self.nv && self.boxes[i].kernel.renewed[v].take().is_some() {
                            self.note(
                                i,
                                VTrace::Kernel {
                                    vs: vserver,
                                    up: false,
                                },
                            );
                        }
                        (true, self.rng.range(100, 1_000))
                    }
                    Step::Garp => {
                        // Announcing an address this kernel does not hold
                        // would point hosts at a box that does not answer.
                        if v < self.nv && !self.boxes[i].kernel.holds(v, now) {
                            self.violation(format!("box {i} announced v{v} it does not hold"));
                        }
                        self.garps.push((now, i, v));
                        (true, 100)
                    }
                };
                let input = Input::Step {
                    vs: vserver,
                    step,
                    ok,
                };
                self.reply(i, now + d, input);
            }
            Output::Renew { vserver } => {
                // A renewal of an address the kernel removed adds it again
                // (IPv4 does not ask for NLM_F_CREATE; tests/os_netns.rs),
                // if the shell still has it in its table.
                let v = vserver as usize;
                let k = &mut self.boxes[i].kernel;
                if v < self.nv && k.up && k.renewed[v].is_some() {
                    k.renewed[v] = Some(now);
                }
            }
            Output::RoleChanged { .. }
            | Output::VsChanged { .. }
            | Output::NodeAlert { .. }
            | Output::Member { .. }
            | Output::VsAlert { .. }
            | Output::MoveRequested { .. } => {}
            Output::VsMoving { vserver, from, to } => {
                self.planned_moves += 1;
                self.note(i, VTrace::Out(format!("move v{vserver} {from}->{to}")));
            }
        }
    }

    /// The result of something box `i`'s daemon started (a check, a step),
    /// due back at real time `t_us`, for this incarnation only.
    fn reply(&mut self, i: usize, t_us: u64, input: Input) {
        let inc = self.boxes[i].inc;
        self.queue.push(t_us, Ev::Input { to: i, inc, input });
    }

    fn flush_codec(&mut self, i: usize) {
        net::flush_codec(self, i);
    }

    fn send(&mut self, i: usize, to: Dest, body: &Body) {
        net::send(self, i, to, body);
    }

    /// A datagram reaches box `i`'s running daemon: its codec opens it, as
    /// the shell's receive does; the node gets only what the codec accepts
    /// (true if it got something).
    fn receive(&mut self, i: usize, datagram: &[u8]) -> bool {
        let local = self.local(i);
        let Some(codec) = self.boxes[i].codec.as_mut() else {
            return false;
        };
        match self.wire.open(codec, local, datagram) {
            Ok(Some(m)) => {
                let (from, body) = (m.header.sender, m.body);
                if !matches!(body, Body::Hello(_)) {
                    let kind = body.kind();
                    self.note(i, VTrace::Msg { from, kind });
                }
                if let Some(n) = self.boxes[i].node.as_mut() {
                    n.handle_message(local, from, m.header.incarnation, &body);
                }
                self.after_input(i);
                true
            }
            // The codec's own: it may want to answer.
            Ok(None) => {
                self.flush_codec(i);
                false
            }
            Err(e) => {
                let reason = e.name();
                self.note(i, VTrace::Dropped { reason });
                if !expected_drop(e) {
                    self.violation(format!(
                        "box {i}'s codec dropped a datagram at t={}us: {e}",
                        self.now_us
                    ));
                }
                self.flush_codec(i);
                false
            }
        }
    }

    pub fn step(&mut self) -> bool {
        let Some((t, ev)) = self.queue.pop() else {
            return false;
        };
        self.now_us = t;
        self.steps += 1;
        match ev {
            Ev::Start { node } => self.boot(node),
            Ev::StopGrace { node, inc } => {
                if self.boxes[node].stopping && self.boxes[node].inc == inc {
                    self.force_release(node);
                    self.exit(node);
                }
            }
            Ev::Timer { node, token } => {
                let b = &self.boxes[node];
                if b.timer.is_current(token) && !b.paused && b.node.is_some() {
                    let local = self.local(node);
                    self.boxes[node]
                        .node
                        .as_mut()
                        .unwrap()
                        .handle_timeout(local);
                    self.after_input(node);
                }
            }
            Ev::Input { to, inc, input } => {
                // A result for a dead daemon's incarnation goes nowhere; a
                // datagram goes to whichever daemon runs (its codec decides).
                let stale = match &input {
                    Input::Datagram(_) => false,
                    _ => self.boxes[to].inc != inc,
                };
                // Nothing a node believes and no kernel changed if no
                // node took the input (the codec kept the datagram, or
                // nobody listens); time alone only ends leases and
                // aliases, so the invariants held at the last check still
                // hold.
                if stale || !self.feed(to, input) {
                    return true;
                }
            }
        }
        self.check_invariants();
        true
    }

    pub fn run_until(&mut self, t_us: u64) {
        // The faults and commands since the last run changed the world
        // outside any step: check it as it is now, before the steps (some
        // of which, datagrams no node takes, are not checked).
        self.check_invariants();
        while self.queue.due(t_us) {
            self.step();
        }
        self.now_us = self.now_us.max(t_us);
        self.check_invariants();
    }

    pub fn run_for_ms(&mut self, ms: u64) {
        self.run_until(self.now_us + ms * 1000);
    }

    /// Boxes whose daemon exists (running or paused) and passes `f`.
    fn daemons_where(&self, f: impl Fn(usize, &Node) -> bool) -> Vec<usize> {
        (0..self.n())
            .filter(|&k| self.boxes[k].node.as_ref().is_some_and(|n| f(k, n)))
            .collect()
    }

    /// Boxes acting as boss now.
    pub fn acting(&self) -> Vec<usize> {
        self.daemons_where(|i, n| n.core().is_acting(self.local(i)))
    }

    /// Kernels holding vserver `vs` now.
    pub fn kernels(&self, vs: usize) -> Vec<usize> {
        (0..self.n())
            .filter(|&k| self.boxes[k].kernel.holds(vs, self.now_us))
            .collect()
    }

    /// Boxes whose holder claims vserver `vs` (held, in hellos).
    pub fn claimers(&self, vs: usize) -> Vec<usize> {
        self.daemons_where(|_, n| n.holder().claims() & (1 << vs) != 0)
    }

    /// Boxes that believe they answer for `vs`.
    pub fn owners(&self, vs: usize) -> Vec<usize> {
        self.daemons_where(|_, n| n.holder().owns(vs as VsId))
    }

    fn check_invariants(&mut self) {
        let now = self.now_us;
        // Orphans neither the acting boss nor any box it can ask to probe
        // (linked to it) can see (invariant (b)'s narrowing).
        let acting = self.acting();
        for k in 0..self.n() {
            if self.running(k) || !self.boxes[k].kernel.up {
                continue;
            }
            let holds_any = (0..self.nv).any(|v| self.boxes[k].kernel.holds(v, now));
            // A box the boss can ask (linked to it) that sees the orphan.
            let seen = (0..self.n()).any(|c| {
                c != k
                    && self.running(c)
                    && self.linked(c, k)
                    && acting.iter().all(|&b| self.linked(c, b))
            });
            if holds_any && acting.iter().any(|&b| !self.linked(b, k)) && !seen {
                self.boxes[k].hidden_orphan = true;
            }
        }
        for v in 0..self.nv {
            // (a) one believer with a valid lease.
            if self.check_lease {
                let believers = self.daemons_where(|k, n| {
                    n.holder().owns(v as VsId)
                        && n.core().lease_until().is_some_and(|u| self.local(k) < u)
                });
                if believers.len() > 1 {
                    self.violation(format!(
                        "(a) boxes {believers:?} all believe they hold v{v} with a valid lease at t={now}us"
                    ));
                }
            }
            // (b) one MAC per segment.
            let ks = self.kernels(v);
            let mut excused = false;
            for (x, &k1) in ks.iter().enumerate() {
                for &k2 in &ks[x + 1..] {
                    let common = (0..self.n()).any(|c| self.linked(c, k1) && self.linked(c, k2));
                    if !common {
                        continue;
                    }
                    let orphan_ok = |k: usize| !self.running(k) && self.boxes[k].hidden_orphan;
                    if orphan_ok(k1) || orphan_ok(k2) {
                        excused = true;
                    } else if self.cfg.fencing == Fencing::Lease && self.check_lease {
                        self.violation(format!(
                            "(b) kernels of boxes {k1} and {k2} both answer for v{v} on one segment at t={now}us"
                        ));
                    }
                }
            }
            if excused && !self.excused_now[v] {
                self.excused_windows += 1;
            }
            self.excused_now[v] = excused;
        }
    }

    pub fn violation(&mut self, what: String) {
        let (list, first) = (&mut self.violations, &mut self.first_trace);
        net::violation(list, first, &self.trace, what);
    }
}
