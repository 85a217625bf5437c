//! Arbitrary text into the config parser: it must never panic, and every
//! rejection must name at least one error with a position inside the text
//! (line 0 means the file as a whole). A config it accepts must stay within
//! the compile-time limits the tables are sized for.
#![no_main]

use bongoyo::config::parse;
use bongoyo::limits::{MAX_NODES, MAX_VSERVERS};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    // The daemon reads the file as UTF-8 and reports anything else itself.
    let Ok(text) = core::str::from_utf8(data) else {
        return;
    };
    match parse("fuzz.conf", text) {
        Ok(cfg) => {
            assert!(!cfg.nodes.is_empty() && cfg.nodes.len() <= MAX_NODES);
            assert!(cfg.vservers.len() <= MAX_VSERVERS);
        }
        Err(errors) => {
            // `lines()` ignores a last empty line; an error may point there.
            let lines = text.split('\n').count() as u32;
            assert!(!errors.is_empty());
            for e in &errors.list {
                assert!(e.line <= lines, "line {} of {lines}", e.line);
                assert!(!e.message.is_empty());
            }
        }
    }
});
