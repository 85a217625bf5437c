//! One node rule on a scripted timeline with hand-made hellos: a box
//! volunteers only while its lease is being renewed (docs/DECISIONS.md,
//! "Fencing details found by the simulator"). A lease that is still valid
//! but whose acknowledgements stopped coming is about to lapse: a box that
//! took a vserver on it would give the address up again at once (the
//! post-fault flaps of simulator seeds 4366 and 5387).
//!
//! Box f1 (node 0) is the box under test; f2 (node 1) is the boss it
//! follows and f3 (node 2) a member. The test plays f2 and f3: their hellos
//! acknowledge f1's hellos, until they stop doing so (f1 cut off one way:
//! it hears them, they do not hear it). Timers are the defaults: hello
//! 200 ms, dead 600 ms, lease about 594 ms.

use bongoyo::cluster::Dest;
use bongoyo::config::{parse, Config};
use bongoyo::node::{Node, Output};
use bongoyo::proto::{Ack, Body, Hello, Role};
use bongoyo::time::Instant;

const CONF: &str = "cluster t\nkey-file insecure\ninterface eth0\n\
    node f1 10.0.0.11\nnode f2 10.0.0.12\nnode f3 10.0.0.13\n\
    vserver web {\n address 10.0.0.50/24\n interface eth0\n service none\n self-check none\n}\n";

const INC: [u64; 3] = [0x1111, 0x2222, 0x3333];

/// f1's node and the two peers the test plays.
struct Rig {
    cfg: Config,
    node: Node,
    now: u64,
    /// f1's hello sequences as sent, with their send time (ms).
    sent: Vec<(u32, u64)>,
    /// The newest f1 hello f2 and f3 acknowledge (None: they hear nothing).
    acked: Option<u32>,
    peer_seq: u32,
    answers: Vec<(u32, u8)>,
}

impl Rig {
    fn new() -> Rig {
        let cfg = parse("t.conf", CONF).expect("config");
        let node = Node::new(&cfg, 0, INC[0], Instant(0));
        Rig {
            cfg,
            node,
            now: 0,
            sent: vec![],
            acked: None,
            peer_seq: 0,
            answers: vec![],
        }
    }

    fn drain(&mut self) {
        while let Some(o) = self.node.poll_output() {
            if let Output::Send { to, body } = o {
                match body {
                    Body::Hello(h) if to == Dest::All => self.sent.push((h.seq, self.now)),
                    Body::VolunteerAnswer {
                        round, suitability, ..
                    } => self.answers.push((round, suitability)),
                    _ => {}
                }
            }
        }
    }

    /// A hello from peer `from`: f2 the boss (generation 1), f3 a member
    /// following it; both acknowledge `acked` of f1 and each other.
    fn peer_hello(&mut self, from: u8) -> Body {
        let ack = |n: usize, seq: u32| Ack {
            incarnation: INC[n],
            seq,
        };
        let mut acks = heapless::Vec::new();
        let _ = acks.push(self.acked.map_or(Ack::default(), |s| ack(0, s)));
        let _ = acks.push(ack(1, self.peer_seq));
        let _ = acks.push(ack(2, self.peer_seq));
        let mut list = heapless::Vec::new();
        for n in [1, 0, 2] {
            let _ = list.push(n);
        }
        let mut suitability = heapless::Vec::new();
        let _ = suitability.push(100);
        Body::Hello(Hello {
            seq: self.peer_seq,
            role: if from == 1 { Role::Boss } else { Role::Member },
            boss: Some(1),
            generation: 1,
            uptime_ms: 60_000 + self.now,
            health: 100,
            config_digest: self.cfg.digest(),
            mac: [2, 0, 0, 0, 0, from + 1],
            claims: 0,
            suitability,
            hears: 0b111,
            acks,
            list: if from == 1 {
                list
            } else {
                heapless::Vec::new()
            },
        })
    }

    /// Run to `until` ms in 1 ms steps; the peers send hellos every 200 ms
    /// and acknowledge f1's newest hello while `acking`.
    fn run(&mut self, until: u64, acking: bool) {
        while self.now < until {
            self.now += 1;
            let now = Instant(self.now);
            if self.now % 200 == 100 {
                self.peer_seq += 1;
                if acking {
                    self.acked = self.sent.last().map(|s| s.0);
                }
                for from in [1u8, 2] {
                    let hello = self.peer_hello(from);
                    self.node
                        .handle_message(now, from, INC[from as usize], &hello);
                    self.drain();
                }
            }
            if self.node.poll_timeout().is_some_and(|t| t <= now) {
                self.node.handle_timeout(now);
            }
            self.drain();
        }
    }

    /// The boss asks f1 to volunteer; its answer's suitability.
    fn ask(&mut self, round: u32) -> u8 {
        let now = Instant(self.now);
        self.node.handle_message(
            now,
            1,
            INC[1],
            &Body::VolunteerRequest {
                vserver: 0,
                round,
                probe: false,
            },
        );
        self.drain();
        let (r, s) = *self.answers.last().expect("an answer");
        assert_eq!(r, round);
        s
    }

    /// How old (ms) the newest f1 hello the peers acknowledged is.
    fn acked_age(&self) -> u64 {
        let seq = self.acked.expect("acked");
        let sent = self.sent.iter().find(|s| s.0 == seq).expect("sent").1;
        self.now - sent
    }

    fn lease_valid(&self) -> bool {
        self.node
            .core()
            .lease_until()
            .is_some_and(|u| Instant(self.now) < u)
    }
}

#[test]
fn a_box_whose_acknowledgements_stopped_does_not_volunteer() {
    let mut r = Rig::new();
    // Joining (one dead interval), then following f2 with a renewed lease.
    r.run(2_000, true);
    assert_eq!(r.node.core().boss(), Some(1), "f1 follows f2");
    assert!(r.lease_valid());
    assert_eq!(r.ask(1), 100, "a box with a renewed lease volunteers");

    // f1 is cut off one way: the peers stop acknowledging its hellos. Its
    // lease stays valid for one lease length after the last acknowledged
    // hello was sent; past 2¼ hellos (450 ms) it is stale.
    r.run(2_010, false);
    let cut = r.now;
    while r.acked_age() < 500 {
        r.run(r.now + 1, false);
    }
    assert!(r.now < cut + 600, "the acknowledged hello is old");
    assert!(
        r.lease_valid(),
        "the lease is still valid ({} ms old)",
        r.acked_age()
    );
    assert_eq!(r.ask(2), 0, "a stale lease does not volunteer");

    // The cut heals: the next acknowledgements renew the lease, and f1
    // volunteers again.
    r.run(r.now + 1_000, true);
    assert!(r.lease_valid());
    assert!(r.acked_age() < 450);
    assert_eq!(r.ask(3), 100, "a renewed lease volunteers again");
}
