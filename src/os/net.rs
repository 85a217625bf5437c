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
//! `std::net::UdpSocket`s ready for mio.

use core::net::{Ipv4Addr, SocketAddrV4};
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
    // SAFETY: plain socket(2) call; the result is checked before use.
    let fd = cvt(unsafe {
        libc::socket(
            libc::AF_INET,
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
    let sa = sockaddr(addr);
    // SAFETY: `sa` is a valid sockaddr_in of the length passed.
    cvt(unsafe {
        libc::bind(
            fd,
            (&sa as *const libc::sockaddr_in).cast(),
            core::mem::size_of::<libc::sockaddr_in>() as libc::socklen_t,
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
