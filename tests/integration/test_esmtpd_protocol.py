"""courieresmtpd on the wire (issue 3): EHLO extensions, SIZE (declared and real),
PIPELINING, BDAT, DSN and SMTPUTF8 parameters, the RFC 5321 limits, <postmaster>,
user@[address], and the DATA content policy (bare LF/CR, NUL, long lines): every
refused message leaves nothing in the queue."""

import os
import re
import smtplib
import subprocess
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
import harness  # noqa: E402
from esmtpd_support import RawSmtp, esmtpd_settings, queue_texts  # noqa: E402

SIZELIMIT = 20000


class ProtocolTest(harness.InstanceTestCase):
    @classmethod
    def configure(cls, mta):
        cls.user = mta.add_user()
        cls.rcpt = f"{cls.user}@{mta.me}"
        mta.write_config("esmtpd", esmtpd_settings(mta, mta.port, [f"SIZELIMIT={SIZELIMIT}",
                                                                    "ESMTP_ERROR_DELAY=0"]))
        mta.write_config("aliases", f"postmaster: {cls.user}\n")
        mta.run("sbin/makealiases")

    def session(self):
        s = RawSmtp(self.mta.port)
        self.addCleanup(s.close)
        self.assertEqual(s.reply()[0], 220)
        return s

    def ready(self, s, rcpt=None):
        self.assertEqual(s.cmd("EHLO client.example")[0], 250)
        self.assertEqual(s.cmd("MAIL FROM:<s@remote.example>")[0], 250)
        self.assertEqual(s.cmd(f"RCPT TO:<{rcpt or self.rcpt}>")[0], 250)

    def count(self):
        return len(self.mta.delivered(self.user))

    def assert_nothing_queued(self, before):
        time.sleep(0.2)   # a message would have been committed before the reply
        self.assertEqual(queue_texts(self.mta), [])
        self.assertEqual(self.count(), before)

    def test_ehlo_lists_the_extensions(self):
        with smtplib.SMTP("127.0.0.1", self.mta.port, timeout=20) as s:
            s.ehlo("client.example")
            for ext in ("pipelining", "8bitmime", "enhancedstatuscodes", "dsn", "smtputf8", "chunking"):
                self.assertTrue(s.has_extn(ext), ext)
            self.assertEqual(s.esmtp_features["size"], str(SIZELIMIT))
            self.assertFalse(s.has_extn("starttls"))   # no certificate configured
            self.assertFalse(s.has_extn("auth"))

    def test_size_declared_too_big_is_552(self):
        s = self.session()
        s.cmd("EHLO c")
        code, text = s.cmd(f"MAIL FROM:<s@remote.example> SIZE={SIZELIMIT + 1}")
        self.assertEqual(code, 552)
        self.assertTrue(text[0].startswith("5.3.4"))
        self.assertEqual(s.cmd(f"MAIL FROM:<s@remote.example> SIZE={SIZELIMIT - 100}")[0], 250)

    def test_real_size_is_checked_at_end_of_data(self):
        before = self.count()
        s = self.session()
        self.ready(s)
        self.assertEqual(s.cmd("DATA")[0], 354)
        s.send(("x" * 900 + "\r\n") * 30 + ".\r\n")
        code, text = s.reply()
        self.assertEqual((code, text[0][:5]), (552, "5.3.4"))
        self.assertEqual(s.cmd("NOOP")[0], 250)   # still in step
        self.assert_nothing_queued(before)

    def test_pipelined_transaction_replies_in_order(self):
        before = self.count()
        s = self.session()
        s.cmd("EHLO c")
        s.send(f"MAIL FROM:<s@remote.example>\r\nRCPT TO:<nosuchuser@{self.mta.me}>\r\n"
               f"RCPT TO:<{self.rcpt}>\r\nDATA\r\n")
        self.assertEqual([s.reply()[0] for _ in range(4)], [250, 550, 250, 354])
        s.send("Subject: pipelined\r\n\r\nhi\r\n.\r\nRSET\r\nNOOP\r\nQUIT\r\n")
        self.assertEqual([s.reply()[0] for _ in range(4)], [250, 250, 250, 221])
        self.mta.wait_delivered(self.user, before + 1)

    def test_swaks_pipelining(self):
        before = self.count()
        r = subprocess.run(["swaks", "--server", "127.0.0.1", "--port", str(self.mta.port), "--pipeline",
                            "--from", "p@remote.example", "--to", self.rcpt, "--header", "Subject: swaks pipe"],
                           capture_output=True, text=True, timeout=60)
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        self.assertIn("250 2.0.0 Ok: queued as", r.stdout)
        self.mta.wait_delivered(self.user, before + 1)

    def test_bdat_chunks_arrive_unchanged(self):
        before = self.count()
        s = self.session()
        self.ready(s)
        part1 = b"Subject: chunked\r\n\r\n.line with a dot\r\n"
        part2 = b"last line\r\n"
        s.send(b"BDAT %d\r\n" % len(part1) + part1)
        self.assertEqual(s.reply()[0], 250)
        s.send(b"BDAT %d LAST\r\n" % len(part2) + part2)
        code, text = s.reply()
        self.assertEqual(code, 250, text)
        got = self.mta.wait_delivered(self.user, before + 1)
        self.assertTrue(any(d.endswith(b"\n\n.line with a dot\nlast line\n") for _, d in got))

    def test_bdat_without_transaction_is_read_and_refused(self):
        s = self.session()
        s.cmd("EHLO c")
        s.send(b"BDAT 6 LAST\r\nQUIT\r\n")
        self.assertEqual(s.reply()[0], 503)
        self.assertEqual(s.cmd("NOOP")[0], 250)   # "QUIT\r\n" was chunk data, not a command

    def test_dsn_parameters_are_recorded_in_the_queue(self):
        # courierd is stopped meanwhile so the queue file can be read.
        self.mta.run("sbin/courier", "stop")
        self.addCleanup(self.mta.run, "sbin/courier", "start")
        s = self.session()
        s.cmd("EHLO c")
        self.assertEqual(s.cmd("MAIL FROM:<d@remote.example> RET=HDRS ENVID=env+2B1")[0], 250)
        self.assertEqual(s.cmd(f"RCPT TO:<{self.rcpt}> NOTIFY=SUCCESS,DELAY ORCPT=rfc822;{self.rcpt}")[0], 250)
        self.assertEqual(s.cmd(f"RCPT TO:<{self.rcpt}> NOTIFY=NEVER,SUCCESS")[0], 501)
        self.assertEqual(s.cmd("DATA")[0], 354)
        code, text = s.cmd("Subject: dsn\r\n\r\nbody\r\n.")
        self.assertEqual(code, 250, text)
        q = b"\n".join(queue_texts(self.mta))
        self.assertIn(b"\nret HDRS\n", q)
        self.assertIn(b"\nenvid env+2B1\n", q)
        self.assertIn(b"\nnotify SUCCESS,DELAY\n", q)
        self.assertIn(b"\norcpt rfc822;", q)

    def test_smtputf8_message(self):
        before = self.count()
        s = self.session()
        s.cmd("EHLO c")
        self.assertEqual(s.cmd("MAIL FROM:<jörg@bücher.example>")[0], 553)
        self.assertEqual(s.cmd("MAIL FROM:<jörg@bücher.example> SMTPUTF8")[0], 250)
        self.assertEqual(s.cmd(f"RCPT TO:<{self.rcpt}>")[0], 250)
        self.assertEqual(s.cmd("DATA")[0], 354)
        self.assertEqual(s.cmd("Subject: ünïcode\r\n\r\nbody\r\n.")[0], 250)
        got = self.mta.wait_delivered(self.user, before + 1)
        self.assertTrue(any(b"Return-Path: <j\xc3\xb6rg@xn--bcher-kva.example>" in d for _, d in got))
        self.assertTrue(any(re.search(rb"with UTF8SMTP", d) for _, d in got))

    def test_bare_postmaster_is_accepted(self):
        before = self.count()
        with smtplib.SMTP("127.0.0.1", self.mta.port, timeout=20) as s:
            s.ehlo("c")
            s.mail("s@remote.example")
            self.assertEqual(s.rcpt("<PostMaster>")[0], 250)
            s.data("Subject: to postmaster\r\n\r\nhi\r\n")
        self.mta.wait_delivered(self.user, before + 1)

    def test_user_at_our_address_literal(self):
        before = self.count()
        with smtplib.SMTP("127.0.0.1", self.mta.port, timeout=20) as s:
            s.ehlo("c")
            s.mail("s@remote.example")
            self.assertEqual(s.rcpt(f"<{self.user}@[127.0.0.1]>")[0], 250)
            self.assertEqual(s.rcpt(f"<{self.user}@[127.0.0.9]>")[0], 550)   # not ours: relaying
            s.data("Subject: literal\r\n\r\nhi\r\n")
        got = self.mta.wait_delivered(self.user, before + 1)
        self.assertTrue(any(f"Delivered-To: {self.rcpt}".encode() in d for _, d in got))

    def test_long_command_line_and_nul(self):
        s = self.session()
        s.cmd("EHLO c")
        code, text = s.cmd("NOOP " + "a" * 10000)
        self.assertEqual((code, text[0][:5]), (500, "5.5.2"))
        s.send(b"NOOP a\x00b\r\n")
        self.assertEqual(s.reply()[0], 500)
        self.assertEqual(s.cmd("NOOP")[0], 250)

    def test_refused_contents_queue_nothing(self):
        before = self.count()
        cases = [
            (b"Subject: lf\r\n\r\nbare\nline\r\n.\r\n", 550, "5.5.2"),
            (b"Subject: cr\r\n\r\nbare\rcr\r\n.\r\n", 550, "5.5.2"),
            (b"Subject: nul\r\n\r\na\x00b\r\n.\r\n", 550, "5.6.0"),
            (b"Subject: long\r\n\r\n" + b"y" * 10000 + b"\r\n.\r\n", 552, "5.5.2"),
        ]
        for body, want, enhanced in cases:
            s = self.session()
            self.ready(s)
            self.assertEqual(s.cmd("DATA")[0], 354)
            s.send(body)
            code, text = s.reply()
            self.assertEqual((code, text[0][:5]), (want, enhanced), body[:20])
            self.assertEqual(s.cmd("QUIT")[0], 221)
        self.assert_nothing_queued(before)

    def test_smuggled_second_message_is_not_seen(self):
        before = self.count()
        s = self.session()
        self.ready(s)
        self.assertEqual(s.cmd("DATA")[0], 354)
        s.send(f"Subject: one\r\n\r\nhi\n.\nMAIL FROM:<evil@remote.example>\r\nRCPT TO:<{self.rcpt}>\r\n"
               "DATA\r\nSubject: smuggled\r\n\r\n.\r\n")
        code, _ = s.reply()
        self.assertEqual(code, 550)
        self.assertEqual(s.cmd("QUIT")[0], 221)
        self.assert_nothing_queued(before)

    def test_too_many_recipients_is_452(self):
        s = self.session()
        s.cmd("EHLO c")
        s.cmd("MAIL FROM:<s@remote.example>")
        s.send("".join(f"RCPT TO:<{self.rcpt}>\r\n" for _ in range(1001)))
        codes = [s.reply()[0] for _ in range(1001)]
        self.assertEqual(codes[:1000], [250] * 1000)
        self.assertEqual(codes[1000], 452)
        self.assertEqual(s.cmd("RSET")[0], 250)

    def test_error_limit_closes_the_session(self):
        s = self.session()
        for _ in range(19):
            self.assertEqual(s.cmd("BOGUS")[0], 500)
        s.send("BOGUS\r\n")
        self.assertEqual(s.reply()[0], 500)
        self.assertEqual(s.reply()[0], 421)
        self.assertTrue(s.closed_by_server())


if __name__ == "__main__":
    harness.main()
