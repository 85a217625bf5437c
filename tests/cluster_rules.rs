//! Scripted-time tests, one per rule of the cluster core (docs/MODEL.md).
//!
//! Each drives real cores through the simulated world with perfect clocks,
//! 0.5 ms delay and no loss, at hello 200 ms / dead 600 ms unless stated,
//! and reads like a timeline: at t do this, by t' expect that.

#[path = "sim/world.rs"]
mod world;

use bongoyo::cluster::{AlertKind, Control, MemberChange, MemberState};
use bongoyo::config::Fencing;
use bongoyo::proto::Role;
use world::{config, majority, World};

const HELLO: u64 = 200;
const DEAD: u64 = 600;

fn world(n: usize) -> World {
    let mut w = World::scripted(config(n, HELLO, DEAD, majority(n), Fencing::Lease));
    for i in 0..n {
        w.start_at(i, 0);
    }
    w
}

/// Run until one boss is agreed on; returns it.
fn agreed(w: &mut World) -> usize {
    w.until_agreement(10_000).expect("agreement");
    w.agreement().unwrap()
}

fn no_violations(w: &World) {
    assert!(
        w.violations.is_empty(),
        "{:?}\n{}",
        w.violations,
        w.first_trace
    );
}

#[test]
fn cold_start_claims_after_one_dead_interval() {
    let mut w = world(3);
    w.run_until((DEAD - 1) * 1000);
    assert!(w.bosses().is_empty(), "nobody claims while joining");
    for i in 0..3 {
        assert_eq!(w.core(i).role(), Role::Joining);
    }
    w.run_until((DEAD + HELLO) * 1000);
    // All booted together: the lower name (f1) is the best ranked.
    assert_eq!(w.bosses(), vec![0]);
    let b = agreed(&mut w);
    assert_eq!(b, 0);
    assert!(w.ms() <= DEAD + 2 * HELLO, "acting by {} ms", w.ms());
    assert_eq!(w.core(0).generation(), 1);
    assert_eq!(w.core(0).deputies().as_slice(), &[1, 2]);
    assert_eq!(w.core(1).role(), Role::Deputy);
    no_violations(&w);
}

#[test]
fn boss_crash_deputy_one_continues_with_next_generation() {
    let mut w = world(4);
    let b = agreed(&mut w);
    w.run_for_ms(2_000);
    let d1 = w.core(b).deputies()[0] as usize;
    let gen = w.core(b).generation();
    let lost_at = w.ms();
    w.crash(b);
    let took = w.until_acting(b, 5_000).expect("a new boss acts");
    assert!(took <= DEAD + 3 * HELLO, "election took {took} ms");
    assert_eq!(w.acting(), vec![d1], "deputy 1 takes over");
    let nb = agreed(&mut w);
    assert_eq!(nb, d1);
    assert_eq!(w.core(nb).generation(), gen + 1);
    // No flapping: the same boss for a long quiet while.
    w.run_for_ms(10_000);
    assert_eq!(w.agreement(), Ok(d1));
    assert_eq!(w.core(d1).generation(), gen + 1);
    // The new boss continued the old one's records: the crashed box is lost.
    assert_eq!(w.core(d1).member(b as u8), MemberState::Lost);
    assert!(w.core(d1).record(b as u8).losses >= 1);
    let _ = lost_at;
    no_violations(&w);
}

#[test]
fn deputy_crash_boss_picks_another() {
    let mut w = world(4);
    let b = agreed(&mut w);
    let deps = w.core(b).deputies();
    let d1 = deps[0] as usize;
    w.crash(d1);
    w.run_for_ms(DEAD + 2 * HELLO);
    assert_eq!(w.agreement(), Ok(b), "the boss stays");
    let now = w.core(b).deputies();
    assert!(!now.contains(&(d1 as u8)), "{now:?}");
    assert_eq!(now.len(), 2);
    assert_eq!(now[0], deps[1], "deputy 2 moves up");
    no_violations(&w);
}

#[test]
fn both_deputies_lost_boss_keeps_acting_with_quorum() {
    let mut w = world(5);
    let b = agreed(&mut w);
    let deps = w.core(b).deputies();
    for &d in &deps {
        w.crash(d as usize);
    }
    w.run_for_ms(DEAD + 2 * HELLO);
    assert_eq!(w.agreement(), Ok(b));
    assert!(w.core(b).is_acting(w.local(b)), "3 of 5 is a quorum");
    let now = w.core(b).deputies();
    assert_eq!(now.len(), 2);
    for d in &now {
        assert!(!deps.contains(d), "new deputies {now:?}, old {deps:?}");
    }
    no_violations(&w);
}

#[test]
fn isolated_boss_stops_acting_and_yields_after_heal() {
    let mut w = world(3);
    let b = agreed(&mut w);
    let gen = w.core(b).generation();
    let t0 = w.ms();
    w.isolate(b);
    // Its lease runs out within one lease; it never claims anew.
    w.run_for_ms(DEAD);
    assert!(
        !w.core(b).is_acting(w.local(b)),
        "isolated boss still acting at +{} ms",
        w.ms() - t0
    );
    w.run_for_ms(2 * DEAD);
    assert_ne!(w.core(b).role(), Role::Boss);
    let others: Vec<usize> = (0..3).filter(|&i| i != b).collect();
    let nb = w.bosses();
    assert_eq!(nb.len(), 1);
    assert!(others.contains(&nb[0]));
    assert_eq!(w.core(nb[0]).generation(), gen + 1);
    w.heal();
    assert_eq!(agreed(&mut w), nb[0], "the old boss yields");
    no_violations(&w);
}

#[test]
fn partition_two_one_and_heal() {
    let mut w = world(3);
    let b = agreed(&mut w);
    let lone = (0..3).find(|&i| i != b).unwrap();
    let g: Vec<usize> = (0..3).map(|i| (i == lone) as usize).collect();
    w.partition(&g);
    w.run_for_ms(5_000);
    // The majority keeps its boss; the lone box hears nobody: never boss.
    assert_eq!(w.bosses(), vec![b]);
    assert!(w.core(b).is_acting(w.local(b)));
    assert!(!matches!(w.core(lone).role(), Role::Boss | Role::SemiBoss));
    assert_eq!(w.core(lone).member(b as u8), MemberState::Lost);
    w.heal();
    assert_eq!(agreed(&mut w), b);
    no_violations(&w);
}

#[test]
fn pair_without_quorum_never_acts_when_split() {
    let mut w = world(2);
    let b = agreed(&mut w);
    w.partition(&[0, 1]);
    w.run_for_ms(DEAD + HELLO);
    assert!(w.acting().is_empty(), "no quorum on either side");
    w.run_for_ms(5_000);
    assert!(w.acting().is_empty());
    assert!(w.bosses().is_empty());
    w.heal();
    assert_eq!(agreed(&mut w), b, "the old boss regains quorum");
    no_violations(&w);
}

#[test]
fn pair_with_quorum_one_splits_then_merges_to_lower_generation() {
    let mut w = World::scripted(config(2, HELLO, DEAD, 1, Fencing::None));
    w.start_at(0, 0);
    w.start_at(1, 0);
    let b = agreed(&mut w);
    let other = 1 - b;
    w.partition(&[0, 1]);
    w.run_for_ms(2 * DEAD + HELLO);
    // Both sides boss: the price of quorum 1, resolved when it heals.
    assert_eq!(w.bosses().len(), 2);
    assert_eq!(w.core(other).generation(), w.core(b).generation() + 1);
    w.heal();
    w.run_for_ms(HELLO + 10);
    // Lower generation wins; the loser stepped down at once.
    assert_eq!(w.bosses(), vec![b]);
    assert_eq!(agreed(&mut w), b);
}

#[test]
fn merge_same_generation_longer_uptime_wins() {
    // Two halves of a 2-box quorum-1 cluster booted apart, never having
    // heard each other, both claim generation 1: the longer uptime wins.
    let mut w = World::scripted(config(2, HELLO, DEAD, 1, Fencing::None));
    w.partition(&[0, 1]);
    w.start_at(1, 0);
    w.start_at(0, 5_000_000);
    w.run_until(7_000_000);
    assert_eq!(w.bosses(), vec![0, 1]);
    assert_eq!(w.core(0).generation(), 1);
    assert_eq!(w.core(1).generation(), 1);
    w.heal();
    // They never met: each codec drops the other's first hello and
    // challenges it, so the merge comes with the second hello.
    w.run_for_ms(2 * HELLO + 10);
    assert_eq!(w.bosses(), vec![1], "f2 has been up longer");
    assert_eq!(agreed(&mut w), 1);
}

#[test]
fn paused_boss_resumes_stale_and_steps_down() {
    let mut w = world(3);
    let b = agreed(&mut w);
    w.pause(b);
    // Frozen, it still believes it acts until its lease runs out; the world
    // checks on every step that nobody else acts before that.
    let nb = {
        w.until_acting(b, 5_000).expect("a new boss");
        w.acting()[0]
    };
    assert!(
        !w.core(b).is_acting(w.local(b)),
        "the frozen boss's lease has expired"
    );
    w.run_for_ms(3_000);
    w.resume(b);
    assert!(!w.core(b).is_acting(w.local(b)));
    assert_eq!(agreed(&mut w), nb);
    assert_eq!(w.core(b).boss(), Some(nb as u8));
    no_violations(&w);
}

#[test]
fn a_box_frozen_longer_than_dead_listens_before_it_claims_anything() {
    // Sim seed 391: what a frozen box reads first is its backlog.
    let mut w = world(3);
    let b = agreed(&mut w);
    let m = (0..3).find(|&i| i != b).unwrap();
    w.pause(m);
    w.run_for_ms(2_000);
    w.resume(m);
    assert_eq!(w.core(m).role(), Role::Joining, "listens as after a boot");
    assert_ne!(w.core(m).boss(), Some(m as u8));
    w.run_for_ms(DEAD + 2 * HELLO);
    assert_ne!(w.core(m).role(), Role::Joining);
    assert_eq!(w.core(m).boss(), Some(b as u8));
    // A frozen boss, too: it never claims on its backlog.
    w.pause(b);
    w.run_for_ms(3_000);
    w.resume(b);
    assert_eq!(w.core(b).role(), Role::Joining);
    assert!(!w.core(b).is_acting(w.local(b)));
    no_violations(&w);
}

#[test]
fn restart_with_new_incarnation_rejoins_without_election() {
    let mut w = world(3);
    let b = agreed(&mut w);
    let gen = w.core(b).generation();
    let m = (0..3).find(|&i| i != b).unwrap();
    let old_inc = w.boxes[m].inc;
    w.crash(m);
    w.start_at(m, w.now_us + 50_000);
    w.run_for_ms(50 + HELLO + 10);
    assert_ne!(w.boxes[m].inc, old_inc);
    assert_eq!(w.core(m).role(), Role::Joining);
    assert_eq!(
        w.core(m).boss(),
        Some(b as u8),
        "it follows the boss it hears while joining"
    );
    w.run_for_ms(DEAD + HELLO);
    assert_eq!(agreed(&mut w), b);
    assert_eq!(w.core(b).generation(), gen, "no election");
    no_violations(&w);
}

#[test]
fn boss_restarting_quickly_is_succeeded_at_once() {
    let mut w = world(3);
    let b = agreed(&mut w);
    let d1 = w.core(b).deputies()[0] as usize;
    w.crash(b);
    w.start_at(b, w.now_us + 10_000);
    // It comes back joining: the boss stepped down, no need to wait for dead.
    let took = w.until_acting(b, 5_000).expect("a new boss");
    assert!(took < DEAD, "took {took} ms");
    assert_eq!(w.acting(), vec![d1]);
    no_violations(&w);
}

#[test]
fn hold_and_resume() {
    let mut w = world(4);
    let b = agreed(&mut w);
    let d1 = w.core(b).deputies()[0] as usize;
    w.control(b, Control::Hold);
    assert_eq!(w.core(b).role(), Role::Hold, "steps down at once");
    assert!(!w.core(b).is_acting(w.local(b)));
    let took = w.until_acting(b, 5_000).expect("successor");
    assert!(took < 2 * HELLO, "no loss to wait for: {took} ms");
    assert_eq!(agreed(&mut w), d1);
    assert!(!w.core(d1).list().contains(&(b as u8)), "off the list");
    assert!(!w.core(d1).deputies().contains(&(b as u8)));
    assert_eq!(w.core(d1).member(b as u8), MemberState::Hold);
    w.control(b, Control::Resume);
    w.run_for_ms(2 * HELLO);
    assert!(matches!(w.core(b).role(), Role::Member | Role::Deputy));
    assert!(w.core(d1).list().contains(&(b as u8)), "back on the list");
    assert_eq!(w.agreement(), Ok(d1), "no flapping back");
    // A failing self-check is a hold too.
    let m = w
        .core(d1)
        .list()
        .iter()
        .map(|&x| x as usize)
        .find(|&x| x != d1)
        .unwrap();
    w.health(m, 0);
    w.run_for_ms(2 * HELLO);
    assert_eq!(w.core(m).role(), Role::Hold);
    assert!(!w.core(d1).list().contains(&(m as u8)));
    w.health(m, 90);
    w.run_for_ms(2 * HELLO);
    assert!(w.core(d1).list().contains(&(m as u8)));
    no_violations(&w);
}

#[test]
fn alert_after_lost_alert() {
    let mut cfg = config(3, HELLO, DEAD, 2, Fencing::Lease);
    cfg.lost_alert = std::time::Duration::from_secs(3);
    let mut w = World::scripted(cfg);
    for i in 0..3 {
        w.start_at(i, 0);
    }
    let b = agreed(&mut w);
    let m = (0..3).find(|&i| i != b).unwrap();
    let t0 = w.ms();
    w.crash(m);
    // Its last hello was up to a hello before the crash; it is lost once
    // the others answer the probe (at once when every box asked answers).
    w.run_for_ms(DEAD - HELLO + 3_000 - 10);
    assert!(w.alerts.is_empty(), "too early: {:?}", w.alerts);
    w.run_for_ms(HELLO + 10);
    assert_eq!(w.alerts.len(), 1, "{:?}", w.alerts);
    let (t, by, kind) = w.alerts[0];
    assert_eq!(by, b, "the boss raises it");
    match kind {
        AlertKind::Lost { lost_for_ms } => assert!((3_000..3_100).contains(&lost_for_ms)),
        other => panic!("{other:?}"),
    }
    assert!(t / 1000 - t0 >= DEAD - HELLO + 3_000);
    w.run_for_ms(10_000);
    assert_eq!(w.alerts.len(), 1, "once per loss");
    assert!(w.core(b).record(m as u8).alerted);
    no_violations(&w);
}

#[test]
fn priority_list_order() {
    let mut cfg = config(4, HELLO, DEAD, 3, Fencing::Lease);
    cfg.nodes[0].priority = 100;
    cfg.nodes[1].priority = 200;
    cfg.nodes[2].priority = 150;
    cfg.nodes[3].priority = 100;
    let mut w = World::scripted(cfg);
    for i in 0..4 {
        w.start_at(i, 0);
    }
    assert_eq!(
        agreed(&mut w),
        1,
        "the highest priority claims at cold start"
    );
    assert_eq!(w.core(1).list(), &[1, 2, 0, 3]);
    // Health ranks after priority: f1 falls behind f4.
    w.health(0, 50);
    w.run_for_ms(2 * HELLO);
    assert_eq!(w.core(1).list(), &[1, 2, 3, 0]);
    for i in 0..4 {
        assert_eq!(w.core(i).list(), &[1, 2, 3, 0], "everyone agrees");
    }
    // Record ranks before uptime: f1 healthy again but lost for a while
    // ranks behind f4 even though f4 has just restarted (younger, no loss).
    w.health(0, 100);
    w.crash(0);
    w.run_for_ms(3_000);
    w.start_at(0, w.now_us + 1);
    w.run_for_ms(DEAD + 2 * HELLO);
    w.crash(3);
    w.start_at(3, w.now_us + 1);
    w.run_for_ms(DEAD + 2 * HELLO);
    assert!(w.core(1).record(0).downtime_ms >= 2_000);
    assert_eq!(w.core(1).record(3).downtime_ms, 0);
    assert_eq!(w.core(1).list(), &[1, 2, 3, 0]);
    no_violations(&w);
}

#[test]
fn lost_box_lease_is_proven_lapsed() {
    let mut w = world(5);
    let b = agreed(&mut w);
    let m = (0..5).find(|&i| i != b).unwrap();
    w.crash(m);
    // Not before it can be suspect (its last hello: up to a hello before).
    w.run_for_ms(DEAD - HELLO - 10);
    assert!(!w.core(b).lease_lapsed(m as u8));
    w.run_for_ms(DEAD + 3 * HELLO);
    assert!(w.core(b).lease_lapsed(m as u8), "lapse proven by probes");
    // A member that only lost the boss is not lapsed: others hear it.
    let x = (0..5).find(|&i| i != b && i != m).unwrap();
    w.set_cut(x, b, true);
    w.run_for_ms(3 * DEAD);
    assert_eq!(w.core(b).member(x as u8), MemberState::Suspect);
    assert!(!w.core(b).lease_lapsed(x as u8));
    no_violations(&w);
}

#[test]
fn lapse_proof_ends_when_anyone_hears_the_box_again() {
    // Sim seed 2718296492: a box proven lapsed, then heard by the others
    // (not by the boss, a one-way cut) may renew its lease through them.
    let mut w = world(4);
    let b = agreed(&mut w);
    let x = (0..4).find(|&i| i != b).unwrap();
    w.isolate(x);
    w.run_for_ms(2 * DEAD + 3 * HELLO);
    assert!(w.core(b).lease_lapsed(x as u8), "lapse proven by probes");
    // Heard again by everyone but the boss.
    w.heal();
    w.set_cut(x, b, true);
    w.run_for_ms(2 * HELLO + 10);
    assert_ne!(w.core(b).member(x as u8), MemberState::Alive);
    assert!(
        !w.core(b).lease_lapsed(x as u8),
        "the others' acknowledgements of its new hellos end the proof"
    );
    // And no later round proves it again while they hear it.
    w.run_for_ms(3 * DEAD);
    assert!(!w.core(b).lease_lapsed(x as u8));
    no_violations(&w);
}

#[test]
fn holding_lease_follows_acknowledgements() {
    let mut w = world(3);
    let b = agreed(&mut w);
    let m = (0..3).find(|&i| i != b).unwrap();
    let lx = w.local(m);
    let taken = lx;
    assert!(w.core(m).holds_since(w.core(m).lease_since().unwrap(), lx));
    w.isolate(m);
    w.run_for_ms(DEAD);
    let lx = w.local(m);
    assert!(
        w.core(m).lease_until().is_none_or(|u| lx >= u),
        "no acks: lease gone"
    );
    assert!(!w.core(m).holds_since(taken, lx));
    w.heal();
    w.run_for_ms(3 * HELLO);
    let lx = w.local(m);
    assert!(w.core(m).lease_until().is_some_and(|u| lx < u), "renewed");
    assert!(
        !w.core(m).holds_since(taken, lx),
        "a lapse ends what was held before it"
    );
    no_violations(&w);
}

/// The changes box `by` reported about box `about`, in order, from real
/// time `from_ms` on.
fn changes(w: &World, by: usize, about: usize, from_ms: u64) -> Vec<MemberChange> {
    w.members
        .iter()
        .filter(|&&(t, b, a, _)| t / 1000 >= from_ms && b == by && a as usize == about)
        .map(|&(_, _, _, c)| c)
        .collect()
}

/// Issue 16.6: survivors logged nothing when a box vanished until the
/// `node-lost` alert 30 s later. Every box reports a change of another
/// box's membership when it happens: joined, suspect, lost, back.
#[test]
fn membership_changes_are_reported_when_they_happen() {
    let mut w = world(3);
    let b = agreed(&mut w);
    for by in 0..3 {
        for about in (0..3).filter(|&a| a != by) {
            let inc = w.boxes[about].inc;
            assert_eq!(
                changes(&w, by, about, 0),
                vec![MemberChange::Joined { incarnation: inc }],
                "box {by} about {about}"
            );
        }
    }
    // A box dies: suspect after the dead interval, lost after the probe.
    let m = (0..3).find(|&i| i != b).unwrap();
    let t0 = w.ms();
    w.crash(m);
    w.run_for_ms(DEAD + HELLO);
    for by in (0..3).filter(|&i| i != m) {
        let c = changes(&w, by, m, t0);
        assert_eq!(c.len(), 2, "box {by}: {c:?}");
        assert!(
            matches!(c[0], MemberChange::Suspect { silent_ms } if (DEAD..DEAD + HELLO).contains(&silent_ms)),
            "{c:?}"
        );
        assert!(
            matches!(c[1], MemberChange::Lost { silent_ms } if silent_ms < DEAD + HELLO),
            "{c:?}"
        );
    }
    // It restarts: a new run joins.
    let t1 = w.ms();
    w.start_at(m, w.now_us + 1);
    w.run_for_ms(2 * HELLO);
    let inc = w.boxes[m].inc;
    assert_eq!(
        changes(&w, b, m, t1),
        vec![MemberChange::Joined { incarnation: inc }]
    );
    // Cut off for a while and heard again: the same run is back.
    let t2 = w.ms();
    w.isolate(m);
    w.run_for_ms(2 * DEAD);
    w.heal();
    w.run_for_ms(2 * HELLO);
    let c = changes(&w, b, m, t2);
    assert!(
        matches!(
            c.as_slice(),
            [MemberChange::Suspect { .. }, MemberChange::Lost { .. }, MemberChange::Back { silent_ms }]
                if *silent_ms >= 2 * DEAD - HELLO
        ),
        "{c:?}"
    );
    no_violations(&w);
}

/// Issue 16.6: a box stopped with SIGTERM was shown as lost and alerted
/// as `node-lost`. A box that says it leaves is `left`: its silence is
/// neither reported nor alerted, and a new run of it joins as usual.
#[test]
fn a_box_that_leaves_on_purpose_is_left_not_lost() {
    let mut cfg = config(3, HELLO, DEAD, 2, Fencing::Lease);
    cfg.lost_alert = std::time::Duration::from_secs(3);
    let mut w = World::scripted(cfg);
    for i in 0..3 {
        w.start_at(i, 0);
    }
    let b = agreed(&mut w);
    let m = (0..3).find(|&i| i != b).unwrap();
    let t0 = w.ms();
    w.leave(m);
    w.run_for_ms(DEAD + 5_000);
    for by in (0..3).filter(|&i| i != m) {
        assert_eq!(changes(&w, by, m, t0), vec![MemberChange::Left], "box {by}");
        assert!(w.core(by).left(m as u8));
        // Membership itself goes on as for any silent box (fencing).
        assert_eq!(w.core(by).member(m as u8), MemberState::Lost);
    }
    assert!(w.alerts.is_empty(), "{:?}", w.alerts);
    // A new run is an ordinary member again.
    w.start_at(m, w.now_us + 1);
    w.run_for_ms(2 * HELLO);
    assert!(!w.core(b).left(m as u8));
    assert!(matches!(
        changes(&w, b, m, t0).as_slice(),
        [MemberChange::Left, MemberChange::Joined { .. }]
    ));
    no_violations(&w);
}

/// Issue 16.6: a lone box said `boss none` and `state unknown` without
/// saying that quorum was missing. The core counts what it hears.
#[test]
fn quorum_as_this_box_sees_it() {
    let mut w = world(3);
    let b = agreed(&mut w);
    for i in 0..3 {
        assert_eq!(w.core(i).live_boxes(), 3);
        assert_eq!(w.core(i).quorum(), 2);
    }
    let m = (0..3).find(|&i| i != b).unwrap();
    w.isolate(m);
    w.run_for_ms(2 * DEAD);
    assert_eq!(w.core(m).live_boxes(), 1, "itself only");
    assert_eq!(w.core(b).live_boxes(), 2);
    no_violations(&w);
}

/// Issue 16.6: a box on hold, or cut off, kept showing the vserver table
/// it had as fact. Only a copy the boss it follows now streamed lately is
/// known; a boss's own table stops counting once it no longer acts.
#[test]
fn the_streamed_table_is_known_only_while_it_streams() {
    let mut w = world(3);
    let b = agreed(&mut w);
    w.run_for_ms(2 * HELLO);
    let d = w.core(b).deputies()[0] as usize;
    let (_, age) = w.core(d).synced_table(w.local(d)).expect("a deputy's copy");
    assert!(age <= HELLO, "{age} ms");
    assert!(
        w.core(b).synced_table(w.local(b)).is_none(),
        "the boss's own"
    );
    // Cut off: the copy ages out after the dead interval.
    w.isolate(d);
    w.run_for_ms(DEAD);
    assert!(w.core(d).synced_table(w.local(d)).is_none());
    w.heal();
    w.run_for_ms(3 * DEAD);
    let b2 = agreed(&mut w);
    // The boss goes on hold: what it had is its own, not a copy.
    w.control(b2, Control::Hold);
    w.run_for_ms(3 * DEAD);
    assert_ne!(agreed(&mut w), b2);
    assert!(w.core(b2).synced_table(w.local(b2)).is_none());
    no_violations(&w);
}
