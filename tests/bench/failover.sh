#!/usr/bin/env bash
# Fail-over figures for make bench, measured by the client of the namespace
# tests (tests/net_failover.rs), and the kernel's removal of an unrenewed
# address (tests/os_netns.rs): each scenario is run BENCH_RUNS times (default
# 10), one after the other so runs do not compete for the CPU, and its
# `FIGURE name value` lines are collected. Appends min/median/max to the
# summary file given as $1. Needs root (network namespaces).
set -euo pipefail
cd "$(dirname "$0")/../.."
sum=${1:-bench-results/summary.txt}
runs=${BENCH_RUNS:-10}
say() { echo "$*" | tee -a "$sum"; }

say "## Fail-over, measured from a client in its own namespace ($runs runs each)"
if [ "$(id -u)" != 0 ]; then
  say "skipped: needs root for network namespaces"
  exit 0
fi
# test_bin NAME: build the test binary NAME and print its path.
test_bin() {
  cargo test --locked --test "$1" --no-run 2>&1 |
    sed -n "s/.*(\(target\/[^)]*$1-[0-9a-f]*\)).*/\1/p" | tail -n 1
}
bin=$(test_bin net_failover)
[ -x "$bin" ] || { say "skipped: could not build the namespace tests"; exit 0; }
mkdir -p bench-results
raw=bench-results/failover-raw.txt
: > "$raw"

# run LABEL TEST FIGURE [ENV=VALUE...]: $runs runs, one figure per run.
run() {
  local label=$1 test=$2 fig=$3; shift 3
  local vals=() fails=0 i out v
  for i in $(seq 1 "$runs"); do
    out=$(env "$@" "$bin" --exact "$test" --nocapture --test-threads 1 2>&1) || fails=$((fails + 1))
    v=$(echo "$out" | sed -n "s/.*FIGURE $fig \([0-9]*\)$/\1/p" | tail -n 1)
    echo "$label run $i: ${v:-none}" >> "$raw"
    [ -n "$v" ] && vals+=("$v")
  done
  if [ ${#vals[@]} -eq 0 ]; then
    say "$(printf '%-58s' "$label:") no figure ($fails failed runs)"
    return
  fi
  local sorted n
  sorted=$(printf '%s\n' "${vals[@]}" | sort -n)
  n=${#vals[@]}
  say "$(printf '%-58s min %5s  median %5s  max %5s ms  (%d runs, %d failed)' "$label:" \
    "$(echo "$sorted" | head -n 1)" "$(echo "$sorted" | sed -n "$(( (n + 1) / 2 ))p")" \
    "$(echo "$sorted" | tail -n 1)" "$n" "$fails")"
}

run "outage, holder box dies (kill -9 + link down), defaults" \
  the_holder_box_dies_and_another_box_serves box_death_outage_ms
run "outage, holder box dies, hello 50ms" \
  the_holder_box_dies_and_another_box_serves box_death_outage_ms BONGOYO_NET_HELLO=50ms
run "two boxes answering ARP, holder's daemon kill -9" \
  the_holders_daemon_is_killed_and_no_two_boxes_answer kill9_duplicate_ms
run "two boxes answering ARP, holder's daemon paused 5 s" \
  the_holder_paused_five_seconds_never_answers_with_another pause_duplicate_ms
run "outage, graceful stop (SIGTERM) of the holder" \
  a_graceful_stop_hands_over graceful_outage_ms
run "outage, hold hand-over (bongoyo hold on the holder)" \
  hold_on_the_holder_hands_over_with_a_short_outage hold_outage_ms
run "address gap (removed on one box, added on the next), hold" \
  hold_on_the_holder_hands_over_with_a_short_outage hold_gap_ms
run "outage, bongoyo release web (planned move)" \
  release_moves_the_vserver_to_another_box release_outage_ms
say "(outage: last answered TCP connection before the failure to the first after,"
say " 20 ms resolution; two boxes: ARP probes every 50 ms answered by two MACs;"
say " targets: outage < 700 ms at the defaults, two boxes 0 ms; raw runs in $raw)"

bin=$(test_bin os_netns)
if [ -x "$bin" ]; then
  run "kernel removal of an unrenewed alias (1 s lifetime)" \
    kernel_lifetime_removes_an_unrenewed_alias kernel_removal_ms
  run "kernel removal of an unrenewed IPv6 address (1 s lifetime)" \
    kernel_lifetime_removes_an_unrenewed_ipv6_address kernel_removal6_ms
  say "(fencing layer 2 counts on 1-2 s)"
fi
