//! ARP on a packet socket: gratuitous ARP after a takeover, and the probe
//! that tells who answers for a vserver address (docs/MODEL.md).
//!
//! An `AF_PACKET`/`SOCK_DGRAM` socket bound to `ETH_P_ARP` on one interface:
//! the kernel adds and strips the Ethernet header, we read and write the
//! 28-byte ARP payload. The socket is non-blocking and registered in the mio
//! loop like any other fd. [`ArpPacket`] is the parsed view; bytes are kept
//! apart from meaning (STYLE: smoltcp's `wire/arp.rs`).

use std::io;
use std::net::Ipv4Addr;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};

/// ARP operation: request.
pub const OP_REQUEST: u16 = 1;
/// ARP operation: reply.
pub const OP_REPLY: u16 = 2;
/// Length of an Ethernet/IPv4 ARP payload.
pub const ARP_LEN: usize = 28;
/// The Ethernet broadcast address.
pub const BROADCAST: [u8; 6] = [0xff; 6];

/// An Ethernet/IPv4 ARP packet, parsed.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub struct ArpPacket {
    /// [`OP_REQUEST`] or [`OP_REPLY`].
    pub op: u16,
    /// Sender hardware address.
    pub sender_mac: [u8; 6],
    /// Sender protocol address.
    pub sender_ip: Ipv4Addr,
    /// Target hardware address.
    pub target_mac: [u8; 6],
    /// Target protocol address.
    pub target_ip: Ipv4Addr,
}

impl ArpPacket {
    /// A gratuitous ARP announcing that `mac` now has `ip`: a request whose
    /// sender and target address are both `ip` (RFC 5227 section 3, "ARP
    /// Announcement"), which updates every neighbour's existing cache entry.
    pub fn gratuitous(mac: [u8; 6], ip: Ipv4Addr) -> ArpPacket {
        ArpPacket {
            op: OP_REQUEST,
            sender_mac: mac,
            sender_ip: ip,
            target_mac: [0; 6],
            target_ip: ip,
        }
    }

    /// An ARP probe for `ip` (RFC 5227 section 2.1.1): sender address 0.0.0.0,
    /// so it asks who has `ip` without putting us in anybody's cache.
    pub fn probe(mac: [u8; 6], ip: Ipv4Addr) -> ArpPacket {
        ArpPacket {
            op: OP_REQUEST,
            sender_mac: mac,
            sender_ip: Ipv4Addr::UNSPECIFIED,
            target_mac: [0; 6],
            target_ip: ip,
        }
    }

    /// The 28 bytes on the wire.
    pub fn emit(&self) -> [u8; ARP_LEN] {
        let mut b = [0u8; ARP_LEN];
        b[0..2].copy_from_slice(&1u16.to_be_bytes()); // Ethernet
        b[2..4].copy_from_slice(&0x0800u16.to_be_bytes()); // IPv4
        b[4] = 6;
        b[5] = 4;
        b[6..8].copy_from_slice(&self.op.to_be_bytes());
        b[8..14].copy_from_slice(&self.sender_mac);
        b[14..18].copy_from_slice(&self.sender_ip.octets());
        b[18..24].copy_from_slice(&self.target_mac);
        b[24..28].copy_from_slice(&self.target_ip.octets());
        b
    }

    /// Parse an ARP payload; `None` unless it is Ethernet/IPv4 ARP.
    pub fn parse(b: &[u8]) -> Option<ArpPacket> {
        if b.len() < ARP_LEN || b[0..2] != [0, 1] || b[2..4] != [8, 0] || b[4] != 6 || b[5] != 4 {
            return None;
        }
        let mac = |at: usize| -> [u8; 6] {
            let mut m = [0u8; 6];
            m.copy_from_slice(&b[at..at + 6]);
            m
        };
        let ip = |at: usize| Ipv4Addr::new(b[at], b[at + 1], b[at + 2], b[at + 3]);
        Some(ArpPacket {
            op: u16::from_be_bytes([b[6], b[7]]),
            sender_mac: mac(8),
            sender_ip: ip(14),
            target_mac: mac(18),
            target_ip: ip(24),
        })
    }

    /// True if this packet answers our probe for `ip`: a reply whose sender
    /// address is `ip`, sent to `our_mac` (RFC 5227 section 2.1.1: a host
    /// answers a probe to the prober's hardware address). Gratuitous
    /// announcements and replies to somebody else are not answers: any host
    /// on the LAN can send those at any time, for any address.
    pub fn answers_probe(&self, ip: Ipv4Addr, our_mac: [u8; 6]) -> bool {
        self.op == OP_REPLY && self.sender_ip == ip && self.target_mac == our_mac
    }
}

/// A non-blocking ARP packet socket bound to one interface.
pub struct ArpSocket {
    fd: OwnedFd,
    ifindex: u32,
    mac: [u8; 6],
}

impl ArpSocket {
    /// Open on interface `ifindex`, whose hardware address is `mac`.
    pub fn open(ifindex: u32, mac: [u8; 6]) -> io::Result<ArpSocket> {
        let proto = (libc::ETH_P_ARP as u16).to_be() as libc::c_int;
        // SAFETY: plain socket(2).
        let fd = unsafe {
            libc::socket(
                libc::AF_PACKET,
                libc::SOCK_DGRAM | libc::SOCK_NONBLOCK | libc::SOCK_CLOEXEC,
                proto,
            )
        };
        if fd < 0 {
            return Err(super::needs(io::Error::last_os_error(), "CAP_NET_RAW"));
        }
        // SAFETY: fresh descriptor, owned from here on.
        let fd = unsafe { OwnedFd::from_raw_fd(fd) };
        let sll = sockaddr_ll(ifindex, [0; 6]);
        // SAFETY: valid sockaddr_ll for the call.
        let r = unsafe {
            libc::bind(
                fd.as_raw_fd(),
                &sll as *const _ as *const libc::sockaddr,
                core::mem::size_of::<libc::sockaddr_ll>() as libc::socklen_t,
            )
        };
        if r < 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(ArpSocket { fd, ifindex, mac })
    }

    /// Our hardware address on this interface.
    pub fn mac(&self) -> [u8; 6] {
        self.mac
    }

    /// Broadcast one ARP packet.
    pub fn send(&self, p: &ArpPacket) -> io::Result<()> {
        self.send_to(p, BROADCAST)
    }

    /// Send one ARP packet to the Ethernet address `dest`.
    pub fn send_to(&self, p: &ArpPacket, dest: [u8; 6]) -> io::Result<()> {
        let bytes = p.emit();
        let to = sockaddr_ll(self.ifindex, dest);
        // SAFETY: buffer and address valid for the call.
        let n = unsafe {
            libc::sendto(
                self.fd.as_raw_fd(),
                bytes.as_ptr() as *const libc::c_void,
                bytes.len(),
                0,
                &to as *const _ as *const libc::sockaddr,
                core::mem::size_of::<libc::sockaddr_ll>() as libc::socklen_t,
            )
        };
        if n < 0 {
            Err(io::Error::last_os_error())
        } else {
            Ok(())
        }
    }

    /// Send a gratuitous ARP for `ip`.
    pub fn announce(&self, ip: Ipv4Addr) -> io::Result<()> {
        self.send(&ArpPacket::gratuitous(self.mac, ip))
    }

    /// Send an ARP probe for `ip`.
    pub fn probe(&self, ip: Ipv4Addr) -> io::Result<()> {
        self.send(&ArpPacket::probe(self.mac, ip))
    }

    /// Read one packet. `Ok(None)`: nothing waiting (`WouldBlock`), or a
    /// packet that is not Ethernet/IPv4 ARP (dropped). Call until `Ok(None)`
    /// after a readiness event; `Err` only for real socket errors.
    pub fn recv(&self) -> io::Result<Option<ArpPacket>> {
        let mut buf = [0u8; 64];
        loop {
            // SAFETY: buf is a valid writable buffer.
            let n = unsafe {
                libc::recv(
                    self.fd.as_raw_fd(),
                    buf.as_mut_ptr() as *mut libc::c_void,
                    buf.len(),
                    0,
                )
            };
            if n >= 0 {
                match ArpPacket::parse(&buf[..n as usize]) {
                    Some(p) => return Ok(Some(p)),
                    None => continue,
                }
            }
            let e = io::Error::last_os_error();
            match e.kind() {
                io::ErrorKind::WouldBlock => return Ok(None),
                io::ErrorKind::Interrupted => continue,
                _ => return Err(e),
            }
        }
    }
}

impl AsRawFd for ArpSocket {
    fn as_raw_fd(&self) -> RawFd {
        self.fd.as_raw_fd()
    }
}

fn sockaddr_ll(ifindex: u32, dest: [u8; 6]) -> libc::sockaddr_ll {
    // SAFETY: sockaddr_ll is plain data; all-zero is a valid value.
    let mut sll: libc::sockaddr_ll = unsafe { core::mem::zeroed() };
    sll.sll_family = libc::AF_PACKET as libc::c_ushort;
    sll.sll_protocol = (libc::ETH_P_ARP as u16).to_be();
    sll.sll_ifindex = ifindex as libc::c_int;
    sll.sll_halen = 6;
    sll.sll_addr[..6].copy_from_slice(&dest);
    sll
}

#[cfg(test)]
mod tests {
    use super::*;

    const MAC: [u8; 6] = [0x02, 0, 0, 0, 0, 0x11];
    const VIP: Ipv4Addr = Ipv4Addr::new(10, 0, 0, 50);
    const OTHER: [u8; 6] = [0x02, 0, 0, 0, 0, 0x22];

    #[test]
    fn round_trip() {
        for p in [ArpPacket::gratuitous(MAC, VIP), ArpPacket::probe(MAC, VIP)] {
            assert_eq!(ArpPacket::parse(&p.emit()), Some(p));
        }
    }

    #[test]
    fn gratuitous_and_probe_shapes() {
        let g = ArpPacket::gratuitous(MAC, VIP).emit();
        assert_eq!(&g[6..8], &[0, 1], "a request");
        assert_eq!(&g[14..18], &g[24..28], "sender ip == target ip");
        let p = ArpPacket::probe(MAC, VIP).emit();
        assert_eq!(&p[14..18], &[0, 0, 0, 0], "probe sender ip is 0.0.0.0");
        // Neither is an answer to a probe, whoever sends it (issue 17: a
        // forged announcement took a vserver off the cluster).
        assert!(!ArpPacket::gratuitous(OTHER, VIP).answers_probe(VIP, MAC));
        assert!(!ArpPacket::probe(OTHER, VIP).answers_probe(VIP, MAC));
    }

    #[test]
    fn rejects_other_packets() {
        let good = ArpPacket::gratuitous(MAC, VIP).emit();
        assert_eq!(ArpPacket::parse(&good[..27]), None);
        for (i, v) in [(0usize, 9u8), (3, 0xdd), (4, 8), (5, 16)] {
            let mut b = good;
            b[i] = v;
            assert_eq!(ArpPacket::parse(&b), None, "byte {i}");
        }
        assert_eq!(ArpPacket::parse(&[]), None);
    }

    #[test]
    fn only_replies_to_our_probe_answer_it() {
        let reply = ArpPacket {
            op: OP_REPLY,
            sender_mac: OTHER,
            sender_ip: VIP,
            target_mac: MAC,
            target_ip: Ipv4Addr::UNSPECIFIED,
        };
        assert!(reply.answers_probe(VIP, MAC));
        assert!(!reply.answers_probe(Ipv4Addr::new(10, 0, 0, 51), MAC));
        // Sent to somebody else (a broadcast "is-at", or another prober's).
        for target_mac in [[0; 6], BROADCAST, [2, 0, 0, 0, 0, 9]] {
            let r = ArpPacket {
                target_mac,
                ..reply
            };
            assert!(!r.answers_probe(VIP, MAC), "{target_mac:?}");
        }
        let request = ArpPacket {
            op: OP_REQUEST,
            ..reply
        };
        assert!(!request.answers_probe(VIP, MAC));
    }
}
