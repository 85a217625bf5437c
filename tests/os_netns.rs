//! The os layer against a real kernel, inside namespaces this test creates:
//! alias ioctls, kernel address lifetimes (fencing layer 2), ARP probe and
//! gratuitous ARP on a packet socket.

mod common;

use std::net::Ipv4Addr;
use std::time::Duration;

use bongoyo::os::arp::{ArpPacket, ArpSocket, OP_REPLY};
use bongoyo::os::ifaddr;
use common::netns::{can_netns, sh, wait_for, Netns};

const VIP: Ipv4Addr = Ipv4Addr::new(10, 66, 0, 5);

fn addr_show(ns: &str) -> String {
    sh(&["ip", "-n", ns, "-4", "addr", "show", "dev", "a0"])
}

/// A namespace with a veth pair a0/b0, both up.
fn veth_ns(nets: &mut Netns, tag: &str) -> String {
    let ns = nets.add(tag);
    sh(&[
        "ip", "-n", &ns, "link", "add", "a0", "type", "veth", "peer", "name", "b0",
    ]);
    sh(&["ip", "-n", &ns, "link", "set", "a0", "up"]);
    sh(&["ip", "-n", &ns, "link", "set", "b0", "up"]);
    ns
}

#[test]
fn alias_add_list_remove() {
    if !can_netns() {
        return;
    }
    let mut nets = Netns::new();
    let ns = veth_ns(&mut nets, "alias");
    let labels = Netns::run_in(&ns, || {
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
    let second = Netns::run_in(&ns, || {
        let used = ifaddr::list_addresses().expect("list");
        let l = ifaddr::free_label("a0", &used).expect("label");
        ifaddr::add_alias(&l, Ipv4Addr::new(10, 66, 0, 6), 24).expect("add");
        l
    });
    assert_eq!(second, "a0:1");

    Netns::run_in(&ns, || {
        let idx = ifaddr::ifindex("a0").expect("ifindex");
        ifaddr::remove_address(idx, VIP, 24).expect("remove");
        // Removing again is not an error: the kernel may have beaten us to it.
        ifaddr::remove_address(idx, VIP, 24).expect("remove twice");
    });
    let shown = addr_show(&ns);
    assert!(!shown.contains("10.66.0.5/"), "{shown}");
    assert!(
        shown.contains("10.66.0.6/24"),
        "the other alias stays: {shown}"
    );

    // Errors are reported, not hidden.
    let err = Netns::run_in(&ns, || ifaddr::add_alias("nosuch0:0", VIP, 24).unwrap_err());
    assert_eq!(err.raw_os_error(), Some(libc::ENODEV), "{err}");
}

#[test]
fn kernel_lifetime_removes_an_unrenewed_alias() {
    if !can_netns() {
        return;
    }
    let mut nets = Netns::new();
    let ns = veth_ns(&mut nets, "life");
    Netns::run_in(&ns, || {
        ifaddr::add_alias("a0:0", VIP, 24).expect("add alias");
        let idx = ifaddr::ifindex("a0").expect("ifindex");
        ifaddr::set_lifetime(idx, "a0:0", VIP, 24, 1).expect("lifetime");
    });
    let shown = addr_show(&ns);
    assert!(shown.contains("10.66.0.5/24"), "{shown}");
    assert!(shown.contains("valid_lft 1sec"), "lifetime set: {shown}");
    assert!(shown.contains("a0:0"), "label kept: {shown}");

    // Renewing keeps it: renew every 200 ms for 2.5 s (more than the lifetime).
    for _ in 0..12 {
        std::thread::sleep(Duration::from_millis(200));
        Netns::run_in(&ns, || {
            let idx = ifaddr::ifindex("a0").expect("ifindex");
            ifaddr::set_lifetime(idx, "a0:0", VIP, 24, 1).expect("renew");
        });
    }
    assert!(
        addr_show(&ns).contains("10.66.0.5/24"),
        "renewed address stays"
    );

    // Stop renewing (a killed daemon): the kernel removes it by itself.
    let gone = wait_for(Duration::from_secs(6), || {
        !addr_show(&ns).contains("10.66.0.5/")
    });
    let took = gone.expect("kernel removed the address");
    assert!(
        took >= Duration::from_millis(700),
        "not before the lifetime: {took:?}"
    );
    eprintln!(
        "kernel removed the alias {} ms after the last renewal",
        took.as_millis()
    );
}

#[test]
fn arp_probe_and_gratuitous_arp() {
    if !can_netns() {
        return;
    }
    let mut nets = Netns::new();
    let a = nets.add("arpa");
    let b = nets.add("arpb");
    sh(&[
        "ip", "-n", &a, "link", "add", "a0", "type", "veth", "peer", "name", "b0", "netns", &b,
    ]);
    sh(&["ip", "-n", &a, "link", "set", "a0", "up"]);
    sh(&["ip", "-n", &b, "link", "set", "b0", "up"]);
    sh(&["ip", "-n", &b, "addr", "add", "10.66.0.7/24", "dev", "b0"]);
    let mac_a = Netns::mac(&a, "a0");
    let mac_b = Netns::mac(&b, "b0");

    // Probe: who has 10.66.0.7? b0's kernel answers with its MAC.
    let answer = Netns::run_in(&a, move || {
        let s =
            ArpSocket::open(ifaddr::ifindex("a0").expect("ifindex"), mac_a).expect("packet socket");
        let target = Ipv4Addr::new(10, 66, 0, 7);
        let mut found = None;
        for _ in 0..5 {
            s.probe(target).expect("send probe");
            let got = wait_for(Duration::from_millis(400), || {
                while let Ok(Some(p)) = s.recv() {
                    if p.op == OP_REPLY && p.claims(target) {
                        found = Some(p);
                    }
                }
                found.is_some()
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
    let none = Netns::run_in(&a, move || {
        let s =
            ArpSocket::open(ifaddr::ifindex("a0").expect("ifindex"), mac_a).expect("packet socket");
        let target = Ipv4Addr::new(10, 66, 0, 8);
        s.probe(target).expect("send probe");
        let mut seen = false;
        wait_for(Duration::from_millis(300), || {
            while let Ok(Some(p)) = s.recv() {
                seen |= p.claims(target);
            }
            false
        });
        seen
    });
    assert!(!none, "nobody answers for a free address");

    // Gratuitous ARP from a0 for 10.66.0.9 reaches b0, and b0's kernel
    // updates an existing neighbour entry to a0's MAC.
    sh(&[
        "ip",
        "-n",
        &b,
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
    let bs = b.clone();
    let listener = std::thread::spawn(move || {
        Netns::run_in(&bs, move || {
            let s = ArpSocket::open(ifaddr::ifindex("b0").expect("ifindex"), mac_b)
                .expect("packet socket");
            let mut got: Option<ArpPacket> = None;
            wait_for(Duration::from_secs(3), || {
                while let Ok(Some(p)) = s.recv() {
                    if p.claims(Ipv4Addr::new(10, 66, 0, 9)) {
                        got = Some(p);
                    }
                }
                got.is_some()
            });
            got
        })
    });
    std::thread::sleep(Duration::from_millis(200));
    Netns::run_in(&a, move || {
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
    let neigh = sh(&["ip", "-n", &b, "neigh", "show", "10.66.0.9", "dev", "b0"]);
    let want: Vec<String> = mac_a.iter().map(|x| format!("{x:02x}")).collect();
    assert!(
        neigh.contains(&want.join(":")),
        "client cache updated by gratuitous ARP: {neigh}"
    );
}
