//! Scripted-time tests of whole boxes ([`bongoyo::node::Node`]): three nodes
//! on the simulated world with perfect clocks, 0.5 ms delay, no loss, each
//! on a simulated kernel (aliases with a 1 s lifetime, ARP answered by the
//! kernel). Timers: hello 200 ms, dead 600 ms, check 200 ms, takeover
//! timeout 3 s. Each test reads like a timeline.

#[path = "sim/vworld.rs"]
mod vworld;
#[path = "sim/world.rs"]
mod world;

use bongoyo::cluster::Control;
use bongoyo::config::Fencing;
use bongoyo::node::{MoveAnswer, HANDOVER_LIMIT};
use bongoyo::proto::Body;
use bongoyo::vserver::monitor::MoveStart;
use vworld::{with_vservers, VWorld};
use world::{config, majority};

fn cluster(n: usize, nv: usize) -> VWorld {
    let cfg = with_vservers(
        config(n, 200, 600, majority(n), Fencing::Lease),
        nv,
        200,
        3_000,
        true,
    );
    let mut w = VWorld::scripted(cfg);
    w.verbose = true;
    for i in 0..n {
        w.start_at(i, 0);
    }
    w
}

/// Run until `f` holds (checked every 5 ms), at most `limit_ms`; the time.
fn until(w: &mut VWorld, limit_ms: u64, f: impl Fn(&VWorld) -> bool) -> Option<u64> {
    let start = w.now_us;
    while w.now_us < start + limit_ms * 1000 {
        if f(w) {
            return Some((w.now_us - start) / 1000);
        }
        w.run_for_ms(5);
    }
    None
}

/// Served: exactly one kernel holds it and that box claims it.
fn served(w: &VWorld, v: usize) -> Option<usize> {
    let k = w.kernels(v);
    let c = w.claimers(v);
    (k.len() == 1 && c == k).then(|| k[0])
}

fn combo_at_boss(w: &VWorld, v: usize) -> Option<[u8; 3]> {
    let b = *w.acting().first()?;
    Some(w.boxes[b].node.as_ref()?.vservers().get(v)?.combo)
}

/// Three boxes, one vserver, served and settled for a second: the world
/// and the holder.
fn one_vserver_served() -> (VWorld, usize) {
    let mut w = cluster(3, 1);
    until(&mut w, 5_000, |w| served(w, 0).is_some()).expect("served");
    w.run_for_ms(1_000);
    let h = served(&w, 0).unwrap();
    (w, h)
}

fn ok(w: &VWorld) {
    assert!(
        w.violations.is_empty(),
        "{:?}\n{}",
        w.violations,
        w.first_trace
    );
}

#[test]
fn cold_start_one_box_takes_over_a_dead_vserver() {
    let mut w = cluster(3, 1);
    // No original host: DD0 once the boss has checked twice.
    let t = until(&mut w, 5_000, |w| served(w, 0).is_some()).expect("served");
    // Joining (dead) + election + two checks + a round + hooks.
    assert!(t < 2_500, "took {t} ms");
    w.run_for_ms(1_000);
    assert!(served(&w, 0).is_some());
    assert_eq!(&combo_at_boss(&w, 0).unwrap(), b"UU1");
    ok(&w);
}

#[test]
fn vservers_spread_over_the_boxes() {
    let mut w = cluster(3, 6);
    until(&mut w, 8_000, |w| (0..6).all(|v| served(w, v).is_some())).expect("all served");
    let mut per = [0; 3];
    for v in 0..6 {
        per[served(&w, v).unwrap()] += 1;
    }
    assert!(per.iter().all(|&c| c >= 1), "spread {per:?}");
    ok(&w);
}

#[test]
fn holder_box_crash_another_box_takes_over() {
    let (mut w, h) = one_vserver_served();
    w.crash_box(h);
    let t = until(&mut w, 10_000, |w| served(w, 0).is_some_and(|x| x != h)).expect("moved");
    // dead + probe + a re-check + a round + the takeover.
    assert!(t < 2_000, "fail-over took {t} ms");
    ok(&w);
}

#[test]
fn holder_daemon_killed_waits_for_the_kernel_then_moves() {
    let (mut w, h) = one_vserver_served();
    w.crash_daemon(h);
    // The orphan alias answers until its lifetime runs out (1-2 s after the
    // last renewal); only then may another box take the address.
    let t = until(&mut w, 10_000, |w| w.claimers(0).iter().any(|&x| x != h)).expect("moved");
    assert!(t >= 1_000, "moved after {t} ms, before the kernel let go");
    assert!(t < 3_500, "fail-over took {t} ms");
    ok(&w);
}

#[test]
fn shutdown_hands_everything_over() {
    let mut w = cluster(3, 3);
    until(&mut w, 8_000, |w| (0..3).all(|v| served(w, v).is_some())).expect("all served");
    let h = served(&w, 0).unwrap();
    w.shutdown(h);
    until(&mut w, 1_000, |w| {
        w.boxes[h].node.as_ref().unwrap().stopped()
    })
    .expect("stopped");
    assert!((0..3).all(|v| !w.boxes[h].kernel.holds(v, w.now_us)));
    w.crash_daemon(h);
    until(&mut w, 5_000, |w| (0..3).all(|v| served(w, v).is_some())).expect("served again");
    ok(&w);
}

/// Run in 1 ms steps until `v` is served by a box other than `not`, at
/// most `limit_ms`: (the time it took, the longest stretch in which no
/// kernel held the address, in ms).
fn moved(w: &mut VWorld, v: usize, not: usize, limit_ms: u64) -> Option<(u64, u64)> {
    let start = w.now_us;
    let (mut gap, mut worst) = (0u64, 0u64);
    while w.now_us < start + limit_ms * 1000 {
        if served(w, v).is_some_and(|x| x != not) {
            return Some(((w.now_us - start) / 1000, worst));
        }
        if w.kernels(v).is_empty() {
            gap += 1;
            worst = worst.max(gap);
        } else {
            gap = 0;
        }
        w.run_for_ms(1);
    }
    None
}

/// `v` moves off `from` by a planned move within `within_ms` (waiting at
/// most `limit_ms`), leaving it unserved no longer than [`MOVE_GAP_MS`]:
/// (the time it took, the gap), in ms.
fn planned_move(
    w: &mut VWorld,
    v: usize,
    from: usize,
    limit_ms: u64,
    within_ms: u64,
) -> (u64, u64) {
    let (t, gap) = moved(w, v, from, limit_ms).expect("moved");
    assert!(t < within_ms, "the move of v{v} took {t} ms");
    assert!(gap <= MOVE_GAP_MS, "nobody served v{v} for {gap} ms");
    (t, gap)
}

/// The longest gap a planned move may leave: the holder's post-release hook,
/// the outcome's trip, the successor's pre-takeover hook (the world's hooks
/// take up to 40 ms each) and the alias step; nothing else.
const MOVE_GAP_MS: u64 = 100;

#[test]
fn hold_hands_over() {
    let mut w = cluster(3, 2);
    until(&mut w, 8_000, |w| (0..2).all(|v| served(w, v).is_some())).expect("all served");
    let h = served(&w, 0).unwrap();
    w.control(h, Control::Hold);
    // It keeps serving until the boss has chosen a successor.
    w.run_for_ms(1);
    assert_eq!(
        served(&w, 0),
        Some(h),
        "released before a successor was chosen"
    );
    let (t, gap) = planned_move(&mut w, 0, h, 5_000, 1_000);
    println!("hold: moved in {t} ms, gap {gap} ms");
    // And it stays away while on hold.
    w.run_for_ms(3_000);
    assert!((0..2).all(|v| served(&w, v).is_some_and(|x| x != h)));
    ok(&w);
}

#[test]
fn release_on_a_member_is_forwarded_to_the_boss_and_moves_it() {
    let (mut w, h) = one_vserver_served();
    let boss = w.acting()[0];
    // Asked on a box that is not the boss: it forwards a MoveRequest.
    let x = (0..3).find(|&x| x != boss).unwrap();
    assert_eq!(
        w.release(x, 0),
        Some(MoveAnswer::Forwarded { boss: boss as u8 })
    );
    let (t, gap) = planned_move(&mut w, 0, h, 3_000, 1_000);
    println!("forwarded release: moved in {t} ms, gap {gap} ms");
    let h2 = served(&w, 0).unwrap();
    // Checked once after the takeover; then asked on the boss itself: the
    // monitor answers directly.
    w.run_for_ms(500);
    assert_eq!(
        w.release(boss, 0),
        Some(MoveAnswer::Boss(MoveStart::Started { from: h2 as u8 }))
    );
    planned_move(&mut w, 0, h2, 3_000, 3_000);
    // Nothing is moved for an unknown vserver.
    assert_eq!(w.release(x, 5), Some(MoveAnswer::Unknown));
    w.run_for_ms(2_000);
    assert!(served(&w, 0).is_some());
    ok(&w);
}

#[test]
fn release_with_nobody_else_to_take_it_keeps_serving() {
    let (mut w, h) = one_vserver_served();
    for x in (0..3).filter(|&x| x != h) {
        w.control(x, Control::Hold);
    }
    // The boss (if it was one of them) steps down; the holder is the only
    // box that may act.
    until(&mut w, 3_000, |w| w.acting() == vec![h]).expect("the holder acts");
    w.run_for_ms(500);
    assert_eq!(
        w.release(h, 0),
        Some(MoveAnswer::Boss(MoveStart::NoSuccessor { from: h as u8 }))
    );
    w.run_for_ms(2_000);
    assert_eq!(served(&w, 0), Some(h));
    ok(&w);
}

#[test]
fn a_boss_on_hold_steps_down_and_its_successor_moves_its_vservers() {
    let mut w = cluster(3, 6);
    until(&mut w, 8_000, |w| (0..6).all(|v| served(w, v).is_some())).expect("all served");
    w.run_for_ms(1_000);
    let boss = w.acting()[0];
    let mine: Vec<usize> = (0..6).filter(|&v| served(&w, v) == Some(boss)).collect();
    assert!(!mine.is_empty(), "the boss serves some");
    w.control(boss, Control::Hold);
    let v = mine[0];
    planned_move(&mut w, v, boss, 5_000, 2_000);
    until(&mut w, 5_000, |w| {
        (0..6).all(|v| served(w, v).is_some_and(|x| x != boss))
    })
    .expect("all moved off the old boss");
    assert!(!w.acting().contains(&boss));
    ok(&w);
}

#[test]
fn a_stop_hands_over_before_the_box_exits() {
    let (mut w, h) = one_vserver_served();
    w.shutdown(h);
    let (t, gap) = planned_move(&mut w, 0, h, 3_000, 1_000);
    println!("stop: moved in {t} ms, gap {gap} ms");
    until(&mut w, 1_000, |w| {
        w.boxes[h].node.as_ref().unwrap().stopped()
    })
    .expect("stopped");
    ok(&w);
}

#[test]
fn a_stopping_box_nobody_relieves_releases_itself_in_time() {
    let (mut w, h) = one_vserver_served();
    for x in (0..3).filter(|&x| x != h) {
        w.control(x, Control::Hold);
    }
    w.run_for_ms(1_000);
    w.shutdown(h);
    w.run_for_ms(1_500);
    assert_eq!(
        served(&w, 0),
        Some(h),
        "served while it waits for a successor"
    );
    let limit = HANDOVER_LIMIT.as_millis() as u64 + 500;
    let t = until(&mut w, limit, |w| {
        w.boxes[h].node.as_ref().unwrap().stopped()
    })
    .expect("stopped in bounded time");
    assert!(t + 1_500 >= HANDOVER_LIMIT.as_millis() as u64 - 10, "{t}");
    assert!(w.kernels(0).is_empty(), "released on its way out");
    ok(&w);
}

#[test]
fn failed_alias_another_box_is_chosen() {
    let mut w = cluster(3, 1);
    w.alias_fail_pm = 1000;
    // Every takeover fails: nobody serves, nothing is left behind.
    w.run_for_ms(3_000);
    assert!(w.kernels(0).is_empty() && w.claimers(0).is_empty());
    w.alias_fail_pm = 0;
    let t = until(&mut w, 10_000, |w| served(w, 0).is_some()).expect("served");
    assert!(t < 5_000, "took {t} ms");
    ok(&w);
}

#[test]
fn failed_hook_excludes_that_box() {
    let mut w = cluster(3, 1);
    w.hook_fail_pm = 1000;
    // The first box told to take v0 over fails its pre-takeover hook: the
    // boss leaves it out of v0's rounds.
    until(&mut w, 5_000, |w| excluded_at_boss(w, 0) != 0).expect("a box excluded");
    w.hook_fail_pm = 0;
    let excluded = excluded_at_boss(&w, 0);
    assert_eq!(excluded.count_ones(), 1, "one box failed: {excluded:b}");
    let failed = excluded.trailing_zeros() as usize;
    let h = until(&mut w, 10_000, |w| served(w, 0).is_some())
        .and_then(|_| served(&w, 0))
        .expect("served");
    assert_ne!(h, failed, "the box whose hook failed was chosen again");
    assert_ne!(excluded_at_boss(&w, 0) & (1 << failed), 0, "still excluded");
    ok(&w);
}

/// The boxes the acting boss leaves out of `v`'s rounds (bit per box).
fn excluded_at_boss(w: &VWorld, v: usize) -> u32 {
    let Some(&b) = w.acting().first() else {
        return 0;
    };
    w.boxes[b]
        .node
        .as_ref()
        .and_then(|n| n.vservers().get(v).map(|e| e.excluded))
        .unwrap_or(0)
}

#[test]
fn unexpected_vserver_messages_are_dropped_and_counted() {
    let mut w = cluster(3, 1);
    until(&mut w, 5_000, |w| served(w, 0).is_some()).expect("served");
    w.run_for_ms(500);
    let boss = w.acting()[0];
    let other = (0..3).find(|&x| x != boss).unwrap();
    let third = (0..3).find(|&x| x != boss && x != other).unwrap();
    let now = w.local(other);
    let n = w.boxes[other].node.as_mut().unwrap();
    let before = n.ignored_messages();
    let inc = 0;
    // A move request to a box that is not the boss; one for a vserver that
    // does not exist; a release from a box it does not follow.
    n.handle_message(now, third as u8, inc, &Body::MoveRequest { vserver: 0 });
    n.handle_message(now, boss as u8, inc, &Body::MoveRequest { vserver: 0 });
    let b = w.boxes[boss].node.as_mut().unwrap();
    let b_before = b.ignored_messages();
    b.handle_message(now, third as u8, inc, &Body::MoveRequest { vserver: 9 });
    let n = w.boxes[other].node.as_mut().unwrap();
    n.handle_message(
        now,
        third as u8,
        inc,
        &Body::Release {
            vserver: 0,
            generation: u32::MAX,
            round: 3,
        },
    );
    assert_eq!(n.ignored_messages() - before, 3);
    assert_eq!(
        w.boxes[boss].node.as_ref().unwrap().ignored_messages() - b_before,
        1
    );
    w.run_for_ms(1_000);
    assert!(served(&w, 0).is_some());
    ok(&w);
}

/// Box `i` cut off from the other two, both ways.
fn isolate(w: &mut VWorld, i: usize) {
    let groups: Vec<usize> = (0..w.n()).map(|x| usize::from(x == i)).collect();
    w.partition(&groups);
}

/// Gratuitous ARPs box `b` sent for vserver `v` at or after real time
/// `from_us`: their times in ms after it.
fn garps_after(w: &VWorld, b: usize, v: usize, from_us: u64) -> Vec<u64> {
    w.garps
        .iter()
        .filter(|&&(t, x, y)| x == b && y == v && t >= from_us)
        .map(|&(t, _, _)| (t - from_us) / 1000)
        .collect()
}

/// Issue 17: the holder is cut off with some hosts, another box takes the
/// vserver over, and its gratuitous ARPs cannot reach those hosts. When
/// the partition heals, the new holder hears the old one again and sends a
/// takeover's burst once more, so those hosts learn its MAC at once
/// instead of after their ARP cache times out (tens of seconds).
#[test]
fn a_healed_partition_makes_the_holder_announce_again() {
    let (mut w, old) = one_vserver_served();
    isolate(&mut w, old);
    until(&mut w, 10_000, |w| served(w, 0).is_some_and(|x| x != old)).expect("taken over");
    let new = served(&w, 0).unwrap();
    w.run_for_ms(3_000);
    assert_eq!(garps_after(&w, new, 0, 0).len(), 4, "the takeover's burst");
    let healed = w.now_us;
    w.heal();
    w.run_for_ms(3_000);
    let again = garps_after(&w, new, 0, healed);
    // A burst of four, 100 ms apart, once the old holder's next hello came.
    assert_eq!(again.len(), 4, "{again:?}");
    assert!(again[0] < 300, "{again:?}");
    assert!(again[3] - again[0] >= 300, "spaced: {again:?}");
    assert!(
        garps_after(&w, old, 0, healed).is_empty(),
        "the old holder holds nothing and announces nothing"
    );
    assert_eq!(served(&w, 0), Some(new));
    ok(&w);
}

/// A link that flaps makes a box heard again over and over: the holder
/// sends at most one burst per second for each vserver.
#[test]
fn a_flapping_box_does_not_make_a_garp_storm() {
    let (mut w, h) = one_vserver_served();
    let flapper = (0..3)
        .find(|&x| x != h && !w.acting().contains(&x))
        .unwrap();
    let from = w.now_us;
    for _ in 0..12 {
        // Long enough to be missed (dead 600 ms), short enough for the
        // holder and the boss to keep their quorum.
        isolate(&mut w, flapper);
        w.run_for_ms(700);
        w.heal();
        w.run_for_ms(150);
    }
    let secs = (w.now_us - from).div_ceil(1_000_000) as usize;
    let sent = garps_after(&w, h, 0, from);
    eprintln!(
        "flapping: {} gratuitous ARPs in {secs} s: {sent:?}",
        sent.len()
    );
    assert!(sent.len() >= 4, "announced again: {sent:?}");
    assert!(
        sent.len() <= 4 * (secs + 1),
        "{} in {secs} s: {sent:?}",
        sent.len()
    );
    // Bursts begin at least a second apart.
    let starts: Vec<u64> = sent.iter().step_by(4).copied().collect();
    assert!(starts.windows(2).all(|p| p[1] - p[0] >= 1_000), "{sent:?}");
    assert_eq!(served(&w, 0), Some(h));
    ok(&w);
}

/// `fencing none` (a pair, quorum 1): both sides of a partition take the
/// vserver, each announcing itself to its side. When it heals both hear
/// each other and announce again, in either order; the boss then has one
/// release it. The one that keeps it announces again once the other stops
/// claiming, or hosts that heard the other last would name a box that no
/// longer has the address.
#[test]
fn the_box_that_keeps_a_doubly_claimed_vserver_announces_it_last() {
    for first in 0..2 {
        for lag in [0, 300, 700] {
            let cfg = with_vservers(config(2, 200, 600, 1, Fencing::None), 1, 200, 3_000, true);
            let mut w = VWorld::scripted(cfg);
            for i in 0..2 {
                w.start_at(i, 0);
            }
            until(&mut w, 5_000, |w| served(w, 0).is_some()).expect("served");
            w.partition(&[0, 1]);
            until(&mut w, 10_000, |w| w.kernels(0).len() == 2).expect("both sides serve");
            w.run_for_ms(2_000);
            let healed = w.now_us;
            // One way first: box `first` hears the other `lag` ms earlier.
            w.set_cut(1 - first, first, false);
            w.run_for_ms(lag);
            w.heal();
            until(&mut w, 10_000, |w| w.claimers(0).len() == 1).expect("one claimer");
            let keeper = w.claimers(0)[0];
            w.run_for_ms(3_000);
            let last = w.garps.iter().rfind(|g| g.0 >= healed && g.2 == 0);
            assert_eq!(
                last.map(|g| g.1),
                Some(keeper),
                "box {first} heard the other {lag} ms first; gratuitous ARPs since the heal: \
                 box 0 {:?}, box 1 {:?}",
                garps_after(&w, 0, 0, healed),
                garps_after(&w, 1, 0, healed)
            );
            assert_eq!(served(&w, 0), Some(keeper));
        }
    }
}

/// `garp-refresh`: while held, one gratuitous ARP every period.
#[test]
fn garp_refresh_announces_a_held_address_every_period() {
    let mut cfg = with_vservers(
        config(3, 200, 600, majority(3), Fencing::Lease),
        1,
        200,
        3_000,
        true,
    );
    cfg.vservers[0].garp_refresh = Some(std::time::Duration::from_secs(2));
    let mut w = VWorld::scripted(cfg);
    for i in 0..3 {
        w.start_at(i, 0);
    }
    until(&mut w, 5_000, |w| served(w, 0).is_some()).expect("served");
    let h = served(&w, 0).unwrap();
    let from = w.now_us;
    w.run_for_ms(10_500);
    let sent = garps_after(&w, h, 0, from);
    // The takeover's burst may end inside the window; then one each 2 s.
    let refreshes: Vec<u64> = sent.iter().copied().filter(|&t| t >= 1_000).collect();
    assert_eq!(refreshes.len(), 5, "{sent:?}");
    assert!(
        refreshes
            .windows(2)
            .all(|p| (1_990..=2_010).contains(&(p[1] - p[0]))),
        "{sent:?}"
    );
    ok(&w);
}

/// Issue 16.6: a box on hold kept showing `web … state UU1 holder ux1`
/// with a frozen `since` while another box held it. Once it no longer acts,
/// the table it kept is not what it knows: only the acting boss's own
/// table and a deputy's fresh copy are.
#[test]
fn a_boss_on_hold_knows_no_table() {
    let (mut w, _) = one_vserver_served();
    let b = w.acting()[0];
    let local = w.local(b);
    let (t, age) = w.boxes[b]
        .node
        .as_ref()
        .unwrap()
        .known_table(local)
        .expect("the boss's");
    assert_eq!((t.len(), age), (1, 0));
    let d = w.boxes[b].node.as_ref().unwrap().core().deputies()[0] as usize;
    let local = w.local(d);
    let (_, age) = w.boxes[d]
        .node
        .as_ref()
        .unwrap()
        .known_table(local)
        .expect("a copy");
    assert!(age <= 200, "{age} ms");
    w.control(b, Control::Hold);
    until(&mut w, 3_000, |w| {
        w.acting().first().is_some_and(|&a| a != b)
    })
    .expect("successor");
    w.run_for_ms(2_000);
    let n = w.boxes[b].node.as_ref().unwrap();
    assert!(!n.vservers().is_empty(), "it still keeps the old table");
    assert!(n.known_table(w.local(b)).is_none(), "but does not know it");
    ok(&w);
}

/// Issue 16.6: a box stopped with SIGTERM was shown as lost. The shell's
/// last act tells the others it leaves; a new run of it joins again.
#[test]
fn a_stopped_box_is_left_at_the_others() {
    let (mut w, h) = one_vserver_served();
    w.shell_exits = true;
    w.shutdown(h);
    until(&mut w, 3_000, |w| !w.up(h)).expect("exited");
    w.run_for_ms(5);
    for o in (0..3).filter(|&o| o != h) {
        let core = w.boxes[o].node.as_ref().unwrap().core();
        assert!(core.left(h as u8), "box {o}");
    }
    // The shell starts it again 200 ms later: a new run is a member again.
    until(&mut w, 2_000, |w| {
        (0..3)
            .filter(|&o| o != h)
            .all(|o| !w.boxes[o].node.as_ref().unwrap().core().left(h as u8))
    })
    .expect("joined again");
    ok(&w);
}
