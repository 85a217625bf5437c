//! The command line without a daemon: keygen, check, and the answer when no
//! daemon runs. No namespaces needed.

mod common;

use common::daemon::{client, keyed_dir, TempDir, BIN};

#[test]
fn keygen_prints_64_hex_digits_fresh_each_time() {
    let a = client(&["keygen"]);
    let b = client(&["keygen"]);
    assert!(a.status.success() && b.status.success());
    for out in [&a.stdout, &b.stdout] {
        let s = std::str::from_utf8(out).unwrap();
        assert_eq!(s.len(), 65, "{s:?}");
        assert!(s.ends_with('\n'));
        assert!(s[..64].bytes().all(|c| c.is_ascii_hexdigit()), "{s:?}");
    }
    assert_ne!(a.stdout, b.stdout);
}

#[test]
fn check_reports_file_line_col_and_exits_65() {
    let (dir, key) = keyed_dir("check");
    let conf = dir.path("broken.conf");
    std::fs::write(
        &conf,
        format!(
            "cluster t\nkey-file {}\nbogus-directive 42\nnode f1 10.0.0.1\n",
            key.display()
        ),
    )
    .unwrap();
    let out = client(&["check", "-c", conf.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(65));
    let text =
        String::from_utf8_lossy(&out.stderr).into_owned() + &String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains(&format!("{}:3:", conf.display())),
        "no FILE:LINE:COL in {text:?}"
    );
}

#[test]
fn check_accepts_a_good_file_with_one_line() {
    let (dir, key) = keyed_dir("checkok");
    let conf = dir.path("good.conf");
    std::fs::write(
        &conf,
        format!(
            "cluster t\nkey-file {}\ninterface lo\nnode f1 10.0.0.1\nnode f2 10.0.0.2\n",
            key.display()
        ),
    )
    .unwrap();
    let out = client(&["check", "-c", conf.to_str().unwrap(), "-n", "f2"]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{stdout} {}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(stdout.lines().count(), 1, "{stdout:?}");
    assert!(stdout.contains("ok"));
    // A name without a node line is a data error.
    let out = client(&["check", "-c", conf.to_str().unwrap(), "-n", "f9"]);
    assert_eq!(out.status.code(), Some(65));
}

#[test]
fn client_commands_without_a_daemon_exit_69() {
    let dir = TempDir::new("nodaemon");
    let sock = dir.path("none.sock");
    for args in [
        &["status"][..],
        &["status", "--json"],
        &["hold"],
        &["resume"],
        &["release", "web"],
    ] {
        let mut v = args.to_vec();
        v.extend(["-s", sock.to_str().unwrap()]);
        let out = client(&v);
        assert_eq!(out.status.code(), Some(69), "{v:?}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(
            err.contains(&format!(
                "daemon not running (no control socket at {})",
                sock.display()
            )),
            "{err}"
        );
    }
}

#[test]
fn usage_errors_exit_64() {
    assert_eq!(client(&["frobnicate"]).status.code(), Some(64));
    assert_eq!(client(&["release"]).status.code(), Some(64));
    assert_eq!(client(&["--help"]).status.code(), Some(0));
}

#[test]
fn run_refuses_a_config_whose_key_file_cannot_be_read() {
    let dir = TempDir::new("nokey");
    let key = dir.path("missing.key");
    let conf = dir.path("bongoyo.conf");
    std::fs::write(
        &conf,
        format!(
            "cluster t\nkey-file {}\ninterface lo\nnode f1 127.0.0.1\n",
            key.display()
        ),
    )
    .unwrap();
    let sock = dir.path("ctl.sock");
    let out = std::process::Command::new(BIN)
        .args([
            "run",
            "-n",
            "f1",
            "-c",
            conf.to_str().unwrap(),
            "-s",
            sock.to_str().unwrap(),
        ])
        .env("BONGOYO_SYSLOG_SOCKET", dir.path("no-syslog.sock"))
        .stdin(std::process::Stdio::null())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(65));
    let err = String::from_utf8_lossy(&out.stderr);
    // Names the file and line of the key-file directive and the key's path.
    assert!(err.contains(&format!("{}:2:", conf.display())), "{err}");
    assert!(err.contains(key.to_str().unwrap()), "{err}");
    // The missing syslog was reported once.
    assert_eq!(err.matches("syslog unavailable").count(), 1, "{err}");
    assert!(!sock.exists());
}
