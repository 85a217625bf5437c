#!/usr/bin/env bash
# make demo: three bongoyo boxes and a client in network namespaces on this
# machine; the box serving the vserver dies; the client shows what it saw;
# then an operator moves the vserver with `bongoyo release` (a planned move).
#
#   usage: tests/demo.sh [BINARY]   (as root; `make demo` builds the binary)
#
# Everything lives in namespaces named bgydemo<pid>-*, on 10.77.0.0/24, which
# exists only inside them (the network-test rules in README.md); the EXIT trap removes exactly
# what was created, by recorded name and PID.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
BIN=$(realpath "${1:-$here/../target/x86_64-unknown-linux-musl/release/bongoyo}")
[ "$(id -u)" = 0 ] || { echo "make demo needs root (network namespaces)"; exit 1; }
[ -x "$BIN" ] || { echo "no binary at $BIN: run make build"; exit 1; }
command -v python3 >/dev/null || { echo "make demo needs python3 (the client and the services)"; exit 1; }

NS_PREFIX=bgydemo$$
NS_SUBNET=10.77.0
# shellcheck source=tests/netns.sh
. "$here/netns.sh"
dir=$(mktemp -d /tmp/bongoyo-demo.XXXXXX)
trap 'ns_cleanup; rm -rf "$dir"; echo "cleaned up: namespaces, processes and $dir removed"' EXIT

VIP=$NS_SUBNET.50
PORT=8080
step() { printf '\n\033[1m== %s\033[0m\n' "$*"; }
ms() { date +%s%3N; }

step "1. A LAN in network namespaces"
ns_switch
for b in 1 2 3; do ns_box "f$b" "1$b"; done
ns_box cl 100
cat <<EOF
  a bridge (namespace $NS_PREFIX-sw) joins:
    f1  $NS_SUBNET.11   bongoyo box (priority 200)
    f2  $NS_SUBNET.12   bongoyo box
    f3  $NS_SUBNET.13   bongoyo box
    cl  $NS_SUBNET.100  a client
  vserver "web": address $VIP/24, service tcp $PORT. Each box runs a tiny
  TCP service on port $PORT that answers with its own name; it is reachable on
  $VIP only on the box that holds the address.
EOF

cat >"$dir/bongoyo.conf" <<EOF
# the same file on every box
cluster  demo
key-file insecure          # demo only: no authentication
interface eth0
node f1 $NS_SUBNET.11 priority 200
node f2 $NS_SUBNET.12
node f3 $NS_SUBNET.13
vserver web {
    address $VIP/24
    interface eth0
    service tcp $PORT
}
EOF
echo
echo "  configuration ($dir/bongoyo.conf), default timers (hello 200ms, dead 600ms):"
sed 's/^/    | /' "$dir/bongoyo.conf"

# The service: answers its box name to every connection.
cat >"$dir/service.py" <<'EOF'
import socket, sys
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("0.0.0.0", int(sys.argv[2]))); s.listen(64)
while True:
    c, _ = s.accept()
    try: c.sendall(sys.argv[1].encode())
    except OSError: pass
    c.close()
EOF
# The client: a TCP connection to the VIP every 20 ms (eight threads, so a
# slow attempt never delays the next), one line "ms who" per attempt.
cat >"$dir/client.py" <<'EOF'
import socket, sys, threading, time, os
vip, port, out, stop = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]
# Times are ms since the demo's own start (argv[5], epoch ms), so the client's
# time line and the demo's "kill at t=..." line agree.
late = time.time() * 1000 - int(sys.argv[5])
t0 = time.monotonic() - late / 1000; lock = threading.Lock(); f = open(out, "w", buffering=1)
first = int(late // 20) + 1
def worker(w):
    k = first + w
    while not os.path.exists(stop) and k * 20 < 120000:
        at = k * 20
        d = t0 + at / 1000 - time.monotonic()
        if d > 0: time.sleep(d)
        who = "-"
        try:
            c = socket.create_connection((vip, port), timeout=0.1); c.settimeout(0.05)
            who = c.recv(16).decode() or "-"; c.close()
        except OSError: pass
        with lock: f.write(f"{at} {who}\n")
        k += 8
ts = [threading.Thread(target=worker, args=(w,)) for w in range(8)]
for t in ts: t.start()
for t in ts: t.join()
EOF

step "2. Start the service and bongoyo on each box, and the client"
for b in f1 f2 f3; do
  ns_spawn "$b" "$dir/service-$b.log" python3 "$dir/service.py" "$b" "$PORT"
done
declare -A PID
for b in f1 f2 f3; do
  ns_spawn "$b" "$dir/$b.log" env BONGOYO_SYSLOG_SOCKET="$dir/nolog" \
    "$BIN" run -f -c "$dir/bongoyo.conf" -n "$b" -s "$dir/$b.sock"
  PID[$b]=$NS_LAST_PID
  echo "  $b: bongoyo run -f -c bongoyo.conf -n $b   (pid ${PID[$b]})"
done
t_start=$(ms)
ns_spawn cl "$dir/client.err" python3 "$dir/client.py" "$VIP" "$PORT" "$dir/client.txt" "$dir/stop" "$t_start"
echo "  cl: connecting to $VIP:$PORT every 20 ms"

# Who answered the last 10 attempts, if all the same box.
served_by() {
  # The client may not have written its first line yet.
  [ -s "$dir/client.txt" ] || return 0
  python3 - "$dir/client.txt" "${1:-0}" <<'EOF'
import sys
rows = sorted((int(a), w) for a, w in (l.split() for l in open(sys.argv[1]) if len(l.split()) == 2))
rows = [r for r in rows if r[0] >= int(sys.argv[2])]
last = [w for _, w in rows[-10:]]
print(last[0] if len(last) == 10 and last[0] != "-" and len(set(last)) == 1 else "")
EOF
}
# The box serving the client since ms `$1`, once it is not `$2`; polled
# every 100 ms, at most `$3` times (empty if none).
served_by_other() {
  local who
  for _ in $(seq 1 "$3"); do
    who=$(served_by "$1")
    [ -n "$who" ] && [ "$who" != "$2" ] && { echo "$who"; return 0; }
    sleep 0.1
  done
}

holder=$(served_by_other 0 "" 150)
[ -n "$holder" ] || { echo "the client was never served; logs in $dir"; tail -n 20 "$dir"/f*.log; exit 1; }
echo "  the client is served by $holder, $(( $(ms) - t_start )) ms after start"

step "3. bongoyo status (asked on $holder)"
sleep 1
"$BIN" status -s "$dir/$holder.sock" | sed 's/^/    /'

# The client's view from ms `$1` on, and the longest gap in answers after
# it; `$2` says what to compare it with.
client_view() {
python3 - "$dir/client.txt" "$1" "$2" <<'EOF'
import sys
rows = sorted((int(a), w) for a, w in (l.split() for l in open(sys.argv[1]) if len(l.split()) == 2))
mark, what = int(sys.argv[2]), sys.argv[3]
runs = []
for at, w in rows:
    if runs and runs[-1][0] == w: runs[-1][2] = at; runs[-1][3] += 1
    else: runs.append([w, at, at, 1])
for w, a, b, n in [r for r in runs if r[2] >= mark - 1000]:
    who = "no answer" if w == "-" else f"answered by {w}"
    print(f"    t={a:>6} .. {b:>6} ms  {n:>4} connections  {who}")
last_ok, worst = None, 0
for at, w in rows:
    if w != "-":
        if last_ok is not None and at >= mark: worst = max(worst, at - last_ok)
        last_ok = at
print(f"\n  OUTAGE seen by the client: {worst} ms  (the longest wait between two of its\n"
      f"  answers after t={mark} ms; 20 ms resolution; {what})")
EOF
}

step "4. The holder dies: kill -9 of its daemon and its link down"
sleep 1
mark=$(( $(ms) - t_start ))
kill -KILL "${PID[$holder]}"
ip -n "$NS_PREFIX-$holder" link set eth0 down
echo "  at t=${mark} ms: kill -9 ${PID[$holder]} (bongoyo on $holder); ip link set eth0 down on $holder"

new=$(served_by_other "$mark" "$holder" 150)
sleep 1

step "5. What the client saw"
client_view "$mark" "the target at the default timers is < 700 ms"
if [ -n "$new" ]; then
  cat <<EOF

  What happened: $holder stopped sending hellos (every 200 ms). After 'dead'
  (600 ms) without one, and no other box still hearing it, the boxes declared
  it lost; a deputy became boss (generation + 1), ARP-probed $VIP (no answer:
  $holder's link is down) and gave the vserver to $new, which added the alias
  eth0:N with a kernel lifetime and sent gratuitous ARP so the client's ARP
  cache points at $new. The vserver moved: $holder -> $new.
EOF
  step "6. bongoyo status (asked on the new holder $new)"
  "$BIN" status -s "$dir/$new.sock" | sed 's/^/    /'
  echo
  echo "  log of $new around the takeover:"
  grep -iE 'lost|boss|takeover|assume|alias|claim' "$dir/$new.log" | tail -n 8 | sed 's/^/    /' || true
else
  echo "  nobody took over within 15 s; logs in $dir"; tail -n 20 "$dir"/f*.log; exit 1
fi

step "7. A planned move: bongoyo release web, asked on another box"
other=""
for b in f1 f2 f3; do [ "$b" != "$holder" ] && [ "$b" != "$new" ] && other=$b; done
sleep 1
mark2=$(( $(ms) - t_start ))
echo "  at t=${mark2} ms on $other: bongoyo release web"
"$BIN" release web -s "$dir/$other.sock" | sed 's/^/    /' || true
moved=$(served_by_other "$mark2" "$new" 100)
sleep 1
touch "$dir/stop"
sleep 0.3
client_view "$mark2" "a planned move: the next box is chosen while $new still serves"
if [ -n "$moved" ]; then
  cat <<EOF

  What happened: $other forwarded the request to the boss, which ran a
  volunteer round without $new while $new kept serving, told $new to
  release, and on $new's word that the alias was gone told $moved to take
  over at once. The vserver moved: $new -> $moved.
EOF
else
  echo "  the vserver did not move within 10 s; logs in $dir"; tail -n 20 "$dir"/f*.log; exit 1
fi

step "8. Clean up"
