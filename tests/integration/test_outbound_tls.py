"""courieresmtp (issue 6): TLS policy and AUTH against real peers (aiosmtpd) with
certificates from a test CA, on 127.0.7.x: opportunistic STARTTLS with and without
verification, /SECURITY=REQUIRED with a peer lacking STARTTLS, the penalty box after a
failed STARTTLS, SMTPS, esmtpauthclient, a 7-bit peer."""

import os
import re
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
import harness  # noqa: E402
from dnsmasq import DnsServer  # noqa: E402
from smtp_peer import SmtpPeer, TestCA, submit_message  # noqa: E402

NET = "127.0.7."
HOSTS = {"tls": 2, "plain": 3, "broken": 4, "smtps": 5, "auth": 6, "sevenbit": 7, "wrongname": 8}


class OutboundTlsTest(harness.InstanceTestCase):
    # Only courierd: mail enters through submit, so the test does not depend on
    # the receiving side.
    start_esmtpd = False

    @classmethod
    def configure(cls, mta):
        cls.ca = TestCA()
        cls.peers = {}
        mx = [(f"{n}.test", f"mx.{n}.test", 10) for n in HOSTS]
        a = [(f"mx.{n}.test", NET + str(i)) for n, i in HOSTS.items()]
        cls.dns = DnsServer(mx=mx, a=a).start()
        cert = lambda name: cls.ca.server_cert(name)  # noqa: E731
        cls.peers["tls"] = SmtpPeer(NET + "2", 25, starttls=cert("mx.tls.test")).start()
        cls.peers["plain"] = SmtpPeer(NET + "3", 25).start()
        cls.peers["broken"] = SmtpPeer(NET + "4", 25, starttls=cert("mx.broken.test"), broken_starttls=True).start()
        cls.peers["smtps"] = SmtpPeer(NET + "5", 4650, smtps=cert("mx.smtps.test")).start()
        cls.peers["auth"] = SmtpPeer(NET + "6", 25, starttls=cert("mx.auth.test"), auth=("relayuser", "s3cret")).start()
        cls.peers["sevenbit"] = SmtpPeer(NET + "7", 25, no_8bit=True).start()
        cls.peers["wrongname"] = SmtpPeer(NET + "8", 25, starttls=cert("other.name.test")).start()
        mta.write_config("dnsserver", f"127.0.0.1@{cls.dns.port}\n")
        mta.write_config("esmtpdelay", "0\n")
        mta.write_config("esmtptimeoutkeepalive", "1\n")   # sessions end at once: no reuse here
        mta.write_config("esmtproutes", "\n".join([
            "plain.test: /SECURITY=REQUIRED",
            "smtps.test: [127.0.7.5],4650 /SECURITY=SMTPS",
            ""]))
        mta.write_config("esmtpauthclient", "mx.auth.test relayuser s3cret\n")

    @classmethod
    def release(cls):
        for p in getattr(cls, "peers", {}).values():
            p.stop()
        if getattr(cls, "dns", None):
            cls.dns.stop()
        if getattr(cls, "ca", None):
            cls.ca.cleanup()


    def send(self, rcpt, subject, body="hello\n"):
        data = f"Subject: {subject}\nFrom: a@client.example\n\n{body}"
        submit_message(self.mta, "sender@client.example", [rcpt], data)

    def received(self, name, subject):
        peer = self.peers[name]
        return harness.wait_for(lambda: [m for m in peer.messages if f"Subject: {subject}".encode() in m["data"]],
                                timeout=30, what=f"{subject!r} at {name}")[0]

    def wait_log(self, pattern, timeout=30):
        rx = re.compile(pattern)
        return harness.wait_for(lambda: rx.search(self.mta.log_text()), timeout=timeout, what=pattern)

    def set_courierd(self, text):
        self.mta.write_config("courierd", text)
        self.addCleanup(lambda: os.path.exists(self.mta.path("etc", "courierd")) and
                        os.unlink(self.mta.path("etc", "courierd")))

    def test_opportunistic_starttls(self):
        self.send("u@tls.test", "opportunistic")
        self.assertTrue(self.received("tls", "opportunistic")["tls"])

    def test_verification_with_trusted_ca_and_matching_name(self):
        self.set_courierd(f"TLS_TRUSTCERTS={self.ca.ca_cert}\nTLS_VERIFYPEER=PEER\nESMTP_TLS_VERIFY_DOMAIN=1\n")
        self.send("v@tls.test", "verified")
        self.assertTrue(self.received("tls", "verified")["tls"])

    def test_verification_refuses_a_certificate_for_another_name(self):
        self.set_courierd(f"TLS_TRUSTCERTS={self.ca.ca_cert}\nTLS_VERIFYPEER=PEER\nESMTP_TLS_VERIFY_DOMAIN=1\n")
        self.send("u@wrongname.test", "wrongname")
        self.wait_log(r"rcpt=<u@wrongname\.test> module=esmtp .*status=defer .*text=451 4\.7\.5 certificate")
        self.assertEqual(self.peers["wrongname"].messages, [])

    def test_without_verification_any_certificate_will_do(self):
        self.send("w@wrongname.test", "noverify")
        self.assertTrue(self.received("wrongname", "noverify")["tls"])

    def test_required_tls_with_a_peer_without_starttls_defers(self):
        self.send("u@plain.test", "required")
        self.wait_log(r"rcpt=<u@plain\.test> module=esmtp .*status=defer .*text=451 4\.7\.4 .*does not offer STARTTLS")
        self.assertEqual(self.peers["plain"].messages, [])

    def test_failed_starttls_goes_to_the_penalty_box(self):
        self.send("u@broken.test", "penalty-1")
        got = self.received("broken", "penalty-1")   # same attempt, again without TLS
        self.assertFalse(got["tls"])
        self.wait_log(r"host=mx\.broken\.test ip=127\.0\.7\.4 starttls=failed")
        connected = r"outbound connected domain=broken\.test .*tls=no"
        harness.wait_for(lambda: re.search(connected + r"(.|\n)*outbound session closed domain=broken\.test", self.mta.log_text()),
                         timeout=30, what="the first session to end")
        self.send("v@broken.test", "penalty-2")
        self.assertFalse(self.received("broken", "penalty-2")["tls"])
        # A new session, and it did not try STARTTLS again: the address is remembered.
        self.assertEqual(len(re.findall(connected, self.mta.log_text())), 2)
        self.assertEqual(len(re.findall(r"host=mx\.broken\.test ip=\S+ starttls=failed", self.mta.log_text())), 1)

    def test_smtps(self):
        self.send("u@smtps.test", "smtps")
        self.assertTrue(self.received("smtps", "smtps")["tls"])

    def test_auth_client_after_starttls(self):
        self.send("u@auth.test", "auth")
        got = self.received("auth", "auth")
        self.assertTrue(got["tls"])
        self.assertEqual(got["auth"], "relayuser")
        self.assertEqual(self.peers["auth"].auth_mechanisms, ["CRAM-MD5"])   # preferred over PLAIN

    def test_eight_bit_message_to_a_seven_bit_peer_is_converted(self):
        self.send("u@sevenbit.test", "eightbit", body="caf\u00e9\n")
        got = self.received("sevenbit", "eightbit")
        self.assertIn(b"Content-Transfer-Encoding: quoted-printable\r\n", got["data"])
        self.assertIn(b"\r\ncaf=C3=A9\r\n", got["data"])
        self.assertFalse(any(b > 127 for b in got["data"]))
        self.assertNotIn("BODY=8BITMIME", got["mail_options"])

    def test_eight_bit_header_to_a_seven_bit_peer_fails(self):
        data = "Subject: caf\u00e9\nFrom: a@client.example\n\nhello\n"
        submit_message(self.mta, "sender@client.example", ["v@sevenbit.test"], data)
        self.wait_log(r"rcpt=<v@sevenbit\.test> module=esmtp .*status=fail .*text=554 5\.6\.3")


if __name__ == "__main__":
    harness.main()
