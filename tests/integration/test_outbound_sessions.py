"""courieresmtp (issue 6) sessions against hand-written peers on 127.0.10.x: HELO when
the peer refuses EHLO, at most four simultaneous sessions per domain under load (and
esmtpmaxsessions), esmtptimeoutkeepaliveping, and ipout.<address> chosen through the
vhost of a message received by SMTP on 127.0.0.1."""

import os
import re
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
import harness  # noqa: E402
from dnsmasq import DnsServer  # noqa: E402
from smtp_peer import RawPeer, SmtpPeer, submit_message  # noqa: E402

NET = "127.0.10."
HOSTS = {"helo": 2, "slow": 3, "slow2": 4, "ping": 5, "vhost": 6}


def message(subject):
    return f"Subject: {subject}\r\nFrom: a@client.example\r\n\r\nhello\r\n"


class OutboundSessionsTest(harness.InstanceTestCase):
    @classmethod
    def configure(cls, mta):
        cls.peers = {}
        cls.dns = DnsServer(mx=[(f"{n}.test", f"mx.{n}.test", 10) for n in HOSTS],
                            a=[(f"mx.{n}.test", NET + str(i)) for n, i in HOSTS.items()]).start()
        try:
            cls.peers["helo"] = RawPeer(NET + "2", 25, ehlo_reply="502 5.5.1 EHLO not implemented").start()
            cls.peers["slow"] = RawPeer(NET + "3", 25, data_delay=0.4).start()
            cls.peers["slow2"] = RawPeer(NET + "4", 25, data_delay=0.4).start()
            cls.peers["ping"] = RawPeer(NET + "5", 25).start()
            cls.peers["vhost"] = SmtpPeer(NET + "6", 25).start()
        except BaseException:
            cls.release()
            raise
        mta.write_config("dnsserver", f"127.0.0.1@{cls.dns.port}\n")
        mta.write_config("esmtpdelay", "0\n")
        with open(mta.path("etc", "esmtpd"), "a") as f:
            f.write("RELAYCLIENT=\n")


    @classmethod
    def release(cls):
        for p in getattr(cls, "peers", {}).values():
            p.stop()
        if getattr(cls, "dns", None):
            cls.dns.stop()


    def send(self, rcpt, subject):
        submit_message(self.mta, "sender@client.example", [rcpt], message(subject))

    def wait_log(self, pattern):
        rx = re.compile(pattern)
        return harness.wait_for(lambda: rx.search(self.mta.log_text()), timeout=30, what=pattern)

    def remove_config(self, *names):
        for n in names:
            p = self.mta.path("etc", n)
            if os.path.exists(p):
                os.unlink(p)

    def test_helo_when_the_peer_refuses_ehlo(self):
        peer = self.peers["helo"]
        self.send("u@helo.test", "helo-fallback")
        harness.wait_for(lambda: peer.messages, timeout=30, what="the message at the HELO-only peer")
        got = peer.messages[0]
        self.assertTrue(got["helo"].startswith("HELO "), got)
        self.assertEqual(got["commands"], ["MAIL FROM:<sender@client.example>", "RCPT TO:<u@helo.test>"])
        self.assertIn(b"Subject: helo-fallback", got["data"])
        self.assertFalse(got["bdat"])   # no extensions after HELO: DATA, not BDAT
        self.wait_log(r"rcpt=<u@helo\.test> module=esmtp .*status=ok")

    def load(self, domain, peer, n=20):
        for i in range(n):
            self.send(f"u{i}@{domain}", f"load-{i}")
        harness.wait_for(lambda: len(peer.messages) >= n, timeout=60, what=f"{n} messages at {domain}")
        self.assertEqual(sorted(r for m in peer.messages for r in m["commands"] if r.startswith("RCPT")),
                         sorted(f"RCPT TO:<u{i}@{domain}>" for i in range(n)))

    def test_at_most_four_sessions_per_domain(self):
        peer = self.peers["slow"]
        self.load("slow.test", peer)
        self.assertLessEqual(peer.max_active, 4)
        self.assertGreaterEqual(peer.max_active, 2)   # the load really was concurrent

    def test_esmtpmaxsessions(self):
        self.mta.write_config("esmtpmaxsessions", "1\n")
        try:
            peer = self.peers["slow2"]
            self.load("slow2.test", peer, n=8)
            self.assertEqual(peer.max_active, 1)
            self.assertEqual(len(peer.sessions), 1)   # one session, reused for all of them
        finally:
            self.remove_config("esmtpmaxsessions")

    def test_keepalive_ping_on_an_idle_session(self):
        self.mta.write_config("esmtptimeoutkeepalive", "5\n")
        self.mta.write_config("esmtptimeoutkeepaliveping", "1\n")
        try:
            peer = self.peers["ping"]
            self.send("u@ping.test", "ping")
            harness.wait_for(lambda: peer.messages, timeout=30, what="the message")
            done = len(peer.sessions[0]["commands"])   # the transaction's commands

            def pinged():
                return "RSET" in [c.upper() for c in peer.sessions[0]["commands"][done:]]
            harness.wait_for(pinged, timeout=15, what="RSET on the idle session")
            harness.wait_for(lambda: peer.active == 0, timeout=30, what="the session to end")
            self.assertEqual(peer.sessions[0]["commands"][-1].upper(), "QUIT")
        finally:
            self.remove_config("esmtptimeoutkeepalive", "esmtptimeoutkeepaliveping")

    def test_ipout_of_the_vhost_of_a_message_received_by_smtp(self):
        self.mta.write_config("vhost.127.0.0.1", "")
        self.mta.write_config("ipout.127.0.0.1", NET + "30\n")
        try:
            with self.mta.smtp() as s:   # esmtpd listens on 127.0.0.1
                s.sendmail("a@client.example", ["u@vhost.test"], message("vhost-smtp").encode())
            peer = self.peers["vhost"]
            peer.wait_messages(1)
            self.assertEqual((peer.messages[0]["client"], peer.messages[0]["rcpts"]), (NET + "30", ["u@vhost.test"]))
        finally:
            self.remove_config("vhost.127.0.0.1", "ipout.127.0.0.1")


if __name__ == "__main__":
    harness.main()
