//! Challenge/response between codecs on a tiny lossless network: first
//! contact, restarts, and replays recorded during an earlier boot (docs/MODEL.md).

use bongoyo::config::{Key, NodeId};
use bongoyo::limits::MAX_DATAGRAM;
use bongoyo::proto::{Body, Codec, DecodeError};
use bongoyo::time::Instant;

const ID: u32 = 0xb0b0_0001;
const NAME: &str = "office-nas";
const NODES: usize = 3;

fn key() -> Key {
    Key::Secret(heapless::Vec::from_slice(&[0x5a; 32]).unwrap())
}

fn boot(me: NodeId, incarnation: u64) -> Codec {
    Codec::new(
        ID,
        NAME,
        &key(),
        me,
        NODES,
        incarnation,
        incarnation.wrapping_mul(31) ^ 7,
    )
}

fn hello_like(n: u32) -> Body {
    Body::VolunteerRequest {
        vserver: 1,
        round: n,
        probe: false,
    }
}

fn seal(c: &mut Codec, body: &Body) -> Vec<u8> {
    let mut buf = [0u8; MAX_DATAGRAM];
    let n = c.seal(body, &mut buf).unwrap();
    buf[..n].to_vec()
}

/// Boxes indexed by node id; one "flight" delivers everything in the air
/// and collects what the codecs want sent in answer.
struct Net {
    boxes: Vec<Codec>,
    air: Vec<(NodeId, Vec<u8>)>,
    /// Everything ever sent, for the replayer.
    recorded: Vec<Vec<u8>>,
    delivered: Vec<(NodeId, Body)>,
    rejected: Vec<(NodeId, DecodeError)>,
}

impl Net {
    fn new(boxes: Vec<Codec>) -> Self {
        Net {
            boxes,
            air: Vec::new(),
            recorded: Vec::new(),
            delivered: Vec::new(),
            rejected: Vec::new(),
        }
    }

    /// A datagram addressed to one box.
    fn send(&mut self, from: NodeId, to: NodeId, body: &Body) {
        let mut buf = [0u8; MAX_DATAGRAM];
        let n = self.boxes[from as usize]
            .seal_to(Some(to), body, &mut buf)
            .unwrap();
        self.recorded.push(buf[..n].to_vec());
        self.air.push((to, buf[..n].to_vec()));
    }

    /// One datagram for every box; it loops back to the sender too.
    fn multicast(&mut self, from: NodeId, body: &Body) {
        let d = seal(&mut self.boxes[from as usize], body);
        self.recorded.push(d.clone());
        for to in 0..self.boxes.len() as NodeId {
            self.air.push((to, d.clone()));
        }
    }

    fn inject(&mut self, to: NodeId, d: Vec<u8>) {
        self.air.push((to, d));
    }

    fn flight(&mut self, now: Instant) {
        for (to, d) in std::mem::take(&mut self.air) {
            match self.boxes[to as usize].open(now, &d) {
                Ok(Some(r)) => self.delivered.push((to, r.body)),
                Ok(None) => {}
                Err(e) => self.rejected.push((to, e)),
            }
        }
        for from in 0..self.boxes.len() {
            while let Some((to, body)) = self.boxes[from].poll_transmit() {
                self.send(from as NodeId, to, &body);
            }
        }
    }

    fn verified(&self, at: NodeId, of: NodeId) -> Option<u64> {
        self.boxes[at as usize].verified_incarnation(of)
    }
}

#[test]
fn first_contact_costs_one_round_trip_both_ways() {
    let mut net = Net::new(vec![boot(0, 100), boot(1, 200)]);
    let t = Instant(10);
    // Both boxes multicast their first hello at once.
    net.multicast(0, &hello_like(1));
    net.multicast(1, &hello_like(1));
    net.flight(t); // hellos arrive: dropped, each side challenges the other
    net.rejected.retain(|&(_, e)| e != DecodeError::FromSelf);
    assert_eq!(
        net.rejected,
        vec![
            (1, DecodeError::UnverifiedIncarnation),
            (0, DecodeError::UnverifiedIncarnation)
        ]
    );
    net.flight(t); // challenges arrive: each side answers
    assert_eq!(net.verified(0, 1), None);
    net.flight(t); // responses arrive: both verified
    assert_eq!(net.verified(0, 1), Some(200));
    assert_eq!(net.verified(1, 0), Some(100));
    assert!(net.air.is_empty(), "nothing more to say");
    // From now on hellos are delivered.
    net.multicast(0, &hello_like(2));
    net.multicast(1, &hello_like(2));
    net.flight(t);
    assert_eq!(net.delivered, vec![(1, hello_like(2)), (0, hello_like(2))]);
    assert_eq!(
        net.boxes[0].drops().get(DecodeError::FromSelf),
        2,
        "own multicast looped back"
    );
}

#[test]
fn a_challenge_makes_the_challenged_box_challenge_back() {
    // Only box 0 has spoken; box 1 still learns of box 0 and box 0 of box 1
    // within the same exchange, without waiting for box 1's first hello.
    let mut net = Net::new(vec![boot(0, 100), boot(1, 200)]);
    let t = Instant(10);
    net.send(0, 1, &hello_like(1));
    net.flight(t); // 1 challenges 0
    net.flight(t); // 0 answers and challenges 1
    assert_eq!(net.verified(0, 1), None);
    net.flight(t); // 1 verifies 0 and answers 0's challenge
    assert_eq!(net.verified(1, 0), Some(100));
    net.flight(t); // 0 verifies 1
    assert_eq!(net.verified(0, 1), Some(200));
    assert!(net
        .rejected
        .iter()
        .all(|&(_, e)| e == DecodeError::UnverifiedIncarnation));
    assert_eq!(net.rejected.len(), 1);
}

fn verified_trio() -> Net {
    let mut net = Net::new(vec![boot(0, 100), boot(1, 200), boot(2, 300)]);
    let t = Instant(10);
    for n in 0..3 {
        net.multicast(n, &hello_like(1));
    }
    for _ in 0..4 {
        net.flight(t);
    }
    for a in 0..3 {
        for b in 0..3 {
            if a != b {
                assert!(net.verified(a, b).is_some(), "{a} verified {b}");
            }
        }
    }
    net.rejected.clear();
    net
}

#[test]
fn three_boxes_verify_each_other() {
    let mut net = verified_trio();
    net.multicast(2, &hello_like(9));
    net.flight(Instant(20));
    assert_eq!(net.delivered, vec![(0, hello_like(9)), (1, hello_like(9))]);
    assert_eq!(net.rejected, vec![(2, DecodeError::FromSelf)]);
}

#[test]
fn replays_from_an_earlier_boot_are_never_delivered() {
    let mut net = verified_trio();
    let mut t = Instant(1_000);
    // Box 1's first boot talks; a replayer records everything.
    for n in 2..20 {
        net.multicast(1, &hello_like(n));
        net.flight(t);
    }
    let first_boot: Vec<Vec<u8>> = std::mem::take(&mut net.recorded);
    let before = net.delivered.len();

    // Box 1 restarts with a fresh incarnation; its sequence starts at 1 again.
    net.boxes[1] = boot(1, 201);
    t = Instant(5_000);

    // Before anyone hears the new boot, the replay hits box 0: all seen.
    for d in &first_boot {
        net.inject(0, d.clone());
    }
    net.flight(t);
    assert_eq!(net.delivered.len(), before);
    let routine = [
        DecodeError::Replayed,
        DecodeError::FromSelf,
        DecodeError::NotForUs,
    ];
    assert!(
        net.rejected.iter().all(|(_, e)| routine.contains(e)),
        "{:?}",
        net.rejected
    );
    assert!(net
        .rejected
        .iter()
        .any(|&(_, e)| e == DecodeError::Replayed));

    // The new boot's hello is held back until it is verified...
    net.rejected.clear();
    net.multicast(1, &hello_like(1));
    for _ in 0..4 {
        net.flight(t);
    }
    assert_eq!(net.verified(0, 1), Some(201));
    assert_eq!(net.verified(2, 1), Some(201));
    assert_eq!(
        net.delivered.len(),
        before,
        "the first hello of a boot waits for verification"
    );

    // ...and now the first boot's datagrams are stale everywhere.
    net.rejected.clear();
    for d in &first_boot {
        net.inject(0, d.clone());
        net.inject(2, d.clone());
    }
    net.flight(t);
    assert_eq!(net.delivered.len(), before);
    let stale = net
        .rejected
        .iter()
        .filter(|&&(_, e)| e == DecodeError::StaleIncarnation)
        .count();
    // Datagrams box 1 sent to box 0 or 2, or multicast, from the first boot.
    assert!(stale > 0);
    assert!(net
        .rejected
        .iter()
        .all(|&(_, e)| e == DecodeError::StaleIncarnation || routine.contains(&e)));

    // The new boot is delivered.
    net.rejected.clear();
    net.multicast(1, &hello_like(2));
    net.flight(t);
    assert_eq!(net.rejected, vec![(1, DecodeError::FromSelf)]);
    assert_eq!(
        net.delivered[before..],
        [(0, hello_like(2)), (2, hello_like(2))]
    );
}

#[test]
fn replay_of_a_boot_before_the_last_triggers_a_challenge_the_live_box_answers() {
    let mut net = verified_trio();
    let t = Instant(1_000);
    // Boot A of box 2 (incarnation 300) is recorded.
    net.recorded.clear();
    net.multicast(2, &hello_like(5));
    net.flight(t);
    let boot_a: Vec<Vec<u8>> = std::mem::take(&mut net.recorded);
    // Box 2 restarts twice: B (301), then C (302); box 0 verifies each.
    for (inc, at) in [(301, Instant(2_000)), (302, Instant(3_000))] {
        net.boxes[2] = boot(2, inc);
        net.multicast(2, &hello_like(1));
        for _ in 0..4 {
            net.flight(at);
        }
        assert_eq!(net.verified(0, 2), Some(inc));
    }
    let delivered = net.delivered.len();
    net.rejected.clear();
    // Boot A is neither current nor the one just replaced: box 0 cannot tell
    // it from a new boot, so it challenges; the live boot C answers.
    for d in &boot_a {
        net.inject(0, d.clone());
    }
    for _ in 0..3 {
        net.flight(Instant(4_000));
    }
    let unverified = net
        .rejected
        .iter()
        .filter(|&&(_, e)| e == DecodeError::UnverifiedIncarnation)
        .count();
    assert_eq!(unverified, 1, "{:?}", net.rejected);
    assert!(net
        .rejected
        .iter()
        .all(|&(_, e)| e == DecodeError::UnverifiedIncarnation || e == DecodeError::FromSelf));
    let _ = t;
    assert_eq!(
        net.verified(0, 2),
        Some(302),
        "the live boot stays verified"
    );
    assert_eq!(net.delivered.len(), delivered);
}

#[test]
fn a_recorded_response_does_not_verify_a_dead_boot() {
    let mut b = boot(0, 100);
    let mut old = boot(1, 200);
    let t = Instant(10);
    // Old boot meets box 0; every datagram it sends is recorded.
    let mut recorded = Vec::new();
    let d = seal(&mut old, &hello_like(1));
    recorded.push(d.clone());
    assert_eq!(b.open(t, &d), Err(DecodeError::UnverifiedIncarnation));
    let (_, ch) = b.poll_transmit().unwrap();
    let d = seal(&mut b, &ch);
    assert_eq!(old.open(t, &d), Ok(None));
    while let Some((_, body)) = old.poll_transmit() {
        let d = seal(&mut old, &body);
        recorded.push(d.clone());
        assert_eq!(b.open(t, &d), Ok(None));
    }
    assert_eq!(b.verified_incarnation(1), Some(200));

    // Box 0 itself restarts: it knows nobody. The replayer plays back the
    // old boot's hello and its recorded response.
    let mut b = boot(0, 101);
    let t = Instant(90_000);
    for d in &recorded {
        // The recorded challenge is answered (harmless); nothing is delivered.
        let r = b.open(t, d);
        assert!(
            matches!(r, Ok(None) | Err(DecodeError::UnverifiedIncarnation)),
            "{r:?}"
        );
    }
    assert_eq!(
        b.drops().get(DecodeError::UnverifiedIncarnation),
        2,
        "the hello and the response"
    );
    assert_eq!(b.verified_incarnation(1), None);
    // Box 0 challenged with a nonce the recording cannot contain.
    let mut challenged = false;
    while let Some((to, body)) = b.poll_transmit() {
        assert_eq!(to, 1);
        challenged |= matches!(body, Body::Challenge { .. });
    }
    assert!(challenged);
}

#[test]
fn duplicates_from_multicast_and_unicast_are_dropped_once_delivered() {
    // The shell may send one sealed datagram both to the group and to a
    // unicast peer: the receiver delivers it once.
    let mut net = verified_trio();
    let d = seal(&mut net.boxes[0], &hello_like(3));
    let b = &mut net.boxes[1];
    assert!(b.open(Instant(30), &d).unwrap().is_some());
    assert_eq!(b.open(Instant(30), &d), Err(DecodeError::Replayed));
}
