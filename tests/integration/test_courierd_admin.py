"""courier restart/stop around deliveries in progress, and stop during the restart
pause of a failing scheduler (courier(8), BUGS: improved on) (issue 5)."""

import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
import harness  # noqa: E402
import courierd_support as cs  # noqa: E402


def courierd_lines(mta, needle):
    return [ln for ln in mta.log_text().splitlines() if " courierd[" in ln and needle in ln]


class RestartStopTest(harness.InstanceTestCase):
    @classmethod
    def configure(cls, mta):
        cs.install_script_module(mta)
        mta.write_config("retryalpha", "1\n")

    def queue_path(self, qid):
        return self.mta.path("spool", "msgs", qid[:5], "Q" + qid)

    def test_restart_waits_for_the_delivery_in_progress(self):
        started = len(courierd_lines(self.mta, "scheduler started"))
        _, qid = cs.submit(self.mta, "x@remote.example", ["slow1@remote.example"], "Subject: s\n\nx\n")
        harness.wait_for(lambda: os.path.exists(cs.module_file(self.mta, "started-slow1")), timeout=20,
                         what="the delivery to start")
        r = self.mta.run("sbin/courier", "restart")
        self.assertIn("restarting", r.stdout)
        harness.wait_for(lambda: courierd_lines(self.mta, "waiting for 1 deliveries in progress"),
                         timeout=20, what="the scheduler to wait for the delivery")
        self.assertEqual(len(courierd_lines(self.mta, "scheduler started")), started)
        open(cs.module_file(self.mta, "release-slow1"), "w").close()
        harness.wait_for(lambda: len(courierd_lines(self.mta, "scheduler started")) > started,
                         timeout=20, what="a new scheduler")
        harness.wait_for(lambda: not os.path.exists(self.queue_path(qid)), timeout=20,
                         what="the message to be finished")
        attempts = courierd_lines(self.mta, f"delivery id={qid}")
        self.assertEqual(len(attempts), 1, attempts)   # finished, not aborted and repeated
        self.assertIn("status=ok", attempts[0])

    def test_stop_is_immediate_and_loses_nothing(self):
        _, qid = cs.submit(self.mta, "x@remote.example", ["slow2@remote.example"], "Subject: s\n\nx\n")
        harness.wait_for(lambda: os.path.exists(cs.module_file(self.mta, "started-slow2")), timeout=20,
                         what="the delivery to start")
        r = self.mta.run("sbin/courier", "stop")
        self.assertIn("stopped", r.stdout)
        self.assertEqual(self.mta.courierd_pids(), [])
        self.assertTrue(os.path.exists(self.queue_path(qid)))
        open(cs.module_file(self.mta, "release-slow2"), "w").close()
        self.mta.run("sbin/courier", "start")
        harness.wait_for(lambda: not os.path.exists(self.queue_path(qid)), timeout=20,
                         what="the message to be delivered after the start")
        self.assertIn("status=ok", courierd_lines(self.mta, f"delivery id={qid}")[-1])


class FatalStateTest(harness.InstanceTestCase):
    """A module that exits at once makes every scheduler fail: the supervisor pauses
    longer each time, and `courier stop` works during the pause."""

    @classmethod
    def configure(cls, mta):
        mta.write_config("module.esmtp", "NAME=esmtp\nPROG=/bin/false\nMAXDELS=1\nMAXHOST=1\nMAXRCPT=1\n")

    def test_stop_during_the_restart_pause(self):
        harness.wait_for(lambda: courierd_lines(self.mta, "restarting the scheduler in 4 s"), timeout=30,
                         what="the third restart pause")
        r = self.mta.run("sbin/courier", "stop", check=False)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("stopped", r.stdout)
        harness.wait_for(lambda: not self.mta.courierd_pids(), timeout=10, what="no courierd process")


if __name__ == "__main__":
    harness.main()
