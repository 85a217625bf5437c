//! IPv6 Neighbour Discovery on a raw ICMPv6 socket: the unsolicited
//! Neighbour Advertisement after a takeover, and the Neighbour Solicitation
//! that tells who answers for a vserver address (RFC 4861). The IPv6 twin
//! of [`super::arp`].
//!
//! A `SOCK_RAW`/`IPPROTO_ICMPV6` socket bound to one interface
//! (`SO_BINDTODEVICE`): the kernel adds and strips the IPv6 header, fills
//! in the source address (the interface's link-local address, since every
//! destination here is link-local multicast) and computes and checks the
//! ICMPv6 checksum; we read and write the ICMPv6 message. Hop limit 255 on
//! everything we send and on everything we believe (RFC 4861 sections 7.1
//! and 7.2.2: a packet that crossed a router cannot claim 255). The socket
//! is non-blocking and registered in the mio loop like any other fd.
//!
//! Bytes on the wire (RFC 4861 sections 4.3, 4.4 and 4.6.1), offsets from
//! the start of the ICMPv6 message:
//!
//! | offset | NS (135)                  | NA (136)                       |
//! |--------|---------------------------|--------------------------------|
//! | 0      | type 135                  | type 136                       |
//! | 1      | code 0                    | code 0                         |
//! | 2..4   | checksum (kernel)         | checksum (kernel)              |
//! | 4..8   | reserved, 0               | flags R S O in byte 4, rest 0  |
//! | 8..24  | target address            | target address                 |
//! | 24..   | options: Source LLA (1)   | options: Target LLA (2)        |
//!
//! An option is type, length in units of 8 bytes (0 is malformed), data;
//! a link-layer address option for Ethernet is 8 bytes: type, 1, the MAC.
//! [`NaPacket`] is the parsed view; bytes are kept apart from meaning.

use std::io;
use std::net::Ipv6Addr;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};

/// ICMPv6 type of a Neighbour Solicitation.
pub const TYPE_NS: u8 = 135;
/// ICMPv6 type of a Neighbour Advertisement.
pub const TYPE_NA: u8 = 136;
/// Length of the NS we send: header, target, Source LLA option.
pub const NS_LEN: usize = 32;
/// Length of the NA we send: header, target, Target LLA option.
pub const NA_LEN: usize = 32;
/// The shortest valid NA: header and target, no option (RFC 4861 7.1.2).
pub const NA_MIN_LEN: usize = 24;
/// NA flag: the sender is a router.
pub const FLAG_ROUTER: u8 = 0x80;
/// NA flag: an answer to a solicitation.
pub const FLAG_SOLICITED: u8 = 0x40;
/// NA flag: replace the link-layer address a neighbour has cached.
pub const FLAG_OVERRIDE: u8 = 0x20;
/// The only hop limit Neighbour Discovery sends or believes (RFC 4861 7.1).
pub const HOP_LIMIT: u8 = 255;
/// The link-local all-nodes address, where an unsolicited NA goes.
pub const ALL_NODES: Ipv6Addr = Ipv6Addr::new(0xff02, 0, 0, 0, 0, 0, 0, 1);

/// Option type: Source Link-Layer Address.
const OPT_SOURCE_LLA: u8 = 1;
/// Option type: Target Link-Layer Address.
const OPT_TARGET_LLA: u8 = 2;
/// Offset of the options, after header and target.
const OPTIONS_AT: usize = 24;
/// `ICMP6_FILTER` (linux/icmpv6.h); the libc crate does not have it.
const ICMP6_FILTER: libc::c_int = 1;
/// Receive buffer: a full Ethernet payload; anything longer is dropped
/// (truncated options cannot be checked).
const RECV_LEN: usize = 1500;

/// The solicited-node multicast address of `addr` (RFC 4291 section
/// 2.7.1): `ff02::1:ff00:0/104` with the low 24 bits of `addr`. Every node
/// joins it for each of its addresses, so a solicitation sent there
/// reaches the holder without waking every node on the link.
pub fn solicited_node(addr: Ipv6Addr) -> Ipv6Addr {
    let o = addr.octets();
    let mut s = [0u8; 16];
    s[0] = 0xff;
    s[1] = 0x02;
    s[11] = 0x01;
    s[12] = 0xff;
    s[13..16].copy_from_slice(&o[13..16]);
    Ipv6Addr::from(s)
}

/// A Neighbour Solicitation for `target` with a Source Link-Layer Address
/// option carrying `mac` (RFC 4861 section 4.3), checksum left 0 for the
/// kernel. The option matters: Linux answers a multicast solicitation from
/// a unicast source only when it says where to send the answer.
pub fn ns_body(target: Ipv6Addr, mac: [u8; 6]) -> [u8; NS_LEN] {
    let mut b = [0u8; NS_LEN];
    b[0] = TYPE_NS;
    b[8..24].copy_from_slice(&target.octets());
    b[24] = OPT_SOURCE_LLA;
    b[25] = 1;
    b[26..32].copy_from_slice(&mac);
    b
}

/// A Neighbour Advertisement for `target` with `flags` (any of
/// [`FLAG_ROUTER`], [`FLAG_SOLICITED`], [`FLAG_OVERRIDE`]) and a Target
/// Link-Layer Address option carrying `mac` (RFC 4861 section 4.4),
/// checksum left 0 for the kernel.
pub fn na_body(target: Ipv6Addr, mac: [u8; 6], flags: u8) -> [u8; NA_LEN] {
    let mut b = [0u8; NA_LEN];
    b[0] = TYPE_NA;
    b[4] = flags & (FLAG_ROUTER | FLAG_SOLICITED | FLAG_OVERRIDE);
    b[8..24].copy_from_slice(&target.octets());
    b[24] = OPT_TARGET_LLA;
    b[25] = 1;
    b[26..32].copy_from_slice(&mac);
    b
}

/// A Neighbour Advertisement, parsed.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub struct NaPacket {
    /// The address advertised.
    pub target: Ipv6Addr,
    /// The MAC in the Target Link-Layer Address option, if any (the first
    /// one: Linux too ignores a repeated option).
    pub mac: Option<[u8; 6]>,
    /// S: an answer to a solicitation.
    pub solicited: bool,
    /// O: replaces a cached link-layer address.
    pub override_: bool,
    /// R: the sender is a router.
    pub router: bool,
}

impl NaPacket {
    /// Parse an ICMPv6 message; `None` unless it is a valid NA by the
    /// checks of RFC 4861 section 7.1.2 that need only its bytes: type 136,
    /// code 0, at least 24 bytes, a target that is not multicast, and
    /// options that exactly fill the rest, none of length 0. A Target LLA
    /// option of another length than Ethernet's is not ours to read: no MAC.
    pub fn parse(b: &[u8]) -> Option<NaPacket> {
        if b.len() < NA_MIN_LEN || b[0] != TYPE_NA || b[1] != 0 {
            return None;
        }
        let mut t = [0u8; 16];
        t.copy_from_slice(&b[8..24]);
        let target = Ipv6Addr::from(t);
        if target.is_multicast() {
            return None;
        }
        let mut mac = None;
        let mut at = OPTIONS_AT;
        while at < b.len() {
            let len = 8 * usize::from(*b.get(at + 1)?);
            if len == 0 || b.len() - at < len {
                return None;
            }
            if b[at] == OPT_TARGET_LLA && len == 8 && mac.is_none() {
                let mut m = [0u8; 6];
                m.copy_from_slice(&b[at + 2..at + 8]);
                mac = Some(m);
            }
            at += len;
        }
        Some(NaPacket {
            target,
            mac,
            solicited: b[4] & FLAG_SOLICITED != 0,
            override_: b[4] & FLAG_OVERRIDE != 0,
            router: b[4] & FLAG_ROUTER != 0,
        })
    }

    /// [`NaPacket::parse`] plus the checks that need the IPv6 header (RFC
    /// 4861 section 7.1.2): it arrived with hop limit 255 (it was not
    /// forwarded by a router: the rule that keeps Neighbour Discovery to
    /// one link), and, sent to a multicast `dest`, its Solicited flag is
    /// clear (answers go to the asker alone).
    pub fn received(b: &[u8], hop_limit: u8, dest: Ipv6Addr) -> Option<NaPacket> {
        let p = NaPacket::parse(b)?;
        if hop_limit != HOP_LIMIT || (dest.is_multicast() && p.solicited) {
            return None;
        }
        Some(p)
    }

    /// True if this advertisement answers our probe for `target`: a
    /// solicited NA for `target` that names the holder's MAC (RFC 4861
    /// 7.2.4: the answer to a multicast solicitation must carry it).
    /// Unsolicited advertisements are not answers, whoever sends them: any
    /// host on the LAN can send those at any time, for any address (the
    /// rule `ArpPacket::answers_probe` keeps for gratuitous ARP).
    pub fn answers_probe(&self, target: Ipv6Addr) -> bool {
        self.solicited && self.target == target && self.mac.is_some()
    }
}

/// A non-blocking raw ICMPv6 socket bound to one interface that sends
/// Neighbour Solicitations and Advertisements and receives only
/// Advertisements.
pub struct NdpSocket {
    fd: OwnedFd,
    ifindex: u32,
    mac: [u8; 6],
}

impl NdpSocket {
    /// Open on interface `ifindex`, whose hardware address is `mac`.
    pub fn open(ifindex: u32, mac: [u8; 6]) -> io::Result<NdpSocket> {
        // SAFETY: plain socket(2).
        let fd = unsafe {
            libc::socket(
                libc::AF_INET6,
                libc::SOCK_RAW | libc::SOCK_NONBLOCK | libc::SOCK_CLOEXEC,
                libc::IPPROTO_ICMPV6,
            )
        };
        if fd < 0 {
            return Err(super::needs(io::Error::last_os_error(), "CAP_NET_RAW"));
        }
        // SAFETY: fresh descriptor, owned from here on.
        let fd = unsafe { OwnedFd::from_raw_fd(fd) };
        let raw = fd.as_raw_fd();
        // Only Neighbour Advertisements reach us. On Linux a set bit
        // blocks its type (the BSDs read the bits the other way round).
        let mut filter = [u32::MAX; 8];
        filter[usize::from(TYPE_NA >> 5)] &= !(1u32 << (TYPE_NA & 31));
        setsockopt(raw, libc::IPPROTO_ICMPV6, ICMP6_FILTER, &filter)?;
        let name = ifname(ifindex)?;
        // SAFETY: `name` is a live buffer of the length passed.
        let r = unsafe {
            libc::setsockopt(
                raw,
                libc::SOL_SOCKET,
                libc::SO_BINDTODEVICE,
                name.as_ptr().cast(),
                name.len() as libc::socklen_t,
            )
        };
        if r < 0 {
            return Err(super::needs(io::Error::last_os_error(), "CAP_NET_RAW"));
        }
        let hops: libc::c_int = HOP_LIMIT.into();
        setsockopt(raw, libc::IPPROTO_IPV6, libc::IPV6_UNICAST_HOPS, &hops)?;
        setsockopt(raw, libc::IPPROTO_IPV6, libc::IPV6_MULTICAST_HOPS, &hops)?;
        // Our own multicasts are not looped back: this box's kernel does
        // not hear our probe (an ARP probe on a packet socket does not
        // reach it either) and we do not hear our own announcements.
        setsockopt(raw, libc::IPPROTO_IPV6, libc::IPV6_MULTICAST_LOOP, &0)?;
        setsockopt(raw, libc::IPPROTO_IPV6, libc::IPV6_RECVHOPLIMIT, &1)?;
        setsockopt(raw, libc::IPPROTO_IPV6, libc::IPV6_RECVPKTINFO, &1)?;
        Ok(NdpSocket { fd, ifindex, mac })
    }

    /// Our hardware address on this interface.
    pub fn mac(&self) -> [u8; 6] {
        self.mac
    }

    /// Send a Neighbour Solicitation for `target` to its solicited-node
    /// address: a holder answers with a solicited NA naming its MAC, to
    /// our link-local address. `EADDRNOTAVAIL` while the interface has no
    /// link-local address past duplicate address detection.
    pub fn probe(&self, target: Ipv6Addr) -> io::Result<()> {
        self.send_to(&ns_body(target, self.mac), solicited_node(target))
    }

    /// Send an unsolicited Neighbour Advertisement that `addr` is at our
    /// MAC to all nodes, with Override set (RFC 4861 section 7.2.6), which
    /// updates every neighbour's existing cache entry.
    pub fn announce(&self, addr: Ipv6Addr) -> io::Result<()> {
        self.send_to(&na_body(addr, self.mac, FLAG_OVERRIDE), ALL_NODES)
    }

    fn send_to(&self, body: &[u8], dest: Ipv6Addr) -> io::Result<()> {
        let to = sockaddr_in6(dest, self.ifindex);
        // SAFETY: buffer and address valid for the call.
        let n = unsafe {
            libc::sendto(
                self.fd.as_raw_fd(),
                body.as_ptr().cast(),
                body.len(),
                0,
                (&to as *const libc::sockaddr_in6).cast(),
                core::mem::size_of::<libc::sockaddr_in6>() as libc::socklen_t,
            )
        };
        if n < 0 {
            Err(io::Error::last_os_error())
        } else {
            Ok(())
        }
    }

    /// Read one Neighbour Advertisement. `Ok(None)`: nothing waiting
    /// (`WouldBlock`); invalid packets ([`NaPacket::received`], or too long
    /// to check whole) are dropped. Call until `Ok(None)` after a readiness
    /// event; `Err` only for real socket errors.
    pub fn recv(&self) -> io::Result<Option<NaPacket>> {
        let mut buf = [0u8; RECV_LEN];
        let mut control = Control([0; 128]);
        loop {
            let mut iov = libc::iovec {
                iov_base: buf.as_mut_ptr().cast(),
                iov_len: buf.len(),
            };
            // SAFETY: msghdr is plain data; all-zero is a valid value.
            let mut msg: libc::msghdr = unsafe { core::mem::zeroed() };
            msg.msg_iov = &mut iov;
            msg.msg_iovlen = 1;
            msg.msg_control = control.0.as_mut_ptr().cast();
            // usize on glibc, socklen_t on musl: whatever this libc says.
            msg.msg_controllen = control.0.len() as _;
            // SAFETY: `msg` points at `iov` and `control`, both live and
            // writable for the lengths given.
            let n = unsafe { libc::recvmsg(self.fd.as_raw_fd(), &mut msg, 0) };
            if n >= 0 {
                if msg.msg_flags & (libc::MSG_TRUNC | libc::MSG_CTRUNC) != 0 {
                    continue;
                }
                let Some((hop_limit, dest)) = ancillary(&msg) else {
                    continue;
                };
                match NaPacket::received(&buf[..n as usize], hop_limit, dest) {
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

impl AsRawFd for NdpSocket {
    fn as_raw_fd(&self) -> RawFd {
        self.fd.as_raw_fd()
    }
}

/// Room for the control messages `recv` asks for, aligned as `cmsghdr`.
#[repr(C, align(8))]
struct Control([u8; 128]);

/// The hop limit and destination address of a received packet, from its
/// `IPV6_HOPLIMIT` and `IPV6_PKTINFO` control messages; `None` if either is
/// missing (then it cannot be checked, so it is not believed).
fn ancillary(msg: &libc::msghdr) -> Option<(u8, Ipv6Addr)> {
    let mut hop_limit = None;
    let mut dest = None;
    // SAFETY: `msg` was filled by recvmsg; the CMSG_* walk stays inside
    // its control buffer, and each payload is read unaligned at the
    // length the kernel gives that message type.
    unsafe {
        let mut c = libc::CMSG_FIRSTHDR(msg);
        while !c.is_null() {
            let data = libc::CMSG_DATA(c);
            if (*c).cmsg_level == libc::IPPROTO_IPV6 {
                match (*c).cmsg_type {
                    libc::IPV6_HOPLIMIT => {
                        let h = core::ptr::read_unaligned(data as *const libc::c_int);
                        hop_limit = u8::try_from(h).ok();
                    }
                    libc::IPV6_PKTINFO => {
                        let i = core::ptr::read_unaligned(data as *const libc::in6_pktinfo);
                        dest = Some(Ipv6Addr::from(i.ipi6_addr.s6_addr));
                    }
                    _ => {}
                }
            }
            c = libc::CMSG_NXTHDR(msg, c);
        }
    }
    Some((hop_limit?, dest?))
}

/// The name of interface `ifindex`, NUL-terminated, for `SO_BINDTODEVICE`.
fn ifname(ifindex: u32) -> io::Result<[libc::c_char; libc::IF_NAMESIZE]> {
    let mut name = [0 as libc::c_char; libc::IF_NAMESIZE];
    // SAFETY: `name` has the IF_NAMESIZE bytes if_indextoname writes.
    let r = unsafe { libc::if_indextoname(ifindex, name.as_mut_ptr()) };
    if r.is_null() {
        Err(io::Error::last_os_error())
    } else {
        Ok(name)
    }
}

fn setsockopt<T>(fd: RawFd, level: libc::c_int, name: libc::c_int, value: &T) -> io::Result<()> {
    // SAFETY: `value` points to a live T of the length passed.
    let r = unsafe {
        libc::setsockopt(
            fd,
            level,
            name,
            (value as *const T).cast(),
            core::mem::size_of::<T>() as libc::socklen_t,
        )
    };
    if r < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(())
    }
}

/// `dest` on interface `ifindex`: the scope of a link-local multicast
/// address names the interface it leaves by.
fn sockaddr_in6(dest: Ipv6Addr, ifindex: u32) -> libc::sockaddr_in6 {
    // SAFETY: sockaddr_in6 is plain data; all-zero is a valid value.
    let mut sa: libc::sockaddr_in6 = unsafe { core::mem::zeroed() };
    sa.sin6_family = libc::AF_INET6 as libc::sa_family_t;
    sa.sin6_addr.s6_addr = dest.octets();
    sa.sin6_scope_id = ifindex;
    sa
}

#[cfg(test)]
mod tests {
    use super::*;

    const MAC: [u8; 6] = [0x02, 0, 0, 0, 0, 0x11];
    const VIP: Ipv6Addr = Ipv6Addr::new(0xfd66, 0, 0, 0, 0, 0, 0x1234, 0x5678);
    const LINK_LOCAL: Ipv6Addr = Ipv6Addr::new(0xfe80, 0, 0, 0, 0, 0, 0, 1);

    fn na(flags: u8) -> [u8; NA_LEN] {
        na_body(VIP, MAC, flags)
    }

    #[test]
    fn solicited_node_keeps_the_low_24_bits() {
        assert_eq!(
            solicited_node(VIP),
            "ff02::1:ff34:5678".parse::<Ipv6Addr>().unwrap()
        );
        assert_eq!(
            solicited_node("2001:db8::abcd:ef01:2345".parse().unwrap()),
            "ff02::1:ff01:2345".parse::<Ipv6Addr>().unwrap()
        );
        assert_eq!(
            solicited_node(Ipv6Addr::UNSPECIFIED),
            "ff02::1:ff00:0".parse::<Ipv6Addr>().unwrap()
        );
    }

    #[test]
    fn ns_bytes() {
        #[rustfmt::skip]
        let want: [u8; NS_LEN] = [
            135, 0, 0, 0,                    // type, code, checksum
            0, 0, 0, 0,                      // reserved
            0xfd, 0x66, 0, 0, 0, 0, 0, 0,    // target
            0, 0, 0, 0, 0x12, 0x34, 0x56, 0x78,
            1, 1, 0x02, 0, 0, 0, 0, 0x11,    // Source LLA, 8 bytes, MAC
        ];
        assert_eq!(ns_body(VIP, MAC), want);
    }

    #[test]
    fn na_bytes() {
        #[rustfmt::skip]
        let want: [u8; NA_LEN] = [
            136, 0, 0, 0,                    // type, code, checksum
            0x20, 0, 0, 0,                   // R=0 S=0 O=1, reserved
            0xfd, 0x66, 0, 0, 0, 0, 0, 0,    // target
            0, 0, 0, 0, 0x12, 0x34, 0x56, 0x78,
            2, 1, 0x02, 0, 0, 0, 0, 0x11,    // Target LLA, 8 bytes, MAC
        ];
        assert_eq!(na(FLAG_OVERRIDE), want);
        assert_eq!(na(FLAG_ROUTER | FLAG_SOLICITED)[4], 0xc0);
        assert_eq!(na(0xff)[4..8], [0xe0, 0, 0, 0], "reserved bits stay 0");
    }

    #[test]
    fn round_trip() {
        for flags in 0..8u8 {
            let flags = flags << 5;
            let p = NaPacket::parse(&na(flags)).expect("parses");
            assert_eq!(
                p,
                NaPacket {
                    target: VIP,
                    mac: Some(MAC),
                    solicited: flags & FLAG_SOLICITED != 0,
                    override_: flags & FLAG_OVERRIDE != 0,
                    router: flags & FLAG_ROUTER != 0,
                }
            );
        }
        // Without options: no MAC, still an NA.
        let p = NaPacket::parse(&na(FLAG_SOLICITED)[..NA_MIN_LEN]).expect("parses");
        assert_eq!(p.mac, None);
        assert!(!p.answers_probe(VIP));
    }

    #[test]
    fn several_options() {
        let mut b = [0u8; 64];
        b[..24].copy_from_slice(&na(FLAG_SOLICITED)[..24]);
        // A nonce (RFC 3971, type 14, 8 bytes), an unknown 16-byte option,
        // the Target LLA, then a second Target LLA that is ignored.
        b[24..32].copy_from_slice(&[14, 1, 1, 2, 3, 4, 5, 6]);
        b[32] = 200;
        b[33] = 2;
        b[48..56].copy_from_slice(&[2, 1, 0x02, 0, 0, 0, 0, 0x22]);
        b[56..64].copy_from_slice(&[2, 1, 0x02, 0, 0, 0, 0, 0x33]);
        let p = NaPacket::parse(&b).expect("parses");
        assert_eq!(p.mac, Some([0x02, 0, 0, 0, 0, 0x22]));
        // A Source LLA option is not the target's address; a Target LLA
        // of another length is not an Ethernet MAC.
        b[48] = 1;
        b[56..64].copy_from_slice(&[14, 1, 0, 0, 0, 0, 0, 0]);
        assert_eq!(NaPacket::parse(&b).expect("parses").mac, None);
        b[32..48].copy_from_slice(&[2, 2, 0x02, 0, 0, 0, 0, 0x44, 0, 0, 0, 0, 0, 0, 0, 0]);
        assert_eq!(NaPacket::parse(&b).expect("parses").mac, None);
    }

    #[test]
    fn rejects_malformed() {
        let good = na(FLAG_OVERRIDE);
        assert_eq!(NaPacket::parse(&[]), None);
        for n in 0..NA_MIN_LEN {
            assert_eq!(NaPacket::parse(&good[..n]), None, "{n} bytes");
        }
        // An option cut short, or a lone byte where an option starts.
        for n in NA_MIN_LEN + 1..NA_LEN {
            assert_eq!(NaPacket::parse(&good[..n]), None, "{n} bytes");
        }
        for (i, v) in [
            (0usize, TYPE_NS),
            (0, 129),
            (1, 1),
            (25, 0),
            (25, 2),
            (8, 0xff),
        ] {
            let mut b = good;
            b[i] = v;
            assert_eq!(NaPacket::parse(&b), None, "byte {i} = {v}");
        }
        // Reserved bits and the checksum are not ours to judge.
        let mut b = good;
        b[2] = 0x12;
        b[5] = 0xff;
        assert!(NaPacket::parse(&b).is_some());
        // A zero-length option after a good one.
        let mut long = [0u8; 40];
        long[..32].copy_from_slice(&good);
        long[32] = 14;
        assert_eq!(NaPacket::parse(&long), None);
    }

    #[test]
    fn hop_limit_and_destination_checks() {
        let s = na(FLAG_SOLICITED | FLAG_OVERRIDE);
        let u = na(FLAG_OVERRIDE);
        assert!(NaPacket::received(&s, 255, LINK_LOCAL).is_some());
        assert!(NaPacket::received(&u, 255, ALL_NODES).is_some());
        for h in [0, 1, 64, 254] {
            assert_eq!(NaPacket::received(&s, h, LINK_LOCAL), None, "hop {h}");
        }
        // An answer is sent to the asker, never multicast.
        assert_eq!(NaPacket::received(&s, 255, ALL_NODES), None);
        assert_eq!(NaPacket::received(&s[..3], 255, LINK_LOCAL), None);
    }

    #[test]
    fn only_solicited_answers_with_a_mac_answer_a_probe() {
        let answer = NaPacket::parse(&na(FLAG_SOLICITED | FLAG_OVERRIDE)).unwrap();
        assert!(answer.answers_probe(VIP));
        assert!(!answer.answers_probe(LINK_LOCAL));
        // An announcement is not an answer, whoever sends it.
        let announcement = NaPacket::parse(&na(FLAG_OVERRIDE)).unwrap();
        assert!(!announcement.answers_probe(VIP));
        let no_mac = NaPacket {
            mac: None,
            ..answer
        };
        assert!(!no_mac.answers_probe(VIP));
    }
}
