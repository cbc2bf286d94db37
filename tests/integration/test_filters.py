"""Global mail filters (issue 11, doc/filters.md): courierfilter, filterctl, and submit
consulting the enabled filters in name order for mail received over SMTP.

Two filters run all the time: 10-subject, the Python example filter
(filters/examples/subject_filter.py: reject/tempfail by Subject words), and
20-header, the C++ example built on libcourierfilter (discard, hold, prepend). Tests
that need a dead or slow filter enable one with filterctl and disable it again."""

import os
import shutil
import smtplib
import subprocess
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
import harness  # noqa: E402

EXAMPLE = os.path.join(harness.SRCDIR, "filters", "examples", "subject_filter.py")
HEADERFILTER = os.path.join(harness.BUILDDIR, "filters", "examples", "headerfilter")

# A filter that starts but never opens its socket: "down" as submit sees it.
DEAD_FILTER = "#!/bin/sh\nexec sleep 600\n"
# A filter that accepts connections and never answers: "slow".
SLOW_FILTER = """#!/usr/bin/env python3
import os, socket, sys, time
path = os.environ["FILTERSOCKET"]
s = socket.socket(socket.AF_UNIX)
s.bind(path)
s.listen(16)
held = []
s.settimeout(0.2)
while True:
    try:
        held.append(s.accept()[0])
    except socket.timeout:
        pass
"""


def send(mta, subject, rcpts, sender="someone@remote.example"):
    """Sends one message; returns the (code, text) of the reply to the end of DATA."""
    with mta.smtp() as s:
        s.ehlo("client.example")
        s.mail(sender)
        for r in rcpts:
            s.rcpt(r)
        try:
            code, text = s.data(f"From: <{sender}>\r\nSubject: {subject}\r\n\r\nbody of {subject}\r\n")
        except smtplib.SMTPDataError as e:
            code, text = e.smtp_code, e.smtp_error
        return code, text.decode()


def messages_with(mta, user, subject):
    return [data for _, data in mta.delivered(user) if f"Subject: {subject}".encode() in data]


class FilterTest(harness.InstanceTestCase):
    @classmethod
    def configure(cls, mta):
        cls.user = mta.add_user()
        cls.rcpt = f"{cls.user}@{mta.me}"
        filters = mta.path("libexec", "filters")
        os.makedirs(filters)
        shutil.copy(EXAMPLE, os.path.join(filters, "10-subject"))
        shutil.copy(HEADERFILTER, os.path.join(filters, "20-header"))
        for name, text in (("30-dead", DEAD_FILTER), ("05-slow", SLOW_FILTER)):
            with open(os.path.join(filters, name), "w") as f:
                f.write(text)
        for name in os.listdir(filters):
            os.chmod(os.path.join(filters, name), 0o755)
        mta.write_config("enablefiltering", "esmtp\n")
        mta.write_config("subjectfilter", "reject lottery\ntempfail later-please\n")
        mta.write_config("filtertimeout", "2\n")
        mta.run("sbin/filterctl", "start", "10-subject")
        mta.run("sbin/filterctl", "start", "20-header")
        mta.run("sbin/courierfilter", "start")
        cls.wait_running(mta, "10-subject", "20-header")

    @staticmethod
    def wait_running(mta, *names):
        for name in names:
            harness.wait_for(lambda: os.path.exists(mta.path("spool", "filters", name)),
                             timeout=15, what=f"filter {name} to listen")

    @classmethod
    def release(cls):
        # courierfilter runs under COURIER_ROOT: stop() kills what is left anyway.
        pass

    def tearDown(self):
        # Every test leaves only the two standard filters enabled, and fail-closed.
        for name in ("30-dead", "05-slow"):
            self.mta.run("sbin/filterctl", "stop", name, check=False)
        self.mta.write_config("filterfailure", "tempfail\n")

    def test_accept_passes_both_filters_in_order_and_prepends(self):
        code, text = send(self.mta, "hello", [self.rcpt])
        self.assertEqual(code, 250, text)
        self.assertIn("queued as", text)
        harness.wait_for(lambda: messages_with(self.mta, self.user, "hello"), what="delivery")
        data = messages_with(self.mta, self.user, "hello")[0].decode()
        # Received: first, then the headers in filter order, then the message.
        received = data.index("Received:")
        first = data.index("X-Subject-Filter: passed")
        second = data.index(f"X-Header-Filter: 1 rcpt from <someone@remote.example>")
        self.assertLess(received, first)
        self.assertLess(first, second)
        self.assertLess(second, data.index("Subject: hello"))

    def test_reject_stops_the_chain(self):
        code, text = send(self.mta, "win the lottery", [self.rcpt])
        self.assertEqual(code, 550)
        self.assertEqual(text, "5.7.1 Subject word lottery is not welcome here")
        log = self.mta.log_text()
        self.assertIn("filter name=10-subject from=<someone@remote.example> result=reject", log)
        # 20-header saw nothing: no result line of it after the rejection.
        tail = log[log.rindex("name=10-subject from=<someone@remote.example> result=reject"):]
        self.assertNotIn("name=20-header", tail)

    def test_tempfail(self):
        code, text = send(self.mta, "later-please", [self.rcpt])
        self.assertEqual(code, 451)
        self.assertEqual(text, "4.7.1 Subject word later-please: try later")

    def test_discard(self):
        before = len(self.mta.queue_files())
        code, text = send(self.mta, "[discard] me", [self.rcpt])
        self.assertEqual((code, text), (250, "2.0.0 Ok, thank you"))
        self.assertEqual(len(self.mta.queue_files()), before)
        self.assertIn("filter name=20-header from=<someone@remote.example> result=discard", self.mta.log_text())
        time.sleep(1)
        self.assertFalse(messages_with(self.mta, self.user, "[discard] me"))

    def test_hold_and_release(self):
        code, text = send(self.mta, "[hold] this", [self.rcpt])
        self.assertEqual(code, 250, text)
        qid = text.split("queued as ")[1].strip()
        status = [p for p in self.mta.queue_files() if qid in p][0].replace("/Q", "/S")
        with open(status) as f:
            self.assertRegex(f.read(), r"^hold \d+ subject\+20says\+20so\n")
        listing = self.mta.run("bin/mailq").stdout
        self.assertIn(qid, listing)
        self.assertIn("held: subject says so", listing)
        self.mta.run("sbin/courier", "flush")   # a flush does not deliver held mail
        time.sleep(2)
        self.assertFalse(messages_with(self.mta, self.user, "[hold] this"))
        out = self.mta.run("sbin/courier", "release", qid)
        self.assertIn(f"{qid} released", out.stdout)
        harness.wait_for(lambda: messages_with(self.mta, self.user, "[hold] this"), what="released delivery")
        again = self.mta.run("sbin/courier", "release", qid, check=False)
        self.assertNotEqual(again.returncode, 0)

    def test_dead_filter_tempfail_then_fail_open(self):
        self.mta.run("sbin/filterctl", "start", "30-dead")
        code, text = send(self.mta, "to a dead filter", [self.rcpt])
        self.assertEqual((code, text), (451, "4.7.0 Filter 30-dead unavailable, try again later"))
        self.assertIn("filter name=30-dead from=<someone@remote.example> result=failure outcome=tempfail",
                      self.mta.log_text())
        self.assertEqual(messages_with(self.mta, self.user, "to a dead filter"), [])
        self.mta.write_config("filterfailure", "accept\n")
        code, text = send(self.mta, "to a dead filter", [self.rcpt])
        self.assertEqual(code, 250, text)
        harness.wait_for(lambda: messages_with(self.mta, self.user, "to a dead filter"), what="fail-open delivery")

    def test_slow_filter_times_out(self):
        self.mta.run("sbin/filterctl", "start", "05-slow")
        self.wait_running(self.mta, "05-slow")
        started = time.monotonic()
        code, text = send(self.mta, "slowly", [self.rcpt])
        elapsed = time.monotonic() - started
        self.assertEqual((code, text), (451, "4.7.0 Filter 05-slow unavailable, try again later"))
        self.assertGreaterEqual(elapsed, 1.8)
        self.assertLess(elapsed, 10)
        self.assertIn("name=05-slow from=<someone@remote.example> result=failure outcome=tempfail "
                      "reason=no answer within the timeout", self.mta.log_text())

    def test_filterctl_lists_and_stop_disables(self):
        out = self.mta.run("sbin/filterctl").stdout
        self.assertIn("10-subject running", out)
        self.assertIn("20-header running", out)
        bad = self.mta.run("sbin/filterctl", "start", "../x", check=False)
        self.assertEqual(bad.returncode, 64)

    def test_local_mail_is_not_filtered(self):
        # enablefiltering names esmtp only: sendmail's mail passes even the lottery rule.
        msg = "Subject: lottery by sendmail\n\nbody\n"
        subprocess.run([self.mta.path("bin", "sendmail"), self.rcpt], input=msg, text=True,
                       env=self.mta.env, check=True, timeout=30)
        harness.wait_for(lambda: messages_with(self.mta, self.user, "lottery by sendmail"), what="local delivery")


class CourierfilterStopTest(harness.InstanceTestCase):
    start_esmtpd = False

    def test_start_stop(self):
        filters = self.mta.path("libexec", "filters")
        os.makedirs(filters)
        shutil.copy(EXAMPLE, os.path.join(filters, "10-subject"))
        self.mta.run("sbin/filterctl", "start", "10-subject")
        out = self.mta.run("sbin/courierfilter", "start").stdout
        self.assertIn("courierfilter started", out)
        sock = self.mta.path("spool", "filters", "10-subject")
        harness.wait_for(lambda: os.path.exists(sock), timeout=15, what="the example's socket")
        # filterctl stop: the running courierfilter ends that filter; its socket goes.
        self.mta.run("sbin/filterctl", "stop", "10-subject")
        harness.wait_for(lambda: not os.path.exists(sock), timeout=15, what="the filter to stop")
        self.mta.run("sbin/filterctl", "start", "10-subject")
        harness.wait_for(lambda: os.path.exists(sock), timeout=15, what="the filter to start again")
        started = time.monotonic()
        out = self.mta.run("sbin/courierfilter", "stop").stdout
        self.assertIn("courierfilter stopped", out)
        self.assertLess(time.monotonic() - started, 8)   # end of stdin was enough
        self.assertFalse(os.path.exists(sock))
        self.assertFalse(os.path.exists(self.mta.path("run", "courierfilter.pid")))


if __name__ == "__main__":
    harness.main()
