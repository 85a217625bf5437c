//! Fifty thousand hostile datagrams into `Codec::open`: random bytes,
//! mutated valid datagrams, forged headers, replays, random bodies behind a
//! valid insecure header. Nothing panics and every datagram is either
//! accepted or counted under exactly one reason.
//!
//! Also writes / checks the fuzz seeds in `fuzz/seeds/decode/`.

use bongoyo::config::{Key, NodeId};
use bongoyo::limits::{MAX_DATAGRAM, MAX_NODES};
use bongoyo::proto::codec::{FLAG_UNKEYED, HEADER_LEN, MAGIC, TO_ALL, VERSION};
use bongoyo::proto::{Body, Codec, DecodeError, Hello, Role};
use bongoyo::time::Instant;

/// The fuzz target's fixed identity (`fuzz/fuzz_targets/decode.rs`).
const FUZZ_CLUSTER_ID: u32 = 0xf022_0001;
const FUZZ_CLUSTER: &str = "fuzz";
const FUZZ_KEY: [u8; 32] = [0x42; 32];

const ID: u32 = 0x0ff1_ce00;
const NAME: &str = "office-nas";
const FED: usize = 50_000;

/// xorshift64*: small, deterministic, good enough to pick mutations.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
    fn fill(&mut self, out: &mut [u8]) {
        for b in out {
            *b = self.next() as u8;
        }
    }
}

fn secret(fill: u8) -> Key {
    Key::Secret(heapless::Vec::from_slice(&[fill; 32]).unwrap())
}

fn seal(c: &mut Codec, body: &Body) -> Vec<u8> {
    let mut buf = [0u8; MAX_DATAGRAM];
    let n = c.seal(body, &mut buf).unwrap();
    buf[..n].to_vec()
}

fn hello(seq: u32) -> Body {
    Body::Hello(Hello {
        seq,
        role: Role::Member,
        boss: Some(0),
        generation: 3,
        uptime_ms: 12_345,
        health: 90,
        config_digest: 0xdead_beef,
        mac: [2, 0, 0, 0, 0, 1],
        claims: 0b101,
        suitability: heapless::Vec::from_slice(&[50, 60, 70]).unwrap(),
        hears: 0b111,
        acks: heapless::Vec::new(),
        list: heapless::Vec::from_slice(&[0, 1, 2]).unwrap(),
    })
}

/// Deliver everything `from` wants sent to `to`.
fn pump(from: &mut Codec, to: &mut Codec, now: Instant) {
    while let Some((dest, body)) = from.poll_transmit() {
        let mut buf = [0u8; MAX_DATAGRAM];
        let n = from.seal_to(Some(dest), &body, &mut buf).unwrap();
        let _ = to.open(now, &buf[..n]);
    }
}

/// Let `rx` verify `tx`: exchange challenges and responses until quiet.
fn introduce(tx: &mut Codec, rx: &mut Codec, now: Instant) {
    let d = seal(tx, &hello(1));
    let _ = rx.open(now, &d);
    for _ in 0..4 {
        pump(rx, tx, now);
        pump(tx, rx, now);
    }
}

/// A header that passes every check before the tag, for `sender`.
fn header(flags: u8, sender: NodeId, incarnation: u64, seq: u64, body_len: usize) -> Vec<u8> {
    let mut d = Vec::with_capacity(HEADER_LEN + body_len);
    d.extend_from_slice(&MAGIC);
    d.push(VERSION);
    d.push(flags);
    d.extend_from_slice(&ID.to_be_bytes());
    d.push(sender);
    d.push(TO_ALL);
    d.extend_from_slice(&incarnation.to_be_bytes());
    d.extend_from_slice(&seq.to_be_bytes());
    d.extend_from_slice(&(body_len as u16).to_be_bytes());
    d
}

struct Tally {
    fed: u64,
    accepted: u64,
}

fn feed(rx: &mut Codec, now: Instant, d: &[u8], t: &mut Tally) {
    t.fed += 1;
    if rx.open(now, d).is_ok() {
        t.accepted += 1;
    }
    // What the codec wants sent is discarded, as if lost; its queue stays
    // bounded by one challenge and one response per sender.
    while rx.poll_transmit().is_some() {}
}

#[test]
fn fifty_thousand_hostile_datagrams_are_all_accounted_for() {
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    let mut rx = Codec::new(ID, NAME, &secret(1), 0, 4, 10, 1);
    let mut friend = Codec::new(ID, NAME, &secret(1), 1, 4, 11, 2);
    let mut stranger = Codec::new(ID, NAME, &secret(1), 2, 4, 12, 3); // never verified
    let mut wrong_key = Codec::new(ID, NAME, &secret(9), 1, 4, 11, 4);
    let mut other = Codec::new(ID ^ 1, "lab", &secret(1), 1, 4, 11, 5);
    let mut loose = Codec::new(ID, NAME, &Key::Insecure, 1, 4, 11, 6);
    let mut outsider = Codec::new(ID, NAME, &secret(1), 7, 8, 13, 7);
    introduce(&mut friend, &mut rx, Instant(0));
    assert_eq!(rx.verified_incarnation(1), Some(11));

    // An insecure receiver, to put random bodies through postcard.
    let mut irx = Codec::new(ID, NAME, &Key::Insecure, 0, 4, 20, 8);
    let mut itx = Codec::new(ID, NAME, &Key::Insecure, 1, 4, 21, 9);
    introduce(&mut itx, &mut irx, Instant(0));
    assert_eq!(irx.verified_incarnation(1), Some(21));
    let mut iseq = 1_000u64;
    // Drops during the introductions (the first hello, before verification).
    let base = (rx.drops().total(), irx.drops().total());

    let mut valid: Vec<Vec<u8>> = Vec::new();
    for i in 0..32 {
        valid.push(seal(&mut friend, &hello(i)));
        valid.push(seal(
            &mut friend,
            &Body::Outcome {
                vserver: 2,
                round: i,
                ok: true,
            },
        ));
    }
    let mut t = Tally {
        fed: 0,
        accepted: 0,
    };
    let mut ti = Tally {
        fed: 0,
        accepted: 0,
    };
    let mut buf = vec![0u8; 2 * MAX_DATAGRAM];

    for step in 0..FED {
        let now = Instant(1_000 + step as u64);
        match rng.below(12) {
            0 => {
                let n = rng.below(buf.len());
                rng.fill(&mut buf[..n]);
                feed(&mut rx, now, &buf[..n], &mut t);
            }
            1 | 2 => {
                // A valid datagram with a few bits flipped.
                let mut d = valid[rng.below(valid.len())].clone();
                for _ in 0..1 + rng.below(4) {
                    let i = rng.below(d.len());
                    d[i] ^= 1 << rng.below(8);
                }
                feed(&mut rx, now, &d, &mut t);
            }
            3 => {
                // Truncated or extended.
                let mut d = valid[rng.below(valid.len())].clone();
                if rng.below(2) == 0 {
                    d.truncate(rng.below(d.len()));
                } else {
                    let extra = rng.below(MAX_DATAGRAM);
                    d.extend((0..extra).map(|_| rng.next() as u8));
                }
                feed(&mut rx, now, &d, &mut t);
            }
            4 => {
                // A plausible header with random bytes behind it.
                let body_len = rng.below(200);
                let flags = if rng.below(4) == 0 { FLAG_UNKEYED } else { 0 };
                let sender = rng.below(6) as NodeId;
                let mut d = header(flags, sender, rng.next(), rng.next(), body_len);
                let tail = body_len + if rng.below(3) == 0 { 0 } else { 16 };
                d.extend((0..tail).map(|_| rng.next() as u8));
                feed(&mut rx, now, &d, &mut t);
            }
            5 => {
                // Replay of something already seen or sent long ago.
                let d = valid[rng.below(valid.len())].clone();
                feed(&mut rx, now, &d, &mut t);
            }
            6 => {
                // Fresh and genuine: accepted.
                let d = seal(&mut friend, &hello(step as u32));
                if rng.below(8) == 0 && valid.len() < 256 {
                    valid.push(d.clone());
                }
                feed(&mut rx, now, &d, &mut t);
            }
            7 => {
                let c = match rng.below(5) {
                    0 => &mut stranger,
                    1 => &mut wrong_key,
                    2 => &mut other,
                    3 => &mut loose,
                    _ => &mut outsider,
                };
                let d = seal(c, &hello(step as u32));
                feed(&mut rx, now, &d, &mut t);
            }
            8 => {
                // Our own datagram looping back.
                let d = seal(&mut rx, &hello(1));
                feed(&mut rx, now, &d, &mut t);
            }
            9 => {
                // Splice of two valid datagrams.
                let a = &valid[rng.below(valid.len())];
                let b = &valid[rng.below(valid.len())];
                let cut = rng.below(a.len().min(b.len()));
                let mut d = a[..cut].to_vec();
                d.extend_from_slice(&b[cut..]);
                feed(&mut rx, now, &d, &mut t);
            }
            _ => {
                // Random body behind a valid insecure header from a verified
                // sender: only postcard stands between it and the core.
                let body_len = rng.below(64);
                iseq += 1 + rng.below(3) as u64;
                let mut d = header(FLAG_UNKEYED, 1, 21, iseq, body_len);
                let first = d.len();
                d.resize(first + body_len, 0);
                rng.fill(&mut d[first..]);
                feed(&mut irx, now, &d, &mut ti);
            }
        }
    }

    for (rx, t, base) in [(&rx, &t, base.0), (&irx, &ti, base.1)] {
        assert_eq!(
            rx.drops().total() - base + t.accepted,
            t.fed,
            "every datagram accepted or counted"
        );
    }
    assert_eq!(t.fed + ti.fed, FED as u64);
    let d = rx.drops();
    for r in [
        DecodeError::TooShort,
        DecodeError::TooLarge,
        DecodeError::BadMagic,
        DecodeError::BadVersion,
        DecodeError::OtherCluster,
        DecodeError::BadLength,
        DecodeError::Unkeyed,
        DecodeError::UnknownSender,
        DecodeError::FromSelf,
        DecodeError::BadTag,
        DecodeError::Replayed,
        DecodeError::UnverifiedIncarnation,
    ] {
        assert!(
            d.get(r) > 0,
            "no {r:?} among {:?}",
            d.iter().collect::<Vec<_>>()
        );
    }
    assert!(
        t.accepted > 1_000,
        "genuine datagrams get through: {}",
        t.accepted
    );
    assert!(irx.drops().get(DecodeError::Malformed) > 1_000);
    assert!(ti.accepted > 0, "some random bodies decode");
    // The genuine sender is still verified after all that.
    assert_eq!(rx.verified_incarnation(1), Some(11));
    let d = seal(&mut friend, &hello(7));
    assert!(rx.open(Instant(999_999), &d).unwrap().is_some());
}

/// The seeds for `cargo fuzz run decode`: a keyed datagram tagged with the
/// fuzz target's key, and an insecure one. They must stay in step with the
/// wire format: run with `BONGOYO_WRITE_SEEDS=1` to rewrite them.
#[test]
fn fuzz_seeds_are_current() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz/seeds/decode");
    let key = Key::Secret(heapless::Vec::from_slice(&FUZZ_KEY).unwrap());
    let mut keyed = Codec::new(FUZZ_CLUSTER_ID, FUZZ_CLUSTER, &key, 1, MAX_NODES, 7, 1);
    let mut insecure = Codec::new(
        FUZZ_CLUSTER_ID,
        FUZZ_CLUSTER,
        &Key::Insecure,
        1,
        MAX_NODES,
        7,
        1,
    );
    let seeds = [
        ("keyed-hello", seal(&mut keyed, &hello(1))),
        (
            "keyed-challenge",
            seal(&mut keyed, &Body::Challenge { nonce: 5 }),
        ),
        ("insecure-hello", seal(&mut insecure, &hello(1))),
        (
            "insecure-response",
            seal(&mut insecure, &Body::Response { nonce: 5 }),
        ),
    ];
    if std::env::var_os("BONGOYO_WRITE_SEEDS").is_some() {
        std::fs::create_dir_all(&dir).unwrap();
        for (name, d) in &seeds {
            std::fs::write(dir.join(name), d).unwrap();
        }
    }
    for (name, d) in &seeds {
        let on_disk = std::fs::read(dir.join(name)).unwrap_or_default();
        assert_eq!(
            &on_disk, d,
            "fuzz seed {name} is stale: rerun with BONGOYO_WRITE_SEEDS=1"
        );
    }
    // The fuzz target's keyed receiver (node 0) gets past the tag with them.
    let mut rx = Codec::new(FUZZ_CLUSTER_ID, FUZZ_CLUSTER, &key, 0, MAX_NODES, 1, 2);
    assert_eq!(
        rx.open(Instant(0), &seeds[0].1),
        Err(DecodeError::UnverifiedIncarnation)
    );
    assert_eq!(rx.open(Instant(0), &seeds[1].1), Ok(None));
}
