//! The service manager's notify protocol (systemd `Type=notify`,
//! `WatchdogSec=`) against a stand-in: a Unix datagram socket named by
//! `NOTIFY_SOCKET`, as systemd binds one. The real daemon, in a network
//! namespace this test creates, must say `READY=1` once started, then
//! `WATCHDOG=1` at half of `WATCHDOG_USEC` from its loop, then
//! `STOPPING=1` on SIGTERM, and exit 0.
//!
//! Needs root (namespaces); prints SKIP otherwise.

mod common;

use std::os::unix::net::UnixDatagram;
use std::path::Path;
use std::process::Stdio;
use std::time::{Duration, Instant};

use common::daemon::{keyed_dir, Daemon, Syslog};
use common::netns::{root_or_skip, Netns};
use nix::sys::signal::Signal;

/// Every datagram that arrives within `limit`, with its arrival time.
fn collect(
    sock: &UnixDatagram,
    limit: Duration,
    until: impl Fn(&str) -> bool,
) -> Vec<(Instant, String)> {
    let end = Instant::now() + limit;
    let mut got = Vec::new();
    let mut buf = [0u8; 256];
    while Instant::now() < end {
        if let Ok(n) = sock.recv(&mut buf) {
            let msg = String::from_utf8_lossy(&buf[..n]).into_owned();
            let done = until(&msg);
            got.push((Instant::now(), msg));
            if done {
                break;
            }
        }
    }
    got
}

#[test]
fn ready_then_watchdog_then_stopping() {
    if !root_or_skip("ready_then_watchdog_then_stopping") {
        return;
    }
    let (dir, key) = keyed_dir("notify");
    let ns = Netns::new("notify");
    ns.veth("veth0", "veth1");
    ns.bring_up("veth0", "10.78.0.1/24");
    ns.up("veth1");
    let conf = dir.path("bongoyo.conf");
    std::fs::write(
        &conf,
        format!(
            "cluster notify-{pid}\nkey-file {key}\ninterface veth0\nhello 100ms\nnode f1 10.78.0.1\n",
            pid = std::process::id(),
            key = key.display()
        ),
    )
    .unwrap();
    let (sock, log, notify) = (
        dir.path("ctl.sock"),
        dir.path("log.sock"),
        dir.path("notify.sock"),
    );
    let _syslog = Syslog::bind(&log);
    let manager = UnixDatagram::bind(&notify).expect("bind the notify stand-in");
    manager
        .set_read_timeout(Some(Duration::from_millis(50)))
        .unwrap();
    // 400 ms: a WATCHDOG=1 every 200 ms.
    let mut d = Daemon::start_with_env(
        &ns.name,
        &conf,
        "f1",
        &sock,
        &log,
        Stdio::inherit(),
        &[
            ("NOTIFY_SOCKET", notify.as_path()),
            ("WATCHDOG_USEC", Path::new("400000")),
        ],
    );

    let first = collect(&manager, Duration::from_secs(5), |_| true);
    assert_eq!(
        first.iter().map(|(_, m)| m.as_str()).collect::<Vec<_>>(),
        ["READY=1"],
        "the first datagram"
    );
    assert!(
        d.wait_ready(Duration::from_secs(2)),
        "READY=1 came, but the control socket does not answer"
    );
    let beats = collect(&manager, Duration::from_millis(1300), |_| false);
    let msgs: Vec<&str> = beats.iter().map(|(_, m)| m.as_str()).collect();
    assert!(
        msgs.len() >= 4 && msgs.iter().all(|m| *m == "WATCHDOG=1"),
        "expected a WATCHDOG=1 every 200 ms for 1.3 s, got {msgs:?}"
    );
    for pair in beats.windows(2) {
        let gap = pair[1].0 - pair[0].0;
        assert!(
            gap < Duration::from_millis(350),
            "WATCHDOG=1 {gap:?} apart, more than the half-timeout allows"
        );
    }

    d.signal(Signal::SIGTERM);
    let last = collect(&manager, Duration::from_secs(5), |m| m == "STOPPING=1");
    assert_eq!(
        last.last().map(|(_, m)| m.as_str()),
        Some("STOPPING=1"),
        "after SIGTERM: {last:?}"
    );
    let st = d
        .wait(Duration::from_secs(8))
        .expect("the daemon did not exit");
    assert_eq!(st.code(), Some(0), "{st:?}");
}
