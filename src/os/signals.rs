//! Signals as readable events: SIGHUP (reload), SIGTERM and SIGINT (stop),
//! SIGCHLD (a hook or check exited).
//!
//! The four are blocked and delivered through a non-blocking `signalfd`, so
//! the mio loop sees them as readiness on one descriptor and handles them
//! between turns, never inside an asynchronous handler. They are blocked
//! once the configuration is read and before the daemon touches anything
//! ([`hold_reload`] holds SIGHUP back from the start): a signal blocked
//! while start-up waited would not be seen until the loop ran.

use std::io;
use std::os::fd::{AsRawFd, RawFd};

use nix::errno::Errno;
use nix::sys::signal::{SigSet, SigmaskHow, Signal as NixSignal};
use nix::sys::signalfd::{SfdFlags, SignalFd};

/// A signal the daemon acts on.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum Signal {
    /// SIGHUP: re-read the configuration (docs/MODEL.md).
    Hup,
    /// SIGTERM: release and exit 0.
    Term,
    /// SIGINT: as SIGTERM (Ctrl-C in the foreground).
    Int,
    /// SIGCHLD: reap children.
    Chld,
}

impl Signal {
    /// The conventional name, for the log.
    pub fn name(self) -> &'static str {
        match self {
            Signal::Hup => "SIGHUP",
            Signal::Term => "SIGTERM",
            Signal::Int => "SIGINT",
            Signal::Chld => "SIGCHLD",
        }
    }
}

/// The daemon's signalfd.
pub struct Signals {
    fd: SignalFd,
}

fn set() -> SigSet {
    let mut s = SigSet::empty();
    for sig in [
        NixSignal::SIGHUP,
        NixSignal::SIGTERM,
        NixSignal::SIGINT,
        NixSignal::SIGCHLD,
    ] {
        s.add(sig);
    }
    s
}

/// Block SIGHUP only, first thing in `run`: its default action would kill
/// a daemon asked to reload while it starts; blocked, it waits in the
/// kernel and the [`Signals`] descriptor reads it once the loop runs.
/// SIGTERM and SIGINT keep their default action until [`Signals::new`]:
/// before that the daemon has touched nothing, so dying at once is the
/// right way to stop.
pub fn hold_reload() -> io::Result<()> {
    let mut s = SigSet::empty();
    s.add(NixSignal::SIGHUP);
    nix::sys::signal::pthread_sigmask(SigmaskHow::SIG_BLOCK, Some(&s), None)?;
    Ok(())
}

impl Signals {
    /// Block the four signals for this thread (call before any other thread
    /// exists, so none inherits them unblocked) and open a non-blocking,
    /// close-on-exec signalfd for them.
    pub fn new() -> io::Result<Signals> {
        let mask = set();
        nix::sys::signal::pthread_sigmask(SigmaskHow::SIG_BLOCK, Some(&mask), None)?;
        let fd = SignalFd::with_flags(&mask, SfdFlags::SFD_NONBLOCK | SfdFlags::SFD_CLOEXEC)?;
        Ok(Signals { fd })
    }

    /// The next pending signal, `None` when there is none (would block).
    /// Signals of the same kind pending together are merged by the kernel,
    /// which is harmless: each handler handles "at least one".
    pub fn read(&mut self) -> io::Result<Option<Signal>> {
        loop {
            match self.fd.read_signal() {
                Ok(None) => return Ok(None),
                Ok(Some(info)) => {
                    let sig = match info.ssi_signo as i32 {
                        libc::SIGHUP => Signal::Hup,
                        libc::SIGTERM => Signal::Term,
                        libc::SIGINT => Signal::Int,
                        libc::SIGCHLD => Signal::Chld,
                        // Not in our mask: cannot arrive; skip rather than fail.
                        _ => continue,
                    };
                    return Ok(Some(sig));
                }
                Err(Errno::EINTR) => continue,
                Err(e) => return Err(e.into()),
            }
        }
    }
}

impl AsRawFd for Signals {
    fn as_raw_fd(&self) -> RawFd {
        self.fd.as_raw_fd()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_raised_signal_is_read_once() {
        let mut s = Signals::new().unwrap();
        // The mask is per thread; raise to this thread so the test harness's
        // other threads are not involved.
        nix::sys::signal::raise(NixSignal::SIGHUP).unwrap();
        assert_eq!(s.read().unwrap(), Some(Signal::Hup));
        assert_eq!(s.read().unwrap(), None);
    }
}
