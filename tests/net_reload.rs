//! Reloading a running cluster on a real kernel (docs/CONFIG.md,
//! "Reloading"): three boxes in network namespaces, the real daemon, a
//! client connecting to the vserver all the while.
//!
//! Needs root (prints SKIP otherwise). Subnet 10.81.41.0/24.

mod common;

use std::time::Duration;

use common::lan::{Lan, Opts, BOXES};
use common::netns::{eventually, root_or_skip};
use nix::sys::signal::Signal;

/// Generous bounds: never flake on two slow shared cores.
const SERVE_LIMIT: Duration = Duration::from_secs(20);
const MOVE_LIMIT: Duration = Duration::from_secs(15);
/// Consecutive answered attempts that count as "served".
const STEADY: usize = 10;

/// `web`'s hooks: each run appends `BOX TAG KIND` to `{dir}/hooks`.
fn hooks(tag: &str) -> Vec<String> {
    vec![
        format!("post-takeover {{dir}}/hook.sh {{box}} {tag} post-takeover"),
        format!("pre-release {{dir}}/hook.sh {{box}} {tag} pre-release"),
    ]
}

fn hook_runs(lan: &Lan) -> Vec<String> {
    let text = std::fs::read_to_string(lan.dir().join("hooks")).unwrap_or_default();
    text.lines().map(str::to_owned).collect()
}

/// The `config` line of box `i`'s status.
fn config_line(lan: &Lan, i: usize) -> String {
    let s = lan.status(i);
    s.lines()
        .find(|l| l.starts_with("config "))
        .unwrap_or_else(|| panic!("no config line in\n{s}"))
        .to_owned()
}

#[test]
fn a_reload_applies_per_box_settings_and_refuses_the_rest_without_a_blip() {
    if !root_or_skip("a_reload_applies_per_box_settings_and_refuses_the_rest_without_a_blip") {
        return;
    }
    let opts = Opts {
        hello: None,
        vserver_extra: hooks("old"),
        service: None,
        ipv6: false,
        ipv6_only: false,
    };
    let mut lan = Lan::new(41, opts);
    let dir = lan.dir().display().to_string();
    lan.script(
        "hook.sh",
        &format!("#!/bin/sh\necho \"$1 $2 $3\" >> {dir}/hooks\nexit 0\n"),
    );
    let client = lan.client();
    lan.start_all();
    let holder = client.wait_served(SERVE_LIMIT, STEADY);
    let holder = holder.unwrap_or_else(|| panic!("never served{}", lan.report(&client.view(), 0)));
    // The takeover's post-takeover hook ran with the old tag.
    let ran = eventually(Duration::from_secs(10), || {
        let runs = hook_runs(&lan);
        (runs.len() == 1).then_some(runs)
    });
    let ran = ran.unwrap_or_else(|| panic!("hooks: {:?}", hook_runs(&lan)));
    assert_eq!(ran, [format!("{holder} old post-takeover")]);
    let before: Vec<String> = (0..3).map(|i| config_line(&lan, i)).collect();
    let mark = client.now();

    // New hooks in every box's file; the boxes reload one by one, 1 s
    // apart: SIGHUP, `bongoyo reload`, `bongoyo reload -c FILE`.
    lan.opts_mut().vserver_extra = hooks("new");
    for i in 0..3 {
        lan.config(i);
    }
    lan.signal(0, Signal::SIGHUP);
    let applied = eventually(Duration::from_secs(5), || {
        lan.logged("reload-applied file=").then_some(())
    });
    assert!(applied.is_some(), "{}", lan.report(&client.view(), mark));
    std::thread::sleep(Duration::from_secs(1));
    let (code, out) = lan.ctl(1, &["reload"]);
    assert_eq!(code, Some(0), "{out}");
    assert!(
        out.starts_with("ok applied ") && out.contains("changed hooks"),
        "{out}"
    );
    std::thread::sleep(Duration::from_secs(1));
    let f3 = lan.config(2);
    let (code, out) = lan.ctl(2, &["reload", "-c", f3.to_str().expect("utf-8")]);
    assert_eq!(code, Some(0), "{out}");
    assert!(out.contains("changed hooks"), "{out}");
    std::thread::sleep(Duration::from_secs(1));

    // A broken file on one box: refused with its place, nothing changes.
    let f2 = lan.config(1);
    let good = std::fs::read_to_string(&f2).expect("read");
    std::fs::write(&f2, format!("{good}hello soon\n")).expect("write");
    let (code, out) = lan.ctl(1, &["reload"]);
    assert_eq!(code, Some(65), "{out}");
    let lines = good.lines().count() + 1;
    let place = format!("{}:{lines}:", f2.display());
    assert!(out.contains(&place), "{place} not in {out}");
    assert!(lan.logged("reload-rejected file="));
    // A cluster-wide change (the timers): refused, nothing changes.
    std::fs::write(&f2, good.replacen("cluster ", "hello 100ms\ncluster ", 1)).expect("write");
    let (code, out) = lan.ctl(1, &["reload"]);
    assert_eq!(code, Some(69), "{out}");
    assert!(
        out.contains("cluster-wide settings differ (timers)"),
        "{out}"
    );
    assert!(lan.logged("reload-not-applied file="));
    std::thread::sleep(Duration::from_secs(1));

    // All the while: every connect answered by the same box, no hook ran,
    // no address moved, every box on the same digest as before.
    let v = client.view();
    let failed = v
        .attempts
        .iter()
        .filter(|a| a.at >= mark && a.who.is_none())
        .count();
    assert_eq!(failed, 0, "failed connects{}", lan.report(&v, mark));
    assert_eq!(
        v.answer_sequence(mark),
        std::slice::from_ref(&holder),
        "{}",
        lan.report(&v, mark)
    );
    assert_eq!(hook_runs(&lan), ran, "a reload ran a hook");
    assert_eq!(lan.holders(), std::slice::from_ref(&holder));
    for (i, line) in before.iter().enumerate() {
        let digest = line.rsplit(' ').next().expect("digest");
        let now = config_line(&lan, i);
        assert!(now.ends_with(digest), "{} was {line}, now {now}", BOXES[i]);
    }

    // The new hooks are the ones that run: a planned move releases on the
    // holder and takes over on another box, both with the new tag.
    let asker = (0..3).find(|&i| BOXES[i] != holder).expect("another box");
    let (code, out) = lan.ctl(asker, &["release", "web"]);
    assert_eq!(code, Some(0), "{out}");
    let mark = client.now();
    let next = client.wait_served_by_other(mark, &holder, MOVE_LIMIT, STEADY);
    let next = next.unwrap_or_else(|| panic!("not moved{}", lan.report(&client.view(), mark)));
    let runs = eventually(Duration::from_secs(10), || {
        let runs = hook_runs(&lan);
        (runs.len() >= 3).then_some(runs)
    });
    let runs = runs.unwrap_or_else(|| panic!("hooks: {:?}", hook_runs(&lan)));
    assert!(
        runs.contains(&format!("{holder} new pre-release")),
        "{runs:?}"
    );
    assert!(
        runs.contains(&format!("{next} new post-takeover")),
        "{runs:?}"
    );
    assert!(!runs[1..].iter().any(|r| r.contains(" old ")), "{runs:?}");
}
