//! Puts the commit the binary is built from into `BONGOYO_COMMIT`, for
//! `bongoyo version`: `BONGOYO_COMMIT` from the environment if set (a
//! build from a tarball), else `git rev-parse --short HEAD`, else
//! `unknown`. Reruns when HEAD moves, not on every build.

use std::path::Path;
use std::process::Command;

/// `git ARGS...`'s output lines, or nothing when git or the repository is
/// missing.
fn git(args: &[&str]) -> Vec<String> {
    Command::new("git")
        .args(args)
        .output()
        .ok()
        .filter(|o| o.status.success())
        .map(|o| {
            String::from_utf8_lossy(&o.stdout)
                .lines()
                .map(str::to_owned)
                .collect()
        })
        .unwrap_or_default()
}

fn main() {
    println!("cargo:rerun-if-env-changed=BONGOYO_COMMIT");
    println!("cargo:rerun-if-changed=build.rs");
    let commit = match std::env::var("BONGOYO_COMMIT") {
        Ok(c) if !c.is_empty() => c,
        _ => {
            // The commit, and the files that change when HEAD moves (a
            // worktree's HEAD and its branch's ref may live apart).
            let mut watch = git(&[
                "rev-parse",
                "--git-path",
                "HEAD",
                "--git-path",
                "packed-refs",
                "--symbolic-full-name",
                "HEAD",
            ]);
            if let Some(r) = watch.pop().filter(|r| r.starts_with("refs/")) {
                watch.extend(git(&["rev-parse", "--git-path", &r]));
            }
            // A path that does not exist would rerun this script every build.
            for p in watch.iter().filter(|p| Path::new(p).exists()) {
                println!("cargo:rerun-if-changed={p}");
            }
            let short = git(&["rev-parse", "--short", "HEAD"]);
            short
                .into_iter()
                .next()
                .unwrap_or_else(|| "unknown".to_owned())
        }
    };
    println!("cargo:rustc-env=BONGOYO_COMMIT={commit}");
}
