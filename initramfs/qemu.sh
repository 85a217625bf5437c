#!/usr/bin/env bash
# Boot the initramfs under QEMU (software emulation) and check that the
# one-box cluster comes up and serves its vserver: `make qemu`. The box
# boots the image's one-box config (bongoyo.conf=/etc/bongoyo-solo.conf) as
# f1 with a fresh key on the command line; busybox init starts syslogd and
# the daemon, /etc/init.d/selftest prints the status and powers off.
# The guest's network is QEMU user networking with restrict=on: it reaches
# nothing outside the guest.
set -euo pipefail
cd "$(dirname "$0")/.."
bin=${1:-target/x86_64-unknown-linux-musl/release/bongoyo}
# shellcheck disable=SC2012  # kernel file names are plain
kernel=$(ls /boot/vmlinuz-* 2>/dev/null | sort | tail -1)
[ -n "$kernel" ] || { echo "qemu: no kernel in /boot (apt-get install linux-image-cloud-amd64)" >&2; exit 69; }
kver=${kernel#/boot/vmlinuz-}
out=initramfs/build
mkdir -p "$out"
bash initramfs/build.sh "$bin" "$out/bongoyo.cpio.gz" "$kver"
log="$out/console.log"
key=$("$bin" keygen)
timeout 180 qemu-system-x86_64 -m 256 -smp 1 -nographic -no-reboot \
  -kernel "$kernel" -initrd "$out/bongoyo.cpio.gz" \
  -append "console=ttyS0 quiet panic=-1 bongoyo.selftest bongoyo.node=f1 bongoyo.conf=/etc/bongoyo-solo.conf bongoyo.key=$key" \
  -netdev user,id=n0,restrict=on -device virtio-net-pci,netdev=n0 \
  </dev/null >"$log" 2>&1 || true
tr -d '\r' <"$log" | grep -E 'bongoyo|role|UU1|10.0.2.50|inet ' || true
# The daemon's lines reach the console through syslogd (host name f1).
if grep -q 'UU1' "$log" && grep -q '10.0.2.50/24' "$log" && grep -q 'f1 daemon.info bongoyo\[[0-9]*\]: start node=f1' "$log"; then
  echo "qemu: PASS: booted from initramfs (busybox init), elected itself, serves 10.0.2.50, logs through syslogd (console log: $log)"
else
  echo "qemu: FAIL: see $log" >&2
  exit 1
fi
