//! Vserver scenarios: whole boxes ([`vworld::VWorld`]) under faults.
//!
//! Each scenario: 3..=8 boxes (one in twenty: up to 12) × 8 vservers
//! (one in four: up to 16), timers around the defaults, some vservers with
//! an original host that dies (and sometimes comes back), then a fault phase
//! (daemon kills, box crashes, pauses, partitions, asymmetric cuts, hold,
//! graceful stops, operator `release` of a vserver on a random box, service
//! and self-check failures, failing hooks and aliases, loss, original hosts
//! going and coming) for 6-20 s, then quiet. A graceful stop exits as the
//! shell does: once the node says it is `stopped`, or at the shell's stop
//! grace, removing what is left.
//! Besides the world's per-step invariants (a) and (b), checked:
//!
//! * **(c) liveness.** After the faults stop, every vserver is served within
//!   [`served_bound_ms`]: if its original host is up, no kernel holds the
//!   address (`failback auto`); otherwise exactly one kernel holds it and
//!   that box claims it (UU1).
//! * **(d) no flap.** Once the faults' echoes are over, until the end of
//!   the quiet period after (c), each vserver is taken over (an alias
//!   added) at most once by a takeover begun in that time. The echoes: a
//!   stop under way when the faults end completes and its box restarts,
//!   and then a lease (`dead`) passes, since a lease begun under the faults
//!   may rightly lapse within one (seed 184: a box restarted at the stop
//!   cost a holder the quorum behind its lease; 2718306787: two boxes
//!   stopping at the end left the third alone; 3141608207: two hellos lost
//!   just before the end while two of six boxes restarted).
//!
//! Then the holder of vserver 0 is crashed (the whole box, or only its
//! daemon on odd seeds) and the time until another box claims it is the
//! fail-over time.

use bongoyo::cluster::Control;
use bongoyo::config::Fencing;
use bongoyo::daemon::STOP_GRACE;
use bongoyo::vserver::monitor::{DOWN_CONFIRM, GRACE_CHECKS};

use super::converge_bound_ms;
use super::faults::{random_cuts, random_groups, Pending};
use super::vworld::{with_vservers, VWorld, LIFETIME_US};
use super::world::net::Wire;
use super::world::{config, majority, Rng};

/// Timers of one scenario.
#[derive(Clone, Copy, Debug)]
pub struct Timers {
    pub hello: u64,
    pub dead: u64,
    pub check: u64,
    pub takeover: u64,
}

/// After the faults stop, every vserver is served within this bound (ms):
/// the cluster agrees again ([`converge_bound_ms`]); an orphan alias left by
/// a killed or frozen daemon goes within two kernel lifetimes; a takeover
/// started just before may run out its timeout; a verdict needs
/// `DOWN_CONFIRM` checks, a dead holder `GRACE_CHECKS` more before it is
/// told to release; then a volunteer round (one hello) and the takeover
/// itself (hooks < 100 ms); twice, since a takeover ordered while the
/// cluster settled may fail once (its box lost the lease meanwhile).
pub fn served_bound_ms(t: Timers) -> u64 {
    converge_bound_ms(t.hello, t.dead)
        + 2 * LIFETIME_US / 1000
        + t.takeover
        + 2 * ((DOWN_CONFIRM as u64 + GRACE_CHECKS as u64 + 1) * t.check + t.hello + 200)
}

/// Holder crash to another box claiming, at these timers (ms): the loss is
/// declared after `dead` plus a probe window (one hello), the re-check is
/// urgent (one check round trip), a round (one hello), the takeover
/// (hooks); a killed daemon's kernel holds the address up to two lifetimes
/// after its last renewal, which overlaps the detection.
pub fn failover_bound_ms(t: Timers, kernel_alive: bool) -> u64 {
    let detect = t.dead + 2 * t.hello + t.check + 300;
    if kernel_alive {
        detect.max(2 * LIFETIME_US / 1000 + t.check) + t.hello + 2 * t.check + 300
    } else {
        detect + t.hello + 300
    }
}

pub struct VOutcome {
    pub violations: Vec<String>,
    pub failover_ms: Option<u64>,
    pub box_crash: bool,
    pub moves: u64,
    pub excused: u64,
    /// Operator releases asked during the faults.
    pub releases: u64,
    /// Planned moves the bosses ordered (a release with a successor).
    pub planned_moves: u64,
    /// What the codecs did.
    pub wire: Wire,
    pub trace: String,
}

/// Served now (see (c)).
pub fn served(w: &VWorld, v: usize) -> bool {
    let k = w.kernels(v);
    if w.original_up[v] {
        return k.is_empty();
    }
    k.len() == 1 && w.claimers(v) == k
}

pub fn all_served(w: &VWorld) -> bool {
    (0..w.nv).all(|v| served(w, v))
}

/// The box serving vserver `v`, if one does.
pub fn holder(w: &VWorld, v: usize) -> Option<usize> {
    let k = w.kernels(v);
    (k.len() == 1 && w.claimers(v) == k).then(|| k[0])
}

/// Which faults a scenario draws.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mix {
    /// Every kind, as [`run_seed`] does.
    All,
    /// The classes the fresh-seed sweeps found (issue 10): graceful stops
    /// and `hold` during one-way cuts, restarts right after a stop, holders
    /// dying while another box returns, pauses (a frozen daemon keeps its
    /// stale table and its leases run out).
    Handover,
}

/// The fault kinds [`Mix::Handover`] draws from (indexes into the match of
/// [`run`]): one-way cuts, pauses, hold, stop, and the holder dying (twice
/// each), a daemon kill and a restart.
const HANDOVER_FAULTS: [u64; 11] = [4, 4, 2, 5, 5, 6, 6, 14, 14, 0, 3];

pub fn run(seed: u64, n: usize, nv: usize, t: Timers, faults: bool, crash_box: bool) -> VOutcome {
    run_mix(seed, n, nv, t, faults, crash_box, Mix::All)
}

pub fn run_mix(
    seed: u64,
    n: usize,
    nv: usize,
    t: Timers,
    faults: bool,
    crash_box: bool,
    mix: Mix,
) -> VOutcome {
    let mut r = Rng(seed ^ 0x7653_0000);
    let hooks = r.chance(500);
    let cfg = with_vservers(
        config(n, t.hello, t.dead, majority(n), Fencing::Lease),
        nv,
        t.check,
        t.takeover,
        hooks,
    );
    let mut w = VWorld::new(cfg, seed);
    w.verbose = std::env::var("SIM_DEBUG").is_ok();
    w.dump = std::env::var("SIM_DUMP").is_ok();
    w.shell_exits = true;
    w.net.delay_min_us = r.range(100, 2_000);
    w.net.delay_jitter_us = r.range(0, 5_000);
    for v in 0..nv {
        w.original_up[v] = faults && r.chance(250);
    }
    for i in 0..n {
        w.start_at(i, r.range(0, 1_000) * 1000);
    }
    let mut pending = Pending::<VWorld>::new();
    let mut releases = 0u64;
    let fault_end_ms = if faults {
        2_000 + r.range(6_000, 20_000)
    } else {
        3_000
    };
    let mut now = r.range(1_500, 4_000);
    while faults && now < fault_end_ms {
        w.run_until(now * 1000);
        pending.apply_due(&mut w, now);
        let x = r.below(n as u64) as usize;
        let dur = r.range(300, 5_000);
        let v = r.below(nv as u64) as usize;
        let kind = match mix {
            Mix::All => r.below(15),
            Mix::Handover => HANDOVER_FAULTS[r.below(HANDOVER_FAULTS.len() as u64) as usize],
        };
        match kind {
            0 => {
                w.crash_daemon(x);
                pending.at(now + dur, move |w| w.restart(x));
            }
            1 => {
                w.crash_box(x);
                pending.at(now + dur, move |w| w.restart(x));
            }
            2 => {
                w.pause(x);
                pending.at(now + dur, move |w| w.resume(x));
            }
            3 => {
                let g = random_groups(&mut r, n);
                w.note_fault(0, format!("partition {g:?}"));
                w.partition(&g);
                pending.at(now + dur, VWorld::heal);
            }
            4 => {
                for (a, b) in random_cuts(&mut r, n) {
                    w.set_cut(a, b, true);
                }
                pending.at(now + dur, VWorld::heal);
            }
            5 => {
                w.control(x, Control::Hold);
                pending.at(now + dur, move |w| w.control(x, Control::Resume));
            }
            // The world's shell exits once stopped (or at its grace).
            6 => w.shutdown(x),
            7 => {
                w.boxes[x].kernel.service_ok[v] = false;
                w.note_fault(x, format!("service v{v} sick"));
                pending.at(now + dur, move |w| w.boxes[x].kernel.service_ok[v] = true);
            }
            8 => w.hook_fail_pm = r.range(0, 300),
            9 => w.alias_fail_pm = r.range(0, 300),
            10 => w.net.loss_pm = r.range(0, 200),
            11 => {
                w.original_up[v] = !w.original_up[v];
                w.note_fault(0, format!("original v{v} up={}", w.original_up[v]));
            }
            12 => {
                // `bongoyo release` of a random vserver on a random box.
                releases += u64::from(w.release(x, v).is_some());
            }
            _ => {
                // The holder of a vserver dies: the case worth hammering.
                if let Some(h) = holder(&w, v) {
                    if r.chance(500) {
                        w.crash_box(h);
                    } else {
                        w.crash_daemon(h);
                    }
                    pending.at(now + dur, move |w| w.restart(h));
                }
            }
        }
        now += match mix {
            Mix::All => r.range(200, 2_500),
            Mix::Handover => r.range(200, 1_500),
        };
    }
    w.run_until(fault_end_ms * 1000);
    pending.apply_all(&mut w);
    for i in 0..n {
        w.resume(i);
        w.restart(i);
        if w.boxes[i].held {
            w.control(i, Control::Resume);
        }
        for v in 0..nv {
            w.boxes[i].kernel.service_ok[v] = true;
        }
    }
    w.heal();
    w.net.loss_pm = 0;
    w.hook_fail_pm = 0;
    w.alias_fail_pm = 0;
    w.note_fault(0, "faults stop".into());
    let bound = served_bound_ms(t);
    let start = w.now_us;
    let mut ok = false;
    while w.now_us < start + bound * 1000 {
        w.run_for_ms(5);
        if all_served(&w) {
            ok = true;
            break;
        }
    }
    if !ok {
        let bad: Vec<String> = (0..nv)
            .filter(|&v| !served(&w, v))
            .map(|v| {
                format!(
                    "v{v} kernels={:?} claimers={:?} owners={:?} original={}",
                    w.kernels(v),
                    w.claimers(v),
                    w.owners(v),
                    w.original_up[v]
                )
            })
            .collect();
        w.violation(format!(
            "(c) not served {bound}ms after the faults stopped: {bad:?}"
        ));
    }
    // Quiet: nothing moves any more, once the faults' echoes are over. A
    // stop under way when they ended completes (the box restarts after),
    // and a lease begun under the faults runs out within a lease: with
    // hellos lost just before the end, or boxes restarting, a holder may
    // rightly lose its lease (sim seeds 2718306787: two boxes stopping at
    // the end left one alone; 3141608207: two hellos lost while two of six
    // boxes restarted).
    let settle_until = w.now_us + STOP_GRACE.as_micros() as u64 + 1_000_000;
    while w.now_us < settle_until && (0..n).any(|i| !w.running(i) || w.boxes[i].stopping) {
        w.run_for_ms(5);
    }
    w.quiet_since = Some(w.now_us + t.dead * 1000);
    w.run_for_ms(t.dead + 3_000 + 2 * t.check);
    for v in 0..nv {
        let moves: u32 = w.boxes.iter().map(|b| b.quiet_takeovers[v]).sum();
        if moves > 1 {
            w.violation(format!(
                "(d) v{v} taken over {moves} times after the faults stopped"
            ));
        }
        if ok && !served(&w, v) {
            w.violation(format!("(c) v{v} not served in the quiet after"));
        }
    }
    // Fail-over: crash the holder of a vserver some box serves.
    let mut failover_ms = None;
    if let Some((v, h)) = (0..nv).find_map(|v| holder(&w, v).map(|h| (v, h))) {
        w.run_for_ms(r.range(0, t.hello));
        if crash_box {
            w.crash_box(h);
        } else {
            w.crash_daemon(h);
        }
        let start = w.now_us;
        let limit = 10 * failover_bound_ms(t, !crash_box);
        while w.now_us < start + limit * 1000 {
            w.run_for_ms(1);
            if w.claimers(v).iter().any(|&x| x != h) {
                failover_ms = Some((w.now_us - start) / 1000);
                break;
            }
        }
        if failover_ms.is_none() && std::env::var("SIM_DEBUG").is_ok() {
            let b = w.acting();
            let e = b
                .first()
                .and_then(|&b| w.boxes[b].node.as_ref().unwrap().vservers().get(v).cloned());
            eprintln!(
                "v{v} holder {h} kernels={:?} claimers={:?} acting={b:?} entry={e:?} lifetime_phase={}",
                w.kernels(v),
                w.claimers(v),
                w.boxes[h].kernel.phase_us
            );
        }
        match failover_ms {
            None => w.violation(format!("no fail-over of v{v} after box {h} crashed")),
            Some(ms) if ms > failover_bound_ms(t, !crash_box) => w.violation(format!(
                "fail-over of v{v} took {ms}ms > bound {}ms",
                failover_bound_ms(t, !crash_box)
            )),
            _ => {}
        }
    }
    let moves = w
        .boxes
        .iter()
        .flat_map(|b| b.takeovers.iter())
        .map(|&x| x as u64)
        .sum();
    let trace = format!(
        "n={n} nv={nv} {t:?} hooks={hooks} crash_box={crash_box}\n{}",
        w.first_trace
    );
    VOutcome {
        violations: w.violations,
        failover_ms,
        box_crash: crash_box,
        moves,
        excused: w.excused_windows,
        releases,
        planned_moves: w.planned_moves,
        wire: w.wire,
        trace,
    }
}

/// A random scenario from a seed.
pub fn run_seed(seed: u64) -> VOutcome {
    let mut r = Rng(seed.wrapping_mul(31) ^ 0x5e7);
    let n = if r.chance(50) {
        r.range(9, 12)
    } else {
        r.range(3, 8)
    } as usize;
    // At least 8 vservers (issue 5 asks for 3 boxes x 8 at the least): many
    // vservers on few boxes is where rounds, load spreading and hand-overs
    // interleave; one scenario in four has up to 16.
    let nv = if r.chance(250) { r.range(9, 16) } else { 8 } as usize;
    let hello = r.range(100, 300);
    let t = Timers {
        hello,
        dead: hello * r.range(3, 5),
        check: r.range(100, 400),
        takeover: r.range(1_500, 4_000),
    };
    run(seed, n, nv, t, true, seed % 2 == 0)
}

/// A [`Mix::Handover`] scenario: 3 to 5 boxes (where one cut or one stop
/// is a large part of the quorum), 8 vservers, faults every 0.2-1.5 s.
pub fn run_handover_seed(seed: u64) -> VOutcome {
    let mut r = Rng(seed.wrapping_mul(37) ^ 0x4a2d);
    let n = r.range(3, 5) as usize;
    let hello = r.range(100, 300);
    let t = Timers {
        hello,
        dead: hello * r.range(3, 5),
        check: r.range(100, 400),
        takeover: r.range(1_500, 4_000),
    };
    run_mix(seed, n, 8, t, true, seed % 2 == 0, Mix::Handover)
}
