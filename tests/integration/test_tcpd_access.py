"""couriertcpd's access file (couriertcpd(1) "ACCESS FILE", -access, -accesslocal,
-denymsg, MAXCPERIP, -restart) compiled by makesmtpaccess(8): what a client from a
given loopback address sees, the environment the program gets, the log lines."""

import os
import shutil
import signal
import subprocess
import sys
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
import harness  # noqa: E402
from haproxy_support import (ENV_PROGRAM, HOLD_PROGRAM, Tcpd, client, connect,  # noqa: E402
                             environment, read_all)

ACCESS = """# the test access file
127.0.0.2\tdeny
127.0.1\tallow,CBLOCK
127.0.1.5\tallow,SPECIFIC,SIZELIMIT=1000000
127.0.4.0/23\tallow,CIDR=yes
127.0.0.6\tallow,MAXCPERIP=3
:0000:0000:0000:0000:0000:0000:0000:0001\tallow,SIXVAR=one
127.0.9\tdeny
127.0.9.9\tallow,EXCEPTION
"""


class AccessFileTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.mta = harness.Instance()

    @classmethod
    def tearDownClass(cls):
        cls.mta.stop()

    def setUp(self):
        for p in ("smtpaccess", "smtpaccess.dat"):
            path = self.mta.path("etc", p)
            if os.path.isdir(path):
                shutil.rmtree(path)
            elif os.path.exists(path):
                os.unlink(path)

    def make(self, *args, check=True):
        r = self.mta.run("sbin/makesmtpaccess", *args, check=False)
        if check:
            self.assertEqual(r.returncode, 0, r.stderr)
        return r

    def write_access(self, text, name="smtpaccess"):
        self.mta.write_config(name, text)

    def dat(self):
        return self.mta.path("etc", "smtpaccess.dat")

    def test_netblocks_most_specific_entry_and_variables(self):
        self.write_access(ACCESS)
        self.make()
        with Tcpd(self.mta, ["-nodnslookup", "-access=" + self.dat()], ENV_PROGRAM) as t:
            self.assertEqual(client(t.port, "127.0.0.2"), "")
            harness.wait_for(lambda: "refused ip=127.0.0.2 reason=access" in self.mta.log_text(),
                             what="refusal log line")
            env = environment(client(t.port, "127.0.1.7"))
            self.assertEqual(env.get("CBLOCK"), "")
            self.assertEqual(env["TCPREMOTEIP"], "127.0.1.7")
            env = environment(client(t.port, "127.0.1.5"))
            self.assertEqual(env.get("SPECIFIC"), "")
            self.assertEqual(env.get("SIZELIMIT"), "1000000")
            self.assertNotIn("CBLOCK", env)   # only the most specific entry is used
            self.assertEqual(environment(client(t.port, "127.0.5.200")).get("CIDR"), "yes")
            self.assertNotIn("CIDR", environment(client(t.port, "127.0.6.1")))
            self.assertEqual(client(t.port, "127.0.9.1"), "")
            self.assertIn("EXCEPTION", environment(client(t.port, "127.0.9.9")))
            plain = environment(client(t.port, "127.0.0.1"))
            self.assertEqual(plain["TCPREMOTEIP"], "127.0.0.1")

    def test_star_denies_unlisted_and_denymsg(self):
        self.write_access("*\tdeny\n127.0.0.3\tallow\n")
        self.make()
        opts = ["-nodnslookup", "-access=" + self.dat(), "-denymsg=421 Go away"]
        with Tcpd(self.mta, opts, ENV_PROGRAM) as t:
            self.assertEqual(client(t.port, "127.0.0.1"), "421 Go away\r\n")
            self.assertTrue(client(t.port, "127.0.0.3").startswith("hello\n"))

    def test_ipv6_entry(self):
        if not socket_has_ipv6():
            self.skipTest("no IPv6 loopback")
        self.write_access(ACCESS)
        self.make()
        port = harness.free_port()
        with Tcpd(self.mta, ["-nodnslookup", "-access=" + self.dat()], ENV_PROGRAM,
                  ports=f"[::1].{port}", port=port) as t:
            env = environment(client(t.port, "::1", host="::1"))
            self.assertEqual(env.get("SIXVAR"), "one")
            self.assertEqual(env["TCPREMOTEIP"], "::1")

    def test_folder_of_files_is_concatenated(self):
        os.makedirs(self.mta.path("etc", "smtpaccess"))
        self.write_access("127.0.0.2\tdeny\n", "smtpaccess/10-deny")
        self.write_access("127.0.0.3\tallow,FROMSECOND\n", "smtpaccess/20-allow")
        self.make()
        with Tcpd(self.mta, ["-nodnslookup", "-access=" + self.dat()], ENV_PROGRAM) as t:
            self.assertEqual(client(t.port, "127.0.0.2"), "")
            self.assertIn("FROMSECOND", environment(client(t.port, "127.0.0.3")))

    def test_bad_line_reports_file_and_line_and_keeps_old_database(self):
        self.write_access("127.0.0.2\tdeny\n")
        self.make()
        before = os.stat(self.dat()).st_ino
        self.write_access("# comment\n127.0.0.2\tallow\n127.0.0.300\tdeny\n")
        r = self.make(check=False)
        self.assertNotEqual(r.returncode, 0)
        self.assertIn("smtpaccess:3:", r.stderr)
        self.assertEqual(os.stat(self.dat()).st_ino, before)
        self.assertEqual([f for f in os.listdir(self.mta.path("etc")) if ".tmp" in f], [])
        with Tcpd(self.mta, ["-nodnslookup", "-access=" + self.dat()], ENV_PROGRAM) as t:
            self.assertEqual(client(t.port, "127.0.0.2"), "")   # the old rule still holds
        self.write_access("127.0.0.2\tallow,NO TAB HERE\n")
        self.assertIn("smtpaccess:1:", self.make(check=False).stderr)
        self.write_access("127.0.0.2 deny\n")
        self.assertIn("smtpaccess:1:", self.make(check=False).stderr)

    def test_new_database_is_used_without_restart(self):
        self.write_access("127.0.0.2\tdeny\n")
        self.make()
        with Tcpd(self.mta, ["-nodnslookup", "-access=" + self.dat()], ENV_PROGRAM) as t:
            self.assertEqual(client(t.port, "127.0.0.2"), "")
            self.write_access("127.0.0.2\tallow,REBUILT\n")
            self.make()
            self.assertIn("REBUILT", environment(client(t.port, "127.0.0.2")))

    def test_missing_then_corrupt_file_and_restart_reopens(self):
        pid_file = self.mta.path("run", "tcpd-access.pid")
        t = Tcpd(self.mta, ["-nodnslookup", "-pid=" + pid_file, "-access=" + self.dat()],
                 ENV_PROGRAM)
        t.start()
        try:
            harness.wait_for(lambda: os.path.exists(pid_file), what="pid file")
            # Missing: logged, and connections are accepted without access rules.
            harness.wait_for(lambda: "access file " + self.dat() + " unavailable" in self.mta.log_text(),
                             what="missing file log line")
            self.assertTrue(client(t.port, "127.0.0.2").startswith("hello"))
            # Corrupt: the same.
            with open(self.dat(), "wb") as f:
                f.write(b"this is not a Berkeley DB file" * 100)
            subprocess.run([self.mta.path("sbin", "couriertcpd"), "-pid=" + pid_file, "-restart"],
                           env=self.mta.env, check=True, timeout=10)
            harness.wait_for(lambda: self.mta.log_text().count("unavailable") >= 2,
                             what="corrupt file log line")
            self.assertTrue(client(t.port, "127.0.0.2").startswith("hello"))
            # A good database and -restart: its rules apply.
            self.write_access("127.0.0.2\tdeny\n")
            self.make()
            subprocess.run([self.mta.path("sbin", "couriertcpd"), "-pid=" + pid_file, "-restart"],
                           env=self.mta.env, check=True, timeout=10)
            harness.wait_for(lambda: "access file " + self.dat() + " loaded" in self.mta.log_text(),
                             what="reload log line")
            self.assertEqual(client(t.port, "127.0.0.2"), "")
        finally:
            subprocess.run([self.mta.path("sbin", "couriertcpd"), "-pid=" + pid_file, "-stop"],
                           env=self.mta.env, timeout=10)
            harness.wait_for(lambda: not os.path.exists(pid_file), what="daemon to stop")

    def test_maxcperip_overrides_maxperip(self):
        self.write_access(ACCESS)
        self.make()
        opts = ["-nodnslookup", "-maxperip=1", "-access=" + self.dat()]
        with Tcpd(self.mta, opts, HOLD_PROGRAM) as t:
            held = []
            try:
                for _ in range(3):
                    s = connect(t.port, "127.0.0.6")
                    self.assertEqual(s.recv(6), b"hello\n")
                    held.append(s)
                fourth = connect(t.port, "127.0.0.6")
                held.append(fourth)
                self.assertEqual(read_all(fourth), b"")
                other = connect(t.port, "127.0.0.7")
                held.append(other)
                self.assertEqual(other.recv(6), b"hello\n")
                second = connect(t.port, "127.0.0.7")
                held.append(second)
                self.assertEqual(read_all(second), b"")
            finally:
                for s in held:
                    s.close()
            self.assertIn("refused ip=127.0.0.6 limit=maxperip", self.mta.log_text())

    def test_accesslocal(self):
        t_port = harness.free_port()
        self.write_access(f"127.0.0.1.{t_port}\tallow,PORTVAR\n127.0.0.1\tallow,IFACEVAR\n"
                          f"*.{t_port}\tallow,ANYIP\n127.0.0.8\tallow,REMOTEVAR\n")
        self.make()
        opts = ["-nodnslookup", "-accesslocal", "-access=" + self.dat()]
        with Tcpd(self.mta, opts, ENV_PROGRAM, port=t_port) as t:
            env = environment(client(t.port, "127.0.0.8"))
            self.assertIn("REMOTEVAR", env)
            self.assertIn("PORTVAR", env)
            self.assertNotIn("IFACEVAR", env)
        with Tcpd(self.mta, ["-nodnslookup", "-access=" + self.dat()], ENV_PROGRAM, port=t_port) as t:
            self.assertNotIn("PORTVAR", environment(client(t.port, "127.0.0.8")))


def socket_has_ipv6():
    import socket
    try:
        with socket.socket(socket.AF_INET6) as s:
            s.bind(("::1", 0))
        return True
    except OSError:
        return False


if __name__ == "__main__":
    harness.main(time_limit=300)
