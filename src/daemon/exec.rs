//! Carrying out what the node asks for (its [`Output`]s): messages go to
//! the cluster sockets, checks and hooks to `Work`, takeover and release
//! steps (aliases, gratuitous ARP, hooks) to the system, alerts to the log
//! and the `notify` hook; and feeding the results ([`Done`]) back.
//!
//! Only I/O and its bookkeeping live here: what this box does is decided in
//! the node, which also answers the checks nobody needs to run (`service
//! none`). The one thing this file adds to a result is what the box's own
//! kernel contributes to an ARP probe it cannot hear: the address is on one
//! of its interfaces, as this file put it there (see `Daemon::done`).

use core::fmt::Write as _;
use core::net::{IpAddr, Ipv4Addr, SocketAddr, SocketAddrV4};
use core::time::Duration;

use heapless::String as HString;
use log::{debug, error, info, warn};

use super::control::move_word;
use super::status::role_name;
use super::work::{Done, Purpose};
use super::{Daemon, HOOK_TIMEOUT, MIN_CHECK_TIMEOUT, MIN_EXEC_TIMEOUT};
use crate::cluster::{AlertKind, MemberChange};
use crate::config::{self, Check, IfName, NodeId, Reachability, VsId};
use crate::node::Output;
use crate::os::child::{self, Context};
use crate::os::ifaddr::{self, Rtnl};
use crate::takeover::{alias_lifetime_s, Step};
use crate::time::Instant;
use crate::vserver::monitor::{arp_window, CheckKind, VsAlert};

/// An address this box has put on an interface for a vserver.
#[derive(Clone)]
pub(super) struct Alias {
    pub(super) label: IfName,
    ifindex: u32,
    pub(super) since: Instant,
}

/// Where a vserver lives on this box: its interface's index and ARP socket.
#[derive(Copy, Clone)]
pub(super) struct VsIf {
    pub(super) ifindex: u32,
    pub(super) arp: usize,
}

/// A vserver address as `A.B.C.D/P` or `ADDR/P` (IPv6: at most 39 + 4).
pub(super) type AddrText = HString<44>;

/// A vserver's address for the log and hooks.
pub(super) fn addr_text(v: &config::VServer) -> AddrText {
    let mut s = AddrText::new();
    // 43 bytes at most: always fits.
    let _ = write!(s, "{}/{}", v.address, v.prefix);
    s
}

/// Remove a vserver address of either family from `ifindex`.
fn remove_address(rtnl: &mut Rtnl, ifindex: u32, addr: IpAddr, prefix: u8) -> std::io::Result<()> {
    match addr {
        IpAddr::V4(a) => rtnl.remove_address(ifindex, a, prefix),
        IpAddr::V6(a) => rtnl.remove_address6(ifindex, a, prefix),
    }
}

/// How long a check may take: its interval, but never below the floor of
/// its kind.
fn check_timeout(every: Duration, exec: bool) -> Duration {
    every.max(if exec {
        MIN_EXEC_TIMEOUT
    } else {
        MIN_CHECK_TIMEOUT
    })
}

impl Daemon {
    /// One output of the node.
    pub(super) fn output(&mut self, now: Instant, o: Output) {
        match o {
            Output::Send { to, body } => self.send(to, &body),
            Output::Check {
                vserver,
                kind,
                arp_probes,
            } => self.check(now, vserver, kind, arp_probes),
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
    fn check(&mut self, now: Instant, vs: VsId, kind: CheckKind, arp_probes: u32) {
        let Some(v) = self.config.vservers.get(vs as usize) else {
            return;
        };
        let timeout = check_timeout(v.check, false);
        let addr = v.address;
        match kind {
            CheckKind::Service => match &v.service {
                // Never asked: the node answers `service none` itself.
                Check::None => {}
                Check::Tcp(port) => self.work.start_tcp(
                    self.poll.registry(),
                    now,
                    Purpose::Service(vs),
                    SocketAddr::new(addr, *port),
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
                    let purpose = Purpose::Reach(vs);
                    self.work
                        .start_arp(now, purpose, sock, addr, window, arp_probes);
                }
                Reachability::Tcp(port) => self.work.start_tcp(
                    self.poll.registry(),
                    now,
                    Purpose::Reach(vs),
                    SocketAddr::new(addr, port),
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
            // Never asked: the node counts a box without one as suitable.
            Check::None => {}
            Check::Tcp(port) => {
                let timeout = check_timeout(v.check, false);
                self.work.start_tcp(
                    self.poll.registry(),
                    now,
                    Purpose::SelfCheck(vs),
                    SocketAddr::V4(SocketAddrV4::new(Ipv4Addr::LOCALHOST, *port)),
                    timeout,
                )
            }
            Check::Exec(_) => self.queue_child(Purpose::SelfCheck(vs)),
        }
    }

    /// One takeover or release step.
    fn step(&mut self, now: Instant, vs: VsId, step: Step) {
        if let Some(kind) = step.hook() {
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
        // IPv6 has no labels: the interface stands for one in the log and
        // in `BONGOYO_INTERFACE`.
        let label = if v.dedicated || v.address.is_ipv6() {
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
        let lifetime = alias_lifetime_s(self.config.hello);
        let r = match v.address {
            IpAddr::V4(a) => ifaddr::add_alias(&label, a, v.prefix).and_then(|_| {
                // At once: from here on a dead daemon's address dies with it.
                self.rtnl
                    .set_lifetime(ifindex, &label, a, v.prefix, lifetime)
            }),
            // In one request, with its lifetime and without duplicate
            // address detection (layer 3 probed before the takeover).
            IpAddr::V6(a) => {
                let d = Duration::from_secs(lifetime.into());
                self.rtnl.add_address6(ifindex, a, v.prefix, d)
            }
        };
        match r {
            Ok(()) => {
                info!(
                    "alias-added vserver={} address={} label={label} lifetime_s={lifetime}",
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
                let _ = remove_address(&mut self.rtnl, ifindex, v.address, v.prefix);
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

    pub(super) fn remove_alias(&mut self, vs: VsId) -> bool {
        let Some(v) = self.config.vservers.get(vs as usize) else {
            return false;
        };
        let ifindex = self.vs_if.get(vs as usize).map_or(0, |i| i.ifindex);
        let (address, prefix) = (v.address, v.prefix);
        match remove_address(&mut self.rtnl, ifindex, address, prefix) {
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
        let lifetime = alias_lifetime_s(self.config.hello);
        let r = match v.address {
            IpAddr::V4(x) => self
                .rtnl
                .set_lifetime(a.ifindex, &a.label, x, v.prefix, lifetime),
            IpAddr::V6(x) => {
                let d = Duration::from_secs(lifetime.into());
                self.rtnl.set_lifetime6(a.ifindex, x, v.prefix, d)
            }
        };
        if let Err(e) = r {
            // Not for an address the kernel removed (this daemon was frozen
            // longer than the lifetime): a renewal adds it again, as IPv4
            // does not ask for NLM_F_CREATE (tests/os_netns.rs). Something
            // else failed: the boss's checks will see it unreachable.
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
            warn!("child-queue-full purpose={p}");
            self.work.fail_now(p);
        }
    }

    pub(super) fn start_waiting(&mut self, now: Instant) {
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
            Purpose::Step(_, step) => step.hook().and_then(|kind| v.hook(kind)),
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
    pub(super) fn done(&mut self, now: Instant, d: Done) {
        match d.purpose {
            Purpose::Service(vs) => self.node.handle_service(now, vs, d.ok),
            Purpose::SelfCheck(vs) => self.node.handle_self_check(now, vs, d.ok),
            Purpose::Step(vs, step) => {
                if !d.ok {
                    warn!("step-failed vserver={} step={step}", self.vs_name(vs));
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
                if !arp {
                    return self.node.handle_reach_tcp(now, vs, d.ok);
                }
                let mut macs = d.macs;
                // This box's own kernel never answers its own probe: if the
                // address is on our interface, we answer for it, with that
                // interface's MAC. Part of the observation, not a decision:
                // which kernels hold the address (the simulator's world
                // answers it from its kernels, this box's included).
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
                self.node.handle_reach(now, vs, &macs);
            }
            Purpose::Notify => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn check_timeouts_have_floors() {
        let ms = Duration::from_millis;
        assert_eq!(check_timeout(ms(20), false), MIN_CHECK_TIMEOUT);
        assert_eq!(check_timeout(ms(500), false), ms(500));
        assert_eq!(check_timeout(ms(200), true), MIN_EXEC_TIMEOUT);
    }
}
