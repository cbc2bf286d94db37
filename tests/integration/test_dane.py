"""courieresmtp DANE (RFC 7672): a real DNSSEC-signed zone (ldns-signzone, served by nsd,
validated by the MTA's libunbound through a trust anchor the test writes) and real TLS
peers on 127.0.8.x. A matching TLSA record delivers over TLS; a non-matching one, or a
peer that does not offer STARTTLS, defers and nothing is sent in clear; an unsigned
domain still gets opportunistic TLS; /SECURITY=DANE defers an unsigned domain."""

import os
import re
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
import harness  # noqa: E402
from dnssec_zone import DnssecZones, cert_sha256, spki_sha256  # noqa: E402
from smtp_peer import SmtpPeer, TestCA, submit_message  # noqa: E402

NET = "127.0.8."
BOGUS_HEX = "ab" * 32


class DaneTest(harness.InstanceTestCase):
    start_esmtpd = False

    @classmethod
    def configure(cls, mta):
        cls.ca = TestCA()
        cls.peers = {}
        good = cls.ca.server_cert("mx.good.dane.test")
        bad = cls.ca.server_cert("mx.bad.dane.test")
        other = cls.ca.server_cert("unrelated.example")
        ta = cls.ca.server_cert("mx.ta.dane.test")
        # DANE-TA: the server must send the trust anchor in its chain (RFC 7671 5.2.2).
        ta_chain = os.path.join(cls.ca.dir, "mx.ta.chain.pem")
        with open(ta_chain, "w") as f:
            f.write(open(ta[0]).read() + open(cls.ca.ca_cert).read())
        # DANE-TA with a chain for another name: the names are checked (RFC 7672 3.2.3).
        ta_other_chain = os.path.join(cls.ca.dir, "unrelated.chain.pem")
        with open(ta_other_chain, "w") as f:
            f.write(open(other[0]).read() + open(cls.ca.ca_cert).read())
        plain = cls.ca.server_cert("mx.plain.test")
        signed = [
            "good MX 10 mx.good", "mx.good A 127.0.8.2",
            f"_25._tcp.mx.good TLSA 3 1 1 {spki_sha256(good[0])}",
            "bad MX 10 mx.bad", "mx.bad A 127.0.8.3",
            f"_25._tcp.mx.bad TLSA 3 1 1 {spki_sha256(other[0])}",
            "stripped MX 10 mx.stripped", "mx.stripped A 127.0.8.4",
            f"_25._tcp.mx.stripped TLSA 3 1 1 {spki_sha256(good[0])}",
            "ta MX 10 mx.ta", "mx.ta A 127.0.8.5",
            f"_25._tcp.mx.ta TLSA 2 0 1 {cert_sha256(cls.ca.ca_cert)}",
            "notlsa MX 10 mx.notlsa", "mx.notlsa A 127.0.8.7",
            "taname MX 10 mx.taname", "mx.taname A 127.0.8.9",
            f"_25._tcp.mx.taname TLSA 2 0 1 {cert_sha256(cls.ca.ca_cert)}",
            "bogus MX 10 mx.bogus", "mx.bogus A 127.0.8.8",
            f"_25._tcp.mx.bogus TLSA 3 1 1 {BOGUS_HEX}",
        ]
        unsigned = ["@ MX 10 mx", "mx A 127.0.8.6", "req MX 10 mx"]
        # The bogus TLSA record is changed after signing: its signature fails validation.
        cls.zones = DnssecZones(signed={"dane.test": signed}, unsigned={"plain.test": unsigned},
                                tamper={"dane.test": [(BOGUS_HEX, "cd" * 32)]}).start()
        cls.peers["good"] = SmtpPeer(NET + "2", 25, starttls=good).start()
        cls.peers["bad"] = SmtpPeer(NET + "3", 25, starttls=bad).start()
        cls.peers["stripped"] = SmtpPeer(NET + "4", 25).start()   # no STARTTLS offered
        cls.peers["ta"] = SmtpPeer(NET + "5", 25, starttls=(ta_chain, ta[1])).start()
        cls.peers["plain"] = SmtpPeer(NET + "6", 25, starttls=plain).start()
        cls.peers["notlsa"] = SmtpPeer(NET + "7", 25).start()
        cls.peers["bogus"] = SmtpPeer(NET + "8", 25).start()   # would take mail in clear
        cls.peers["taname"] = SmtpPeer(NET + "9", 25, starttls=(ta_other_chain, other[1])).start()
        mta.write_config("dnsserver", f"127.0.0.1@{cls.zones.port}\n")
        mta.write_config("dnssectrustanchor", cls.zones.trust_anchor + "\n")
        mta.write_config("esmtpdelay", "0\n")
        mta.write_config("esmtptimeoutkeepalive", "1\n")
        mta.write_config("esmtproutes", "req.plain.test: /SECURITY=DANE\n")

    @classmethod
    def release(cls):
        for p in getattr(cls, "peers", {}).values():
            p.stop()
        if getattr(cls, "zones", None):
            cls.zones.stop()
        if getattr(cls, "ca", None):
            cls.ca.cleanup()

    def send(self, rcpt, subject):
        data = f"Subject: {subject}\nFrom: a@client.example\n\nhello\n"
        submit_message(self.mta, "sender@client.example", [rcpt], data)

    def received(self, name, subject):
        peer = self.peers[name]
        return harness.wait_for(lambda: [m for m in peer.messages if f"Subject: {subject}".encode() in m["data"]],
                                timeout=30, what=f"{subject!r} at {name}")[0]

    def wait_log(self, pattern, timeout=30):
        rx = re.compile(pattern)
        try:
            return harness.wait_for(lambda: rx.search(self.mta.log_text()), timeout=timeout, what=pattern)
        except AssertionError as e:   # show what the MTA did instead
            raise AssertionError(f"{e}\nlog:\n" + "\n".join(self.mta.log_text().splitlines()[-25:])) from None

    def queued_for(self, rcpt):
        return [q for q in self.mta.queue_files() if rcpt.encode() in open(q, "rb").read()]

    def test_matching_dane_ee_record_delivers_over_tls(self):
        self.send("u@good.dane.test", "dane-good")
        self.assertTrue(self.received("good", "dane-good")["tls"])
        self.wait_log(r"outbound dane domain=good\.dane\.test host=mx\.good\.dane\.test "
                      r"tlsa=_25\._tcp\.mx\.good\.dane\.test outcome=1-records secure decision=authenticate")
        self.wait_log(r"outbound dane host=mx\.good\.dane\.test ip=127\.0\.8\.2 dane=verified usage=3")

    def test_non_matching_record_defers_and_sends_nothing(self):
        self.send("u@bad.dane.test", "dane-bad")
        self.wait_log(r"rcpt=<u@bad\.dane\.test> module=esmtp .*status=defer .*text=451 4\.7\.5 DANE: "
                      r"certificate of mx\.bad\.dane\.test \[127\.0\.8\.3\] does not match its TLSA records")
        self.wait_log(r"outbound dane host=mx\.bad\.dane\.test ip=127\.0\.8\.3 dane=failed")
        self.assertEqual(self.peers["bad"].messages, [])
        self.assertTrue(self.queued_for("u@bad.dane.test"))

    def test_stripped_starttls_defers_instead_of_sending_in_clear(self):
        self.send("u@stripped.dane.test", "dane-stripped")
        self.wait_log(r"rcpt=<u@stripped\.dane\.test> module=esmtp .*status=defer .*text=451 4\.7\.4 "
                      r"mx\.stripped\.dane\.test \[127\.0\.8\.4\] does not offer STARTTLS.*\(DANE: ")
        self.assertEqual(self.peers["stripped"].messages, [])
        self.assertTrue(self.queued_for("u@stripped.dane.test"))

    def test_dane_ta_record_with_the_mx_name_delivers(self):
        self.send("u@ta.dane.test", "dane-ta")
        self.assertTrue(self.received("ta", "dane-ta")["tls"])
        self.wait_log(r"outbound dane host=mx\.ta\.dane\.test ip=127\.0\.8\.5 dane=verified usage=2")

    def test_dane_ta_chain_for_another_name_defers(self):
        self.send("u@taname.dane.test", "dane-taname")
        self.wait_log(r"rcpt=<u@taname\.dane\.test> module=esmtp .*status=defer .*text=451 4\.7\.5 DANE: "
                      r"certificate of mx\.taname\.dane\.test \[127\.0\.8\.9\] does not match its TLSA records: "
                      r"hostname mismatch")
        self.assertEqual(self.peers["taname"].messages, [])

    def test_signed_domain_without_tlsa_stays_opportunistic(self):
        self.send("u@notlsa.dane.test", "dane-notlsa")
        self.assertFalse(self.received("notlsa", "dane-notlsa")["tls"])   # the peer has no TLS: plaintext allowed
        self.wait_log(r"outbound dane domain=notlsa\.dane\.test host=mx\.notlsa\.dane\.test .*outcome=nxdomain secure "
                      r"decision=none")

    def test_unsigned_domain_gets_opportunistic_tls(self):
        self.send("u@plain.test", "plain-opportunistic")
        self.assertTrue(self.received("plain", "plain-opportunistic")["tls"])
        self.wait_log(r"outbound dane domain=plain\.test host=mx\.plain\.test tlsa=_25\._tcp\.mx\.plain\.test "
                      r"outcome=not-looked-up insecure decision=none reason=MX or address records not DNSSEC-signed")

    def test_security_dane_defers_an_unsigned_domain(self):
        self.send("u@req.plain.test", "dane-required")
        self.wait_log(r"rcpt=<u@req\.plain\.test> module=esmtp .*status=defer .*text=451 4\.7\.5 DANE: "
                      r"MX or address records not DNSSEC-signed for mx\.plain\.test")
        self.assertFalse([m for m in self.peers["plain"].messages if b"dane-required" in m["data"]])

    def test_bogus_tlsa_answer_defers_without_contacting_the_host(self):
        self.send("u@bogus.dane.test", "dane-bogus")
        self.wait_log(r"outbound dane domain=bogus\.dane\.test host=mx\.bogus\.dane\.test .*outcome=tempfail "
                      r"insecure decision=defer reason=TLSA lookup failed: DNSSEC validation failed")
        self.wait_log(r"rcpt=<u@bogus\.dane\.test> module=esmtp .*status=defer .*text=451 4\.7\.5 DANE: "
                      r"TLSA lookup failed")
        self.assertEqual(self.peers["bogus"].messages, [])

    def test_testmxlookup_shows_the_tlsa_status(self):
        out = self.mta.run("bin/testmxlookup", "good.dane.test").stdout
        self.assertIn("Relay: mx.good.dane.test, Priority: 10, Address: 127.0.8.2, DNSSEC: secure\n", out)
        self.assertIn("TLSA _25._tcp.mx.good.dane.test: 1 record(s), secure, DANE: authenticate", out)
        out = self.mta.run("bin/testmxlookup", "plain.test").stdout
        self.assertIn("Address: 127.0.8.6\n", out)
        self.assertNotIn("TLSA", out)


if __name__ == "__main__":
    harness.main()
