#!/usr/bin/env python3
"""Write a reproducible newc cpio, gzip-compressed, from a list of entries.

Usage: cpio.py OUT.cpio.gz < LIST

LIST has one entry a line, in the spirit of the kernel's gen_init_cpio
(usr/gen_init_cpio.c) without the owner fields, since every entry is root's:

    dir   NAME MODE
    file  NAME SOURCE MODE
    slink NAME TARGET MODE
    nod   NAME MODE c|b MAJOR MINOR

MODE is octal. Nothing of the builder's file system reaches the archive but
the bytes of each SOURCE: every mode is the one written in the list (not
the builder's umask), uid and gid are 0, every mtime is SOURCE_DATE_EPOCH
(0 when unset), entries are sorted by name (a parent sorts before its
children), inode numbers count up in that order, and the gzip header has
no file name and mtime 0. Same list, same sources, same bytes.
"""

import gzip
import os
import stat
import sys

KINDS = {"dir": stat.S_IFDIR, "file": stat.S_IFREG, "slink": stat.S_IFLNK, "nod": None}


def fail(msg):
    sys.stderr.write("cpio.py: %s\n" % msg)
    sys.exit(65)


def parse(lines):
    entries = {}
    for n, line in enumerate(lines, 1):
        f = line.split()
        if not f or f[0].startswith("#"):
            continue
        kind, name = f[0], f[1].strip("/") if len(f) > 1 else ""
        want = {"dir": 3, "file": 4, "slink": 4, "nod": 6}.get(kind)
        if want is None or len(f) != want or not name:
            fail("line %d: expected %s" % (n, " | ".join(KINDS)))
        if name in entries:
            fail("line %d: %s listed twice" % (n, name))
        body, rdev = b"", (0, 0)
        if kind == "dir":
            mode = stat.S_IFDIR | int(f[2], 8)
        elif kind == "file":
            with open(f[2], "rb") as src:
                body = src.read()
            mode = stat.S_IFREG | int(f[3], 8)
        elif kind == "slink":
            body = f[2].encode()
            mode = stat.S_IFLNK | int(f[3], 8)
        else:
            if f[3] not in ("c", "b"):
                fail("line %d: nod type is c or b" % n)
            mode = (stat.S_IFCHR if f[3] == "c" else stat.S_IFBLK) | int(f[2], 8)
            rdev = (int(f[4]), int(f[5]))
        entries[name] = (mode, body, rdev)
    for name in entries:
        parent = os.path.dirname(name)
        if parent and not stat.S_ISDIR(entries.get(parent, (0,))[0]):
            fail("%s: its directory %s is not listed" % (name, parent))
    return entries


def header(name, mode, size, ino, nlink, mtime, rdev=(0, 0)):
    fields = [ino, mode, 0, 0, nlink, mtime, size, 0, 0, rdev[0], rdev[1], len(name) + 1, 0]
    return b"070701" + b"".join(b"%08X" % x for x in fields) + name.encode() + b"\0"


def pad(n):
    return b"\0" * ((4 - n % 4) % 4)


def main():
    out = sys.argv[1]
    mtime = int(os.environ.get("SOURCE_DATE_EPOCH") or 0)
    entries = parse(sys.stdin)
    data = bytearray()
    # Sorted by the path's components, so a directory comes right before
    # what it holds ("a", "a/b", "a-b": the kernel needs parents first).
    for ino, name in enumerate(sorted(entries, key=lambda p: p.split("/")), 1):
        mode, body, rdev = entries[name]
        nlink = 2 if stat.S_ISDIR(mode) else 1
        h = header(name, mode, len(body), ino, nlink, mtime, rdev)
        data += h + pad(len(h)) + body + pad(len(body))
    h = header("TRAILER!!!", 0, 0, 0, 1, 0)
    data += h + pad(len(h))
    with open(out, "wb") as raw:
        with gzip.GzipFile(filename="", mode="wb", compresslevel=9, fileobj=raw, mtime=0) as z:
            z.write(bytes(data))


if __name__ == "__main__":
    main()
