"""SPF (issue 10, courier(8) bofh BOFHSPF* and "Sender Policy Framework Keywords")
against a real dnsmasq serving TXT records for pass, fail, softfail, neutral, none and
permerror policies. The SMTP client speaks through couriertcpd -haproxy with a PROXY
header naming 192.0.2.10 as its address (libspf2 passes every loopback client, so
the tests need an address that is not one); 192.0.2.20 is on the -allow list
dnswl.test (allowok). The session facts dnswl and relay are also given to submit
directly, for allowok and BOFHSPFTRUSTME."""

import os
import re
import smtplib
import socket
import subprocess
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
import harness  # noqa: E402
from dnsmasq import DnsServer  # noqa: E402

CLIENT = "192.0.2.10"
WHITELISTED = "192.0.2.20"      # listed in dnswl.test, which couriertcpd -allow= consults
RECORDS = [
    ("pass.test", "v=spf1 ip4:192.0.2.10 -all"),
    ("fail.test", "v=spf1 ip4:198.51.100.1 -all"),
    ("explained.test", "v=spf1 -all exp=why.explained.test"),
    ("why.explained.test", "%{i} is not a mail server of %{d}"),
    ("softfail.test", "v=spf1 ~all"),
    ("neutral.test", "v=spf1 ?all"),
    ("none.test", "this domain publishes no SPF policy"),
    ("perm.test", "v=spf1 ip4:192.0.2.10 bogus:mechanism -all"),
    ("helo-pass.test", "v=spf1 ip4:192.0.2.10 -all"),
    ("helo-fail.test", "v=spf1 -all"),
    ("include.test", "v=spf1 include:servers.include.test -all"),
    ("servers.include.test", "v=spf1 a:out.include.test -all"),
]


class ProxySMTP(smtplib.SMTP):
    """An SMTP client whose connection starts with a PROXY v1 header naming `client`."""

    def __init__(self, port, client=CLIENT):
        self.client_ip = client
        super().__init__("127.0.0.1", port, timeout=30)

    def _get_socket(self, host, port, timeout):
        s = socket.create_connection((host, port), timeout)
        s.sendall(f"PROXY TCP4 {self.client_ip} 127.0.0.1 40000 {port}\r\n".encode())
        return s


class SpfTest(harness.InstanceTestCase):
    @classmethod
    def configure(cls, mta):
        cls.dns = DnsServer(txt=RECORDS, a=[("out.include.test", CLIENT),
                                            ("20.2.0.192.dnswl.test", "127.0.0.2")]).start()
        cls.user = mta.add_user()
        mta.write_config("locals", f"{mta.me}\n")
        mta.write_config("dnsserver", f"127.0.0.1@{cls.dns.port}\n")
        mta.write_config("esmtpd", "\n".join([
            "ESMTPDSTART=YES", f"PORT=127.0.0.1.{mta.port}", "ADDRESS=0", "MAXDAEMONS=40",
            "MAXPERIP=40", 'TCPDOPTS="-nodnslookup -haproxy -allow=dnswl.test"', ""]))
        cls.count = 0

    @classmethod
    def release(cls):
        dns = getattr(cls, "dns", None)
        if dns:
            dns.stop()

    def bofh(self, *opts):
        self.mta.write_config("bofh", "".join(f"opt {o}\n" for o in opts))

    def rcpt(self):
        return f"{self.user}@{self.mta.me}"

    def session(self, helo="client.test", client=CLIENT):
        s = ProxySMTP(self.mta.port, client)
        s.ehlo(helo)
        return s

    def mail_reply(self, sender, helo="client.test", client=CLIENT):
        with self.session(helo, client) as s:
            return s.mail(sender)

    def send(self, sender, headers="", helo="client.test"):
        """Sends one message; returns (reply to DATA, subject)."""
        SpfTest.count += 1
        subject = f"spf-{SpfTest.count}"
        with self.session(helo) as s:
            code, text = s.mail(sender)
            self.assertEqual(code, 250, text)
            code, text = s.rcpt(self.rcpt())
            self.assertEqual(code, 250, text)
            reply = s.data(f"{headers}Subject: {subject}\r\n\r\nbody\r\n".encode())
        return reply, subject

    def delivered(self, subject):
        def find():
            for _, data in self.mta.delivered(self.user):
                if f"Subject: {subject}\n".encode() in data:
                    return data.decode()
            return None
        return harness.wait_for(find, what=f"message {subject}")

    def header_block(self, message):
        return message.split("\n\n", 1)[0]

    # ---- BOFHSPFMAILFROM and BOFHSPFHARDERROR ------------------------------------
    def test_mailfrom_results_against_the_keyword_list(self):
        self.bofh("BOFHSPFMAILFROM=pass,none")
        cases = {
            "a@pass.test": (250, None),
            "a@none.test": (250, None),
            "a@nxdomain.test": (250, None),                    # no such domain: none
            "a@fail.test": (550, b"5.7.23 SPF fail a@fail.test:"),
            "a@softfail.test": (550, b"5.7.23 SPF softfail a@softfail.test:"),
            "a@neutral.test": (451, b"4.7.23 SPF neutral a@neutral.test:"),
            "a@perm.test": (451, b"4.7.24 SPF unknown a@perm.test:"),
        }
        for sender, (code, text) in cases.items():
            with self.subTest(sender=sender):
                got_code, got_text = self.mail_reply(sender)
                self.assertEqual(got_code, code, got_text)
                if text:
                    self.assertTrue(got_text.startswith(text), got_text)
        log = self.mta.log_text()
        self.assertIn("spf identity=mailfrom result=fail subject=a@fail.test client=192.0.2.10 refused "
                      "rule=BOFHSPFMAILFROM=pass,none (bofh:1), BOFHSPFHARDERROR=fail,softfail (default) lists fail",
                      log)
        self.assertIn("spf identity=mailfrom result=pass subject=a@pass.test client=192.0.2.10 accepted "
                      "rule=BOFHSPFMAILFROM=pass,none (bofh:1)", log)

    def test_harderror_decides_between_5xx_and_4xx(self):
        self.bofh("BOFHSPFMAILFROM=pass", "BOFHSPFHARDERROR=neutral,unknown")
        self.assertEqual(self.mail_reply("a@neutral.test")[0], 550)
        self.assertEqual(self.mail_reply("a@perm.test")[0], 550)
        code, text = self.mail_reply("a@fail.test")
        self.assertEqual(code, 451)
        self.assertTrue(text.startswith(b"4.7.23 SPF fail"), text)

    def test_include_and_a_mechanisms_resolve_through_the_mta_resolver(self):
        self.bofh("BOFHSPFMAILFROM=pass")
        self.assertEqual(self.mail_reply("a@include.test")[0], 250)
        self.assertIn("spf identity=mailfrom result=pass subject=a@include.test", self.mta.log_text())

    def test_explanation_and_noverbose(self):
        self.bofh("BOFHSPFMAILFROM=pass")
        code, text = self.mail_reply("a@explained.test")
        self.assertEqual(code, 550)
        self.assertEqual(text, b"5.7.23 SPF fail a@explained.test: 192.0.2.10 is not a mail server of "
                               b"explained.test")
        code, text = self.mail_reply("a@fail.test")
        self.assertIn(b"fail.test does not designate 192.0.2.10 as a permitted sender", text)
        self.bofh("BOFHSPFMAILFROM=pass", "BOFHSPFNOVERBOSE=1")
        code, text = self.mail_reply("a@explained.test")
        self.assertEqual((code, text), (550, b"5.7.23 SPF fail a@explained.test: Rejected by the Sender "
                                             b"Policy Framework."))

    def test_null_sender_is_not_checked(self):
        self.bofh("BOFHSPFMAILFROM=pass")
        self.assertEqual(self.mail_reply("<>")[0], 250)

    def test_off_checks_nothing(self):
        self.bofh("BOFHSPFMAILFROM=off")
        self.assertEqual(self.mail_reply("a@fail.test")[0], 250)
        self.bofh()
        self.assertEqual(self.mail_reply("a@fail.test")[0], 250)

    # ---- BOFHSPFHELO -------------------------------------------------------------
    def test_helo_checked_at_mail_unless_an_address(self):
        self.bofh("BOFHSPFHELO=pass,none")
        code, text = self.mail_reply("a@fail.test", helo="helo-fail.test")
        self.assertEqual(code, 550)
        self.assertTrue(text.startswith(b"5.7.23 SPF fail helo-fail.test:"), text)
        self.assertEqual(self.mail_reply("a@fail.test", helo="helo-pass.test")[0], 250)
        self.assertEqual(self.mail_reply("a@fail.test", helo="[192.0.2.10]")[0], 250)
        self.assertEqual(self.mail_reply("a@fail.test", helo="no-policy.test")[0], 250)
        self.assertIn("spf identity=helo skipped=HELO is an address", self.mta.log_text())

    # ---- Received-SPF headers ----------------------------------------------------
    def test_three_headers_and_old_received_spf(self):
        self.bofh("BOFHSPFHELO=all", "BOFHSPFMAILFROM=all", "BOFHSPFFROM=all")
        reply, subject = self.send("a@fail.test", helo="helo-pass.test",
                                   headers="Received-SPF: pass (forged by the client)\r\n"
                                           "From: Someone <x@softfail.test>\r\n")
        self.assertEqual(reply[0], 250, reply)
        head = self.header_block(self.delivered(subject))
        fields = re.findall(r"^Received-SPF: (\w+) .*?identity=(\w+);", head, re.M | re.S)
        self.assertEqual(fields, [("pass", "helo"), ("fail", "mailfrom"), ("softfail", "from")])
        self.assertIn("Old-Received-SPF: pass (forged by the client)", head)
        self.assertNotIn("\nReceived-SPF: pass (forged", head)
        self.assertIn('envelope-from="a@fail.test";', head)
        self.assertIn("client-ip=192.0.2.10;", head)
        self.assertIn("helo=helo-pass.test;", head)
        self.assertIn(f"receiver={self.mta.me};", head)
        # Above our Received: (RFC 7208 9.1).
        self.assertLess(head.rindex("\nReceived-SPF:"), head.index("\nReceived:"))

    def test_received_spf_renamed_even_without_spf_checks(self):
        self.bofh()
        reply, subject = self.send("a@pass.test", headers="Received-SPF: pass (upstream)\r\n")
        self.assertEqual(reply[0], 250)
        head = self.header_block(self.delivered(subject))
        self.assertIn("Old-Received-SPF: pass (upstream)", head)
        self.assertNotRegex(head, r"(?m)^Received-SPF:")

    # ---- BOFHSPFFROM -------------------------------------------------------------
    def test_from_checked_at_end_of_data(self):
        self.bofh("BOFHSPFFROM=pass,none")
        reply, _ = self.send("a@pass.test", headers="From: x@fail.test\r\n")
        self.assertEqual(reply[0], 550)
        self.assertTrue(reply[1].startswith(b"5.7.23 SPF fail x@fail.test:"), reply)
        reply, subject = self.send("a@fail.test", headers="From: Joe <x@pass.test>\r\n")
        self.assertEqual(reply[0], 250, reply)
        self.assertRegex(self.header_block(self.delivered(subject)),
                         r"(?s)Received-SPF: pass \(test\.example: domain of x@pass\.test .*?identity=from;")

    def test_mailfromok_skips_from_when_mail_from_passed(self):
        self.bofh("BOFHSPFMAILFROM=all", "BOFHSPFFROM=pass,mailfromok")
        reply, subject = self.send("a@pass.test", headers="From: x@fail.test\r\n")
        self.assertEqual(reply[0], 250, reply)
        head = self.header_block(self.delivered(subject))
        self.assertNotIn("identity=from;", head)
        self.assertIn("identity=mailfrom;", head)
        self.assertIn("spf identity=from skipped=mailfromok, MAIL FROM passed", self.mta.log_text())
        # MAIL FROM did not pass: From: is checked.
        reply, _ = self.send("a@neutral.test", headers="From: x@fail.test\r\n")
        self.assertEqual(reply[0], 550, reply)
        # The null sender: From: is checked.
        reply, _ = self.send("<>", headers="From: x@softfail.test\r\n")
        self.assertEqual(reply[0], 550, reply)

    # ---- facts given by courieresmtpd: allowok (dnswl) and TRUSTME (relay) ---------
    def submit(self, sender, *facts):
        lines = "".join(f"session {k} {v}\n" for k, v in
                        [("remote-ip", CLIENT), ("helo", "client.test")] + list(facts))
        lines += f"mail {sender}\nrcpt {self.rcpt()}\nrset\nquit\n"
        r = subprocess.run([self.mta.path("libexec", "submit"), "esmtp"], input=lines, env=self.mta.env,
                           capture_output=True, text=True, timeout=30)
        return r.stdout.splitlines()[0]

    def test_allowok_passes_clients_on_a_couriertcpd_allow_list(self):
        self.bofh("BOFHSPFMAILFROM=pass,allowok")
        # pass.test names 192.0.2.10 only: from .20 the result is fail.
        self.assertEqual(self.mail_reply("a@pass.test", client=WHITELISTED)[0], 250)
        self.assertEqual(self.mail_reply("a@fail.test", client=CLIENT)[0], 550)
        self.assertIn("result=fail subject=a@pass.test client=192.0.2.20 dnswl=dnswl.test accepted",
                      self.mta.log_text())
        self.bofh("BOFHSPFMAILFROM=pass")
        self.assertEqual(self.mail_reply("a@pass.test", client=WHITELISTED)[0], 550)

    def test_allowok_passes_whitelisted_clients(self):
        self.bofh("BOFHSPFMAILFROM=pass,allowok")
        self.assertTrue(self.submit("a@fail.test").startswith("550 5.7.23 SPF fail"))
        self.assertTrue(self.submit("a@fail.test", ("dnswl", "list.dnswl.test")).startswith("250"))
        self.assertIn("dnswl=list.dnswl.test accepted rule=BOFHSPFMAILFROM=pass,allowok (bofh:1), "
                      "allowok: client whitelisted", self.mta.log_text())
        self.bofh("BOFHSPFMAILFROM=pass")
        self.assertTrue(self.submit("a@fail.test", ("dnswl", "list.dnswl.test")).startswith("550"))

    def test_trustme_skips_relay_clients(self):
        self.bofh("BOFHSPFMAILFROM=pass", "BOFHSPFTRUSTME=1")
        self.assertTrue(self.submit("a@fail.test", ("relay", "yes")).startswith("250"))
        self.assertTrue(self.submit("a@fail.test", ("relay", "no")).startswith("550"))
        self.bofh("BOFHSPFMAILFROM=pass")
        self.assertTrue(self.submit("a@fail.test", ("relay", "yes")).startswith("550"))

    def test_bad_keyword_is_reported_with_its_line(self):
        self.bofh("BOFHSPFMAILFROM=pass,sometimes")
        self.assertEqual(self.mail_reply("a@pass.test")[0], 250)
        self.assertIn('bofh:1: BOFHSPFMAILFROM: unknown keyword "sometimes"', self.mta.log_text())


if __name__ == "__main__":
    harness.main()
