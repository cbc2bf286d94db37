"""couriertcpd -haproxy (couriertcpd(1) "Enabling HAProxy") behind a real HAProxy with
send-proxy (v1) and send-proxy-v2: the program sees the original client; the access
file and -maxperip apply to it; malformed, silent and unproxied clients get a defined
outcome and a log line without holding up the listener."""

import os
import socket
import sys
import time
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
import harness  # noqa: E402
from haproxy_support import (ENV_PROGRAM, HOLD_PROGRAM, Haproxy, Tcpd, client,  # noqa: E402
                             connect, environment, read_all)


class HaproxyTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.mta = harness.Instance()

    @classmethod
    def tearDownClass(cls):
        cls.mta.stop()

    def check_through(self, version):
        with Tcpd(self.mta, ["-nodnslookup", "-haproxy=5"], ENV_PROGRAM) as t, \
                Haproxy(t.port, version) as hp:
            out = client(hp.port, "127.0.0.5")
            self.assertTrue(out.startswith("hello\n"), out)
            env = environment(out)
            self.assertEqual(env["TCPREMOTEIP"], "127.0.0.5")
            self.assertEqual(env["TCPLOCALIP"], "127.0.0.1")
            self.assertEqual(env["TCPLOCALPORT"], str(hp.port))
            self.assertEqual(env["TCPREMOTEINFO"], f"haproxy 127.0.0.1.{hp.port}")

    def test_send_proxy_v1(self):
        self.check_through(1)

    def test_send_proxy_v2(self):
        self.check_through(2)

    def test_access_file_applies_to_the_real_client(self):
        self.mta.write_config("smtpaccess", "127.0.0.6\tdeny\n127.0.0.5\tallow,VIAPROXY\n")
        self.mta.run("sbin/makesmtpaccess")
        dat = self.mta.path("etc", "smtpaccess.dat")
        opts = ["-nodnslookup", "-haproxy", "-access=" + dat, "-denymsg=go away"]
        with Tcpd(self.mta, opts, ENV_PROGRAM) as t, Haproxy(t.port, 2) as hp:
            self.assertEqual(client(hp.port, "127.0.0.6"), "go away\r\n")
            self.assertIn("VIAPROXY", environment(client(hp.port, "127.0.0.5")))
        self.assertIn("refused ip=127.0.0.6 reason=access", self.mta.log_text())

    def test_maxperip_counts_the_real_client(self):
        opts = ["-nodnslookup", "-haproxy", "-maxperip=1"]
        with Tcpd(self.mta, opts, HOLD_PROGRAM) as t, Haproxy(t.port, 1) as hp:
            first = connect(hp.port, "127.0.0.7")
            second = third = None
            try:
                self.assertEqual(first.recv(6), b"hello\n")
                second = connect(hp.port, "127.0.0.7")
                self.assertEqual(read_all(second), b"")
                third = connect(hp.port, "127.0.0.8")   # another client: its own count
                self.assertEqual(third.recv(6), b"hello\n")
            finally:
                for s in (first, second, third):
                    if s:
                        s.close()
        self.assertIn("refused ip=127.0.0.7 limit=maxperip via=haproxy", self.mta.log_text())

    def test_malformed_header_closes_the_connection(self):
        with Tcpd(self.mta, ["-nodnslookup", "-haproxy"], ENV_PROGRAM) as t:
            self.assertEqual(client(t.port, send=b"EHLO client\r\n"), "")
            self.assertEqual(client(t.port, send=b"PROXY TCP4 1.2.3.400 1.2.3.4 1 2\r\n"), "")
            v2_bad = b"\r\n\r\n\x00\r\nQUIT\n\x31\x11\x00\x0c" + b"\x00" * 12
            self.assertEqual(client(t.port, send=v2_bad), "")
            # PROXY UNKNOWN (a health check): the real addresses are used.
            env = environment(client(t.port, "127.0.0.9", send=b"PROXY UNKNOWN\r\n"))
            self.assertEqual(env["TCPREMOTEIP"], "127.0.0.9")
        log = self.mta.log_text()
        self.assertIn("haproxy from=127.0.0.1 error=no PROXY protocol header", log)
        self.assertIn("error=malformed PROXY v1 addresses", log)
        self.assertIn("error=unsupported PROXY v2 version", log)

    def test_silent_sender_times_out_without_blocking_others(self):
        with Tcpd(self.mta, ["-nodnslookup", "-haproxy=1"], ENV_PROGRAM) as t, \
                Haproxy(t.port, 1) as hp:
            silent = [connect(t.port, "127.0.0.10") for _ in range(3)]
            slow = connect(t.port, "127.0.0.11")
            slow.sendall(b"PROXY TCP4 ")
            try:
                # Served at once, while four connections wait for their headers.
                self.assertTrue(client(hp.port, "127.0.0.12").startswith("hello\n"))
                for s in silent + [slow]:
                    self.assertEqual(read_all(s), b"")   # closed after the timeout
            finally:
                for s in silent + [slow]:
                    s.close()
        harness.wait_for(lambda: self.mta.log_text().count("no PROXY header within the timeout") >= 4,
                         what="timeout log lines")

    def test_port_filter(self):
        p1, p2 = harness.free_port(), harness.free_port()
        ports = f"127.0.0.1.{p1},127.0.0.1.{p2}"
        opts = ["-nodnslookup", f"-haproxy=5/port=127.0.0.1.{p1}"]
        with Tcpd(self.mta, opts, ENV_PROGRAM, ports=ports, port=p1) as t, \
                Haproxy(p1, 2) as hp:
            self.assertEqual(environment(client(hp.port, "127.0.0.13"))["TCPREMOTEIP"], "127.0.0.13")
            direct = environment(client(p2, "127.0.0.14"))
            self.assertEqual(direct["TCPREMOTEIP"], "127.0.0.14")
            self.assertNotIn("TCPREMOTEINFO", direct)
            self.assertEqual(direct["TCPLOCALPORT"], str(p2))
            self.assertEqual(t.proc.poll(), None)


if __name__ == "__main__":
    harness.main(time_limit=300)
