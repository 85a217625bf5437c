//! Start-up: what `bongoyo run` checks and opens before the loop, each
//! failure a [`Failure`] with its sysexits code and a message naming what
//! failed. [`Daemon::start`](super::Daemon) calls these in order: first
//! what only one daemon on a box can have (the control socket, the cluster
//! port on this box's address), then what changes the box (leftover
//! addresses removed, ARP sockets opened).

use core::net::{IpAddr, Ipv4Addr};
use std::io;
use std::net::UdpSocket;
use std::os::unix::net::UnixListener;
use std::path::Path;

use log::{error, info, warn};
use mio::net::{UdpSocket as MioUdp, UnixListener as MioListener};
use mio::unix::SourceFd;
use mio::{Interest, Poll, Token};

use super::exec::{addr_text, VsIf};
use super::work::{ArpIf, LinkSock, Work, ARP_BASE};
use super::{Failure, EX_CANTCREAT, EX_NOPERM, EX_OSERR, LISTENER, MULTICAST, SIGNALS, UNICAST};
use crate::config::{self, Config, Key, NodeId};
use crate::os::arp::ArpSocket;
use crate::os::control::{self, ListenError, SocketFile};
use crate::os::ifaddr::{self, Rtnl};
use crate::os::ndp::NdpSocket;
use crate::os::net::{self, Interface};
use crate::os::process;
use crate::os::signals::Signals;

/// Vservers need CAP_NET_ADMIN (their addresses) and CAP_NET_RAW (the ARP
/// packet socket). Without one, `run` stops here, exit 77, before it claims
/// or changes anything: without CAP_NET_ADMIN it would start, volunteer and
/// fail every takeover. (An unreadable capability set is left to the calls
/// that need them.)
pub(super) fn capabilities() -> Result<(), Failure> {
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

/// The control socket at `socket`: 73 if something that is not a socket is
/// there, 71 if a daemon already answers at it.
pub(super) fn control_socket(socket: &Path) -> Result<(UnixListener, SocketFile), Failure> {
    control::listen(socket).map_err(|e| {
        let code = match &e {
            ListenError::NotSocket(_) => EX_CANTCREAT,
            ListenError::Io(io) if io.kind() == io::ErrorKind::PermissionDenied => EX_NOPERM,
            ListenError::Live(_) | ListenError::Io(_) => EX_OSERR,
        };
        Failure {
            code,
            message: format!("control socket {}: {e}", socket.display()),
        }
    })
}

/// The unicast socket on this box's address and the multicast one, both on
/// the cluster interface. The cluster port taken on this box's address is
/// another daemon running as this node: 71, nothing changed.
pub(super) fn cluster_sockets(
    config: &Config,
    me: NodeId,
    iface: &Interface,
) -> Result<(UdpSocket, UdpSocket), Failure> {
    let ifname = config.interface.as_str();
    let my_addr = config
        .nodes
        .get(me as usize)
        .map(|n| n.address)
        .unwrap_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED));
    let port = config.port;
    let at = net::scoped(my_addr, port, iface.index);
    let unicast = net::unicast_socket_ip(my_addr, port, iface.index).map_err(|e| {
        if e.kind() == io::ErrorKind::AddrInUse {
            let name = config.nodes.get(me as usize).map_or("?", |n| n.name.as_str());
            Failure {
                code: EX_OSERR,
                message: format!(
                    "UDP {at} is in use: another bongoyo runs as node {name} on this box (or another program has the port); nothing was changed"
                ),
            }
        } else {
            Failure::os(format_args!("unicast socket {at}"), e)
        }
    })?;
    let group = net::scoped(config.multicast, port, iface.index);
    let multicast = net::multicast_socket_ip(config.multicast, port, iface.index)
        .map_err(|e| Failure::os(format_args!("multicast socket {group} on {ifname}"), e))?;
    Ok((unicast, multicast))
}

/// Start-up (docs/MODEL.md, fencing layer 2 covers the rest): a vserver
/// address found on its interface belongs to an earlier run of this daemon
/// that crashed; nobody renews it, so remove it now instead of in 1-2 s.
pub(super) fn startup_cleanup(config: &Config, rtnl: &mut Rtnl) {
    let found = match ifaddr::list_addresses() {
        Ok(f) => f,
        Err(e) => {
            warn!("startup-cleanup-skipped error={e}");
            return;
        }
    };
    for v in &config.vservers {
        let IpAddr::V4(addr) = v.address else {
            continue;
        };
        for a in found.iter().filter(|a| a.addr == addr) {
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
            let r = ifaddr::ifindex(base).and_then(|i| rtnl.remove_address(i, addr, v.prefix));
            if let Err(e) = r {
                error!("startup-cleanup-failed address={} error={e}", v.address);
            }
        }
    }
    startup_cleanup6(config, rtnl);
}

/// [`startup_cleanup`] for IPv6 vservers: no labels, so an address equal to
/// a vserver's on that vserver's interface is a leftover. Each is simply
/// removed (removing one that is not there is a no-op): no listing needed.
fn startup_cleanup6(config: &Config, rtnl: &mut Rtnl) {
    for v in &config.vservers {
        let IpAddr::V6(addr) = v.address else {
            continue;
        };
        let Ok(ifindex) = ifaddr::ifindex(&v.interface) else {
            continue;
        };
        match rtnl.remove_address6_if_there(ifindex, addr, v.prefix) {
            Ok(true) => info!(
                "startup-cleanup vserver={} address={} label={}",
                v.name,
                addr_text(v),
                v.interface
            ),
            Ok(false) => {}
            Err(e) => error!("startup-cleanup-failed address={} error={e}", v.address),
        }
    }
}

/// One ARP socket per distinct vserver interface, into `work.arps`; where
/// each vserver lives.
pub(super) fn arp_sockets(
    config: &Config,
    work: &mut Work,
) -> Result<heapless::Vec<VsIf, { crate::limits::MAX_VSERVERS }>, Failure> {
    let mut vs_if = heapless::Vec::new();
    for v in &config.vservers {
        let arp = match work.arp_index(&v.interface, v.address) {
            Some(i) => i,
            None => {
                let name = v.interface.as_str();
                let i = net::interface(name)
                    .map_err(|e| Failure::os(format_args!("interface {name}"), e))?;
                let sock = if v.address.is_ipv6() {
                    NdpSocket::open(i.index, i.mac)
                        .map(LinkSock::Ndp)
                        .map_err(|e| {
                            Failure::os(format_args!("neighbour discovery socket on {name}"), e)
                        })?
                } else {
                    ArpSocket::open(i.index, i.mac)
                        .map(LinkSock::Arp)
                        .map_err(|e| Failure::os(format_args!("ARP packet socket on {name}"), e))?
                };
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
    Ok(vs_if)
}

/// Register the cluster sockets, the signalfd, the control listener and the
/// ARP sockets with `poll` under their constant tokens.
pub(super) fn register(
    poll: &Poll,
    multicast: &mut MioUdp,
    unicast: &mut MioUdp,
    signals: &Signals,
    listener: &mut MioListener,
    work: &Work,
) -> Result<(), Failure> {
    let reg = poll.registry();
    let mut r = reg
        .register(multicast, MULTICAST, Interest::READABLE)
        .and_then(|_| reg.register(unicast, UNICAST, Interest::READABLE))
        .and_then(|_| {
            reg.register(
                &mut SourceFd(&std::os::fd::AsRawFd::as_raw_fd(signals)),
                SIGNALS,
                Interest::READABLE,
            )
        })
        .and_then(|_| reg.register(listener, LISTENER, Interest::READABLE));
    for (i, a) in work.arps.iter().enumerate() {
        r = r.and_then(|_| {
            reg.register(
                &mut SourceFd(&std::os::fd::AsRawFd::as_raw_fd(&a.sock)),
                Token(ARP_BASE + i),
                Interest::READABLE,
            )
        });
    }
    r.map_err(|e| Failure::os(format_args!("epoll register"), e))
}

/// The MAC hellos carry: the one that answers ARP for this box's vserver
/// addresses, so the boss can tell which box answers (docs/MODEL.md): the
/// vserver interface's, not necessarily the cluster one's (`cluster_mac`,
/// when there are no vservers). Hellos have room for one MAC; vservers on
/// interfaces with other MACs are reported as answered by "someone else"
/// (logged here).
pub(super) fn answer_mac(work: &Work, cluster_mac: [u8; 6]) -> [u8; 6] {
    let answer_mac = work.arps.first().map_or(cluster_mac, |a| a.sock.mac());
    for a in work.arps.iter().skip(1) {
        if a.sock.mac() != answer_mac {
            warn!(
                "mac-ambiguous interface={} vservers on it are announced with the MAC of {}; the boss cannot tell this box's ARP answers there from the original host's",
                a.name,
                work.arps.first().map_or("?", |f| f.name.as_str())
            );
        }
    }
    answer_mac
}

/// The `start` line, and the warning for an unauthenticated cluster.
pub(super) fn log_start(config: &Config, me: NodeId, incarnation: u64, iface: &Interface) {
    let mac = iface.mac;
    info!(
        "start node={} incarnation={incarnation:016x} interface={} ifindex={} mac={:02x}:{:02x}:{:02x}:{:02x}:{:02x}:{:02x} group={} port={} nodes={} vservers={} quorum={} fencing={} auth={}",
        config.nodes.get(me as usize).map(|n| n.name.as_str()).unwrap_or("?"),
        config.interface.as_str(),
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
}
