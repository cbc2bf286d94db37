"""A spool far larger than queuehi (issue 5): courierd holds at most queuehi messages
in memory, as its scan log lines report, and still delivers every message. The spool
is written by bench/make-spool; the scripted module (tests/courierd_support.py)
accepts each recipient at once."""

import os
import re
import subprocess
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
import harness  # noqa: E402
import courierd_support as cs  # noqa: E402

COUNT = 2000


class QueueBoundTest(harness.InstanceTestCase):
    @classmethod
    def configure(cls, mta):
        cs.install_script_module(mta)
        mta.write_config("queuehi", "100\n")
        mta.write_config("queuelo", "50\n")

    def test_big_spool_bounded_memory_all_delivered(self):
        self.mta.run("sbin/courier", "stop")
        subprocess.run([os.path.join(harness.SRCDIR, "bench", "make-spool"), "--spool", self.mta.path("spool"),
                        "--count", str(COUNT), "--rcpt", "ok@remote.example"], check=True, timeout=120)
        self.assertEqual(len(self.mta.queue_files()), COUNT)
        self.mta.run("sbin/courier", "start")
        harness.wait_for(lambda: not self.mta.queue_files(), timeout=150, interval=0.5,
                         what="the spool to be worked through")
        log = self.mta.log_text()
        ok = len(re.findall(r"courierd\[\d+\] info: delivery id=\S+ .* status=ok", log))
        self.assertEqual(ok, COUNT)
        held = [int(n) for n in re.findall(r"queue scan in_memory=(\d+) queuehi=100", log)]
        self.assertGreater(len(held), COUNT // 100, "memory was refilled many times")
        self.assertLessEqual(max(held), 100)


if __name__ == "__main__":
    harness.main()
