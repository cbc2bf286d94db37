"""REQUIRETLS (RFC 8689, issue 14) end to end: courieresmtpd offers and accepts it only
under TLS and records it in the queue file; courieresmtp sends such a message only to
a peer with a verified certificate that advertises REQUIRETLS (and says REQUIRETLS on
MAIL FROM), and otherwise fails it with 5.7.30 and a notice to the sender. Real peers
(aiosmtpd) with certificates from a test CA on 127.0.31.x, dnsmasq for the MX records."""

import os
import re
import smtplib
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
import harness  # noqa: E402
from dnsmasq import DnsServer  # noqa: E402
from esmtpd_support import client_tls_context, esmtpd_settings, make_certificate  # noqa: E402
from smtp_peer import SmtpPeer, TestCA  # noqa: E402

NET = "127.0.31."
# name: (last octet, certificate name or None for no TLS, advertises REQUIRETLS)
PEERS = {"good": (2, "mx.good.test", True), "norequire": (3, "mx.norequire.test", False),
         "plain": (4, None, True), "wrongname": (5, "other.name.test", True)}


class RequireTlsTest(harness.InstanceTestCase):
    @classmethod
    def configure(cls, mta):
        cls.ca = TestCA()
        cls.peers = {}
        cls.user = mta.add_user()
        cls.sender = f"{cls.user}@{mta.me}"
        # insecure.test's MX (the good peer) comes from plain DNS, without DNSSEC or
        # MTA-STS; the others are reached by the administrator's esmtproutes relays.
        mx = [("insecure.test", "mx.good.test", 10)]
        a = [(f"mx.{n}.test", NET + str(i)) for n, (i, _, _) in PEERS.items()]
        cls.dns = DnsServer(mx=mx, a=a).start()
        for name, (octet, cert, rtls) in PEERS.items():
            tls = cls.ca.server_cert(cert) if cert else None
            cls.peers[name] = SmtpPeer(NET + str(octet), 25, starttls=tls, requiretls=rtls).start()
        make_certificate(mta)
        mta.write_config("esmtpd", esmtpd_settings(mta, mta.port, ["ESMTP_ERROR_DELAY=0", "RELAYCLIENT="]))
        mta.write_config("dnsserver", f"127.0.0.1@{cls.dns.port}\n")
        mta.write_config("esmtpdelay", "0\n")
        mta.write_config("retryalpha", "1h\n")
        # A destination that never answers keeps its message in the queue.
        mta.write_config("esmtproutes", "".join([f"hold.test: [{NET}99],2599\n"] +
                                                [f"{n}.test: mx.{n}.test\n" for n in PEERS]))
        # The test CA is trusted, but verification is not required for ordinary mail.
        mta.write_config("courierd", f"TLS_TRUSTCERTS={cls.ca.ca_cert}\n")

    @classmethod
    def release(cls):
        for p in getattr(cls, "peers", {}).values():
            p.stop()
        if getattr(cls, "dns", None):
            cls.dns.stop()
        if getattr(cls, "ca", None):
            cls.ca.cleanup()

    def send(self, rcpt, subject, requiretls=True):
        """Sends over STARTTLS; returns the final reply of DATA."""
        with smtplib.SMTP("127.0.0.1", self.mta.port, timeout=30) as s:
            s.ehlo("client.example")
            s.starttls(context=client_tls_context())
            s.ehlo("client.example")
            self.assertTrue(s.has_extn("requiretls"))
            code, text = s.mail(self.sender, ["REQUIRETLS"] if requiretls else [])
            self.assertEqual(code, 250, text)
            self.assertEqual(s.rcpt(rcpt)[0], 250)
            return s.data(f"Subject: {subject}\r\nFrom: {self.sender}\r\n\r\nthe secret body of {subject}\r\n")

    def received(self, name, subject):
        peer = self.peers[name]
        return harness.wait_for(lambda: [m for m in peer.messages if f"Subject: {subject}".encode() in m["data"]],
                                timeout=30, what=f"{subject!r} at {name}")[0]

    def notice_for(self, rcpt):
        def find():
            for _, data in self.mta.delivered(self.user):
                if b"Delivery Status Notification (Failure)" in data and rcpt.encode() in data:
                    return data
            return None
        return harness.wait_for(find, timeout=40, what=f"a failure notice about {rcpt}")

    def test_not_offered_and_refused_without_tls(self):
        with smtplib.SMTP("127.0.0.1", self.mta.port, timeout=30) as s:
            s.ehlo("client.example")
            self.assertFalse(s.has_extn("requiretls"))
            code, text = s.mail(self.sender, ["REQUIRETLS"])
            self.assertEqual(code, 530)
            self.assertTrue(text.startswith(b"5.7.10 "), text)
            # Without the parameter the same sender is fine.
            self.assertEqual(s.mail(self.sender)[0], 250)

    def test_accepted_over_starttls_and_recorded_in_the_queue_file(self):
        code, text = self.send("u@hold.test", "held")
        self.assertEqual(code, 250, text)
        qid = re.search(rb"queued as (\S+)", text).group(1).decode()
        path = self.mta.path("spool", "msgs", qid[:5], "Q" + qid)
        with open(path, "rb") as f:
            head = f.read().split(b"\ndata ", 1)[0].decode()
        self.assertIn("\nrequiretls 1\n", head)
        self.assertIn("\nret HDRS\n", head)   # a notice never returns the content

    def test_delivered_to_a_verified_peer_that_supports_it(self):
        self.assertEqual(self.send("u@good.test", "to-good")[0], 250)
        got = self.received("good", "to-good")
        self.assertTrue(got["tls"])
        self.assertIn("REQUIRETLS", got["mail_options"])

    def test_ordinary_mail_does_not_say_requiretls(self):
        self.assertEqual(self.send("v@good.test", "plain-to-good", requiretls=False)[0], 250)
        self.assertNotIn("REQUIRETLS", self.received("good", "plain-to-good")["mail_options"])

    def test_peer_without_requiretls_fails_with_5_7_30(self):
        self.assertEqual(self.send("u@norequire.test", "to-norequire")[0], 250)
        notice = self.notice_for("u@norequire.test")
        self.assertIn(b"Status: 5.7.30", notice)
        self.assertIn(b"does not support REQUIRETLS", notice)
        self.assertNotIn(b"the secret body of to-norequire", notice)   # headers only
        # The same peer still gets ordinary mail (the check is per message).
        self.assertEqual(self.send("w@norequire.test", "ordinary-norequire", requiretls=False)[0], 250)
        self.received("norequire", "ordinary-norequire")
        self.assertFalse([m for m in self.peers["norequire"].messages if b"to-norequire" in m["data"]])
        self.assertRegex(self.mta.log_text(),
                         r"rcpt=<u@norequire\.test> module=esmtp .*status=fail .*text=550 5\.7\.30 REQUIRETLS")

    def test_mx_from_insecure_dns_fails_with_5_7_30(self):
        self.assertEqual(self.send("u@insecure.test", "to-insecure")[0], 250)
        notice = self.notice_for("u@insecure.test")
        self.assertIn(b"Status: 5.7.30", notice)
        self.assertIn(b"insecure MX lookup", notice)
        self.assertFalse([m for m in self.peers["good"].messages if b"to-insecure" in m["data"]])

    def test_peer_without_tls_fails_with_5_7_30(self):
        self.assertEqual(self.send("u@plain.test", "to-plain")[0], 250)
        notice = self.notice_for("u@plain.test")
        self.assertIn(b"Status: 5.7.30", notice)
        self.assertIn(b"is not TLS-protected", notice)
        self.assertFalse(self.peers["plain"].messages)

    def test_certificate_for_another_name_fails_with_5_7_30(self):
        self.assertEqual(self.send("u@wrongname.test", "to-wrongname")[0], 250)
        notice = self.notice_for("u@wrongname.test")
        self.assertIn(b"Status: 5.7.30", notice)
        self.assertIn(b"is not verified", notice)
        self.assertFalse(self.peers["wrongname"].messages)


if __name__ == "__main__":
    harness.main()
