"""courierd retry schedule, flush, mailq and cancelmsg (issue 5), with short intervals.

A local recipient whose home is not writable is deferred (451 4.2.0) until the test
makes it writable again. Retries against a real SMTP peer (courieresmtp): see
test_courierd_outbound.py."""

import json
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
import harness  # noqa: E402
import courierd_support as cs  # noqa: E402


def schedule(alpha, beta, gamma, maxdelta, count):
    """The waits of courier(8)'s prose, as courierd/retry.h implements them."""
    out = []
    for a in range(1, count + 1):
        out.append(alpha if a % beta else gamma * 2 ** min(a // beta - 1, maxdelta))
    return out


class RetryScheduleTest(harness.InstanceTestCase):
    @classmethod
    def configure(cls, mta):
        for name, value in (("retryalpha", "1s"), ("retrybeta", "2"), ("retrygamma", "2"),
                            ("retrymaxdelta", "1")):
            mta.write_config(name, value + "\n")
        cls.sender = mta.add_user()

    def test_deferred_recipient_is_retried_on_schedule_then_delivered(self):
        user = self.mta.add_user()
        cs.make_home_unwritable(self.mta, user)
        replies, qid = cs.submit(self.mta, f"{self.sender}@{self.mta.me}", [f"{user}@{self.mta.me}"],
                                 "Subject: retry me\n\nbody\n", source="local")
        self.assertIsNotNone(qid, replies)
        retries = lambda: [r for r in cs.status_log(self.mta, qid) if r[0] == "retry"]  # noqa: E731
        harness.wait_for(lambda: len(retries()) >= 5, timeout=40, what="five retry records")
        cs.make_home_unwritable(self.mta, user, False)
        self.mta.wait_delivered(user, 1, timeout=30)
        harness.wait_for(lambda: not self.mta.queue_files(), timeout=20, what="an empty queue")
        log = cs.status_log(self.mta, qid) if os.path.exists(
            self.mta.path("spool", "msgs", qid[:5], "S" + qid)) else None
        self.assertIsNone(log, "the status log is removed with the message")
        # The log lines: one per attempt per recipient, parseable key=value.
        # courierd's lines (courierlocal logs a line of its own with fewer fields).
        lines = [ln for ln in self.mta.log_text().splitlines()
                 if f"delivery id={qid}" in ln and " courierd[" in ln]
        self.assertGreaterEqual(len(lines), 6)
        fields = dict(kv.split("=", 1) for kv in lines[0].split(" text=")[0].split() if "=" in kv)
        self.assertEqual(fields["rcpt"], f"<{user}@{self.mta.me}>")
        self.assertEqual(fields["from"], f"<{self.sender}@{self.mta.me}>")
        self.assertEqual(fields["module"], "local")
        self.assertEqual(fields["status"], "defer")
        self.assertEqual(fields["code"], "4.2.0")
        self.assertIn("delay", fields)
        self.assertIn("status=ok", lines[-1])

    def test_retry_records_follow_the_schedule(self):
        user = self.mta.add_user()
        cs.make_home_unwritable(self.mta, user)
        _, qid = cs.submit(self.mta, f"{self.sender}@{self.mta.me}", [f"{user}@{self.mta.me}"],
                           "Subject: schedule\n\nbody\n", source="local")
        harness.wait_for(lambda: len([r for r in cs.status_log(self.mta, qid) if r[0] == "retry"]) >= 6,
                         timeout=60, what="six retry records")
        log = cs.status_log(self.mta, qid)
        cs.make_home_unwritable(self.mta, user, False)
        waits, attempts, last_deferral, due = [], [], None, None
        for r in log:
            if r[0] == "deferred":
                last_deferral = int(r[2])
                if due is not None:
                    self.assertGreaterEqual(last_deferral, due, "an attempt came early")
            if r[0] == "retry":
                due = int(r[1])
                waits.append(due - last_deferral)
                attempts.append(int(r[2]))
        self.assertEqual(attempts[:6], [1, 2, 3, 4, 5, 6])
        # retryalpha 1 s, retrybeta 2, retrygamma 2 s, retrymaxdelta 1: 1 2 1 4 1 4 ...
        self.assertEqual(waits[:6], schedule(1, 2, 2, 1, 6))
        self.assertEqual(waits[:6], [1, 2, 1, 4, 1, 4])
        self.mta.wait_delivered(user, 1, timeout=30)


class FlushAndQueueToolsTest(harness.InstanceTestCase):
    """retryalpha of an hour: only a flush makes courierd try again."""

    @classmethod
    def configure(cls, mta):
        mta.write_config("retryalpha", "1h\n")
        mta.write_config("retrygamma", "2h\n")
        cls.sender = mta.add_user()

    def deferred_message(self, subject):
        user = self.mta.add_user()
        cs.make_home_unwritable(self.mta, user)
        _, qid = cs.submit(self.mta, f"{self.sender}@{self.mta.me}", [f"{user}@{self.mta.me}"],
                           f"Subject: {subject}\n\nbody\n", source="local")
        self.assertIsNotNone(qid)
        harness.wait_for(lambda: any(r[0] == "retry" for r in cs.status_log(self.mta, qid)),
                         timeout=20, what="the first deferral")
        return user, qid

    def test_flush_one_message(self):
        user, qid = self.deferred_message("flush one")
        other, other_qid = self.deferred_message("not flushed")
        cs.make_home_unwritable(self.mta, user, False)
        cs.make_home_unwritable(self.mta, other, False)
        self.mta.run("sbin/courier", "flush", qid)
        self.mta.wait_delivered(user, 1, timeout=20)
        harness.wait_for(lambda: not os.path.exists(self.mta.path("spool", "msgs", qid[:5], "Q" + qid)),
                         timeout=20, what="the flushed message to leave the queue")
        self.assertEqual(self.mta.delivered(other), [])
        self.assertTrue(os.path.exists(self.mta.path("spool", "msgs", other_qid[:5], "Q" + other_qid)))
        self.mta.run("sbin/courier", "flush", other_qid)
        self.mta.wait_delivered(other, 1, timeout=20)

    def test_flush_all(self):
        users = [self.deferred_message(f"flush all {i}")[0] for i in range(3)]
        for u in users:
            cs.make_home_unwritable(self.mta, u, False)
        self.mta.run("sbin/courier", "flush")
        for u in users:
            self.mta.wait_delivered(u, 1, timeout=20)

    def test_mailq_lists_the_deferred_message(self):
        user, qid = self.deferred_message("listed")
        out = self.mta.run("bin/mailq").stdout
        self.assertIn(qid, out)
        self.assertIn(f"<{user}@{self.mta.me}> deferred, next attempt ", out)
        self.assertIn(f"<{self.sender}@{self.mta.me}>", out)
        listing = json.loads(self.mta.run("bin/mailq", "--json").stdout)
        entry = [m for m in listing if m["id"] == qid]
        self.assertEqual(len(entry), 1)
        m = entry[0]
        self.assertEqual(m["sender"], f"{self.sender}@{self.mta.me}")
        self.assertEqual(m["attempts"], 1)
        self.assertGreater(m["next_attempt"], m["arrival"] + 3000)
        self.assertEqual(m["recipients"][0]["state"], "deferred")
        self.assertTrue(m["recipients"][0]["text"].startswith("451 4.2.0"))
        self.assertGreater(m["size"], 0)
        cs.make_home_unwritable(self.mta, user, False)
        self.mta.run("sbin/courier", "flush", qid)
        self.mta.wait_delivered(user, 1, timeout=20)

    def test_cancelmsg_returns_the_message_to_its_sender(self):
        user, qid = self.deferred_message("cancel me")
        before = len(cs.notices(self.mta, self.sender))
        r = self.mta.run("bin/cancelmsg", qid)
        self.assertIn("cancelled", r.stdout)
        harness.wait_for(lambda: len(cs.notices(self.mta, self.sender)) > before, timeout=20,
                         what="the cancelled message's bounce")
        harness.wait_for(lambda: not os.path.exists(self.mta.path("spool", "msgs", qid[:5], "Q" + qid)),
                         timeout=20, what="the cancelled message to leave the queue")
        bounce = cs.notices(self.mta, self.sender)[-1]
        per_msg, per_rcpt = cs.report_fields(bounce)
        self.assertEqual(per_rcpt[0]["Action"], "failed")
        self.assertEqual(per_rcpt[0]["Final-Recipient"], f"rfc822; {user}@{self.mta.me}")
        self.assertIn("cancelled", per_rcpt[0]["Diagnostic-Code"])
        self.assertIn("Subject: cancel me", bounce.as_string())
        self.assertEqual(self.mta.delivered(user), [])
        bad = self.mta.run("bin/cancelmsg", qid, check=False)
        self.assertNotEqual(bad.returncode, 0)
        self.assertIn("no such message", bad.stderr)


if __name__ == "__main__":
    harness.main()
