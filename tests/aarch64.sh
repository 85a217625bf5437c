#!/usr/bin/env bash
# The aarch64 binary runs: under qemu-user, it makes a key, accepts every
# example config (with that key) and rejects a broken one with FILE:LINE:COL
# and exit 65. What a vendor's ARM box would do first.
set -euo pipefail
cd "$(dirname "$0")/.."
bin=${1:-target/aarch64-unknown-linux-musl/release/bongoyo}
run() { qemu-aarch64 "$bin" "$@"; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
run keygen >"$tmp/key"
chmod 600 "$tmp/key"
grep -qE '^[0-9a-f]{64}$' "$tmp/key" || { echo "aarch64: keygen printed $(cat "$tmp/key")"; exit 1; }
for f in board/*.conf; do
  sed "s#^key-file .*#key-file $tmp/key#" "$f" >"$tmp/$(basename "$f")"
  run check --offline -c "$tmp/$(basename "$f")" >/dev/null
done
set +e
out=$(run check --offline -c tests/data/broken.conf 2>&1)
rc=$?
set -e
[ "$rc" = 65 ] || { echo "aarch64: broken config exit $rc"; exit 1; }
echo "$out" | grep -qE '^tests/data/broken.conf:[0-9]+:[0-9]+: ' || { echo "aarch64: no FILE:LINE:COL in: $out"; exit 1; }
# shellcheck disable=SC2012  # counting plain file names
echo "aarch64: $(stat -c %s "$bin") bytes; keygen, check of $(ls board/*.conf | wc -l) example configs and a broken one OK under qemu-aarch64"
