#!/usr/bin/env bash
# Build a bootable initramfs (newc cpio, gzip) holding busybox and bongoyo:
# what a diskless fail-over box boots. Usage:
#   initramfs/build.sh BONGOYO_BINARY OUT.cpio.gz [KERNEL_VERSION]
# Needs busybox-static (the Makefile installs it). With KERNEL_VERSION, the
# virtio network modules of that kernel go in too (for booting under QEMU
# with a kernel that builds them as modules, like Debian's).
set -euo pipefail
bin=${1:?bongoyo binary}
out=${2:?output cpio.gz}
here=$(cd "$(dirname "$0")" && pwd)
busybox=$(command -v busybox || true)
[ -x /bin/busybox ] && busybox=/bin/busybox
file -b "$busybox" | grep -q 'statically linked' || { echo "initramfs: need a static busybox (apt-get install busybox-static)" >&2; exit 69; }

root=$(mktemp -d)
trap 'rm -rf "$root"' EXIT
mkdir -p "$root"/{bin,sbin,etc,proc,sys,dev,run,tmp,var/run}
cp "$busybox" "$root/bin/busybox"
cp "$bin" "$root/sbin/bongoyo"
cp "$here/init" "$root/init"
cp "$here/bongoyo.conf" "$root/etc/bongoyo.conf"
chmod 755 "$root/init" "$root/sbin/bongoyo" "$root/bin/busybox"
if [ -n "${3:-}" ]; then
  mkdir -p "$root/lib/modules"
  for m in virtio_ring virtio virtio_pci_legacy_dev virtio_pci_modern_dev virtio_pci failover net_failover virtio_net; do
    f=$(find "/lib/modules/$3" -name "$m.ko" | head -1)
    [ -n "$f" ] && cp "$f" "$root/lib/modules/$m.ko"
  done
fi

# newc cpio written by python3 (on every machine we build on), so no cpio
# package is needed; owner root, modes as on disk.
python3 - "$root" "$out" <<'PY'
import gzip, os, stat, sys
root, out = sys.argv[1], sys.argv[2]
entries = []
for d, dirs, files in os.walk(root):
    dirs.sort(); files.sort()
    for n in dirs + files:
        entries.append(os.path.join(d, n))
def hdr(name, mode, size, ino, nlink=1):
    f = [ino, mode, 0, 0, nlink, 0, size, 0, 0, 0, 0, len(name) + 1, 0]
    return b"070701" + b"".join(b"%08X" % x for x in f) + name.encode() + b"\0"
def pad(n): return b"\0" * ((4 - n % 4) % 4)
data = bytearray()
for ino, path in enumerate(entries, 1):
    rel = os.path.relpath(path, root)
    st = os.lstat(path)
    body = open(path, "rb").read() if stat.S_ISREG(st.st_mode) else b""
    h = hdr(rel, st.st_mode, len(body), ino, 2 if stat.S_ISDIR(st.st_mode) else 1)
    data += h + pad(len(h)) + body + pad(len(body))
h = hdr("TRAILER!!!", 0, 0, 0)
data += h + pad(len(h))
with gzip.open(out, "wb", 9) as f:
    f.write(bytes(data))
PY
echo "initramfs: $out ($(stat -c %s "$out") bytes: busybox $(stat -c %s "$busybox"), bongoyo $(stat -c %s "$bin"))"
