//! `bongoyo check` against a real host (issue 16.5), and `run` without
//! the capabilities it needs (issue 16.9), in a network namespace this test
//! creates with only `lo` and one veth pair (`v0` 10.7.0.1/24, `v1`
//! without an address).
//!
//! Needs root (namespaces); prints SKIP otherwise.

mod common;

use std::path::Path;
use std::process::{Command, Output};
use std::time::Duration;

use common::daemon::{bounded, keyed_dir, write_script, TempDir, BIN};
use common::netns::{root_or_skip, Netns};

/// The namespace: `lo`, `v0` 10.7.0.1/24 and its peer `v1`, both up.
fn host(tag: &str) -> Netns {
    let ns = Netns::new(tag);
    ns.veth("v0", "v1");
    ns.ip(&["addr", "add", "10.7.0.1/24", "dev", "v0"]);
    ns.up("v0");
    ns.up("v1");
    ns
}

/// A configuration: cluster interface `iface`, node f1 at `addr`, and the
/// vserver block `vs` (its lines from line 7 on).
fn conf(dir: &TempDir, key: &Path, iface: &str, addr: &str, vs: &str) -> String {
    let path = dir.path("bongoyo.conf");
    std::fs::write(
        &path,
        format!(
            "cluster t\nkey-file {}\ninterface {iface}\nnode f1 {addr}\nnode f2 10.7.0.2\nvserver web {{\n{vs}}}\n",
            key.display()
        ),
    )
    .unwrap();
    path.to_str().unwrap().to_owned()
}

/// `bongoyo check -c CONF -n f1` inside the namespace.
fn check(ns: &Netns, conf: &str) -> Output {
    bounded(
        Command::new("ip").args([
            "netns", "exec", &ns.name, BIN, "check", "-c", conf, "-n", "f1",
        ]),
        Duration::from_secs(10),
    )
    .expect("check hung")
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

#[test]
fn check_passes_a_host_that_has_what_the_file_names() {
    if !root_or_skip("check_passes_a_host_that_has_what_the_file_names") {
        return;
    }
    let ns = host("chk-ok");
    let (dir, key) = keyed_dir("chk-ok");
    let hook = dir.path("up.sh");
    write_script(&hook, "#!/bin/sh\nexit 0\n");
    let vs = format!(
        "address 10.7.0.50/24\ninterface v0\npre-takeover {}\nservice exec {} check\n",
        hook.display(),
        hook.display()
    );
    let c = conf(&dir, &key, "v0", "10.7.0.1", &vs);
    let out = check(&ns, &c);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert_eq!(text(&out.stderr), "");
    assert_eq!(
        text(&out.stdout),
        format!("{c}: ok: cluster t, 2 nodes, 1 vserver, quorum 2; this host checked as node f1\n")
    );
}

#[test]
fn check_names_a_missing_interface_at_its_line() {
    if !root_or_skip("check_names_a_missing_interface_at_its_line") {
        return;
    }
    let ns = host("chk-if");
    let (dir, key) = keyed_dir("chk-if");
    // The cluster interface, then a vserver's.
    let c = conf(
        &dir,
        &key,
        "eth9",
        "10.7.0.1",
        "address 10.7.0.50/24\ninterface eth8\n",
    );
    let out = check(&ns, &c);
    assert_eq!(out.status.code(), Some(65), "{}", text(&out.stdout));
    assert_eq!(
        text(&out.stderr),
        format!(
            "{c}:3:11: interface eth9 does not exist on this host\n\
             {c}:8:11: interface eth8 does not exist on this host\n"
        )
    );
    assert_eq!(text(&out.stdout), "");
}

#[test]
fn check_names_a_node_address_that_is_not_on_the_cluster_interface() {
    if !root_or_skip("check_names_a_node_address_that_is_not_on_the_cluster_interface") {
        return;
    }
    let ns = host("chk-addr");
    let (dir, key) = keyed_dir("chk-addr");
    let vs = "address 10.7.0.50/24\ninterface v0\n";
    let c = conf(&dir, &key, "v0", "10.7.0.9", vs);
    let out = check(&ns, &c);
    assert_eq!(out.status.code(), Some(65));
    assert_eq!(
        text(&out.stderr),
        format!(
            "{c}:4:9: node f1's address 10.7.0.9 is not on interface v0 (it has 10.7.0.1/24)\n"
        )
    );
    // On the box, but on another interface than the cluster's.
    let c = conf(&dir, &key, "v1", "10.7.0.1", vs);
    let out = check(&ns, &c);
    assert_eq!(out.status.code(), Some(65));
    assert_eq!(
        text(&out.stderr),
        format!("{c}:4:9: node f1's address 10.7.0.1 is on v0, not on the cluster interface v1\n")
    );
}

#[test]
fn check_names_a_missing_or_non_executable_hook() {
    if !root_or_skip("check_names_a_missing_or_non_executable_hook") {
        return;
    }
    let ns = host("chk-hook");
    let (dir, key) = keyed_dir("chk-hook");
    let plain = dir.path("plain.sh");
    std::fs::write(&plain, "#!/bin/sh\n").unwrap();
    let missing = dir.path("missing.sh");
    let vs = format!(
        "address 10.7.0.50/24\ninterface v0\npre-takeover {}\npost-release {} a b\nself-check exec {}\n",
        missing.display(),
        plain.display(),
        dir.0.display()
    );
    let c = conf(&dir, &key, "v0", "10.7.0.1", &vs);
    let out = check(&ns, &c);
    assert_eq!(out.status.code(), Some(65), "{}", text(&out.stdout));
    assert_eq!(
        text(&out.stderr),
        format!(
            "{c}:9:14: pre-takeover program {} does not exist\n\
             {c}:10:14: post-release program {} is not executable (chmod +x)\n\
             {c}:11:17: self-check exec program {} is not a regular file\n",
            missing.display(),
            plain.display(),
            dir.0.display()
        )
    );
}

#[test]
fn check_warns_of_a_vserver_address_outside_every_subnet_and_exits_0() {
    if !root_or_skip("check_warns_of_a_vserver_address_outside_every_subnet_and_exits_0") {
        return;
    }
    let ns = host("chk-net");
    let (dir, key) = keyed_dir("chk-net");
    let c = conf(
        &dir,
        &key,
        "v0",
        "10.7.0.1",
        "address 10.8.0.50/24\ninterface v0\n",
    );
    let out = check(&ns, &c);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert_eq!(
        text(&out.stderr),
        format!("{c}:7:9: warning: vserver web's address 10.8.0.50 is outside every subnet of v0 (10.7.0.1/24): hosts there may not reach it\n")
    );
    assert!(
        text(&out.stdout).contains(": ok: "),
        "{}",
        text(&out.stdout)
    );
    // `v1` has no address of its own: nothing to compare with, no warning.
    let c = conf(
        &dir,
        &key,
        "v0",
        "10.7.0.1",
        "address 10.8.0.50/24\ninterface v1\n",
    );
    let out = check(&ns, &c);
    assert_eq!(out.status.code(), Some(0));
    assert_eq!(text(&out.stderr), "");
}

#[test]
fn run_without_the_capabilities_it_needs_names_them_and_exits_77() {
    if !root_or_skip("run_without_the_capabilities_it_needs_names_them_and_exits_77") {
        return;
    }
    if Command::new("setpriv").arg("--version").output().is_err() {
        eprintln!("SKIP run_without_the_capabilities_it_needs_names_them_and_exits_77: no setpriv (util-linux)");
        return;
    }
    let ns = host("cap");
    let (dir, key) = keyed_dir("cap");
    let c = conf(
        &dir,
        &key,
        "v0",
        "10.7.0.1",
        "address 10.7.0.50/24\ninterface v0\n",
    );
    let sock = dir.path("ctl.sock");
    for (drop, missing) in [
        ("-net_admin", "missing CAP_NET_ADMIN: "),
        ("-net_raw", "missing CAP_NET_RAW: "),
        (
            "-net_admin,-net_raw",
            "missing CAP_NET_ADMIN and CAP_NET_RAW: ",
        ),
    ] {
        // root without these capabilities (bounding and inheritable sets).
        let out = bounded(
            Command::new("ip")
                .args(["netns", "exec", &ns.name, "setpriv", "--bounding-set", drop])
                .args([
                    "--inh-caps",
                    drop,
                    "--",
                    BIN,
                    "run",
                    "-c",
                    &c,
                    "-n",
                    "f1",
                    "-s",
                ])
                .arg(&sock)
                .env("BONGOYO_SYSLOG_SOCKET", dir.path("no-syslog.sock")),
            Duration::from_secs(10),
        )
        .expect("run hung");
        let err = text(&out.stderr);
        assert_eq!(out.status.code(), Some(77), "{drop}: {err}");
        assert!(
            err.contains(missing)
                && err.contains("vservers need CAP_NET_ADMIN (their addresses) and CAP_NET_RAW (the ARP packet socket)"),
            "{drop}: {err}"
        );
        // Stopped before it claimed anything.
        assert!(!sock.exists());
    }
}
