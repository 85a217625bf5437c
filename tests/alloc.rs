//! The cluster core allocates nothing after construction (docs/MODEL.md).
//!
//! A counting global allocator counts allocations made on this test's thread
//! while armed. Five cores run through a minute of simulated time — cold
//! start, loss, a partition, the boss crashing and coming back with a new
//! incarnation, a pause, hold and resume — with a driver that itself uses
//! only fixed tables allocated before arming. The count must stay zero.

// A global allocator cannot be written without `unsafe`; this test file is
// the one place outside `src/os` that needs it, and it only forwards to
// `System`.
#![allow(unsafe_code)]

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::sync::atomic::{AtomicU64, Ordering};

use bongoyo::cluster::{Action, Control, Core, Dest};
use bongoyo::config::{Config, Fencing, Key, NodeConf, DEFAULT_GROUP, DEFAULT_PORT};
use bongoyo::proto::{Body, Role};
use bongoyo::time::Instant;

struct Counting;

static ALLOCATIONS: AtomicU64 = AtomicU64::new(0);

thread_local! {
    static ARMED: Cell<bool> = const { Cell::new(false) };
}

fn count() {
    if ARMED.with(|a| a.get()) {
        ALLOCATIONS.fetch_add(1, Ordering::Relaxed);
    }
}

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        count();
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        count();
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

const N: usize = 5;
const IN_FLIGHT: usize = 256;

struct Msg {
    at: u64,
    to: u8,
    from: u8,
    inc: u64,
    body: Body,
}

fn config() -> Config {
    let mut nodes = heapless::Vec::new();
    for i in 0..N {
        let mut name = heapless::String::new();
        let _ = name.push_str(["f1", "f2", "f3", "f4", "f5"][i]);
        let _ = nodes.push(NodeConf {
            name,
            address: core::net::Ipv4Addr::new(10, 0, 0, 11 + i as u8).into(),
            priority: 100,
        });
    }
    Config {
        cluster: heapless::String::try_from("alloc").unwrap(),
        key: Key::Insecure,
        interface: heapless::String::try_from("eth0").unwrap(),
        multicast: DEFAULT_GROUP.into(),
        port: DEFAULT_PORT,
        peers: heapless::Vec::new(),
        hello: std::time::Duration::from_millis(200),
        dead: std::time::Duration::from_millis(600),
        quorum: 3,
        fencing: Fencing::Lease,
        notify: None,
        lost_alert: std::time::Duration::from_secs(5),
        nodes,
        vservers: heapless::Vec::new(),
        health: Default::default(),
    }
}

#[test]
fn core_allocates_nothing_after_construction() {
    let cfg = config();
    let mut cores: Vec<Core> = (0..N)
        .map(|i| Core::new(&cfg, i as u8, 1000 + i as u64, Instant(0)))
        .collect();
    let mut incs = [0u64; N];
    for (i, inc) in incs.iter_mut().enumerate() {
        *inc = 1000 + i as u64;
    }
    let mut flight: Box<heapless::Deque<Msg, IN_FLIGHT>> = Box::new(heapless::Deque::new());
    let mut up = [true; N];
    let mut paused = [false; N];
    let mut cut = [[false; N]; N];
    let mut rng = 0x2545_f491_4f6c_dd1du64;
    let mut boss_changes = 0u32;
    let mut sends = 0u64;
    let mut last_boss: Option<u8> = None;

    ARMED.with(|a| a.set(true));
    // The counter counts: one allocation seen, then start from zero.
    drop(std::hint::black_box(Box::new(7u64)));
    assert_eq!(
        ALLOCATIONS.swap(0, Ordering::Relaxed),
        1,
        "the counting allocator is not in use"
    );
    for t in 0..60_000u64 {
        let now = Instant(t);
        // Faults on a script.
        match t {
            10_000 => {
                for (a, row) in cut.iter_mut().enumerate() {
                    for (b, c) in row.iter_mut().enumerate() {
                        *c = (a < 2) != (b < 2);
                    }
                }
            }
            15_000 => cut = [[false; N]; N],
            20_000..=25_000 if t % 5_000 == 0 => {
                // Crash whoever is boss, then reboot it.
                if let Some(b) = (0..N).find(|&i| up[i] && cores[i].role() == Role::Boss) {
                    up[b] = false;
                }
            }
            27_000 => {
                for i in 0..N {
                    if !up[i] {
                        incs[i] += 100;
                        cores[i] = Core::new(&cfg, i as u8, incs[i], now);
                        up[i] = true;
                    }
                }
            }
            32_000 => paused[1] = true,
            36_000 => paused[1] = false,
            40_000 => cores[2].handle_control(now, Control::Hold),
            44_000 => cores[2].handle_control(now, Control::Resume),
            46_000 => cores[3].handle_health(now, 0),
            48_000 => cores[3].handle_health(now, 80),
            _ => {}
        }
        // Deliver what is due (constant delay keeps the queue in order).
        while flight.front().is_some_and(|m| m.at <= t) {
            let Some(m) = flight.pop_front() else { break };
            let to = m.to as usize;
            if up[to] && !paused[to] && incs[m.from as usize] == m.inc {
                cores[to].handle_message(now, m.from, m.inc, &m.body);
            }
        }
        for i in 0..N {
            if !up[i] || paused[i] {
                continue;
            }
            if cores[i].poll_timeout().is_some_and(|w| w <= now) {
                cores[i].handle_timeout(now);
            }
            while let Some(a) = cores[i].poll_action() {
                let Action::Send { to, body } = a else {
                    continue;
                };
                sends += 1;
                for (j, &cut_off) in cut[i].iter().enumerate() {
                    let wanted = match to {
                        Dest::All => j != i,
                        Dest::Node(n) => n as usize == j,
                    };
                    rng ^= rng << 13;
                    rng ^= rng >> 7;
                    rng ^= rng << 17;
                    let lost = rng % 100 < 5;
                    if wanted && !cut_off && !lost && !flight.is_full() {
                        let _ = flight.push_back(Msg {
                            at: t + 1,
                            to: j as u8,
                            from: i as u8,
                            inc: incs[i],
                            body: body.clone(),
                        });
                    }
                }
            }
        }
        let boss = (0..N)
            .find(|&i| up[i] && cores[i].role() == Role::Boss)
            .map(|i| i as u8);
        if boss.is_some() && boss != last_boss {
            boss_changes += 1;
            last_boss = boss;
        }
    }
    ARMED.with(|a| a.set(false));

    assert_eq!(
        ALLOCATIONS.load(Ordering::Relaxed),
        0,
        "the core allocated after construction"
    );
    assert!(sends > 2_000, "the cluster talked: {sends} sends");
    assert!(
        boss_changes >= 2,
        "the faults moved the boss: {boss_changes} changes"
    );
    assert!(
        (0..N).any(|i| cores[i].role() == Role::Boss),
        "a boss at the end"
    );
}

/// Whole boxes ([`bongoyo::node::Node`]: core, monitor, holder) allocate
/// nothing either, through the planned moves of `bongoyo release` (local
/// and forwarded), `bongoyo hold` and a stop. The driver plays the kernel:
/// steps succeed at once, a reachability check sees the MAC of the box
/// whose alias is up.
#[test]
fn nodes_allocate_nothing_through_planned_moves() {
    use bongoyo::node::{Node as Box_, Output};
    use bongoyo::takeover::Step;
    use bongoyo::vserver::monitor::CheckKind;

    const B: usize = 3;
    const V: usize = 2;
    let text = "cluster a\nkey-file insecure\ninterface eth0\n\
        node f1 10.0.0.11\nnode f2 10.0.0.12\nnode f3 10.0.0.13\n\
        vserver web {\n address 10.0.0.50/24\n interface eth0\n service tcp 80\n check 200ms\n}\n\
        vserver db {\n address 10.0.0.51/24\n interface eth0\n service tcp 80\n check 200ms\n}\n";
    let cfg = bongoyo::config::parse("a.conf", text).expect("config");
    let mac = |i: usize| [2, 0, 0, 0, 0, i as u8 + 1];
    let mut boxes: Vec<Box_> = (0..B)
        .map(|i| {
            let mut n = Box_::new(&cfg, i as u8, 500 + i as u64, Instant(0));
            n.set_mac(mac(i));
            n
        })
        .collect();
    let mut flight: Box<heapless::Deque<Msg, IN_FLIGHT>> = Box::new(heapless::Deque::new());
    // Per box: results to feed back next millisecond (fixed table).
    let mut results: Box<heapless::Deque<(u8, Output), IN_FLIGHT>> =
        Box::new(heapless::Deque::new());
    let mut alias = [[false; V]; B];
    let mut moves = 0u32;
    let mut stopped = false;

    ARMED.with(|a| a.set(true));
    drop(std::hint::black_box(Box::new(7u64)));
    assert_eq!(ALLOCATIONS.swap(0, Ordering::Relaxed), 1);
    let holder = |alias: &[[bool; V]; B], v: usize| (0..B).find(|&i| alias[i][v]);
    let mut first_holder = None;
    for t in 0..20_000u64 {
        let now = Instant(t);
        match t {
            5_000 => first_holder = holder(&alias, 0),
            // `release web` on the boss and on another box.
            6_000 | 8_000 => {
                let on = if t == 6_000 { 0 } else { 2 };
                let _ = boxes[on].request_move(now, 0);
            }
            10_000 => {
                if let Some(h) = holder(&alias, 1) {
                    boxes[h].handle_control(now, Control::Hold);
                }
            }
            13_000 => {
                for b in boxes.iter_mut() {
                    b.handle_control(now, Control::Resume);
                }
            }
            15_000 => {
                if let Some(h) = holder(&alias, 0) {
                    boxes[h].shutdown(now);
                }
            }
            _ => {}
        }
        while flight.front().is_some_and(|m| m.at <= t) {
            let Some(m) = flight.pop_front() else { break };
            boxes[m.to as usize].handle_message(now, m.from, m.inc, &m.body);
        }
        while let Some((i, o)) = results.pop_front() {
            let i = i as usize;
            match o {
                Output::Step { vserver, step } => boxes[i].handle_step(now, vserver, step, true),
                Output::SelfCheck { vserver } => boxes[i].handle_self_check(now, vserver, true),
                Output::Check { vserver, kind, .. } => {
                    let v = vserver as usize;
                    let up = holder(&alias, v);
                    match kind {
                        CheckKind::Service => boxes[i].handle_service(now, vserver, up.is_some()),
                        CheckKind::Reach => match up {
                            Some(h) => boxes[i].handle_reach(now, vserver, &[mac(h)]),
                            None => boxes[i].handle_reach(now, vserver, &[]),
                        },
                    }
                }
                _ => {}
            }
        }
        for i in 0..B {
            if boxes[i].poll_timeout().is_some_and(|w| w <= now) {
                boxes[i].handle_timeout(now);
            }
            while let Some(o) = boxes[i].poll_output() {
                match o {
                    Output::Send { to, body } => {
                        for j in (0..B).filter(|&j| j != i) {
                            let wanted = match to {
                                Dest::All => true,
                                Dest::Node(n) => n as usize == j,
                            };
                            if wanted && !flight.is_full() {
                                let _ = flight.push_back(Msg {
                                    at: t + 1,
                                    to: j as u8,
                                    from: i as u8,
                                    inc: 500 + i as u64,
                                    body: body.clone(),
                                });
                            }
                        }
                    }
                    Output::Step { vserver, step } => {
                        let v = vserver as usize;
                        match step {
                            Step::AddAlias => alias[i][v] = true,
                            Step::RemoveAlias => alias[i][v] = false,
                            _ => {}
                        }
                        let _ = results.push_back((i as u8, o));
                    }
                    Output::VsMoving { .. } => moves += 1,
                    Output::Check { .. } | Output::SelfCheck { .. } => {
                        let _ = results.push_back((i as u8, o));
                    }
                    _ => {}
                }
            }
        }
        if t > 15_000 && !stopped {
            stopped = boxes.iter().any(|b| b.stopped());
        }
    }
    ARMED.with(|a| a.set(false));
    let n = ALLOCATIONS.load(Ordering::Relaxed);
    assert!(first_holder.is_some(), "web was never served");
    assert!(moves >= 3, "only {moves} planned moves");
    assert!(stopped, "the stopping box never finished");
    assert!(
        (0..V).all(|v| (0..B).filter(|&i| alias[i][v]).count() == 1),
        "{alias:?}"
    );
    assert_eq!(n, 0, "{n} allocations in the nodes after construction");
}
