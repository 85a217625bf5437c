//! The ordered steps of a takeover and of a release, for one vserver on one
//! box (docs/MODEL.md). Sans-IO: [`Sequence`] says
//! which step to start ([`Step`]); the shell runs it (a hook as a child
//! process, an alias through ioctl, a gratuitous ARP on the packet socket) and
//! feeds the result back. A failed hook or alias aborts the sequence and
//! reports, so the boss can pick another box.
//!
//! Takeover: pre-takeover hook → alias the address → first gratuitous ARP →
//! post-takeover hook → claim (the remaining gratuitous ARPs keep going out
//! at their spacing meanwhile, so clients update even if the hook is slow).
//! Release is the reverse: pre-release hook → remove the alias → post-release
//! hook → stop claiming. The claim is dropped last, after the address is gone,
//! so the boss never sees "nobody claims" while the address still answers.

use core::fmt;
use core::time::Duration;

use crate::config::HookKind;
use crate::time::Instant;

pub mod holder;

/// Gratuitous ARPs sent after a takeover, and their spacing. Several, because
/// one can be lost; spaced, because a switch or client that is busy at the
/// first one catches a later one. keepalived sends 5 by default; 4 spaced
/// 100 ms cover a 300 ms window for under 250 bytes of traffic.
pub const DEFAULT_GARP_COUNT: u8 = 4;
/// Default spacing between gratuitous ARPs.
pub const DEFAULT_GARP_SPACING: Duration = Duration::from_millis(100);

/// Least time between two bursts of gratuitous ARPs for one held vserver
/// (a takeover's, or a repeat after a box is heard again, issue 17). A
/// link that flaps makes boxes heard again many times a second; each
/// would be a burst. A repeat asked for sooner is held back until this
/// has passed since the last burst began, not dropped: the heal it
/// answers may be the moment a cut-off client can hear us again.
pub const REPEAT_GAP: Duration = Duration::from_secs(1);

/// Shortest kernel lifetime of a held address in seconds (the kernel
/// counts lifetimes in whole seconds): the lifetime at hellos under a third
/// of a second, the defaults included. See [`alias_lifetime_s`].
pub const ALIAS_LIFETIME_S: u32 = 1;

/// Kernel lifetime of a held address in seconds, renewed every hello while
/// the lease holds (fencing layer 2): the kernel removes the address of a
/// killed or frozen daemon one to two lifetimes after its last renewal.
/// Three hellos, at least [`ALIAS_LIFETIME_S`]: a renewal or two late (a
/// busy loop) must not let the address lapse; with a 1 s lifetime and a
/// hello of 1 s, renewals came as the kernel removed it.
pub fn alias_lifetime_s(hello: Duration) -> u32 {
    let ms = hello.as_millis().saturating_mul(3);
    let s = u32::try_from(ms.div_ceil(1000)).unwrap_or(u32::MAX);
    s.max(ALIAS_LIFETIME_S)
}

/// How long after a box's lease is proven lapsed its kernel may still hold
/// an address, at hello interval `hello`: two lifetimes (the kernel's
/// whole-second rounding) and a second of margin for a slow tick. Past
/// that, an ARP answer in that box's MAC does not come from its kernel: it
/// is forged, or a stale cache.
pub fn kernel_hold_bound(hello: Duration) -> Duration {
    Duration::from_secs(2 * u64::from(alias_lifetime_s(hello)) + 1)
}

/// [`kernel_hold_bound`] at hellos under a third of a second (3 s).
pub const KERNEL_HOLD_BOUND: Duration = Duration::from_secs(2 * ALIAS_LIFETIME_S as u64 + 1);

/// Which way the sequence goes.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum Direction {
    /// Take the address over.
    Takeover,
    /// Give it up.
    Release,
    /// Give it up at once: the lease lapsed or a takeover was aborted. The
    /// alias goes first, then the post-release hook; no pre-release hook may
    /// delay giving up an address this box may no longer own.
    Fence,
}

/// One step the shell carries out.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum Step {
    /// Run the pre-takeover hook (skipped by the sequence if not configured).
    PreTakeover,
    /// Add the address (alias label or dedicated interface).
    AddAlias,
    /// Send one gratuitous ARP for the address.
    Garp,
    /// Run the post-takeover hook.
    PostTakeover,
    /// Run the pre-release hook.
    PreRelease,
    /// Remove the address.
    RemoveAlias,
    /// Run the post-release hook.
    PostRelease,
}

impl Step {
    /// The hook this step runs, if it is a hook.
    pub fn hook(self) -> Option<HookKind> {
        match self {
            Step::PreTakeover => Some(HookKind::PreTakeover),
            Step::PostTakeover => Some(HookKind::PostTakeover),
            Step::PreRelease => Some(HookKind::PreRelease),
            Step::PostRelease => Some(HookKind::PostRelease),
            Step::AddAlias | Step::Garp | Step::RemoveAlias => None,
        }
    }

    /// The variant's name (`PreTakeover`), as logged (`step-failed step=`).
    pub fn name(self) -> &'static str {
        match self {
            Step::PreTakeover => "PreTakeover",
            Step::AddAlias => "AddAlias",
            Step::Garp => "Garp",
            Step::PostTakeover => "PostTakeover",
            Step::PreRelease => "PreRelease",
            Step::RemoveAlias => "RemoveAlias",
            Step::PostRelease => "PostRelease",
        }
    }
}

/// A set of [`HookKind`]s: the hooks a vserver has configured.
#[derive(Copy, Clone, Debug, Default, PartialEq, Eq)]
pub struct HookSet(u8);

impl HookSet {
    /// No hooks.
    pub const NONE: HookSet = HookSet(0);

    /// The kinds for which `has` says yes.
    pub fn from_fn(mut has: impl FnMut(HookKind) -> bool) -> HookSet {
        let mut set = HookSet::NONE;
        for kind in HookKind::ALL {
            if has(kind) {
                set.0 |= 1 << kind as u8;
            }
        }
        set
    }

    /// `kind` is in the set.
    pub fn contains(self, kind: HookKind) -> bool {
        self.0 & (1 << kind as u8) != 0
    }
}

/// The variant's name: the text of the derived `Debug`, written out so a
/// build without `Debug` formatting (`make tiny`) logs it too.
impl fmt::Display for Step {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// How a sequence ended.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum SequenceEnd {
    /// Takeover complete: claim the vserver. Release complete: stop claiming.
    Done,
    /// A step failed; the sequence stopped there.
    Failed(Step),
}

/// Where a sequence is.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
enum Progress {
    /// Waiting for the result of this step.
    Running(Step),
    /// Finished.
    Over(SequenceEnd),
}

/// What configuration the sequence needs: which hooks exist, ARP settings.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub struct Plan {
    /// Hooks configured.
    pub hooks: HookSet,
    /// Gratuitous ARPs to send.
    pub garp_count: u8,
    /// Their spacing.
    pub garp_spacing: Duration,
    /// `garp-refresh`: one gratuitous ARP this long after the last while
    /// the vserver is held (`None`: off).
    pub garp_refresh: Option<Duration>,
}

/// One takeover or release in progress.
#[derive(Clone, Debug)]
pub struct Sequence {
    direction: Direction,
    plan: Plan,
    progress: Progress,
    /// Gratuitous ARPs still to send, and when the next is due.
    garps_left: u8,
    next_garp: Option<Instant>,
    /// Steps handed out and not yet polled.
    pending: Option<Step>,
    /// A release step that failed (the release went on regardless).
    failed: Option<Step>,
    /// The alias removal of a release failed: the address may still be up.
    remove_failed: bool,
}

impl Sequence {
    /// Start a sequence; the first step is ready at once.
    pub fn start(direction: Direction, plan: Plan) -> Sequence {
        let mut s = Sequence {
            direction,
            plan,
            progress: Progress::Over(SequenceEnd::Done),
            garps_left: 0,
            next_garp: None,
            pending: None,
            failed: None,
            remove_failed: false,
        };
        let first = match direction {
            Direction::Takeover => Step::PreTakeover,
            Direction::Release => Step::PreRelease,
            Direction::Fence => Step::RemoveAlias,
        };
        s.enter(first);
        s
    }

    /// A burst of gratuitous ARPs alone, the first due at `now`: a held
    /// address announced again. It has no steps but its ARPs and is over
    /// (done) from the start.
    pub fn announce(plan: Plan, now: Instant) -> Sequence {
        Sequence {
            direction: Direction::Takeover,
            plan,
            progress: Progress::Over(SequenceEnd::Done),
            garps_left: plan.garp_count,
            next_garp: Some(now),
            pending: None,
            failed: None,
            remove_failed: false,
        }
    }

    /// Which way it goes.
    pub fn direction(&self) -> Direction {
        self.direction
    }

    /// True once the address may be on the interface because of this
    /// takeover: the alias step was handed out (the shell may have added it
    /// before its result arrives) and the takeover did not fail.
    pub fn aliased(&self) -> bool {
        self.direction == Direction::Takeover
            && match self.progress {
                Progress::Running(s) => !matches!(s, Step::PreTakeover),
                Progress::Over(o) => o == SequenceEnd::Done,
            }
    }

    /// True if this release's alias removal failed: the address may still
    /// be on the interface (until its kernel lifetime runs out), so nobody
    /// else may be told to take it on this sequence's word.
    pub fn alias_left(&self) -> bool {
        self.remove_failed
    }

    /// The result, once over.
    pub fn outcome(&self) -> Option<SequenceEnd> {
        match self.progress {
            Progress::Over(o) => Some(o),
            Progress::Running(_) => None,
        }
    }

    /// The next step to start, if any (call until `None`).
    #[must_use]
    pub fn poll_step(&mut self, now: Instant) -> Option<Step> {
        if let Some(s) = self.pending.take() {
            return Some(s);
        }
        match self.next_garp {
            Some(due) if now >= due && self.garps_left > 0 => {
                self.garps_left -= 1;
                self.next_garp = (self.garps_left > 0).then(|| now + self.plan.garp_spacing);
                Some(Step::Garp)
            }
            _ => None,
        }
    }

    /// When [`Sequence::poll_step`] next has something without an input.
    pub fn poll_timeout(&self) -> Option<Instant> {
        if self.garps_left > 0 {
            self.next_garp
        } else {
            None
        }
    }

    /// The result of a step the shell ran. Results for steps not running are
    /// ignored (a late hook exit after an abort, for example).
    pub fn step_done(&mut self, now: Instant, step: Step, ok: bool) {
        if self.progress != Progress::Running(step) {
            return;
        }
        // Giving an address up never stops at a failed hook: an address left
        // on the interface after the claim is dropped would answer for a
        // vserver nobody claims. The failure is still reported.
        if !ok && self.direction != Direction::Takeover {
            self.failed = Some(step);
            self.remove_failed |= step == Step::RemoveAlias;
        }
        let ok = ok || self.direction != Direction::Takeover;
        if !ok {
            self.garps_left = 0;
            self.next_garp = None;
            self.progress = Progress::Over(SequenceEnd::Failed(step));
            return;
        }
        match step {
            Step::PreTakeover => self.enter(Step::AddAlias),
            Step::AddAlias => {
                self.garps_left = self.plan.garp_count;
                self.next_garp = Some(now);
                self.enter(Step::PostTakeover);
            }
            Step::PostTakeover => self.progress = Progress::Over(SequenceEnd::Done),
            Step::PostRelease => {
                self.progress = Progress::Over(match self.failed {
                    Some(s) => SequenceEnd::Failed(s),
                    None => SequenceEnd::Done,
                })
            }
            Step::PreRelease => self.enter(Step::RemoveAlias),
            Step::RemoveAlias => self.enter(Step::PostRelease),
            Step::Garp => {}
        }
    }

    /// Start `step`, skipping hooks that are not configured.
    fn enter(&mut self, step: Step) {
        if let Some(kind) = step.hook() {
            if !self.plan.hooks.contains(kind) {
                // Not configured: it succeeds at once.
                self.progress = Progress::Running(step);
                let after = match step {
                    Step::PreTakeover => Some(Step::AddAlias),
                    Step::PreRelease => Some(Step::RemoveAlias),
                    _ => None,
                };
                match after {
                    Some(next) => self.enter(next),
                    None => {
                        self.progress = Progress::Over(
                            self.failed.map_or(SequenceEnd::Done, SequenceEnd::Failed),
                        )
                    }
                }
                return;
            }
        }
        self.progress = Progress::Running(step);
        self.pending = Some(step);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_kernel_lifetime_spans_three_hellos_at_least_a_second() {
        let ms = Duration::from_millis;
        assert_eq!(alias_lifetime_s(ms(20)), 1);
        assert_eq!(alias_lifetime_s(ms(200)), 1);
        assert_eq!(alias_lifetime_s(ms(333)), 1);
        assert_eq!(alias_lifetime_s(ms(334)), 2);
        assert_eq!(alias_lifetime_s(ms(1000)), 3, "keepalived's advert_int");
        assert_eq!(kernel_hold_bound(ms(200)), KERNEL_HOLD_BOUND);
        assert_eq!(kernel_hold_bound(ms(1000)), Duration::from_secs(7));
    }

    fn plan(hooks: bool) -> Plan {
        Plan {
            hooks: HookSet::from_fn(|_| hooks),
            garp_count: 3,
            garp_spacing: Duration::from_millis(100),
            garp_refresh: None,
        }
    }

    #[test]
    fn takeover_in_order_with_spaced_garps() {
        let mut s = Sequence::start(Direction::Takeover, plan(true));
        let t0 = Instant(1000);
        assert_eq!(s.poll_step(t0), Some(Step::PreTakeover));
        assert_eq!(s.poll_step(t0), None);
        s.step_done(t0, Step::PreTakeover, true);
        assert_eq!(s.poll_step(t0), Some(Step::AddAlias));
        s.step_done(t0, Step::AddAlias, true);
        // The post hook starts, and the first gratuitous ARP is due at once.
        assert_eq!(s.poll_step(t0), Some(Step::PostTakeover));
        assert_eq!(s.poll_step(t0), Some(Step::Garp));
        assert_eq!(s.poll_step(t0), None);
        assert_eq!(s.poll_timeout(), Some(Instant(1100)));
        assert_eq!(s.poll_step(Instant(1099)), None);
        assert_eq!(s.poll_step(Instant(1100)), Some(Step::Garp));
        s.step_done(Instant(1150), Step::PostTakeover, true);
        assert_eq!(s.outcome(), Some(SequenceEnd::Done));
        // The last gratuitous ARP still goes out after the claim.
        assert_eq!(s.poll_step(Instant(1200)), Some(Step::Garp));
        assert_eq!(s.poll_step(Instant(1300)), None);
        assert_eq!(s.poll_timeout(), None);
    }

    #[test]
    fn failed_alias_aborts_and_reports() {
        let mut s = Sequence::start(Direction::Takeover, plan(true));
        let t = Instant(0);
        assert_eq!(s.poll_step(t), Some(Step::PreTakeover));
        s.step_done(t, Step::PreTakeover, true);
        assert_eq!(s.poll_step(t), Some(Step::AddAlias));
        s.step_done(t, Step::AddAlias, false);
        assert_eq!(s.outcome(), Some(SequenceEnd::Failed(Step::AddAlias)));
        assert_eq!(s.poll_step(t), None, "no ARP for an address we do not have");
    }

    #[test]
    fn failed_hook_aborts() {
        let mut s = Sequence::start(Direction::Takeover, plan(true));
        let _ = s.poll_step(Instant(0));
        s.step_done(Instant(5), Step::PreTakeover, false);
        assert_eq!(s.outcome(), Some(SequenceEnd::Failed(Step::PreTakeover)));
        // A stray late result changes nothing.
        s.step_done(Instant(6), Step::AddAlias, true);
        assert_eq!(s.outcome(), Some(SequenceEnd::Failed(Step::PreTakeover)));
    }

    #[test]
    fn release_reverses_and_skips_missing_hooks() {
        let mut s = Sequence::start(Direction::Release, plan(false));
        let t = Instant(0);
        assert_eq!(s.poll_step(t), Some(Step::RemoveAlias));
        assert_eq!(s.outcome(), None);
        s.step_done(t, Step::RemoveAlias, true);
        assert_eq!(s.outcome(), Some(SequenceEnd::Done));
        assert_eq!(s.poll_step(t), None);
    }

    #[test]
    fn a_failed_removal_goes_on_and_is_remembered() {
        let mut s = Sequence::start(Direction::Release, plan(true));
        let t = Instant(0);
        assert_eq!(s.poll_step(t), Some(Step::PreRelease));
        s.step_done(t, Step::PreRelease, false);
        assert!(!s.alias_left(), "a failed hook leaves no address");
        assert_eq!(s.poll_step(t), Some(Step::RemoveAlias));
        s.step_done(t, Step::RemoveAlias, false);
        assert_eq!(s.poll_step(t), Some(Step::PostRelease));
        s.step_done(t, Step::PostRelease, true);
        assert_eq!(s.outcome(), Some(SequenceEnd::Failed(Step::RemoveAlias)));
        assert!(s.alias_left());
    }

    #[test]
    fn fence_removes_the_alias_first() {
        let mut s = Sequence::start(Direction::Fence, plan(true));
        let t = Instant(0);
        assert_eq!(s.poll_step(t), Some(Step::RemoveAlias));
        s.step_done(t, Step::RemoveAlias, true);
        assert_eq!(s.poll_step(t), Some(Step::PostRelease));
        s.step_done(t, Step::PostRelease, true);
        assert_eq!(s.outcome(), Some(SequenceEnd::Done));
    }

    #[test]
    fn release_with_hooks() {
        let mut s = Sequence::start(Direction::Release, plan(true));
        let t = Instant(0);
        assert_eq!(s.poll_step(t), Some(Step::PreRelease));
        s.step_done(t, Step::PreRelease, true);
        assert_eq!(s.poll_step(t), Some(Step::RemoveAlias));
        s.step_done(t, Step::RemoveAlias, true);
        assert_eq!(s.poll_step(t), Some(Step::PostRelease));
        s.step_done(t, Step::PostRelease, false);
        assert_eq!(s.outcome(), Some(SequenceEnd::Failed(Step::PostRelease)));
    }

    #[test]
    fn failed_pre_release_hook_still_removes_the_address() {
        let mut s = Sequence::start(Direction::Release, plan(true));
        let t = Instant(0);
        assert_eq!(s.poll_step(t), Some(Step::PreRelease));
        s.step_done(t, Step::PreRelease, false);
        assert_eq!(s.poll_step(t), Some(Step::RemoveAlias));
        s.step_done(t, Step::RemoveAlias, true);
        assert_eq!(s.poll_step(t), Some(Step::PostRelease));
        s.step_done(t, Step::PostRelease, true);
        assert_eq!(s.outcome(), Some(SequenceEnd::Failed(Step::PreRelease)));
    }

    #[test]
    fn an_announcement_is_its_spaced_garps_alone() {
        let mut s = Sequence::announce(plan(true), Instant(500));
        assert_eq!(s.outcome(), Some(SequenceEnd::Done));
        assert_eq!(s.poll_step(Instant(500)), Some(Step::Garp));
        assert_eq!(s.poll_step(Instant(500)), None);
        assert_eq!(s.poll_timeout(), Some(Instant(600)));
        assert_eq!(s.poll_step(Instant(600)), Some(Step::Garp));
        assert_eq!(s.poll_step(Instant(700)), Some(Step::Garp));
        assert_eq!(s.poll_timeout(), None, "three in all");
    }

    #[test]
    fn aliased_from_the_alias_step_on() {
        let mut s = Sequence::start(Direction::Takeover, plan(true));
        let t = Instant(0);
        assert!(!s.aliased());
        let _ = s.poll_step(t);
        s.step_done(t, Step::PreTakeover, true);
        assert!(s.aliased(), "the shell may add the alias before reporting");
        s.step_done(t, Step::AddAlias, false);
        assert!(!s.aliased());
    }
}
