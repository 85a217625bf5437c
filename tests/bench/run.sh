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
say "## Start-up cost"
# Peak RSS of a full config check (parse + validate), from the kernel's own accounting.
if [ -f board/bongoyo.conf ]; then
  rss=$(python3 - "$b" <<'PY'
import resource, subprocess, sys
subprocess.run([sys.argv[1], "check", "-c", "board/minimal.conf"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)
PY
)
  say "bongoyo check board/minimal.conf: peak RSS ${rss} KiB"
fi

say
bash tests/bench/failover.sh "$sum"

if [ -x tests/bench/more.sh ]; then
  bash tests/bench/more.sh "$sum"
fi
say
say "written to $sum"
