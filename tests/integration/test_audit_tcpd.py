"""couriertcpd options of issue 9 that the other test_tcpd_* files did not observe on
their own (found by the audit of issue 9): the wildcard listener (IPv6 first, the IPv4
wildcard's failure ignored) with IPv4-mapped clients shown and looked up as IPv4,
-address and -listen as the kernel reports them, TCPREMOTEPORT, access file B and A
blocks, the -accesslocal address-only form, -haproxy=/port=n and its comma list,
-noidentlookup, and the syslog levels of -warn (warning) and -maxprocs (alert)."""

import os
import socket
import subprocess
import sys
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
import harness  # noqa: E402
from haproxy_support import (ENV_PROGRAM, HOLD_PROGRAM, Tcpd, client, connect,  # noqa: E402
                             environment)


def has_ipv6():
    try:
        with socket.socket(socket.AF_INET6) as s:
            s.bind(("::1", 0))
        return True
    except OSError:
        return False


def listening_sockets(port):
    """(local address, backlog) of each listening TCP socket on port, as `ss` shows them
    (for a listening socket ss's Send-Q column is the backlog)."""
    out = subprocess.run(["ss", "-ltnH", f"sport = :{port}"], capture_output=True, text=True,
                         check=True, timeout=10).stdout
    found = []
    for line in out.splitlines():
        fields = line.split()
        if len(fields) >= 4 and fields[0] == "LISTEN":
            found.append((fields[3].rsplit(":", 1)[0], int(fields[2])))
    return sorted(found)


class AuditTcpdTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.mta = harness.Instance()

    @classmethod
    def tearDownClass(cls):
        cls.mta.stop()

    def setUp(self):
        for p in ("smtpaccess", "smtpaccess.dat"):
            path = self.mta.path("etc", p)
            if os.path.exists(path):
                os.unlink(path)

    def make_access(self, text):
        self.mta.write_config("smtpaccess", text)
        r = self.mta.run("sbin/makesmtpaccess", check=False)
        self.assertEqual(r.returncode, 0, r.stderr)
        return self.mta.path("etc", "smtpaccess.dat")

    def test_bare_port_is_the_ipv6_wildcard_and_serves_ipv4_as_ipv4(self):
        if not has_ipv6():
            self.skipTest("no IPv6")
        port = harness.free_port()
        dat = self.make_access("127.0.0.2\tdeny\n127.0.0.3\tallow,MAPPED\n")
        with Tcpd(self.mta, ["-nodnslookup", "-access=" + dat], ENV_PROGRAM,
                  ports=str(port), port=port):
            # One dual-stack socket on [::]: the IPv4 wildcard's bind failure was ignored.
            self.assertIn([a for a, _ in listening_sockets(port)], (["*"], ["[::]"]))
            env = environment(client(port, "127.0.0.3"))
            self.assertEqual(env["TCPREMOTEIP"], "127.0.0.3")      # not ::ffff:127.0.0.3
            self.assertEqual(env["TCPLOCALIP"], "127.0.0.1")
            self.assertIn("MAPPED", env)                            # looked up as IPv4
            self.assertEqual(client(port, "127.0.0.2"), "")        # and denied as IPv4
            env6 = environment(client(port, "::1", host="::1"))
            self.assertEqual(env6["TCPREMOTEIP"], "::1")
            self.assertEqual(env6["TCPLOCALIP"], "::1")

    def test_address_and_listen_as_the_kernel_sees_them(self):
        port = harness.free_port()
        with Tcpd(self.mta, ["-nodnslookup", "-address=127.0.0.1", "-listen=7"], ENV_PROGRAM,
                  ports=str(port), port=port):
            self.assertEqual(listening_sockets(port), [("127.0.0.1", 7)])
        with Tcpd(self.mta, ["-nodnslookup"], ENV_PROGRAM, port=port):
            with open("/proc/sys/net/core/somaxconn") as f:
                somaxconn = int(f.read())
            self.assertEqual(listening_sockets(port),
                             [("127.0.0.1", min(socket.SOMAXCONN, somaxconn))])

    def test_remote_and_local_port_variables(self):
        with Tcpd(self.mta, ["-nodnslookup"], ENV_PROGRAM) as t:
            with connect(t.port, "127.0.0.4") as s:
                mine = s.getsockname()[1]
                data = b""
                while True:
                    chunk = s.recv(65536)
                    if not chunk:
                        break
                    data += chunk
            env = environment(data.decode())
            self.assertEqual(env["TCPREMOTEIP"], "127.0.0.4")
            self.assertEqual(env["TCPREMOTEPORT"], str(mine))
            self.assertEqual(env["TCPLOCALIP"], "127.0.0.1")
            self.assertEqual(env["TCPLOCALPORT"], str(t.port))

    def test_b_and_a_blocks_most_specific_first(self):
        dat = self.make_access("127\tallow,ABLOCK\n127.5\tallow,BBLOCK\n127.5.6\tallow,CBLOCK\n"
                               "127.5.6.7\tdeny\n")
        with Tcpd(self.mta, ["-nodnslookup", "-access=" + dat], ENV_PROGRAM) as t:
            env = environment(client(t.port, "127.9.9.9"))
            self.assertIn("ABLOCK", env)
            self.assertNotIn("BBLOCK", env)
            env = environment(client(t.port, "127.5.9.9"))
            self.assertIn("BBLOCK", env)
            self.assertNotIn("ABLOCK", env)
            env = environment(client(t.port, "127.5.6.8"))
            self.assertIn("CBLOCK", env)
            self.assertNotIn("BBLOCK", env)
            self.assertEqual(client(t.port, "127.5.6.7"), "")

    def test_accesslocal_address_without_port(self):
        dat = self.make_access("127.0.0.1\tallow,IFACEVAR\n")
        with Tcpd(self.mta, ["-nodnslookup", "-accesslocal", "-access=" + dat], ENV_PROGRAM) as t:
            self.assertIn("IFACEVAR", environment(client(t.port, "127.0.0.8")))
        with Tcpd(self.mta, ["-nodnslookup", "-access=" + dat], ENV_PROGRAM) as t:
            self.assertNotIn("IFACEVAR", environment(client(t.port, "127.0.0.8")))

    def test_haproxy_port_only_form_and_comma_list(self):
        p1, p2, p3 = harness.free_port(), harness.free_port(), harness.free_port()
        ports = f"127.0.0.1.{p1},127.0.0.1.{p2},127.0.0.1.{p3}"
        header = b"PROXY TCP4 192.0.2.77 192.0.2.1 40000 25\r\n"
        opts = ["-nodnslookup", f"-haproxy=5/port={p1},/port={p2}"]
        with Tcpd(self.mta, opts, ENV_PROGRAM, ports=ports, port=p1):
            for p in (p1, p2):
                env = environment(client(p, "127.0.0.20", send=header))
                self.assertEqual(env["TCPREMOTEIP"], "192.0.2.77", p)
                self.assertEqual(env["TCPLOCALIP"], "192.0.2.1")
                self.assertEqual(env["TCPREMOTEINFO"], "haproxy 192.0.2.1.25")
            env = environment(client(p3, "127.0.0.21"))
            self.assertEqual(env["TCPREMOTEIP"], "127.0.0.21")
            self.assertNotIn("TCPREMOTEINFO", env)

    def test_noidentlookup_of_the_older_manual_is_accepted(self):
        with Tcpd(self.mta, ["-nodnslookup", "-noidentlookup"], ENV_PROGRAM) as t:
            self.assertTrue(client(t.port, "127.0.0.22").startswith("hello\n"))

    def test_warn_logs_a_warning_and_maxprocs_an_alert(self):
        log_before = len(self.mta.log_text())
        with Tcpd(self.mta, ["-nodnslookup", "-maxprocs=3", "-warn=1"], HOLD_PROGRAM) as t:
            held = []
            try:
                for n in range(3):
                    s = connect(t.port, f"127.0.0.{30 + n}")
                    self.assertEqual(s.recv(6), b"hello\n")
                    held.append(s)
                harness.wait_for(lambda: "maximum connections reached" in self.mta.log_text()[log_before:],
                                 what="the alert line")
                # A fourth client waits for a free slot instead of being refused.
                waiting = connect(t.port, "127.0.0.40")
                held.append(waiting)
                waiting.settimeout(0.5)
                with self.assertRaises(socket.timeout):
                    waiting.recv(6)
                held[0].sendall(b"x\n")
                waiting.settimeout(20)
                self.assertEqual(waiting.recv(6), b"hello\n")
            finally:
                for s in held:
                    s.close()
        log = self.mta.log_text()[log_before:]
        self.assertRegex(log, r"couriertcpd\[\d+\] warning: connections above warning level")
        self.assertRegex(log, r"couriertcpd\[\d+\] alert: maximum connections reached")


if __name__ == "__main__":
    harness.main(time_limit=300)
