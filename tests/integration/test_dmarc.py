"""DMARC (issue 14, courier-dkim(5), RFC 7489): a real dnsmasq serves SPF and _dmarc
records for a passing domain, a failing one (p=reject), a p=quarantine one and one
without a record; the client speaks through couriertcpd -haproxy as 192.0.2.10
(libspf2 passes every loopback client). Authentication-Results shows dmarc=pass, fail
and none; with `dmarcpolicy` reject the p=reject failure gets 550 5.7.1 on the wire
and nothing is queued; with quarantine it is held in the queue."""

import glob
import os
import re
import smtplib
import socket
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
import harness  # noqa: E402
from dnsmasq import DnsServer  # noqa: E402

CLIENT = "192.0.2.10"
RECORDS = [
    ("pass.test", "v=spf1 ip4:192.0.2.10 -all"),
    ("_dmarc.pass.test", "v=DMARC1; p=reject"),
    ("fail.test", "v=spf1 -all"),
    ("_dmarc.fail.test", "v=DMARC1; p=reject"),
    ("quar.test", "v=spf1 -all"),
    ("_dmarc.quar.test", "v=DMARC1; p=quarantine"),
    ("none.test", "v=spf1 ip4:192.0.2.10 -all"),
    ("bounces.other.test", "v=spf1 ip4:192.0.2.10 -all"),
]


class ProxySMTP(smtplib.SMTP):
    """An SMTP client whose connection starts with a PROXY v1 header naming CLIENT."""

    def _get_socket(self, host, port, timeout):
        s = socket.create_connection((host, port), timeout)
        s.sendall(f"PROXY TCP4 {CLIENT} 127.0.0.1 40000 {port}\r\n".encode())
        return s


class DmarcTest(harness.InstanceTestCase):
    @classmethod
    def configure(cls, mta):
        cls.dns = DnsServer(txt=RECORDS).start()
        cls.user = mta.add_user()
        mta.write_config("locals", f"{mta.me}\n")
        mta.write_config("dnsserver", f"127.0.0.1@{cls.dns.port}\n")
        os.remove(mta.path("etc", "dkimsettings"))   # the harness turns checking off
        mta.write_config("esmtpd", "\n".join([
            "ESMTPDSTART=YES", f"PORT=127.0.0.1.{mta.port}", "ADDRESS=0", "MAXDAEMONS=40",
            "MAXPERIP=40", 'TCPDOPTS="-nodnslookup -haproxy"', ""]))
        cls.count = 0

    @classmethod
    def release(cls):
        dns = getattr(cls, "dns", None)
        if dns:
            dns.stop()

    def tearDown(self):
        path = self.mta.path("etc", "dmarcpolicy")
        if os.path.exists(path):
            os.unlink(path)

    def send(self, mail_from, header_from):
        """Sends one message; returns (reply to DATA, subject)."""
        DmarcTest.count += 1
        subject = f"dmarc-{DmarcTest.count}"
        with ProxySMTP("127.0.0.1", self.mta.port, timeout=30) as s:
            s.ehlo("client.test")
            self.assertEqual(s.mail(mail_from)[0], 250)
            self.assertEqual(s.rcpt(f"{self.user}@{self.mta.me}")[0], 250)
            reply = s.data(f"From: <{header_from}>\r\nSubject: {subject}\r\n\r\nbody\r\n".encode())
        return reply, subject

    def results(self, subject):
        def find():
            for _, data in self.mta.delivered(self.user):
                if f"Subject: {subject}\n".encode() in data:
                    return data.decode()
            return None
        message = harness.wait_for(find, what=f"message {subject}")
        m = re.search(r"^Authentication-Results: .*?(?=^\S)", message, re.M | re.S)
        self.assertIsNotNone(m, message)
        return m.group(0)

    def queued_with(self, subject):
        for q in self.mta.queue_files():
            with open(q, "rb") as f:
                if f"Subject: {subject}\n".encode() in f.read():
                    return q
        return None

    # ---- headers only (the default) -------------------------------------------------
    def test_pass_fail_and_none_in_authentication_results(self):
        reply, subject = self.send("a@pass.test", "a@pass.test")
        self.assertEqual(reply[0], 250, reply)
        ar = self.results(subject)
        self.assertIn("spf=pass smtp.mailfrom=a@pass.test;", ar)
        self.assertIn("dkim=none;", ar)
        self.assertIn("dmarc=pass (p=reject dis=none) header.from=pass.test", ar)

        reply, subject = self.send("a@fail.test", "a@fail.test")
        self.assertEqual(reply[0], 250, reply)   # no dmarcpolicy: only the header
        ar = self.results(subject)
        self.assertIn("spf=fail smtp.mailfrom=a@fail.test;", ar)
        self.assertIn("dmarc=fail (p=reject dis=reject) header.from=fail.test", ar)

        reply, subject = self.send("a@none.test", "a@none.test")
        self.assertIn("dmarc=none header.from=none.test", self.results(subject))
        log = self.mta.log_text()
        self.assertIn("dmarc from=fail.test result=fail policy=reject disposition=reject action=none "
                      "rule=dmarcpolicy none (default)", log)

    def test_spf_of_an_unaligned_domain_does_not_pass(self):
        # SPF passes for bounces.other.test, but the From: domain is fail.test.
        reply, subject = self.send("x@bounces.other.test", "a@fail.test")
        ar = self.results(subject)
        self.assertIn("spf=pass", ar)
        self.assertIn("dmarc=fail", ar)

    # ---- enforcement --------------------------------------------------------------
    def test_reject_policy_refuses_on_the_wire_and_queues_nothing(self):
        self.mta.write_config("dmarcpolicy", "reject\n")
        before = len(self.mta.queue_files())
        reply, subject = self.send("a@fail.test", "a@fail.test")
        self.assertEqual(reply, (550, b"5.7.1 Message rejected by the DMARC policy of fail.test"))
        self.assertIsNone(self.queued_with(subject))
        self.assertLessEqual(len(self.mta.queue_files()), before)
        self.assertIn("action=reject rule=dmarcpolicy reject (dmarcpolicy:1)", self.mta.log_text())
        # A passing domain with p=reject is accepted and delivered.
        reply, subject = self.send("a@pass.test", "a@pass.test")
        self.assertEqual(reply[0], 250, reply)
        self.assertIn("dmarc=pass", self.results(subject))

    def test_quarantine_holds_the_message(self):
        self.mta.write_config("dmarcpolicy", "quarantine\n")
        reply, subject = self.send("a@quar.test", "a@quar.test")
        self.assertEqual(reply[0], 250, reply)
        q = harness.wait_for(lambda: self.queued_with(subject), what="held queue file")
        status = glob.glob(os.path.join(os.path.dirname(q), "S" + os.path.basename(q)[1:]))
        self.assertTrue(status, "no status log next to " + q)
        with open(status[0]) as f:
            self.assertIn("DMARC+20quarantine+20policy+20of+20quar.test", f.read())
        self.assertFalse(any(f"Subject: {subject}\n".encode() in d for _, d in self.mta.delivered(self.user)))


if __name__ == "__main__":
    harness.main()
