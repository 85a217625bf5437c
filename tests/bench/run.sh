#!/usr/bin/env bash
# make bench: measure, don't assume. Writes bench-results/summary.txt, a file a
# person can read; every figure is measured on this machine, now.
set -euo pipefail
cd "$(dirname "$0")/../.."
out=bench-results
mkdir -p "$out"
sum="$out/summary.txt"
: > "$sum"
say() { echo "$*" | tee -a "$sum"; }

say "# bongoyo benchmarks, $(date -u +%Y-%m-%dT%H:%M:%SZ), $(uname -m), $(nproc) cores"
say
say "## Binary size (budget 480 KB x86_64; keepalived alone is 873 KB + 44 shared libraries)"
for t in x86_64-unknown-linux-musl aarch64-unknown-linux-musl; do
  b="target/$t/release/bongoyo"
  if [ -f "$b" ]; then
    say "$t: $(stat -c %s "$b") bytes ($(( $(stat -c %s "$b") / 1024 )) KiB); $(file -b "$b" | cut -d, -f1-2,5-)"
  fi
done
say

b=target/x86_64-unknown-linux-musl/release/bongoyo
say "## Memory of a running daemon"
# The kernel's own accounting of the daemon's address space (VmHWM: peak
# resident, VmRSS: now), read from /proc after it has run as boss and served
# a vserver for 3 s. A fork-then-exec parent's size would pollute
# getrusage's ru_maxrss, so the figure comes from the daemon's own mm.
source tests/netns.sh
NS_PREFIX=bgybench$$
trap ns_cleanup EXIT
ns_switch
ns_box f1 11
tmp=$(mktemp -d)
cat >"$tmp/one.conf" <<CONF
cluster  bench
key-file insecure
interface eth0
quorum   1
node f1 $NS_SUBNET.11
vserver web {
    address   $NS_SUBNET.50/24
    interface eth0
    service   none
}
CONF
ns_spawn f1 "$tmp/f1.log" env BONGOYO_SYSLOG_SOCKET="$tmp/nolog" "$b" run -f -c "$tmp/one.conf" -n f1 -s "$tmp/f1.sock"
pid=$NS_LAST_PID
sleep 3
state=$("$b" status -s "$tmp/f1.sock" 2>/dev/null | grep -o 'state [A-Z0-9]*' | head -1)
hwm=$(awk '/VmHWM/ {print $2}' /proc/$pid/status)
rss=$(awk '/VmRSS/ {print $2}' /proc/$pid/status)
say "bongoyo run, one box serving one vserver ($state): peak RSS ${hwm} KiB, RSS now ${rss} KiB"
ns_cleanup
rm -rf "$tmp"
trap - EXIT

say
bash tests/bench/failover.sh "$sum"

say
bash tests/bench/side.sh "$sum"

say
say "## Simulator: fail-over and election at the default timers (virtual time, no machine noise)"
# The real core on the deterministic simulator: holder crash to another box
# claiming (3 boxes x 8 vservers), and election after a boss crash.
SIM_FIGURES=1 SIM_FIGURE_RUNS=${SIM_FIGURE_RUNS:-200} cargo test --locked --test sim -- --nocapture 2>/dev/null \
  | grep -E '^(fail-over|election|  )' | tee -a "$sum"

if [ -x tests/bench/more.sh ]; then
  bash tests/bench/more.sh "$sum"
fi
say
say "written to $sum"
