//! The command line (docs/MODEL.md, argh) and its sysexits exit codes.
//!
//! `run` is the daemon; `check` validates a configuration; `status`, `hold`,
//! `resume` and `release` talk to a running daemon over its control socket;
//! `keygen` prints a fresh cluster key.
//!
//! `run` never forks: init systems supervise it in the foreground (systemd,
//! procd, busybox `start-stop-daemon -b`; see `board/`). `-f` copies the log
//! to standard error. Start-up failures are also printed on standard error,
//! with the sysexits code as the exit status.
//!
//! `-h`, `--help` and `help` print help anywhere; `bongoyo --version` and
//! `bongoyo version` print the version and the commit the binary was built
//! from (`build.rs`).

use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::time::Duration;

use argh::FromArgs;

use crate::config::{Count, Errors};
use crate::daemon::{self, Quoted, EX_DATAERR, EX_NOPERM, EX_OSERR, EX_UNAVAILABLE};
use crate::os::{control, process, random};

/// sysexits: the command was used incorrectly.
pub const EX_USAGE: u8 = 64;
/// Default configuration file.
pub const DEFAULT_CONFIG: &str = "/etc/bongoyo.conf";
/// Default control socket.
pub const DEFAULT_SOCKET: &str = "/var/run/bongoyo.sock";
/// How long a client command waits for the daemon.
pub const CLIENT_TIMEOUT: Duration = Duration::from_secs(5);

/// `bongoyo VERSION (COMMIT)`: the commit comes from `build.rs`
/// (`git rev-parse --short HEAD`, or `BONGOYO_COMMIT`, else `unknown`).
pub const VERSION: &str = concat!(
    "bongoyo ",
    env!("CARGO_PKG_VERSION"),
    " (",
    env!("BONGOYO_COMMIT"),
    ")"
);

#[derive(FromArgs, Debug)]
#[argh(help_triggers("-h", "--help", "help"))]
/// bongoyo: IP fail-over for appliances.
pub struct Args {
    #[argh(switch)]
    /// print the version and the commit it was built from
    pub version: bool,
    #[argh(subcommand)]
    /// what to do
    pub command: Command,
}

#[derive(FromArgs, Debug)]
#[argh(subcommand)]
/// The subcommands.
pub enum Command {
    /// `bongoyo run`
    Run(Run),
    /// `bongoyo check`
    Check(Check),
    /// `bongoyo status`
    Status(Status),
    /// `bongoyo hold`
    Hold(Hold),
    /// `bongoyo resume`
    Resume(Resume),
    /// `bongoyo release`
    Release(Release),
    /// `bongoyo reload`
    Reload(Reload),
    /// `bongoyo keygen`
    Keygen(Keygen),
    /// `bongoyo version`
    Version(Version),
}

#[derive(FromArgs, Debug)]
#[argh(subcommand, name = "run", help_triggers("-h", "--help", "help"))]
/// Run the daemon (in the foreground: it never forks).
pub struct Run {
    #[argh(option, short = 'c', default = "PathBuf::from(DEFAULT_CONFIG)")]
    /// configuration file (default /etc/bongoyo.conf)
    pub config: PathBuf,
    #[argh(option, short = 'n')]
    /// this box's node name (default: the host name)
    pub name: Option<String>,
    #[argh(option, short = 's', default = "PathBuf::from(DEFAULT_SOCKET)")]
    /// control socket (default /var/run/bongoyo.sock)
    pub socket: PathBuf,
    #[argh(switch, short = 'f')]
    /// copy the log to stderr (it goes to syslog either way; run stays in
    /// the foreground with or without -f)
    pub foreground: bool,
    #[argh(switch, short = 'v')]
    /// more log detail (repeat for more)
    pub verbose: u8,
}

#[derive(FromArgs, Debug)]
#[argh(
    subcommand,
    name = "check",
    help_triggers("-h", "--help", "help"),
    note = "Errors: FILE:LINE:COL: message, exit 65. Warnings: FILE:LINE:COL: warning:\nmessage, exit 0. The host is checked as node NAME, or as the node named\nlike the host (interfaces, this node's address, hook, notify and exec\nprograms); a host name that is no node's is an error (exit 65) unless\n--offline."
)]
/// Validate a configuration file, and this host against it.
pub struct Check {
    #[argh(option, short = 'c', default = "PathBuf::from(DEFAULT_CONFIG)")]
    /// configuration file (default /etc/bongoyo.conf)
    pub config: PathBuf,
    #[argh(option, short = 'n')]
    /// check as this node (default: the host name, which must then be a
    /// node's)
    pub name: Option<String>,
    #[argh(switch)]
    /// check the file only, not this host (for build hosts)
    pub offline: bool,
}

#[derive(FromArgs, Debug)]
#[argh(subcommand, name = "status", help_triggers("-h", "--help", "help"))]
/// Show the running daemon's view of the cluster.
pub struct Status {
    #[argh(switch)]
    /// print JSON
    pub json: bool,
    #[argh(option, short = 's', default = "PathBuf::from(DEFAULT_SOCKET)")]
    /// control socket (default /var/run/bongoyo.sock)
    pub socket: PathBuf,
}

#[derive(FromArgs, Debug)]
#[argh(subcommand, name = "hold", help_triggers("-h", "--help", "help"))]
/// Put this box on hold.
pub struct Hold {
    #[argh(option, short = 's', default = "PathBuf::from(DEFAULT_SOCKET)")]
    /// control socket (default /var/run/bongoyo.sock)
    pub socket: PathBuf,
}

#[derive(FromArgs, Debug)]
#[argh(subcommand, name = "resume", help_triggers("-h", "--help", "help"))]
/// Put this box back on the list.
pub struct Resume {
    #[argh(option, short = 's', default = "PathBuf::from(DEFAULT_SOCKET)")]
    /// control socket (default /var/run/bongoyo.sock)
    pub socket: PathBuf,
}

#[derive(FromArgs, Debug)]
#[argh(subcommand, name = "release", help_triggers("-h", "--help", "help"))]
/// Ask the boss to move a vserver off its holder.
pub struct Release {
    #[argh(positional)]
    /// the vserver's name
    pub vserver: String,
    #[argh(option, short = 's', default = "PathBuf::from(DEFAULT_SOCKET)")]
    /// control socket (default /var/run/bongoyo.sock)
    pub socket: PathBuf,
}

#[derive(FromArgs, Debug)]
#[argh(
    subcommand,
    name = "reload",
    help_triggers("-h", "--help", "help"),
    note = "Exit 0: applied (the answer names what changed). 65: the file has errors\n(printed as FILE:LINE:COL: message); nothing changed. 69: the file changes\ncluster-wide settings, which change only by restarting every box with it;\nnothing changed. SIGHUP to the daemon does the same without waiting."
)]
/// Ask the running daemon to read its configuration again and apply it.
pub struct Reload {
    #[argh(option, short = 'c')]
    /// read this file instead of the daemon's own (it becomes the daemon's
    /// file if applied)
    pub config: Option<PathBuf>,
    #[argh(option, short = 's', default = "PathBuf::from(DEFAULT_SOCKET)")]
    /// control socket (default /var/run/bongoyo.sock)
    pub socket: PathBuf,
}

#[derive(FromArgs, Debug)]
#[argh(subcommand, name = "keygen", help_triggers("-h", "--help", "help"))]
/// Print a fresh random cluster key (64 hex digits).
pub struct Keygen {}

#[derive(FromArgs, Debug)]
#[argh(subcommand, name = "version", help_triggers("-h", "--help", "help"))]
/// Print the version and the commit it was built from.
pub struct Version {}

/// Parse the process's arguments and run; returns the exit code.
pub fn main() -> u8 {
    let args = match utf8_args(std::env::args_os()) {
        Ok(a) => a,
        Err(message) => {
            eprintln!("bongoyo: {message}");
            return EX_USAGE;
        }
    };
    let strs: Vec<&str> = args.iter().map(String::as_str).collect();
    let (name, rest) = match strs.split_first() {
        Some((n, r)) => (*n, r),
        None => ("bongoyo", &[][..]),
    };
    // `--version` alone: argh wants a subcommand after the switch.
    if rest == ["--version"] {
        println!("{VERSION}");
        return 0;
    }
    match Args::from_args(&[name], rest) {
        Ok(a) if a.version => {
            println!("{VERSION}");
            0
        }
        Ok(a) => execute(a.command),
        Err(early) => match early.status {
            Ok(()) => {
                println!("{}", early.output);
                0
            }
            Err(()) => {
                eprintln!("{}", early.output);
                EX_USAGE
            }
        },
    }
}

/// The arguments as text (argh takes `&str`). One that is not UTF-8 is a
/// usage error naming its position (the program is 0); the program's own
/// name only names it in help and is replaced by `bongoyo` if need be.
fn utf8_args(args: impl IntoIterator<Item = std::ffi::OsString>) -> Result<Vec<String>, String> {
    let mut out = Vec::new();
    for (i, a) in args.into_iter().enumerate() {
        match a.into_string() {
            Ok(s) => out.push(s),
            Err(_) if i == 0 => out.push("bongoyo".to_owned()),
            Err(bad) => {
                return Err(format!(
                    "argument {i} is not UTF-8: {} (paths and names must be UTF-8)",
                    Quoted(&bad.to_string_lossy())
                ))
            }
        }
    }
    Ok(out)
}

/// Run one parsed command; returns the exit code.
pub fn execute(cmd: Command) -> u8 {
    match cmd {
        Command::Run(r) => run(r),
        Command::Check(c) => check(&c),
        Command::Status(s) => ask(&s.socket, if s.json { "status-json" } else { "status" }),
        Command::Hold(h) => ask(&h.socket, "hold"),
        Command::Resume(r) => ask(&r.socket, "resume"),
        Command::Release(r) => {
            if r.vserver.is_empty() || r.vserver.contains(char::is_whitespace) {
                eprintln!("bongoyo: bad vserver name {}", Quoted(&r.vserver));
                return EX_USAGE;
            }
            ask(&r.socket, &format!("release {}", r.vserver))
        }
        Command::Reload(r) => reload(&r),
        Command::Keygen(_) => keygen(),
        Command::Version(_) => {
            println!("{VERSION}");
            0
        }
    }
}

/// `bongoyo reload [-c FILE]`: the daemon reads the file itself, so a
/// relative path is made absolute here (the daemon's working directory is
/// not the caller's).
fn reload(r: &Reload) -> u8 {
    let Some(path) = &r.config else {
        return ask(&r.socket, "reload");
    };
    let path = match std::path::absolute(path) {
        Ok(p) => p,
        Err(e) => {
            eprintln!("bongoyo: {}: {e}", path.display());
            return EX_USAGE;
        }
    };
    let text = path.to_string_lossy();
    if text.contains(char::is_whitespace) || text.len() > 500 {
        eprintln!(
            "bongoyo: {}: a reloaded file's path must have no blanks and at most 500 bytes",
            Quoted(&text)
        );
        return EX_USAGE;
    }
    ask(&r.socket, &format!("reload {text}"))
}

fn run(r: Run) -> u8 {
    crate::os::log::init(r.foreground, r.verbose);
    let opts = daemon::Options {
        config: r.config,
        name: r.name,
        socket: r.socket,
        foreground: r.foreground,
        verbose: r.verbose,
    };
    match daemon::run(&opts) {
        Ok(()) => 0,
        Err(f) => {
            for line in f.message.lines() {
                log::error!("fatal {line}");
            }
            // Without -f the log may go only to syslog; an init script's
            // operator should see why it did not start.
            if !opts.foreground {
                eprintln!("bongoyo: {}", f.message);
            }
            f.code
        }
    }
}

// Not inlined: `check` reads a whole configuration (about 100 KB) in its
// own frame; inlined, that frame would sit under the daemon's loop for the
// life of `run` (stack pages, once touched, stay resident).
#[inline(never)]
fn check(c: &Check) -> u8 {
    use crate::config::check;
    let path = c.config.to_string_lossy();
    let (cfg, at) = match crate::config::load_placed(&path) {
        Ok(x) => x,
        Err(errs) => {
            let _ = write!(io::stderr(), "{errs}");
            return EX_DATAERR;
        }
    };
    let mut errs = Errors::new(&path);
    let mut warns = Errors::new(&path);
    check::file_warnings(&cfg, &at, &mut warns);
    // Which box this is: `-n`, else the host name (as `run` picks it).
    let me = match (&c.name, c.offline) {
        (Some(name), _) => crate::config::validate_node(&path, &cfg, name).map(Some),
        (None, true) => Ok(None),
        (None, false) => match process::hostname() {
            Ok(host) => crate::config::validate_node(&path, &cfg, &host).map(Some),
            Err(e) => {
                eprintln!("bongoyo: uname: {e}");
                return EX_OSERR;
            }
        },
    };
    let me = match me {
        Ok(me) => me,
        Err(e) => {
            let _ = write!(io::stderr(), "{warns}{e}");
            if c.name.is_none() {
                eprintln!(
                    "bongoyo: this host was not checked: name its node with -n NAME (as for run), or check the file alone with --offline"
                );
            }
            return EX_DATAERR;
        }
    };
    if let (Some(me), false) = (me, c.offline) {
        check::host(&cfg, &at, me, &check::System, &mut errs, &mut warns);
    }
    errs.sort();
    warns.sort();
    let _ = write!(io::stderr(), "{warns}{errs}");
    if !errs.is_empty() {
        return EX_DATAERR;
    }
    print!(
        "{path}: ok: cluster {}, {}, {}, quorum {}",
        cfg.cluster,
        Count(cfg.nodes.len(), "node"),
        Count(cfg.vservers.len(), "vserver"),
        cfg.quorum
    );
    match (me.and_then(|m| cfg.nodes.get(m as usize)), c.offline) {
        (Some(n), false) => println!("; this host checked as node {}", n.name),
        _ => println!("; this host not checked (--offline)"),
    }
    0
}

/// Send one request to the daemon and relay its answer. An answer starting
/// `error CODE ` exits with CODE.
fn ask(socket: &Path, line: &str) -> u8 {
    match control::request(socket, line, CLIENT_TIMEOUT) {
        Ok(answer) => {
            if let Some(rest) = answer.strip_prefix("error ") {
                let (code, msg) = rest.split_once(' ').unwrap_or(("70", rest));
                eprint!("bongoyo: {msg}");
                code.parse().unwrap_or(EX_OSERR)
            } else if answer.is_empty() {
                eprintln!(
                    "bongoyo: the daemon at {} closed without answering",
                    socket.display()
                );
                EX_UNAVAILABLE
            } else {
                print!("{answer}");
                0
            }
        }
        Err(e) => match e.kind() {
            io::ErrorKind::NotFound | io::ErrorKind::ConnectionRefused => {
                eprintln!(
                    "bongoyo: daemon not running (no control socket at {})",
                    socket.display()
                );
                EX_UNAVAILABLE
            }
            io::ErrorKind::PermissionDenied => {
                eprintln!(
                    "bongoyo: no permission to use the control socket {}",
                    socket.display()
                );
                EX_NOPERM
            }
            _ => {
                eprintln!("bongoyo: control socket {}: {e}", socket.display());
                EX_OSERR
            }
        },
    }
}

fn keygen() -> u8 {
    let mut key = [0u8; 32];
    if let Err(e) = random::fill(&mut key) {
        eprintln!("bongoyo: random source: {e}");
        return EX_OSERR;
    }
    let mut hex = [0u8; 65];
    for (i, b) in key.iter().enumerate() {
        hex[2 * i] = HEX[(b >> 4) as usize];
        hex[2 * i + 1] = HEX[(b & 15) as usize];
    }
    hex[64] = b'\n';
    match io::stdout().write_all(&hex) {
        Ok(()) => 0,
        Err(_) => EX_OSERR,
    }
}

const HEX: &[u8; 16] = b"0123456789abcdef";

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(args: &[&str]) -> Result<Args, argh::EarlyExit> {
        Args::from_args(&["bongoyo"], args)
    }

    #[test]
    fn run_defaults_and_counted_verbosity() {
        let a = parse(&["run", "-f", "-v", "-v"]).unwrap();
        let Command::Run(r) = a.command else {
            panic!("not run")
        };
        assert_eq!(r.config, PathBuf::from(DEFAULT_CONFIG));
        assert_eq!(r.socket, PathBuf::from(DEFAULT_SOCKET));
        assert!(r.foreground);
        assert_eq!(r.verbose, 2);
        assert!(r.name.is_none());
    }

    #[test]
    fn release_needs_a_name_and_unknown_words_fail() {
        assert!(parse(&["release"]).is_err());
        assert!(parse(&["frobnicate"]).is_err());
        let Command::Release(r) = parse(&["release", "web", "-s", "/tmp/x"]).unwrap().command
        else {
            panic!()
        };
        assert_eq!(
            (r.vserver.as_str(), r.socket),
            ("web", PathBuf::from("/tmp/x"))
        );
    }

    #[test]
    fn arguments_that_are_not_utf8_are_refused_by_position() {
        use std::ffi::OsString;
        use std::os::unix::ffi::OsStringExt;
        let os = |b: &[u8]| OsString::from_vec(b.to_vec());
        let ok = utf8_args([os(b"bongoyo"), os(b"status")]).unwrap();
        assert_eq!(ok, ["bongoyo", "status"]);
        let e = utf8_args([
            os(b"bongoyo"),
            os(b"status"),
            os(b"-s"),
            os(b"/tmp/\xff.sock"),
        ])
        .unwrap_err();
        assert_eq!(
            e,
            "argument 3 is not UTF-8: \"/tmp/\u{fffd}.sock\" (paths and names must be UTF-8)"
        );
        let prog = utf8_args([os(b"\xff"), os(b"keygen")]).unwrap();
        assert_eq!(prog, ["bongoyo", "keygen"]);
    }

    #[test]
    fn ask_without_a_daemon_is_unavailable() {
        assert_eq!(
            ask(Path::new("/nonexistent/bongoyo.sock"), "status"),
            EX_UNAVAILABLE
        );
    }
}
