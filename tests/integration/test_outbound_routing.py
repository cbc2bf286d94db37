"""courieresmtp (issue 6): outbound routing against real DNS (dnsmasq) and real SMTP
peers (aiosmtpd) on 127.0.6.x: MX order and fallback, null MX, esmtproutes forms and
the smarthost, esmtpdelay, ipout and per-vhost ipout, per-recipient results,
connection reuse, testmxlookup."""

import os
import re
import smtplib
import subprocess
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
import harness  # noqa: E402
from dnsmasq import DnsServer  # noqa: E402
from smtp_peer import RawPeer, SmtpPeer, submit_message  # noqa: E402

NET = "127.0.6."
RECORDS = dict(
    mx=[("best.test", "mx1.best.test", 10), ("best.test", "mx2.best.test", 20),
        ("fallback.test", "down.fallback.test", 10), ("fallback.test", "up.fallback.test", 20),
        ("null.test", ".", 0), ("relay.test", "mx.relay.test", 5), ("down.test", "mx.down.test", 10)],
    a=[("mx1.best.test", NET + "2"), ("mx2.best.test", NET + "3"),
       ("down.fallback.test", NET + "9"), ("up.fallback.test", NET + "3"),
       ("mx.relay.test", NET + "5"), ("mx.down.test", NET + "11"), ("implicit.test", NET + "2"),
       ("small.test", NET + "6"), ("helo.test", NET + "6"), ("helostar.test", NET + "6"),
       ("raw.test", NET + "7")],
    ptr=[("40.6.0.127.in-addr.arpa", "ptr-name.test")])


def message(subject, body="hello\n.leading dot\n"):
    return f"Subject: {subject}\r\nFrom: a@client.example\r\n\r\n{body}".replace("\n", "\r\n").replace("\r\r", "\r")


class OutboundRoutingTest(harness.InstanceTestCase):
    # Only courierd: mail enters through submit, so the test does not depend on
    # the receiving side.
    start_esmtpd = False

    @classmethod
    def configure(cls, mta):
        cls.dns = DnsServer(**RECORDS).start()
        cls.peers = {}
        try:
            for n in (2, 3, 5):
                cls.peers[n] = SmtpPeer(NET + str(n), 25).start()
            cls.peers["routed"] = SmtpPeer(NET + "4", 2526).start()
            cls.peers["small"] = SmtpPeer(NET + "6", 25, size_limit=1000, smtputf8=False).start()
            cls.peers["raw"] = RawPeer(NET + "7", 25).start()
        except BaseException:
            cls.release()
            raise
        mta.write_config("dnsserver", f"127.0.0.1@{cls.dns.port}\n")
        mta.write_config("esmtpdelay", "0\n")

    @classmethod
    def release(cls):
        for p in getattr(cls, "peers", {}).values():
            p.stop()
        if getattr(cls, "dns", None):
            cls.dns.stop()


    def send(self, rcpts, subject, local_ip=None):
        submit_message(self.mta, "sender@client.example", rcpts, message(subject), local_ip=local_ip)

    def received(self, peer, subject, timeout=30):
        def find():
            return [m for m in peer.messages if ("Subject: " + subject).encode() in m["data"]]
        return harness.wait_for(find, timeout=timeout, what=f"{subject!r} at {peer.host}:{peer.port}")

    def wait_log(self, pattern, timeout=30):
        rx = re.compile(pattern)
        return harness.wait_for(lambda: rx.search(self.mta.log_text()), timeout=timeout, what=pattern)

    def test_best_mx_gets_the_mail_with_crlf_and_dots(self):
        self.send(["u@best.test"], "best-mx")
        got = self.received(self.peers[2], "best-mx")
        self.assertEqual(got[0]["rcpts"], ["u@best.test"])
        self.assertEqual(got[0]["sender"], "sender@client.example")
        self.assertIn(b"\r\n.leading dot\r\n", got[0]["data"])   # dot-stuffing undone by the peer
        self.assertFalse(any(b"best-mx" in m["data"] for m in self.peers[3].messages))

    def test_fallback_when_best_mx_is_down(self):
        self.send(["u@fallback.test"], "fallback")
        got = self.received(self.peers[3], "fallback")
        self.assertEqual(got[0]["rcpts"], ["u@fallback.test"])
        self.assertRegex(self.mta.log_text(), r"down\.fallback\.test .*cannot connect")

    def test_implicit_mx(self):
        self.send(["u@implicit.test"], "implicit")
        self.received(self.peers[2], "implicit")

    def test_null_mx_fails_at_once(self):
        self.send(["u@null.test"], "nullmx")
        self.wait_log(r"rcpt=<u@null\.test> module=esmtp .*status=fail .*text=556 5\.1\.10")

    def test_per_recipient_results(self):
        self.peers[2].rcpt_replies["bad@best.test"] = "550 5.1.1 no such user here"
        self.send(["good@best.test", "bad@best.test"], "per-rcpt")
        got = self.received(self.peers[2], "per-rcpt")
        self.assertEqual(got[0]["rcpts"], ["good@best.test"])
        self.wait_log(r"rcpt=<bad@best\.test> module=esmtp .*status=fail .*text=550 5\.1\.1 no such user here")
        self.wait_log(r"rcpt=<good@best\.test> module=esmtp .*status=ok")

    def test_connection_reused_for_the_next_message(self):
        self.send(["r1@best.test"], "reuse-1")
        first = self.received(self.peers[2], "reuse-1")[0]
        self.send(["r2@best.test"], "reuse-2")
        second = self.received(self.peers[2], "reuse-2")[0]
        self.assertEqual(first["client_port"], second["client_port"])   # same TCP connection

    def test_esmtproutes_forms_and_smarthost(self):
        routes = self.mta.path("etc", "esmtproutes")
        try:
            with open(routes, "w") as f:
                f.write("# routes\nliteral.test: [127.0.6.4],2526\n.sub.test: relay.test\nimplicit.test:\n")
            self.send(["u@literal.test"], "route-literal")
            self.received(self.peers["routed"], "route-literal")
            self.send(["u@a.sub.test"], "route-byname")     # relay.test's MX is 127.0.6.5
            self.received(self.peers[5], "route-byname")
            self.send(["u@implicit.test"], "route-dns")      # empty relay: DNS as usual
            self.received(self.peers[2], "route-dns")
            with open(routes, "w") as f:                     # changed without a restart
                f.write("implicit.test:\n:[127.0.6.4],2526\n")
            # (a domain without an open session: established connections keep their route)
            self.send(["u@nowhere-in-dns.test"], "smarthost")
            self.received(self.peers["routed"], "smarthost")
            out = self.mta.run("bin/testmxlookup", "anything.test", check=False)
            self.assertIn("Address: 127.0.6.4, Port: 2526", out.stdout)
        finally:
            os.unlink(routes)

    def test_testmxlookup_shows_mx_order(self):
        out = self.mta.run("bin/testmxlookup", "best.test")
        lines = [line for line in out.stdout.splitlines() if line.startswith("Relay:")]
        self.assertEqual(lines, ["Relay: mx1.best.test, Priority: 10, Address: 127.0.6.2",
                                 "Relay: mx2.best.test, Priority: 20, Address: 127.0.6.3"])
        out = self.mta.run("bin/testmxlookup", "null.test", check=False)
        self.assertIn("null MX", out.stdout)
        self.assertNotEqual(out.returncode, 0)

    def test_ipout_and_vhost_ipout(self):
        etc = self.mta.path("etc")
        try:
            self.mta.write_config("ipout", NET + "20\n")
            self.send(["u@best.test"], "ipout-global")
            self.assertEqual(self.received(self.peers[2], "ipout-global")[0]["client"], NET + "20")
            # A message received on 127.0.0.1 with vhost.127.0.0.1: ipout.127.0.0.1 wins;
            # left empty, it means "the same address".
            self.mta.write_config("vhost.127.0.0.1", "")
            self.mta.write_config("ipout.127.0.0.1", NET + "21\n")
            self.send(["u@best.test"], "ipout-vhost", local_ip="127.0.0.1")
            self.assertEqual(self.received(self.peers[2], "ipout-vhost")[0]["client"], NET + "21")
            self.mta.write_config("ipout.127.0.0.1", "")
            self.send(["u@best.test"], "ipout-same", local_ip="127.0.0.1")
            self.assertEqual(self.received(self.peers[2], "ipout-same")[0]["client"], "127.0.0.1")
        finally:
            for f in ("ipout", "vhost.127.0.0.1", "ipout.127.0.0.1"):
                if os.path.exists(os.path.join(etc, f)):
                    os.unlink(os.path.join(etc, f))

    def test_message_larger_than_the_peer_size_limit_is_not_sent(self):
        submit_message(self.mta, "sender@client.example", ["u@small.test"],
                       message("too-big", "x" * 2000 + "\n"))
        self.wait_log(r"rcpt=<u@small\.test> module=esmtp .*status=fail .*text=552 5\.3\.4")
        self.assertFalse([m for m in self.peers["small"].messages if b"too-big" in m["data"]])

    def test_esmtphelo(self):
        self.mta.write_config("esmtphelo", "helo-name.example\n")
        try:
            self.send(["u@helo.test"], "helo")
            self.assertEqual(self.received(self.peers["small"], "helo")[0]["helo"], "helo-name.example")
        finally:
            os.unlink(self.mta.path("etc", "esmtphelo"))

    def test_esmtphelo_star_uses_the_reverse_name_of_the_local_address(self):
        self.mta.write_config("esmtphelo", "*\n")
        self.mta.write_config("ipout", NET + "40\n")
        try:
            self.send(["u@helostar.test"], "helostar")
            got = self.received(self.peers["small"], "helostar")[0]
            self.assertEqual((got["client"], got["helo"]), (NET + "40", "ptr-name.test"))
        finally:
            os.unlink(self.mta.path("etc", "esmtphelo"))
            os.unlink(self.mta.path("etc", "ipout"))

    def test_smtputf8_message_to_a_peer_without_smtputf8_fails(self):
        submit_message(self.mta, "sender@client.example", ["utf@small.test"], message("utf8"),
                       mail_params="SMTPUTF8=1")
        self.wait_log(r"rcpt=<utf@small\.test> module=esmtp .*status=fail .*text=553 5\.6\.7")

    def test_chunking_and_dsn_parameters(self):
        submit_message(self.mta, "sender@client.example", ["dsn@raw.test"], message("chunked"),
                       mail_params="RET=HDRS ENVID=env+2B1",
                       rcpt_params={"dsn@raw.test": "NOTIFY=SUCCESS,FAILURE ORCPT=rfc822;o+2Bx@raw.test"})
        got = harness.wait_for(lambda: [m for m in self.peers["raw"].messages if b"chunked" in m["data"]],
                               timeout=30, what="the BDAT message")[0]
        self.assertRegex(got["commands"][0], r"^MAIL FROM:<sender@client\.example> RET=HDRS ENVID=env\+2B1$")   # no SIZE offered
        self.assertRegex(got["commands"][1], r"^RCPT TO:<dsn@raw\.test> NOTIFY=SUCCESS,FAILURE ORCPT=rfc822;o\+2Bx@raw\.test$")
        self.assertRegex(got["bdat"][-1], r"^BDAT \d+ LAST$")
        self.assertIn(b"\r\n.leading dot\r\n", got["data"])   # BDAT: CRLF, no dot-stuffing

    def test_esmtpdelay_postpones_then_delivers(self):
        self.mta.write_config("esmtpdelay", "3\n")
        try:
            self.send(["u@down.test"], "delay-1")
            self.wait_log(r"rcpt=<u@down\.test> module=esmtp .*status=defer .*text=451 4\.4\.1 cannot connect")
            self.send(["v@down.test"], "delay-2")
            self.wait_log(r"rcpt=<v@down\.test> module=esmtp .*status=defer .*text=451 4\.4\.1 no mail server of down\.test was reachable recently")
            with SmtpPeer(NET + "11", 25) as peer:
                time.sleep(3.5)   # let esmtpdelay run out
                self.mta.run("sbin/courier", "flush")
                harness.wait_for(lambda: len(peer.messages) >= 2, timeout=30, what="both delayed messages")
                self.assertEqual(sorted(r for m in peer.messages for r in m["rcpts"]), ["u@down.test", "v@down.test"])
        finally:
            self.mta.write_config("esmtpdelay", "0\n")


class RelayThroughSmtpTest(harness.InstanceTestCase):
    """The whole path: an SMTP client relays (RELAYCLIENT set, empty, in the esmtpd
    settings file) and courieresmtp delivers to the domain's MX."""

    @classmethod
    def configure(cls, mta):
        cls.dns = DnsServer(mx=[("relayed.test", "mx.relayed.test", 10)], a=[("mx.relayed.test", NET + "30")]).start()
        cls.peer = SmtpPeer(NET + "30", 25).start()
        mta.write_config("dnsserver", f"127.0.0.1@{cls.dns.port}\n")
        with open(mta.path("etc", "esmtpd"), "a") as f:
            f.write("RELAYCLIENT=\n")


    @classmethod
    def release(cls):
        if getattr(cls, "peer", None):
            cls.peer.stop()
        if getattr(cls, "dns", None):
            cls.dns.stop()


    def test_relayed_message_reaches_the_mx(self):
        with self.mta.smtp() as s:
            s.sendmail("a@client.example", ["u@relayed.test"], message("relayed").encode())
        self.peer.wait_messages(1)
        got = self.peer.messages[0]
        self.assertEqual((got["sender"], got["rcpts"]), ("a@client.example", ["u@relayed.test"]))
        self.assertIn(b"Subject: relayed", got["data"])


if __name__ == "__main__":
    harness.main()
