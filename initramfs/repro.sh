#!/usr/bin/env bash
# The initramfs is reproducible: build it twice, each time from copies of
# the inputs in a fresh directory (new paths, new times) and under another
# umask, and compare the two images' sha256. `make initramfs-repro`.
#   initramfs/repro.sh BONGOYO_BINARY [KERNEL_VERSION]
set -euo pipefail
cd "$(dirname "$0")/.."
bin=${1:?bongoyo binary}
kver=${2:-}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
one() { # one build: $1 a name, $2 the umask
  mkdir -p "$tmp/$1/in"
  (
    umask "$2"
    cp "$bin" "$tmp/$1/in/bongoyo"
    cp -r initramfs "$tmp/$1/in/initramfs"
    rm -rf "$tmp/$1/in/initramfs/build"
    touch -d "@$((RANDOM * 1000))" "$tmp/$1/in/bongoyo" "$tmp/$1/in/initramfs"/*
    cd "$tmp/$1"
    bash in/initramfs/build.sh in/bongoyo "out/$1.cpio.gz" "$kver" >/dev/null
  )
  sha256sum <"$tmp/$1/out/$1.cpio.gz" | cut -d' ' -f1
}
a=$(one a 022)
b=$(one b 077)
if [ "$a" = "$b" ]; then
  echo "initramfs-repro: PASS: two builds, same bytes: sha256 $a"
else
  echo "initramfs-repro: FAIL: $a differs from $b" >&2
  exit 1
fi
