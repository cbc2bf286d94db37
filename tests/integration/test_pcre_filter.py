#!/usr/bin/env python3
"""pcrefilter(8) over SMTP: every action of pcrefilter(5) (REJECT, a 4xx REJECT,
DISCARD, HOLD then courier release, WARN, PREPEND), rules matching quoted-printable and
base64 bodies inside MIME, a non-text part not searched, a bad regex refused with
file:line (by -check and by a running filter, which keeps its rules), and new rules
taking effect without a restart."""

import base64
import os
import signal
import subprocess
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
import harness  # noqa: E402

RULES = """\
# test rules (line numbers are asserted below)
header /^Subject:.*viagra/            REJECT 554 5.7.1 No pharmacy spam
header /^X-Mailer: MassMailer/        PREPEND X-Bulk: yes
header /^X-Warn-Me:/                  WARN header warning
body   /lottery winner/               REJECT 550 5.7.1 No lotteries here
body   /forbidden phrase/             REJECT
body   /^unsubscribe-me$/             DISCARD list noise
body   /hold-this-message/            HOLD needs a look
body   /try-later-please/             REJECT 451 4.7.1 Come back later
"""


def filter_pids(mta):
    out = []
    for pid in harness.processes_of(mta.root):
        try:
            with open(f"/proc/{pid}/comm") as f:
                if f.read().strip() == "pcrefilter":
                    out.append(pid)
        except OSError:
            pass
    return out


class PcreFilterTest(harness.InstanceTestCase):
    @classmethod
    def configure(cls, mta):
        cls.user = mta.add_user()
        cls.rcpt = f"{cls.user}@{mta.me}"
        cls.rules_path = mta.path("etc", "pcrefilter")
        mta.write_config("pcrefilter", RULES)
        mta.write_config("enablefiltering", "esmtp\n")
        mta.run("sbin/filterctl", "start", "pcrefilter", mta.path("libexec", "pcrefilter"))
        mta.run("sbin/courierfilter", "start")
        harness.wait_for(lambda: os.path.exists(mta.path("spool", "filters", "pcrefilter")), timeout=15,
                         what="the pcrefilter socket")

    # ---- helpers -----------------------------------------------------------------
    def send(self, message, sender="sender@example.com"):
        """(code, text) of the reply at the end of DATA."""
        with self.mta.smtp() as s:
            s.ehlo("client.example")
            self.assertEqual(s.mail(sender)[0], 250)
            self.assertEqual(s.rcpt(self.rcpt)[0], 250)
            code, text = s.data(message.encode() if isinstance(message, str) else message)
            return code, text.decode(errors="replace")

    def message(self, subject, body, headers=""):
        return f"From: sender@example.com\r\nTo: {self.rcpt}\r\nSubject: {subject}\r\n{headers}\r\n{body}"

    def delivered_with(self, marker, timeout=20):
        def find():
            for _, data in self.mta.delivered(self.user):
                if marker.encode() in data:
                    return data
            return None
        return harness.wait_for(find, timeout=timeout, what=f"delivery of {marker}")

    def log_has(self, text, timeout=10):
        harness.wait_for(lambda: text in self.mta.log_text(), timeout=timeout, what=f"log line with {text!r}")

    def rule(self, line):
        return f"{self.rules_path}:{line}"

    # ---- actions -----------------------------------------------------------------
    def test_clean_message_is_delivered(self):
        code, _ = self.send(self.message("hello", "nothing to see here clean-1\r\n"))
        self.assertEqual(code, 250)
        self.delivered_with("clean-1")

    def test_reject_header(self):
        code, text = self.send(self.message("cheap VIAGRA now", "body\r\n"))
        self.assertEqual(code, 554)
        self.assertIn("5.7.1 No pharmacy spam", text)
        self.log_has(f"rule={self.rule(2)} action=REJECT")

    def test_reject_folded_header(self):
        # The rule sees the header unfolded: "Subject: cheap\r\n viagra" becomes one line.
        code, _ = self.send(self.message("cheap\r\n viagra", "body\r\n"))
        self.assertEqual(code, 554)

    def test_reject_quoted_printable_body(self):
        msg = self.message("qp", "you are our lot=\r\ntery w=69nner today\r\n",
                           "MIME-Version: 1.0\r\nContent-Type: text/plain; charset=us-ascii\r\n"
                           "Content-Transfer-Encoding: quoted-printable\r\n")
        self.assertNotIn("lottery winner", msg)
        code, text = self.send(msg)
        self.assertEqual(code, 550)
        self.assertIn("5.7.1 No lotteries here", text)
        self.log_has(f"rule={self.rule(5)} action=REJECT")

    def test_reject_base64_text_part_in_multipart(self):
        encoded = base64.encodebytes(b"this holds a forbidden phrase somewhere\n").decode().replace("\n", "\r\n")
        body = ("--BOUND\r\nContent-Type: text/plain\r\n\r\nharmless first part\r\n"
                "--BOUND\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: base64\r\n\r\n"
                f"{encoded}--BOUND--\r\n")
        msg = self.message("b64", body, "MIME-Version: 1.0\r\n"
                           "Content-Type: multipart/mixed; boundary=\"BOUND\"\r\n")
        self.assertNotIn("forbidden phrase", msg)
        code, text = self.send(msg)
        self.assertEqual(code, 550)
        self.assertIn("5.7.1 Message content rejected", text)

    def test_base64_attachment_is_not_searched(self):
        encoded = base64.encodebytes(b"a forbidden phrase inside an image\n").decode().replace("\n", "\r\n")
        body = ("--B\r\nContent-Type: text/plain\r\n\r\nsee attachment image-2\r\n"
                "--B\r\nContent-Type: image/png\r\nContent-Transfer-Encoding: base64\r\n\r\n"
                f"{encoded}--B--\r\n")
        msg = self.message("image", body, "MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=B\r\n")
        code, _ = self.send(msg)
        self.assertEqual(code, 250)
        self.delivered_with("image-2")

    def test_reject_with_4xx_is_a_temporary_failure(self):
        code, text = self.send(self.message("later", "try-later-please\r\n"))
        self.assertEqual(code, 451)
        self.assertIn("4.7.1 Come back later", text)

    def test_discard(self):
        before = len(self.mta.delivered(self.user))
        code, text = self.send(self.message("noise discard-1", "unsubscribe-me\r\n"))
        self.assertEqual(code, 250)
        self.log_has(f"rule={self.rule(7)} action=DISCARD")
        time.sleep(2)
        self.assertFalse(any(b"discard-1" in d for _, d in self.mta.delivered(self.user)))
        self.assertEqual(len(self.mta.delivered(self.user)), before)
        self.assertFalse(any("discard-1" in open(q, errors="replace").read() for q in self.mta.queue_files()))

    def test_hold_until_released(self):
        code, text = self.send(self.message("held hold-1", "please hold-this-message\r\n"))
        self.assertEqual(code, 250)
        qid = text.split()[-1]
        self.log_has(f"rule={self.rule(8)} action=HOLD")
        time.sleep(3)
        self.assertFalse(any(b"hold-1" in d for _, d in self.mta.delivered(self.user)))
        self.assertTrue(any(qid in q for q in self.mta.queue_files()), "held message left the queue")
        self.mta.run("sbin/courier", "release", qid)
        self.delivered_with("hold-1")

    def test_warn_only_logs(self):
        code, _ = self.send(self.message("warned warn-1", "body\r\n", "X-Warn-Me: yes\r\n"))
        self.assertEqual(code, 250)
        self.delivered_with("warn-1")
        self.log_has(f"rule={self.rule(4)} action=WARN")

    def test_prepend_header(self):
        code, _ = self.send(self.message("bulk prepend-1", "body\r\n", "X-Mailer: MassMailer 2.0\r\n"))
        self.assertEqual(code, 250)
        data = self.delivered_with("prepend-1")
        self.assertIn(b"\nX-Bulk: yes\n", data)
        other = self.send(self.message("plain prepend-2", "body\r\n"))
        self.assertEqual(other[0], 250)
        self.assertNotIn(b"X-Bulk:", self.delivered_with("prepend-2"))

    # ---- the rules file ----------------------------------------------------------
    def test_zz_bad_regex_refused_and_reload_without_restart(self):
        pids = filter_pids(self.mta)
        self.assertEqual(len(pids), 1)
        bad_path = self.mta.path("etc", "pcrefilter.bad")
        with open(bad_path, "w") as f:
            f.write("# comment\nheader /fine/ WARN\nbody /(unclosed/ REJECT\n")
        check = self.mta.run("libexec/pcrefilter", "-check", bad_path, check=False)
        self.assertEqual(check.returncode, 78)
        self.assertIn(f"{bad_path}:3: bad regex /(unclosed/", check.stderr)

        try:
            # A running filter refuses the bad file and keeps its rules.
            os.replace(bad_path, self.rules_path)
            self.log_has(f"refused rules file={self.rules_path} error={self.rules_path}:3: bad regex")
            code, _ = self.send(self.message("viagra still", "body\r\n"))
            self.assertEqual(code, 554)

            # A good file with a new rule takes effect at once: no restart.
            with open(self.rules_path + ".new", "w") as f:
                f.write(RULES + "body /brand-new-rule/ REJECT 553 5.7.1 New rule in force\n")
            os.replace(self.rules_path + ".new", self.rules_path)
            code, text = self.send(self.message("new rule", "brand-new-rule\r\n"))
            self.assertEqual(code, 553)
            self.assertIn("New rule in force", text)
            self.log_has("reloaded rules file=")

            # SIGHUP reloads even when the file looks unchanged.
            os.kill(pids[0], signal.SIGHUP)
            harness.wait_for(lambda: self.mta.log_text().count("reloaded rules file=") >= 2, timeout=10,
                             what="a reload after SIGHUP")
            self.assertEqual(filter_pids(self.mta), pids)
        finally:
            self.mta.write_config("pcrefilter", RULES)


if __name__ == "__main__":
    harness.main()
