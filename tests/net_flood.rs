//! A flood must not delay fencing (issue 17, item 2): the same two faults
//! on the namespace LAN of `tests/net_failover.rs`, once on a quiet LAN and
//! once while a host without the key floods every box with 150,000 forged
//! datagrams a second (a captured hello with its tag flipped: it passes
//! every cheap check and costs each box an HMAC).
//!
//! 1. The holder is cut off from the other boxes (nftables in its own
//!    namespace, the flood still reaches it): its lease lapses and it must
//!    give up the address. Measured: from the cut to the address leaving
//!    its kernel.
//! 2. The holder box dies (daemon killed, link down): another box must
//!    serve. Measured: the client's outage.
//!
//! The flood may cost time, but never the lease's bound: the release under
//! the flood is asserted within the same bound as without (`dead` at the
//! defaults plus a margin for two slow shared cores); the figures, quiet
//! and flooded, are printed as `FIGURE` lines for `make bench`. The bad
//! datagrams are logged as one summary line per window, never one each.

mod common;

use std::net::{Ipv4Addr, SocketAddrV4, UdpSocket};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use common::lan::{Client, Lan, Opts, BOXES};
use common::netns::{eventually, has_addr, nft_or_skip, root_or_skip, sh, spawn_in};

/// Forged datagrams a second, all boxes together.
const RATE: u64 = 150_000;
/// Consecutive answered attempts (x 20 ms) that count as "served".
const STEADY: usize = 10;
/// The release after a cut: `dead` (600 ms at the defaults) bounds the
/// lease, and the kernel lifetime (fencing layer 2: up to 2 s after the
/// last renewal) bounds it even when the daemon is slow to run; the rest is
/// room for slow shared cores and the 5 ms poll. (The figures, usually
/// 370-640 ms, are printed; one CI run on a loaded machine took 2.9 s
/// without a flood.)
const RELEASE_LIMIT_MS: u64 = 600 + 2_000 + 1_400;

fn figure(name: &str, value: u64) {
    println!("FIGURE {name} {value}");
}

/// A running flood; stopped (and its count returned) by [`Flood::stop`].
struct Flood {
    stop: Arc<AtomicBool>,
    handle: Option<JoinHandle<u64>>,
}

impl Flood {
    /// From the client's namespace: capture one real hello from the
    /// cluster's group, flip its last byte (the tag), and send it to every
    /// box's unicast socket at [`RATE`] a second, paced in 10 ms slots.
    fn start(lan: &Lan) -> Flood {
        let k = lan.k;
        let stop = Arc::new(AtomicBool::new(false));
        let flag = stop.clone();
        let handle = spawn_in(&lan.ns("cl"), move || {
            let group = Ipv4Addr::new(239, 255, 76, 7);
            let me = Ipv4Addr::new(10, 81, k, 100);
            let l = UdpSocket::bind(SocketAddrV4::new(group, 7607)).expect("bind group");
            l.join_multicast_v4(&group, &me).expect("join group");
            l.set_read_timeout(Some(Duration::from_secs(5)))
                .expect("timeout");
            let mut buf = [0u8; 2048];
            let n = l.recv(&mut buf).expect("a hello to copy");
            let mut forged = buf[..n].to_vec();
            if let Some(b) = forged.last_mut() {
                *b ^= 0xff;
            }
            let tx = UdpSocket::bind("0.0.0.0:0").expect("bind sender");
            let to: Vec<SocketAddrV4> = [11, 12, 13]
                .iter()
                .map(|&h| SocketAddrV4::new(Ipv4Addr::new(10, 81, k, h), 7607))
                .collect();
            let per_slot = RATE / 100;
            let mut sent = 0u64;
            let mut slot = Instant::now();
            // Bounded by the flag and by five minutes, whichever first.
            let end = Instant::now() + Duration::from_secs(300);
            while !flag.load(Ordering::Relaxed) && Instant::now() < end {
                for i in 0..per_slot {
                    if tx.send_to(&forged, to[i as usize % to.len()]).is_ok() {
                        sent += 1;
                    }
                }
                slot += Duration::from_millis(10);
                if let Some(d) = slot.checked_duration_since(Instant::now()) {
                    std::thread::sleep(d);
                }
            }
            sent
        });
        Flood {
            stop,
            handle: Some(handle),
        }
    }

    fn stop(mut self) -> u64 {
        self.stop.store(true, Ordering::Relaxed);
        self.handle
            .take()
            .map_or(0, |h| h.join().expect("flood thread"))
    }
}

impl Drop for Flood {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(h) = self.handle.take() {
            let _ = h.join();
        }
    }
}

/// Build the LAN, start everything, wait until the client is served.
fn serving(k: u8) -> (Lan, Client, String) {
    let mut lan = Lan::new(k, Opts::default());
    let client = lan.client();
    lan.start_all();
    let holder = client
        .wait_served(Duration::from_secs(20), STEADY)
        .unwrap_or_else(|| panic!("never served{}", lan.report(&client.view(), 0)));
    std::thread::sleep(Duration::from_millis(500));
    (lan, client, holder)
}

/// Cut `h` off from the other boxes (its cluster traffic to and from them
/// dropped in its own namespace; anyone else still reaches it); the ms until
/// the VIP leaves its kernel. Healed before returning.
fn cut_until_released(lan: &Lan, h: &str) -> u64 {
    let k = lan.k;
    let others: Vec<String> = BOXES
        .iter()
        .enumerate()
        .filter(|(_, b)| **b != h)
        .map(|(i, _)| format!("10.81.{k}.{}", 11 + i))
        .collect();
    let set = others.join(", ");
    let rules = format!(
        "table inet bgycut {{\n\
           chain in {{ type filter hook input priority 0; ip saddr {{ {set} }} udp dport 7607 drop; }}\n\
           chain out {{ type filter hook output priority 0; ip daddr {{ {set}, 239.255.76.7 }} udp dport 7607 drop; }}\n\
         }}\n"
    );
    let f = lan.dir().join(format!("cut-{h}.nft"));
    std::fs::write(&f, rules).expect("write rules");
    let ns = lan.ns(h);
    let vip = lan.vip().to_string();
    let t0 = Instant::now();
    sh(&["ip", "netns", "exec", &ns, "nft", "-f", f.to_str().unwrap()]);
    let released = eventually(Duration::from_secs(15), || {
        (!has_addr(&ns, &vip)).then(|| t0.elapsed().as_millis() as u64)
    });
    sh(&[
        "ip", "netns", "exec", &ns, "nft", "delete", "table", "inet", "bgycut",
    ]);
    released.unwrap_or_else(|| panic!("{h} kept the address 15 s after its cut"))
}

/// One LAN: the cut and the box death, with or without the flood; the
/// release and outage figures (ms).
fn faults(k: u8, flooded: bool) -> (u64, u64) {
    let (mut lan, client, holder) = serving(k);
    let flood = flooded.then(|| Flood::start(&lan));
    let flood_started = Instant::now();
    std::thread::sleep(Duration::from_secs(3));
    let release = cut_until_released(&lan, &holder);
    let again = client.wait_served(Duration::from_secs(20), STEADY);
    let again = again.unwrap_or_else(|| {
        panic!(
            "not served after the cut healed{}",
            lan.report(&client.view(), 0)
        )
    });
    std::thread::sleep(Duration::from_millis(500));
    // The box serving now dies.
    let mark = client.now();
    let i = Lan::index(&again);
    lan.kill9(i);
    lan.link_down(&again);
    let next = client.wait_served_by_other(mark, &again, Duration::from_secs(15), STEADY);
    let v = client.view();
    let next = next.unwrap_or_else(|| panic!("nobody took over{}", lan.report(&v, mark)));
    let outage = v.outage_ms(mark).expect("served again");
    assert_eq!(v.duplicate_ms(mark), 0, "{}", lan.report(&v, mark));
    if let Some(f) = flood {
        // Past one summary window (10 s), so the summary is there to count.
        let window = Duration::from_secs(12);
        if let Some(rest) = window.checked_sub(flood_started.elapsed()) {
            std::thread::sleep(rest);
        }
        let secs = flood_started.elapsed().as_secs_f64();
        let sent = f.stop();
        let rate = sent as f64 / secs;
        println!("flood: {sent} datagrams in {secs:.1} s ({rate:.0}/s)");
        figure("flood_rate_per_s", rate as u64);
        // The sender shares two cores with three daemons and the client: a
        // third of the aim is still a flood (the rate is in the figures).
        assert!(
            rate > RATE as f64 / 3.0,
            "the flood fell short: {sent} in {secs:.1} s"
        );
        // Rate-limited: one summary line per box and window (10 s), not
        // one per datagram.
        let lines = lan.log_times("drops window=").len() as f64;
        let most = 3.0 * (secs / 10.0 + 2.0);
        assert!(
            lines <= most,
            "{lines} drop lines for {secs:.1} s of flood (at most {most})"
        );
        assert!(lines >= 1.0, "the flood was not summarised");
    }
    println!(
        "{} LAN: {holder} released {release} ms after its cut; {again} died, {next} serves after {outage} ms",
        if flooded { "flooded" } else { "quiet" }
    );
    (release, outage)
}

#[test]
fn a_flood_delays_neither_a_lease_lapse_nor_a_failover() {
    if !root_or_skip("a_flood_delays_neither_a_lease_lapse_nor_a_failover")
        || !nft_or_skip("a_flood_delays_neither_a_lease_lapse_nor_a_failover")
    {
        return;
    }
    // One after the other: the flood must not also slow the quiet run.
    let (release_quiet, outage_quiet) = faults(35, false);
    let (release_flood, outage_flood) = faults(36, true);
    figure("cut_release_ms", release_quiet);
    figure("cut_release_flood_ms", release_flood);
    figure("box_death_outage_ms", outage_quiet);
    figure("box_death_outage_flood_ms", outage_flood);
    assert!(
        release_quiet <= RELEASE_LIMIT_MS && release_flood <= RELEASE_LIMIT_MS,
        "release after the cut: quiet {release_quiet} ms, flooded {release_flood} ms (limit {RELEASE_LIMIT_MS})"
    );
    assert!(
        outage_flood <= outage_quiet + 1_500,
        "box death: quiet {outage_quiet} ms, flooded {outage_flood} ms"
    );
}
