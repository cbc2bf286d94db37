"""smtpcapture, the example program of libsmtpembed (issue 11): it receives mail from
swaks and Python's smtplib into a directory, and each smtpd(n) callback gives its
documented reply on the wire: validate_host (550 Access denied, then 503 until QUIT),
validate_sender and validate_recipient (553), deliver failing (554 Transaction failed)
or deferring (451); STARTTLS works, and SIGTERM stops the server cleanly."""

import glob
import os
import select
import shutil
import signal
import smtplib
import socket
import ssl
import subprocess
import sys
import tempfile
import time
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
import harness  # noqa: E402

SMTPCAPTURE = os.path.join(harness.BUILDDIR, "esmtp", "smtpcapture")
REFUSED_HOST = "127.0.0.2"   # Linux answers on all of 127/8: a second client address


def make_certificate(folder):
    cert, key = os.path.join(folder, "cert.pem"), os.path.join(folder, "key.pem")
    subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256",
                    "-nodes", "-keyout", key, "-out", cert, "-days", "2", "-subj", "/CN=capture.test"],
                   check=True, capture_output=True, timeout=60)
    return cert, key


def read_line(stream, timeout):
    """One line of the child's stdout, or "" after timeout seconds."""
    ready, _, _ = select.select([stream], [], [], timeout)
    return stream.readline() if ready else ""


class EmbeddedServerTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        if not shutil.which("swaks"):
            raise unittest.SkipTest("swaks is not installed")
        cls.folder = tempfile.mkdtemp(prefix="smtpcapture.")
        cls.maildir = os.path.join(cls.folder, "mail")
        cls.cert, cls.key = make_certificate(cls.folder)
        cls.proc = subprocess.Popen(
            [SMTPCAPTURE, "-d", cls.maildir, "-a", "127.0.0.1", "-p", "0", "-n", "capture.test", "-v",
             "--refuse-host", REFUSED_HOST, "--reject-sender", "*@spam.example",
             "--reject-recipient", "nobody@*", "--fail-delivery", "fail@*", "--defer-delivery", "later@*",
             "--tls-cert", cls.cert, "--tls-key", cls.key],
            stdout=subprocess.PIPE, stderr=open(os.path.join(cls.folder, "stderr"), "w"), text=True)
        line = read_line(cls.proc.stdout, 20)
        if "listening on 127.0.0.1 port " not in line:
            cls.tearDownClass()
            raise AssertionError(f"smtpcapture did not start: {line!r}")
        cls.port = int(line.split()[-1])

    @classmethod
    def tearDownClass(cls):
        if cls.proc.poll() is None:
            cls.proc.kill()
            cls.proc.wait(10)
        cls.proc.stdout.close()
        shutil.rmtree(cls.folder, ignore_errors=True)

    # --- helpers ---

    def swaks(self, *args):
        r = subprocess.run(["swaks", "--server", f"127.0.0.1:{self.port}", "--helo", "client.example",
                            "--timeout", "20", *args], capture_output=True, text=True, timeout=60)
        return r.stdout + r.stderr

    def captured(self, subject):
        """The capture files whose message has this subject."""
        out = []
        for path in glob.glob(os.path.join(self.maildir, "*.eml")):
            with open(path, newline="") as f:
                text = f.read()
            if f"\r\nSubject: {subject}\r\n" in text:
                out.append(text)
        return out

    # --- tests ---

    def test_swaks_message_is_captured_with_its_envelope(self):
        out = self.swaks("--from", "alice@client.example", "--to", "bob@dest.example",
                         "--header", "Subject: swaks plain", "--body", "hello from swaks")
        self.assertRegex(out, r"<-  250 2\.0\.0 \S+ Message accepted for delivery")
        files = self.captured("swaks plain")
        self.assertEqual(len(files), 1, out)
        text = files[0]
        self.assertTrue(text.startswith("X-Envelope-From: <alice@client.example>\r\n"
                                        "X-Envelope-To: <bob@dest.example>\r\n"
                                        "X-Envelope-Client: 127.0.0.1 helo=client.example\r\n"
                                        "Return-Path: <alice@client.example>\r\nReceived: from client.example"),
                        text[:300])
        self.assertIn("by capture.test with ESMTP id", text)
        self.assertIn("hello from swaks", text)

    def test_smtplib_partial_recipients_and_dot_stuffing(self):
        with smtplib.SMTP("127.0.0.1", self.port, timeout=20) as s:
            code, banner = s.ehlo("client.example")
            self.assertEqual(code, 250)
            refused = s.sendmail("carol@client.example", ["dave@dest.example", "nobody@dest.example"],
                                 "Subject: smtplib two\r\n\r\n.leading dot\r\nend\r\n")
        self.assertEqual(refused, {"nobody@dest.example":
                                   (553, b"5.7.1 Requested action not taken: mailbox name not allowed")})
        files = self.captured("smtplib two")
        self.assertEqual(len(files), 1)
        self.assertIn("X-Envelope-To: <dave@dest.example>\r\n", files[0])
        self.assertNotIn("nobody@dest.example", files[0])
        self.assertIn("\r\n.leading dot\r\n", files[0])

    def test_validate_sender_refusal_is_553(self):
        out = self.swaks("--from", "bulk@spam.example", "--to", "bob@dest.example",
                         "--header", "Subject: from spam")
        self.assertIn("<** 553 5.7.1 Requested action not taken: mailbox name not allowed", out)
        self.assertEqual(self.captured("from spam"), [])
        with smtplib.SMTP("127.0.0.1", self.port, timeout=20) as s:
            with self.assertRaises(smtplib.SMTPSenderRefused) as cm:
                s.sendmail("Bulk@SPAM.example", ["bob@dest.example"], "Subject: from spam\r\n\r\nx\r\n")
            self.assertEqual(cm.exception.smtp_code, 553)

    def test_validate_recipient_refusal_is_553_and_nothing_is_captured(self):
        out = self.swaks("--from", "alice@client.example", "--to", "nobody@dest.example",
                         "--header", "Subject: to nobody")
        self.assertIn("<** 553 5.7.1 Requested action not taken: mailbox name not allowed", out)
        self.assertEqual(self.captured("to nobody"), [])
        with smtplib.SMTP("127.0.0.1", self.port, timeout=20) as s:
            with self.assertRaises(smtplib.SMTPRecipientsRefused) as cm:
                s.sendmail("alice@client.example", ["nobody@x.example"], "Subject: to nobody\r\n\r\nx\r\n")
            self.assertEqual(cm.exception.recipients["nobody@x.example"][0], 553)

    def test_postmaster_is_accepted_even_when_recipients_are_refused(self):
        with smtplib.SMTP("127.0.0.1", self.port, timeout=20) as s:
            s.ehlo("client.example")
            self.assertEqual(s.mail("alice@client.example")[0], 250)
            self.assertEqual(s.rcpt("<Postmaster>")[0], 250)

    def test_deliver_failing_is_554_transaction_failed(self):
        out = self.swaks("--from", "alice@client.example", "--to", "fail@dest.example",
                         "--header", "Subject: deliver fails")
        self.assertIn("<** 554 5.0.0 Transaction failed: delivery to <fail@dest.example> refused by --fail-delivery",
                      out)
        self.assertEqual(self.captured("deliver fails"), [])

    def test_deliver_with_own_code_is_451(self):
        with smtplib.SMTP("127.0.0.1", self.port, timeout=20) as s:
            with self.assertRaises(smtplib.SMTPDataError) as cm:
                s.sendmail("alice@client.example", ["later@dest.example"], "Subject: deferred\r\n\r\nx\r\n")
        self.assertEqual(cm.exception.smtp_code, 451)
        self.assertIn(b"deferred by --defer-delivery", cm.exception.smtp_error)
        self.assertEqual(self.captured("deferred"), [])

    def test_validate_host_refusal_is_550_then_503_until_quit(self):
        out = self.swaks("--local-interface", REFUSED_HOST, "--from", "alice@client.example",
                         "--to", "bob@dest.example", "--header", "Subject: refused host")
        self.assertIn("550 Access denied: host 127.0.0.2 matches --refuse-host", out)
        self.assertEqual(self.captured("refused host"), [])
        # RFC 5321 3.1 / smtpd(n): the connection stays open, every command but QUIT gets 503.
        with socket.create_connection(("127.0.0.1", self.port), timeout=20,
                                      source_address=(REFUSED_HOST, 0)) as sock:
            f = sock.makefile("rb")
            self.assertTrue(f.readline().startswith(b"550 Access denied"))
            for command in (b"EHLO client.example", b"MAIL FROM:<a@b.example>", b"NOOP"):
                sock.sendall(command + b"\r\n")
                self.assertTrue(f.readline().startswith(b"503 "), command)
            sock.sendall(b"QUIT\r\n")
            self.assertTrue(f.readline().startswith(b"221 "))
            self.assertEqual(f.readline(), b"")

    def test_starttls_with_swaks_and_smtplib(self):
        out = self.swaks("--tls", "--from", "alice@client.example", "--to", "bob@dest.example",
                         "--header", "Subject: over tls swaks")
        self.assertIn("TLS started", out)
        self.assertRegex(out, r"~> QUIT")   # swaks writes ~> for commands sent inside TLS
        files = self.captured("over tls swaks")
        self.assertEqual(len(files), 1, out)
        self.assertRegex(files[0], r"X-Envelope-Client: 127\.0\.0\.1 helo=client\.example tls=TLSv1\.[23] ")
        self.assertIn("with ESMTPS id", files[0])
        context = ssl.create_default_context(cafile=self.cert)
        context.check_hostname = False
        with smtplib.SMTP("127.0.0.1", self.port, timeout=20) as s:
            s.ehlo("client.example")
            self.assertTrue(s.has_extn("starttls"))
            s.starttls(context=context)
            s.ehlo("client.example")
            self.assertFalse(s.has_extn("starttls"))
            s.sendmail("alice@client.example", ["bob@dest.example"], "Subject: over tls smtplib\r\n\r\nx\r\n")
        self.assertEqual(len(self.captured("over tls smtplib")), 1)

    def test_zz_sigterm_stops_cleanly(self):
        # Named to run last: it ends the server the other tests share.
        with socket.create_connection(("127.0.0.1", self.port), timeout=20) as idle:
            idle.recv(512)   # the greeting: a session is open while we stop
            self.proc.send_signal(signal.SIGTERM)
            self.assertEqual(self.proc.wait(20), 0)
            self.assertEqual(idle.recv(512), b"")   # the open session was ended, not left hanging
        self.assertIn("smtpcapture: stopped", self.proc.stdout.read())
        with open(os.path.join(self.folder, "stderr")) as f:
            log = f.read()
        self.assertIn("host refused client=127.0.0.2", log)
        self.assertIn("sender refused client=127.0.0.1 from=<bulk@spam.example>", log)
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline:
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=1).close()
            except OSError:
                break
            time.sleep(0.1)
        else:
            self.fail("the port still accepts connections after SIGTERM")


if __name__ == "__main__":
    harness.main(time_limit=300)
