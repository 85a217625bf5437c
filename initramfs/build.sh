#!/usr/bin/env bash
# Build a bootable initramfs (newc cpio, gzip) holding busybox and bongoyo:
# what a diskless fail-over box boots. Usage:
#   initramfs/build.sh BONGOYO_BINARY OUT.cpio.gz [KERNEL_VERSION]
# Needs busybox-static (the Makefile installs it). With KERNEL_VERSION, the
# virtio network modules of that kernel go in too (for booting under QEMU
# with a kernel that builds them as modules, like Debian's). With
# BONGOYO_KEY_FILE set, that key file goes in as /etc/bongoyo.key (0600):
# boxes booted without bongoyo.key= on the command line use it.
#
# /init is busybox init (/etc/inittab): rcS, then syslogd and the daemon,
# each started again when it exits; no shell on the console.
#
# Reproducible: the image is written from the list below by cpio.py, so
# every mode, owner and time in it is fixed here, whatever the builder's
# umask or clock; only the bytes of the listed files go in. The same
# inputs give the same bytes (`make initramfs-repro` checks it).
# SOURCE_DATE_EPOCH sets every entry's time (default 0).
set -euo pipefail
bin=${1:?bongoyo binary}
out=${2:?output cpio.gz}
kver=${3:-}
here=$(cd "$(dirname "$0")" && pwd)
busybox=$(command -v busybox || true)
[ -x /bin/busybox ] && busybox=/bin/busybox
file -b "$busybox" | grep -q 'statically linked' || { echo "initramfs: need a static busybox (apt-get install busybox-static)" >&2; exit 69; }

modules=(virtio_ring virtio virtio_pci_legacy_dev virtio_pci_modern_dev virtio_pci failover net_failover virtio_net)
list() {
  local d m f
  for d in bin sbin etc proc sys dev run var; do echo "dir $d 0755"; done
  echo "dir tmp 1777"
  echo "slink var/run /run 0777"
  echo "nod dev/console 0600 c 5 1"
  echo "nod dev/null 0666 c 1 3"
  echo "file bin/busybox $busybox 0755"
  echo "file sbin/bongoyo $bin 0755"
  echo "slink init /bin/busybox 0777"
  echo "slink sbin/init /bin/busybox 0777"
  echo "slink bin/sh busybox 0777"
  echo "file etc/inittab $here/inittab 0644"
  echo "dir etc/init.d 0755"
  echo "file etc/init.d/rcS $here/rcS 0755"
  echo "file etc/init.d/bongoyo $here/bongoyo-run 0755"
  echo "file etc/init.d/selftest $here/selftest 0755"
  echo "file etc/init.d/stop $here/stop 0755"
  echo "file etc/bongoyo.conf $here/bongoyo.conf 0644"
  echo "file etc/bongoyo-solo.conf $here/solo.conf 0644"
  if [ -n "${BONGOYO_KEY_FILE:-}" ]; then echo "file etc/bongoyo.key $BONGOYO_KEY_FILE 0600"; fi
  if [ -n "$kver" ]; then
    echo "dir lib 0755"
    echo "dir lib/modules 0755"
    for m in "${modules[@]}"; do
      f=$(find "/lib/modules/$kver" -name "$m.ko" | sort | head -1)
      if [ -n "$f" ]; then echo "file lib/modules/$m.ko $f 0644"; fi
    done
  fi
}
mkdir -p "$(dirname "$out")"
list | python3 "$here/cpio.py" "$out.tmp"
mv "$out.tmp" "$out"
echo "initramfs: $out ($(stat -c %s "$out") bytes: busybox $(stat -c %s "$busybox"), bongoyo $(stat -c %s "$bin"))"
