"""courierd killed with SIGKILL (issue 2): queued mail survives and is delivered once."""

import os
import signal
import sys
import threading
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
import harness  # noqa: E402


def send(mta, rcpt, tag, count):
    with mta.smtp() as s:
        for i in range(count):
            s.sendmail("crash@remote.example", [rcpt], f"Subject: {tag} {i}\r\n\r\nbody {i}\r\n")


def subjects(mta, user, tag):
    prefix = f"Subject: {tag} ".encode()
    return [line for _, d in mta.delivered(user) for line in d.split(b"\n") if line.startswith(prefix)]


class CourierdKillTest(harness.InstanceTestCase):
    @classmethod
    def configure(cls, mta):
        cls.user = mta.add_user()
        cls.rcpt = f"{cls.user}@{mta.me}"

    def kill_courierd(self):
        self.assertTrue(self.mta.courierd_pids(), "courierd is not running")

        def kill_all():
            # A module may finish between listing and kill, and a supervisor may fork a
            # new scheduler before it dies itself: kill until nothing is left.
            for pid in self.mta.courierd_pids():
                try:
                    os.kill(pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
            return not self.mta.courierd_pids()
        harness.wait_for(kill_all, timeout=10, what="courierd to die")

    def test_mail_queued_while_courierd_is_dead_is_delivered_after_restart(self):
        self.kill_courierd()
        send(self.mta, self.rcpt, "queued", 20)
        self.assertEqual(len(self.mta.queue_files()), 20)
        self.assertEqual(subjects(self.mta, self.user, "queued"), [])
        self.mta.run("sbin/courier", "start")
        harness.wait_for(lambda: len(subjects(self.mta, self.user, "queued")) >= 20, timeout=60,
                         what="20 delivered messages")
        harness.wait_for(lambda: not self.mta.queue_files(), timeout=30, what="an empty queue")
        got = subjects(self.mta, self.user, "queued")
        self.assertEqual(sorted(got), sorted(set(got)), "a message was delivered twice")
        self.assertEqual(len(got), 20)

    def test_sigkill_during_deliveries_loses_nothing_and_duplicates_nothing(self):
        sender = threading.Thread(target=send, args=(self.mta, self.rcpt, "inflight", 40))
        sender.start()
        harness.wait_for(lambda: len(subjects(self.mta, self.user, "inflight")) >= 5, timeout=60,
                         what="deliveries to start")
        self.kill_courierd()
        sender.join(120)
        self.mta.run("sbin/courier", "start")
        harness.wait_for(lambda: len(set(subjects(self.mta, self.user, "inflight"))) >= 40, timeout=60,
                         what="40 delivered messages")
        harness.wait_for(lambda: not self.mta.queue_files(), timeout=30, what="an empty queue")
        time.sleep(0.5)
        got = subjects(self.mta, self.user, "inflight")
        self.assertEqual(len(set(got)), 40)
        self.assertEqual(len(got), 40, "duplicates: %d" % (len(got) - len(set(got))))


if __name__ == "__main__":
    harness.main()
