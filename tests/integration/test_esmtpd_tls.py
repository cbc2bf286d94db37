"""STARTTLS (RFC 3207), implicit TLS on the esmtpd-ssl service (RFC 8314), the
certificate made by mkesmtpdcert, the STARTTLS plaintext-injection defence, and the
TLS policy (TLS 1.2+ only, no weak ciphers) as sslscan sees it."""

import os
import re
import smtplib
import ssl
import subprocess
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
import harness  # noqa: E402
from esmtpd_support import (RawSmtp, client_tls_context, esmtpd_settings, make_certificate,  # noqa: E402
                            start_service, stop_service)


class TlsTest(harness.InstanceTestCase):
    @classmethod
    def configure(cls, mta):
        cls.user = mta.add_user()
        cls.rcpt = f"{cls.user}@{mta.me}"
        cls.cert = make_certificate(mta)
        mta.write_config("esmtpd", esmtpd_settings(mta, mta.port, ["ESMTP_ERROR_DELAY=0"]))

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        try:
            cls.ssl_port = start_service(cls.mta, "esmtpd-ssl", ["ESMTP_IMPLICIT_TLS=1"])
        except BaseException:
            cls.mta.stop()
            raise

    @classmethod
    def tearDownClass(cls):
        stop_service(cls.mta, "esmtpd-ssl")
        super().tearDownClass()

    def count(self):
        return len(self.mta.delivered(self.user))

    def test_certificate_made_by_mkesmtpdcert(self):
        text = subprocess.run(["openssl", "x509", "-in", self.cert, "-noout", "-subject", "-ext",
                               "subjectAltName"], capture_output=True, text=True, check=True).stdout
        self.assertIn(f"CN = {self.mta.me}", text)
        self.assertIn(f"DNS:{self.mta.me}", text)
        self.assertEqual(os.stat(self.cert).st_mode & 0o777, 0o600)
        # A second run refuses to overwrite.
        self.assertNotEqual(self.mta.run("sbin/mkesmtpdcert", check=False).returncode, 0)

    def test_smtplib_starttls_and_received_header(self):
        before = self.count()
        with smtplib.SMTP("127.0.0.1", self.mta.port, timeout=20) as s:
            s.ehlo("client.example")
            self.assertTrue(s.has_extn("starttls"))
            s.starttls(context=client_tls_context())
            s.ehlo("client.example")
            self.assertFalse(s.has_extn("starttls"))
            s.sendmail("t@remote.example", [self.rcpt], "Subject: over tls\r\n\r\nsecret\r\n")
        got = self.mta.wait_delivered(self.user, before + 1)
        mine = [d for _, d in got if b"Subject: over tls" in d]
        self.assertEqual(len(mine), 1)
        self.assertRegex(mine[0], rb"with ESMTPS")
        self.assertIn(b"TLSv1.3", mine[0])

    def test_openssl_s_client_starttls(self):
        r = subprocess.run(["openssl", "s_client", "-starttls", "smtp", "-connect", f"127.0.0.1:{self.mta.port}",
                            "-crlf", "-quiet"],
                           input="EHLO client.example\nQUIT\n", capture_output=True, text=True, timeout=30)
        self.assertIn("250-" + self.mta.me, r.stdout)
        self.assertIn("221 2.0.0", r.stdout)
        self.assertNotIn("STARTTLS", r.stdout.split("250-" + self.mta.me, 1)[1])

    def test_openssl_refuses_tls_1_1(self):
        r = subprocess.run(["openssl", "s_client", "-starttls", "smtp", "-connect", f"127.0.0.1:{self.mta.port}",
                            "-tls1_1", "-cipher", "ALL:@SECLEVEL=0"],
                           input="", capture_output=True, text=True, timeout=30)
        self.assertNotEqual(r.returncode, 0)
        self.assertIn("Cipher is (NONE)", r.stdout)

    def test_swaks_tls(self):
        before = self.count()
        r = subprocess.run(["swaks", "--server", "127.0.0.1", "--port", str(self.mta.port), "--tls",
                            "--from", "s@remote.example", "--to", self.rcpt, "--header", "Subject: swaks tls"],
                           capture_output=True, text=True, timeout=60)
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        self.assertIn("TLS started", r.stdout)
        self.mta.wait_delivered(self.user, before + 1)

    def test_plaintext_pipelined_after_starttls_is_not_executed(self):
        s = RawSmtp(self.mta.port)
        self.addCleanup(s.close)
        s.reply()
        s.cmd("EHLO client.example")
        # The attacker's commands ride in the same packet as STARTTLS.
        s.send("STARTTLS\r\nMAIL FROM:<evil@remote.example>\r\nRCPT TO:<x@remote.example>\r\n")
        self.assertEqual(s.reply()[0], 220)
        s.starttls()
        # Inside TLS the session starts over: had the MAIL been executed, the server
        # would owe two more replies, and MAIL without EHLO would not be 503.
        code, text = s.cmd("MAIL FROM:<a@remote.example>")
        self.assertEqual((code, text[0][:5]), (503, "5.5.1"))
        self.assertEqual(s.cmd("EHLO client.example")[0], 250)
        self.assertEqual(s.cmd("MAIL FROM:<a@remote.example>")[0], 250)
        self.assertEqual(s.cmd("QUIT")[0], 221)

    def test_implicit_tls_service_with_python_ssl(self):
        before = self.count()
        with smtplib.SMTP_SSL("127.0.0.1", self.ssl_port, timeout=20, context=client_tls_context()) as s:
            code, _ = s.ehlo("client.example")
            self.assertEqual(code, 250)
            self.assertFalse(s.has_extn("starttls"))
            s.sendmail("i@remote.example", [self.rcpt], "Subject: implicit\r\n\r\nhi\r\n")
        got = self.mta.wait_delivered(self.user, before + 1)
        self.assertTrue(any(b"Subject: implicit" in d and b"with ESMTPS" in d for _, d in got))

    def test_implicit_tls_service_refuses_plaintext(self):
        s = RawSmtp(self.ssl_port, timeout=10)
        self.addCleanup(s.close)
        s.send("EHLO client.example\r\n")
        self.assertTrue(s.closed_by_server())
        self.assertNotIn(b"220", s.buf)

    def sslscan(self, *args):
        r = subprocess.run(["sslscan", "--no-colour", "--no-heartbleed", *args], capture_output=True, text=True,
                           timeout=120)
        self.assertEqual(r.returncode, 0, r.stderr)
        return r.stdout

    def check_scan(self, out):
        for proto in ("SSLv2", "SSLv3", "TLSv1.0", "TLSv1.1"):
            self.assertRegex(out, proto.replace(".", r"\.") + r"\s+disabled", proto)
        self.assertRegex(out, r"TLSv1\.2\s+enabled")
        self.assertRegex(out, r"TLSv1\.3\s+enabled")
        accepted = [line for line in out.splitlines() if line.startswith(("Preferred", "Accepted"))]
        self.assertTrue(accepted)
        for line in accepted:
            self.assertNotRegex(line, r"RC4|DES|NULL|MD5|EXP|anon|CBC|SHA(?!\d)", line)
            bits = int(re.search(r"(\d+) bits", line).group(1))
            self.assertGreaterEqual(bits, 128, line)

    def test_sslscan_on_starttls_and_on_465(self):
        self.check_scan(self.sslscan("--starttls-smtp", f"127.0.0.1:{self.mta.port}"))
        self.check_scan(self.sslscan(f"127.0.0.1:{self.ssl_port}"))


if __name__ == "__main__":
    harness.main()
