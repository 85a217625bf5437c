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
    let mut w = cluster(3, 1);
    until(&mut w, 5_000, |w| served(w, 0).is_some()).expect("served");
    w.run_for_ms(1_000);
    let h = served(&w, 0).unwrap();
    w.crash_box(h);
    let t = until(&mut w, 10_000, |w| served(w, 0).is_some_and(|x| x != h)).expect("moved");
    // dead + probe + a re-check + a round + the takeover.
    assert!(t < 2_000, "fail-over took {t} ms");
    ok(&w);
}

#[test]
fn holder_daemon_killed_waits_for_the_kernel_then_moves() {
    let mut w = cluster(3, 1);
    until(&mut w, 5_000, |w| served(w, 0).is_some()).expect("served");
    w.run_for_ms(1_000);
    let h = served(&w, 0).unwrap();
    w.crash_daemon(h);
    // The orphan alias answers until its lifetime runs out (1-2 s after the
    // last renewal); only then may another box take the address.
    let t = until(&mut w, 10_000, |w| w.claimers(0).iter().any(|&x| x != h)).expect("moved");
    assert!(t >= 1_000, "moved after {t} ms, before the kernel let go");
    assert!(t < 3_500, "fail-over took {t} ms");
    ok(&w);
}

#[test]
fn shutdown_releases_everything() {
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

#[test]
fn hold_hands_over() {
    let mut w = cluster(3, 2);
    until(&mut w, 8_000, |w| (0..2).all(|v| served(w, v).is_some())).expect("all served");
    let h = served(&w, 0).unwrap();
    w.control(h, Control::Hold);
    let t = until(&mut w, 5_000, |w| served(w, 0).is_some_and(|x| x != h)).expect("handed over");
    assert!(t < 1_500, "hand-over took {t} ms");
    // And it stays away while on hold.
    w.run_for_ms(3_000);
    assert!((0..2).all(|v| served(&w, v).is_some_and(|x| x != h)));
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
    w.run_for_ms(2_000);
    w.hook_fail_pm = 0;
    until(&mut w, 10_000, |w| served(w, 0).is_some()).expect("served");
    ok(&w);
}
