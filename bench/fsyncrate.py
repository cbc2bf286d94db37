#!/usr/bin/env python3
"""The physical limit: durable write cycles per second on one directory's filesystem.

One cycle is what a durable queue or Maildir commit costs at the least: write 4 KiB
into a new file, fsync it, rename it into place, fsync the directory. Python threads
release the GIL inside write/fsync/rename, so 8 threads really overlap their syncs.

    fsyncrate.py DIR [SECONDS] [THREADS...]   prints one JSON object
"""

import json
import os
import sys
import threading
import time

BLOCK = b"x" * 4096


def cycles(directory, seconds, threads):
    """Cycles/s with `threads` writers for `seconds` seconds in `directory`."""
    work = os.path.join(directory, f"fsyncrate.{os.getpid()}.{threads}")
    os.makedirs(work, exist_ok=True)
    counts = [0] * threads
    stop = time.monotonic() + seconds

    def writer(k):
        dfd = os.open(work, os.O_RDONLY | os.O_DIRECTORY)
        n = 0
        try:
            while time.monotonic() < stop:
                tmp = os.path.join(work, f"t{k}.{n}")
                fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
                os.write(fd, BLOCK)
                os.fsync(fd)
                os.close(fd)
                final = os.path.join(work, f"f{k}.{n % 64}")
                os.rename(tmp, final)
                os.fsync(dfd)
                n += 1
        finally:
            os.close(dfd)
            counts[k] = n

    start = time.monotonic()
    ts = [threading.Thread(target=writer, args=(k,)) for k in range(threads)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    elapsed = time.monotonic() - start
    for name in os.listdir(work):
        os.unlink(os.path.join(work, name))
    os.rmdir(work)
    return sum(counts) / elapsed


def main():
    directory = sys.argv[1]
    seconds = float(sys.argv[2]) if len(sys.argv) > 2 else 3.0
    threads = [int(a) for a in sys.argv[3:]] or [1, 8]
    print(json.dumps({str(t): round(cycles(directory, seconds, t), 1) for t in threads}))


if __name__ == "__main__":
    main()
