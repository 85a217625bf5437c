//! Arbitrary bytes as a control-socket request line: the parser must never
//! panic; what it accepts is one of the five requests, with a vserver name
//! that is one non-empty word of the input; the same bytes parse the same
//! way twice.
#![no_main]

use bongoyo::daemon::request::{parse, Request, REQUEST_BYTES};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let first = parse(data);
    assert_eq!(first, parse(data));
    if let Ok(r) = first {
        assert!(data.len() <= REQUEST_BYTES);
        if let Request::Release(name) = r {
            assert!(!name.is_empty());
            assert!(!name.contains(|c: char| c.is_ascii_whitespace()));
            let text = core::str::from_utf8(data).expect("accepted as text");
            assert!(text.contains(name));
        }
    }
});
