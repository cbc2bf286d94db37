"""couriertcpd's connection limits under a storm (couriertcpd(1) -maxprocs, -maxperip,
-maxperc, -warn): hundreds of parallel connections; the limits hold (each program
records how many programs were running when it started, which can only undercount),
every admitted connection is served, refused ones are closed and logged, the listener
survives and nothing is left running."""

import asyncio
import os
import sys
import tempfile
import shutil
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
import harness  # noqa: E402
from haproxy_support import Tcpd, client  # noqa: E402

COUNTING_PROGRAM = """#!/bin/sh
: > "$SLOTS/$$"
set -- "$SLOTS"/*
echo $# >> "$COUNTS"
echo hello
sleep 0.2
rm -f "$SLOTS/$$"
"""


async def one_client(port, source, results):
    try:
        reader, writer = await asyncio.wait_for(
            asyncio.open_connection("127.0.0.1", port, local_addr=(source, 0)), 30)
    except OSError:
        results.append("connect-failed")
        return
    try:
        data = await asyncio.wait_for(reader.read(), 60)
        results.append("served" if data == b"hello\n" else "closed" if data == b"" else "other")
    except (OSError, asyncio.TimeoutError):
        results.append("error")
    finally:
        writer.close()


async def storm(port, sources):
    results = []
    await asyncio.gather(*(one_client(port, s, results) for s in sources))
    return results


def children_of(pid):
    out = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as f:
                    if int(f.read().rsplit(")", 1)[1].split()[1]) == pid:
                        out.append(int(entry))
            except (OSError, ValueError, IndexError):
                pass
    return out


class LimitsTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.mta = harness.Instance()

    @classmethod
    def tearDownClass(cls):
        cls.mta.stop()

    def setUp(self):
        self.dir = tempfile.mkdtemp(prefix="tcpd-storm-")
        self.slots = os.path.join(self.dir, "slots")
        os.mkdir(self.slots)
        self.counts = os.path.join(self.dir, "counts")
        open(self.counts, "w").close()
        self.addCleanup(shutil.rmtree, self.dir, True)

    def run_storm(self, options, sources):
        env = {"SLOTS": self.slots, "COUNTS": self.counts}
        log_before = len(self.mta.log_text())
        with Tcpd(self.mta, ["-nodnslookup"] + options, COUNTING_PROGRAM, env=env) as t:
            results = asyncio.run(storm(t.port, sources))
            # The listener survived and serves the next client.
            self.assertTrue(client(t.port, "127.0.0.1").startswith("hello"))
            harness.wait_for(lambda: not children_of(t.proc.pid), timeout=30,
                             what="every connection's program to end")
            self.assertIsNone(t.proc.poll())
            pid = t.proc.pid
        self.assertEqual(children_of(pid), [])
        with open(self.counts) as f:
            counts = [int(x) for x in f.read().split()]
        return results, counts, self.mta.log_text()[log_before:]

    def test_500_connections_from_one_address(self):
        results, counts, log = self.run_storm(["-maxperip=10", "-maxprocs=50"],
                                              ["127.0.0.1"] * 500)
        served, closed = results.count("served"), results.count("closed")
        self.assertEqual(served + closed, 500, results)
        self.assertGreaterEqual(served, 10)
        self.assertLessEqual(max(counts), 10)
        # Each admitted connection ran the program once (plus the final check).
        self.assertEqual(len(counts), served + 1)
        self.assertEqual(log.count("refused ip=127.0.0.1 limit=maxperip"), closed)

    def test_maxprocs_makes_connections_wait_and_warns(self):
        sources = ["127.0.2.%d" % (i % 250 + 1) for i in range(300)]
        results, counts, log = self.run_storm(["-maxperip=10", "-maxprocs=50", "-warn=40"],
                                              sources)
        self.assertEqual(results.count("served"), 300, results)   # nobody refused: they wait
        self.assertLessEqual(max(counts), 50)
        self.assertEqual(len(counts), 301)
        self.assertIn("connections above warning level", log)
        self.assertIn("maximum connections reached", log)

    def test_maxperc_counts_the_c_block(self):
        sources = ["127.0.3.%d" % (i % 50 + 1) for i in range(100)]
        results, counts, log = self.run_storm(["-maxperc=5", "-maxprocs=50"], sources)
        served, closed = results.count("served"), results.count("closed")
        self.assertEqual(served + closed, 100)
        self.assertGreater(closed, 0)
        self.assertLessEqual(max(counts[:-1]), 5)
        self.assertEqual(log.count("limit=maxperc"), closed)


if __name__ == "__main__":
    harness.main(time_limit=300)
