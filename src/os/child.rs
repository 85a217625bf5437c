//! Child processes: hooks and `exec` checks (DESIGN section 5).
//!
//! A child is started from a [`Command`] (program and arguments split on
//! whitespace, never through a shell), with the vserver's name, address,
//! interface and the event as arguments and as `BONGOYO_*` environment
//! variables. Its stdout and stderr share one non-blocking pipe that the mio
//! loop reads, so hook output reaches syslog line by line. The loop learns of
//! its exit through SIGCHLD on the signalfd and reaps it with `waitpid`; the
//! caller keeps the pid, the deadline, and kills a child that overruns it.
//!
//! The Rust standard library's spawn resets the signal mask and dispositions
//! in the child, so a hook does not inherit the daemon's blocked signals.

use std::io;
use std::os::fd::{AsRawFd, OwnedFd, RawFd};
use std::process::{Command as Process, Stdio};

use crate::config::Command;

/// What a child is told: `VSERVER ADDRESS INTERFACE EVENT`, appended to its
/// configured arguments and set as `BONGOYO_VSERVER`, `BONGOYO_ADDRESS`,
/// `BONGOYO_INTERFACE`, `BONGOYO_EVENT`.
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

/// Start `cmd` with `ctx`. Fails if the program cannot be executed (the error
/// names why: not found, not executable...).
pub fn spawn(cmd: &Command, ctx: Context<'_>) -> io::Result<Child> {
    spawn_with(
        cmd,
        &[ctx.vserver, ctx.address, ctx.interface, ctx.event],
        &[
            ("BONGOYO_VSERVER", ctx.vserver),
            ("BONGOYO_ADDRESS", ctx.address),
            ("BONGOYO_INTERFACE", ctx.interface),
            ("BONGOYO_EVENT", ctx.event),
        ],
    )
}

/// Start `cmd` with `args` appended to its configured arguments and `env`
/// added to its environment (the notify hook: the event name and its
/// `key=value` fields).
pub fn spawn_with(cmd: &Command, args: &[&str], env: &[(&str, &str)]) -> io::Result<Child> {
    let mut argv = cmd.argv();
    let program = argv
        .next()
        .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "empty command"))?;
    let (read, write) =
        nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC | nix::fcntl::OFlag::O_NONBLOCK)?;
    // The child's end must block: a hook writing to a non-blocking pipe
    // would see EAGAIN when the daemon is slow to read.
    let flags = nix::fcntl::fcntl(write.as_raw_fd(), nix::fcntl::FcntlArg::F_GETFL)?;
    let mut flags = nix::fcntl::OFlag::from_bits_truncate(flags);
    flags.remove(nix::fcntl::OFlag::O_NONBLOCK);
    nix::fcntl::fcntl(write.as_raw_fd(), nix::fcntl::FcntlArg::F_SETFL(flags))?;
    let err = write.try_clone()?;
    let mut p = Process::new(program);
    p.args(argv).args(args);
    for (k, v) in env {
        p.env(k, v);
    }
    let child = p
        .stdin(Stdio::null())
        .stdout(Stdio::from(write))
        .stderr(Stdio::from(err))
        .spawn()?;
    // The parent's copies of the write end are closed with the Process
    // (dropped here), so the pipe reports end-of-file when the child exits.
    Ok(Child {
        pid: child.id() as i32,
        output: read,
    })
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
