//! The os layer against a real kernel, inside namespaces this test creates:
//! alias ioctls, kernel address lifetimes (fencing layer 2), IPv6 addresses
//! through rtnetlink, ARP probe and gratuitous ARP on a packet socket, and
//! their IPv6 twins: Neighbour Solicitation and unsolicited Neighbour
//! Advertisement on a raw ICMPv6 socket.

mod common;

use std::net::{Ipv4Addr, Ipv6Addr, SocketAddrV6, UdpSocket};
use std::os::fd::AsRawFd;
use std::time::{Duration, Instant};

use bongoyo::os::arp::{ArpPacket, ArpSocket};
use bongoyo::os::ifaddr;
use bongoyo::os::ndp::{na_body, NaPacket, NdpSocket, ALL_NODES, FLAG_OVERRIDE};
use common::netns::{eventually_every, mac, root_or_skip, run_in, sh, spawn_in, Netns};
use nix::sys::socket::{
    sendto, setsockopt, socket, sockopt, AddressFamily, MsgFlags, SockFlag, SockProtocol, SockType,
    SockaddrIn6,
};

const VIP: Ipv4Addr = Ipv4Addr::new(10, 66, 0, 5);
const VIP6: Ipv6Addr = Ipv6Addr::new(0xfd00, 0x66, 0, 0, 0, 0, 0, 5);

/// How often the packet loops below look for an answer.
const POLL: Duration = Duration::from_millis(20);

/// A bound, not a figure: the kernel removes an address with a 1 s
/// lifetime 1-2 s after its last renewal. Six seconds only catch an address
/// it never removes, with room for a loaded machine (a kernel once kept one
/// 6 s: docs/DECISIONS.md, "Known open defects"). The figure itself is
/// printed as `FIGURE kernel_removal_ms` for `make bench`.
const NEVER_REMOVED: Duration = Duration::from_secs(6);

fn addr_show(ns: &Netns) -> String {
    ns.ip(&["-4", "addr", "show", "dev", "a0"])
}

/// A namespace with a veth pair a0/b0, both up.
fn veth_ns(tag: &str) -> Netns {
    let ns = Netns::new(tag);
    ns.veth("a0", "b0");
    ns.up("a0");
    ns.up("b0");
    ns
}

#[test]
fn alias_add_list_remove() {
    if !root_or_skip("alias_add_list_remove") {
        return;
    }
    let ns = veth_ns("alias");
    let labels = run_in(&ns.name, || {
        let before = ifaddr::list_addresses().expect("list");
        let label = ifaddr::free_label("a0", &before).expect("label");
        ifaddr::add_alias(&label, VIP, 24).expect("add alias");
        let after = ifaddr::list_addresses().expect("list");
        (label, after)
    });
    let (label, after) = labels;
    assert_eq!(label, "a0:0");
    assert!(
        after.iter().any(|a| a.label == "a0:0" && a.addr == VIP),
        "{after:?}"
    );
    let shown = addr_show(&ns);
    assert!(
        shown.contains("10.66.0.5/24") && shown.contains("a0:0"),
        "{shown}"
    );
    assert!(shown.contains("brd 10.66.0.255"), "{shown}");

    // A second alias takes the next label.
    let second = run_in(&ns.name, || {
        let used = ifaddr::list_addresses().expect("list");
        let l = ifaddr::free_label("a0", &used).expect("label");
        ifaddr::add_alias(&l, Ipv4Addr::new(10, 66, 0, 6), 24).expect("add");
        l
    });
    assert_eq!(second, "a0:1");

    // The rtnetlink socket belongs to the namespace it was opened in,
    // whichever thread uses it.
    let mut rtnl = run_in(&ns.name, || ifaddr::Rtnl::open().expect("rtnl"));
    let idx = run_in(&ns.name, || ifaddr::ifindex("a0").expect("ifindex"));
    rtnl.remove_address(idx, VIP, 24).expect("remove");
    // Removing again is not an error: the kernel may have beaten us to it.
    rtnl.remove_address(idx, VIP, 24).expect("remove twice");
    let shown = addr_show(&ns);
    assert!(!shown.contains("10.66.0.5/"), "{shown}");
    assert!(
        shown.contains("10.66.0.6/24"),
        "the other alias stays: {shown}"
    );

    // Errors are reported, not hidden.
    let err = run_in(&ns.name, || {
        ifaddr::add_alias("nosuch0:0", VIP, 24).unwrap_err()
    });
    assert_eq!(err.raw_os_error(), Some(libc::ENODEV), "{err}");
}

#[test]
fn kernel_lifetime_removes_an_unrenewed_alias() {
    if !root_or_skip("kernel_lifetime_removes_an_unrenewed_alias") {
        return;
    }
    let ns = veth_ns("life");
    let mut rtnl = run_in(&ns.name, || ifaddr::Rtnl::open().expect("rtnl"));
    let idx = run_in(&ns.name, || {
        ifaddr::add_alias("a0:0", VIP, 24).expect("add alias");
        ifaddr::ifindex("a0").expect("ifindex")
    });
    rtnl.set_lifetime(idx, "a0:0", VIP, 24, 1)
        .expect("lifetime");
    let shown = addr_show(&ns);
    assert!(shown.contains("10.66.0.5/24"), "{shown}");
    assert!(shown.contains("valid_lft 1sec"), "lifetime set: {shown}");
    assert!(shown.contains("a0:0"), "label kept: {shown}");

    // Renewing keeps it: renew every 200 ms for 2.5 s (more than the lifetime).
    for _ in 0..12 {
        std::thread::sleep(Duration::from_millis(200));
        rtnl.set_lifetime(idx, "a0:0", VIP, 24, 1).expect("renew");
    }
    assert!(
        addr_show(&ns).contains("10.66.0.5/24"),
        "renewed address stays"
    );

    // Stop renewing (a killed daemon): the kernel removes it by itself.
    let last = Instant::now();
    let gone = eventually_every(NEVER_REMOVED, POLL, || {
        (!addr_show(&ns).contains("10.66.0.5/")).then(|| last.elapsed())
    });
    let took = gone.unwrap_or_else(|| panic!("the kernel kept the address {NEVER_REMOVED:?}"));
    assert!(
        took >= Duration::from_millis(700),
        "not before the lifetime: {took:?}"
    );
    println!("FIGURE kernel_removal_ms {}", took.as_millis());
    // A renewal after the kernel removed it adds it again (IPv4 does not
    // ask for NLM_F_CREATE): a daemon frozen longer than the lifetime but
    // not its lease gets its address back at its next renewal.
    rtnl.set_lifetime(idx, "a0:0", VIP, 24, 1)
        .expect("renew after expiry");
    let shown = addr_show(&ns);
    assert!(
        shown.contains("10.66.0.5/24") && shown.contains("a0:0"),
        "{shown}"
    );
}

/// `sysctl -w KEY=VALUE` inside namespace `ns`.
fn sysctl_in(ns: &Netns, kv: &str) {
    sh(&["ip", "netns", "exec", &ns.name, "sysctl", "-qw", kv]);
}

/// A namespace with a veth pair a0/b0, both up, IPv6 on, and duplicate
/// address detection on a0 slowed to 10 s (one solicitation, 10 s apart):
/// an address that goes through DAD stays tentative the whole test, so a
/// check that ours does not cannot pass by luck.
fn veth6_ns(tag: &str) -> Netns {
    let ns = Netns::new(tag);
    sysctl_in(&ns, "net.ipv6.conf.all.disable_ipv6=0");
    sysctl_in(&ns, "net.ipv6.conf.default.disable_ipv6=0");
    ns.veth("a0", "b0");
    sysctl_in(&ns, "net.ipv6.conf.a0.disable_ipv6=0");
    sysctl_in(&ns, "net.ipv6.neigh.a0.retrans_time_ms=10000");
    ns.up("a0");
    ns.up("b0");
    ns
}

/// The `ip -6 -o addr show dev a0` line of `addr`, if a0 has it.
fn addr6_line(ns: &Netns, addr: &str) -> Option<String> {
    let needle = format!(" {addr}/");
    ns.ip(&["-6", "-o", "addr", "show", "dev", "a0"])
        .lines()
        .find(|l| l.contains(&needle))
        .map(str::to_owned)
}

/// The `valid_lft` seconds of an `ip -o addr` line (`None`: forever).
fn valid_lft(line: &str) -> Option<u32> {
    let at = line.find("valid_lft ")? + "valid_lft ".len();
    let secs = line[at..].split("sec").next()?;
    secs.parse().ok()
}

/// Bind a UDP socket to `addr` inside `ns`: the errno if the kernel
/// refuses (a tentative address is not usable: EADDRNOTAVAIL).
fn bind_in(ns: &Netns, addr: Ipv6Addr) -> Result<(), Option<i32>> {
    run_in(&ns.name, move || {
        UdpSocket::bind((addr, 0))
            .map(drop)
            .map_err(|e| e.raw_os_error())
    })
}

#[test]
fn ipv6_address_add_list_renew_remove() {
    if !root_or_skip("ipv6_address_add_list_renew_remove") {
        return;
    }
    let ns = veth6_ns("v6");
    let mut rtnl = run_in(&ns.name, || ifaddr::Rtnl::open().expect("rtnl"));
    let idx = run_in(&ns.name, || ifaddr::ifindex("a0").expect("ifindex"));
    // The control: an address added the usual way, with DAD.
    let dad = Ipv6Addr::new(0xfd00, 0x66, 0, 0, 0, 0, 0, 9);
    ns.ip(&["-6", "addr", "add", "fd00:66::9/64", "dev", "a0"]);

    rtnl.add_address6(idx, VIP6, 64, Duration::from_secs(30))
        .expect("add");
    // Usable at once, where the control is not.
    assert_eq!(bind_in(&ns, VIP6), Ok(()), "ours is usable at once");
    assert_eq!(
        bind_in(&ns, dad),
        Err(Some(libc::EADDRNOTAVAIL)),
        "an address under DAD is not"
    );
    let line = addr6_line(&ns, "fd00:66::5").expect("address added");
    assert!(line.contains("fd00:66::5/64"), "{line}");
    assert!(
        line.contains("nodad") && !line.contains("tentative"),
        "{line}"
    );
    assert!((28..=30).contains(&valid_lft(&line).unwrap_or(0)), "{line}");
    assert!(line.contains("preferred_lft 30sec") || line.contains("preferred_lft 29sec"));

    // The listing finds both, and tells ours from the control.
    let found = rtnl.list_addresses6().expect("list");
    let ours = found
        .iter()
        .find(|a| a.ifindex == idx && a.addr == VIP6)
        .unwrap_or_else(|| panic!("{found:?}"));
    assert_eq!(ours.prefix, 64);
    assert!(ours.nodad() && !ours.tentative(), "{ours:?}");
    // IFA_PROTO read back: Linux 6.1 and later.
    assert!(ours.tagged(), "{ours:?}");
    assert!((28..=30).contains(&ours.valid_s.unwrap_or(0)), "{ours:?}");
    let control = found
        .iter()
        .find(|a| a.ifindex == idx && a.addr == dad)
        .unwrap_or_else(|| panic!("{found:?}"));
    assert!(control.tentative() && !control.tagged(), "{control:?}");
    assert_eq!(control.valid_s, None, "static: forever");
    // The link-local addresses are listed too.
    assert!(found
        .iter()
        .any(|a| a.ifindex == idx && a.addr.segments()[0] == 0xfe80));

    // Adding it again (a retried takeover step) is not an error.
    rtnl.add_address6(idx, VIP6, 64, Duration::from_secs(30))
        .expect("add again");

    // Renewal: the lifetimes restart at the new figure, NODAD and the tag stay.
    rtnl.set_lifetime6(idx, VIP6, 64, Duration::from_secs(100))
        .expect("renew");
    let line = addr6_line(&ns, "fd00:66::5").expect("still there");
    assert!(
        (98..=100).contains(&valid_lft(&line).unwrap_or(0)),
        "{line}"
    );
    assert!(line.contains("nodad"), "{line}");
    let found = rtnl.list_addresses6().expect("list");
    assert!(
        found
            .iter()
            .any(|a| a.addr == VIP6 && a.tagged() && a.nodad()),
        "{found:?}"
    );
    // A shorter one is taken too: a renewal sets, it does not extend only.
    rtnl.set_lifetime6(idx, VIP6, 64, Duration::from_secs(20))
        .expect("renew shorter");
    let line = addr6_line(&ns, "fd00:66::5").expect("still there");
    assert!((18..=20).contains(&valid_lft(&line).unwrap_or(0)), "{line}");

    rtnl.remove_address6(idx, VIP6, 64).expect("remove");
    assert_eq!(addr6_line(&ns, "fd00:66::5"), None);
    // Removing again is not an error: the kernel may have beaten us to it.
    rtnl.remove_address6(idx, VIP6, 64).expect("remove twice");
    assert!(addr6_line(&ns, "fd00:66::9").is_some(), "the other stays");

    // Errors are reported, not hidden.
    let err = rtnl
        .add_address6(idx + 100, VIP6, 64, Duration::from_secs(1))
        .unwrap_err();
    assert_eq!(err.raw_os_error(), Some(libc::ENODEV), "{err}");
}

#[test]
fn kernel_lifetime_removes_an_unrenewed_ipv6_address() {
    if !root_or_skip("kernel_lifetime_removes_an_unrenewed_ipv6_address") {
        return;
    }
    let ns = veth6_ns("life6");
    let mut rtnl = run_in(&ns.name, || ifaddr::Rtnl::open().expect("rtnl"));
    let idx = run_in(&ns.name, || ifaddr::ifindex("a0").expect("ifindex"));
    let second = Duration::from_secs(1);
    rtnl.add_address6(idx, VIP6, 64, second).expect("add");
    let line = addr6_line(&ns, "fd00:66::5").expect("added");
    assert!(line.contains("valid_lft 1sec"), "{line}");

    // Renewing keeps it: renew every 200 ms for 2.4 s (more than the lifetime).
    for _ in 0..12 {
        std::thread::sleep(Duration::from_millis(200));
        rtnl.set_lifetime6(idx, VIP6, 64, second).expect("renew");
    }
    assert!(
        addr6_line(&ns, "fd00:66::5").is_some(),
        "renewed address stays"
    );

    // Stop renewing (a killed daemon): the kernel removes it by itself.
    // IPv6 has its own lifetime worker (addrconf_verify, a deferrable
    // per-namespace work item, as IPv4's check_lifetime): 1003-1266 ms
    // after the last renewal in 60 runs on a loaded 2-core box (Linux
    // 6.18), the same spread as IPv4 side by side (docs/DECISIONS.md,
    // "IPv6 (issue 15)"). NEVER_REMOVED is the bound, as for IPv4.
    let last = Instant::now();
    let gone = eventually_every(NEVER_REMOVED, POLL, || {
        addr6_line(&ns, "fd00:66::5")
            .is_none()
            .then(|| last.elapsed())
    });
    let took = gone.unwrap_or_else(|| panic!("the kernel kept the address {NEVER_REMOVED:?}"));
    assert!(
        took >= Duration::from_millis(700),
        "not before the lifetime: {took:?}"
    );
    println!("FIGURE kernel_removal6_ms {}", took.as_millis());

    // A renewal after the kernel removed it adds it again, usable at once.
    rtnl.set_lifetime6(idx, VIP6, 64, second)
        .expect("renew after expiry");
    let line = addr6_line(&ns, "fd00:66::5").expect("added again");
    assert!(
        line.contains("nodad") && !line.contains("tentative"),
        "{line}"
    );
    assert_eq!(bind_in(&ns, VIP6), Ok(()));

    // Unlike IPv4, setting the link down drops every IPv6 address on it
    // (keep_addr_on_down is 0 by default); a renewal after it is up again
    // brings ours back, and removing the dropped one is not an error.
    ns.ip(&["link", "set", "a0", "down"]);
    assert_eq!(addr6_line(&ns, "fd00:66::5"), None, "dropped on down");
    rtnl.remove_address6(idx, VIP6, 64)
        .expect("remove a dropped address");
    ns.up("a0");
    rtnl.set_lifetime6(idx, VIP6, 64, second)
        .expect("renew after up");
    assert!(addr6_line(&ns, "fd00:66::5").is_some(), "back after up");
}

#[test]
fn arp_probe_and_gratuitous_arp() {
    if !root_or_skip("arp_probe_and_gratuitous_arp") {
        return;
    }
    let a = Netns::new("arpa");
    let b = Netns::new("arpb");
    a.veth_to("a0", &b.name, "b0");
    a.up("a0");
    b.up("b0");
    b.ip(&["addr", "add", "10.66.0.7/24", "dev", "b0"]);
    let mac_a = mac(&a.name, "a0");
    let mac_b = mac(&b.name, "b0");

    // Probe: who has 10.66.0.7? b0's kernel answers with its MAC, to ours
    // (the only answers the ARP check believes).
    let answer = run_in(&a.name, move || {
        let s =
            ArpSocket::open(ifaddr::ifindex("a0").expect("ifindex"), mac_a).expect("packet socket");
        let target = Ipv4Addr::new(10, 66, 0, 7);
        let mut found = None;
        for _ in 0..5 {
            s.probe(target).expect("send probe");
            let got = eventually_every(Duration::from_millis(400), POLL, || {
                while let Ok(Some(p)) = s.recv() {
                    if p.answers_probe(target, mac_a) {
                        found = Some(p);
                    }
                }
                found.is_some().then_some(())
            });
            if got.is_some() {
                break;
            }
        }
        found
    });
    let answer = answer.expect("an ARP reply");
    assert_eq!(answer.sender_mac, mac_b);

    // Nobody has 10.66.0.8: no answer.
    let none = run_in(&a.name, move || {
        let s =
            ArpSocket::open(ifaddr::ifindex("a0").expect("ifindex"), mac_a).expect("packet socket");
        let target = Ipv4Addr::new(10, 66, 0, 8);
        s.probe(target).expect("send probe");
        let mut seen = false;
        // Listen the whole time: no early way out.
        eventually_every(Duration::from_millis(300), POLL, || {
            while let Ok(Some(p)) = s.recv() {
                seen |= p.answers_probe(target, mac_a);
            }
            None::<()>
        });
        seen
    });
    assert!(!none, "nobody answers for a free address");

    // Gratuitous ARP from a0 for 10.66.0.9 reaches b0, and b0's kernel
    // updates an existing neighbour entry to a0's MAC.
    b.ip(&[
        "neigh",
        "replace",
        "10.66.0.9",
        "lladdr",
        "02:00:00:00:00:99",
        "dev",
        "b0",
        "nud",
        "stale",
    ]);
    let listener = spawn_in(&b.name, move || {
        let s =
            ArpSocket::open(ifaddr::ifindex("b0").expect("ifindex"), mac_b).expect("packet socket");
        let mut got: Option<ArpPacket> = None;
        eventually_every(Duration::from_secs(3), POLL, || {
            while let Ok(Some(p)) = s.recv() {
                let vip = Ipv4Addr::new(10, 66, 0, 9);
                if p.sender_ip == vip && p.target_ip == vip {
                    got = Some(p);
                }
            }
            got.is_some().then_some(())
        });
        got
    });
    std::thread::sleep(Duration::from_millis(200));
    run_in(&a.name, move || {
        let s =
            ArpSocket::open(ifaddr::ifindex("a0").expect("ifindex"), mac_a).expect("packet socket");
        for _ in 0..3 {
            s.announce(Ipv4Addr::new(10, 66, 0, 9)).expect("announce");
            std::thread::sleep(Duration::from_millis(100));
        }
    });
    let got = listener
        .join()
        .expect("listener")
        .expect("gratuitous ARP received");
    assert_eq!(got.sender_mac, mac_a);
    let neigh = b.ip(&["neigh", "show", "10.66.0.9", "dev", "b0"]);
    let want: Vec<String> = mac_a.iter().map(|x| format!("{x:02x}")).collect();
    assert!(
        neigh.contains(&want.join(":")),
        "client cache updated by gratuitous ARP: {neigh}"
    );
}

/// `sysctl -w KEY=VALUE` inside namespace `ns`.
fn sysctl(ns: &Netns, setting: &str) {
    sh(&["ip", "netns", "exec", &ns.name, "sysctl", "-qw", setting]);
}

/// IPv6 on `dev` of namespace `ns`, without duplicate address detection
/// (the link-local address is usable at once, not tentative for 1-2 s).
/// Before the link goes up: the link-local address is made then.
fn v6_without_dad(ns: &Netns, dev: &str) {
    sysctl(ns, "net.ipv6.conf.all.disable_ipv6=0");
    sysctl(ns, &format!("net.ipv6.conf.{dev}.disable_ipv6=0"));
    sysctl(ns, &format!("net.ipv6.conf.{dev}.accept_dad=0"));
    sysctl(ns, &format!("net.ipv6.conf.{dev}.dad_transmits=0"));
}

/// Wait until `dev` of namespace `ns` has a usable (not tentative)
/// link-local address: the kernel sends Neighbour Discovery from it.
fn wait_link_local(ns: &Netns, dev: &str) {
    let ready = eventually_every(Duration::from_secs(5), POLL, || {
        let shown = ns.ip(&["-6", "addr", "show", "dev", dev, "scope", "link"]);
        (shown.contains("fe80::") && !shown.contains("tentative")).then_some(())
    });
    let shown = ns.ip(&["-6", "addr", "show", "dev", dev]);
    assert!(ready.is_some(), "no usable link-local address: {shown}");
}

#[test]
fn ndp_probe_and_unsolicited_advertisement() {
    if !root_or_skip("ndp_probe_and_unsolicited_advertisement") {
        return;
    }
    let a = Netns::new("ndpa");
    let b = Netns::new("ndpb");
    a.veth_to("a0", &b.name, "b0");
    v6_without_dad(&a, "a0");
    v6_without_dad(&b, "b0");
    a.up("a0");
    b.up("b0");
    wait_link_local(&a, "a0");
    wait_link_local(&b, "b0");
    b.ip(&["-6", "addr", "add", "fd66::7/64", "dev", "b0", "nodad"]);
    let mac_a = mac(&a.name, "a0");
    let mac_b = mac(&b.name, "b0");
    let held: Ipv6Addr = "fd66::7".parse().expect("address");
    // The target of an advertisement sent as if it had crossed a router.
    const FORWARDED: Ipv6Addr = Ipv6Addr::new(0xfd66, 0, 0, 0, 0, 0, 0, 9);

    // Probe: who has fd66::7? b0's kernel answers with a solicited NA
    // naming its MAC, to our link-local address.
    let answer = run_in(&a.name, move || {
        let s =
            NdpSocket::open(ifaddr::ifindex("a0").expect("ifindex"), mac_a).expect("ndp socket");
        let mut found = None;
        for _ in 0..5 {
            s.probe(held).expect("send probe");
            let got = eventually_every(Duration::from_millis(400), POLL, || {
                while let Ok(Some(p)) = s.recv() {
                    if p.answers_probe(held) {
                        found = Some(p);
                    }
                }
                found.is_some().then_some(())
            });
            if got.is_some() {
                break;
            }
        }
        found
    });
    let answer = answer.expect("a Neighbour Advertisement");
    assert_eq!(answer.mac, Some(mac_b));
    assert!(
        answer.solicited && answer.override_ && !answer.router,
        "{answer:?}"
    );

    // Nobody has fd66::8: no answer.
    let none = run_in(&a.name, move || {
        let s =
            NdpSocket::open(ifaddr::ifindex("a0").expect("ifindex"), mac_a).expect("ndp socket");
        let target: Ipv6Addr = "fd66::8".parse().expect("address");
        s.probe(target).expect("send probe");
        let mut seen = false;
        // Listen the whole time: no early way out.
        eventually_every(Duration::from_millis(300), POLL, || {
            while let Ok(Some(p)) = s.recv() {
                seen |= p.answers_probe(target);
            }
            None::<()>
        });
        seen
    });
    assert!(!none, "nobody answers for a free address");

    // An unsolicited NA from b0 for fd66::7 reaches a0, and a0's kernel
    // updates an existing neighbour entry to b0's MAC. One for fd66::9
    // sent before it with hop limit 64, as if it had crossed a router,
    // is dropped (RFC 4861 7.1.2).
    a.ip(&[
        "-6",
        "neigh",
        "replace",
        "fd66::7",
        "lladdr",
        "02:00:00:00:00:99",
        "dev",
        "a0",
        "nud",
        "stale",
    ]);
    let listener = spawn_in(&a.name, move || {
        let s =
            NdpSocket::open(ifaddr::ifindex("a0").expect("ifindex"), mac_a).expect("ndp socket");
        let mut got: Option<NaPacket> = None;
        let mut forwarded = None;
        eventually_every(Duration::from_secs(3), POLL, || {
            while let Ok(Some(p)) = s.recv() {
                if p.target == held && !p.solicited {
                    got = Some(p);
                }
                if p.target == FORWARDED {
                    forwarded = Some(p);
                }
            }
            got.is_some().then_some(())
        });
        (got, forwarded)
    });
    std::thread::sleep(Duration::from_millis(200));
    run_in(&b.name, move || {
        let index = ifaddr::ifindex("b0").expect("ifindex");
        let raw = socket(
            AddressFamily::Inet6,
            SockType::Raw,
            SockFlag::SOCK_CLOEXEC,
            SockProtocol::IcmpV6,
        )
        .expect("raw socket");
        setsockopt(&raw, sockopt::Ipv6MulticastHops, &64).expect("hop limit");
        let to = SockaddrIn6::from(SocketAddrV6::new(ALL_NODES, 0, 0, index));
        let body = na_body(FORWARDED, mac_b, FLAG_OVERRIDE);
        sendto(raw.as_raw_fd(), &body, &to, MsgFlags::empty()).expect("send hop 64");
        let s = NdpSocket::open(index, mac_b).expect("ndp socket");
        for _ in 0..3 {
            s.announce(held).expect("announce");
            std::thread::sleep(Duration::from_millis(100));
        }
    });
    let (got, forwarded) = listener.join().expect("listener");
    assert_eq!(forwarded, None, "hop limit 64 is not believed");
    let got = got.expect("unsolicited NA received");
    assert_eq!(got.mac, Some(mac_b));
    assert!(got.override_ && !got.router, "{got:?}");
    assert!(!got.answers_probe(held), "an announcement is not an answer");
    let neigh = a.ip(&["-6", "neigh", "show", "fd66::7", "dev", "a0"]);
    let want: Vec<String> = mac_b.iter().map(|x| format!("{x:02x}")).collect();
    assert!(
        neigh.contains(&want.join(":")),
        "neighbour cache updated by the unsolicited NA: {neigh}"
    );
}
