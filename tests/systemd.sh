#!/usr/bin/env bash
# `systemd-analyze verify` on board/systemd/bongoyo.service, with the
# binary at BONGOYO_BINARY instead of /usr/sbin/bongoyo (which the build
# host does not have). Skipped where systemd-analyze is missing.
# Usage: tests/systemd.sh BONGOYO_BINARY
set -euo pipefail
cd "$(dirname "$0")/.."
bin=$(realpath "${1:?bongoyo binary}")
unit=board/systemd/bongoyo.service
if ! command -v systemd-analyze >/dev/null; then
	echo "systemd: SKIP: no systemd-analyze here"
	exit 0
fi
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
sed "s|/usr/sbin/bongoyo|$bin|g" "$unit" >"$tmp/bongoyo.service"
if ! out=$(systemd-analyze verify "$tmp/bongoyo.service" 2>&1) || [ -n "$out" ]; then
	echo "systemd: FAIL: systemd-analyze verify $unit:" >&2
	echo "$out" >&2
	exit 1
fi
# What the daemon's notify support and exit codes rely on.
for line in Type=notify WatchdogSec= KillMode=mixed 'RestartPreventExitStatus=64 65 73 77'; do
	grep -q "^$line" "$unit" || { echo "systemd: FAIL: $unit has no $line" >&2; exit 1; }
done
echo "systemd: ok: systemd-analyze verify $unit"
