//! What the signals ask for, read from the signalfd in the loop: SIGTERM
//! and SIGINT stop the daemon (a hand-over through the node, then
//! [`Daemon::shutdown`]), SIGHUP re-reads and validates the configuration,
//! SIGCHLD reaps hooks and `exec` checks.

use log::{debug, error, info, warn};

use super::{Daemon, STOP_GRACE};
use crate::cluster::Dest;
use crate::config::{self, VsId};
use crate::limits::MAX_VSERVERS;
use crate::node::Output;
use crate::os::process;
use crate::os::signals::Signal;
use crate::time::Instant;

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
                Ok(Some(Signal::Hup)) => self.reload(),
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

    /// SIGHUP: parse and validate the whole file; report, change nothing yet.
    fn reload(&mut self) {
        info!("reload file={}", self.config_path);
        match config::load(&self.config_path) {
            Ok(new) => {
                let same = new.digest() == self.config.digest();
                info!(
                    "reload-accepted file={} nodes={} vservers={} cluster-view={} applied=no (applying a reloaded configuration comes in a later version; the running configuration is unchanged)",
                    self.config_path,
                    new.nodes.len(),
                    new.vservers.len(),
                    if same { "unchanged" } else { "changed" },
                );
            }
            Err(errs) => {
                let all = format!("{errs}");
                let mut n = 0;
                for line in all.lines() {
                    error!("reload-error {line}");
                    n += 1;
                }
                error!(
                    "reload-rejected file={} errors={n} running configuration unchanged",
                    self.config_path
                );
            }
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
