#!/usr/bin/env bash
# Side by side for make bench (issue 13): bongoyo (the release binary) and
# keepalived on one namespace LAN, the faults of tests/net_failover.rs at
# 20 ms, 100 ms and 1 s heartbeats, and their idle cost; tests/bench_side.rs
# does the work and says how. BENCH_RUNS (default 10) runs each; the other
# BENCH_* knobs are in that file's doc. Appends its tables to the summary
# file given as $1; writes bench-results/side-{raw.txt,summary.md,plot.*}
# and side-outage.png. Needs root (network namespaces).
set -euo pipefail
cd "$(dirname "$0")/../.."
sum=${1:-bench-results/summary.txt}
mkdir -p bench-results
say() { echo "$*" | tee -a "$sum"; }
if [ "$(id -u)" != 0 ]; then
  say "## Side by side: skipped, needs root for network namespaces"
  exit 0
fi
bin=$PWD/target/x86_64-unknown-linux-musl/release/bongoyo
[ -x "$bin" ] || { say "## Side by side: skipped, no release binary ($bin)"; exit 0; }
BENCH_SIDE=1 BENCH_BONGOYO="$bin" BENCH_OUT=bench-results \
  cargo test --locked --test bench_side -- --nocapture --test-threads 1 \
  > bench-results/side-log.txt 2>&1 || say "side by side: the harness failed, see bench-results/side-log.txt"
[ -f bench-results/side-summary.md ] && tee -a "$sum" < bench-results/side-summary.md
