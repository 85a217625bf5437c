//! The cluster's UDP sockets and the interface they talk on (docs/MODEL.md).
//!
//! Two sockets, both on the configured port:
//!
//! * the **multicast** socket is bound to `group:port` and joined on the
//!   configured interface (by index, `ip_mreqn`); it only receives;
//! * the **unicast** socket is bound to this box's `address:port`; it
//!   receives messages sent to this box alone (and from `peer`s) and sends
//!   everything, multicast included, so every datagram's source is this
//!   box's own address and port. Multicast leaves by the configured
//!   interface, with TTL 1 (the cluster is one segment) and loopback off (a
//!   box never hears itself).
//!
//! Both are non-blocking and close-on-exec, handed to the shell as
//! `std::net::UdpSocket`s ready for mio. An IPv6 cluster (issue 15) has the
//! same two, `AF_INET6` and IPv6-only: the group joined with `ipv6_mreq`,
//! hop limit 1, loopback off, link-local addresses scoped to the interface.

use core::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddrV4, SocketAddrV6};
use std::ffi::CString;
use std::io;
use std::net::UdpSocket;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};

/// What the shell needs to know about the cluster interface.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub struct Interface {
    /// Kernel interface index.
    pub index: u32,
    /// Hardware address; carried in hellos so the boss can tell which box
    /// answers ARP for an address (docs/MODEL.md).
    pub mac: [u8; 6],
}

fn cvt(rc: libc::c_int) -> io::Result<libc::c_int> {
    if rc < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(rc)
    }
}

/// Look up an interface by name: its index and MAC (`SIOCGIFHWADDR`).
pub fn interface(name: &str) -> io::Result<Interface> {
    let cname = CString::new(name)
        .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "NUL in interface name"))?;
    // SAFETY: `cname` is a valid NUL-terminated string.
    let index = unsafe { libc::if_nametoindex(cname.as_ptr()) };
    if index == 0 {
        return Err(io::Error::last_os_error());
    }
    let sock = udp_fd()?;
    // SAFETY: ifreq is plain old data; all-zero is valid.
    let mut req: libc::ifreq = unsafe { core::mem::zeroed() };
    if name.len() >= req.ifr_name.len() {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            "interface name too long",
        ));
    }
    for (d, s) in req.ifr_name.iter_mut().zip(name.bytes()) {
        *d = s as libc::c_char;
    }
    // The request argument is c_ulong on glibc and c_int on musl: cast to
    // whatever this libc declares.
    // SAFETY: SIOCGIFHWADDR reads and writes one ifreq, which `req` is.
    cvt(unsafe { libc::ioctl(sock.as_raw_fd(), libc::SIOCGIFHWADDR as _, &mut req) })?;
    // SAFETY: after SIOCGIFHWADDR the union holds ifru_hwaddr.
    let sa = unsafe { req.ifr_ifru.ifru_hwaddr };
    let mut mac = [0u8; 6];
    for (d, s) in mac.iter_mut().zip(sa.sa_data.iter()) {
        *d = *s as u8;
    }
    Ok(Interface { index, mac })
}

fn udp_fd() -> io::Result<OwnedFd> {
    udp_fd_of(libc::AF_INET)
}

fn udp_fd_of(family: libc::c_int) -> io::Result<OwnedFd> {
    // SAFETY: plain socket(2) call; the result is checked before use.
    let fd = cvt(unsafe {
        libc::socket(
            family,
            libc::SOCK_DGRAM | libc::SOCK_NONBLOCK | libc::SOCK_CLOEXEC,
            0,
        )
    })?;
    // SAFETY: `fd` is a fresh descriptor this function owns.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

fn setsockopt<T>(fd: RawFd, level: libc::c_int, name: libc::c_int, value: &T) -> io::Result<()> {
    // SAFETY: `value` points to a live T of the length passed.
    cvt(unsafe {
        libc::setsockopt(
            fd,
            level,
            name,
            (value as *const T).cast(),
            core::mem::size_of::<T>() as libc::socklen_t,
        )
    })
    .map(drop)
}

fn sockaddr(addr: SocketAddrV4) -> libc::sockaddr_in {
    libc::sockaddr_in {
        sin_family: libc::AF_INET as libc::sa_family_t,
        sin_port: addr.port().to_be(),
        sin_addr: libc::in_addr {
            s_addr: u32::from(*addr.ip()).to_be(),
        },
        sin_zero: [0; 8],
    }
}

fn bind(fd: RawFd, addr: SocketAddrV4) -> io::Result<()> {
    bind_to(fd, &sockaddr(addr))
}

/// bind(2) to `sa`, a `sockaddr_in` or `sockaddr_in6`.
fn bind_to<T>(fd: RawFd, sa: &T) -> io::Result<()> {
    // SAFETY: `sa` is a live socket address of the length passed.
    cvt(unsafe {
        libc::bind(
            fd,
            (sa as *const T).cast(),
            core::mem::size_of::<T>() as libc::socklen_t,
        )
    })
    .map(drop)
    // A port below 1024 is privileged.
    .map_err(|e| super::needs(e, "CAP_NET_BIND_SERVICE"))
}

fn mreqn(group: Ipv4Addr, ifindex: u32) -> libc::ip_mreqn {
    libc::ip_mreqn {
        imr_multiaddr: libc::in_addr {
            s_addr: u32::from(group).to_be(),
        },
        imr_address: libc::in_addr { s_addr: 0 },
        imr_ifindex: ifindex as libc::c_int,
    }
}

/// Multicast sending options: out of `ifindex`, TTL 1, no loopback.
fn multicast_send_options(fd: RawFd, ifindex: u32) -> io::Result<()> {
    setsockopt(
        fd,
        libc::IPPROTO_IP,
        libc::IP_MULTICAST_IF,
        &mreqn(Ipv4Addr::UNSPECIFIED, ifindex),
    )?;
    setsockopt(
        fd,
        libc::IPPROTO_IP,
        libc::IP_MULTICAST_TTL,
        &(1 as libc::c_int),
    )?;
    setsockopt(
        fd,
        libc::IPPROTO_IP,
        libc::IP_MULTICAST_LOOP,
        &(0 as libc::c_int),
    )
}

/// The receive-only multicast socket: bound to `group:port`, joined on
/// interface `ifindex`.
pub fn multicast_socket(group: Ipv4Addr, port: u16, ifindex: u32) -> io::Result<UdpSocket> {
    let fd = udp_fd()?;
    let raw = fd.as_raw_fd();
    // Several sockets may listen to one group (another daemon in a test, a
    // tcpdump-like tool); binding to the group address keeps unicast out.
    setsockopt(
        raw,
        libc::SOL_SOCKET,
        libc::SO_REUSEADDR,
        &(1 as libc::c_int),
    )?;
    bind(raw, SocketAddrV4::new(group, port))?;
    setsockopt(
        raw,
        libc::IPPROTO_IP,
        libc::IP_ADD_MEMBERSHIP,
        &mreqn(group, ifindex),
    )?;
    // Only the packets of the joined interface: without this Linux delivers
    // the group's packets joined by any socket on any interface.
    setsockopt(
        raw,
        libc::IPPROTO_IP,
        libc::IP_MULTICAST_ALL,
        &(0 as libc::c_int),
    )?;
    multicast_send_options(raw, ifindex)?;
    Ok(UdpSocket::from(fd))
}

/// The unicast socket: bound to this box's `address:port`; sends every
/// datagram, multicast ones out of interface `ifindex`.
pub fn unicast_socket(address: Ipv4Addr, port: u16, ifindex: u32) -> io::Result<UdpSocket> {
    let fd = udp_fd()?;
    let raw = fd.as_raw_fd();
    bind(raw, SocketAddrV4::new(address, port))?;
    multicast_send_options(raw, ifindex)?;
    Ok(UdpSocket::from(fd))
}

/// [`unicast_socket`] or [`unicast_socket6`], by the address's family.
pub fn unicast_socket_ip(address: IpAddr, port: u16, ifindex: u32) -> io::Result<UdpSocket> {
    match address {
        IpAddr::V4(a) => unicast_socket(a, port, ifindex),
        IpAddr::V6(a) => unicast_socket6(a, port, ifindex),
    }
}

/// [`multicast_socket`] or [`multicast_socket6`], by the group's family.
pub fn multicast_socket_ip(group: IpAddr, port: u16, ifindex: u32) -> io::Result<UdpSocket> {
    match group {
        IpAddr::V4(g) => multicast_socket(g, port, ifindex),
        IpAddr::V6(g) => multicast_socket6(g, port, ifindex),
    }
}

/// Where to send to `addr:port` from the cluster interface `ifindex`: a
/// link-local or link-scope multicast IPv6 address needs the interface as
/// its scope.
pub fn scoped(addr: IpAddr, port: u16, ifindex: u32) -> std::net::SocketAddr {
    match addr {
        IpAddr::V4(a) => std::net::SocketAddr::V4(SocketAddrV4::new(a, port)),
        IpAddr::V6(a) => {
            let scope = if needs_scope(a) { ifindex } else { 0 };
            std::net::SocketAddr::V6(SocketAddrV6::new(a, port, 0, scope))
        }
    }
}

/// Link-local unicast (`fe80::/10`) and interface- or link-local multicast
/// (`ff01::/16`, `ff02::/16`) name an interface.
fn needs_scope(a: Ipv6Addr) -> bool {
    a.is_unicast_link_local() || (a.is_multicast() && matches!(a.segments()[0] & 0x000f, 1 | 2))
}

/// Linux's `IPV6_MULTICAST_ALL` (`include/uapi/linux/in6.h`; the libc
/// crate defines it for some targets only).
const IPV6_MULTICAST_ALL: libc::c_int = 29;

fn bind6(fd: RawFd, addr: Ipv6Addr, port: u16, ifindex: u32) -> io::Result<()> {
    let scope = if needs_scope(addr) { ifindex } else { 0 };
    let sa = libc::sockaddr_in6 {
        sin6_family: libc::AF_INET6 as libc::sa_family_t,
        sin6_port: port.to_be(),
        sin6_flowinfo: 0,
        sin6_addr: libc::in6_addr {
            s6_addr: addr.octets(),
        },
        sin6_scope_id: scope,
    };
    bind_to(fd, &sa)
}

/// IPv6 multicast sending options: out of `ifindex`, hop limit 1, no
/// loopback; and IPv6 only (no IPv4-mapped traffic on this socket).
fn multicast_send_options6(fd: RawFd, ifindex: u32) -> io::Result<()> {
    setsockopt(
        fd,
        libc::IPPROTO_IPV6,
        libc::IPV6_V6ONLY,
        &(1 as libc::c_int),
    )?;
    setsockopt(
        fd,
        libc::IPPROTO_IPV6,
        libc::IPV6_MULTICAST_IF,
        &(ifindex as libc::c_int),
    )?;
    setsockopt(
        fd,
        libc::IPPROTO_IPV6,
        libc::IPV6_MULTICAST_HOPS,
        &(1 as libc::c_int),
    )?;
    setsockopt(
        fd,
        libc::IPPROTO_IPV6,
        libc::IPV6_MULTICAST_LOOP,
        &(0 as libc::c_int),
    )
}

/// [`unicast_socket`] for an IPv6 cluster.
pub fn unicast_socket6(address: Ipv6Addr, port: u16, ifindex: u32) -> io::Result<UdpSocket> {
    let fd = udp_fd_of(libc::AF_INET6)?;
    let raw = fd.as_raw_fd();
    multicast_send_options6(raw, ifindex)?;
    bind6(raw, address, port, ifindex)?;
    Ok(UdpSocket::from(fd))
}

/// [`multicast_socket`] for an IPv6 cluster: bound to `[group]:port`,
/// joined on interface `ifindex`, only that interface's packets.
pub fn multicast_socket6(group: Ipv6Addr, port: u16, ifindex: u32) -> io::Result<UdpSocket> {
    let fd = udp_fd_of(libc::AF_INET6)?;
    let raw = fd.as_raw_fd();
    setsockopt(
        raw,
        libc::SOL_SOCKET,
        libc::SO_REUSEADDR,
        &(1 as libc::c_int),
    )?;
    multicast_send_options6(raw, ifindex)?;
    bind6(raw, group, port, ifindex)?;
    let mreq = libc::ipv6_mreq {
        ipv6mr_multiaddr: libc::in6_addr {
            s6_addr: group.octets(),
        },
        ipv6mr_interface: ifindex,
    };
    setsockopt(raw, libc::IPPROTO_IPV6, libc::IPV6_ADD_MEMBERSHIP, &mreq)?;
    setsockopt(
        raw,
        libc::IPPROTO_IPV6,
        IPV6_MULTICAST_ALL,
        &(0 as libc::c_int),
    )?;
    Ok(UdpSocket::from(fd))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loopback_has_an_index_and_a_zero_mac() {
        let lo = interface("lo").unwrap();
        assert!(lo.index > 0);
        assert_eq!(lo.mac, [0; 6]);
        assert!(interface("no-such-if0").is_err());
    }

    #[test]
    fn unicast_socket_binds_nonblocking() {
        let lo = interface("lo").unwrap();
        let s = unicast_socket(Ipv4Addr::LOCALHOST, 0, lo.index).unwrap();
        let mut b = [0u8; 8];
        assert_eq!(
            s.recv_from(&mut b).unwrap_err().kind(),
            io::ErrorKind::WouldBlock
        );
    }
}
