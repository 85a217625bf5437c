//! The real daemon in network namespaces this test creates: start-up log
//! to syslog, status over the control socket, SIGHUP with a broken file,
//! SIGTERM, and two boxes on a veth pair hearing each other.
//!
//! Needs root (namespaces); prints SKIP otherwise.

mod common;

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use common::daemon::{client, keyed_dir, write_script, Daemon, Syslog, TempDir};
use common::netns::{eventually, has_addr, root_or_skip, sh, Netns};
use nix::sys::signal::Signal;

fn config(key: &Path, interface: &str, a: &str, b: &str) -> String {
    format!(
        "# bongoyo test configuration\n\
         cluster test-{pid}\n\
         key-file {key}\n\
         interface {interface}\n\
         multicast 239.255.76.7 port 7607\n\
         hello 100ms\n\
         node f1 {a} priority 200\n\
         node f2 {b}\n\
         vserver web {{\n\
         \x20   address 10.9.9.9/24\n\
         \x20   interface {interface}\n\
         \x20   service none\n\
         }}\n",
        pid = std::process::id(),
        key = key.display(),
    )
}

fn status(sock: &Path, json: bool) -> (Option<i32>, String) {
    let mut args = vec!["status", "-s", sock.to_str().unwrap()];
    if json {
        args.push("--json");
    }
    let out = client(&args);
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
    )
}

/// The text status of every socket, for a failure message.
fn statuses(socks: &[PathBuf]) -> Vec<String> {
    socks.iter().map(|s| status(s, false).1).collect()
}

/// Start box `name`'s daemon in `ns`; its stderr shows with a failure.
fn start_daemon(ns: &Netns, conf: &Path, name: &str, sock: &Path, log: &Path) -> Daemon {
    Daemon::start(&ns.name, conf, name, sock, log, Stdio::inherit())
}

/// A veth pair inside `ns`, `veth0` with `addr` (a /24) and the multicast
/// route: a single box talking to nobody. (Not loopback: on `lo` a box's
/// own multicast comes back in whatever the loop option says, and would
/// muddle the counters the tests read.)
fn lonely_veth(ns: &Netns, addr: &str) {
    ns.veth("veth0", "veth1");
    ns.bring_up("veth0", addr);
    ns.up("veth1");
}

/// Box f1 alone on a lonely veth (10.78.0.1), its daemon started with the
/// test configuration, its log collected. Fields drop in order: the daemon
/// first, the directory last.
struct OneBox {
    daemon: Daemon,
    syslog: Syslog,
    ns: Netns,
    conf: PathBuf,
    sock: PathBuf,
    log: PathBuf,
    /// Held for its `Drop`: removed after the daemon is gone.
    _dir: TempDir,
}

fn one_box(tag: &str) -> OneBox {
    let (dir, key) = keyed_dir(tag);
    let ns = Netns::new(tag);
    lonely_veth(&ns, "10.78.0.1/24");
    let conf = dir.path("bongoyo.conf");
    std::fs::write(&conf, config(&key, "veth0", "10.78.0.1", "10.78.0.2")).unwrap();
    let (sock, log) = (dir.path("ctl.sock"), dir.path("log.sock"));
    let syslog = Syslog::bind(&log);
    let daemon = start_daemon(&ns, &conf, "f1", &sock, &log);
    OneBox {
        daemon,
        syslog,
        ns,
        conf,
        sock,
        log,
        _dir: dir,
    }
}

#[test]
fn one_box_logs_answers_reloads_and_stops() {
    if !root_or_skip("one_box_logs_answers_reloads_and_stops") {
        return;
    }
    let mut one = one_box("one");
    let (conf, sock, syslog, d) = (&one.conf, &one.sock, &one.syslog, &mut one.daemon);

    // Start message: facility daemon (3), so priority <3x>, ident bongoyo with pid.
    let start = syslog.wait_for(Duration::from_secs(5), |l| {
        l.contains(" start ") || l.contains(": start ")
    });
    let start = start.unwrap_or_else(|| panic!("no start line; got {:?}", syslog.lines()));
    assert!(start.starts_with("<3"), "{start}");
    assert!(
        start.contains(&format!("bongoyo[{}]: start node=f1", d.pid())),
        "{start}"
    );
    assert!(
        d.wait_ready(Duration::from_secs(5)),
        "control socket never answered"
    );

    let (code, text) = status(sock, false);
    assert_eq!(code, Some(0));
    assert!(text.contains("node        f1"), "{text}");
    assert!(text.contains("role "), "{text}");
    assert!(text.contains("generation "), "{text}");
    assert!(text.contains("f2"), "{text}");
    assert!(
        text.contains("web") && text.contains("state unknown"),
        "{text}"
    );
    assert!(text.contains("drops       total"), "{text}");
    let (code, json) = status(sock, true);
    assert_eq!(code, Some(0));
    assert!(json.starts_with("{\"node\":\"f1\""), "{json}");
    assert!(json.contains("\"members\":[{\"name\":\"f1\""), "{json}");
    assert!(json.contains("\"vservers\":[{\"name\":\"web\""), "{json}");
    assert!(json.trim_end().ends_with('}'), "{json}");
    // A second daemon on the same socket refuses to start.
    let mut twin = start_daemon(&one.ns, conf, "f1", sock, &one.log);
    let st = twin
        .wait(Duration::from_secs(5))
        .expect("second daemon did not exit");
    assert!(!st.success());
    assert!(sock.exists(), "the refused twin removed the live socket");

    // A datagram that is not ours: received, dropped by the codec, counted.
    sh(&[
        "ip",
        "netns",
        "exec",
        &one.ns.name,
        "bash",
        "-c",
        "echo not-a-bongoyo-datagram > /dev/udp/10.78.0.1/7607",
    ]);
    let counted = eventually(Duration::from_secs(3), || {
        let (_, json) = status(sock, true);
        (json.contains("\"received\":1,") && json.contains("\"drops\":{\"total\":1,")).then_some(())
    });
    assert!(counted.is_some(), "{}", status(sock, false).1);

    // SIGHUP with a broken file: every error logged, daemon keeps running.
    std::fs::write(conf, "cluster t\nkey-file insecure\nbogus-directive 42\n").unwrap();
    d.signal(Signal::SIGHUP);
    let want = format!("{}:3:", conf.display());
    let err = syslog.wait_for(Duration::from_secs(5), |l| l.contains(&want));
    assert!(err.is_some(), "no {want} in {:?}", syslog.lines());
    assert!(syslog
        .wait_for(Duration::from_secs(2), |l| l.contains("reload-rejected"))
        .is_some());
    assert!(d.alive());
    assert_eq!(status(sock, false).0, Some(0));

    // SIGTERM: exit 0, socket gone.
    d.signal(Signal::SIGTERM);
    let st = d
        .wait(Duration::from_secs(5))
        .expect("daemon did not stop on SIGTERM");
    assert_eq!(st.code(), Some(0));
    assert!(!sock.exists(), "control socket left behind");
    assert!(syslog
        .wait_for(Duration::from_secs(2), |l| l
            .contains("stop signal=SIGTERM"))
        .is_some());
}

#[test]
fn a_slow_control_client_does_not_stall_the_daemon() {
    if !root_or_skip("a_slow_control_client_does_not_stall_the_daemon") {
        return;
    }
    let mut one = one_box("slow");
    let sock = one.sock.clone();
    assert!(one.daemon.wait_ready(Duration::from_secs(5)));
    // Connections that never send a line, more than there are slots.
    let idle: Vec<_> = (0..6)
        .map(|_| std::os::unix::net::UnixStream::connect(&sock).unwrap())
        .collect();
    let t = Instant::now();
    // Answered once the idle ones time out (1 s), well within the client's 5 s.
    let answered = eventually(Duration::from_secs(4), || {
        (status(&sock, false).0 == Some(0)).then_some(())
    });
    assert!(answered.is_some());
    assert!(t.elapsed() < Duration::from_secs(4));
    drop(idle);
    let s = sock.to_str().unwrap();
    let hold = client(&["hold", "-s", s]);
    assert_eq!(hold.status.code(), Some(0));
    assert!(String::from_utf8_lossy(&hold.stdout).starts_with("ok hold"));
    assert_eq!(client(&["resume", "-s", s]).status.code(), Some(0));
    let out = client(&["release", "no-such-vserver", "-s", s]);
    assert_eq!(out.status.code(), Some(65));
}

#[test]
fn two_boxes_on_a_veth_pair_hear_each_other() {
    if !root_or_skip("two_boxes_on_a_veth_pair_hear_each_other") {
        return;
    }
    let (dir, key) = keyed_dir("two");
    let a = Netns::new("a");
    let b = Netns::new("b");
    // Both ends are called veth0: the file is the same on every box.
    a.veth_to("veth0", &b.name, "veth0");
    a.bring_up("veth0", "10.77.0.1/24");
    b.bring_up("veth0", "10.77.0.2/24");
    let conf = dir.path("bongoyo.conf");
    std::fs::write(&conf, config(&key, "veth0", "10.77.0.1", "10.77.0.2")).unwrap();
    let (sa, sb) = (dir.path("a.sock"), dir.path("b.sock"));
    let _log = Syslog::bind(&dir.path("log.sock"));
    let mut da = start_daemon(&a, &conf, "f1", &sa, &dir.path("log.sock"));
    let mut db = start_daemon(&b, &conf, "f2", &sb, &dir.path("log.sock"));
    assert!(da.wait_ready(Duration::from_secs(5)) && db.wait_ready(Duration::from_secs(5)));
    // Each sees the other's authenticated datagrams: "received" > 0 for the
    // other member in its JSON status.
    for (sock, other) in [(&sa, "f2"), (&sb, "f1")] {
        let seen = eventually(Duration::from_secs(5), || {
            let (_, json) = status(sock, true);
            let at = json.find(&format!("{{\"name\":\"{other}\""))?;
            let rest = &json[at..];
            let r = rest.find("\"received\":")? + "\"received\":".len();
            let n: u64 = rest[r..]
                .split(|c: char| !c.is_ascii_digit())
                .next()?
                .parse()
                .ok()?;
            (n > 0).then_some(n)
        });
        assert!(
            seen.is_some(),
            "{sock:?} never heard {other}: {}",
            status(sock, false).1
        );
    }
    da.signal(Signal::SIGTERM);
    db.signal(Signal::SIGTERM);
    assert_eq!(
        da.wait(Duration::from_secs(5)).and_then(|s| s.code()),
        Some(0)
    );
    assert_eq!(
        db.wait(Duration::from_secs(5)).and_then(|s| s.code()),
        Some(0)
    );
}

/// Three boxes on a bridge in a switch namespace, one vserver with
/// `service none`: exactly one box takes it (UU1 in the status of the boss
/// and its deputies), and after `kill -9` of that box's daemon the kernel
/// removes the address by itself (fencing layer 2) and another box takes
/// it over.
#[test]
fn three_boxes_serve_one_vserver_and_survive_kill_9() {
    if !root_or_skip("three_boxes_serve_one_vserver_and_survive_kill_9") {
        return;
    }
    let (dir, key) = keyed_dir("three");
    let sw = Netns::new("sw");
    sw.bridge("br0");
    let boxes: Vec<Netns> = (1..=3).map(|i| Netns::new(&format!("x{i}"))).collect();
    for (i, ns) in boxes.iter().enumerate() {
        sw.plug("br0", &format!("p{i}"), &ns.name, "veth0");
        ns.bring_up("veth0", &format!("10.79.0.{}/24", i + 1));
    }
    // A post-takeover hook: proves hooks run as children with their
    // arguments and environment, and that their output reaches the log.
    let hook = dir.path("up.sh");
    let hook_log = dir.path("hook.log");
    write_script(
        &hook,
        &format!(
            "#!/bin/sh\necho \"up $1 $2 $3 $4 env=$BONGOYO_VSERVER,$BONGOYO_EVENT\" | tee -a {}\n",
            hook_log.display()
        ),
    );
    let conf = dir.path("bongoyo.conf");
    std::fs::write(
        &conf,
        format!(
            "cluster three-{pid}\n\
             key-file {key}\n\
             interface veth0\n\
             hello 100ms\n\
             node f1 10.79.0.1\n\
             node f2 10.79.0.2\n\
             node f3 10.79.0.3\n\
             vserver web {{\n\
             \x20   address 10.79.0.50/24\n\
             \x20   interface veth0\n\
             \x20   service none\n\
             \x20   check 100ms\n\
             \x20   post-takeover {hook}\n\
             }}\n",
            pid = std::process::id(),
            key = key.display(),
            hook = hook.display()
        ),
    )
    .unwrap();
    // A leftover of a crashed run on box 1 (no lifetime: it would stay).
    boxes[0].ip(&[
        "addr",
        "add",
        "10.79.0.50/24",
        "dev",
        "veth0",
        "label",
        "veth0:7",
    ]);
    let log = dir.path("log.sock");
    let syslog = Syslog::bind(&log);
    let socks: Vec<_> = (1..=3).map(|i| dir.path(&format!("f{i}.sock"))).collect();
    let mut daemons: Vec<Daemon> = (0..3)
        .map(|i| start_daemon(&boxes[i], &conf, &format!("f{}", i + 1), &socks[i], &log))
        .collect();
    for d in daemons.iter_mut() {
        assert!(
            d.wait_ready(Duration::from_secs(5)),
            "a daemon did not start"
        );
    }
    const VIP: &str = "10.79.0.50";
    let shown = boxes[0].ip(&["-4", "-o", "addr", "show"]);
    assert!(
        !shown.contains("veth0:7"),
        "start-up left the leftover: {shown}"
    );

    // Exactly one box holds the address, and the status says UU1 with it.
    let holder_of = |boxes: &[Netns], socks: &[PathBuf]| -> Option<usize> {
        let with: Vec<usize> = (0..3).filter(|&i| has_addr(&boxes[i].name, VIP)).collect();
        if with.len() != 1 {
            return None;
        }
        let h = with[0];
        let want = format!("state UU1  holder f{}", h + 1);
        socks
            .iter()
            .any(|s| status(s, false).1.contains(&want))
            .then_some(h)
    };
    let t0 = Instant::now();
    let first = eventually(Duration::from_secs(20), || holder_of(&boxes, &socks));
    let Some(first) = first else {
        let all = statuses(&socks);
        panic!("no single UU1 holder: {all:#?}\nlog: {:#?}", syslog.lines());
    };
    eprintln!(
        "three-boxes: f{} serves web after {} ms",
        first + 1,
        t0.elapsed().as_millis()
    );
    // Stays exactly one for a while (no flapping, no duplicate).
    for _ in 0..10 {
        std::thread::sleep(Duration::from_millis(100));
        let n = (0..3).filter(|&i| has_addr(&boxes[i].name, VIP)).count();
        assert_eq!(n, 1, "address on {n} boxes");
    }
    // (Its output also reaches the log as `hook-output vserver=web ...`, but
    // the daemon drops a log line rather than block on a full socket, so
    // the hook's own file is the evidence here.)
    let ran = eventually(Duration::from_secs(2), || {
        let s = std::fs::read_to_string(&hook_log).ok()?;
        s.contains("up web 10.79.0.50/24 veth0:0 post-takeover env=web,post-takeover")
            .then_some(())
    });
    assert!(ran.is_some(), "{:?}", std::fs::read_to_string(&hook_log));
    let json = status(&socks[first], true).1;
    assert!(json.contains("\"claimed_here\":true"), "{json}");

    // kill -9: the daemon cannot release; the kernel lifetime must.
    daemons[first].signal(Signal::SIGKILL);
    let killed = Instant::now();
    assert!(daemons[first].wait(Duration::from_secs(5)).is_some());
    let gone = eventually(Duration::from_secs(5), || {
        (!has_addr(&boxes[first].name, VIP)).then_some(killed.elapsed())
    });
    let gone = gone.unwrap_or_else(|| panic!("address still on f{} 5 s after kill -9", first + 1));
    eprintln!(
        "three-boxes: address gone from the killed box after {} ms",
        gone.as_millis()
    );
    assert!(gone <= Duration::from_secs(3), "took {gone:?}");

    let live: Vec<PathBuf> = (0..3)
        .filter(|&i| i != first)
        .map(|i| socks[i].clone())
        .collect();
    let second = eventually(Duration::from_secs(20), || {
        let h = holder_of(&boxes, &live)?;
        (h != first).then_some(h)
    });
    let Some(second) = second else {
        let all = statuses(&live);
        panic!("no takeover after kill -9: {all:#?}");
    };
    eprintln!(
        "three-boxes: f{} took web over {} ms after the kill",
        second + 1,
        killed.elapsed().as_millis()
    );
    assert!(syslog
        .wait_for(Duration::from_secs(2), |l| l
            .contains("alias-added vserver=web"))
        .is_some());

    // SIGTERM on the new holder: the boss moves web to the last box (or
    // the stopping box releases it itself after its hand-over limit); it
    // exits 0 with the address gone.
    daemons[second].signal(Signal::SIGTERM);
    let st = daemons[second].wait(Duration::from_secs(8));
    assert_eq!(st.and_then(|s| s.code()), Some(0));
    assert!(
        !has_addr(&boxes[second].name, VIP),
        "SIGTERM left the address"
    );
    assert!(
        syslog
            .wait_for(Duration::from_secs(2), |l| l
                .contains("stop signal=SIGTERM released=1"))
            .is_some(),
        "{:#?}",
        syslog
            .lines()
            .iter()
            .filter(|l| l.contains("stop"))
            .collect::<Vec<_>>()
    );
}
