//! Child processes: hooks and `exec` checks (docs/MODEL.md).
//!
//! A child is started from a [`Command`] (program and arguments split on
//! whitespace, never through a shell). Two conventions, documented for
//! operators in `docs/DECISIONS.md` ("Configuration"):
//!
//! * **hooks** ([`spawn_hook`]: pre/post-takeover/release) get the
//!   vserver's name, address, interface and the event appended to their
//!   arguments, and the same as `BONGOYO_*` environment variables; the
//!   notify hook ([`spawn_with`]) gets the event and its fields;
//! * **checks** ([`spawn_check`]: `service exec`, `self-check exec`) get
//!   exactly the argv that was written, their context in the `BONGOYO_*`
//!   environment variables only. A check is often an existing tool
//!   (`curl -sf URL`) that extra arguments would break.
//!
//! Its stdout and stderr share one non-blocking pipe that the mio
//! loop reads, so hook output reaches syslog line by line. The loop learns of
//! its exit through SIGCHLD on the signalfd and reaps it with `waitpid`; the
//! caller keeps the pid, the deadline, and kills a child that overruns it.
//!
//! Children start through `posix_spawn(3)` (musl implements it with a
//! vfork-style clone that reports exec errors back), with the signal mask
//! emptied and the daemon's signals reset to their defaults, so a hook does
//! not inherit the signals the daemon blocks for its signalfd. Argument and
//! environment strings are laid out in fixed buffers: starting a hook
//! allocates nothing (and `std::process` would add 15 KB to the binary).

use std::io;
use std::os::fd::{AsRawFd, OwnedFd, RawFd};

use crate::config::Command;

/// What a child is told: set as `BONGOYO_VSERVER`, `BONGOYO_ADDRESS`,
/// `BONGOYO_INTERFACE`, `BONGOYO_EVENT`, and for a hook also appended to its
/// configured arguments as `VSERVER ADDRESS INTERFACE EVENT`.
#[derive(Copy, Clone, Debug)]
pub struct Context<'a> {
    /// The vserver's name.
    pub vserver: &'a str,
    /// Its address, `A.B.C.D/P`.
    pub address: &'a str,
    /// The interface (or alias label).
    pub interface: &'a str,
    /// The event: `pre-takeover`, `post-takeover`, `pre-release`,
    /// `post-release`, `service-check`, `self-check`, or an alert name.
    pub event: &'a str,
}

/// A running child.
#[derive(Debug)]
pub struct Child {
    /// Its pid, for `waitpid` and `kill`.
    pub pid: i32,
    /// Read end of its stdout+stderr pipe, non-blocking.
    pub output: OwnedFd,
}

impl AsRawFd for Child {
    fn as_raw_fd(&self) -> RawFd {
        self.output.as_raw_fd()
    }
}

impl Context<'_> {
    /// The `BONGOYO_*` environment variables.
    fn env(&self) -> [(&str, &str); 4] {
        [
            ("BONGOYO_VSERVER", self.vserver),
            ("BONGOYO_ADDRESS", self.address),
            ("BONGOYO_INTERFACE", self.interface),
            ("BONGOYO_EVENT", self.event),
        ]
    }
}

/// Start the hook `cmd`: `VSERVER ADDRESS INTERFACE EVENT` appended to its
/// arguments and set in its environment. Fails if the program cannot be
/// executed (the error names why: not found, not executable...).
pub fn spawn_hook(cmd: &Command, ctx: Context<'_>) -> io::Result<Child> {
    spawn_with(
        cmd,
        &[ctx.vserver, ctx.address, ctx.interface, ctx.event],
        &ctx.env(),
    )
}

/// Start the `exec` check `cmd` with exactly its written argv; `ctx` goes
/// into its environment only. Fails as [`spawn_hook`] does.
pub fn spawn_check(cmd: &Command, ctx: Context<'_>) -> io::Result<Child> {
    spawn_with(cmd, &[], &ctx.env())
}

/// Start `cmd` with `args` appended to its configured arguments and `env`
/// added to its environment (the notify hook: the event name and its
/// `key=value` fields).
pub fn spawn_with(cmd: &Command, args: &[&str], env: &[(&str, &str)]) -> io::Result<Child> {
    let (read, write) =
        nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC | nix::fcntl::OFlag::O_NONBLOCK)?;
    // The child's end must block: a hook writing to a non-blocking pipe
    // would see EAGAIN when the daemon is slow to read. (dup2 in the child
    // clears close-on-exec on the copies; the original closes at exec.)
    let flags = nix::fcntl::fcntl(write.as_raw_fd(), nix::fcntl::FcntlArg::F_GETFL)?;
    let mut flags = nix::fcntl::OFlag::from_bits_truncate(flags);
    flags.remove(nix::fcntl::OFlag::O_NONBLOCK);
    nix::fcntl::fcntl(write.as_raw_fd(), nix::fcntl::FcntlArg::F_SETFL(flags))?;

    let mut strings = Strings::new();
    let mut argv: heapless::Vec<*const libc::c_char, MAX_ARGV> = heapless::Vec::new();
    for a in cmd.argv().chain(args.iter().copied()) {
        let p = strings.push(&[a.as_bytes()])?;
        argv.push(p).map_err(|_| too_long())?;
    }
    if argv.is_empty() {
        return Err(io::Error::new(io::ErrorKind::InvalidInput, "empty command"));
    }
    argv.push(core::ptr::null()).map_err(|_| too_long())?;

    // The daemon's environment, then the added variables.
    let mut envp: heapless::Vec<*const libc::c_char, MAX_ENVP> = heapless::Vec::new();
    // SAFETY: `environ` is the C library's NULL-terminated array of
    // NUL-terminated strings; nothing changes it while we read (one thread).
    unsafe {
        let mut e = environ;
        while !e.is_null() && !(*e).is_null() {
            if envp.len() + env.len() + 1 >= MAX_ENVP {
                break;
            }
            let _ = envp.push(*e);
            e = e.add(1);
        }
    }
    for (k, v) in env {
        let p = strings.push(&[k.as_bytes(), b"=", v.as_bytes()])?;
        envp.push(p).map_err(|_| too_long())?;
    }
    envp.push(core::ptr::null()).map_err(|_| too_long())?;

    let null = b"/dev/null\0";
    let mut pid: libc::pid_t = 0;
    // SAFETY: the file actions and attributes are initialised before use and
    // destroyed after; argv and envp are NULL-terminated arrays of pointers
    // into `strings` (or environ), alive for the whole call.
    let rc = unsafe {
        let mut fa: libc::posix_spawn_file_actions_t = core::mem::zeroed();
        let mut at: libc::posix_spawnattr_t = core::mem::zeroed();
        libc::posix_spawn_file_actions_init(&mut fa);
        libc::posix_spawnattr_init(&mut at);
        libc::posix_spawn_file_actions_addopen(&mut fa, 0, null.as_ptr().cast(), libc::O_RDONLY, 0);
        libc::posix_spawn_file_actions_adddup2(&mut fa, write.as_raw_fd(), 1);
        libc::posix_spawn_file_actions_adddup2(&mut fa, write.as_raw_fd(), 2);
        let mut empty: libc::sigset_t = core::mem::zeroed();
        libc::sigemptyset(&mut empty);
        let mut defaults: libc::sigset_t = core::mem::zeroed();
        libc::sigemptyset(&mut defaults);
        for sig in [
            libc::SIGHUP,
            libc::SIGTERM,
            libc::SIGINT,
            libc::SIGCHLD,
            libc::SIGPIPE,
        ] {
            libc::sigaddset(&mut defaults, sig);
        }
        libc::posix_spawnattr_setsigmask(&mut at, &empty);
        libc::posix_spawnattr_setsigdefault(&mut at, &defaults);
        libc::posix_spawnattr_setflags(
            &mut at,
            (libc::POSIX_SPAWN_SETSIGMASK | libc::POSIX_SPAWN_SETSIGDEF) as libc::c_short,
        );
        let rc = libc::posix_spawn(
            &mut pid,
            argv[0],
            &fa,
            &at,
            argv.as_ptr() as *const *mut libc::c_char,
            envp.as_ptr() as *const *mut libc::c_char,
        );
        libc::posix_spawn_file_actions_destroy(&mut fa);
        libc::posix_spawnattr_destroy(&mut at);
        rc
    };
    // Our copy of the write end closes here, so the pipe reports end of file
    // when the child (and anything it started) has exited.
    drop(write);
    if rc != 0 {
        return Err(io::Error::from_raw_os_error(rc));
    }
    Ok(Child { pid, output: read })
}

/// Pointers in argv and envp: the configured words plus what is appended.
const MAX_ARGV: usize = crate::limits::MAX_ARGS + 8;
/// Environment entries passed on (the daemon's own plus the `BONGOYO_*`).
const MAX_ENVP: usize = 128;
/// Bytes for the argument and added environment strings.
const STRINGS: usize = 2048;

extern "C" {
    /// The C library's environment (POSIX).
    static environ: *const *const libc::c_char;
}

fn too_long() -> io::Error {
    io::Error::new(
        io::ErrorKind::InvalidInput,
        "command line or environment too long",
    )
}

/// NUL-terminated strings laid out in one fixed buffer.
struct Strings {
    buf: [u8; STRINGS],
    len: usize,
}

impl Strings {
    fn new() -> Strings {
        Strings {
            buf: [0; STRINGS],
            len: 0,
        }
    }

    /// Append the concatenation of `parts` and a NUL; a pointer to it. A
    /// part with a NUL inside is refused (it would cut the string).
    fn push(&mut self, parts: &[&[u8]]) -> io::Result<*const libc::c_char> {
        let n: usize = parts.iter().map(|p| p.len()).sum();
        if self.len + n + 1 > STRINGS {
            return Err(too_long());
        }
        if parts.iter().any(|p| p.contains(&0)) {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "NUL byte in an argument",
            ));
        }
        let start = self.len;
        for p in parts {
            self.buf[self.len..self.len + p.len()].copy_from_slice(p);
            self.len += p.len();
        }
        self.buf[self.len] = 0;
        self.len += 1;
        Ok(self.buf[start..].as_ptr().cast())
    }
}

/// Kill a child that overran its deadline (SIGKILL: a hook that ignores its
/// time limit does not get to negotiate). The exit is still reaped through
/// SIGCHLD as usual.
pub fn kill(pid: i32) -> io::Result<()> {
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(pid),
        nix::sys::signal::Signal::SIGKILL,
    )?;
    Ok(())
}

/// Read what a child wrote. Calls `line` for each complete line (and for a
/// final partial line at end of file); keeps a partial line in `pending`.
/// Returns `Ok(true)` at end of file. Lines longer than the buffer are cut.
pub fn read_output(
    fd: &OwnedFd,
    pending: &mut heapless::Vec<u8, 256>,
    mut line: impl FnMut(&str),
) -> io::Result<bool> {
    let mut buf = [0u8; 512];
    loop {
        match nix::unistd::read(fd.as_raw_fd(), &mut buf) {
            Ok(0) => {
                if !pending.is_empty() {
                    line(&String::from_utf8_lossy(pending));
                    pending.clear();
                }
                return Ok(true);
            }
            Ok(n) => {
                for &b in &buf[..n] {
                    if b == b'\n' {
                        line(&String::from_utf8_lossy(pending));
                        pending.clear();
                    } else if pending.push(b).is_err() {
                        // Full: hand over what we have and start a new line.
                        line(&String::from_utf8_lossy(pending));
                        pending.clear();
                        let _ = pending.push(b);
                    }
                }
            }
            Err(nix::errno::Errno::EAGAIN) => return Ok(false),
            Err(nix::errno::Errno::EINTR) => continue,
            Err(e) => return Err(e.into()),
        }
    }
}

#[cfg(test)]
mod spawn_tests {
    use super::*;

    fn command(line: &str) -> Command {
        Command {
            line: heapless::String::try_from(line).expect("short"),
        }
    }

    /// Wait for this one child (by pid: never reaps another test's child)
    /// and collect its output.
    fn run(c: Child) -> (String, i32) {
        let mut out = String::new();
        let mut pending = heapless::Vec::new();
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
        loop {
            let eof = read_output(&c.output, &mut pending, |l| {
                out.push_str(l);
                out.push('\n');
            })
            .expect("read");
            if eof || std::time::Instant::now() > deadline {
                break;
            }
            std::thread::sleep(std::time::Duration::from_millis(5));
        }
        let status =
            nix::sys::wait::waitpid(nix::unistd::Pid::from_raw(c.pid), None).expect("wait");
        let code = match status {
            nix::sys::wait::WaitStatus::Exited(_, code) => code,
            other => panic!("{other:?}"),
        };
        (out, code)
    }

    #[test]
    fn arguments_environment_and_output() {
        let ctx = Context {
            vserver: "web",
            address: "10.0.0.50/24",
            interface: "eth0:0",
            event: "post-takeover",
        };
        let (out, code) = run(spawn_hook(&command("/bin/sh -c env"), ctx).expect("spawn env"));
        assert_eq!(code, 0);
        assert!(out.contains("BONGOYO_EVENT=post-takeover"), "{out}");
        assert!(out.contains("BONGOYO_VSERVER=web"), "{out}");
        assert!(out.contains("BONGOYO_INTERFACE=eth0:0"), "{out}");
        assert!(
            out.contains("PATH="),
            "the daemon's environment is passed on: {out}"
        );
        let (out, code) = run(spawn_hook(&command("/bin/echo first"), ctx).expect("spawn echo"));
        assert_eq!(
            (out.as_str(), code),
            ("first web 10.0.0.50/24 eth0:0 post-takeover\n", 0)
        );
    }

    #[test]
    fn a_check_gets_exactly_its_written_argv_and_the_environment() {
        let ctx = Context {
            vserver: "web",
            address: "10.0.0.50/24",
            interface: "eth0",
            event: "service-check",
        };
        let (out, code) = run(spawn_check(&command("/bin/echo -n a b"), ctx).expect("spawn echo"));
        assert_eq!((out.as_str(), code), ("a b\n", 0));
        let (out, code) = run(spawn_check(&command("/bin/sh -c env"), ctx).expect("spawn env"));
        assert_eq!(code, 0);
        for want in [
            "BONGOYO_VSERVER=web",
            "BONGOYO_ADDRESS=10.0.0.50/24",
            "BONGOYO_INTERFACE=eth0",
            "BONGOYO_EVENT=service-check",
        ] {
            assert!(out.lines().any(|l| l == want), "{want}: {out}");
        }
    }

    #[test]
    fn exit_status_and_exec_errors() {
        let ctx = Context {
            vserver: "v",
            address: "a",
            interface: "i",
            event: "e",
        };
        let (_, code) = run(spawn_hook(&command("/bin/false"), ctx).expect("spawn"));
        assert_eq!(code, 1);
        let (_, code) = run(spawn_check(&command("/bin/false"), ctx).expect("spawn"));
        assert_eq!(code, 1);
        let err = spawn_hook(&command("/nonexistent/hook"), ctx).expect_err("no such program");
        assert_eq!(err.raw_os_error(), Some(libc::ENOENT), "{err}");
        let err = spawn_check(&command("/nonexistent/check"), ctx).expect_err("no such program");
        assert_eq!(err.raw_os_error(), Some(libc::ENOENT), "{err}");
    }
}
