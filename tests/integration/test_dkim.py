"""DKIM (issue 14, courier-dkim(5), dkimkeygen(8)): keys made by dkimkeygen sign mail
submitted with SMTP AUTH and through sendmail, and the delivered messages verify with
an independent verifier (Python's dkimpy, Debian python3-dkim), RSA and Ed25519.
Inbound: messages signed by dkimpy, whose keys a real dnsmasq serves, arrive with
Authentication-Results: dkim=pass; a changed body gives dkim=fail; forged results
naming our authserv-id are removed."""

import base64
import os
import pwd
import re
import smtplib
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
import harness  # noqa: E402
from dnsmasq import DnsServer  # noqa: E402
from esmtpd_support import client_tls_context, esmtpd_settings, make_certificate, make_userdb  # noqa: E402

try:
    import dkim
    import nacl.signing
except ImportError:   # a python3 that is not Debian's: its packages are still there
    sys.path.append("/usr/lib/python3/dist-packages")
    import dkim
    import nacl.signing

PASSWORD = "dkim pass 1"


def openssl_rsa_key(bits=1024):
    """(PEM private key, base64 SubjectPublicKeyInfo) made by the openssl command."""
    pem = subprocess.run(["openssl", "genrsa", "-traditional", str(bits)], capture_output=True,
                         check=True).stdout
    der = subprocess.run(["openssl", "rsa", "-pubout", "-outform", "DER"], input=pem,
                         capture_output=True, check=True).stdout
    return pem, base64.b64encode(der).decode()


def txt_from_keygen(output):
    """The record of a dkimkeygen zone line: (name, joined character-strings)."""
    name = output.split()[0].rstrip(".")
    return name, "".join(re.findall(r'"([^"]*)"', output))


class DkimTest(harness.InstanceTestCase):
    @classmethod
    def configure(cls, mta):
        cls.rsa_pem, rsa_pub = openssl_rsa_key()
        cls.ed_key = nacl.signing.SigningKey.generate()
        ed_pub = base64.b64encode(bytes(cls.ed_key.verify_key)).decode()
        cls.dns = DnsServer(txt=[
            ("rsa._domainkey.signed.test", "v=DKIM1; k=rsa; p=" + rsa_pub),
            ("ed._domainkey.signed.test", "v=DKIM1; k=ed25519; p=" + ed_pub),
        ]).start()
        cls.user = mta.add_user()
        cls.rcpt = f"{cls.user}@{mta.me}"
        mta.write_config("locals", f"{mta.me}\n")
        mta.write_config("dnsserver", f"127.0.0.1@{cls.dns.port}\n")
        os.remove(mta.path("etc", "dkimsettings"))   # the harness turns checking off
        make_certificate(mta)
        make_userdb(mta, {"alice": PASSWORD})
        mta.write_config("esmtpd", esmtpd_settings(mta, mta.port))
        # Two keys for one domain: every message from it gets two signatures.
        cls.records = {}
        for kind, selector in (("rsa", "r2026"), ("ed25519", "e2026")):
            out = mta.run("sbin/dkimkeygen", "-t", kind, "sender.test", selector)
            name, record = txt_from_keygen(out.stdout)
            cls.records[name] = record
        cls.count = 0

    @classmethod
    def release(cls):
        dns = getattr(cls, "dns", None)
        if dns:
            dns.stop()

    # ---- helpers -----------------------------------------------------------------
    def subject(self):
        DkimTest.count += 1
        return f"dkim-{DkimTest.count}"

    def delivered(self, subject):
        def find():
            for _, data in self.mta.delivered(self.user):
                if f"Subject: {subject}\n".encode() in data:
                    return data
            return None
        return harness.wait_for(find, what=f"message {subject}")

    def dnsfunc(self, name, timeout=5):
        if isinstance(name, bytes):
            name = name.decode()
        record = self.records.get(name.rstrip("."))
        return record.encode() if record else None

    def verify_all(self, message):
        """dkimpy's verdict on each DKIM-Signature of a delivered message (CRLF form)."""
        # Return-Path: and Delivered-To: are added at delivery, above the signatures.
        wire = message.replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")
        count = len(re.findall(rb"^DKIM-Signature:", wire, re.M | re.I))
        d = dkim.DKIM(wire)
        out = []
        for i in range(count):
            try:
                out.append(d.verify(idx=i, dnsfunc=self.dnsfunc))
            except dkim.ValidationError:   # e.g. a body hash mismatch
                out.append(False)
        return out

    def message(self, subject, sender="alice@sender.test", body="Hello.\n"):
        return (f"From: Alice <{sender}>\nTo: <{self.rcpt}>\nSubject: {subject}\n"
                f"Date: Sun, 22 Nov 2026 08:00:00 +0000\nMessage-ID: <{subject}@sender.test>\n\n{body}")

    # ---- dkimkeygen ----------------------------------------------------------------
    def test_keygen_writes_private_keys_for_the_mail_user(self):
        mail = pwd.getpwnam(harness.MAIL_USER)
        for sel in ("r2026", "e2026"):
            st = os.stat(self.mta.path("etc", "dkim", "sender.test", sel + ".private"))
            self.assertEqual(st.st_mode & 0o777, 0o600)
            self.assertEqual(st.st_uid, mail.pw_uid)
        self.assertIn("r2026._domainkey.sender.test", self.records)
        self.assertTrue(self.records["e2026._domainkey.sender.test"].startswith("v=DKIM1; k=ed25519; p="))
        again = self.mta.run("sbin/dkimkeygen", "sender.test", "r2026", check=False)
        self.assertEqual(again.returncode, 73, again.stderr)
        self.assertIn("exists", again.stderr)
        bad = self.mta.run("sbin/dkimkeygen", "sender.test", "../x", check=False)
        self.assertEqual(bad.returncode, 64)

    # ---- signing -------------------------------------------------------------------
    def test_authenticated_smtp_mail_is_signed_rsa_and_ed25519(self):
        subject = self.subject()
        with smtplib.SMTP("127.0.0.1", self.mta.port, timeout=30) as s:
            s.ehlo("client.test")
            s.starttls(context=client_tls_context())
            s.ehlo("client.test")
            s.login("alice", PASSWORD)
            s.sendmail("alice@sender.test", [self.rcpt], self.message(subject).replace("\n", "\r\n").encode())
        data = self.delivered(subject)
        sigs = re.findall(rb"^DKIM-Signature:.*?(?=^\S)", data, re.M | re.S)
        self.assertEqual(len(sigs), 2, data)
        self.assertTrue(any(b"a=rsa-sha256" in s and b"s=e2026" not in s for s in sigs))
        self.assertTrue(any(b"a=ed25519-sha256" in s for s in sigs))
        for sig in sigs:   # From: oversigned: named once more than it occurs
            h = re.search(rb"h=([^;]*);", re.sub(rb"\s", b"", sig)).group(1).split(b":")
            self.assertEqual(h.count(b"from"), 2, sig)
            self.assertIn(b"subject", h)
        self.assertEqual(self.verify_all(data), [True, True])
        # Tampering after signing must break the verifier's result: the check can fail.
        self.assertEqual(self.verify_all(data.replace(b"Hello.", b"Hello!")), [False, False])
        self.assertNotIn(b"Authentication-Results:", data)
        self.assertIn("dkim sign d=sender.test s=r2026", self.mta.log_text())

    def test_sendmail_mail_is_signed_by_the_parent_domain_key(self):
        subject = self.subject()
        r = subprocess.run([self.mta.path("bin", "sendmail"), "-f", "root@mail.sender.test", self.rcpt],
                           input=self.message(subject, sender="root@mail.sender.test").encode(),
                           env=self.mta.env, capture_output=True, timeout=30)
        self.assertEqual(r.returncode, 0, r.stderr)
        data = self.delivered(subject)
        self.assertIn(b"d=sender.test", data)
        self.assertEqual(self.verify_all(data), [True, True])

    def test_unauthenticated_smtp_mail_is_not_signed(self):
        subject = self.subject()
        with self.mta.smtp() as s:
            s.sendmail("alice@sender.test", [self.rcpt], self.message(subject).replace("\n", "\r\n").encode())
        data = self.delivered(subject)
        self.assertNotIn(b"DKIM-Signature:", data)
        self.assertIn(b"dkim=none", data)

    # ---- verification --------------------------------------------------------------
    def send_signed(self, selector, key, tamper=False, extra=b""):
        subject = self.subject()
        msg = self.message(subject, sender="bob@signed.test").replace("\n", "\r\n").encode()
        sig = dkim.sign(msg, selector.encode(), b"signed.test", key,
                        signature_algorithm=b"ed25519-sha256" if selector == "ed" else b"rsa-sha256",
                        include_headers=[b"from", b"to", b"subject", b"date", b"message-id"])
        signed = extra + sig + msg
        if tamper:
            signed = signed.replace(b"Hello.", b"Hello, changed.")
        with self.mta.smtp() as s:
            s.sendmail("bob@signed.test", [self.rcpt], signed)
        return self.delivered(subject).decode()

    def results(self, message):
        m = re.search(r"^Authentication-Results: .*?(?=^\S)", message, re.M | re.S)
        self.assertIsNotNone(m, message)
        return m.group(0)

    def test_rsa_signature_from_dkimpy_passes(self):
        ar = self.results(self.send_signed("rsa", self.rsa_pem))
        self.assertTrue(ar.startswith(f"Authentication-Results: {self.mta.me};"), ar)
        self.assertRegex(ar, r'dkim=pass header\.d=signed\.test header\.s=rsa header\.b=("?)[^";]{8}\1;')

    def test_ed25519_signature_from_dkimpy_passes(self):
        seed = base64.b64encode(bytes(self.ed_key))
        ar = self.results(self.send_signed("ed", seed))
        self.assertRegex(ar, r'dkim=pass header\.d=signed\.test header\.s=ed header\.b=("?)[^";]{8}\1;')

    def test_changed_body_fails(self):
        ar = self.results(self.send_signed("rsa", self.rsa_pem, tamper=True))
        self.assertIn('dkim=fail reason="body hash did not verify" header.d=signed.test header.s=rsa', ar)
        self.assertIn("dkim verify d=signed.test s=rsa result=fail", self.mta.log_text())

    def test_forged_results_for_our_name_are_removed(self):
        forged = f"Authentication-Results: {self.mta.me}; dkim=pass header.d=bank.test\r\n".encode()
        other = b"Authentication-Results: elsewhere.test; spf=pass\r\n"
        message = self.send_signed("rsa", self.rsa_pem, extra=forged + other)
        self.assertNotIn("header.d=bank.test", message)
        self.assertIn("Authentication-Results: elsewhere.test; spf=pass", message)
        self.assertEqual(message.count(f"Authentication-Results: {self.mta.me};"), 1)


if __name__ == "__main__":
    harness.main()
