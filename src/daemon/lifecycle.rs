//! What the signals ask for, read from the signalfd in the loop: SIGTERM
//! and SIGINT stop the daemon (a hand-over through the node, then
//! [`Daemon::shutdown`]), SIGHUP re-reads and validates the configuration,
//! SIGCHLD reaps hooks and `exec` checks.

use log::{debug, error, info, warn};

use super::{Daemon, Quoted, STOP_GRACE};
use crate::cluster::Dest;
use crate::config::{self, check, Config, Errors, VsId, MAX_REVISION};
use crate::limits::MAX_VSERVERS;
use crate::node::Output;
use crate::os::process;
use crate::os::signals::Signal;
use crate::time::Instant;

/// A file's revision (`config::revision_of`).
pub(super) type Revision = heapless::String<MAX_REVISION>;

/// What became of a reload.
pub(super) enum Reloaded {
    /// Valid, and what differs is applied (`changed` names it; empty: the
    /// file changes nothing the daemon uses).
    Applied {
        /// The per-box settings that changed.
        changed: heapless::Vec<&'static str, 8>,
    },
    /// Valid, but it changes settings every box must agree on: nothing
    /// applied.
    ClusterWide {
        /// The cluster-wide settings that differ.
        changed: heapless::Vec<&'static str, 12>,
    },
    /// Not valid for this box: nothing applied.
    Rejected {
        /// Every error, `FILE:LINE:COL: message` a line.
        errors: String,
    },
}

/// Words joined with commas (`none` for no word), for the log.
pub(super) struct Words<'a>(pub &'a [&'static str]);

impl core::fmt::Display for Words<'_> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        if self.0.is_empty() {
            return f.write_str("none");
        }
        for (i, w) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str(",")?;
            }
            f.write_str(w)?;
        }
        Ok(())
    }
}

impl Daemon {
    pub(super) fn signals(&mut self, now: Instant) {
        loop {
            match self.signals.read() {
                Ok(None) => return,
                Ok(Some(sig @ (Signal::Term | Signal::Int))) => {
                    if self.stop.is_none() {
                        info!(
                            "stopping signal={} holding={} handing-over",
                            sig.name(),
                            self.aliases.iter().flatten().count()
                        );
                        self.stop = Some((sig, now + STOP_GRACE));
                        self.tell_manager("STOPPING=1");
                        self.stop_tally.begin();
                        self.node.shutdown(now);
                    }
                }
                Ok(Some(Signal::Hup)) => {
                    self.reload(now, None);
                }
                Ok(Some(Signal::Chld)) => {
                    let reg = self.poll.registry();
                    let work = &mut self.work;
                    process::reap(|pid, how| {
                        if !work.exited(reg, pid, how) {
                            debug!("child-exit pid={pid} how={how} (not ours)");
                        }
                    });
                }
                Err(e) => {
                    error!("signalfd-error error={e}");
                    return;
                }
            }
        }
    }

    /// Tell the service manager `state` (`READY=1`, `WATCHDOG=1`,
    /// `STOPPING=1`), if the daemon runs under one. A failure is logged at
    /// debug level: the manager's own timeouts tell the operator more.
    pub(super) fn tell_manager(&self, state: &str) {
        if let Some(n) = &self.notify {
            if let Err(e) = n.send(state) {
                debug!("sd-notify-failed state={state} error={e}");
            }
        }
    }

    /// When the next `WATCHDOG=1` is due after `now`, if the manager
    /// asked for them.
    pub(super) fn watchdog_after(&self, now: Instant) -> Option<Instant> {
        let every = self.notify.as_ref()?.watchdog_every()?;
        Some(now + every)
    }

    /// SIGHUP or `bongoyo reload [-c FILE]`: read the file (`path`, else
    /// the running one's), validate it and this host against it, and apply
    /// what this box may apply alone (docs/CONFIG.md, "Reloading"). A file
    /// with errors, or one that changes cluster-wide settings, changes
    /// nothing; each outcome is logged.
    pub(super) fn reload(&mut self, now: Instant, path: Option<&str>) -> Reloaded {
        let path = path.unwrap_or(&self.config_path).to_owned();
        info!("reload file={path}");
        let loaded = self.load_checked(&path);
        // Reading and checking the file touched deep frames, whatever the
        // outcome: give their pages back.
        super::trim_stack();
        let (new, revision) = match loaded {
            Ok(x) => x,
            Err(errors) => {
                let mut n = 0;
                for line in errors.lines() {
                    error!("reload-error {line}");
                    n += 1;
                }
                error!("reload-rejected file={path} errors={n} running configuration unchanged");
                return Reloaded::Rejected { errors };
            }
        };
        let changes = self.config.changes(&new);
        let digest = new.digest();
        if !changes.cluster.is_empty() {
            warn!(
                "reload-not-applied file={path} revision={} digest={digest:08x} running={:08x} cluster-wide={} running configuration unchanged (cluster-wide settings change only by restarting every box with the new file)",
                Quoted(&revision),
                self.config.digest(),
                Words(&changes.cluster),
            );
            return Reloaded::ClusterWide {
                changed: changes.cluster,
            };
        }
        info!(
            "reload-applied file={path} revision={} digest={digest:08x} changed={}",
            Quoted(&revision),
            Words(&changes.local)
        );
        self.config = new;
        self.config_path = path;
        self.revision = revision;
        if !changes.local.is_empty() {
            self.node.apply_local(now, &self.config);
        }
        Reloaded::Applied {
            changed: changes.local,
        }
    }

    /// The file at `path`, parsed, its key read, and checked as this box
    /// (its node line, interfaces, programs) as `bongoyo check` does; or
    /// every error, one `FILE:LINE:COL: message` a line.
    #[inline(never)]
    fn load_checked(&self, path: &str) -> Result<(Box<Config>, Revision), String> {
        let (new, places) = config::load_placed(path).map_err(|e| format!("{e}"))?;
        let name = self.name(self.me);
        let me = config::validate_node(path, &new, name).map_err(|e| format!("{e}"))?;
        let mut errs = Errors::new(path);
        let mut warns = Errors::new(path);
        check::host(&new, &places, me, &check::System, &mut errs, &mut warns);
        for line in format!("{warns}").lines() {
            warn!("reload-warning {line}");
        }
        if errs.is_empty() {
            Ok((Box::new(new), places.revision))
        } else {
            errs.sort();
            Err(format!("{errs}"))
        }
    }

    /// The stop after SIGTERM or SIGINT: everything released through the
    /// node (hooks included), or the grace period is over. What is still on
    /// an interface then is removed directly; running hooks are killed.
    pub(super) fn shutdown(&mut self, now: Instant, sig: Signal) {
        let clean = self.node.stopped();
        for vs in 0..self.config.vservers.len().min(MAX_VSERVERS) {
            if self.aliases[vs].is_some() {
                warn!(
                    "stop-forced-release vserver={} after_ms={}",
                    self.vs_name(vs as VsId),
                    STOP_GRACE.as_millis()
                );
                let ok = self.remove_alias(vs as VsId);
                self.stop_tally.removed(vs as VsId, ok, true);
            }
        }
        // Tell the others this box leaves on purpose. Only the messages go
        // out: a step or check the node would still ask for is moot now.
        self.node.leave(now);
        while let Some(o) = self.node.poll_output() {
            if let Output::Send { to, body } = o {
                self.send(to, &body);
            }
        }
        while let Some((to, body)) = self.codec.poll_transmit() {
            self.send(Dest::Node(to), &body);
        }
        self.work.kill_all();
        let (released, forced) = self.stop_tally.counts();
        info!(
            "stop signal={} released={released} forced={forced} clean={clean} uptime_ms={} incarnation={:016x}",
            sig.name(),
            now.saturating_since(self.started).as_millis(),
            self.incarnation
        );
    }
}
