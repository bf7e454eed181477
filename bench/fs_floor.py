#!/usr/bin/env python3
"""The filesystem's own floor for writing a mirror tree.

Replays the files of an existing mirror (`web/` of a finished sync) into an empty
directory with only the calls any verified-then-renamed write needs: create the
directories, create a temp file, write the bytes' length, set the mtime, close,
rename. No network, no hashing, no fsync. Its system time is what the kernel charges
for the tree itself, whatever program writes it.

    bench/fs_floor.py SRC_WEB_DIR DEST_DIR [PROCESSES]

PROCESSES (default 1) splits the files among that many processes, to see how far
the kernel's share of the work spreads over the cores. Prints wall, user and system
seconds (of all the processes together). DEST_DIR is left for the caller to remove
(deleting many inodes slows the next minutes of inode creation on ext4 without a
journal; see bench/README.md).
"""

import os
import sys
import time


def main() -> None:
    args = sys.argv[1:]
    if len(args) == 2:
        args.append("1")
    if len(args) != 3 or not args[2].isdigit() or int(args[2]) < 1:
        sys.exit(__doc__)
    src, dst, processes = args[0], args[1], int(args[2])
    if os.path.exists(dst):
        sys.exit(f"{dst} exists; give a new directory")
    entries = []
    for d, _dirs, files in os.walk(src):
        for f in files:
            p = os.path.join(d, f)
            entries.append((os.path.relpath(p, src), os.path.getsize(p)))
    total = sum(size for _, size in entries)
    print(f"{len(entries)} files, {total / 1e6:.1f} MB", file=sys.stderr)
    zeros = memoryview(bytearray(max((size for _, size in entries), default=0)))
    t0, c0 = time.time(), os.times()
    children = []
    for k in range(processes):
        pid = os.fork()
        if pid == 0:
            # A child never returns into the parent's code, whatever happens.
            code = 1
            try:
                replay(entries[k::processes], dst, zeros)
                code = 0
            except OSError as e:
                print(f"{dst}: {e}", file=sys.stderr)
            finally:
                os._exit(code)
        children.append(pid)
    failed = sum(os.waitpid(pid, 0)[1] != 0 for pid in children)
    c1, t1 = os.times(), time.time()
    user = c1.children_user - c0.children_user
    system = c1.children_system - c0.children_system
    print(f"{processes} process(es): wall {t1 - t0:.2f} s, user {user:.2f} s, sys {system:.2f} s")
    if failed:
        sys.exit(f"{failed} process(es) failed")


def replay(entries: list[tuple[str, int]], dst: str, zeros: memoryview) -> None:
    for rel, size in entries:
        target = os.path.join(dst, rel)
        parent = os.path.dirname(target)
        tmp = os.path.join(parent, ".floor-tmp." + os.path.basename(target))
        try:
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
        except FileNotFoundError:
            os.makedirs(parent, exist_ok=True)
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
        os.write(fd, zeros[:size])
        os.utime(fd, (1e9, 1e9))
        os.close(fd)
        os.rename(tmp, target)


if __name__ == "__main__":
    main()
