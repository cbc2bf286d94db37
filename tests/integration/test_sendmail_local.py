"""sendmail (issue 4): cron-style -t, options, -bs with smtplib, batched SMTP, exit codes,
and the Received: header's protocol/TLS/AUTH facts."""

import os
import smtplib
import socket
import subprocess
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
import harness  # noqa: E402


def message_with(mta, user, needle):
    for _, data in mta.delivered(user):
        if needle.encode() in data:
            return data.decode(errors="replace")
    return None


def headers_of(text):
    return text.split("\n\n", 1)[0]


class SendmailTest(harness.InstanceTestCase):
    @classmethod
    def configure(cls, mta):
        cls.a, cls.b = mta.add_user(), mta.add_user()

    def sendmail(self, *args, data="", check=True):
        return subprocess.run([self.mta.path("bin", "sendmail")] + list(args), input=data, env=self.mta.env,
                              capture_output=True, text=True, timeout=30, check=check)

    def wait_message(self, user, needle):
        return harness.wait_for(lambda: message_with(self.mta, user, needle), what=f"{needle} for {user}")

    def test_cron_style_t_adds_headers_and_removes_bcc(self):
        self.sendmail("-FCronDaemon", "-i", "-B8BITMIME", "-oem", "-oi", "-t",
                      data=f"To: {self.a}\nBcc: {self.b}@{self.mta.me}\nSubject: cron-1\n\nbody line\n.\nafter dot\n")
        text = self.wait_message(self.a, "cron-1")
        head = headers_of(text)
        self.assertIn("Return-Path: <root@" + self.mta.me + ">", head)
        self.assertIn("From: CronDaemon <root@" + self.mta.me + ">", head)
        self.assertIn("\nDate: ", head)
        self.assertIn("\nMessage-ID: <", head)
        self.assertNotIn("Bcc", text)
        self.assertIn("after dot", text)      # -i: a lone dot does not end the message
        other = self.wait_message(self.b, "cron-1")
        self.assertNotIn("Bcc", other)

    def test_recipient_arguments_sender_and_lone_dot(self):
        self.sendmail("-f", "sender@elsewhere.example", "-N", "never", self.b,
                      data="Subject: args-1\nFrom: Me <me@elsewhere.example>\n\nfirst\n.\nnot sent\n")
        text = self.wait_message(self.b, "args-1")
        self.assertIn("Return-Path: <sender@elsewhere.example>", text)
        self.assertIn("From: Me <me@elsewhere.example>", text)
        self.assertEqual(text.count("From: "), 1)
        self.assertNotIn("not sent", text)
        self.assertRegex(text, r"Received: \(from root uid 0\)\s+by " + self.mta.me + r" with local id ")

    def test_exit_codes(self):
        r = self.sendmail("nosuchuser", data="Subject: x\n\nx\n", check=False)
        self.assertEqual(r.returncode, 67)    # EX_NOUSER
        self.assertIn("nosuchuser", r.stderr)
        r = self.sendmail("-Z", check=False)
        self.assertEqual(r.returncode, 64)    # EX_USAGE
        r = self.sendmail("-t", data="Subject: no rcpt\n\nx\n", check=False)
        self.assertEqual(r.returncode, 64)
        self.assertIn("no recipients", r.stderr)

    def test_bs_speaks_smtp_to_smtplib(self):
        mine, theirs = socket.socketpair()
        proc = subprocess.Popen([self.mta.path("bin", "sendmail"), "-bs"], stdin=theirs, stdout=theirs,
                                env=self.mta.env)
        theirs.close()
        try:
            s = smtplib.SMTP()
            s.sock = mine
            code, _ = s.getreply()
            self.assertEqual(code, 220)
            s.ehlo("localhost")
            self.assertTrue(s.has_extn("pipelining"))
            refused = s.sendmail("bs@example.org", [self.a, "nosuchuser"], "Subject: bs-1\r\n\r\n.dot\r\n")
            self.assertEqual(list(refused), ["nosuchuser"])
            s.quit()
            self.assertEqual(proc.wait(timeout=10), 0)
        finally:
            mine.close()
            if proc.poll() is None:
                proc.kill()
                proc.wait()
        text = self.wait_message(self.a, "bs-1")
        self.assertIn("\n.dot\n", text)
        self.assertIn("Return-Path: <bs@example.org>", text)

    def test_batched_smtp_queues_each_message(self):
        stream = "".join([
            "HELO batch\r\n",
            "MAIL FROM:<b1@example.org>\r\n", f"RCPT TO:<{self.a}>\r\n", "DATA\r\n",
            "Subject: batch-1\r\n\r\none\r\n.\r\n",
            "MAIL FROM:<b2@example.org>\r\n", "RCPT TO:<nosuchuser>\r\n", f"RCPT TO:<{self.b}>\r\n",
            "DATA\r\n", "Subject: batch-2\r\n\r\ntwo\r\n.\r\n",
            "MAIL FROM:<b3@example.org>\r\n", f"RCPT TO:<{self.b}>\r\n", "DATA\r\n",
            "Subject: batch-3 cut off\r\n",
        ])
        r = self.sendmail("-bS", data=stream, check=False)
        self.assertEqual(r.returncode, 65, r.stderr)
        self.assertIn("550", r.stderr)
        self.wait_message(self.a, "batch-1")
        self.wait_message(self.b, "batch-2")
        self.mta.run("sbin/courier", "flush")
        harness.wait_for(lambda: not self.mta.queue_files(), what="an empty queue")
        self.assertIsNone(message_with(self.mta, self.b, "batch-3"))

    def test_received_shows_protocol_tls_and_auth_when_configured(self):
        self.mta.write_config("receivedauth", "")
        try:
            lines = "\n".join([
                "session remote-ip 192.0.2.9", "session helo client.example",
                "session protocol ESMTP", "session tls TLSv1.3+20TLS_AES_256_GCM_SHA384+20256",
                "session auth alice", "mail a@example.org", f"rcpt {self.a}", "data",
            ]) + "\n"
            body = "Subject: rcvd-1\n\nx\n"
            lines += f"chunk {len(body)}\n{body}chunk 0\nquit\n"
            r = subprocess.run([self.mta.path("libexec", "submit"), "esmtp"], input=lines, env=self.mta.env,
                               capture_output=True, text=True, timeout=30)
            self.assertIn("250 2.0.0 Ok: queued as ", r.stdout)
            qid = r.stdout.strip().split()[-1]
        finally:
            os.unlink(self.mta.path("etc", "receivedauth"))
        text = self.wait_message(self.a, "rcvd-1")
        received = " ".join(headers_of(text).split("Received:")[1].split("\nSubject")[0].split())
        self.assertIn("from client.example (unknown [192.0.2.9])", received)
        self.assertIn("(AUTH: alice, TLS: TLSv1.3,256bits,TLS_AES_256_GCM_SHA384)", received)
        self.assertIn(f"with ESMTPSA id {qid}", received)

    def test_bp_runs_mailq(self):
        if not os.path.exists(self.mta.path("bin", "mailq")):
            self.skipTest("mailq is not built yet")
        r = self.sendmail("-bp", check=False)
        self.assertEqual(r.returncode, 0, r.stderr)


if __name__ == "__main__":
    harness.main()
