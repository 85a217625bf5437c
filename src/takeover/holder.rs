//! What one box holds, and the orders it carries out (docs/MODEL.md).
//!
//! Every box, boss or not, runs a [`Holder`]: it takes assume and release
//! orders from the boss, runs one [`Sequence`] per vserver, claims a vserver
//! in its hellos only once the takeover is done, and reports the outcome to
//! the boss. It also enforces fencing layer 1: a box holds a vserver only
//! while its lease is valid. When the lease lapses, every address goes at
//! once (remove the alias first, then the post-release hook: a pre-release
//! hook must not delay giving up an address we may no longer own).
//!
//! While a vserver is held and the lease is valid, the holder asks the shell
//! to renew the alias's kernel lifetime every hello (fencing layer 2).
//!
//! A held address is announced by gratuitous ARPs ([`Announce`]): the
//! takeover's burst; the same burst again when a box that was not heard
//! is heard again or another claimer stops claiming ([`Holder::reannounce`]:
//! a host may still have another box's MAC), at most one burst per
//! [`REPEAT_GAP`]; and with `garp-refresh`, one every so often.

use heapless::{Deque, Vec};

use crate::config::{Config, NodeId, VServer, VsId};
use crate::limits::MAX_VSERVERS;
use crate::time::Instant;

use super::{
    Direction, HookSet, Plan, Sequence, SequenceEnd, Step, DEFAULT_GARP_COUNT,
    DEFAULT_GARP_SPACING, REPEAT_GAP,
};

/// Actions the queue holds between two drains (when full, the newest is
/// dropped and counted; claims and renewals are re-derived every hello).
pub const HOLDER_QUEUE: usize = 64;

/// Where one vserver stands on this box.
#[derive(Clone, Debug)]
enum Slot {
    /// Not ours.
    Free,
    /// Taking it over for the boss's round `round`.
    Taking {
        seq: Sequence,
        round: u32,
        boss: NodeId,
    },
    /// Ours: claimed in hellos, announced by gratuitous ARPs.
    Held(Announce),
    /// Giving it up; `report`: the boss and the round of a planned move's
    /// release order, told how it ended.
    Releasing {
        seq: Sequence,
        report: Option<(NodeId, u32)>,
    },
}

/// The gratuitous ARPs of one held vserver: a burst going out, a repeat
/// held back by the rate limit, the refresh. Each carries its deadline.
#[derive(Clone, Debug)]
struct Announce {
    /// A burst of spaced gratuitous ARPs still going out: the finished
    /// takeover's sequence, or a repeat's ([`Sequence::announce`]).
    burst: Option<Sequence>,
    /// When the last burst began: the next may begin a [`repeat_gap`] later.
    burst_at: Instant,
    /// A repeat asked for within that gap: it begins then.
    repeat_at: Option<Instant>,
    /// The next refresh (`garp-refresh`; `None`: off).
    refresh_at: Option<Instant>,
}

/// Least time between two bursts of one vserver: [`REPEAT_GAP`], or the
/// burst's own length if that is longer (bursts never overlap).
fn repeat_gap(plan: Plan) -> core::time::Duration {
    REPEAT_GAP.max(plan.garp_spacing * u32::from(plan.garp_count))
}

impl Announce {
    /// Held from `now` on; `takeover`: the takeover's sequence, with the
    /// spaced gratuitous ARPs it has left (its first went out at the alias).
    fn held(plan: Plan, now: Instant, takeover: Sequence) -> Announce {
        Announce {
            burst: takeover.poll_timeout().is_some().then_some(takeover),
            burst_at: now,
            repeat_at: None,
            refresh_at: plan.garp_refresh.map(|r| now + r),
        }
    }

    /// Announce again: a burst now, or when the gap since the last ends.
    fn repeat(&mut self, plan: Plan, now: Instant) {
        let due = self.burst_at + repeat_gap(plan);
        self.repeat_at = Some(if now >= due { now } else { due });
    }

    /// The next gratuitous ARP due at `now`, if any.
    fn poll_step(&mut self, plan: Plan, now: Instant) -> Option<Step> {
        if self.repeat_at.is_some_and(|t| now >= t) {
            self.repeat_at = None;
            self.burst = Some(Sequence::announce(plan, now));
            self.burst_at = now;
            // A burst is a refresh too.
            self.refresh_at = plan.garp_refresh.map(|r| now + r);
        }
        if let Some(seq) = &mut self.burst {
            let step = seq.poll_step(now);
            if seq.poll_timeout().is_none() {
                self.burst = None;
            }
            if step.is_some() {
                return step;
            }
        }
        match (self.refresh_at, plan.garp_refresh) {
            (Some(t), Some(r)) if now >= t => {
                self.refresh_at = Some(now + r);
                // Not while a burst is going out: it announces already.
                self.burst.is_none().then_some(Step::Garp)
            }
            _ => None,
        }
    }

    /// When [`Announce::poll_step`] next has something.
    fn poll_timeout(&self) -> Option<Instant> {
        [
            self.burst.as_ref().and_then(Sequence::poll_timeout),
            self.repeat_at,
            self.refresh_at,
        ]
        .into_iter()
        .flatten()
        .min()
    }
}

/// What the holder asks the shell to do.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum HolderAction {
    /// Carry out one step of a takeover or release; report with
    /// [`Holder::step_done`].
    Step {
        /// The vserver.
        vserver: VsId,
        /// The step.
        step: Step,
    },
    /// Renew the kernel lifetime of this vserver's address.
    Renew {
        /// The vserver.
        vserver: VsId,
    },
    /// Tell the boss how its assume order (or a planned move's release
    /// order) ended.
    Outcome {
        /// The boss that gave the order.
        boss: NodeId,
        /// The vserver.
        vserver: VsId,
        /// The order's round.
        round: u32,
        /// Assume: true if the vserver is now served here. Release: true if
        /// its address is gone from this box.
        ok: bool,
    },
    /// The lease lapsed and this box gave up the vserver it took by the
    /// order of round `round`: tell the acting boss, which may be waiting
    /// for the claim of that takeover (a boss restarting from its table
    /// does; sim seed 6671985595: it waited a whole takeover timeout for a
    /// vserver nobody held).
    GaveUp {
        /// The vserver.
        vserver: VsId,
        /// The round of the assume order it was taken by.
        round: u32,
    },
    /// The set of claimed vservers changed (bit per vserver): announce it.
    Claims {
        /// The new bitmap.
        claims: u64,
    },
}

/// Everything this box holds.
pub struct Holder {
    slots: Vec<Slot, MAX_VSERVERS>,
    plans: Vec<Plan, MAX_VSERVERS>,
    claims: u64,
    /// Bit per vserver whose last release could not remove the alias: the
    /// address may still be up here until its kernel lifetime runs out.
    stuck: u64,
    actions: Deque<HolderAction, HOLDER_QUEUE>,
    dropped: u32,
    /// Per vserver: the round of the assume order it was last taken by.
    rounds: Vec<u32, MAX_VSERVERS>,
    /// Per vserver: hellos left on which to report it given up at a lease
    /// lapse ([`HolderAction::GaveUp`]; the first reports may reach no boss
    /// while the quorum is coming back).
    gave_up: Vec<u8, MAX_VSERVERS>,
}

/// Hellos on which a vserver given up at a lease lapse is reported.
const GAVE_UP_REPORTS: u8 = 8;

/// The hooks vserver `v` has configured.
fn hooks_of(v: &VServer) -> HookSet {
    HookSet::from_fn(|kind| v.hook(kind).is_some())
}

impl Holder {
    /// Nothing held yet.
    pub fn new(config: &Config) -> Holder {
        let mut slots = Vec::new();
        let mut plans = Vec::new();
        for v in &config.vservers {
            let plan = Plan {
                hooks: hooks_of(v),
                garp_count: DEFAULT_GARP_COUNT,
                garp_spacing: DEFAULT_GARP_SPACING,
                garp_refresh: v.garp_refresh,
            };
            // At most MAX_VSERVERS (checked by the parser).
            if slots.push(Slot::Free).is_err() || plans.push(plan).is_err() {
                break;
            }
        }
        let n = slots.len();
        Holder {
            slots,
            plans,
            claims: 0,
            stuck: 0,
            actions: Deque::new(),
            dropped: 0,
            rounds: (0..n).map(|_| 0).collect(),
            gave_up: (0..n).map(|_| 0).collect(),
        }
    }

    /// A reload changed per-box settings (`Node::apply_local`): which hooks
    /// exist, for the takeovers and releases that start from now on (one
    /// under way finishes with the hooks it started with).
    pub fn apply_local(&mut self, config: &Config) {
        for (plan, v) in self.plans.iter_mut().zip(&config.vservers) {
            plan.hooks = hooks_of(v);
        }
    }

    /// Bit per vserver this box claims.
    pub fn claims(&self) -> u64 {
        self.claims
    }

    /// Vservers held or being taken over (the "holding" a volunteer reports).
    pub fn holding(&self) -> u8 {
        self.slots
            .iter()
            .filter(|s| matches!(s, Slot::Held(_) | Slot::Taking { .. }))
            .count() as u8
    }

    /// True if `vs` is held, taken over or released here right now: an
    /// address may be on an interface.
    pub fn busy(&self, vs: VsId) -> bool {
        !matches!(self.slots.get(vs as usize), Some(Slot::Free) | None)
    }

    /// True if this box believes it answers for `vs`: held, or taken over
    /// past the alias step. Under lease fencing at most one box in the
    /// cluster may believe so while its lease is valid (the simulator's
    /// invariant (a)). Test support.
    #[cfg(any(test, feature = "testing"))]
    pub fn owns(&self, vs: VsId) -> bool {
        match self.slots.get(vs as usize) {
            Some(Slot::Held(_)) => true,
            Some(Slot::Taking { seq, .. }) => seq.aliased(),
            _ => false,
        }
    }

    /// Actions dropped because the queue was full.
    pub fn dropped_actions(&self) -> u32 {
        self.dropped
    }

    /// The boss says: take over `vs`. Ignored while the lease is not valid
    /// (reported as failed, so the boss picks another box at once), and when
    /// already held (reported as done).
    pub fn assume(&mut self, now: Instant, boss: NodeId, vs: VsId, round: u32, lease_valid: bool) {
        let Some(slot) = self.slots.get_mut(vs as usize) else {
            return;
        };
        let plan = self.plans[vs as usize];
        self.gave_up[vs as usize] = 0;
        match slot {
            Slot::Held(_) => self.push(HolderAction::Outcome {
                boss,
                vserver: vs,
                round,
                ok: true,
            }),
            Slot::Free if lease_valid => {
                *slot = Slot::Taking {
                    seq: Sequence::start(Direction::Takeover, plan),
                    round,
                    boss,
                };
                self.rounds[vs as usize] = round;
                self.drive(now, vs);
            }
            Slot::Free => self.push(HolderAction::Outcome {
                boss,
                vserver: vs,
                round,
                ok: false,
            }),
            // Already moving: the boss's timeout or our outcome settles it.
            Slot::Taking { .. } | Slot::Releasing { .. } => {}
        }
    }

    /// The boss says: release `vs` (or a shutdown's deadline does).
    /// `report`: the boss and round of a planned move, told how the release
    /// ended (at once if nothing is held here).
    pub fn release(&mut self, now: Instant, vs: VsId, report: Option<(NodeId, u32)>) {
        let Some(slot) = self.slots.get_mut(vs as usize) else {
            return;
        };
        let plan = self.plans[vs as usize];
        match slot {
            Slot::Held(_) => {
                *slot = Slot::Releasing {
                    seq: Sequence::start(Direction::Release, plan),
                    report,
                };
                self.drive(now, vs);
            }
            Slot::Taking { round, boss, .. } => {
                // Abort: the alias may already be up, so remove it first.
                let (round, boss) = (*round, *boss);
                *slot = Slot::Releasing {
                    seq: Sequence::start(Direction::Fence, plan),
                    report,
                };
                self.push(HolderAction::Outcome {
                    boss,
                    vserver: vs,
                    round,
                    ok: false,
                });
                self.drive(now, vs);
            }
            Slot::Releasing { report: r, .. } => {
                // Already going: the report follows when it is gone.
                if report.is_some() {
                    *r = report;
                }
            }
            Slot::Free => {
                if let Some((boss, round)) = report {
                    let ok = self.stuck & (1 << vs) == 0;
                    self.push(HolderAction::Outcome {
                        boss,
                        vserver: vs,
                        round,
                        ok,
                    });
                }
            }
        }
    }

    /// Release everything (a stopping box whose vservers were not all moved
    /// away in time).
    pub fn release_all(&mut self, now: Instant) {
        for vs in 0..self.slots.len() {
            self.release(now, vs as VsId, None);
        }
    }

    /// Hosts may still name another box's MAC for the vservers in
    /// `vservers` (bit per vserver) that are held here: a box this box did
    /// not hear is heard again (a partition or a cut healed, a box came
    /// back: hosts on its side may have missed a takeover's gratuitous
    /// ARPs), or another box that claimed one of them too stopped (it
    /// announced itself meanwhile). Announce each again with a takeover's
    /// burst, at most one burst per vserver per [`REPEAT_GAP`] (a repeat
    /// asked for sooner goes out when the gap ends). Call only while the
    /// lease is valid.
    pub fn reannounce(&mut self, now: Instant, vservers: u64) {
        for vs in 0..self.slots.len() {
            let plan = self.plans[vs];
            if vservers & (1 << vs) == 0 {
                continue;
            }
            if let Slot::Held(a) = &mut self.slots[vs] {
                a.repeat(plan, now);
                self.drive(now, vs as VsId);
            }
        }
    }

    /// Every hello: renew the kernel lifetimes while the lease holds; when
    /// it has lapsed, give up every address at once (fencing layer 1).
    pub fn tick(&mut self, now: Instant, lease_valid: bool) {
        for vs in 0..self.slots.len() {
            let plan = self.plans[vs];
            let slot = &mut self.slots[vs];
            match slot {
                // A takeover past its alias step too: its hooks may run
                // longer than the address's kernel lifetime (sim seed
                // 1392764117: a post-takeover hook outlasted it during a
                // pause, and the takeover's next gratuitous ARP announced an
                // address the kernel had removed).
                Slot::Held(_) if lease_valid => {
                    self.push(HolderAction::Renew {
                        vserver: vs as VsId,
                    });
                }
                Slot::Taking { seq, .. } if lease_valid && seq.aliased() => {
                    self.push(HolderAction::Renew {
                        vserver: vs as VsId,
                    });
                }
                Slot::Held(_) | Slot::Taking { .. } if !lease_valid => {
                    self.gave_up[vs] = GAVE_UP_REPORTS;
                    if let Slot::Taking { round, boss, .. } = slot {
                        let (round, boss) = (*round, *boss);
                        self.push(HolderAction::Outcome {
                            boss,
                            vserver: vs as VsId,
                            round,
                            ok: false,
                        });
                    }
                    self.slots[vs] = Slot::Releasing {
                        seq: Sequence::start(Direction::Fence, plan),
                        report: None,
                    };
                    self.drive(now, vs as VsId);
                }
                Slot::Free if lease_valid && self.gave_up[vs] > 0 => {
                    self.gave_up[vs] -= 1;
                    self.push(HolderAction::GaveUp {
                        vserver: vs as VsId,
                        round: self.rounds[vs],
                    });
                }
                _ => {}
            }
        }
        self.update_claims();
        // Gratuitous ARPs are spaced in time: let due ones out.
        for vs in 0..self.slots.len() {
            self.drive(now, vs as VsId);
        }
    }

    /// The result of a step the shell ran.
    pub fn step_done(&mut self, now: Instant, vs: VsId, step: Step, ok: bool) {
        match self.slots.get_mut(vs as usize) {
            Some(Slot::Taking { seq, .. }) | Some(Slot::Releasing { seq, .. }) => {
                seq.step_done(now, step, ok)
            }
            // A gratuitous ARP's result: nothing follows from it.
            Some(Slot::Held(_)) => {}
            _ => return,
        }
        self.drive(now, vs);
    }

    /// When [`Holder::tick`] is next needed for a gratuitous ARP (spaced,
    /// repeated or a refresh).
    pub fn poll_timeout(&self) -> Option<Instant> {
        self.slots
            .iter()
            .filter_map(|s| match s {
                Slot::Taking { seq, .. } | Slot::Releasing { seq, .. } => seq.poll_timeout(),
                Slot::Held(a) => a.poll_timeout(),
                Slot::Free => None,
            })
            .min()
    }

    /// The next action.
    #[must_use]
    pub fn poll_action(&mut self) -> Option<HolderAction> {
        self.actions.pop_front()
    }

    fn push(&mut self, a: HolderAction) {
        if self.actions.push_back(a).is_err() {
            self.dropped = self.dropped.saturating_add(1);
        }
    }

    /// Hand out due steps and settle a finished sequence.
    fn drive(&mut self, now: Instant, vs: VsId) {
        let i = vs as usize;
        let mut steps: Vec<Step, 4> = Vec::new();
        let mut done = None;
        let mut released = None;
        match self.slots.get_mut(i) {
            Some(Slot::Taking { seq, round, boss }) => {
                while let Some(s) = seq.poll_step(now) {
                    let _ = steps.push(s);
                }
                if let Some(o) = seq.outcome() {
                    done = Some((Direction::Takeover, o, *round, *boss));
                }
            }
            Some(Slot::Releasing { seq, report }) => {
                while let Some(s) = seq.poll_step(now) {
                    let _ = steps.push(s);
                }
                if let Some(o) = seq.outcome() {
                    done = Some((Direction::Release, o, 0, 0));
                    released = Some((seq.alias_left(), *report));
                }
            }
            Some(Slot::Held(a)) => {
                let plan = self.plans[i];
                while let Some(s) = a.poll_step(plan, now) {
                    let _ = steps.push(s);
                }
            }
            _ => {}
        }
        for step in steps {
            self.push(HolderAction::Step { vserver: vs, step });
        }
        match done {
            Some((Direction::Takeover, outcome, round, boss)) => {
                let ok = outcome == SequenceEnd::Done;
                if ok {
                    // Held; the remaining spaced gratuitous ARPs go on.
                    let seq = match &self.slots[i] {
                        Slot::Taking { seq, .. } => seq.clone(),
                        _ => return,
                    };
                    self.slots[i] = Slot::Held(Announce::held(self.plans[i], now, seq));
                    self.stuck &= !(1 << i);
                } else {
                    // A failed takeover may have left the alias: undo it.
                    let plan = self.plans[i];
                    self.slots[i] = Slot::Releasing {
                        seq: Sequence::start(Direction::Fence, plan),
                        report: None,
                    };
                }
                self.push(HolderAction::Outcome {
                    boss,
                    vserver: vs,
                    round,
                    ok,
                });
                self.update_claims();
                if !ok {
                    self.drive(now, vs);
                }
            }
            Some((_, _, _, _)) => {
                self.slots[i] = Slot::Free;
                let (left, report) = released.unwrap_or((false, None));
                if left {
                    self.stuck |= 1 << i;
                } else {
                    self.stuck &= !(1 << i);
                }
                // The report goes before the claim change, so the boss hears
                // "the address is gone" no later than "no longer claimed".
                if let Some((boss, round)) = report {
                    self.push(HolderAction::Outcome {
                        boss,
                        vserver: vs,
                        round,
                        ok: !left,
                    });
                }
                self.update_claims();
            }
            None => {}
        }
    }

    fn update_claims(&mut self) {
        let mut claims = 0u64;
        for (i, s) in self.slots.iter().enumerate() {
            // A releasing address may still be up: keep claiming it until
            // it is gone, so the boss never sees "nobody" while it answers.
            if matches!(s, Slot::Held(_) | Slot::Releasing { .. }) {
                claims |= 1 << i;
            }
        }
        if claims != self.claims {
            self.claims = claims;
            self.push(HolderAction::Claims { claims });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::parse;

    const CONF: &str = "cluster t\nkey-file insecure\ninterface eth0\nnode f1 10.0.0.11\nnode f2 10.0.0.12\n\
        vserver web {\n address 10.0.0.50/24\n interface eth0\n}\n\
        vserver db {\n address 10.0.0.51/24\n interface eth0\n pre-takeover /bin/true\n pre-release /bin/true\n}\n";

    fn holder() -> Holder {
        Holder::new(&parse("t.conf", CONF).expect("config"))
    }

    fn drain(h: &mut Holder) -> std::vec::Vec<HolderAction> {
        std::iter::from_fn(|| h.poll_action()).collect()
    }

    fn step(vs: VsId, step: Step) -> HolderAction {
        HolderAction::Step { vserver: vs, step }
    }

    #[test]
    fn takeover_claims_reports_and_renews() {
        let mut h = holder();
        h.assume(Instant(0), 1, 0, 7, true);
        assert_eq!(drain(&mut h), vec![step(0, Step::AddAlias)]);
        assert_eq!(h.claims(), 0, "no claim before the address is up");
        h.step_done(Instant(5), 0, Step::AddAlias, true);
        let a = drain(&mut h);
        assert!(a.contains(&step(0, Step::Garp)), "{a:?}");
        assert!(a.contains(&HolderAction::Outcome {
            boss: 1,
            vserver: 0,
            round: 7,
            ok: true
        }));
        assert!(a.contains(&HolderAction::Claims { claims: 1 }));
        assert_eq!(h.holding(), 1);
        // The other gratuitous ARPs follow at their spacing, then renewals.
        assert_eq!(h.poll_timeout(), Some(Instant(105)));
        h.tick(Instant(105), true);
        let a = drain(&mut h);
        assert!(
            a.contains(&step(0, Step::Garp)) && a.contains(&HolderAction::Renew { vserver: 0 }),
            "{a:?}"
        );
        h.tick(Instant(205), true);
        h.tick(Instant(305), true);
        assert_eq!(h.poll_timeout(), None, "all gratuitous ARPs sent");
        // A repeated order is answered, not redone.
        drain(&mut h);
        h.assume(Instant(400), 1, 0, 8, true);
        assert_eq!(
            drain(&mut h),
            vec![HolderAction::Outcome {
                boss: 1,
                vserver: 0,
                round: 8,
                ok: true
            }]
        );
    }

    #[test]
    fn no_lease_no_takeover() {
        let mut h = holder();
        h.assume(Instant(0), 1, 0, 3, false);
        assert_eq!(
            drain(&mut h),
            vec![HolderAction::Outcome {
                boss: 1,
                vserver: 0,
                round: 3,
                ok: false
            }]
        );
        assert!(!h.busy(0));
    }

    #[test]
    fn lapsed_lease_gives_everything_up_alias_first() {
        let mut h = holder();
        h.assume(Instant(0), 1, 1, 3, true);
        assert_eq!(drain(&mut h), vec![step(1, Step::PreTakeover)]);
        h.step_done(Instant(1), 1, Step::PreTakeover, true);
        h.step_done(Instant(2), 1, Step::AddAlias, true);
        drain(&mut h);
        assert_eq!(h.claims(), 0b10);
        h.tick(Instant(400), false);
        let a = drain(&mut h);
        assert!(
            a.contains(&step(1, Step::RemoveAlias)),
            "no pre-release hook first: {a:?}"
        );
        assert!(!a.contains(&step(1, Step::PreRelease)));
        assert_eq!(h.claims(), 0b10, "claimed until the address is gone");
        h.step_done(Instant(401), 1, Step::RemoveAlias, true);
        assert_eq!(h.claims(), 0);
        assert!(!h.busy(1));
    }

    /// A takeover past its alias step has its address's kernel lifetime
    /// renewed every hello, as a held vserver does: a slow post-takeover
    /// hook must not outlast it.
    #[test]
    fn a_takeover_past_its_alias_is_renewed() {
        let mut h = holder();
        h.assume(Instant(0), 1, 1, 3, true);
        h.tick(Instant(1), true);
        let renewed = |a: &[HolderAction]| a.contains(&HolderAction::Renew { vserver: 1 });
        assert!(
            !renewed(&drain(&mut h)),
            "not while the pre-takeover hook runs"
        );
        h.step_done(Instant(2), 1, Step::PreTakeover, true);
        h.step_done(Instant(3), 1, Step::AddAlias, true);
        drain(&mut h);
        // The post-takeover hook runs on: the hellos renew the address.
        h.tick(Instant(300), true);
        assert!(renewed(&drain(&mut h)));
        h.tick(Instant(600), true);
        assert!(renewed(&drain(&mut h)));
    }

    /// A vserver given up at a lease lapse is reported to whichever boss
    /// acts once the lease is back, for a few hellos, with the round of the
    /// order it was taken by; a new order ends the reports.
    #[test]
    fn a_vserver_given_up_at_a_lapse_is_reported_when_the_lease_is_back() {
        let gave_up = |a: &[HolderAction]| {
            a.iter()
                .filter(|x| {
                    **x == HolderAction::GaveUp {
                        vserver: 0,
                        round: 7,
                    }
                })
                .count()
        };
        let mut h = holder();
        h.assume(Instant(0), 1, 0, 7, true);
        h.step_done(Instant(1), 0, Step::AddAlias, true);
        h.tick(Instant(100), false);
        h.step_done(Instant(101), 0, Step::RemoveAlias, true);
        let a = drain(&mut h);
        assert_eq!(gave_up(&a), 0, "no boss to tell while the lease is gone");
        h.tick(Instant(200), false);
        assert_eq!(gave_up(&drain(&mut h)), 0);
        let mut reports = 0;
        for t in 0..20 {
            h.tick(Instant(300 + 100 * t), true);
            reports += gave_up(&drain(&mut h));
        }
        assert_eq!(reports, usize::from(GAVE_UP_REPORTS));
        // A new order (here: for the same vserver) ends the reports.
        h.tick(Instant(3000), false);
        h.tick(Instant(3100), true);
        assert_eq!(gave_up(&drain(&mut h)), 0, "nothing held at this lapse");
        h.assume(Instant(3200), 1, 0, 9, true);
        h.step_done(Instant(3201), 0, Step::AddAlias, true);
        h.tick(Instant(3300), false);
        h.step_done(Instant(3301), 0, Step::RemoveAlias, true);
        h.assume(Instant(3400), 2, 0, 11, false);
        h.tick(Instant(3500), true);
        let a = drain(&mut h);
        assert!(
            !a.iter().any(|x| matches!(x, HolderAction::GaveUp { .. })),
            "{a:?}"
        );
    }

    #[test]
    fn release_runs_hooks_in_order() {
        let mut h = holder();
        h.assume(Instant(0), 1, 1, 3, true);
        h.step_done(Instant(1), 1, Step::PreTakeover, true);
        h.step_done(Instant(2), 1, Step::AddAlias, true);
        drain(&mut h);
        h.release(Instant(10), 1, None);
        assert_eq!(drain(&mut h), vec![step(1, Step::PreRelease)]);
        h.step_done(Instant(11), 1, Step::PreRelease, true);
        assert_eq!(drain(&mut h), vec![step(1, Step::RemoveAlias)]);
        h.step_done(Instant(12), 1, Step::RemoveAlias, true);
        assert_eq!(drain(&mut h), vec![HolderAction::Claims { claims: 0 }]);
    }

    #[test]
    fn failed_alias_reports_and_cleans_up() {
        let mut h = holder();
        h.assume(Instant(0), 1, 0, 9, true);
        drain(&mut h);
        h.step_done(Instant(1), 0, Step::AddAlias, false);
        let a = drain(&mut h);
        assert!(
            a.contains(&HolderAction::Outcome {
                boss: 1,
                vserver: 0,
                round: 9,
                ok: false
            }),
            "{a:?}"
        );
        assert!(
            a.contains(&step(0, Step::RemoveAlias)),
            "undo whatever was done: {a:?}"
        );
        assert_eq!(h.holding(), 0);
    }

    #[test]
    fn a_moves_release_is_reported_once_the_address_is_gone() {
        let mut h = holder();
        h.assume(Instant(0), 1, 1, 3, true);
        h.step_done(Instant(1), 1, Step::PreTakeover, true);
        h.step_done(Instant(2), 1, Step::AddAlias, true);
        drain(&mut h);
        h.release(Instant(10), 1, Some((2, 7)));
        assert_eq!(drain(&mut h), vec![step(1, Step::PreRelease)]);
        h.step_done(Instant(11), 1, Step::PreRelease, true);
        assert_eq!(drain(&mut h), vec![step(1, Step::RemoveAlias)]);
        h.step_done(Instant(12), 1, Step::RemoveAlias, true);
        // Reported before the claim goes, so the boss hears it first.
        assert_eq!(
            drain(&mut h),
            vec![
                HolderAction::Outcome {
                    boss: 2,
                    vserver: 1,
                    round: 7,
                    ok: true
                },
                HolderAction::Claims { claims: 0 }
            ]
        );
        // Nothing held: answered at once.
        h.release(Instant(20), 1, Some((2, 8)));
        assert_eq!(
            drain(&mut h),
            vec![HolderAction::Outcome {
                boss: 2,
                vserver: 1,
                round: 8,
                ok: true
            }]
        );
        // An ordinary release reports nothing.
        h.release(Instant(21), 1, None);
        assert!(drain(&mut h).is_empty());
    }

    #[test]
    fn an_alias_that_could_not_be_removed_is_reported() {
        let mut h = holder();
        h.assume(Instant(0), 1, 0, 1, true);
        h.step_done(Instant(1), 0, Step::AddAlias, true);
        drain(&mut h);
        // A release already under way picks up the move's report.
        h.release(Instant(2), 0, None);
        h.release(Instant(3), 0, Some((1, 5)));
        h.step_done(Instant(4), 0, Step::RemoveAlias, false);
        let a = drain(&mut h);
        assert!(
            a.contains(&HolderAction::Outcome {
                boss: 1,
                vserver: 0,
                round: 5,
                ok: false
            }),
            "{a:?}"
        );
        // Asked again later: the address may still be up.
        h.release(Instant(5), 0, Some((1, 6)));
        assert_eq!(
            drain(&mut h),
            vec![HolderAction::Outcome {
                boss: 1,
                vserver: 0,
                round: 6,
                ok: false
            }]
        );
    }

    /// `vs` taken over and held from t=5 ms, its takeover burst (four
    /// gratuitous ARPs, t=5 to 305) sent, the actions drained.
    fn held(h: &mut Holder, vs: VsId) {
        h.assume(Instant(0), 1, vs, 1, true);
        h.step_done(Instant(1), vs, Step::PreTakeover, true);
        h.step_done(Instant(5), vs, Step::AddAlias, true);
        for t in [105, 205, 305] {
            h.tick(Instant(t), true);
        }
        drain(h);
    }

    fn garps(a: &[HolderAction], vs: VsId) -> usize {
        a.iter().filter(|&&x| x == step(vs, Step::Garp)).count()
    }

    /// Tick at every deadline up to `until` (as the node does); the
    /// gratuitous ARPs sent for `vs`, by time.
    fn run(h: &mut Holder, vs: VsId, until: u64) -> std::vec::Vec<u64> {
        let mut sent = std::vec::Vec::new();
        while let Some(t) = h.poll_timeout().filter(|t| t.0 <= until) {
            h.tick(t, true);
            for _ in 0..garps(&drain(h), vs) {
                sent.push(t.0);
            }
        }
        sent
    }

    #[test]
    fn a_box_heard_again_makes_a_burst_for_every_held_vserver() {
        let mut h = holder();
        held(&mut h, 0);
        held(&mut h, 1);
        h.reannounce(Instant(2_000), u64::MAX);
        let a = drain(&mut h);
        assert_eq!((garps(&a, 0), garps(&a, 1)), (1, 1), "{a:?}");
        // The rest at the takeover's spacing: four in all.
        assert_eq!(run(&mut h, 0, 5_000), [2_100, 2_200, 2_300]);
        assert_eq!(h.poll_timeout(), None, "no refresh unless configured");
        // Only those asked for.
        h.reannounce(Instant(6_000), 0b10);
        let a = drain(&mut h);
        assert_eq!((garps(&a, 0), garps(&a, 1)), (0, 1), "{a:?}");
    }

    #[test]
    fn only_what_is_held_is_announced_again() {
        let mut h = holder();
        // Being taken over: the alias is not there yet.
        h.assume(Instant(0), 1, 1, 1, true);
        drain(&mut h);
        h.reannounce(Instant(10), u64::MAX);
        assert!(drain(&mut h).is_empty());
        // Being released: its address is going away.
        held(&mut h, 0);
        h.release(Instant(2_000), 0, None);
        drain(&mut h);
        h.reannounce(Instant(2_001), u64::MAX);
        assert_eq!(garps(&drain(&mut h), 0), 0);
    }

    #[test]
    fn bursts_are_at_least_a_second_apart() {
        let mut h = holder();
        held(&mut h, 0);
        // Within a second of the takeover's burst (held at t=5): held back
        // until the second is over, not dropped.
        h.reannounce(Instant(400), u64::MAX);
        assert!(drain(&mut h).is_empty());
        assert_eq!(h.poll_timeout(), Some(Instant(1_005)));
        // More heals meanwhile make no more bursts.
        h.reannounce(Instant(600), u64::MAX);
        h.reannounce(Instant(900), u64::MAX);
        assert_eq!(run(&mut h, 0, 1_900), [1_005, 1_105, 1_205, 1_305]);
        // A heal 0.9 s after that burst began waits for the second too.
        h.reannounce(Instant(1_905), u64::MAX);
        assert!(drain(&mut h).is_empty());
        assert_eq!(run(&mut h, 0, 5_000), [2_005, 2_105, 2_205, 2_305]);
        // Past the second: at once.
        h.reannounce(Instant(3_500), u64::MAX);
        assert_eq!(garps(&drain(&mut h), 0), 1);
    }

    #[test]
    fn a_flapping_link_makes_one_burst_a_second() {
        let mut h = holder();
        held(&mut h, 0);
        let mut sent = 0;
        // A box heard again every 50 ms for ten seconds.
        for t in (1_000..11_000).step_by(50) {
            h.reannounce(Instant(t), u64::MAX);
            if h.poll_timeout().is_some_and(|d| d.0 <= t) {
                h.tick(Instant(t), true);
            }
            sent += garps(&drain(&mut h), 0);
        }
        assert!((36..=44).contains(&sent), "{sent} gratuitous ARPs in 10 s");
    }

    const REFRESH: &str = "cluster t\nkey-file insecure\ninterface eth0\nnode f1 10.0.0.11\n\
        garp-refresh 10s\n\
        vserver web {\n address 10.0.0.50/24\n interface eth0\n garp-refresh 2s\n}\n\
        vserver db {\n address 10.0.0.51/24\n interface eth0\n}\n";

    #[test]
    fn garp_refresh_one_every_period_while_held() {
        let mut h = Holder::new(&parse("t.conf", REFRESH).expect("config"));
        held(&mut h, 0);
        // Held at t=5: one every 2 s.
        assert_eq!(run(&mut h, 0, 8_100), [2_005, 4_005, 6_005, 8_005]);
        // A burst counts as a refresh: the next comes 2 s after it began.
        h.reannounce(Instant(9_000), u64::MAX);
        assert_eq!(garps(&drain(&mut h), 0), 1);
        assert_eq!(run(&mut h, 0, 12_000), [9_100, 9_200, 9_300, 11_000]);
        // Released: no more.
        h.release(Instant(11_500), 0, None);
        drain(&mut h);
        h.step_done(Instant(11_501), 0, Step::RemoveAlias, true);
        assert_eq!(h.poll_timeout(), None);
    }

    #[test]
    fn garp_refresh_from_the_top_level_for_blocks_without_their_own() {
        let mut h = Holder::new(&parse("t.conf", REFRESH).expect("config"));
        held(&mut h, 1);
        assert_eq!(run(&mut h, 1, 25_000), [10_005, 20_005]);
    }

    #[test]
    fn garp_refresh_stops_when_the_lease_lapses() {
        let mut h = Holder::new(&parse("t.conf", REFRESH).expect("config"));
        held(&mut h, 0);
        h.tick(Instant(1_000), false);
        let a = drain(&mut h);
        assert!(a.contains(&step(0, Step::RemoveAlias)), "{a:?}");
        assert_eq!(h.poll_timeout(), None);
        h.reannounce(Instant(1_001), u64::MAX);
        assert_eq!(garps(&drain(&mut h), 0), 0);
    }

    #[test]
    fn release_all_on_shutdown() {
        let mut h = holder();
        h.assume(Instant(0), 1, 0, 1, true);
        h.step_done(Instant(1), 0, Step::AddAlias, true);
        drain(&mut h);
        h.release_all(Instant(2));
        assert!(drain(&mut h).contains(&step(0, Step::RemoveAlias)));
    }
}
