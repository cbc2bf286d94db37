"""TLS-RPT (RFC 8460, issue 14) end to end: courieresmtp records each outbound
session's TLS outcome in spool/tlsrpt/<day>; tlsrptreport prints the RFC 8460 JSON
with the right counts and result types, and with --send mails each report to the
mailto: address of the domain's _smtp._tls TXT record (served by dnsmasq) as a
multipart/report; report-type=tlsrpt message, here into a local Maildir. Real peers
(aiosmtpd) on 127.0.32.x: one with STARTTLS, one whose STARTTLS fails, one without, one
whose certificate names another host (verification is on)."""

import email
import email.policy
import json
import os
import pwd
import re
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
import harness  # noqa: E402
from dnsmasq import DnsServer  # noqa: E402
from smtp_peer import SmtpPeer, TestCA, submit_message  # noqa: E402

NET = "127.0.32."
HOSTS = {"tls": 2, "broken": 3, "plain": 4, "wrongname": 5}


class TlsRptTest(harness.InstanceTestCase):
    start_esmtpd = False

    @classmethod
    def configure(cls, mta):
        cls.ca = TestCA()
        cls.peers = {}
        cls.user = mta.add_user()
        rua = f"{cls.user}@{mta.me}"
        mx = [(f"{n}.test", f"mx.{n}.test", 10) for n in HOSTS]
        a = [(f"mx.{n}.test", NET + str(i)) for n, i in HOSTS.items()]
        txt = [("_smtp._tls.tls.test", f"v=TLSRPTv1; rua=mailto:{rua}"),
               ("_smtp._tls.broken.test", "v=TLSRPTv1; rua=https://reports.broken.test/tlsrpt")]
        cls.dns = DnsServer(mx=mx, a=a, txt=txt).start()
        cls.peers["tls"] = SmtpPeer(NET + "2", 25, starttls=cls.ca.server_cert("mx.tls.test")).start()
        cls.peers["broken"] = SmtpPeer(NET + "3", 25, starttls=cls.ca.server_cert("mx.broken.test"),
                                       broken_starttls=True).start()
        cls.peers["plain"] = SmtpPeer(NET + "4", 25).start()
        cls.peers["wrongname"] = SmtpPeer(NET + "5", 25, starttls=cls.ca.server_cert("other.name.test")).start()
        mta.write_config("courierd", f"TLS_TRUSTCERTS={cls.ca.ca_cert}\nTLS_VERIFYPEER=PEER\n"
                                     "ESMTP_TLS_VERIFY_DOMAIN=1\n")
        mta.write_config("retryalpha", "1h\n")
        mta.write_config("dnsserver", f"127.0.0.1@{cls.dns.port}\n")
        mta.write_config("esmtpdelay", "0\n")
        mta.write_config("esmtptimeoutkeepalive", "1\n")   # one session per message here
        mta.write_config("tlsrptorg", "Courier Test Org\n")
        mta.write_config("tlsrptcontact", "tls-admin@test.example\n")

    @classmethod
    def release(cls):
        for p in getattr(cls, "peers", {}).values():
            p.stop()
        if getattr(cls, "dns", None):
            cls.dns.stop()
        if getattr(cls, "ca", None):
            cls.ca.cleanup()

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        try:
            cls.deliver_all()
        except BaseException:
            cls.tearDownClass()
            raise

    @classmethod
    def deliver_all(cls):
        """Two sessions to tls.test, one each to broken.test and plain.test."""
        mta = cls.mta
        for n, (name, subject) in enumerate([("tls", "first"), ("tls", "second"), ("broken", "broken"),
                                             ("plain", "plain")]):
            submit_message(mta, "sender@client.example", [f"u{n}@{name}.test"],
                           f"Subject: {subject}\nFrom: sender@client.example\n\nhello\n")
            peer = cls.peers[name]
            harness.wait_for(lambda: [m for m in peer.messages if f"Subject: {subject}".encode() in m["data"]],
                             timeout=30, what=f"{subject!r} at {name}")
            closed = f"outbound session closed domain={name}.test"
            harness.wait_for(lambda: mta.log_text().count(closed) >= (2 if subject == "second" else 1),
                             timeout=30, what=closed)
        # Refused by the certificate check: deferred, never received.
        submit_message(mta, "sender@client.example", ["u@wrongname.test"], "Subject: wrongname\n\nhello\n")
        harness.wait_for(lambda: "domain=wrongname.test policy=no-policy-found" in mta.log_text(),
                         timeout=30, what="the wrongname.test event")

    def day_files(self):
        d = self.mta.path("spool", "tlsrpt")
        return sorted(f for f in os.listdir(d) if re.fullmatch(r"\d{4}-\d\d-\d\d", f))

    def report(self, *extra):
        day = self.day_files()[-1]
        r = self.mta.run("sbin/tlsrptreport", "--date", day, *extra)
        return r, day

    def test_events_are_recorded_in_the_spool(self):
        files = self.day_files()
        self.assertTrue(files)
        path = self.mta.path("spool", "tlsrpt", files[-1])
        st = os.stat(path)
        self.assertEqual(pwd.getpwuid(st.st_uid).pw_name, harness.MAIL_USER)   # written by courieresmtp
        self.assertEqual(st.st_mode & 0o777, 0o640)
        with open(path) as f:
            lines = f.read().splitlines()
        self.assertEqual(len([x for x in lines if x.split(" ")[2] == "tls.test" and " success " in x]), 2)
        self.assertTrue(all(x.startswith("tlsrpt1 ") for x in lines))
        self.assertRegex(self.mta.log_text(), r"tlsrpt domain=broken\.test policy=no-policy-found "
                                              r"mx=mx\.broken\.test ip=127\.0\.32\.3 result=starttls-not-supported")

    def test_report_json_counts_and_result_types(self):
        r, day = self.report()
        reports = json.loads(r.stdout)
        by_domain = {rep["policies"][0]["policy"]["policy-domain"]: rep for rep in reports}
        self.assertEqual(set(by_domain), {"tls.test", "broken.test", "plain.test", "wrongname.test"})
        tls = by_domain["tls.test"]
        self.assertEqual(tls["organization-name"], "Courier Test Org")
        self.assertEqual(tls["contact-info"], "tls-admin@test.example")
        self.assertEqual(tls["date-range"], {"start-datetime": f"{day}T00:00:00Z", "end-datetime": f"{day}T23:59:59Z"})
        self.assertIn("tls.test", tls["report-id"])
        pol = tls["policies"][0]
        self.assertEqual(pol["policy"]["policy-type"], "no-policy-found")
        self.assertEqual(pol["summary"], {"total-successful-session-count": 2, "total-failure-session-count": 0})
        self.assertNotIn("failure-details", pol)
        broken = by_domain["broken.test"]["policies"][0]
        self.assertEqual(broken["summary"], {"total-successful-session-count": 0, "total-failure-session-count": 1})
        detail = broken["failure-details"][0]
        self.assertEqual(detail["result-type"], "starttls-not-supported")
        self.assertEqual(detail["receiving-mx-hostname"], "mx.broken.test")
        self.assertEqual(detail["receiving-ip"], NET + "3")
        self.assertEqual(detail["failed-session-count"], 1)
        self.assertIn("454", detail["failure-reason-code"])
        plain = by_domain["plain.test"]["policies"][0]
        self.assertEqual(plain["summary"]["total-failure-session-count"], 1)
        self.assertEqual(plain["failure-details"][0]["result-type"], "starttls-not-supported")
        wrong = by_domain["wrongname.test"]["policies"][0]
        self.assertEqual(wrong["summary"], {"total-successful-session-count": 0, "total-failure-session-count": 1})
        self.assertEqual(wrong["failure-details"][0]["result-type"], "certificate-host-mismatch")
        self.assertEqual(wrong["failure-details"][0]["receiving-mx-hostname"], "mx.wrongname.test")
        self.assertFalse(self.peers["wrongname"].messages)
        # One domain alone is the bare RFC 8460 object.
        one = json.loads(self.report("--domain", "tls.test")[0].stdout)
        self.assertEqual(one["report-id"], tls["report-id"])

    def test_send_mails_the_report_to_the_rua_address(self):
        r, day = self.report("--send")
        self.assertIn("tls.test: sent to", r.stdout)
        self.assertIn("plain.test: no TLSRPTv1 record", r.stdout)
        self.assertIn("https://reports.broken.test/tlsrpt: unsupported", r.stdout)
        self.assertRegex(self.mta.log_text(), r"tlsrpt report domain=broken\.test rua=https\S+ status=unsupported")
        raw = self.mta.wait_delivered(self.user, 1)[0][1]
        msg = email.message_from_bytes(raw, policy=email.policy.default)
        self.assertEqual(msg.get_content_type(), "multipart/report")
        self.assertEqual(msg.get_param("report-type"), "tlsrpt")
        self.assertEqual(msg["TLS-Report-Domain"], "tls.test")
        self.assertEqual(msg["TLS-Report-Submitter"], self.mta.me)
        self.assertTrue(msg["Subject"].startswith("Report Domain: tls.test Submitter: "), msg["Subject"])
        parts = [p for p in msg.iter_parts() if p.get_content_type() == "application/tlsrpt+json"]
        self.assertEqual(len(parts), 1)
        self.assertTrue(parts[0].get_filename().startswith(f"{self.mta.me}!tls.test!"))
        report = json.loads(parts[0].get_payload(decode=True))
        self.assertEqual(report["policies"][0]["policy"]["policy-domain"], "tls.test")
        self.assertEqual(report["policies"][0]["summary"]["total-successful-session-count"], 2)
        self.assertEqual(report["date-range"]["start-datetime"], f"{day}T00:00:00Z")

    def test_bad_arguments(self):
        r = self.mta.run("sbin/tlsrptreport", "--date", "2026-02-30", check=False)
        self.assertEqual(r.returncode, 64)
        self.assertIn("bad date", r.stderr)
        # A day without events gives an empty list.
        self.assertEqual(json.loads(self.mta.run("sbin/tlsrptreport", "--date", "2001-01-01").stdout), [])


if __name__ == "__main__":
    harness.main()
