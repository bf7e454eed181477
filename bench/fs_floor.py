#!/usr/bin/env python3
"""The filesystem's own floor for writing a mirror tree.

Replays the files of an existing mirror (`web/` of a finished sync) into an empty
directory with only the calls any verified-then-renamed write needs: create the
directories, create a temp file, write the bytes' length, set the mtime, close,
rename. Single-threaded, no network, no hashing, no fsync. Its system time is what
the kernel charges for the tree itself, whatever program writes it.

    bench/fs_floor.py SRC_WEB_DIR DEST_DIR

Prints wall, user and system seconds. DEST_DIR is left for the caller to remove
(deleting many inodes slows the next minutes of inode creation on ext4 without a
journal; see bench/README.md).
"""

import os
import sys
import time


def main() -> None:
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    src, dst = sys.argv[1], sys.argv[2]
    if os.path.exists(dst):
        sys.exit(f"{dst} exists; give a new directory")
    entries = []
    for d, _dirs, files in os.walk(src):
        for f in files:
            p = os.path.join(d, f)
            entries.append((os.path.relpath(p, src), os.path.getsize(p)))
    total = sum(size for _, size in entries)
    print(f"{len(entries)} files, {total / 1e6:.1f} MB", file=sys.stderr)
    zeros = bytearray(max((size for _, size in entries), default=0))
    view = memoryview(zeros)
    t0, c0 = time.time(), os.times()
    for rel, size in entries:
        target = os.path.join(dst, rel)
        parent = os.path.dirname(target)
        tmp = os.path.join(parent, ".floor-tmp." + os.path.basename(target))
        try:
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
        except FileNotFoundError:
            os.makedirs(parent, exist_ok=True)
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
        os.write(fd, view[:size])
        os.utime(fd, (1e9, 1e9))
        os.close(fd)
        os.rename(tmp, target)
    c1, t1 = os.times(), time.time()
    print(f"wall {t1 - t0:.2f} s, user {c1.user - c0.user:.2f} s, sys {c1.system - c0.system:.2f} s")


if __name__ == "__main__":
    main()
