#!/usr/bin/env bash
# Three QEMU VMs boot the same initramfs as f1, f2 and f3 of its
# three-box cluster (/etc/bongoyo.conf, quorum 2), joined by one QEMU
# socket network: a multicast group on 127.0.0.1 that carries their
# Ethernet frames (one L2 segment, nothing outside the host). Once one of
# them serves the vserver (alias-added on its console), that VM is powered
# off (its QEMU process killed) and another must take the vserver over;
# never may two hold it at once. `make qemu3`.
#   initramfs/three.sh [BONGOYO_BINARY]
# Reads only the serial consoles, each line stamped with the host's clock
# as it comes out (initramfs/build/three/fN.log). Prints the boot time of
# each VM (QEMU start to the daemon's `start` line) and the fail-over time
# (power-off to alias-added on another VM). Software emulation; every wait
# is bounded and every QEMU started here is killed on exit.
set -euo pipefail
cd "$(dirname "$0")/.."
bin=${1:-target/x86_64-unknown-linux-musl/release/bongoyo}
BOOT_WAIT=${BOOT_WAIT:-150}    # s, until some VM serves the vserver
TAKE_WAIT=${TAKE_WAIT:-60}     # s, after the power-off, until another does
# shellcheck disable=SC2012  # kernel file names are plain
kernel=$(ls /boot/vmlinuz-* 2>/dev/null | sort | tail -1)
[ -n "$kernel" ] || { echo "qemu3: no kernel in /boot (apt-get install linux-image-cloud-amd64)" >&2; exit 69; }
out=initramfs/build/three
rm -rf "$out"
mkdir -p "$out"
bash initramfs/build.sh "$bin" "$out/bongoyo.cpio.gz" "${kernel#/boot/vmlinuz-}"
key=$("$bin" keygen)
# A group port of this run's own, so two runs on one host do not meet.
port=$((20000 + $$ % 20000))

# Killed on exit: each QEMU by its PID (its -pidfile); the console readers
# then see the end of their pipe and exit, and are waited for.
qpids=()
cleanup() {
  local p
  for p in "${qpids[@]}"; do kill -KILL "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
}
trap cleanup EXIT INT TERM

# Each console line with the host's time (seconds, microseconds).
stamp() {
  local l
  while IFS= read -r l; do printf '%s %s\n' "$EPOCHREALTIME" "${l%$'\r'}"; done
}
now() { echo "$EPOCHREALTIME"; }
# first STAMP of a line matching ERE $2 in log $1 after time $3 (or nothing)
first() { awk -v t="${3:-0}" -v re="$2" '$1 > t && $0 ~ re { print $1; exit }' "$1"; }
ms() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%d", (b - a) * 1000 }'; }

declare -A started qpid
for i in 1 2 3; do
  started[$i]=$(now)
  # (The subshell's stderr is dropped: bash's `Killed` for the power-off.)
  (qemu-system-x86_64 -m 128 -smp 1 -nographic -no-reboot \
    -pidfile "$out/f$i.pid" \
    -kernel "$kernel" -initrd "$out/bongoyo.cpio.gz" \
    -append "console=ttyS0 quiet panic=-1 bongoyo.node=f$i bongoyo.key=$key" \
    -netdev "socket,id=n0,mcast=230.0.0.1:$port,localaddr=127.0.0.1" \
    -device "virtio-net-pci,netdev=n0,mac=52:54:00:00:00:0$i" \
    </dev/null 2>&1 | stamp >"$out/f$i.log") 2>/dev/null &
  t=0
  while [ ! -s "$out/f$i.pid" ] && [ $t -lt 100 ]; do sleep 0.1; t=$((t + 1)); done
  [ -s "$out/f$i.pid" ] || { echo "qemu3: FAIL: f$i: QEMU did not start" >&2; exit 1; }
  qpid[$i]=$(cat "$out/f$i.pid")
  qpids+=("${qpid[$i]}")
done
echo "qemu3: three VMs started (multicast 230.0.0.1:$port on 127.0.0.1), consoles in $out/f{1,2,3}.log"

fail() {
  echo "qemu3: FAIL: $*" >&2
  for i in 1 2 3; do
    echo "--- f$i" >&2
    grep -E 'bongoyo|role|alias|member' "$out/f$i.log" | tail -15 >&2 || true
  done
  exit 1
}

# Boot: until every daemon has started and a VM has added the vserver's
# address (two boxes are a quorum: the third may come later).
holder='' deadline=$((SECONDS + BOOT_WAIT))
while :; do
  [ $SECONDS -lt $deadline ] || fail "within ${BOOT_WAIT}s: not every daemon started, or no VM served the vserver"
  sleep 0.5
  up=0
  for i in 1 2 3; do
    if grep -q 'start node=f' "$out/f$i.log"; then up=$((up + 1)); fi
    if [ -z "$holder" ] && grep -q 'alias-added vserver=web' "$out/f$i.log"; then holder=$i; fi
  done
  [ $up = 3 ] && [ -n "$holder" ] && break
done
for i in 1 2 3; do
  s=$(first "$out/f$i.log" 'start node=f')
  echo "qemu3: f$i boot: $(ms "${started[$i]}" "$s") ms from QEMU start to the daemon's start line"
done
served=$(first "$out/f$holder.log" 'alias-added vserver=web')
echo "qemu3: f$holder serves the vserver, $(ms "${started[1]}" "$served") ms after the first QEMU started"
# Let the cluster settle (every box a member), then power the holder off.
sleep 3
off=$(now)
kill -KILL "${qpid[$holder]}"
echo "qemu3: f$holder powered off (QEMU killed)"

# Fail-over: until another VM adds the address.
taker='' deadline=$((SECONDS + TAKE_WAIT))
while [ -z "$taker" ]; do
  [ $SECONDS -lt $deadline ] || fail "no VM took the vserver over within ${TAKE_WAIT}s of the power-off"
  sleep 0.2
  for i in 1 2 3; do
    [ "$i" = "$holder" ] && continue
    if [ -n "$(first "$out/f$i.log" 'alias-added vserver=web' "$off")" ]; then taker=$i; break; fi
  done
done
took=$(first "$out/f$taker.log" 'alias-added vserver=web' "$off")
echo "qemu3: f$taker took the vserver over $(ms "$off" "$took") ms after the power-off"
# A few seconds more: the survivors must stay at one holder.
sleep 3
end=$(now)

# Never two holders: each VM's holding intervals, from its alias-added to
# its alias-removed (or the power-off, or the end), must not overlap.
for i in 1 2 3; do
  stop=$end
  [ "$i" = "$holder" ] && stop=$off
  awk -v vm="f$i" -v stop="$stop" '
    / alias-added vserver=web/ { if (!on) { on = 1; from = $1 } }
    / alias-removed vserver=web/ { if (on) { print vm, from, $1; on = 0 } }
    END { if (on) print vm, from, stop }' "$out/f$i.log"
done >"$out/holding"
overlap=$(sort -k2,2n "$out/holding" | awk '
  { if (NR > 1 && $2 < last_end) print prev " and " $1 " at " $2; if ($3 > last_end) { last_end = $3; prev = $1 } }')
echo "qemu3: holding intervals (host seconds):"
sed 's/^/  /' "$out/holding"
[ -z "$overlap" ] || fail "two VMs held the vserver at once: $overlap"
echo "qemu3: PASS: three VMs booted one image, f$holder served, was powered off, f$taker took over in $(ms "$off" "$took") ms, never two holders"
