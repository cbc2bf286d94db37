"""SMTP AUTH (RFC 4954) with the userdb made by userdbpw and makeuserdb: PLAIN, LOGIN
and CRAM-MD5 with swaks and smtplib, offered only under TLS, failures counted and the
session ended, relaying only when authenticated; the submission service esmtpd-msa
(RFC 6409) requiring AUTH, and msmtp submitting on 587 (STARTTLS) and 465 (implicit
TLS)."""

import atexit
import os
import smtplib
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
import harness  # noqa: E402
from esmtpd_support import (RawSmtp, client_tls_context, esmtpd_settings, make_certificate,  # noqa: E402
                            make_userdb, start_service, stop_service)

PASSWORD = "c0rrect horse"


class AuthTest(harness.InstanceTestCase):
    @classmethod
    def configure(cls, mta):
        cls.user = mta.add_user()
        cls.rcpt = f"{cls.user}@{mta.me}"
        make_certificate(mta)
        make_userdb(mta, {"alice": PASSWORD, "bob": "other"})
        mta.write_config("esmtpd", esmtpd_settings(mta, mta.port, ["ESMTPAUTH_DELAY=100"]))

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        try:
            cls.msa_port = start_service(cls.mta, "esmtpd-msa", ["AUTH_REQUIRED=1"])
            cls.ssl_port = start_service(cls.mta, "esmtpd-ssl", ["ESMTP_IMPLICIT_TLS=1"])
        except BaseException:
            cls.mta.stop()
            raise

    @classmethod
    def tearDownClass(cls):
        stop_service(cls.mta, "esmtpd-msa")
        stop_service(cls.mta, "esmtpd-ssl")
        super().tearDownClass()

    def count(self):
        return len(self.mta.delivered(self.user))

    def swaks(self, *args, port=None):
        return subprocess.run(["swaks", "--server", "127.0.0.1", "--port", str(port or self.mta.port),
                               "--from", "alice@remote.example", *args],
                              capture_output=True, text=True, timeout=60)

    def test_userdb_file_is_private(self):
        self.assertEqual(os.stat(self.mta.path("etc", "userdb.dat")).st_mode & 0o777, 0o600)

    def test_auth_not_offered_without_tls(self):
        with smtplib.SMTP("127.0.0.1", self.mta.port, timeout=20) as s:
            s.ehlo("c")
            self.assertFalse(s.has_extn("auth"))
            code, text = s.docmd("AUTH", "PLAIN AGFsaWNlAHg=")
            self.assertEqual(code, 538)
            s.starttls(context=client_tls_context())
            s.ehlo("c")
            self.assertEqual(s.esmtp_features["auth"].split(), ["PLAIN", "LOGIN", "CRAM-MD5"])

    def test_swaks_each_mechanism_relays(self):
        before = self.count()
        for mech in ("PLAIN", "LOGIN", "CRAM-MD5"):
            r = self.swaks("--tls", "--auth", mech, "--auth-user", "alice", "--auth-password", PASSWORD,
                           "--to", self.rcpt, "--header", "Subject: auth " + mech)
            self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
            self.assertIn("235 2.7.0 Authentication successful", r.stdout)
        self.mta.wait_delivered(self.user, before + 3)
        got = self.mta.delivered(self.user)
        self.assertTrue(any(b"Subject: auth CRAM-MD5" in d and b"ESMTPSA" in d for _, d in got))
        self.assertIn("auth status=ok", self.mta.log_text())

    def test_relaying_needs_authentication(self):
        with smtplib.SMTP("127.0.0.1", self.mta.port, timeout=20) as s:
            s.starttls(context=client_tls_context())
            s.ehlo("c")
            s.mail("alice@remote.example")
            self.assertEqual(s.rcpt("someone@far.example")[0], 550)
            s.rset()
            s.login("alice", PASSWORD)
            s.mail("alice@remote.example")
            self.assertEqual(s.rcpt("someone@far.example")[0], 250)
            s.rset()

    def test_failures_are_counted_and_end_the_session(self):
        s = RawSmtp(self.mta.port)
        self.addCleanup(s.close)
        s.reply()
        s.cmd("EHLO c")
        self.assertEqual(s.cmd("STARTTLS")[0], 220)
        s.starttls()
        s.cmd("EHLO c")
        for _ in range(2):
            self.assertEqual(s.cmd("AUTH PLAIN AGFsaWNlAHdyb25n")[0], 535)
        self.assertEqual(s.cmd("AUTH PLAIN AGFsaWNlAHdyb25n")[0], 535)
        code, _ = s.reply()
        self.assertEqual(code, 421)
        self.assertTrue(s.closed_by_server())
        self.assertIn("auth status=failed", self.mta.log_text())

    def test_wrong_user_of_another_account(self):
        r = self.swaks("--tls", "--auth", "PLAIN", "--auth-user", "bob", "--auth-password", PASSWORD,
                       "--to", self.rcpt)
        self.assertNotEqual(r.returncode, 0)
        self.assertIn("535 5.7.8", r.stdout)

    def test_msa_requires_auth(self):
        with smtplib.SMTP("127.0.0.1", self.msa_port, timeout=20) as s:
            s.starttls(context=client_tls_context())
            s.ehlo("c")
            code, text = s.mail("alice@remote.example")
            self.assertEqual(code, 530)
            s.login("alice", PASSWORD)
            self.assertEqual(s.mail("alice@remote.example")[0], 250)
            s.rset()

    def msmtp(self, port, tls_starttls):
        d = tempfile.mkdtemp()
        self.addCleanup(lambda: subprocess.run(["rm", "-rf", d]))
        conf = os.path.join(d, "msmtprc")
        with open(conf, "w") as f:
            f.write("\n".join(["account default", "host 127.0.0.1", f"port {port}", "tls on",
                               f"tls_starttls {'on' if tls_starttls else 'off'}", "tls_certcheck off",
                               "auth plain", "user alice", f"password {PASSWORD}",
                               "from alice@remote.example", ""]))
        os.chmod(conf, 0o600)
        msg = f"To: {self.rcpt}\nSubject: msmtp {port}\n\nsubmitted\n"
        return subprocess.run(["msmtp", "-C", conf, self.rcpt], input=msg, capture_output=True, text=True,
                              timeout=60)

    def test_msmtp_submission_on_587_and_465(self):
        before = self.count()
        r = self.msmtp(self.msa_port, True)
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        r = self.msmtp(self.ssl_port, False)
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        got = self.mta.wait_delivered(self.user, before + 2)
        subjects = [d for _, d in got if b"Subject: msmtp" in d]
        self.assertEqual(len(subjects), 2)


class PamTest(harness.InstanceTestCase):
    """ESMTPAUTH_BACKEND=pam: the PAM service decides. The test service admits the
    user alice whatever the password (pam_succeed_if + pam_permit), so the test shows
    that PAM, not the userdb, answers."""

    SERVICE = f"courier-test-{os.getpid()}"

    @classmethod
    def configure(cls, mta):
        cls.user = mta.add_user()
        make_certificate(mta)
        path = os.path.join("/etc/pam.d", cls.SERVICE)
        with open(path, "w") as f:
            f.write("auth requisite pam_succeed_if.so quiet user = alice\n"
                    "auth required pam_permit.so\naccount required pam_permit.so\n")
        cls.pam_file = path
        atexit.register(lambda: os.path.exists(path) and os.unlink(path))
        mta.write_config("esmtpd", esmtpd_settings(mta, mta.port, [
            "ESMTPAUTH_BACKEND=pam", f"ESMTP_PAM_SERVICE={cls.SERVICE}", "ESMTPAUTH_DELAY=0"]))

    @classmethod
    def tearDownClass(cls):
        super().tearDownClass()
        if os.path.exists(cls.pam_file):
            os.unlink(cls.pam_file)

    def test_pam_decides_and_cram_md5_is_not_offered(self):
        with smtplib.SMTP("127.0.0.1", self.mta.port, timeout=20) as s:
            s.starttls(context=client_tls_context())
            s.ehlo("c")
            self.assertEqual(s.esmtp_features["auth"].split(), ["PLAIN", "LOGIN"])
            with self.assertRaises(smtplib.SMTPAuthenticationError):
                s.login("bob", "anything")
            s.login("alice", "anything")


if __name__ == "__main__":
    harness.main()
