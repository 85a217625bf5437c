//! Every message survives a round trip through two codecs, and the largest
//! messages the capacities allow are measured against `MAX_DATAGRAM`.

use bongoyo::config::{Key, NodeId};
use bongoyo::limits::{MAX_DATAGRAM, MAX_NODES, MAX_VSERVERS};
use bongoyo::proto::codec::{HEADER_LEN, MAX_BODY, TAG_LEN};
use bongoyo::proto::{
    Ack, Body, Codec, EncodeError, Hello, Record, Role, StateSync, VsEntry, SYNC_PAGE,
};
use bongoyo::time::Instant;

const ID: u32 = 77;

fn pair(key: &Key) -> (Codec, Codec) {
    let mut a = Codec::new(ID, "c", key, 0, MAX_NODES, 1, 11);
    let mut b = Codec::new(ID, "c", key, 1, MAX_NODES, 2, 22);
    let mut buf = [0u8; MAX_DATAGRAM];
    // b verifies a: a speaks, b challenges, a answers.
    let n = a.seal(&Body::Challenge { nonce: 0 }, &mut buf).unwrap();
    assert_eq!(b.open(Instant(1), &buf[..n]), Ok(None));
    let mut rounds = 0;
    loop {
        let mut quiet = true;
        while let Some((to, body)) = b.poll_transmit() {
            quiet = false;
            let n = b.seal_to(Some(to), &body, &mut buf).unwrap();
            // Answers to challenges `a` never sent may be dropped: fine.
            let _ = a.open(Instant(1), &buf[..n]);
        }
        while let Some((to, body)) = a.poll_transmit() {
            quiet = false;
            let n = a.seal_to(Some(to), &body, &mut buf).unwrap();
            let _ = b.open(Instant(1), &buf[..n]);
        }
        rounds += 1;
        if quiet || rounds > 4 {
            break;
        }
    }
    assert_eq!(b.verified_incarnation(0), Some(1));
    (a, b)
}

fn secret() -> Key {
    Key::Secret(heapless::Vec::from_slice(&[1; 32]).unwrap())
}

/// Postcard size of a body, measured in a buffer larger than any datagram.
fn encoded_len(body: &Body) -> usize {
    let mut big = [0u8; 8192];
    postcard::to_slice(body, &mut big).unwrap().len()
}

fn max_hello() -> Hello {
    Hello {
        seq: u32::MAX,
        role: Role::SemiBoss,
        boss: Some((MAX_NODES - 1) as NodeId),
        generation: u32::MAX,
        uptime_ms: u64::MAX,
        health: 100,
        config_digest: u32::MAX,
        mac: [0xff; 6],
        claims: u64::MAX,
        suitability: (0..MAX_VSERVERS).map(|_| 100).collect(),
        hears: u32::MAX,
        acks: (0..MAX_NODES)
            .map(|_| Ack {
                incarnation: u64::MAX,
                seq: u32::MAX,
            })
            .collect(),
        list: (0..MAX_NODES as NodeId).collect(),
    }
}

fn max_record() -> Record {
    Record {
        downtime_ms: u64::MAX,
        losses: u32::MAX,
        lost_for_ms: u64::MAX,
        alerted: true,
    }
}

fn max_entry() -> VsEntry {
    VsEntry {
        combo: *b"DDM",
        holder: Some((MAX_NODES - 1) as NodeId),
        round: u32::MAX,
        since_ms: u64::MAX,
        excluded: u32::MAX,
    }
}

fn state_sync(vservers: usize, entry: VsEntry, record: Record) -> StateSync {
    StateSync {
        generation: u32::MAX,
        list: (0..MAX_NODES as NodeId).collect(),
        deputies: heapless::Vec::from_slice(&[1, 2]).unwrap(),
        records: (0..MAX_NODES).map(|_| record).collect(),
        first: 0,
        vservers: (0..vservers.min(SYNC_PAGE)).map(|_| entry).collect(),
    }
}

fn every_variant() -> Vec<Body> {
    vec![
        Body::Hello(max_hello()),
        Body::Hello(Hello {
            seq: 1,
            role: Role::Joining,
            boss: None,
            generation: 0,
            uptime_ms: 0,
            health: 0,
            config_digest: 0,
            mac: [0; 6],
            claims: 0,
            suitability: heapless::Vec::new(),
            hears: 0,
            acks: heapless::Vec::new(),
            list: heapless::Vec::new(),
        }),
        Body::ProbeRequest {
            target: 3,
            nonce: u32::MAX,
        },
        Body::ProbeAnswer {
            target: 3,
            nonce: 5,
            heard_ms_ago: Some(120),
        },
        Body::ProbeAnswer {
            target: 3,
            nonce: 5,
            heard_ms_ago: None,
        },
        Body::VolunteerRequest {
            vserver: 63,
            round: 9,
            probe: true,
        },
        Body::VolunteerAnswer {
            vserver: 63,
            round: 9,
            suitability: 100,
            holding: 4,
            answering: heapless::Vec::from_slice(&[[0xff; 6]; 4]).unwrap(),
        },
        Body::Assume {
            vserver: 1,
            round: 9,
            generation: 4,
        },
        Body::Release {
            vserver: 1,
            generation: 4,
            round: u32::MAX,
        },
        Body::MoveRequest { vserver: 63 },
        Body::Leave,
        Body::Outcome {
            vserver: 1,
            round: 9,
            ok: false,
        },
        Body::StateSync(state_sync(
            MAX_VSERVERS,
            VsEntry::default(),
            Record::default(),
        )),
    ]
}

#[test]
fn every_variant_round_trips_keyed_and_insecure() {
    for key in [secret(), Key::Insecure] {
        let (mut a, mut b) = pair(&key);
        let mut buf = [0u8; MAX_DATAGRAM];
        for body in every_variant() {
            let n = a.seal(&body, &mut buf).unwrap();
            let r = b.open(Instant(2), &buf[..n]).unwrap().unwrap();
            assert_eq!(r.body, body, "{}", body.kind());
            assert_eq!(r.header.sender, 0);
            assert_eq!(r.header.incarnation, 1);
            assert_eq!(r.header.seq, a.last_seq());
        }
    }
}

#[test]
fn challenge_and_response_are_consumed_by_the_codec() {
    let (mut a, mut b) = pair(&secret());
    let mut buf = [0u8; MAX_DATAGRAM];
    let n = a.seal(&Body::Challenge { nonce: 42 }, &mut buf).unwrap();
    assert_eq!(b.open(Instant(3), &buf[..n]), Ok(None));
    assert_eq!(b.poll_transmit(), Some((0, Body::Response { nonce: 42 })));
    let n = a.seal(&Body::Response { nonce: 42 }, &mut buf).unwrap();
    assert_eq!(b.open(Instant(3), &buf[..n]), Ok(None));
    assert_eq!(b.poll_transmit(), None);
}

#[test]
fn a_maximal_hello_fits() {
    let body = Body::Hello(max_hello());
    let len = encoded_len(&body);
    // 1 tag + 5 seq + 1 role + 2 boss + 5 generation + 10 uptime + 1 health
    // + 5 digest + 6 mac + 10 claims + (1 + 64) suitability + 5 hears
    // + (1 + 32 * 15) acks + (1 + 32) list.
    assert_eq!(len, 630);
    assert!(HEADER_LEN + len + TAG_LEN <= MAX_DATAGRAM);
    let (mut a, _) = pair(&secret());
    let mut buf = [0u8; MAX_DATAGRAM];
    assert_eq!(a.seal(&body, &mut buf), Ok(HEADER_LEN + len + TAG_LEN));
}

/// A state-sync page filled to every capacity with the largest values fits
/// one datagram: the whole table (64 maximal entries, 1,601 bytes, plus 833
/// bytes of records) would not, hence the pages of SYNC_PAGE entries.
#[test]
fn a_maximal_state_sync_page_fits() {
    let body = Body::StateSync(state_sync(MAX_VSERVERS, max_entry(), max_record()));
    let len = encoded_len(&body);
    // 1 tag + 5 generation + (1 + 32) list + (1 + 2) deputies
    // + (1 + 32 * 26) records + 1 first + (1 + 16 * 25) vservers.
    assert_eq!(len, 1277);
    assert!(len <= MAX_BODY, "{len} > {MAX_BODY}");
    let (mut a, mut b) = pair(&secret());
    let mut buf = [0u8; MAX_DATAGRAM];
    let n = a.seal(&body, &mut buf).expect("fits");
    assert_eq!(b.open(Instant(5), &buf[..n]).unwrap().unwrap().body, body);
    assert!(
        MAX_VSERVERS.div_ceil(SYNC_PAGE) <= 4,
        "at most four pages per hello"
    );
}

#[test]
fn a_realistic_full_state_sync_fits() {
    // Every vserver and node in use, values of a cluster up for a year:
    // rounds below 2^14, times below 2^35 ms, one box excluded.
    let entry = VsEntry {
        combo: *b"UU1",
        holder: Some(17),
        round: 16_000,
        since_ms: 1 << 34,
        excluded: 1 << 5,
    };
    let record = Record {
        downtime_ms: 1 << 30,
        losses: 100,
        lost_for_ms: 0,
        alerted: false,
    };
    let body = Body::StateSync(state_sync(MAX_VSERVERS, entry, record));
    let len = encoded_len(&body);
    assert!(len <= MAX_BODY, "{len} bytes");
    let (mut a, mut b) = pair(&secret());
    let mut buf = [0u8; MAX_DATAGRAM];
    let n = a.seal(&body, &mut buf).unwrap();
    assert_eq!(b.open(Instant(5), &buf[..n]).unwrap().unwrap().body, body);
}

#[test]
fn buffer_too_small_is_not_too_large() {
    let (mut a, _) = pair(&secret());
    let mut small = [0u8; 100];
    let body = Body::Hello(max_hello());
    assert_eq!(a.seal(&body, &mut small), Err(EncodeError::BufferTooSmall));
    // A larger buffer than a datagram never yields more than MAX_DATAGRAM,
    // and every message fits: the largest is a maximal state-sync page.
    let mut big = [0u8; 4 * MAX_DATAGRAM];
    let body = Body::StateSync(state_sync(MAX_VSERVERS, max_entry(), max_record()));
    let n = a.seal(&body, &mut big).expect("a maximal page fits");
    assert!(n <= MAX_DATAGRAM);
}
