"""courieresmtp (issue 6) over IPv6, loopback only: AAAA records from dnsmasq, delivery
to a peer on ::1, ip6out and the per-vhost ip6out.<address>, the reverse zone of ::1.

::1 is this host's only IPv6 address, so two tools stand in for more of them:
- a peer on [::1] reached through an esmtproutes literal (an MX pointing at ::1 is
  this host itself, RFC 5321 5.1: that case is tested as a mail loop);
- AAAA records holding IPv4-mapped addresses (::ffff:127.0.11.x): courieresmtp
  connects with an AF_INET6 socket bound to ip6out, and the peer, listening on the
  IPv4 loopback, sees which source address ip6out chose."""

import os
import re
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
import harness  # noqa: E402
from dnsmasq import DnsServer  # noqa: E402
from smtp_peer import RawPeer, SmtpPeer, submit_message  # noqa: E402

NET = "127.0.11."
V6_NIBBLES = ".".join("0" * 31 + "1")[::-1] + ".ip6.arpa"   # ::1 reversed


def message(subject):
    return f"Subject: {subject}\r\nFrom: a@client.example\r\n\r\nhello\r\n"


class OutboundIpv6Test(harness.InstanceTestCase):
    # Only courierd: mail enters through submit, so the test does not depend on
    # the receiving side.
    start_esmtpd = False

    @classmethod
    def configure(cls, mta):
        cls.peers = {}
        cls.dns = DnsServer(
            mx=[("mapped.test", "mx.mapped.test", 10), ("four.test", "mx.four.test", 10),
                ("self6.test", "mx.self6.test", 10)],
            aaaa=[("mx.mapped.test", "::ffff:" + NET + "2"), ("mx.self6.test", "::1")],
            a=[("mx.four.test", NET + "3")],
            ptr=[(V6_NIBBLES, "six-name.test"), ("1.0.0.127.in-addr.arpa", "one-name.test")]).start()
        try:
            cls.peers["mapped"] = RawPeer(NET + "2", 25).start()
            cls.peers["four"] = SmtpPeer(NET + "3", 25).start()
            cls.peers["six"] = RawPeer("::1", 0).start()
        except BaseException:
            cls.release()
            raise
        six_port = cls.peers["six"].port
        mta.write_config("dnsserver", f"127.0.0.1@{cls.dns.port}\n")
        mta.write_config("esmtpdelay", "0\n")
        mta.write_config("esmtptimeoutkeepalive", "1\n")   # no session outlives a test
        mta.write_config("esmtproutes", f"six.test: [::1],{six_port}\n")

    @classmethod
    def release(cls):
        for p in getattr(cls, "peers", {}).values():
            p.stop()
        if getattr(cls, "dns", None):
            cls.dns.stop()


    def tearDown(self):
        etc = self.mta.path("etc")
        for f in ("ipout", "ip6out", "vhost.127.0.0.1", "ip6out.127.0.0.1", "esmtphelo"):
            if os.path.exists(os.path.join(etc, f)):
                os.unlink(os.path.join(etc, f))

    def send(self, rcpt, subject, local_ip=None):
        submit_message(self.mta, "sender@client.example", [rcpt], message(subject), local_ip=local_ip)

    def received(self, peer, subject):
        key = ("Subject: " + subject).encode()
        return harness.wait_for(lambda: [m for m in peer.messages if key in m["data"]], timeout=30,
                                what=f"{subject!r} at {peer.host}")[0]

    def wait_log(self, pattern):
        rx = re.compile(pattern)
        return harness.wait_for(lambda: rx.search(self.mta.log_text()), timeout=30, what=pattern)

    def test_aaaa_record_is_used(self):
        out = self.mta.run("bin/testmxlookup", "mapped.test")
        self.assertIn("Relay: mx.mapped.test, Priority: 10, Address: ::ffff:" + NET + "2", out.stdout)
        self.send("u@mapped.test", "aaaa")   # mx.mapped.test has no A record
        self.assertEqual(self.received(self.peers["mapped"], "aaaa")["commands"][1], "RCPT TO:<u@mapped.test>")

    def test_delivery_over_ipv6_to_a_peer_on_the_ipv6_loopback(self):
        self.send("u@six.test", "over-ipv6")
        got = self.received(self.peers["six"], "over-ipv6")
        self.assertEqual(got["client"], "::1")
        self.assertEqual(got["commands"][1], "RCPT TO:<u@six.test>")

    def test_mx_pointing_at_our_own_ipv6_address_is_a_loop(self):
        self.send("u@self6.test", "self6")
        self.wait_log(r"rcpt=<u@self6\.test> module=esmtp .*status=fail .*text=554 5\.4\.6 .*loops back")

    def test_ip6out_for_ipv6_and_ipout_for_ipv4(self):
        # Both set: each family uses its own (ipout, an IPv4 address, could not be
        # bound to an IPv6 socket at all).
        self.mta.write_config("ipout", NET + "20\n")
        self.mta.write_config("ip6out", "::1\n")
        self.send("u@six.test", "ip6out-six")
        self.assertEqual(self.received(self.peers["six"], "ip6out-six")["client"], "::1")
        self.send("u@four.test", "ip6out-four")
        self.assertEqual(self.received(self.peers["four"], "ip6out-four")["client"], NET + "20")
        # ip6out chooses the source of an IPv6 connection.
        self.mta.write_config("ip6out", "::ffff:" + NET + "21\n")
        self.send("u@mapped.test", "ip6out-mapped")
        self.assertEqual(self.received(self.peers["mapped"], "ip6out-mapped")["client"], NET + "21")

    def test_ip6out_of_the_vhost(self):
        self.mta.write_config("ip6out", "::ffff:" + NET + "21\n")
        self.mta.write_config("vhost.127.0.0.1", "")
        self.mta.write_config("ip6out.127.0.0.1", "::ffff:" + NET + "22\n")
        self.send("u@mapped.test", "vhost6", local_ip="127.0.0.1")
        self.assertEqual(self.received(self.peers["mapped"], "vhost6")["client"], NET + "22")
        self.send("u@mapped.test", "novhost6", local_ip="127.0.0.2")   # no vhost: global ip6out
        self.assertEqual(self.received(self.peers["mapped"], "novhost6")["client"], NET + "21")

    def test_esmtphelo_star_over_ipv6_uses_the_reverse_zone_of_the_ipv6_loopback(self):
        # The PTR of ::1 comes from dnsmasq, not from the resolver's built-in zones.
        self.mta.write_config("esmtphelo", "*\n")
        self.send("u@six.test", "helo6")
        got = self.received(self.peers["six"], "helo6")
        self.assertEqual((got["client"], got["helo"]), ("::1", "EHLO six-name.test"))

    def test_esmtphelo_star_with_the_reverse_name_of_127_0_0_1_from_the_dns_server(self):
        # unbound has built-in answers for 1.0.0.127.in-addr.arpa (localhost): with a
        # configured server, the server's answer counts (lib/dns).
        self.mta.write_config("esmtphelo", "*\n")
        self.mta.write_config("ipout", "127.0.0.1\n")
        self.send("u@four.test", "helo-one")
        got = self.received(self.peers["four"], "helo-one")
        self.assertEqual((got["client"], got["helo"]), ("127.0.0.1", "one-name.test"))


if __name__ == "__main__":
    harness.main()
