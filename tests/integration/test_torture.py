"""Crash and fault torture (issue 12), short form for make check.

1. Under a steady load, SIGKILL random MTA processes (courieresmtpd, submit, the
   courierd scheduler, courierlocal and its children, courieresmtp) at random moments,
   then drain: every message that got a 250 is delivered exactly once, no message that
   got an error reply is delivered, a message whose connection broke is delivered at
   most once, and the spool holds no orphans after a restart.
2. With write/fsync/rename/link failing at random (EIO, ENOSPC) in submit and
   courierlocal: every 250 is delivered once and intact, every 4xx is not delivered.

TORTURE_MESSAGES (default 200) sets the load; `make torture-long` runs 3000."""

import os
import random
import signal
import smtplib
import subprocess
import sys
import threading
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
import harness  # noqa: E402

MESSAGES = int(os.environ.get("TORTURE_MESSAGES", "200"))
SENDERS = 4


class Load:
    """Sends MESSAGES messages over SENDERS sessions; records each one's outcome."""

    def __init__(self, mta, rcpt, tag, pace=0.0):
        self.mta, self.rcpt, self.tag, self.pace = mta, rcpt, tag, pace
        self.outcome = {}          # marker -> "ok" | "refused" | "broken"
        self.lock = threading.Lock()

    def body(self, marker):
        return f"Subject: {marker}\r\n\r\n{marker} " + "x" * 200 + "\r\n"

    def _worker(self, markers):
        s = None
        for marker in markers:
            try:
                if s is None:
                    s = smtplib.SMTP("127.0.0.1", self.mta.port, timeout=30)
                    s.ehlo("torture.example")
                s.sendmail("t@remote.example", [self.rcpt], self.body(marker))
                result = "ok"
            except smtplib.SMTPResponseException as e:
                result = "broken" if e.smtp_code in (421, -1) else "refused"
                s = self._close(s) if e.smtp_code in (421, -1) else s
            except smtplib.SMTPRecipientsRefused:
                result = "refused"
            except (OSError, smtplib.SMTPException):
                result = "broken"
                s = self._close(s)
            with self.lock:
                self.outcome[marker] = result
            time.sleep(self.pace)
        self._close(s)

    @staticmethod
    def _close(s):
        if s is not None:
            try:
                s.close()
            except Exception:
                pass
        return None

    def run(self):
        markers = [f"{self.tag}-{i:05d}" for i in range(MESSAGES)]
        threads = [threading.Thread(target=self._worker, args=(markers[k::SENDERS],)) for k in range(SENDERS)]
        for t in threads:
            t.start()
        return threads


def delivered_markers(mta, user, tag):
    counts = {}
    for _, data in mta.delivered(user):
        for line in data.split(b"\n"):
            if line.startswith(b"Subject: " + tag.encode()):
                m = line[len("Subject: "):].decode()
                counts[m] = counts.get(m, 0) + 1
                break
    return counts


class KillTortureTest(harness.InstanceTestCase):
    @classmethod
    def configure(cls, mta):
        cls.user = mta.add_user()
        mta.env["COURIERD_RESTART_PAUSE_MAX"] = "1"
        for name, value in (("retryalpha", "1"), ("retrygamma", "2"), ("retrybeta", "3")):
            mta.write_config(name, value + "\n")

    def victims(self):
        out = []
        for pid in harness.processes_of(self.mta.root):
            try:
                with open(f"/proc/{pid}/comm") as f:
                    comm = f.read().strip()
                with open(f"/proc/{pid}/status") as f:
                    uid = next(int(l.split()[1]) for l in f if l.startswith("Uid:"))
            except (OSError, StopIteration):
                continue
            if comm in ("courieresmtpd", "submit", "courierlocal", "courieresmtp"):
                out.append(pid)
            elif comm == "courierd" and uid != 0:   # the scheduler, not the supervisor
                out.append(pid)
        return out

    def test_sigkill_random_processes_under_load(self):
        # Paced so that the load lasts a few seconds and the killer strikes often.
        load = Load(self.mta, f"{self.user}@{self.mta.me}", "kill", pace=0.03)
        threads = load.run()
        kills = 0
        rng = random.Random(os.getpid())
        while any(t.is_alive() for t in threads):
            time.sleep(rng.uniform(0.01, 0.1))
            victims = self.victims()
            if victims:
                try:
                    os.kill(rng.choice(victims), signal.SIGKILL)
                    kills += 1
                except ProcessLookupError:
                    pass
        for t in threads:
            t.join(60)
        ok = {m for m, r in load.outcome.items() if r == "ok"}
        refused = {m for m, r in load.outcome.items() if r == "refused"}
        broken = {m for m, r in load.outcome.items() if r == "broken"}
        self.assertEqual(len(load.outcome), MESSAGES)
        # The scheduler comes back by itself (supervisor); restart makes sure.
        self.mta.run("sbin/courier", "restart")
        self.mta.run("sbin/courier", "flush", check=False)
        harness.wait_for(lambda: ok <= set(delivered_markers(self.mta, self.user, "kill")), timeout=120,
                         what="every accepted message delivered")
        harness.wait_for(lambda: not self.mta.queue_files(), timeout=60, what="an empty queue")
        counts = delivered_markers(self.mta, self.user, "kill")
        duplicates = {m: c for m, c in counts.items() if c > 1}
        print(f"\ntorture: {MESSAGES} messages, {kills} kills, {len(ok)} accepted, {len(refused)} refused, "
              f"{len(broken)} broken connections, {len(duplicates)} duplicated, lost 0")
        self.assertEqual(duplicates, {})
        self.assertEqual(refused & set(counts), set(), "refused messages were delivered")
        self.assertEqual(set(counts) - ok - broken, set())
        self.assertGreater(kills, 5)
        self.assertGreater(len(ok), MESSAGES // 4)
        self.assertEqual(os.listdir(self.mta.path("spool", "tmp")), [], "orphans in spool/tmp")


class FaultInjectionTest(harness.InstanceTestCase):
    @classmethod
    def configure(cls, mta):
        cls.user = mta.add_user()
        shim = mta.path("faultinject.so")
        subprocess.run(["g++", "-std=c++20", "-O1", "-shared", "-fPIC", "-o", shim,
                        os.path.join(harness.SRCDIR, "tests", "support", "faultinject.cc"), "-ldl"],
                       check=True)
        mta.env.update(LD_PRELOAD=shim, FAULTINJECT_PROGRAMS="submit,courierlocal", FAULTINJECT_RATE="0.1")
        for name, value in (("retryalpha", "1"), ("retrygamma", "2"), ("retrybeta", "3")):
            mta.write_config(name, value + "\n")

    def test_failing_syscalls_never_lose_or_corrupt_mail(self):
        load = Load(self.mta, f"{self.user}@{self.mta.me}", "fault")
        for t in load.run():
            t.join(300)
        ok = {m for m, r in load.outcome.items() if r == "ok"}
        refused = {m for m, r in load.outcome.items() if r == "refused"}
        self.assertEqual(len(load.outcome), MESSAGES)
        self.assertEqual({r for r in load.outcome.values()} - {"ok", "refused"}, set())
        self.assertGreater(len(refused), 0, "no fault was injected into submit")
        self.assertGreater(len(ok), 0)
        harness.wait_for(lambda: ok <= set(delivered_markers(self.mta, self.user, "fault")), timeout=180,
                         interval=0.5, what="every accepted message delivered despite failing writes")
        harness.wait_for(lambda: not self.mta.queue_files(), timeout=60, what="an empty queue")
        counts = delivered_markers(self.mta, self.user, "fault")
        self.assertEqual(set(counts), ok)
        self.assertEqual({m: c for m, c in counts.items() if c > 1}, {})
        for _, data in self.mta.delivered(self.user):
            subject = next(l for l in data.split(b"\n") if l.startswith(b"Subject: "))
            marker = subject[len("Subject: "):].decode()
            self.assertTrue(data.endswith(f"\n\n{marker} ".encode() + b"x" * 200 + b"\n"), marker)
        print(f"\nfaults: {MESSAGES} messages, {len(ok)} accepted, {len(refused)} refused with 4xx, "
              f"all accepted delivered once and intact")


if __name__ == "__main__":
    harness.main()
