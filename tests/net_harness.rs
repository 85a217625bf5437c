//! The namespace test harness checked against the kernel alone, no daemon:
//! the client sees who serves the VIP, measures an outage when the address
//! moves, sees two MACs when two hosts hold it, and everything is removed.

mod common;

use std::time::Duration;

use common::lan::{Lan, Opts};
use common::netns::{root_or_skip, sh};

#[test]
fn the_client_sees_who_serves_outages_and_duplicates() {
    if !root_or_skip("the_client_sees_who_serves_outages_and_duplicates") {
        return;
    }
    let lan = Lan::new(1, Opts::default());
    let names: Vec<String> = ["sw", "f1", "f2", "f3", "or", "cl"]
        .iter()
        .map(|h| lan.ns(h))
        .collect();
    let client = lan.client();
    // Nobody holds the VIP: nothing answers.
    std::thread::sleep(Duration::from_millis(300));
    let v = client.view();
    assert!(v.attempts.len() >= 5, "{v:?}");
    assert!(v.attempts.iter().all(|a| a.who.is_none()), "{v:?}");
    assert!(v.arp.iter().all(|i| i.macs.is_empty()), "{v:?}");

    lan.add_vip("f2");
    assert_eq!(
        client.wait_served(Duration::from_secs(5), 10).as_deref(),
        Some("f2")
    );
    assert_eq!(lan.holders(), vec!["f2".to_owned()]);

    // Move it: a gap of about 300 ms that the client must measure.
    let mark = client.now();
    // Moved by hand as a takeover would: remove, add, gratuitous ARP.
    lan.del_vip("f2");
    std::thread::sleep(Duration::from_millis(300));
    lan.add_vip("f3");
    lan.announce("f3");
    let who = client.wait_served_by_other(mark, "f2", Duration::from_secs(5), 10);
    assert_eq!(who.as_deref(), Some("f3"));
    let v = client.view();
    let out = v.outage_ms(mark).expect("served again");
    assert!(
        (280..=700).contains(&out),
        "outage {out} ms\n{}",
        v.summary(0)
    );
    assert_eq!(v.duplicate_ms(0), 0, "{}", v.summary(0));
    assert_eq!(v.answer_sequence(0), vec!["f2", "f3"]);

    // Two holders: the ARP watcher sees two MACs.
    let mark = client.now();
    lan.add_vip("f1");
    std::thread::sleep(Duration::from_millis(400));
    let v = client.view();
    assert!(v.duplicate_ms(mark) >= 200, "{}", v.summary(mark));
    assert!(v
        .arp
        .iter()
        .any(|i| i.macs == vec!["f1".to_owned(), "f3".to_owned()]));
    drop(client.stop());
    drop(lan);
    let left = sh(&["ip", "netns", "list"]);
    for n in names {
        assert!(!left.contains(&n), "{n} left behind: {left}");
    }
}
