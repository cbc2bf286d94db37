"""One message end to end through the real process chain (issue 2):
SMTP client -> couriertcpd -> courieresmtpd -> submit -> spool -> courierd ->
courierlocal -> Maildir, with swaks and with Python's smtplib."""

import os
import subprocess
import sys
import threading

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
import harness  # noqa: E402

BODY = (b"Subject: chain test\r\n"
        b"From: Sender <sender@remote.example>\r\n"
        b"\r\n"
        b"first line\r\n"
        b".a line that starts with a dot\r\n"
        b"..two dots\r\n"
        b"last line\r\n")


def header_names(message):
    head = message.split(b"\n\n", 1)[0]
    return [line.split(b":", 1)[0] for line in head.split(b"\n") if line and line[:1] not in (b" ", b"\t")]


class ChainTest(harness.InstanceTestCase):
    @classmethod
    def configure(cls, mta):
        cls.user = mta.add_user()
        cls.rcpt = f"{cls.user}@{mta.me}"

    def check_delivered(self, data, sender, body_lf):
        names = header_names(data)
        self.assertEqual(names[:3], [b"Return-Path", b"Delivered-To", b"Received"])
        self.assertEqual(names.count(b"Received"), 1)
        self.assertIn(f"Return-Path: <{sender}>\n".encode(), data)
        self.assertIn(f"Delivered-To: {self.rcpt}\n".encode(), data)
        self.assertTrue(data.endswith(body_lf), data)

    def test_smtplib_message_arrives_once_byte_identical(self):
        before = len(self.mta.delivered(self.user))
        with self.mta.smtp() as s:
            code, _ = s.ehlo("client.example")
            self.assertEqual(code, 250)
            s.sendmail("sender@remote.example", [self.rcpt], BODY)
        got = self.mta.wait_delivered(self.user, before + 1)
        self.assertEqual(len(got), before + 1)
        expected = BODY.replace(b"\r\n", b"\n")
        matching = [d for _, d in got if d.endswith(expected)]
        self.assertEqual(len(matching), 1)
        self.check_delivered(matching[0], "sender@remote.example", expected)

    def test_swaks_message_arrives_once(self):
        before = len(self.mta.delivered(self.user))
        marker = "swaks-marker-%d" % os.getpid()
        r = subprocess.run(["swaks", "--server", "127.0.0.1", "--port", str(self.mta.port),
                            "--from", "other@remote.example", "--to", self.rcpt,
                            "--header", "Subject: " + marker, "--body", "hello from swaks"],
                           capture_output=True, text=True, timeout=60)
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        self.assertRegex(r.stdout, r"<-  250 2\.0\.0 Ok: queued as [0-9A-F]{8}\.[0-9A-F]{8}\.[0-9A-F]{4}")
        got = self.mta.wait_delivered(self.user, before + 1)
        mine = [d for _, d in got if marker.encode() in d]
        self.assertEqual(len(mine), 1)
        # swaks ends its body with blank lines; the body must arrive as sent, LF-ended.
        self.check_delivered(mine[0], "other@remote.example", b"\n\nhello from swaks\n\n\n")

    def test_fifty_messages_over_five_sessions(self):
        before = len(self.mta.delivered(self.user))
        errors = []

        def sender(worker):
            try:
                with self.mta.smtp() as s:
                    for i in range(10):
                        msg = f"Subject: parallel {worker}-{i}\r\n\r\nbody {worker}-{i}\r\n"
                        s.sendmail("p@remote.example", [self.rcpt], msg)
            except Exception as e:  # reported below, in the test's thread
                errors.append(repr(e))

        threads = [threading.Thread(target=sender, args=(w,)) for w in range(5)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(120)
        self.assertEqual(errors, [])
        got = self.mta.wait_delivered(self.user, before + 50, timeout=60)
        subjects = [line for _, d in got for line in d.split(b"\n") if line.startswith(b"Subject: parallel ")]
        self.assertEqual(len(subjects), 50)
        self.assertEqual(len(set(subjects)), 50)
        harness.wait_for(lambda: not self.mta.queue_files(), timeout=30, what="an empty queue")


class RepliesTest(harness.InstanceTestCase):
    """The reply codes of issue 2 on the wire."""

    @classmethod
    def configure(cls, mta):
        cls.user = mta.add_user()

    def test_relay_to_foreign_domain_is_refused(self):
        with self.mta.smtp() as s:
            s.ehlo("client.example")
            self.assertEqual(s.docmd("MAIL", "FROM:<a@remote.example>")[0], 250)
            code, text = s.docmd("RCPT", "TO:<victim@elsewhere.example>")
            self.assertEqual(code, 550)
            self.assertTrue(text.startswith(b"5.7.1"), text)

    def test_unknown_local_user_is_refused(self):
        with self.mta.smtp() as s:
            s.ehlo("client.example")
            s.docmd("MAIL", "FROM:<a@remote.example>")
            code, text = s.docmd("RCPT", f"TO:<nosuchuser@{self.mta.me}>")
            self.assertEqual(code, 550)
            self.assertTrue(text.startswith(b"5.1.1"), text)

    def test_unknown_command(self):
        with self.mta.smtp() as s:
            code, text = s.docmd("FROBNICATE")
            self.assertEqual(code, 500)
            self.assertTrue(text.startswith(b"5.5.1"), text)

    def test_rcpt_before_mail(self):
        with self.mta.smtp() as s:
            s.ehlo("client.example")
            code, text = s.docmd("RCPT", f"TO:<{self.user}@{self.mta.me}>")
            self.assertEqual(code, 503)
            self.assertTrue(text.startswith(b"5.5.1"), text)

    def test_data_without_rcpt(self):
        with self.mta.smtp() as s:
            s.ehlo("client.example")
            s.docmd("MAIL", "FROM:<a@remote.example>")
            code, text = s.docmd("DATA")
            self.assertEqual(code, 503)
            self.assertTrue(text.startswith(b"5.5.1"), text)

    def test_greeting_and_quit(self):
        s = self.mta.smtp()
        self.assertIn(self.mta.me.encode(), s.ehlo_resp or s.ehlo("c.example")[1])
        code, text = s.docmd("QUIT")
        self.assertEqual(code, 221)
        self.assertTrue(text.startswith(b"2.0.0"), text)
        s.close()

    def test_nothing_is_queued_for_refused_mail(self):
        with self.mta.smtp() as s:
            s.ehlo("client.example")
            s.docmd("MAIL", "FROM:<a@remote.example>")
            s.docmd("RCPT", "TO:<victim@elsewhere.example>")
            code, _ = s.docmd("DATA")
            self.assertEqual(code, 503)
        self.assertEqual(self.mta.queue_files(), [])


if __name__ == "__main__":
    harness.main()
