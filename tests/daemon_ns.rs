//! The real daemon in network namespaces this test creates: start-up log
//! to syslog, status over the control socket, SIGHUP with a broken file,
//! SIGTERM, and two boxes on a veth pair hearing each other.
//!
//! Needs root (namespaces); prints SKIP otherwise.

mod common;

use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::daemon::{
    bounded, client, client_within, keyed_dir, write_script, Daemon, Syslog, TempDir, BIN,
};
use common::netns::{eventually, has_addr, ns_name, root_or_skip, sh, Netns};
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
    box_with(tag, |key| config(key, "veth0", "10.78.0.1", "10.78.0.2"))
}

/// The address [`lone_config`] serves.
const LONE_VIP: &str = "10.78.0.50";

/// Node f1 alone (quorum 1, no fencing) at 10.78.0.1 serving vserver `web`
/// at [`LONE_VIP`] on `veth0`: nobody else answers ARP for it, so it takes
/// the address within a few checks.
fn lone_config(key: &Path) -> String {
    format!(
        "cluster lone-{pid}\n\
         key-file {key}\n\
         interface veth0\n\
         hello 100ms\n\
         node f1 10.78.0.1\n\
         vserver web {{\n\
         \x20   address {LONE_VIP}/24\n\
         \x20   interface veth0\n\
         \x20   service none\n\
         \x20   check 100ms\n\
         }}\n",
        pid = std::process::id(),
        key = key.display(),
    )
}

/// Like [`one_box`], with the configuration `text` writes for the key.
fn box_with(tag: &str, text: impl FnOnce(&Path) -> String) -> OneBox {
    let (dir, key) = keyed_dir(tag);
    let ns = Netns::new(tag);
    lonely_veth(&ns, "10.78.0.1/24");
    let conf = dir.path("bongoyo.conf");
    std::fs::write(&conf, text(&key)).unwrap();
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
    // The kernel lets go within the bound past which the boss no longer
    // believes a lost box's MAC (two lifetimes and a second: 3 s at hello
    // 100ms); a kernel that keeps it longer would make the boss take its
    // answers for stale while it still answers.
    let bound = bongoyo::takeover::kernel_hold_bound(Duration::from_millis(100));
    assert!(gone <= bound, "took {gone:?}, over {bound:?}");

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

/// `bongoyo run -f -c CONF -n f1 -s SOCK` in `ns`, waited for at most 5 s
/// (`None`: it was still running and has been killed).
fn run_once(ns: &Netns, conf: &Path, sock: &Path, log: &Path) -> Option<Output> {
    bounded(
        Command::new("ip")
            .args(["netns", "exec", &ns.name, BIN, "run", "-f", "-c"])
            .arg(conf)
            .args(["-n", "f1", "-s"])
            .arg(sock)
            .env("BONGOYO_SYSLOG_SOCKET", log),
        Duration::from_secs(5),
    )
}

fn text(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// Issue 17, hole 1: a second `run` on a box whose daemon serves a vserver
/// must find that daemon before it touches anything. It used to remove the
/// live address (its start-up clean-up of a crashed run's aliases) and only
/// then fail to bind.
#[test]
fn a_second_run_leaves_the_live_daemon_and_its_address_alone() {
    if !root_or_skip("a_second_run_leaves_the_live_daemon_and_its_address_alone") {
        return;
    }
    let mut one = box_with("twin", lone_config);
    assert!(one.daemon.wait_ready(Duration::from_secs(5)));
    let ns = one.ns.name.clone();
    let served = eventually(Duration::from_secs(10), || {
        has_addr(&ns, LONE_VIP).then_some(())
    });
    assert!(served.is_some(), "{}", status(&one.sock, false).1);

    // Watch the address while the second run tries: every look at the
    // kernel's list that misses it is counted.
    let (stop, missed, looks) = (
        Arc::new(AtomicBool::new(false)),
        Arc::new(AtomicU32::new(0)),
        Arc::new(AtomicU32::new(0)),
    );
    let watcher = {
        let (stop, missed, looks, ns) = (stop.clone(), missed.clone(), looks.clone(), ns.clone());
        std::thread::spawn(move || {
            // Bounded: the test raises the flag within seconds; 20 000
            // looks of a few ms each is far beyond that.
            for _ in 0..20_000 {
                if stop.load(Ordering::Relaxed) {
                    return;
                }
                looks.fetch_add(1, Ordering::Relaxed);
                if !has_addr(&ns, LONE_VIP) {
                    missed.fetch_add(1, Ordering::Relaxed);
                }
            }
        })
    };
    std::thread::sleep(Duration::from_millis(100));
    let pid = one.daemon.pid();
    let other_sock = one.sock.with_file_name("other.sock");
    // The same socket: the live daemon answers there. Another socket: the
    // cluster port on this box's address is taken.
    let tries = [
        (
            one.sock.clone(),
            format!("a bongoyo daemon already answers there (pid {pid})"),
        ),
        (
            other_sock.clone(),
            "UDP 10.78.0.1:7607 is in use".to_owned(),
        ),
    ];
    let mut results = Vec::new();
    for (sock, want) in &tries {
        let out = run_once(&one.ns, &one.conf, sock, &one.log);
        results.push((sock.clone(), want.clone(), out));
    }
    std::thread::sleep(Duration::from_millis(100));
    stop.store(true, Ordering::Relaxed);
    watcher.join().unwrap();

    assert_eq!(
        missed.load(Ordering::Relaxed),
        0,
        "the address left the interface in {} of {} looks",
        missed.load(Ordering::Relaxed),
        looks.load(Ordering::Relaxed)
    );
    assert!(looks.load(Ordering::Relaxed) > 10);
    for (sock, want, out) in results {
        let out =
            out.unwrap_or_else(|| panic!("the second run with {} kept running", sock.display()));
        assert_eq!(out.status.code(), Some(71), "{}", text(&out));
        assert!(text(&out).contains(want.as_str()), "{}", text(&out));
    }
    assert!(
        one.syslog.find(|l| l.contains("startup-cleanup")).is_none(),
        "{:#?}",
        one.syslog.lines()
    );
    assert!(one.sock.exists() && !other_sock.exists());
    assert!(one.daemon.alive());
    let (code, now) = status(&one.sock, false);
    assert_eq!(code, Some(0));
    assert!(now.contains("here as veth0:"), "{now}");
}

/// Issue 17, hole 2: `-s PATH` with something at PATH that is not a
/// socket: refused (exit 73) and left as it was.
#[test]
fn run_refuses_a_control_socket_path_that_is_not_a_socket() {
    if !root_or_skip("run_refuses_a_control_socket_path_that_is_not_a_socket") {
        return;
    }
    let (dir, key) = keyed_dir("notsock");
    let ns = Netns::new("notsock");
    lonely_veth(&ns, "10.78.0.1/24");
    let conf = dir.path("bongoyo.conf");
    std::fs::write(&conf, lone_config(&key)).unwrap();
    let log = dir.path("log.sock");
    let _syslog = Syslog::bind(&log);
    let file = dir.path("precious.txt");
    std::fs::write(&file, "precious\n").unwrap();
    let sub = dir.path("a-directory");
    std::fs::create_dir(&sub).unwrap();
    let pipe = dir.path("a-fifo");
    nix::unistd::mkfifo(&pipe, nix::sys::stat::Mode::from_bits_truncate(0o600)).unwrap();
    let link = dir.path("a-link");
    std::os::unix::fs::symlink(&file, &link).unwrap();
    for (path, what) in [
        (&file, "a regular file"),
        (&sub, "a directory"),
        (&pipe, "a FIFO"),
        (&link, "a symbolic link"),
    ] {
        let before = std::fs::symlink_metadata(path).unwrap();
        let out = run_once(&ns, &conf, path, &log)
            .unwrap_or_else(|| panic!("run -s {} ({what}) kept running", path.display()));
        assert_eq!(out.status.code(), Some(73), "{what}: {}", text(&out));
        let want = format!(
            "control socket {}: {what} is there, not a socket",
            path.display()
        );
        assert!(text(&out).contains(&want), "{}", text(&out));
        let after = std::fs::symlink_metadata(path).unwrap();
        assert_eq!(
            (before.file_type(), before.ino()),
            (after.file_type(), after.ino()),
            "{what} was replaced"
        );
        assert!(
            !has_addr(&ns.name, LONE_VIP),
            "{what}: an address was added"
        );
    }
    assert_eq!(std::fs::read_to_string(&file).unwrap(), "precious\n");
}

/// Issue 17, hole 3: SIGHUP with a FIFO at the configuration path used to
/// block the loop in `open`. The reload is refused at once; the daemon
/// keeps answering.
#[test]
fn sighup_with_a_fifo_config_is_rejected_and_the_daemon_keeps_answering() {
    if !root_or_skip("sighup_with_a_fifo_config_is_rejected_and_the_daemon_keeps_answering") {
        return;
    }
    let mut one = one_box("hupfifo");
    assert!(one.daemon.wait_ready(Duration::from_secs(5)));
    std::fs::remove_file(&one.conf).unwrap();
    nix::unistd::mkfifo(&one.conf, nix::sys::stat::Mode::from_bits_truncate(0o600)).unwrap();
    one.daemon.signal(Signal::SIGHUP);
    let want = format!(
        "reload-error {}:0:0: not a regular file",
        one.conf.display()
    );
    let err = one
        .syslog
        .wait_for(Duration::from_secs(3), |l| l.contains(&want));
    let sock = one.sock.to_str().unwrap();
    for _ in 0..3 {
        let t = Instant::now();
        let out = client_within(&["status", "-s", sock], Duration::from_secs(2))
            .expect("status hung after SIGHUP with a FIFO config");
        assert!(out.status.success());
        assert!(t.elapsed() < Duration::from_secs(1), "{:?}", t.elapsed());
    }
    assert!(err.is_some(), "no {want} in {:#?}", one.syslog.lines());
    assert!(one
        .syslog
        .wait_for(Duration::from_secs(2), |l| l.contains("reload-rejected"))
        .is_some());
}

/// Issue 17, hole 3: SIGTERM at any moment of start-up ends `run` within
/// seconds, with nothing left behind; also with a FIFO as the file, where
/// start-up used to wait for a writer forever with the signal blocked.
#[test]
fn sigterm_at_any_moment_of_start_up_ends_run_promptly() {
    if !root_or_skip("sigterm_at_any_moment_of_start_up_ends_run_promptly") {
        return;
    }
    let (dir, key) = keyed_dir("termstart");
    let ns = Netns::new("termstart");
    lonely_veth(&ns, "10.78.0.1/24");
    let conf = dir.path("bongoyo.conf");
    std::fs::write(&conf, lone_config(&key)).unwrap();
    let log = dir.path("log.sock");
    let _syslog = Syslog::bind(&log);
    let fifo_conf = dir.path("conf.fifo");
    nix::unistd::mkfifo(&fifo_conf, nix::sys::stat::Mode::from_bits_truncate(0o600)).unwrap();
    let delays = [0u64, 1, 2, 3, 5, 8, 12, 20, 30, 50, 80, 150, 300];
    let runs = delays
        .iter()
        .map(|d| (&conf, *d))
        .chain([(&fifo_conf, 300)]);
    for (i, (c, delay)) in runs.enumerate() {
        let sock = dir.path(&format!("s{i}.sock"));
        let mut d = Daemon::start(&ns.name, c, "f1", &sock, &log, Stdio::null());
        std::thread::sleep(Duration::from_millis(delay));
        d.signal(Signal::SIGTERM);
        let st = d.wait(Duration::from_secs(3)).unwrap_or_else(|| {
            panic!(
                "run -c {} did not end within 3 s of SIGTERM at {delay} ms",
                c.display()
            )
        });
        eprintln!("sigterm-at-start-up: {} at {delay} ms: {st}", c.display());
        // Killed before it read the file, stopped cleanly (0), or refused
        // the file on its own (65); nothing else.
        assert!(
            matches!(st.code(), Some(0 | 65)) || st.signal() == Some(Signal::SIGTERM as i32),
            "{st:?} at {delay} ms"
        );
        assert!(!sock.exists(), "socket left at {delay} ms");
        let gone = eventually(Duration::from_secs(3), || {
            (!has_addr(&ns.name, LONE_VIP)).then_some(())
        });
        assert!(gone.is_some(), "address left at {delay} ms");
    }
}

/// Issue 17, item 5: the control socket is mode 0600, so only root (the
/// daemon's own user) may connect; and should an operator open it to
/// others for monitoring, they may ask `status` and nothing else.
#[test]
fn only_root_may_change_anything_over_the_control_socket() {
    if !root_or_skip("only_root_may_change_anything_over_the_control_socket") {
        return;
    }
    let mut one = one_box("nonroot");
    assert!(one.daemon.wait_ready(Duration::from_secs(5)));
    // The build tree may be closed to others: a copy anybody may run, in a
    // directory anybody may enter, as is the socket's.
    let bin_dir = TempDir::new("nonroot-bin");
    let bin = bin_dir.path("bongoyo");
    std::fs::copy(BIN, &bin).unwrap();
    for (p, m) in [(&bin_dir.0, 0o755), (&bin, 0o755)] {
        std::fs::set_permissions(p, std::fs::Permissions::from_mode(m)).unwrap();
    }
    let sock_dir = one.sock.parent().unwrap().to_owned();
    std::fs::set_permissions(&sock_dir, std::fs::Permissions::from_mode(0o755)).unwrap();
    let sock = one.sock.to_str().unwrap().to_owned();
    let as_nobody = |args: &[&str]| {
        bounded(
            Command::new(&bin).args(args).uid(65534).gid(65534),
            Duration::from_secs(5),
        )
        .expect("client hung")
    };
    let mode = std::fs::metadata(&one.sock).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600);
    let out = as_nobody(&["status", "-s", &sock]);
    assert_eq!(out.status.code(), Some(77), "{}", text(&out));

    std::fs::set_permissions(&one.sock, std::fs::Permissions::from_mode(0o666)).unwrap();
    let out = as_nobody(&["status", "-s", &sock]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    for args in [&["hold"][..], &["resume"], &["release", "web"]] {
        let mut v = args.to_vec();
        v.extend(["-s", &sock]);
        let out = as_nobody(&v);
        assert_eq!(out.status.code(), Some(77), "{v:?}: {}", text(&out));
        assert!(text(&out).contains("only root"), "{}", text(&out));
    }
    assert!(!status(&one.sock, false).1.contains("role        hold"));
    assert!(one
        .syslog
        .find(|l| l.contains("control command="))
        .is_none());
    // Root still may.
    assert_eq!(client(&["hold", "-s", &sock]).status.code(), Some(0));
}

/// A script that writes its argument count, each argument and the four
/// `BONGOYO_*` context variables of its environment into `out` (through a temporary file and `mv`,
/// so a reader never sees half of it), and exits 0.
fn recording_script(path: &Path, out: &Path) {
    let out = out.display();
    write_script(
        path,
        &format!(
            "#!/bin/sh\n\
             {{ echo \"argc=$#\"; for a in \"$@\"; do echo \"arg=$a\"; done; \
             env | grep -E '^BONGOYO_(VSERVER|ADDRESS|INTERFACE|EVENT)=' | sort; }} > {out}.tmp && mv {out}.tmp {out}\n"
        ),
    );
}

/// Issue 16, item 2: `service exec` and `self-check exec` run exactly what
/// was written (`curl -sf -m 1 URL` failed every time with the hook
/// arguments appended); their context is in the `BONGOYO_*` environment
/// only. A hook still gets its arguments appended, and the environment.
#[test]
fn exec_checks_get_their_written_argv_and_hooks_their_arguments() {
    if !root_or_skip("exec_checks_get_their_written_argv_and_hooks_their_arguments") {
        return;
    }
    // `box_with` makes the test's directory: the scripts go next to the key.
    let paths = |key: &Path, ext: &str| {
        ["check", "self", "hook"].map(|n| key.with_file_name(format!("{n}.{ext}")))
    };
    let text = |key: &Path| {
        let [check, self_check, hook] = paths(key, "sh");
        for (script, out) in [&check, &self_check, &hook]
            .into_iter()
            .zip(paths(key, "out"))
        {
            recording_script(script, &out);
        }
        format!(
            "cluster execargv-{pid}\n\
             key-file {key}\n\
             interface veth0\n\
             hello 100ms\n\
             node f1 10.78.0.1\n\
             vserver web {{\n\
             \x20   address {LONE_VIP}/24\n\
             \x20   interface veth0\n\
             \x20   service exec {check} -sf -m 1 http://{LONE_VIP}:8080/\n\
             \x20   self-check exec {self_check} --quick\n\
             \x20   post-takeover {hook} up\n\
             \x20   check 100ms\n\
             }}\n",
            pid = std::process::id(),
            key = key.display(),
            check = check.display(),
            self_check = self_check.display(),
            hook = hook.display(),
        )
    };
    let mut one = box_with("execargv", text);
    let key = one.conf.with_file_name("key");
    let [check_out, self_out, hook_out] = paths(&key, "out");
    assert!(one.daemon.wait_ready(Duration::from_secs(5)));
    let read = |p: &Path| -> Option<Vec<String>> {
        let s = std::fs::read_to_string(p).ok()?;
        Some(s.lines().map(str::to_owned).collect())
    };
    let all = eventually(Duration::from_secs(15), || {
        Some((read(&check_out)?, read(&self_out)?, read(&hook_out)?))
    });
    let Some((check_ran, self_ran, hook_ran)) = all else {
        panic!(
            "not every script ran: check {:?} self-check {:?} hook {:?}\n{}\n{:#?}",
            read(&check_out),
            read(&self_out),
            read(&hook_out),
            status(&one.sock, false).1,
            one.syslog.lines()
        );
    };
    let env = |event: &str, interface: &str| {
        vec![
            format!("BONGOYO_ADDRESS={LONE_VIP}/24"),
            format!("BONGOYO_EVENT={event}"),
            format!("BONGOYO_INTERFACE={interface}"),
            "BONGOYO_VSERVER=web".to_owned(),
        ]
    };
    let want = |args: &[&str], event: &str, interface: &str| {
        let mut v = vec![format!("argc={}", args.len())];
        v.extend(args.iter().map(|a| format!("arg={a}")));
        v.extend(env(event, interface));
        v
    };
    let url = format!("http://{LONE_VIP}:8080/");
    // The service check's interface: the alias label once this box holds
    // the address, the vserver's interface before.
    let label = check_ran
        .iter()
        .find_map(|l| l.strip_prefix("BONGOYO_INTERFACE="))
        .unwrap_or("?")
        .to_owned();
    assert!(label.starts_with("veth0"), "{check_ran:?}");
    assert_eq!(
        check_ran,
        want(&["-sf", "-m", "1", &url], "service-check", &label),
        "service exec"
    );
    let label = self_ran
        .iter()
        .find_map(|l| l.strip_prefix("BONGOYO_INTERFACE="))
        .unwrap_or("?")
        .to_owned();
    assert_eq!(
        self_ran,
        want(&["--quick"], "self-check", &label),
        "self-check exec"
    );
    let vip = format!("{LONE_VIP}/24");
    assert_eq!(
        hook_ran,
        want(
            &["up", "web", &vip, "veth0:0", "post-takeover"],
            "post-takeover",
            "veth0:0"
        ),
        "post-takeover hook"
    );
    assert!(one.daemon.alive());
}

/// Issue 15: an IPv6 vserver address left on its interface by an earlier
/// run is removed at start (`startup-cleanup`, no labels: the configured
/// address on the configured interface), and the box, alone, then serves
/// it again: added without duplicate address detection, so usable at once.
#[test]
fn an_ipv6_leftover_is_cleaned_up_at_start_and_served_again() {
    if !root_or_skip("an_ipv6_leftover_is_cleaned_up_at_start_and_served_again") {
        return;
    }
    const VIP6: &str = "fd78::50";
    let tag = "six";
    let one = box_with(tag, |key| {
        let ns = ns_name(tag);
        sh(&[
            "ip",
            "-n",
            &ns,
            "-6",
            "addr",
            "add",
            &format!("{VIP6}/64"),
            "dev",
            "veth0",
            "nodad",
        ]);
        assert!(
            has_addr(&ns, VIP6),
            "the leftover is there before the start"
        );
        lone_config(key).replace(&format!("{LONE_VIP}/24"), &format!("{VIP6}/64"))
    });
    let cleaned = one.syslog.wait_for(Duration::from_secs(5), |l| {
        l.contains(&format!(
            "startup-cleanup vserver=web address={VIP6}/64 label=veth0"
        ))
    });
    assert!(cleaned.is_some(), "{:#?}", one.syslog.lines());
    let added = one.syslog.wait_for(Duration::from_secs(10), |l| {
        l.contains(&format!(
            "alias-added vserver=web address={VIP6}/64 label=veth0"
        ))
    });
    assert!(added.is_some(), "{:#?}", one.syslog.lines());
    let held = eventually(Duration::from_secs(3), || {
        has_addr(&one.ns.name, VIP6).then_some(())
    });
    assert!(held.is_some(), "{:#?}", one.syslog.lines());
    // Not tentative: the kernel answers for it and it can be bound at once.
    let out = one.ns.ip(&["-6", "-o", "addr", "show", "dev", "veth0"]);
    let line = out.lines().find(|l| l.contains(VIP6)).unwrap_or("");
    assert!(
        line.contains("nodad") && !line.contains("tentative"),
        "{out}"
    );
}
