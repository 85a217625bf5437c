//! Each phase of a vserver's life as the boss watches it, with its own
//! transitions (docs/MODEL.md): what the vserver waits for in that phase,
//! and how claims, deadlines and round answers end the wait.
//!
//! The monitor runs two steps of a phase on every evaluation, around the
//! action table: [`watch`] before it (claims and deadlines end a wait, and
//! the combo state is read afterwards), [`progress`] after it (an open
//! round that no longer fits the state is dropped, and a planned move's
//! round that is over names its successor). A volunteer round that is over
//! is decided by [`round_over`] when the table still says `DD0`.

use super::{
    alert_once, bit, decide, fail_takeover, lowest, move_fallback, recheck, Claims, Cx, Dest,
    MonitorAction, Order, Out, Refinements, Round, Verdict, Vs, VsAlert,
};
use crate::config::NodeId;
use crate::time::Instant;
use crate::vserver::combo::{Combo, Decision};

/// Where a vserver is in the boss's handling of it.
#[derive(Clone, Debug)]
pub(super) enum Phase {
    /// Watching.
    Idle,
    /// A volunteer round is open.
    Round(Round),
    /// `node` was told to assume; it must claim before `deadline` (PP0).
    /// `inherited`: the order is an earlier term's, continued from a table
    /// (see [`Monitor::restore`](super::Monitor::restore)).
    Takeover {
        node: NodeId,
        round: u32,
        deadline: Instant,
        inherited: bool,
    },
    /// `node` was told to release; waiting for its claim to go.
    Release { node: NodeId, deadline: Instant },
    /// A planned move off `from`, which still serves: a volunteer round
    /// that does not ask it. `quiet`: a move toward a preferred box, which
    /// just does not happen if that box cannot take it (no alert).
    MoveRound {
        from: NodeId,
        round: Round,
        quiet: bool,
    },
    /// A planned move: `from` was told to release (the order carries
    /// `round`); `to` won the round and is told to assume as soon as `from`
    /// reports its address gone. The normal path takes over at `deadline`.
    MoveRelease {
        from: NodeId,
        to: NodeId,
        round: u32,
        deadline: Instant,
    },
}

/// Claims and deadlines end the current phase's wait (before the combo
/// state is read).
pub(super) fn watch(v: &mut Vs, cx: &Cx<'_, '_>, out: &mut Out) {
    match v.phase.clone() {
        Phase::Takeover {
            node,
            deadline,
            inherited,
            ..
        } => watch_takeover(v, cx, node, deadline, inherited, out),
        Phase::Release { node, deadline } => watch_release(v, cx, node, deadline),
        Phase::Idle => watch_idle(v, cx),
        Phase::Round(_) => {}
        Phase::MoveRound { from, .. } => watch_move_round(v, cx, from),
        Phase::MoveRelease {
            from,
            to,
            round,
            deadline,
        } => watch_move_release(v, cx, from, to, round, deadline),
    }
}

/// `node` was told to assume: done when it claims; overtaken when the order
/// is an earlier term's and another box claims; failed at the deadline.
fn watch_takeover(
    v: &mut Vs,
    cx: &Cx<'_, '_>,
    node: NodeId,
    deadline: Instant,
    inherited: bool,
    out: &mut Out,
) {
    if cx.claim & bit(node) != 0 {
        // It claims: the takeover is done; check it at once.
        watch_claimer(v, cx.now, node);
    } else if let (true, Some(other)) = (inherited, lowest(cx.claim)) {
        // An earlier term's order, and another box serves it: the order was
        // overtaken (the table is older than the claims). Waiting out its
        // timeout would block every decision about the vserver, a planned
        // move off a stopping holder included (sim seed 110969154: the
        // holder stopped, released it itself and left it dead for 2.5 s).
        // Tell `node` to give up, in case the order is still being carried
        // out, and watch the claimer.
        watch_claimer(v, cx.now, other);
        release_order(cx, node, out);
    } else if cx.now >= deadline {
        // The box may still be half way (a slow hook, a lost outcome): tell
        // it to give up before anyone else is asked, so two boxes never
        // work on one address.
        fail_takeover(v, cx.now, node);
        release_order(cx, node, out);
    }
}

/// Watch `node` as the holder from now on, checking it at once.
fn watch_claimer(v: &mut Vs, now: Instant, node: NodeId) {
    v.phase = Phase::Idle;
    v.holder = Some(node);
    v.holder_claimed = true;
    v.service = Verdict::PENDING;
    v.reach = Verdict::PENDING;
    v.next_check = now;
}

/// Tell `node` to release the vserver (no planned move).
fn release_order(cx: &Cx<'_, '_>, node: NodeId, out: &mut Out) {
    let _ = out.push(MonitorAction::Send {
        to: Dest::Node(node),
        order: Order::Release {
            vserver: cx.vs,
            generation: cx.view.generation,
            round: 0,
        },
    });
}

/// `node` was told to release: over when its claim goes or at the deadline,
/// and the vserver is checked at once.
fn watch_release(v: &mut Vs, cx: &Cx<'_, '_>, node: NodeId, deadline: Instant) {
    if cx.claim & bit(node) == 0 || cx.now >= deadline {
        v.phase = Phase::Idle;
        if v.holder == Some(node) {
            v.holder = None;
        }
        v.urgent = true;
        v.next_check = cx.now;
    }
}

/// The holder stopped claiming without being told (a graceful stop or
/// `bongoyo hold` released it): check at once rather than at the next
/// interval, so the hand-over gap stays near one takeover. A lost holder's
/// claim ends through its lease proof instead (`handle_lost`).
fn watch_idle(v: &mut Vs, cx: &Cx<'_, '_>) {
    if let Some(h) = v.holder {
        if cx.claim & bit(h) != 0 {
            v.holder_claimed = true;
        } else if v.holder_claimed && cx.view.lost & bit(h) == 0 && !v.urgent {
            v.holder_claimed = false;
            v.holder = None;
            v.urgent = true;
            v.next_check = cx.now;
        }
    }
}

/// The holder let go or was lost before the release was ordered: the
/// normal path takes it from here.
fn watch_move_round(v: &mut Vs, cx: &Cx<'_, '_>, from: NodeId) {
    let lost = cx.view.lost & bit(from) != 0;
    if cx.claim & bit(from) == 0 || lost {
        v.phase = Phase::Idle;
        if v.holder == Some(from) && !lost {
            v.holder = None;
            v.holder_claimed = false;
        }
        v.urgent = true;
        v.next_check = cx.now;
    }
}

/// `from` was told to release for a planned move: the move falls back to
/// the normal path when `from` is lost or at the deadline; its claim gone
/// without an outcome shortens the wait.
fn watch_move_release(
    v: &mut Vs,
    cx: &Cx<'_, '_>,
    from: NodeId,
    to: NodeId,
    round: u32,
    deadline: Instant,
) {
    if cx.view.lost & bit(from) != 0 || cx.now >= deadline {
        move_fallback(v, cx.now, cx.claim, from);
    } else if cx.claim & bit(from) == 0 {
        // Its claim went but its outcome has not come (in flight behind the
        // hello, or lost): wait a moment for it, then take the normal path.
        v.phase = Phase::MoveRelease {
            from,
            to,
            round,
            deadline: deadline.min(cx.now + recheck(v.check)),
        };
    }
}

/// After the combo state is read: a volunteer round only makes sense in
/// `DD0` (the original host may be back), and a planned move's round only
/// while the holder serves alone; a move round that is over names the
/// successor, and its holder is told to release.
pub(super) fn progress(v: &mut Vs, cx: &Cx<'_, '_>, combo: Combo, r: Refinements, out: &mut Out) {
    if matches!(v.phase, Phase::Round(_)) && decide(combo) != Decision::VolunteerRound {
        v.phase = Phase::Idle;
    }
    let Phase::MoveRound { from, round, quiet } = &v.phase else {
        return;
    };
    let (from, quiet) = (*from, *quiet);
    // A dead service is moved this way too (`ReleaseAfterGrace`): the
    // holder keeps the address until its successor is known.
    let served = matches!(
        decide(combo),
        Decision::Nothing | Decision::ReleaseAfterGrace
    );
    if !served || combo.claims != Claims::One || v.original {
        v.phase = Phase::Idle;
        return;
    }
    if !round.is_over(cx.now) {
        return;
    }
    let number = round.number;
    match round.winner(cx.view.list) {
        // A box we do not hear may hold it (see `View::unknown`).
        Some(_) if r.unheard => v.phase = Phase::Idle,
        Some(to) => {
            v.phase = Phase::MoveRelease {
                from,
                to,
                round: number,
                deadline: cx.now + v.takeover_timeout,
            };
            let _ = out.push(MonitorAction::Moving {
                vserver: cx.vs,
                from,
                to,
            });
            let _ = out.push(MonitorAction::Send {
                to: Dest::Node(from),
                order: Order::Release {
                    vserver: cx.vs,
                    generation: cx.view.generation,
                    round: number,
                },
            });
        }
        None if quiet => {
            // The preferred box answered 0: try again later.
            v.phase = Phase::Idle;
            v.preferred_since = None;
        }
        None => {
            v.phase = Phase::Idle;
            v.round_after = cx.now + v.check;
            alert_once(v, cx.vs, VsAlert::NoSuccessor, out);
        }
    }
}

/// A volunteer round for a `DD0` vserver is over: fenced if some box's
/// probe saw the address answered, or a box asked to probe did not answer
/// (layer 3 through every box's eyes; sim seed 117: the answer was lost):
/// asked again after the next check. Else the winner (a willing preferred box
/// first, best ranked) is told to assume, or with nobody willing the round
/// is repeated after the next check and alerted once.
pub(super) fn round_over(v: &mut Vs, cx: &Cx<'_, '_>, round: &Round, out: &mut Out) {
    let now = cx.now;
    if round.fenced() || v.sighted {
        // After a sighting, the first clean round is not proof either (sim
        // seed 5477240423: every ARP exchange of the one probe that could
        // see the old holder's kernel was lost).
        // Only a clean round clears it; a round with an answer missing
        // counts as a sighting (sim seed 117: the one box that could see
        // the old holder's kernel was not heard in time).
        v.sighted = round.fenced();
        v.phase = Phase::Idle;
        v.round_after = now + v.check;
        return;
    }
    let number = round.number;
    let preferred = v.prefer.iter().copied().find(|&p| round.willing(p));
    let Some(node) = preferred.or_else(|| round.winner(cx.view.list)) else {
        v.phase = Phase::Idle;
        v.round_after = now + v.check;
        alert_once(v, cx.vs, VsAlert::NoVolunteer, out);
        return;
    };
    v.phase = Phase::Takeover {
        node,
        round: number,
        deadline: now + v.takeover_timeout,
        inherited: false,
    };
    v.holder = Some(node);
    v.service = Verdict::PENDING;
    v.reach = Verdict::PENDING;
    let _ = out.push(MonitorAction::Send {
        to: Dest::Node(node),
        order: Order::Assume {
            vserver: cx.vs,
            round: number,
            generation: cx.view.generation,
        },
    });
    let c = super::combo_of(v, cx.claim);
    v.last_combo = c;
    v.since = now;
    let _ = out.push(MonitorAction::Changed {
        vserver: cx.vs,
        combo: c,
        holder: v.holder,
    });
}

#[cfg(test)]
mod tests {
    use super::super::rig::{releases, three_boxes};
    use super::super::{Monitor, View};
    use super::*;
    use crate::config::parse;
    use crate::vserver::combo::Tri;

    const CONF: &str = "cluster t\nkey-file insecure\ninterface eth0\n\
        node f1 10.0.0.11\nnode f2 10.0.0.12\nnode f3 10.0.0.13\n\
        vserver web {\n address 10.0.0.50/24\n interface eth0\n service tcp 80\n check 200ms\n takeover-timeout 1s\n}\n";

    /// The vserver of [`CONF`] as a fresh monitor keeps it.
    fn vs() -> Vs {
        let cfg = parse("t.conf", CONF).expect("config");
        Monitor::new(&cfg, Instant(0)).vs[0].clone()
    }

    /// Run `f` with a view where `claim` claims it and `lost` are lost.
    fn with<R>(now: u64, claim: u32, lost: u32, f: impl FnOnce(&Cx<'_, '_>) -> R) -> R {
        let claimers = [claim];
        let view = View {
            volunteers: 0b111 & !lost,
            lost,
            silent: lost,
            ..three_boxes(&claimers)
        };
        let cx = Cx {
            now: Instant(now),
            vs: 0,
            claim,
            view: &view,
        };
        f(&cx)
    }

    fn takeover(node: NodeId, inherited: bool) -> Phase {
        Phase::Takeover {
            node,
            round: 3,
            deadline: Instant(1000),
            inherited,
        }
    }

    #[test]
    fn takeover_ends_when_the_box_claims_or_at_its_deadline() {
        let mut v = vs();
        v.phase = takeover(1, false);
        let mut out = Out::new();
        with(10, 0, 0, |cx| watch(&mut v, cx, &mut out));
        assert!(matches!(v.phase, Phase::Takeover { .. }), "still waiting");
        with(20, 0b010, 0, |cx| watch(&mut v, cx, &mut out));
        assert!(matches!(v.phase, Phase::Idle));
        assert_eq!(v.holder, Some(1));
        assert!(
            v.holder_claimed && v.next_check == Instant(20),
            "checked at once"
        );

        // At the deadline: told to give up, and left out of rounds.
        let mut v = vs();
        v.phase = takeover(2, false);
        with(1000, 0, 0, |cx| watch(&mut v, cx, &mut out));
        assert!(matches!(v.phase, Phase::Idle));
        assert_eq!(releases(&out), vec![2]);
        assert!(v.excluded_until[2] > Instant(1000));
    }

    #[test]
    fn an_inherited_takeover_is_overtaken_by_another_claimer() {
        let mut v = vs();
        v.phase = takeover(1, true);
        let mut out = Out::new();
        with(10, 0b100, 0, |cx| watch(&mut v, cx, &mut out));
        assert!(matches!(v.phase, Phase::Idle));
        assert_eq!(v.holder, Some(2));
        assert_eq!(releases(&out), vec![1], "the old order is called off");
        // One this boss ordered keeps its timeout.
        let mut v = vs();
        v.phase = takeover(1, false);
        let mut out = Out::new();
        with(10, 0b100, 0, |cx| watch(&mut v, cx, &mut out));
        assert!(matches!(v.phase, Phase::Takeover { .. }) && out.is_empty());
    }

    #[test]
    fn a_release_ends_with_the_claim_and_the_vserver_is_checked_at_once() {
        let mut v = vs();
        v.holder = Some(1);
        v.phase = Phase::Release {
            node: 1,
            deadline: Instant(500),
        };
        let mut out = Out::new();
        with(10, 0b010, 0, |cx| watch(&mut v, cx, &mut out));
        assert!(matches!(v.phase, Phase::Release { .. }));
        with(20, 0, 0, |cx| watch(&mut v, cx, &mut out));
        assert!(matches!(v.phase, Phase::Idle));
        assert_eq!(v.holder, None);
        assert!(v.urgent && v.next_check == Instant(20));
    }

    #[test]
    fn an_idle_holder_that_lets_go_unasked_is_checked_at_once_unless_lost() {
        let mut v = vs();
        v.holder = Some(1);
        let mut out = Out::new();
        with(10, 0b010, 0, |cx| watch(&mut v, cx, &mut out));
        assert!(v.holder_claimed);
        // Lost: its claim ends through the lease proof instead.
        with(20, 0, 0b010, |cx| watch(&mut v, cx, &mut out));
        assert_eq!(v.holder, Some(1));
        with(30, 0, 0, |cx| watch(&mut v, cx, &mut out));
        assert_eq!(v.holder, None);
        assert!(v.urgent && v.next_check == Instant(30));
    }

    #[test]
    fn a_planned_move_falls_back_when_its_holder_goes() {
        let round = Round::new(5, 0b100, Instant(100));
        let mut v = vs();
        v.holder = Some(1);
        v.phase = Phase::MoveRound {
            from: 1,
            round,
            quiet: false,
        };
        let mut out = Out::new();
        with(10, 0, 0, |cx| watch(&mut v, cx, &mut out));
        assert!(matches!(v.phase, Phase::Idle));
        assert_eq!(v.holder, None, "it let go");
        // Told to release: its claim gone without an outcome shortens the wait.
        let mut v = vs();
        v.phase = Phase::MoveRelease {
            from: 1,
            to: 2,
            round: 5,
            deadline: Instant(5000),
        };
        with(10, 0, 0, |cx| watch(&mut v, cx, &mut out));
        let Phase::MoveRelease { deadline, .. } = v.phase else {
            panic!("still waiting for the outcome");
        };
        assert!(deadline < Instant(5000));
    }

    #[test]
    fn an_open_round_ends_when_the_state_is_no_longer_dd0() {
        let mut v = vs();
        v.phase = Phase::Round(Round::new(5, 0b111, Instant(100)));
        let r = Refinements {
            fenced: false,
            original_back: false,
            holder_held: None,
            unheard: false,
            stray: false,
        };
        let mut out = Out::new();
        let uu1 = Combo::new(Tri::Up, Tri::Up, Claims::One);
        with(10, 0b010, 0, |cx| progress(&mut v, cx, uu1, r, &mut out));
        assert!(matches!(v.phase, Phase::Idle));
    }

    #[test]
    fn a_round_over_names_the_winner_unless_fenced() {
        let mut out = Out::new();
        let mut round = Round::new(5, 0b110, Instant(100)).probing();
        round.answer(5, 1, 100, 0);
        round.answer(5, 2, 50, 0);
        let mut v = vs();
        with(100, 0, 0, |cx| round_over(&mut v, cx, &round, &mut out));
        assert!(matches!(v.phase, Phase::Takeover { node: 1, .. }));
        // A probe saw the address answered: nobody is told to assume.
        let clean = round.clone();
        round.saw();
        let mut v = vs();
        let mut out = Out::new();
        with(100, 0, 0, |cx| round_over(&mut v, cx, &round, &mut out));
        assert!(matches!(v.phase, Phase::Idle) && out.is_empty());
        assert_eq!(v.round_after, Instant(100) + v.check);
        // After a sighting, one clean round is not proof; two are.
        with(400, 0, 0, |cx| round_over(&mut v, cx, &clean, &mut out));
        assert!(matches!(v.phase, Phase::Idle) && out.is_empty());
        with(700, 0, 0, |cx| round_over(&mut v, cx, &clean, &mut out));
        assert!(matches!(v.phase, Phase::Takeover { node: 1, .. }));
    }
}
