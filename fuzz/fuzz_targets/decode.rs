//! Arbitrary bytes into `Codec::open`: it must never panic, and every
//! rejection must be counted.
//!
//! Each input goes to two fresh codecs, one with a fixed key (the seeds in
//! `corpus/decode/` are tagged with it, see `tests/proto_garbage.rs`) and one
//! insecure (no tag, so the fuzzer reaches the postcard decoder with any
//! body). Each is fed the input twice: the second time exercises the replay
//! and incarnation paths with the state the first left behind.
#![no_main]

use bongoyo::config::Key;
use bongoyo::limits::MAX_NODES;
use bongoyo::proto::Codec;
use bongoyo::time::Instant;
use libfuzzer_sys::fuzz_target;

/// Must match `FUZZ_*` in `tests/proto_garbage.rs` (the seed generator).
const CLUSTER_ID: u32 = 0xf022_0001;
const CLUSTER: &str = "fuzz";
const KEY: [u8; 32] = [0x42; 32];

fuzz_target!(|data: &[u8]| {
    let keyed = Key::Secret(heapless::Vec::from_slice(&KEY).unwrap_or_default());
    for key in [keyed, Key::Insecure] {
        let mut codec = Codec::new(CLUSTER_ID, CLUSTER, &key, 0, MAX_NODES, 1, 2);
        let mut accepted = 0u64;
        for t in 0..2 {
            if codec.open(Instant(t * 1000), data).is_ok() {
                accepted += 1;
            }
            while codec.poll_transmit().is_some() {}
        }
        assert_eq!(codec.drops().total() + accepted, 2);
    }
});
