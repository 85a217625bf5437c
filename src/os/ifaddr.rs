//! Interface addresses: the vserver alias (SIOCSIFADDR family of ioctls), its
//! kernel lifetime (rtnetlink), and the list of addresses a box already has.
//!
//! Fencing layer 2 (docs/MODEL.md) lives here: after the ioctl adds the
//! address, [`set_lifetime`] gives it a valid and preferred lifetime in whole
//! seconds through an `RTM_NEWADDR` with `NLM_F_REPLACE`. The daemon renews it
//! every hello while its lease holds; a daemon that is killed or frozen stops
//! renewing and the kernel's own address-lifetime worker removes the address
//! 1-2 s later (the kernel counts lifetimes in whole seconds, rounding down
//! the age, so a 1 s lifetime ends between 1 and 2 s after the last renewal).
//!
//! IPv6 vserver addresses (issue 15) go through the same rtnetlink socket
//! only: [`Rtnl::add_address6`] adds one with its lifetime in one request,
//! without duplicate address detection; [`Rtnl::set_lifetime6`] renews it,
//! [`Rtnl::remove_address6`] removes it and [`Rtnl::list_addresses6`] lists
//! what the kernel has. IPv6 has no alias labels: an address is named by
//! its interface index.

use std::io;
use std::net::{Ipv4Addr, Ipv6Addr};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::time::Duration;

use heapless::{String, Vec};

use crate::limits::MAX_IFNAME;

/// Bytes in a kernel interface name, NUL included (IFNAMSIZ).
const IFNAMSIZ: usize = 16;

/// `struct ifreq` with the address member of its union. 40 bytes: as large as
/// the kernel's `struct ifreq` on every 64- and 32-bit target, so the kernel
/// never reads past it.
#[repr(C)]
struct IfReqAddr {
    name: [u8; IFNAMSIZ],
    addr: libc::sockaddr_in,
    _pad: [u8; 8],
}

/// `struct ifreq` with the flags member of its union.
#[repr(C)]
struct IfReqFlags {
    name: [u8; IFNAMSIZ],
    flags: libc::c_short,
    _pad: [u8; 22],
}

fn ifname_bytes(name: &str) -> io::Result<[u8; IFNAMSIZ]> {
    let b = name.as_bytes();
    if b.is_empty() || b.len() >= IFNAMSIZ || b.contains(&0) {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            "bad interface name",
        ));
    }
    let mut out = [0u8; IFNAMSIZ];
    out[..b.len()].copy_from_slice(b);
    Ok(out)
}

fn sockaddr(addr: Ipv4Addr) -> libc::sockaddr_in {
    libc::sockaddr_in {
        sin_family: libc::AF_INET as libc::sa_family_t,
        sin_port: 0,
        sin_addr: libc::in_addr {
            s_addr: u32::from(addr).to_be(),
        },
        sin_zero: [0; 8],
    }
}

/// An `AF_INET` datagram socket: the handle the interface ioctls go through.
fn inet_socket() -> io::Result<OwnedFd> {
    // SAFETY: plain socket(2); the fd is owned at once.
    let fd = unsafe { libc::socket(libc::AF_INET, libc::SOCK_DGRAM | libc::SOCK_CLOEXEC, 0) };
    if fd < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: fd is a fresh, valid descriptor nobody else owns.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

/// One ioctl on an interface request. `req` is the request number; its C type
/// differs between libcs (musl: `c_int`, glibc: `c_ulong`), hence the cast.
///
/// # Safety
///
/// `T` must have the C layout the kernel reads and writes for `req` (an
/// `ifreq` with the union member `req` uses, or an `ifconf` whose buffer
/// pointer and length describe live memory), and be at least as large.
unsafe fn ioctl<T>(fd: &OwnedFd, req: libc::c_ulong, arg: &mut T) -> io::Result<()> {
    // SAFETY: the caller vouches that `arg` has the layout `req` expects;
    // it is borrowed mutably, so live and unaliased for the call.
    let r = unsafe { libc::ioctl(fd.as_raw_fd(), req as _, arg as *mut T) };
    if r < 0 {
        // Only the setting requests can be refused.
        Err(super::needs(io::Error::last_os_error(), "CAP_NET_ADMIN"))
    } else {
        Ok(())
    }
}

/// Set one address of interface `name` with `req`.
///
/// # Safety
///
/// `req` must be a request that takes an `ifreq` holding a `sockaddr`
/// (SIOCSIFADDR, SIOCSIFNETMASK, SIOCSIFBRDADDR).
unsafe fn set_addr(fd: &OwnedFd, name: &str, req: libc::c_ulong, addr: Ipv4Addr) -> io::Result<()> {
    let mut r = IfReqAddr {
        name: ifname_bytes(name)?,
        addr: sockaddr(addr),
        _pad: [0; 8],
    };
    // SAFETY: `IfReqAddr` is an `ifreq` with a `sockaddr_in` member, which
    // the caller vouches `req` takes.
    unsafe { ioctl(fd, req, &mut r) }
}

/// The netmask of a prefix length (0..=32).
pub fn netmask(prefix: u8) -> Ipv4Addr {
    let p = prefix.min(32) as u32;
    Ipv4Addr::from(if p == 0 { 0 } else { u32::MAX << (32 - p) })
}

/// The broadcast address of `addr/prefix`.
pub fn broadcast(addr: Ipv4Addr, prefix: u8) -> Ipv4Addr {
    Ipv4Addr::from(u32::from(addr) | !u32::from(netmask(prefix)))
}

/// Add `addr/prefix` as the address of `label` (an alias label `eth0:N`, or
/// the interface itself for `dedicated`) with SIOCSIFADDR, SIOCSIFNETMASK,
/// SIOCSIFBRDADDR, then bring the label up with SIOCSIFFLAGS.
///
/// Also turns on `promote_secondaries` for the interface: without it, removing
/// the first address of a subnet (the "primary", which a vserver address is
/// when the box has no address of its own in that subnet) silently removes
/// every other vserver address in that subnet with it.
pub fn add_alias(label: &str, addr: Ipv4Addr, prefix: u8) -> io::Result<()> {
    let base = label.split(':').next().unwrap_or(label);
    // Best effort: a box without /proc still gets its alias.
    let _ = promote_secondaries(base);
    let fd = inet_socket()?;
    // SAFETY: each of these requests takes an `ifreq` holding a `sockaddr`.
    unsafe {
        set_addr(&fd, label, libc::SIOCSIFADDR as _, addr)?;
        set_addr(&fd, label, libc::SIOCSIFNETMASK as _, netmask(prefix))?;
        if prefix < 31 {
            set_addr(
                &fd,
                label,
                libc::SIOCSIFBRDADDR as _,
                broadcast(addr, prefix),
            )?;
        }
    }
    let mut f = IfReqFlags {
        name: ifname_bytes(label)?,
        flags: 0,
        _pad: [0; 22],
    };
    // SAFETY: SIOCGIFFLAGS and SIOCSIFFLAGS take an `ifreq` holding the
    // flags, which `IfReqFlags` is.
    unsafe { ioctl(&fd, libc::SIOCGIFFLAGS as _, &mut f)? };
    f.flags |= libc::IFF_UP as libc::c_short;
    // SAFETY: as above.
    unsafe { ioctl(&fd, libc::SIOCSIFFLAGS as _, &mut f) }
}

/// Set `net.ipv4.conf.IFACE.promote_secondaries = 1` (see [`add_alias`]).
pub fn promote_secondaries(ifname: &str) -> io::Result<()> {
    ifname_bytes(ifname)?;
    if ifname.contains('/') || ifname.starts_with('.') {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            "bad interface name",
        ));
    }
    let mut path: String<64> = String::new();
    use core::fmt::Write;
    write!(path, "/proc/sys/net/ipv4/conf/{ifname}/promote_secondaries")
        .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "bad interface name"))?;
    std::fs::write(path.as_str(), b"1")
}

/// An rtnetlink socket for address requests, opened once and kept: the
/// daemon renews every held address's lifetime every hello, and a socket
/// per request cost three more system calls each time (about a third of
/// the renewal's CPU). It belongs to the network namespace it was opened
/// in. Requests are numbered; an acknowledgement of an earlier request (one
/// whose read timed out) is skipped.
pub struct Rtnl {
    fd: OwnedFd,
    seq: u32,
    /// Whether IPv6 additions carry the [`BONGOYO_PROTO`] tag: cleared for
    /// good when a kernel refused a tagged request and took it untagged.
    tag6: bool,
}

impl Rtnl {
    /// A new socket, with a 1 s receive timeout as a belt and braces (the
    /// kernel answers an `NLM_F_ACK` request at once).
    pub fn open() -> io::Result<Rtnl> {
        // SAFETY: plain socket(2).
        let fd = unsafe {
            libc::socket(
                libc::AF_NETLINK,
                libc::SOCK_RAW | libc::SOCK_CLOEXEC,
                NETLINK_ROUTE,
            )
        };
        if fd < 0 {
            return Err(io::Error::last_os_error());
        }
        // SAFETY: fresh descriptor, owned from here on.
        let fd = unsafe { OwnedFd::from_raw_fd(fd) };
        let tv = libc::timeval {
            tv_sec: 1,
            tv_usec: 0,
        };
        // SAFETY: valid option buffer of the right size.
        let r = unsafe {
            libc::setsockopt(
                fd.as_raw_fd(),
                libc::SOL_SOCKET,
                libc::SO_RCVTIMEO,
                &tv as *const _ as *const libc::c_void,
                core::mem::size_of::<libc::timeval>() as libc::socklen_t,
            )
        };
        if r != 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(Rtnl {
            fd,
            seq: 0,
            tag6: true,
        })
    }

    /// Remove the address `addr/prefix` from interface `ifindex` with an
    /// `RTM_DELADDR`: exact (it names the address), and the same for alias
    /// labels and dedicated interfaces. Removing an address that is already
    /// gone (the kernel's lifetime took it) is not an error.
    pub fn remove_address(&mut self, ifindex: u32, addr: Ipv4Addr, prefix: u8) -> io::Result<()> {
        match self.request(&mut remove_msg(ifindex, addr, prefix)) {
            Err(e) if e.raw_os_error() == Some(libc::EADDRNOTAVAIL) => Ok(()),
            r => r,
        }
    }

    /// Give `addr/prefix` on `ifindex` a kernel lifetime: after `valid_s`
    /// seconds without renewal the kernel removes the address by itself
    /// (fencing layer 2). `valid_s` must be at least 1; the preferred
    /// lifetime is set equal to it.
    pub fn set_lifetime(
        &mut self,
        ifindex: u32,
        label: &str,
        addr: Ipv4Addr,
        prefix: u8,
        valid_s: u32,
    ) -> io::Result<()> {
        self.request(&mut lifetime_msg(ifindex, label, addr, prefix, valid_s)?)
    }

    /// Add the IPv6 address `addr/prefix` to interface `ifindex`, usable at
    /// once, with valid and preferred lifetimes of `lifetime` ([`lifetime_s`]:
    /// whole seconds rounded up, at least 1): one `RTM_NEWADDR`.
    ///
    /// - No duplicate address detection (`IFA_F_NODAD`): the neighbour
    ///   solicitation probe of fencing layer 3 has already asked the LAN
    ///   before a takeover, and DAD would keep the address tentative
    ///   (unusable: a bind fails, nothing answers for it) for 1-2 s more.
    /// - `NLM_F_CREATE | NLM_F_REPLACE`, not `NLM_F_EXCL`: adding an address
    ///   the interface already has (a retried takeover step, a leftover the
    ///   start-up cleanup missed) is not an error; it takes this request's
    ///   lifetimes, `NODAD` and tag. That includes a person's static copy
    ///   of the address, which then expires like ours: the listing
    ///   ([`Rtnl::list_addresses6`]) is where such a copy shows.
    /// - Tagged with `IFA_PROTO` = [`BONGOYO_PROTO`] (Linux 6.1+; older
    ///   kernels ignore the attribute). Should a kernel refuse the tagged
    ///   request (`EINVAL`) and take it untagged, this socket stops tagging.
    ///
    /// The address gets a prefix route with the same lifetime, as an IPv4
    /// alias gets its subnet route (a permanent route of the same prefix,
    /// from a static address, stays permanent).
    pub fn add_address6(
        &mut self,
        ifindex: u32,
        addr: Ipv6Addr,
        prefix: u8,
        lifetime: Duration,
    ) -> io::Result<()> {
        let flags = NLM_F_CREATE | NLM_F_REPLACE;
        self.new_address6(flags, ifindex, addr, prefix, lifetime)
    }

    /// Renew the valid and preferred lifetimes of `addr/prefix` on
    /// `ifindex` (fencing layer 2, as [`Rtnl::set_lifetime`] for IPv4):
    /// `RTM_NEWADDR` with `NLM_F_REPLACE`, which the kernel applies to the
    /// address it has (lifetimes restart from now). The request carries
    /// `IFA_F_NODAD` and the tag again: a replace sets the address's flags
    /// to those asked, and one without `NODAD` clears it (the address does
    /// not go tentative again, but `ip` no longer shows `nodad`).
    ///
    /// A renewal of an address the kernel already removed adds it again
    /// (without DAD): for IPv6 too the kernel creates on `RTM_NEWADDR`
    /// without `NLM_F_CREATE`. As for IPv4, a daemon frozen past the
    /// lifetime but not past its lease gets its address back.
    pub fn set_lifetime6(
        &mut self,
        ifindex: u32,
        addr: Ipv6Addr,
        prefix: u8,
        lifetime: Duration,
    ) -> io::Result<()> {
        self.new_address6(NLM_F_REPLACE, ifindex, addr, prefix, lifetime)
    }

    fn new_address6(
        &mut self,
        flags: u16,
        ifindex: u32,
        addr: Ipv6Addr,
        prefix: u8,
        lifetime: Duration,
    ) -> io::Result<()> {
        let valid = lifetime_s(lifetime);
        if self.tag6 {
            let mut msg = new_address6_msg(flags, ifindex, addr, prefix, valid, true);
            match self.request(&mut msg) {
                Err(e) if e.raw_os_error() == Some(libc::EINVAL) => {}
                r => return r,
            }
            // Refused: try once more untagged. The tag was the cause only
            // if that succeeds.
            let mut msg = new_address6_msg(flags, ifindex, addr, prefix, valid, false);
            self.request(&mut msg)?;
            self.tag6 = false;
            return Ok(());
        }
        self.request(&mut new_address6_msg(
            flags, ifindex, addr, prefix, valid, false,
        ))
    }

    /// Remove the IPv6 address `addr/prefix` from interface `ifindex`
    /// (`RTM_DELADDR`). An address that is already gone (the kernel's
    /// lifetime took it, or the interface went down: IPv6 drops its
    /// addresses then) is not an error, nor is one of another prefix length
    /// (the kernel matches address and prefix length).
    pub fn remove_address6(&mut self, ifindex: u32, addr: Ipv6Addr, prefix: u8) -> io::Result<()> {
        self.remove_address6_if_there(ifindex, addr, prefix)
            .map(|_| ())
    }

    /// [`Rtnl::remove_address6`], telling whether the address was there.
    /// Start-up cleanup removes every configured IPv6 vserver address this
    /// way instead of listing the interface's addresses first.
    pub fn remove_address6_if_there(
        &mut self,
        ifindex: u32,
        addr: Ipv6Addr,
        prefix: u8,
    ) -> io::Result<bool> {
        match self.request(&mut remove_address6_msg(ifindex, addr, prefix)) {
            Err(e) if e.raw_os_error() == Some(libc::EADDRNOTAVAIL) => Ok(false),
            r => r.map(|()| true),
        }
    }

    /// Every IPv6 address on every interface (an `AF_INET6` `RTM_GETADDR`
    /// dump), link-local ones included; at most [`MAX_LISTED`], more are
    /// ignored. Nothing is allocated: the replies are read into a buffer on
    /// the stack.
    ///
    /// A leftover of an earlier run (start-up cleanup), and an address
    /// already in use here, is one equal to a configured vserver address on
    /// that vserver's interface index: the rule IPv4 uses with the label's
    /// interface, as IPv6 has no labels. The tag ([`IfAddr6::proto`]) is
    /// not part of the rule: kernels before 6.1 drop it, so a leftover
    /// reads back untagged there. Where the kernel keeps it (6.1+), an
    /// untagged copy of a vserver address was put there by someone else (a
    /// person, another program), which a log line can say.
    ///
    /// A dump the kernel flags inconsistent (addresses changed while it was
    /// read) is read again, three times at most.
    pub fn list_addresses6(&mut self) -> io::Result<Vec<IfAddr6, MAX_LISTED>> {
        for _ in 0..DUMP_TRIES {
            self.send(&mut list_addresses6_msg())?;
            let mut out = Vec::new();
            // Full: the rest are ignored (the policy of MAX_LISTED).
            if self.read_dump(|a| {
                let _ = out.push(a);
            })? {
                return Ok(out);
            }
        }
        Err(io::Error::new(
            io::ErrorKind::Interrupted,
            "the IPv6 addresses kept changing while they were listed",
        ))
    }

    /// Read the replies to the dump just sent up to its `NLMSG_DONE`,
    /// handing each IPv6 address to `each`. False when the kernel flagged
    /// the dump inconsistent (`NLM_F_DUMP_INTR`).
    fn read_dump(&mut self, mut each: impl FnMut(IfAddr6)) -> io::Result<bool> {
        let mut buf = [0u8; DUMP_BUF];
        let mut consistent = true;
        loop {
            // SAFETY: buf is a valid writable buffer of its length. With
            // MSG_TRUNC the kernel returns the datagram's real length.
            let n = unsafe {
                libc::recv(
                    self.fd.as_raw_fd(),
                    buf.as_mut_ptr() as *mut libc::c_void,
                    buf.len(),
                    libc::MSG_TRUNC,
                )
            };
            if n < 0 {
                return Err(io::Error::last_os_error());
            }
            let n = n as usize;
            if n > buf.len() {
                return Err(io::Error::new(
                    io::ErrorKind::InvalidData,
                    "netlink dump reply larger than its buffer",
                ));
            }
            for m in messages(&buf[..n]) {
                let h = NlHeader::of(m);
                if h.seq != self.seq {
                    continue; // the late acknowledgement of an earlier request
                }
                consistent &= h.flags & NLM_F_DUMP_INTR == 0;
                match h.kind {
                    NLMSG_DONE => {
                        // Its payload is the dump's status: 0 or -errno.
                        let err = m
                            .get(16..20)
                            .map_or(0, |b| i32::from_ne_bytes([b[0], b[1], b[2], b[3]]));
                        if err < 0 {
                            return Err(io::Error::from_raw_os_error(-err));
                        }
                        return Ok(consistent);
                    }
                    NLMSG_ERROR => {
                        parse_ack(m)?;
                        return Err(io::Error::new(
                            io::ErrorKind::InvalidData,
                            "netlink acknowledgement in the middle of a dump",
                        ));
                    }
                    _ => {
                        if let Some(a) = parse_address6(m) {
                            each(a);
                        }
                    }
                }
            }
        }
    }

    /// Send one request, numbered.
    fn send(&mut self, msg: &mut NlMsg) -> io::Result<()> {
        self.seq = self.seq.wrapping_add(1);
        msg.buf[8..12].copy_from_slice(&self.seq.to_ne_bytes());
        // SAFETY: an all-zero sockaddr_nl addresses the kernel.
        let mut kernel: libc::sockaddr_nl = unsafe { core::mem::zeroed() };
        kernel.nl_family = libc::AF_NETLINK as libc::sa_family_t;
        let bytes = msg.bytes();
        // SAFETY: buffer and address are valid for the call.
        let n = unsafe {
            libc::sendto(
                self.fd.as_raw_fd(),
                bytes.as_ptr() as *const libc::c_void,
                bytes.len(),
                0,
                &kernel as *const _ as *const libc::sockaddr,
                core::mem::size_of::<libc::sockaddr_nl>() as libc::socklen_t,
            )
        };
        if n < 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(())
    }

    /// Send one request and read its acknowledgement (skipping those of
    /// earlier requests, at most a few).
    fn request(&mut self, msg: &mut NlMsg) -> io::Result<()> {
        self.send(msg)?;
        let mut reply = [0u8; 512];
        for _ in 0..STALE_ACKS {
            // SAFETY: reply is a valid writable buffer.
            let n = unsafe {
                libc::recv(
                    self.fd.as_raw_fd(),
                    reply.as_mut_ptr() as *mut libc::c_void,
                    reply.len(),
                    0,
                )
            };
            if n < 0 {
                return Err(io::Error::last_os_error());
            }
            let reply = &reply[..n as usize];
            if reply.len() >= 12 && reply[8..12] != self.seq.to_ne_bytes() {
                continue;
            }
            return parse_ack(reply);
        }
        Err(io::Error::new(
            io::ErrorKind::InvalidData,
            "no netlink acknowledgement of this request",
        ))
    }
}

/// The `RTM_DELADDR` of [`Rtnl::remove_address`].
fn remove_msg(ifindex: u32, addr: Ipv4Addr, prefix: u8) -> NlMsg {
    let mut msg = NlMsg::new(RTM_DELADDR, NLM_F_REQUEST | NLM_F_ACK, ifindex, prefix);
    msg.attr(IFA_LOCAL, &addr.octets());
    msg.attr(IFA_ADDRESS, &addr.octets());
    msg
}

/// The `RTM_NEWADDR` of [`Rtnl::set_lifetime`].
fn lifetime_msg(
    ifindex: u32,
    label: &str,
    addr: Ipv4Addr,
    prefix: u8,
    valid_s: u32,
) -> io::Result<NlMsg> {
    let valid = valid_s.max(1);
    let mut msg = NlMsg::new(
        RTM_NEWADDR,
        NLM_F_REQUEST | NLM_F_ACK | NLM_F_REPLACE,
        ifindex,
        prefix,
    );
    msg.attr(IFA_LOCAL, &addr.octets());
    msg.attr(IFA_ADDRESS, &addr.octets());
    if prefix < 31 {
        msg.attr(IFA_BROADCAST, &broadcast(addr, prefix).octets());
    }
    let mut label_z = [0u8; IFNAMSIZ];
    let lb = ifname_bytes(label)?;
    let n = lb.iter().position(|&b| b == 0).unwrap_or(IFNAMSIZ - 1);
    label_z[..n].copy_from_slice(&lb[..n]);
    msg.attr(IFA_LABEL, &label_z[..n + 1]);
    msg.attr(IFA_CACHEINFO, &cacheinfo(valid));
    Ok(msg)
}

/// `struct ifa_cacheinfo { ifa_prefered, ifa_valid, cstamp, tstamp }` (u32
/// each) with both lifetimes `valid` seconds; the kernel ignores the stamps.
fn cacheinfo(valid: u32) -> [u8; 16] {
    let mut ci = [0u8; 16];
    ci[0..4].copy_from_slice(&valid.to_ne_bytes());
    ci[4..8].copy_from_slice(&valid.to_ne_bytes());
    ci
}

/// The `RTM_NEWADDR` of [`Rtnl::add_address6`] (`flags` `NLM_F_CREATE |
/// NLM_F_REPLACE`) and [`Rtnl::set_lifetime6`] (`NLM_F_REPLACE`): no DAD,
/// both lifetimes `valid` seconds, tagged with [`BONGOYO_PROTO`] if `tag`.
/// `NODAD` fits the 8-bit `ifa_flags`, so no 32-bit `IFA_FLAGS` attribute
/// (which would override `ifa_flags` whole).
fn new_address6_msg(
    flags: u16,
    ifindex: u32,
    addr: Ipv6Addr,
    prefix: u8,
    valid: u32,
    tag: bool,
) -> NlMsg {
    let mut msg = NlMsg::for_family(
        libc::AF_INET6 as u8,
        RTM_NEWADDR,
        NLM_F_REQUEST | NLM_F_ACK | flags,
        ifindex,
        prefix,
    );
    msg.set_ifa_flags(IFA_F_NODAD);
    msg.attr(IFA_LOCAL, &addr.octets());
    msg.attr(IFA_ADDRESS, &addr.octets());
    msg.attr(IFA_CACHEINFO, &cacheinfo(valid.max(1)));
    if tag {
        msg.attr(IFA_PROTO, &[BONGOYO_PROTO]);
    }
    msg
}

/// The `RTM_DELADDR` of [`Rtnl::remove_address6`].
fn remove_address6_msg(ifindex: u32, addr: Ipv6Addr, prefix: u8) -> NlMsg {
    let mut msg = NlMsg::for_family(
        libc::AF_INET6 as u8,
        RTM_DELADDR,
        NLM_F_REQUEST | NLM_F_ACK,
        ifindex,
        prefix,
    );
    msg.attr(IFA_LOCAL, &addr.octets());
    msg.attr(IFA_ADDRESS, &addr.octets());
    msg
}

/// The `RTM_GETADDR` dump of [`Rtnl::list_addresses6`]: every `AF_INET6`
/// address (the kernel filters by interface only for sockets with strict
/// checking, which this one does not ask for).
fn list_addresses6_msg() -> NlMsg {
    NlMsg::for_family(
        libc::AF_INET6 as u8,
        RTM_GETADDR,
        NLM_F_REQUEST | NLM_F_DUMP,
        0,
        0,
    )
}

/// A lifetime in the whole seconds the kernel counts: rounded up (never
/// shorter than asked, so a renewal every hello keeps it), at least 1 (the
/// kernel refuses 0) and below `u32::MAX` (which means forever).
pub fn lifetime_s(lifetime: Duration) -> u32 {
    let s = lifetime
        .as_secs()
        .saturating_add(u64::from(lifetime.subsec_nanos() > 0));
    s.clamp(1, u64::from(u32::MAX - 1)) as u32
}

/// The `IFA_PROTO` of the IPv6 addresses bongoyo adds (Linux 6.1+; `ip`
/// shows it as `proto 0x62`; 0x62 is ASCII `b`). The kernel's own values are 0-3
/// (unspecified, loopback, router advertisement, link-local); there is no
/// registry above them.
pub const BONGOYO_PROTO: u8 = 0x62;

/// Tries of an address dump the kernel flags inconsistent.
const DUMP_TRIES: usize = 3;

/// The receive buffer of a dump. The kernel fills a dump datagram up to
/// the larger of about a page (at most 8 KiB) and the largest buffer the
/// socket has read with (this one), so 8 KiB always holds one; a bigger
/// one is caught by `MSG_TRUNC`.
const DUMP_BUF: usize = 8192;

/// One IPv6 address the kernel reports ([`Rtnl::list_addresses6`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct IfAddr6 {
    /// Index of its interface.
    pub ifindex: u32,
    /// The address.
    pub addr: Ipv6Addr,
    /// Its prefix length.
    pub prefix: u8,
    /// Its `IFA_F_*` flags (the 32-bit `IFA_FLAGS` attribute when the
    /// kernel sends it, else the 8-bit `ifa_flags`).
    pub flags: u32,
    /// Who added it (`IFA_PROTO`, Linux 6.1+): [`BONGOYO_PROTO`] for ours,
    /// 1-3 for the kernel's own, 0 for a person's or another program's,
    /// and 0 for every address on older kernels.
    pub proto: u8,
    /// Whole seconds of valid lifetime left; `None` is forever.
    pub valid_s: Option<u32>,
}

impl IfAddr6 {
    /// Duplicate address detection still runs: the address is not usable
    /// yet (never for ours, which skip DAD).
    pub fn tentative(&self) -> bool {
        self.flags & u32::from(IFA_F_TENTATIVE) != 0
    }

    /// Added without duplicate address detection.
    pub fn nodad(&self) -> bool {
        self.flags & u32::from(IFA_F_NODAD) != 0
    }

    /// Tagged by bongoyo ([`BONGOYO_PROTO`]).
    pub fn tagged(&self) -> bool {
        self.proto == BONGOYO_PROTO
    }
}

/// The fields of a netlink message header a reader needs.
struct NlHeader {
    kind: u16,
    flags: u16,
    seq: u32,
}

impl NlHeader {
    /// The header of `m`, at least 16 bytes ([`messages`] yields no less).
    fn of(m: &[u8]) -> NlHeader {
        NlHeader {
            kind: u16::from_ne_bytes([m[4], m[5]]),
            flags: u16::from_ne_bytes([m[6], m[7]]),
            seq: u32::from_ne_bytes([m[8], m[9], m[10], m[11]]),
        }
    }
}

/// The netlink messages of one datagram, each with its header (`nlmsg_len`
/// bytes, the next one 4-aligned after it). Stops at the first malformed
/// length.
fn messages(mut rest: &[u8]) -> impl Iterator<Item = &[u8]> {
    core::iter::from_fn(move || {
        if rest.len() < 16 {
            return None;
        }
        let len = u32::from_ne_bytes([rest[0], rest[1], rest[2], rest[3]]) as usize;
        if len < 16 || len > rest.len() {
            return None;
        }
        let m = &rest[..len];
        rest = &rest[((len + 3) & !3).min(rest.len())..];
        Some(m)
    })
}

/// The attributes (`kind`, payload) in `rest`, each 4-aligned. Stops at the
/// first malformed length.
fn attributes(mut rest: &[u8]) -> impl Iterator<Item = (u16, &[u8])> {
    core::iter::from_fn(move || {
        if rest.len() < 4 {
            return None;
        }
        let len = u16::from_ne_bytes([rest[0], rest[1]]) as usize;
        if len < 4 || len > rest.len() {
            return None;
        }
        // The top two bits flag nesting and byte order, not the type.
        let kind = u16::from_ne_bytes([rest[2], rest[3]]) & 0x3fff;
        let data = &rest[4..len];
        rest = &rest[((len + 3) & !3).min(rest.len())..];
        Some((kind, data))
    })
}

/// An `AF_INET6` `RTM_NEWADDR` message of a dump, or `None` for any other
/// message (another family, short, or without an address).
fn parse_address6(m: &[u8]) -> Option<IfAddr6> {
    if m.len() < 24 || NlHeader::of(m).kind != RTM_NEWADDR || m[16] != libc::AF_INET6 as u8 {
        return None;
    }
    let mut a = IfAddr6 {
        ifindex: u32::from_ne_bytes([m[20], m[21], m[22], m[23]]),
        addr: Ipv6Addr::UNSPECIFIED,
        prefix: m[17],
        flags: u32::from(m[18]),
        proto: 0,
        valid_s: None,
    };
    let (mut address, mut local) = (None, None);
    for (kind, data) in attributes(&m[24..]) {
        match (kind, data.len()) {
            (IFA_ADDRESS, 16) => address = <[u8; 16]>::try_from(data).ok(),
            // With a peer, IFA_LOCAL is the address and IFA_ADDRESS the peer.
            (IFA_LOCAL, 16) => local = <[u8; 16]>::try_from(data).ok(),
            (IFA_FLAGS, 4) => a.flags = u32::from_ne_bytes([data[0], data[1], data[2], data[3]]),
            (IFA_PROTO, 1) => a.proto = data[0],
            (IFA_CACHEINFO, 16) => {
                let valid = u32::from_ne_bytes([data[4], data[5], data[6], data[7]]);
                a.valid_s = (valid != u32::MAX).then_some(valid);
            }
            _ => {}
        }
    }
    a.addr = Ipv6Addr::from(local.or(address)?);
    Some(a)
}

/// Acknowledgements of earlier requests [`Rtnl::request`] skips before it
/// gives up on its own.
const STALE_ACKS: usize = 8;

/// One IPv4 address the kernel reports: its label (`eth0`, `eth0:3`) and address.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IfAddr {
    /// Interface name or alias label.
    pub label: String<MAX_IFNAME>,
    /// The address.
    pub addr: Ipv4Addr,
}

/// Addresses listed at most (more are ignored: a box with this many IPv4
/// addresses is not an appliance we aim at).
pub const MAX_LISTED: usize = 128;

/// Every IPv4 address on every interface that is up, with its label
/// (SIOCGIFCONF). Used to pick a free alias label and, at start-up, to find
/// vserver addresses left behind by an earlier crash.
pub fn list_addresses() -> io::Result<Vec<IfAddr, MAX_LISTED>> {
    #[repr(C)]
    struct IfConf {
        len: libc::c_int,
        buf: *mut u8,
    }
    let fd = inet_socket()?;
    // One ifreq is 40 bytes on 64-bit targets and 32 on 32-bit ones; the
    // buffer is on the stack so a takeover allocates nothing.
    let stride = core::mem::size_of::<libc::ifreq>().min(40);
    let mut buf = [0u8; 40 * MAX_LISTED];
    let mut conf = IfConf {
        len: (stride * MAX_LISTED) as libc::c_int,
        buf: buf.as_mut_ptr(),
    };
    // SAFETY: SIOCGIFCONF takes an `ifconf`, which `IfConf` is (C layout);
    // its pointer and length describe `buf`, live across the call.
    unsafe { ioctl(&fd, libc::SIOCGIFCONF as _, &mut conf)? };
    let used = (conf.len.max(0) as usize).min(buf.len());
    let mut out = Vec::new();
    for req in buf[..used].chunks_exact(stride) {
        let name_len = req[..IFNAMSIZ]
            .iter()
            .position(|&b| b == 0)
            .unwrap_or(IFNAMSIZ);
        let Ok(name) = core::str::from_utf8(&req[..name_len]) else {
            continue;
        };
        // sockaddr_in: family (2), port (2), address (4, network order).
        let a = &req[IFNAMSIZ..IFNAMSIZ + 8];
        if u16::from_ne_bytes([a[0], a[1]]) != libc::AF_INET as u16 {
            continue;
        }
        let addr = Ipv4Addr::new(a[4], a[5], a[6], a[7]);
        let mut label = String::new();
        if label.push_str(name).is_err() {
            continue;
        }
        if out.push(IfAddr { label, addr }).is_err() {
            break;
        }
    }
    Ok(out)
}

/// The prefix length of `addr` on `label` (SIOCGIFNETMASK: given an
/// address, the kernel picks the one with that label and address). For
/// `bongoyo check`, which tells whether a vserver address is in a subnet
/// of its interface.
pub fn prefix_len(label: &str, addr: Ipv4Addr) -> io::Result<u8> {
    let fd = inet_socket()?;
    let mut r = IfReqAddr {
        name: ifname_bytes(label)?,
        addr: sockaddr(addr),
        _pad: [0; 8],
    };
    // SAFETY: SIOCGIFNETMASK takes an `ifreq` holding a `sockaddr`, which
    // `IfReqAddr` is.
    unsafe { ioctl(&fd, libc::SIOCGIFNETMASK as _, &mut r)? };
    Ok(u32::from_be(r.addr.sin_addr.s_addr).leading_ones() as u8)
}

/// The lowest free alias label `BASE:N` given the labels in use, or `None`
/// when the label would not fit in an interface name.
pub fn free_label(base: &str, in_use: &[IfAddr]) -> Option<String<MAX_IFNAME>> {
    for n in 0u32..10_000 {
        let mut s: String<MAX_IFNAME> = String::new();
        use core::fmt::Write;
        write!(s, "{base}:{n}").ok()?;
        if !in_use.iter().any(|a| a.label == s) {
            return Some(s);
        }
    }
    None
}

/// The index of an interface, by name.
pub fn ifindex(name: &str) -> io::Result<u32> {
    let z = ifname_bytes(name)?;
    // SAFETY: `z` is NUL-terminated (ifname_bytes leaves at least one 0).
    let i = unsafe { libc::if_nametoindex(z.as_ptr() as *const libc::c_char) };
    if i == 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(i)
    }
}

/// The name of interface `index` (`if_indextoname`).
pub fn ifname(index: u32) -> io::Result<String<MAX_IFNAME>> {
    let mut buf = [0u8; libc::IF_NAMESIZE];
    // SAFETY: `buf` has room for IF_NAMESIZE bytes, what the call writes.
    let p = unsafe { libc::if_indextoname(index, buf.as_mut_ptr() as *mut libc::c_char) };
    if p.is_null() {
        return Err(io::Error::last_os_error());
    }
    let len = buf.iter().position(|&b| b == 0).unwrap_or(buf.len());
    core::str::from_utf8(&buf[..len])
        .ok()
        .and_then(|n| String::try_from(n).ok())
        .ok_or_else(|| io::Error::from(io::ErrorKind::InvalidData))
}

/// Whether link `name` is usable: administratively up (`IFF_UP`) and
/// operationally up (`IFF_RUNNING`: carrier, or a driver that reports no
/// carrier such as `dummy`). An interface that does not exist is an error
/// (`ENODEV`). SIOCGIFFLAGS answers from the kernel's own state at once, in
/// the caller's network namespace (unlike `/sys`, which shows the namespace
/// it was mounted in).
pub fn link_up(name: &str) -> io::Result<bool> {
    let fd = inet_socket()?;
    let mut f = IfReqFlags {
        name: ifname_bytes(name)?,
        flags: 0,
        _pad: [0; 22],
    };
    // SAFETY: SIOCGIFFLAGS takes an `ifreq` holding the flags, which
    // `IfReqFlags` is.
    unsafe { ioctl(&fd, libc::SIOCGIFFLAGS as _, &mut f)? };
    let want = (libc::IFF_UP | libc::IFF_RUNNING) as libc::c_short;
    Ok(f.flags & want == want)
}

// rtnetlink ABI constants (include/uapi/linux/netlink.h, if_addr.h, rtnetlink.h).
const NETLINK_ROUTE: libc::c_int = 0;
const NLMSG_ERROR: u16 = 2;
const NLMSG_DONE: u16 = 3;
const NLM_F_REQUEST: u16 = 0x1;
const NLM_F_ACK: u16 = 0x4;
const NLM_F_DUMP_INTR: u16 = 0x10;
const NLM_F_REPLACE: u16 = 0x100;
/// NLM_F_ROOT | NLM_F_MATCH.
const NLM_F_DUMP: u16 = 0x300;
const NLM_F_CREATE: u16 = 0x400;
const RTM_NEWADDR: u16 = 20;
const RTM_DELADDR: u16 = 21;
const RTM_GETADDR: u16 = 22;
const IFA_ADDRESS: u16 = 1;
const IFA_LOCAL: u16 = 2;
const IFA_LABEL: u16 = 3;
const IFA_BROADCAST: u16 = 4;
const IFA_CACHEINFO: u16 = 6;
const IFA_FLAGS: u16 = 8;
const IFA_PROTO: u16 = 11;
const IFA_F_NODAD: u8 = 0x02;
const IFA_F_TENTATIVE: u8 = 0x40;

/// A small hand-built rtnetlink address message: nlmsghdr (16 bytes),
/// ifaddrmsg (8 bytes), then attributes, each padded to 4 bytes.
struct NlMsg {
    buf: [u8; 128],
    len: usize,
}

impl NlMsg {
    /// An `AF_INET` message.
    fn new(kind: u16, flags: u16, ifindex: u32, prefix: u8) -> NlMsg {
        NlMsg::for_family(libc::AF_INET as u8, kind, flags, ifindex, prefix)
    }

    fn for_family(family: u8, kind: u16, flags: u16, ifindex: u32, prefix: u8) -> NlMsg {
        let mut m = NlMsg {
            buf: [0; 128],
            len: 24,
        };
        m.buf[4..6].copy_from_slice(&kind.to_ne_bytes());
        m.buf[6..8].copy_from_slice(&flags.to_ne_bytes());
        // The sequence number; Rtnl::send numbers each request.
        m.buf[8..12].copy_from_slice(&1u32.to_ne_bytes());
        // ifaddrmsg { family, prefixlen, flags, scope, index }
        m.buf[16] = family;
        m.buf[17] = prefix;
        m.buf[20..24].copy_from_slice(&ifindex.to_ne_bytes());
        m
    }

    /// Set `ifaddrmsg.ifa_flags` (the `IFA_F_*` flags below 0x100).
    fn set_ifa_flags(&mut self, flags: u8) {
        self.buf[18] = flags;
    }

    fn attr(&mut self, kind: u16, data: &[u8]) {
        let alen = 4 + data.len();
        let padded = (alen + 3) & !3;
        // Every message here is built from fixed, small attributes.
        debug_assert!(self.len + padded <= self.buf.len());
        if self.len + padded > self.buf.len() {
            return;
        }
        let at = self.len;
        self.buf[at..at + 2].copy_from_slice(&(alen as u16).to_ne_bytes());
        self.buf[at + 2..at + 4].copy_from_slice(&kind.to_ne_bytes());
        self.buf[at + 4..at + alen].copy_from_slice(data);
        self.len += padded;
    }

    fn bytes(&mut self) -> &[u8] {
        let len = self.len as u32;
        self.buf[0..4].copy_from_slice(&len.to_ne_bytes());
        &self.buf[..self.len]
    }
}

/// The status in a netlink acknowledgement: `NLMSG_ERROR` with error 0 is
/// success, a negative errno is that error.
fn parse_ack(reply: &[u8]) -> io::Result<()> {
    if reply.len() < 20 {
        return Err(io::Error::new(
            io::ErrorKind::InvalidData,
            "short netlink reply",
        ));
    }
    let kind = u16::from_ne_bytes([reply[4], reply[5]]);
    if kind != NLMSG_ERROR {
        return Err(io::Error::new(
            io::ErrorKind::InvalidData,
            "unexpected netlink reply",
        ));
    }
    let err = i32::from_ne_bytes([reply[16], reply[17], reply[18], reply[19]]);
    if err == 0 {
        Ok(())
    } else {
        Err(super::needs(
            io::Error::from_raw_os_error(-err),
            "CAP_NET_ADMIN",
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loopback_is_up_and_a_missing_link_an_error() {
        assert!(link_up("lo").unwrap());
        let e = link_up("no-such-if0").unwrap_err();
        assert_eq!(e.raw_os_error(), Some(libc::ENODEV), "{e}");
    }

    #[test]
    fn masks_and_broadcasts() {
        assert_eq!(netmask(24), Ipv4Addr::new(255, 255, 255, 0));
        assert_eq!(netmask(0), Ipv4Addr::new(0, 0, 0, 0));
        assert_eq!(netmask(32), Ipv4Addr::new(255, 255, 255, 255));
        assert_eq!(
            broadcast(Ipv4Addr::new(10, 0, 0, 50), 24),
            Ipv4Addr::new(10, 0, 0, 255)
        );
        assert_eq!(
            broadcast(Ipv4Addr::new(10, 1, 2, 3), 16),
            Ipv4Addr::new(10, 1, 255, 255)
        );
    }

    #[test]
    fn loopback_is_a_slash_8() {
        assert_eq!(prefix_len("lo", Ipv4Addr::LOCALHOST).unwrap(), 8);
        assert!(prefix_len("no-such-if0", Ipv4Addr::LOCALHOST).is_err());
    }

    #[test]
    fn labels_pick_the_lowest_free() {
        let used = |l: &str| IfAddr {
            label: String::try_from(l).unwrap(),
            addr: Ipv4Addr::LOCALHOST,
        };
        let in_use = [used("eth0"), used("eth0:0"), used("eth0:2"), used("eth1:1")];
        assert_eq!(free_label("eth0", &in_use).unwrap(), "eth0:1");
        assert_eq!(free_label("eth1", &in_use).unwrap(), "eth1:0");
        // "abcdefghijklm:0" is 15 bytes and fits; one more does not.
        assert!(free_label("abcdefghijklm", &[]).is_some());
        assert!(free_label("abcdefghijklmn", &[]).is_none());
    }

    #[test]
    fn names_are_checked() {
        assert!(ifname_bytes("").is_err());
        assert!(ifname_bytes("0123456789abcdef").is_err());
        assert!(ifname_bytes("eth0:15").is_ok());
    }

    /// The IPv4 requests, byte for byte as the kernel received them before
    /// their building moved into `remove_msg` and `lifetime_msg` (strace of
    /// `tests/os_netns.rs` at c7d40f1: a0 = ifindex 3, 10.66.0.5/24, label
    /// a0:0, 1 s, sequence 1). Little-endian hosts (x86_64, aarch64).
    #[cfg(target_endian = "little")]
    #[test]
    fn ipv4_requests_keep_their_bytes() {
        let vip = Ipv4Addr::new(10, 66, 0, 5);
        #[rustfmt::skip]
        let del: [u8; 40] = [
            0x28, 0, 0, 0, 0x15, 0, 0x05, 0, 1, 0, 0, 0, 0, 0, 0, 0,
            0x02, 0x18, 0, 0, 0x03, 0, 0, 0, 0x08, 0, 0x02, 0, 0x0a, 0x42, 0, 0x05,
            0x08, 0, 0x01, 0, 0x0a, 0x42, 0, 0x05,
        ];
        assert_eq!(remove_msg(3, vip, 24).bytes(), &del[..]);
        #[rustfmt::skip]
        let new: [u8; 80] = [
            0x50, 0, 0, 0, 0x14, 0, 0x05, 0x01, 1, 0, 0, 0, 0, 0, 0, 0,
            0x02, 0x18, 0, 0, 0x03, 0, 0, 0, 0x08, 0, 0x02, 0, 0x0a, 0x42, 0, 0x05,
            0x08, 0, 0x01, 0, 0x0a, 0x42, 0, 0x05, 0x08, 0, 0x04, 0, 0x0a, 0x42, 0, 0xff,
            0x09, 0, 0x03, 0, b'a', b'0', b':', b'0', 0, 0, 0, 0, 0x14, 0, 0x06, 0,
            0x01, 0, 0, 0, 0x01, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
        ];
        assert_eq!(
            lifetime_msg(3, "a0:0", vip, 24, 1).unwrap().bytes(),
            &new[..]
        );
        // A lifetime of 0 is asked as 1 s (the kernel refuses 0).
        assert_eq!(
            lifetime_msg(3, "a0:0", vip, 24, 0).unwrap().bytes(),
            &new[..]
        );
    }

    const VIP6: Ipv6Addr = Ipv6Addr::new(0xfd00, 0x66, 0, 0, 0, 0, 0, 5);

    /// `fd00:66::5`, written out.
    #[rustfmt::skip]
    const VIP6_BYTES: [u8; 16] = [0xfd, 0, 0, 0x66, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 5];

    /// The IPv6 requests, byte for byte (include/uapi/linux/netlink.h,
    /// if_addr.h; a0 = ifindex 3, fd00:66::5/64, sequence 1).
    #[cfg(target_endian = "little")]
    #[test]
    fn ipv6_requests_bytes() {
        let addr_attrs = |out: &mut std::vec::Vec<u8>| {
            out.extend_from_slice(&[0x14, 0, 0x02, 0]); // IFA_LOCAL
            out.extend_from_slice(&VIP6_BYTES);
            out.extend_from_slice(&[0x14, 0, 0x01, 0]); // IFA_ADDRESS
            out.extend_from_slice(&VIP6_BYTES);
        };
        // RTM_NEWADDR, REQUEST|ACK|REPLACE|CREATE; AF_INET6, /64, NODAD, ifindex 3.
        let mut add = vec![0x5c, 0, 0, 0, 0x14, 0, 0x05, 0x05, 1, 0, 0, 0, 0, 0, 0, 0];
        add.extend_from_slice(&[0x0a, 0x40, 0x02, 0, 0x03, 0, 0, 0]);
        addr_attrs(&mut add);
        // IFA_CACHEINFO: preferred 30 s, valid 30 s.
        add.extend_from_slice(&[0x14, 0, 0x06, 0, 30, 0, 0, 0, 30, 0, 0, 0]);
        add.extend_from_slice(&[0; 8]);
        // IFA_PROTO 0x62, padded.
        add.extend_from_slice(&[0x05, 0, 0x0b, 0, 0x62, 0, 0, 0]);
        let flags = NLM_F_CREATE | NLM_F_REPLACE;
        let secs = lifetime_s(Duration::from_millis(29_500));
        assert_eq!(
            new_address6_msg(flags, 3, VIP6, 64, secs, true).bytes(),
            &add[..]
        );

        // The renewal: NLM_F_REPLACE only, the rest the same.
        let mut renew = add.clone();
        renew[7] = 0x01;
        assert_eq!(
            new_address6_msg(NLM_F_REPLACE, 3, VIP6, 64, 30, true).bytes(),
            &renew[..]
        );

        // Untagged (a kernel that refused IFA_PROTO): 8 bytes shorter.
        let mut untagged = add[..add.len() - 8].to_vec();
        untagged[0] = 0x54;
        assert_eq!(
            new_address6_msg(flags, 3, VIP6, 64, 30, false).bytes(),
            &untagged[..]
        );

        // RTM_DELADDR, REQUEST|ACK; no flags.
        let mut del = vec![0x40, 0, 0, 0, 0x15, 0, 0x05, 0, 1, 0, 0, 0, 0, 0, 0, 0];
        del.extend_from_slice(&[0x0a, 0x40, 0, 0, 0x03, 0, 0, 0]);
        addr_attrs(&mut del);
        assert_eq!(remove_address6_msg(3, VIP6, 64).bytes(), &del[..]);

        // RTM_GETADDR, REQUEST|DUMP, AF_INET6 only.
        #[rustfmt::skip]
        let dump = [
            0x18, 0, 0, 0, 0x16, 0, 0x01, 0x03, 1, 0, 0, 0, 0, 0, 0, 0,
            0x0a, 0, 0, 0, 0, 0, 0, 0,
        ];
        assert_eq!(list_addresses6_msg().bytes(), &dump[..]);
    }

    #[test]
    fn lifetimes_are_whole_seconds_rounded_up() {
        assert_eq!(lifetime_s(Duration::ZERO), 1);
        assert_eq!(lifetime_s(Duration::from_millis(300)), 1);
        assert_eq!(lifetime_s(Duration::from_secs(1)), 1);
        assert_eq!(lifetime_s(Duration::from_millis(1001)), 2);
        assert_eq!(lifetime_s(Duration::from_secs(3)), 3);
        // Never u32::MAX, which the kernel reads as forever.
        assert_eq!(lifetime_s(Duration::MAX), u32::MAX - 1);
        assert_eq!(lifetime_s(Duration::from_secs(1 << 40)), u32::MAX - 1);
    }

    /// An address as the kernel dumps it: built with the request builder,
    /// as the layout is the same.
    fn dumped(flags8: u8, attrs: &[(u16, &[u8])]) -> NlMsg {
        let mut m = NlMsg::for_family(libc::AF_INET6 as u8, RTM_NEWADDR, 0x2, 7, 64);
        m.set_ifa_flags(flags8);
        for (kind, data) in attrs {
            m.attr(*kind, data);
        }
        m
    }

    #[test]
    fn dumped_addresses_parse() {
        let mut ci = cacheinfo(25);
        let mut m = dumped(
            IFA_F_NODAD,
            &[
                (IFA_ADDRESS, &VIP6_BYTES),
                (IFA_CACHEINFO, &ci),
                (IFA_FLAGS, &u32::from(IFA_F_NODAD).to_ne_bytes()),
                (IFA_PROTO, &[BONGOYO_PROTO]),
            ],
        );
        let a = parse_address6(m.bytes()).expect("an address");
        assert_eq!(
            a,
            IfAddr6 {
                ifindex: 7,
                addr: VIP6,
                prefix: 64,
                flags: 0x02,
                proto: BONGOYO_PROTO,
                valid_s: Some(25),
            }
        );
        assert!(a.nodad() && a.tagged() && !a.tentative());

        // A static address: forever, untagged; IFA_FLAGS (32 bits) wins
        // over ifa_flags (8 bits).
        ci[4..8].copy_from_slice(&u32::MAX.to_ne_bytes());
        let flags = (u32::from(IFA_F_TENTATIVE) | 0x200).to_ne_bytes();
        let mut m = dumped(
            0,
            &[
                (IFA_ADDRESS, &VIP6_BYTES),
                (IFA_CACHEINFO, &ci),
                (IFA_FLAGS, &flags),
            ],
        );
        let a = parse_address6(m.bytes()).expect("an address");
        assert_eq!((a.valid_s, a.proto, a.flags), (None, 0, 0x240));
        assert!(a.tentative() && !a.tagged() && !a.nodad());

        // With a peer, IFA_LOCAL is the address.
        let peer = Ipv6Addr::new(0xfd00, 0x66, 0, 0, 0, 0, 0, 9).octets();
        let mut m = dumped(0, &[(IFA_ADDRESS, &peer), (IFA_LOCAL, &VIP6_BYTES)]);
        assert_eq!(parse_address6(m.bytes()).unwrap().addr, VIP6);

        // Not an IPv6 address: another family, no address, short.
        let mut m = dumped(0, &[(IFA_ADDRESS, &VIP6_BYTES)]);
        m.buf[16] = libc::AF_INET as u8;
        assert!(parse_address6(m.bytes()).is_none());
        assert!(parse_address6(dumped(0, &[(IFA_CACHEINFO, &ci)]).bytes()).is_none());
        assert!(parse_address6(&dumped(0, &[]).bytes()[..20]).is_none());
        // A malformed attribute ends the list, not the program.
        let mut m = dumped(0, &[(IFA_ADDRESS, &VIP6_BYTES)]);
        m.buf[24..26].copy_from_slice(&200u16.to_ne_bytes());
        assert!(parse_address6(m.bytes()).is_none());
    }

    #[test]
    fn datagrams_split_into_messages() {
        let mut buf = std::vec::Vec::new();
        buf.extend_from_slice(dumped(0, &[(IFA_PROTO, &[1])]).bytes());
        // 29 bytes without the attribute's padding: the next message still
        // starts 4-aligned, at 32.
        buf[0..4].copy_from_slice(&29u32.to_ne_bytes());
        buf.extend_from_slice(list_addresses6_msg().bytes());
        let lens: std::vec::Vec<usize> = messages(&buf).map(<[u8]>::len).collect();
        assert_eq!(lens, [29, 24]);
        // A length past the end, or below a header, stops the walk.
        buf[32..36].copy_from_slice(&100u32.to_ne_bytes());
        assert_eq!(messages(&buf).count(), 1);
        buf[0..4].copy_from_slice(&8u32.to_ne_bytes());
        assert_eq!(messages(&buf).count(), 0);
    }

    #[test]
    fn acks_parse() {
        let mut r = [0u8; 36];
        r[4..6].copy_from_slice(&NLMSG_ERROR.to_ne_bytes());
        assert!(parse_ack(&r).is_ok());
        r[16..20].copy_from_slice(&(-libc::EEXIST).to_ne_bytes());
        assert_eq!(
            parse_ack(&r).unwrap_err().raw_os_error(),
            Some(libc::EEXIST)
        );
        assert!(parse_ack(&r[..10]).is_err());
    }
}
