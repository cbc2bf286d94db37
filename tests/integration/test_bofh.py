"""The bofh file (issue 10; courier(8), bofh): badfrom (all four forms), badmx,
freemail, spamtrap, maxrcpts [hard], BOFHCHECKHELO=1/2 (against a real DNS server),
BOFHHEADERLIMIT and BOFHNOBASE64TEXT, each observed as the reply on the wire, the
delivered mail and the log line naming the rule. submit reads bofh once per SMTP
session, so each test writes the file it needs before it connects."""

import os
import smtplib
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
import harness  # noqa: E402
from dnsmasq import DnsServer  # noqa: E402


def message(subject, headers="", body="body\r\n"):
    return f"Subject: {subject}\r\n{headers}\r\n{body}"


class BofhTest(harness.InstanceTestCase):
    @classmethod
    def configure(cls, mta):
        cls.dns = DnsServer(
            mx=[("badmx.test", "mx.badmx.test", 10), ("goodmx.test", "mx.goodmx.test", 10)],
            a=[("mx.badmx.test", "192.0.2.66"), ("mx.goodmx.test", "192.0.2.10"),
               ("ourhost.test", "127.0.0.1"), ("elsewhere.test", "192.0.2.5")],
            txt=[("spfonly.test", "v=spf1 ip4:127.0.0.1 -all")]).start()
        mta.write_config("dnsserver", f"127.0.0.1@{cls.dns.port}\n")
        cls.user = mta.add_user()
        cls.trap = mta.add_user()
        mta.write_config("aliases", f"honeypot: {cls.trap}\n")
        mta.run("sbin/makealiases")

    @classmethod
    def release(cls):
        if getattr(cls, "dns", None):
            cls.dns.stop()

    def bofh(self, text):
        self.mta.write_config("bofh", text)

    def mail_reply(self, sender, helo="client.example"):
        with self.mta.smtp() as s:
            s.ehlo(helo)
            code, text = s.mail(sender)
            return code, text.decode(errors="replace")

    def test_badfrom_all_four_forms(self):
        self.bofh("badfrom spam@one.test\nbadfrom @two.test\nbadfrom @.three.test\nbadfrom joe@.four.test\n")
        for sender, want in (("spam@one.test", 550), ("ham@one.test", 250),
                             ("x@two.test", 550), ("x@sub.two.test", 250),
                             ("x@sub.three.test", 550), ("x@three.test", 250),
                             ("joe@a.four.test", 550), ("joe@four.test", 250), ("ann@a.four.test", 250)):
            with self.subTest(sender=sender):
                code, text = self.mail_reply(sender)
                self.assertEqual(code, want, text)
        log = self.mta.log_text()
        for n in range(1, 5):
            self.assertIn(f"rule=bofh:{n} badfrom", log)

    def test_badmx(self):
        self.bofh("badmx 192.0.2.66\n")
        self.assertEqual(self.mail_reply("x@badmx.test")[0], 550)
        self.assertEqual(self.mail_reply("x@goodmx.test")[0], 250)
        self.assertIn("rule=bofh:1 badmx", self.mta.log_text())

    def test_freemail(self):
        # The client (127.0.0.1, no reverse lookup) is not one of freemail.test's relays.
        self.bofh("freemail freemail.test fm-relays.test\n")
        self.assertEqual(self.mail_reply("x@freemail.test")[0], 550)
        self.assertEqual(self.mail_reply("x@other.test")[0], 250)
        self.assertIn("rule=bofh:1 freemail", self.mta.log_text())

    def test_spamtrap_refuses_the_whole_message(self):
        self.bofh(f"spamtrap {self.trap}@{self.mta.me}\n")
        with self.mta.smtp() as s:
            s.ehlo("client.example")
            s.mail("x@client.example")
            self.assertEqual(s.rcpt(self.user)[0], 250)
            self.assertEqual(s.rcpt("honeypot")[0], 550)     # through the alias
            code, _ = s.data(message("trapped").encode())
            self.assertEqual(code, 554)
        self.assertIn("rule=bofh:1 spamtrap", self.mta.log_text())
        self.bofh("")
        with self.mta.smtp() as s:
            s.sendmail("x@client.example", [self.user], message("after trap"))
        subjects = [d for _, d in self.mta.wait_delivered(self.user, 1)]
        self.assertFalse(any(b"Subject: trapped" in d for d in subjects))

    def test_maxrcpts_soft_and_hard(self):
        for text, want in (("maxrcpts 2\n", 452), ("maxrcpts 2 hard\n", 550)):
            self.bofh(text)
            with self.subTest(bofh=text), self.mta.smtp() as s:
                s.ehlo("client.example")
                s.mail("x@client.example")
                self.assertEqual(s.rcpt(self.user)[0], 250)
                self.assertEqual(s.rcpt("postmaster")[0], 250)
                self.assertEqual(s.rcpt(self.trap)[0], want)
                s.rset()
        self.assertIn("rule=bofh:1 maxrcpts", self.mta.log_text())

    def test_checkhelo_1_and_2(self):
        self.bofh("opt BOFHCHECKHELO=1\n")
        self.assertEqual(self.mail_reply("x@client.example", helo="nonexistent.test")[0], 550)
        self.assertEqual(self.mail_reply("x@client.example", helo="elsewhere.test")[0], 250)
        self.assertEqual(self.mail_reply("x@client.example", helo="[127.0.0.1]")[0], 250)
        self.assertEqual(self.mail_reply("x@client.example", helo="[192.0.2.9]")[0], 550)
        self.bofh("opt BOFHCHECKHELO=2\n")
        self.assertEqual(self.mail_reply("x@client.example", helo="elsewhere.test")[0], 550)
        self.assertEqual(self.mail_reply("x@client.example", helo="ourhost.test")[0], 250)
        self.assertIn("rule=bofh:1 BOFHCHECKHELO=2", self.mta.log_text())

    def test_checkhelo_1_skipped_when_helo_passes_spf(self):
        # spfonly.test has no A or MX record, only an SPF policy naming the client.
        self.bofh("opt BOFHCHECKHELO=1\n")
        self.assertEqual(self.mail_reply("x@client.example", helo="spfonly.test")[0], 550)
        self.bofh("opt BOFHCHECKHELO=1\nopt BOFHSPFHELO=all\n")
        self.assertEqual(self.mail_reply("x@client.example", helo="spfonly.test")[0], 250)
        self.bofh("opt BOFHCHECKHELO=2\nopt BOFHSPFHELO=all\n")
        self.assertEqual(self.mail_reply("x@client.example", helo="spfonly.test")[0], 550)

    def test_headerlimit(self):
        self.bofh("opt BOFHHEADERLIMIT=500\n")
        with self.mta.smtp() as s:
            with self.assertRaises(smtplib.SMTPDataError) as e:
                s.sendmail("x@client.example", [self.user], message("big", "X-Pad: " + "a" * 600 + "\r\n"))
            self.assertEqual(e.exception.smtp_code, 552)
        self.assertIn("rule=bofh:1 BOFHHEADERLIMIT=500", self.mta.log_text())

    def test_nobase64text(self):
        self.bofh("opt BOFHNOBASE64TEXT=1\n")
        b64 = "Content-Type: text/plain\r\nContent-Transfer-Encoding: base64\r\n"
        with self.mta.smtp() as s:
            with self.assertRaises(smtplib.SMTPDataError) as e:
                s.sendmail("x@client.example", [self.user], message("b64 text", b64, "aGVsbG8=\r\n"))
            self.assertEqual(e.exception.smtp_code, 550)
            pdf = "Content-Type: application/pdf\r\nContent-Transfer-Encoding: base64\r\n"
            s.sendmail("x@client.example", [self.user], message("b64 pdf", pdf, "AAAA\r\n"))
        harness.wait_for(lambda: any(b"Subject: b64 pdf" in d for _, d in self.mta.delivered(self.user)),
                         what="pdf delivered")
        self.assertFalse(any(b"Subject: b64 text" in d for _, d in self.mta.delivered(self.user)))
        self.assertIn("rule=bofh:1 BOFHNOBASE64TEXT", self.mta.log_text())

    def test_bad_line_logged_mail_still_flows(self):
        self.bofh("badfrom\nnonsense here\nbadfrom @two.test\n")
        self.assertEqual(self.mail_reply("x@two.test")[0], 550)
        self.assertEqual(self.mail_reply("x@fine.test")[0], 250)
        log = self.mta.log_text()
        self.assertIn("bofh:1:", log)
        self.assertIn("bofh:2:", log)


if __name__ == "__main__":
    harness.main()
