"""couriertcpd's DNS features against a real dnsmasq on a loopback port
(couriertcpd(1) "DNS ACCESS LISTS", TCPREMOTEHOST/TCPLOCALHOST, -nodnslookup, -drop):
the environment the program gets for clients listed or not, several lists and their
order, every query type, IPv6 nibble queries, and DNS servers that never answer."""

import os
import socket
import sys
import threading
import time
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
import harness  # noqa: E402
from dnsmasq import DnsServer  # noqa: E402
from haproxy_support import ENV_PROGRAM, Tcpd, client, environment  # noqa: E402

V6_NIBBLES = ".".join("0" * 31 + "1")[::-1]   # ::1 reversed: 1.0.0. ... .0

RECORDS = dict(
    a=[
        ("30.0.0.127.wl.example", "127.0.0.2"), ("30.0.0.127.bl.example", "127.0.0.2"),
        ("31.0.0.127.bl.example", "127.0.0.2"), ("32.0.0.127.bl.example", "127.0.0.4"),
        ("33.0.0.127.bl2.example", "127.0.0.2"),
        (V6_NIBBLES + ".bl.example", "127.0.0.2"),
        ("host20.example", "11.22.33.20"), ("liar.example", "11.22.33.99"), ("me.example", "11.22.33.1"),
    ],
    txt=[
        ("31.0.0.127.bl.example", "Listed: see http://bl.example/31"),
        ("32.0.0.127.bl.example", "Listed with code 4"),
        ("34.0.0.127.txtonly.example", "TXT only listing"),
        ("30.0.0.127.wl.example", "whitelisted"),
    ],
    ptr=[
        ("20.33.22.11.in-addr.arpa", "host20.example"),
        ("21.33.22.11.in-addr.arpa", "liar.example"),
        ("1.33.22.11.in-addr.arpa", "me.example"),
    ],
)


class DnsTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.dns = DnsServer(**RECORDS).start()
        try:
            cls.mta = harness.Instance()
        except BaseException:
            cls.dns.stop()
            raise
        cls.env = {"COURIER_DNS_SERVER": f"127.0.0.1@{cls.dns.port}"}

    @classmethod
    def tearDownClass(cls):
        cls.mta.stop()
        cls.dns.stop()

    def tcpd(self, options, env=None, **kw):
        return Tcpd(self.mta, options, ENV_PROGRAM, env=env or self.env, **kw)

    # Reverse DNS of loopback addresses is answered by the resolver library itself
    # (127.in-addr.arpa is one of its local zones), so these clients present other
    # addresses in a PROXY header. No packet is ever sent to them: only their reverse
    # names are asked of the test server.
    def test_reverse_dns_with_forward_confirmation(self):
        with self.tcpd(["-haproxy"]) as t:
            env = environment(client(t.port, send=proxied("11.22.33.20")))
            self.assertEqual(env["TCPREMOTEIP"], "11.22.33.20")
            self.assertEqual(env.get("TCPREMOTEHOST"), "host20.example")
            self.assertEqual(env.get("TCPLOCALHOST"), "me.example")
            env = environment(client(t.port, send=proxied("11.22.33.21")))
            self.assertEqual(env.get("TCPREMOTEHOST"), "softdnserr")   # forward lookup differs
            self.assertNotIn("TCPREMOTEHOST", environment(client(t.port, send=proxied("11.22.33.22"))))
        with self.tcpd(["-haproxy", "-nodnslookup"]) as t:
            env = environment(client(t.port, send=proxied("11.22.33.20")))
            self.assertEqual(env["TCPREMOTEIP"], "11.22.33.20")
            self.assertNotIn("TCPREMOTEHOST", env)
            self.assertNotIn("TCPLOCALHOST", env)

    def test_inherited_variables_are_not_trusted(self):
        env = dict(self.env, TCPREMOTEHOST="forged.example", TCPREMOTEINFO="forged")
        with self.tcpd(["-nodnslookup"], env=env) as t:
            got = environment(client(t.port, "127.0.0.22"))
            self.assertNotIn("TCPREMOTEHOST", got)
            self.assertNotIn("TCPREMOTEINFO", got)

    def test_block_sets_txt_or_default_message_and_extra_variables(self):
        with self.tcpd(["-nodnslookup", "-block=bl.example"]) as t:
            env = environment(client(t.port, "127.0.0.31"))
            self.assertEqual(env["BLOCK"], "Listed: see http://bl.example/31")
            self.assertEqual(env["BLOCK_TXT"], "Listed: see http://bl.example/31")
            self.assertEqual(env["BLOCK_IP"], "127.0.0.2")
            self.assertEqual(env["BLOCK_ZONE"], "bl.example")
            env = environment(client(t.port, "127.0.0.30"))   # A record, no TXT
            self.assertEqual(env["BLOCK"], "Access denied: 127.0.0.30 is listed by bl.example")
            self.assertNotIn("BLOCK_TXT", env)
            self.assertNotIn("BLOCK", environment(client(t.port, "127.0.0.40")))

    def test_allow_first_then_block_order_and_skip_if_set(self):
        opts = ["-nodnslookup", "-allow=wl.example=Trusted List", "-block=bl.example,BLOCK,Go away",
                "-block=bl2.example,BLOCK2,second list"]
        with self.tcpd(opts) as t:
            env = environment(client(t.port, "127.0.0.30"))   # in wl and bl
            self.assertEqual(env["BLOCK"], "")
            self.assertEqual(env["BLOCK_ZONE"], "Trusted List")
            self.assertNotIn("BLOCK_TXT", env)                  # -allow asks only for A
            env = environment(client(t.port, "127.0.0.31"))   # only in bl
            self.assertEqual(env["BLOCK"], "Go away")
            self.assertEqual(env["BLOCK_ZONE"], "bl.example")
            env = environment(client(t.port, "127.0.0.33"))   # a different variable
            self.assertNotIn("BLOCK", env)
            self.assertEqual(env["BLOCK2"], "second list")
            self.assertEqual(env["BLOCK2_ZONE"], "bl2.example")
        # Set by the access file: no list is consulted for that variable.
        self.mta.write_config("smtpaccess", "127.0.0.31\tallow,BLOCK\n")
        self.mta.run("sbin/makesmtpaccess")
        opts = ["-nodnslookup", "-access=" + self.mta.path("etc", "smtpaccess.dat"), "-block=bl.example"]
        with self.tcpd(opts) as t:
            env = environment(client(t.port, "127.0.0.31"))
            self.assertEqual(env["BLOCK"], "")
            self.assertNotIn("BLOCK_ZONE", env)

    def test_allow_with_txt_parameter(self):
        with self.tcpd(["-nodnslookup", "-allow=wl.example,WHITE,"]) as t:
            env = environment(client(t.port, "127.0.0.30"))
            self.assertEqual(env["WHITE"], "")
            self.assertEqual(env["WHITE_TXT"], "whitelisted")
            self.assertEqual(env["WHITE_IP"], "127.0.0.2")

    def test_a_record_match_and_txt_query(self):
        opts = ["-nodnslookup", "-block=bl.example,CODE2/127.0.0.2,code two",
                "-block=bl.example/127.0.0.4", "-block=txtonly.example,TXTVAR,*"]
        with self.tcpd(opts) as t:
            env = environment(client(t.port, "127.0.0.31"))
            self.assertEqual(env["CODE2"], "code two")
            self.assertNotIn("BLOCK", env)                       # 127.0.0.2, not .4
            env = environment(client(t.port, "127.0.0.32"))
            self.assertNotIn("CODE2", env)
            self.assertEqual(env["BLOCK"], "Listed with code 4")
            self.assertEqual(env["BLOCK_IP"], "127.0.0.4")
            env = environment(client(t.port, "127.0.0.34"))
            self.assertEqual(env["TXTVAR"], "TXT only listing")

    def test_ipv6_nibble_query(self):
        try:
            with socket.socket(socket.AF_INET6) as s:
                s.bind(("::1", 0))
        except OSError:
            self.skipTest("no IPv6 loopback")
        port = harness.free_port()
        with self.tcpd(["-nodnslookup", "-block=bl.example,BLOCK,v6 listed"],
                       ports=f"[::1].{port}", port=port) as t:
            env = environment(client(t.port, "::1", host="::1"))
            self.assertEqual(env["TCPREMOTEIP"], "::1")
            self.assertEqual(env["BLOCK"], "v6 listed")

    def test_drop(self):
        with self.tcpd(["-nodnslookup", "-block=bl.example", "-drop"]) as t:
            self.assertEqual(client(t.port, "127.0.0.31"), "")
            self.assertTrue(client(t.port, "127.0.0.40").startswith("hello"))
        with self.tcpd(["-nodnslookup", "-allow=wl.example", "-block=bl.example", "-drop=BLOCK"]) as t:
            self.assertTrue(client(t.port, "127.0.0.30").startswith("hello"))   # empty: kept
        with self.tcpd(["-nodnslookup", "-block=bl2.example,B2,x", "-drop=BLOCK,B2"]) as t:
            self.assertEqual(client(t.port, "127.0.0.33"), "")
        log = self.mta.log_text()
        self.assertIn("dropped ip=127.0.0.31 var=BLOCK", log)
        self.assertIn("dropped ip=127.0.0.33 var=B2 value=x", log)

    def test_dns_server_that_never_answers_or_answers_garbage(self):
        for garbage in (False, True):
            with FakeUdpServer(garbage) as bad:
                env = {"COURIER_DNS_SERVER": f"127.0.0.1@{bad.port}"}
                with self.tcpd(["-haproxy", "-dnstimeout=2", "-block=bl.example"], env=env) as t:
                    out = client(t.port, send=proxied("11.22.33.20"))
                    got = environment(out)
                    self.assertTrue(out.startswith("hello"), out)
                    self.assertEqual(got.get("TCPREMOTEHOST"), "softdnserr")
                    self.assertNotIn("BLOCK", got)
                    self.assertIsNone(t.proc.poll())
        log = self.mta.log_text()
        self.assertIn("dns lookups for ip=11.22.33.20 timed out after 2s", log)   # silent
        self.assertIn("dns list lookup failed: A 20.33.22.11.bl.example", log)    # garbage


def proxied(client_ip):
    return f"PROXY TCP4 {client_ip} 11.22.33.1 40000 25\r\n".encode()


class FakeUdpServer:
    """A UDP 'DNS server' that swallows queries, or answers each with garbage bytes."""

    def __init__(self, garbage):
        self.garbage = garbage
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.settimeout(0.2)
        self.port = self.sock.getsockname()[1]
        self.running = True
        self.thread = threading.Thread(target=self.serve, daemon=True)

    def serve(self):
        while self.running:
            try:
                data, peer = self.sock.recvfrom(4096)
            except socket.timeout:
                continue
            except OSError:
                return
            if self.garbage:
                self.sock.sendto(data[:2] + b"\xff" * 20, peer)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.running = False
        self.thread.join(5)
        self.sock.close()


if __name__ == "__main__":
    harness.main(time_limit=300)
