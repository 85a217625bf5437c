//! The shipped example configurations parse, and a broken one reports
//! exactly the expected `FILE:LINE:COL: message` lines.

use bongoyo::config::{parse, Fencing, Key};

/// Every `board/*.conf` parses with `parse` (the key file is not read).
#[test]
fn board_examples_parse() {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/board");
    let mut seen = 0;
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().and_then(|e| e.to_str()) != Some("conf") {
            continue;
        }
        let name = path.display().to_string();
        let text = std::fs::read_to_string(&path).unwrap();
        match parse(&name, &text) {
            Ok(cfg) => assert!(!cfg.nodes.is_empty(), "{name}"),
            Err(e) => panic!("{name} does not parse:\n{e}"),
        }
        seen += 1;
    }
    assert!(seen >= 3, "expected the three board examples, found {seen}");
}

#[test]
fn board_examples_mean_what_they_say() {
    let read = |f: &str| {
        let path = format!("{}/board/{f}", env!("CARGO_MANIFEST_DIR"));
        parse(f, &std::fs::read_to_string(path).unwrap()).unwrap()
    };
    let full = read("bongoyo.conf");
    assert!(matches!(&full.key, Key::Unread(p) if p == "/etc/bongoyo.key"));
    assert_eq!(
        (full.nodes.len(), full.quorum, full.fencing),
        (3, 2, Fencing::Lease)
    );
    assert_eq!(full.vservers.len(), 2);
    assert_eq!(full.lost_alert, std::time::Duration::from_secs(45));
    assert!(full.vservers[1].dedicated);
    assert_eq!(
        (full.vservers[0].garp_refresh, full.vservers[1].garp_refresh),
        (Some(std::time::Duration::from_secs(30)), None),
        "the top-level garp-refresh, and a block's own `none`"
    );
    assert_eq!(full.health.track.as_slice(), ["eth1"]);
    assert_eq!(
        (
            full.health.max_load_percent,
            full.health.min_free_memory_kib
        ),
        (Some(800), Some(4096))
    );
    let pair = read("pair.conf");
    assert_eq!(
        pair.lost_alert,
        std::time::Duration::from_secs(30),
        "default"
    );
    assert_eq!(
        (pair.nodes.len(), pair.quorum, pair.fencing),
        (2, 1, Fencing::None)
    );
    assert!(
        pair.vservers.iter().all(|v| v.garp_refresh.is_none()),
        "off by default"
    );
    let min = read("minimal.conf");
    assert_eq!((min.nodes.len(), min.quorum, min.vservers.len()), (1, 1, 0));
}

#[test]
fn broken_fixture_reports_every_error_in_place() {
    let text = include_str!("data/broken.conf");
    let errors = parse("broken.conf", text).unwrap_err().to_string();
    let want = "\
broken.conf:3:17: unexpected `nas` at end of line
broken.conf:4:10: key file `etc/bongoyo.key` must be an absolute path
broken.conf:6:11: 10.0.0.1 is not a multicast group (224.0.0.0/4)
broken.conf:7:7: hello 5ms is too short (at least 10ms)
broken.conf:8:7: bad duration unit `x` (ms, s, m or h)
broken.conf:9:8: quorum 5 is larger than the 1 node line
broken.conf:10:1: unknown keyword `colour`
broken.conf:11:28: bad priority `300` (0-255)
broken.conf:13:6: duplicate node name `f2` (first on line 12)
broken.conf:14:9: address 10.0.0.12 is already node `f2`'s (line 12)
broken.conf:17:15: address `10.0.0.50` needs a prefix length: A.B.C.D/P
broken.conf:20:15: bad duration `fast`: a number and a unit, such as 200ms
broken.conf:21:15: bad failback `later`: `auto` or `manual`
broken.conf:22:5: `hello` is a top-level keyword, not allowed in a vserver block
broken.conf:24:1: stray `}`: no block is open
broken.conf:26:9: vserver `db` has no `interface` line
broken.conf:26:12: unterminated block: `{` of vserver `db` has no `}`
";
    assert_eq!(errors, want);
}
