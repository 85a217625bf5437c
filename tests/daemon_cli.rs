//! The command line without a daemon: keygen, check, and the answer when no
//! daemon runs. No namespaces needed.

mod common;

use std::ffi::OsStr;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::Command;
use std::time::Duration;

use common::daemon::{bounded, client, client_within, keyed_dir, TempDir, BIN};

/// A named pipe at `path`: opening it for reading blocks until a writer
/// comes, which none does here.
fn fifo(path: &Path) {
    nix::unistd::mkfifo(path, nix::sys::stat::Mode::from_bits_truncate(0o600)).expect("mkfifo");
}

/// Standard error as text.
fn stderr(out: &std::process::Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

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
    // The file alone: f2's address is not on this host.
    let out = client(&[
        "check",
        "-c",
        conf.to_str().unwrap(),
        "-n",
        "f2",
        "--offline",
    ]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{stdout} {}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(stdout.lines().count(), 1, "{stdout:?}");
    assert!(stdout.contains("ok"));
    // A name without a node line is a data error, --offline or not.
    for offline in [&[][..], &["--offline"]] {
        let mut args = vec!["check", "-c", conf.to_str().unwrap(), "-n", "f9"];
        args.extend_from_slice(offline);
        assert_eq!(client(&args).status.code(), Some(65), "{args:?}");
    }
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

/// Standard output as text.
fn stdout(out: &std::process::Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// A configuration with two nodes whose names are no host's, on `lo`.
fn two_node_conf(dir: &TempDir, key: &str) -> std::path::PathBuf {
    let conf = dir.path("two.conf");
    std::fs::write(
        &conf,
        format!(
            "cluster t\nkey-file {key}\ninterface lo\nnode bgy-test-a 127.0.0.1\nnode bgy-test-b 10.0.0.2\n"
        ),
    )
    .unwrap();
    conf
}

#[test]
fn check_without_n_says_the_host_name_is_no_node_and_exits_65() {
    let (dir, key) = keyed_dir("check-host");
    let conf = two_node_conf(&dir, key.to_str().unwrap());
    let host = String::from_utf8_lossy(&Command::new("uname").arg("-n").output().unwrap().stdout)
        .trim()
        .to_owned();
    assert!(!host.starts_with("bgy-test-"), "this host is a test node");
    let out = client(&["check", "-c", conf.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(65), "{}", stdout(&out));
    assert_eq!(stdout(&out), "");
    assert_eq!(
        stderr(&out),
        format!(
            "{}:0:0: this box's name `{host}` is not among the node lines (bgy-test-a, bgy-test-b)\n\
             bongoyo: this host was not checked: name its node with -n NAME (as for run), or check the file alone with --offline\n",
            conf.display()
        )
    );
}

#[test]
fn check_offline_checks_the_file_only() {
    let (dir, key) = keyed_dir("check-offline");
    let conf = dir.path("away.conf");
    // Nothing here exists on this host: interfaces, address, hook.
    std::fs::write(
        &conf,
        format!(
            "cluster t\nkey-file {}\ninterface bgy-no-if0\nnode bgy-test-a 10.255.0.1\n\
             vserver v {{\naddress 10.255.1.5/24\ninterface bgy-no-if1\npre-takeover /nonexistent/up.sh\n}}\n",
            key.display()
        ),
    )
    .unwrap();
    let c = conf.to_str().unwrap();
    let out = client(&["check", "-c", c, "--offline"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(stderr(&out), "");
    assert_eq!(
        stdout(&out),
        format!(
            "{c}: ok: cluster t, 1 node, 1 vserver, quorum 1; this host not checked (--offline)\n"
        )
    );
    // The same file checked on this host as that node: what `run` would hit.
    let out = client(&["check", "-c", c, "-n", "bgy-test-a"]);
    assert_eq!(out.status.code(), Some(65), "{}", stdout(&out));
    assert_eq!(
        stderr(&out),
        format!(
            "{c}:3:11: interface bgy-no-if0 does not exist on this host\n\
             {c}:7:11: interface bgy-no-if1 does not exist on this host\n\
             {c}:8:14: pre-takeover program /nonexistent/up.sh does not exist\n"
        )
    );
}

#[test]
fn check_warns_of_key_file_insecure_and_exits_0() {
    let dir = TempDir::new("check-insecure");
    let conf = two_node_conf(&dir, "insecure");
    let c = conf.to_str().unwrap();
    let out = client(&["check", "-c", c, "--offline"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(
        stderr(&out),
        format!("{c}:2:10: warning: key-file insecure: cluster messages are not authenticated, anyone on the LAN can forge them (bongoyo keygen makes a key)\n")
    );
    assert_eq!(
        stdout(&out),
        format!("{c}: ok: cluster t, 2 nodes, 0 vservers, quorum 2; this host not checked (--offline)\n")
    );
    // On this host as node a (127.0.0.1 is on lo): the same warning, checked.
    let out = client(&["check", "-c", c, "-n", "bgy-test-a"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(stderr(&out).contains(":2:10: warning: key-file insecure"));
    assert!(stdout(&out).ends_with("; this host checked as node bgy-test-a\n"));
}

#[test]
fn dash_h_prints_help_like_help_and_subcommands_take_it_too() {
    let help = client(&["help"]);
    assert_eq!(help.status.code(), Some(0));
    for args in [&["-h"][..], &["--help"]] {
        let out = client(args);
        assert_eq!(out.status.code(), Some(0), "{args:?}: {}", stderr(&out));
        assert_eq!(stdout(&out), stdout(&help), "{args:?}");
    }
    assert!(stdout(&help).contains("-h, --help, help"));
    assert!(stdout(&help).contains("version"));
    for sub in [
        "run", "check", "status", "hold", "resume", "release", "keygen", "version",
    ] {
        let out = client(&[sub, "-h"]);
        assert_eq!(out.status.code(), Some(0), "{sub} -h: {}", stderr(&out));
        assert!(
            stdout(&out).contains(&format!(" {sub}")),
            "{sub}: {}",
            stdout(&out)
        );
    }
}

#[test]
fn version_and_dash_dash_version_name_the_commit() {
    let commit = Command::new("git")
        .args(["rev-parse", "--short", "HEAD"])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .ok()
        .filter(|o| o.status.success())
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned());
    let commit = match (std::env::var("BONGOYO_COMMIT"), commit) {
        (Ok(c), _) if !c.is_empty() => c,
        (_, Some(c)) => c,
        _ => "unknown".to_owned(),
    };
    let want = format!("bongoyo {} ({commit})\n", env!("CARGO_PKG_VERSION"));
    for args in [&["--version"][..], &["version"]] {
        let out = client(args);
        assert_eq!(out.status.code(), Some(0), "{args:?}: {}", stderr(&out));
        assert_eq!(stdout(&out), want, "{args:?}");
    }
}

#[test]
fn run_help_says_f_only_copies_the_log_to_stderr() {
    let out = client(&["run", "--help"]);
    let text = stdout(&out)
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ");
    assert!(
        text.contains("-f, --foreground copy the log to stderr (it goes to syslog either way; run stays in the foreground with or without -f)"),
        "{text}"
    );
    assert!(text.contains("it never forks"), "{text}");
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

#[test]
fn a_non_utf8_argument_is_a_usage_error_naming_its_position() {
    let bad = OsStr::from_bytes(b"/tmp/\xff.sock");
    let out = bounded(
        Command::new(BIN).args(["status", "-s"]).arg(bad),
        Duration::from_secs(5),
    )
    .expect("bongoyo hung");
    assert_eq!(out.status.code(), Some(64), "{}", stderr(&out));
    let err = stderr(&out);
    assert!(
        err.contains("argument 3 is not UTF-8") && err.contains("/tmp/\u{fffd}.sock"),
        "{err}"
    );
    // The subcommand itself.
    let out = bounded(
        Command::new(BIN).arg(OsStr::from_bytes(b"st\xfftus")),
        Duration::from_secs(5),
    )
    .expect("bongoyo hung");
    assert_eq!(out.status.code(), Some(64));
    assert!(
        stderr(&out).contains("argument 1 is not UTF-8"),
        "{}",
        stderr(&out)
    );
    // A program name that is not UTF-8 is only a name: help still works.
    let out = bounded(
        Command::new(BIN)
            .arg0(OsStr::from_bytes(b"bong\xffyo"))
            .arg("--help"),
        Duration::from_secs(5),
    )
    .expect("bongoyo hung");
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
}

#[test]
fn check_refuses_a_fifo_or_directory_config_and_a_fifo_key_at_once() {
    let dir = TempDir::new("fifo-check");
    let conf = dir.path("conf.fifo");
    fifo(&conf);
    let out = client_within(
        &["check", "-c", conf.to_str().unwrap()],
        Duration::from_secs(5),
    )
    .expect("check hung on a FIFO config");
    assert_eq!(out.status.code(), Some(65));
    assert_eq!(
        stderr(&out),
        format!("{}:0:0: not a regular file\n", conf.display())
    );

    let d = dir.path("conf.d");
    std::fs::create_dir(&d).unwrap();
    let out = client_within(
        &["check", "-c", d.to_str().unwrap()],
        Duration::from_secs(5),
    )
    .expect("check hung on a directory");
    assert_eq!(out.status.code(), Some(65));
    assert_eq!(
        stderr(&out),
        format!("{}:0:0: not a regular file\n", d.display())
    );

    let key = dir.path("key.fifo");
    fifo(&key);
    let conf = dir.path("bongoyo.conf");
    std::fs::write(
        &conf,
        format!(
            "cluster t\nkey-file {}\ninterface lo\nnode f1 127.0.0.1\n",
            key.display()
        ),
    )
    .unwrap();
    let out = client_within(
        &["check", "-c", conf.to_str().unwrap()],
        Duration::from_secs(5),
    )
    .expect("check hung on a FIFO key file");
    assert_eq!(out.status.code(), Some(65));
    assert_eq!(
        stderr(&out),
        format!(
            "{}:2:10: key file {} is not a regular file\n",
            conf.display(),
            key.display()
        )
    );
}

#[test]
fn run_refuses_a_fifo_config_or_key_at_once() {
    let dir = TempDir::new("fifo-run");
    let fifo_conf = dir.path("conf.fifo");
    fifo(&fifo_conf);
    let key = dir.path("key.fifo");
    fifo(&key);
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
    for (c, want) in [
        (
            &fifo_conf,
            format!("{}:0:0: not a regular file", fifo_conf.display()),
        ),
        (
            &conf,
            format!(
                "{}:2:10: key file {} is not a regular file",
                conf.display(),
                key.display()
            ),
        ),
    ] {
        // Nothing is read, so nothing past the file is reached: no socket
        // is bound, in this namespace or any.
        let out = bounded(
            Command::new(BIN)
                .args(["run", "-n", "f1", "-c"])
                .arg(c)
                .arg("-s")
                .arg(&sock)
                .env("BONGOYO_SYSLOG_SOCKET", dir.path("no-syslog.sock")),
            Duration::from_secs(5),
        )
        .unwrap_or_else(|| panic!("run hung on {}", c.display()));
        assert_eq!(out.status.code(), Some(65), "{}", stderr(&out));
        assert!(stderr(&out).contains(&want), "{}", stderr(&out));
        assert!(!sock.exists());
    }
}
