//! `prefer` and `preempt-delay` in the configuration file (issue 16):
//! names resolved to nodes wherever the node lines are, `prefer none`, and
//! errors at the word that is wrong.

use bongoyo::config::parse;
use std::time::Duration;

fn conf(extra: &str) -> String {
    format!(
        "cluster t\nkey-file insecure\ninterface eth0\n\
         vserver web {{\n address 10.0.0.50/24\n interface eth0\n{extra}}}\n\
         node f1 10.0.0.11\nnode f2 10.0.0.12\nnode f3 10.0.0.13\n"
    )
}

#[test]
fn prefer_names_nodes_in_order_even_before_the_node_lines() {
    let c = parse("t.conf", &conf(" prefer f3 f1\n preempt-delay 2s\n")).expect("valid");
    let v = &c.vservers[0];
    assert_eq!(v.prefer.as_slice(), &[2, 0]);
    assert_eq!(v.preempt_delay, Some(Duration::from_secs(2)));
    let c = parse("t.conf", &conf(" prefer none\n")).expect("valid");
    assert!(c.vservers[0].prefer.is_empty());
    let c = parse("t.conf", &conf("")).expect("valid");
    assert!(c.vservers[0].prefer.is_empty() && c.vservers[0].preempt_delay.is_none());
}

#[test]
fn a_wrong_prefer_is_an_error_at_its_word() {
    for (extra, want) in [
        (
            " prefer f1 f9\n",
            "t.conf:7:12: `prefer` names `f9`, which is not a node",
        ),
        (
            " prefer f1 f1\n",
            "t.conf:7:12: node `f1` is named twice in `prefer`",
        ),
        (
            " prefer\n",
            "t.conf:7:2: `prefer` needs node names, or `none`",
        ),
        (" preempt-delay soon\n", "t.conf:7:16: "),
    ] {
        let e = parse("t.conf", &conf(extra)).expect_err(extra).to_string();
        assert!(e.starts_with(want), "{extra:?}: {e}");
    }
}
