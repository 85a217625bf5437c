# shellcheck shell=bash
# Network namespaces for the demo and the benchmarks (the network-test rules in README.md).
# Source this file. Everything lives in namespaces named "$NS_PREFIX-*":
# a switch namespace holding a bridge, and one namespace per box, each joined
# to the bridge by a veth pair. The host's own interfaces are never touched;
# 10.77.0.0/24 exists only inside these namespaces. ns_cleanup removes exactly
# what ns_* created (recorded names and PIDs), never by pattern.

NS_PREFIX=${NS_PREFIX:-bgy$$}
NS_SUBNET=${NS_SUBNET:-10.77.0}
NS_CREATED=()
NS_PIDS=()

ns_switch() {
  ip netns add "$NS_PREFIX-sw"
  NS_CREATED+=("$NS_PREFIX-sw")
  ip -n "$NS_PREFIX-sw" link add br0 type bridge
  ip -n "$NS_PREFIX-sw" link set br0 up
  ip -n "$NS_PREFIX-sw" link set lo up
}

# ns_box NAME HOSTPART: a namespace with eth0 = $NS_SUBNET.HOSTPART/24 on the bridge.
ns_box() {
  local name=$1 host=$2 ns="$NS_PREFIX-$1"
  ip netns add "$ns"
  NS_CREATED+=("$ns")
  ip -n "$NS_PREFIX-sw" link add "p-$name" type veth peer name eth0 netns "$ns"
  ip -n "$NS_PREFIX-sw" link set "p-$name" master br0 up
  ip -n "$ns" link set lo up
  ip -n "$ns" addr add "$NS_SUBNET.$host/24" dev eth0
  ip -n "$ns" link set eth0 up
  ip -n "$ns" route add 224.0.0.0/4 dev eth0
}

ns_exec() { local n=$1; shift; ip netns exec "$NS_PREFIX-$n" "$@"; }

# ns_spawn NAME LOGFILE CMD...: start CMD in box NAME's namespace, record its
# PID in NS_PIDS and leave it in NS_LAST_PID. Call it directly, never inside
# $( ... ): a subshell's NS_PIDS is lost, and ns_cleanup would leave the
# process running (it did: every `make demo` left two daemons behind).
ns_spawn() {
  local n=$1 log=$2; shift 2
  ip netns exec "$NS_PREFIX-$n" "$@" >"$log" 2>&1 &
  NS_LAST_PID=$!
  NS_PIDS+=("$NS_LAST_PID")
}

# ns_cleanup: kill and reap every recorded process, delete every recorded
# namespace; fails (status 1, naming them) if a recorded process survived.
ns_cleanup() {
  local pid ns left=()
  for pid in "${NS_PIDS[@]}"; do kill -KILL "$pid" 2>/dev/null || true; done
  for pid in "${NS_PIDS[@]}"; do wait "$pid" 2>/dev/null || true; done
  for pid in "${NS_PIDS[@]}"; do kill -0 "$pid" 2>/dev/null && left+=("$pid"); done
  for ns in "${NS_CREATED[@]}"; do ip netns del "$ns" 2>/dev/null || true; done
  NS_PIDS=(); NS_CREATED=()
  if [ ${#left[@]} -gt 0 ]; then
    echo "ns_cleanup: still running: ${left[*]}" >&2
    return 1
  fi
}
