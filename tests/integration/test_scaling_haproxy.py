"""Scaling out (issue 13, doc/scaling.md): a real HAProxy balances SMTP over two
independent instances with the PROXY protocol; both accept and deliver mail, and each
logs the original client addresses (not HAProxy's)."""

import os
import smtplib
import subprocess
import sys
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
import harness  # noqa: E402
from haproxy_support import Haproxy, listening  # noqa: E402

CLIENTS = ["127.0.0.2", "127.0.0.3", "127.0.0.4", "127.0.0.5"]


def send_from(port, source, rcpt, subject):
    s = smtplib.SMTP(timeout=30, source_address=(source, 0))
    try:
        s.connect("127.0.0.1", port)
        s.sendmail("sender@remote.example", [rcpt], f"Subject: {subject}\r\n\r\nbody\r\n")
    finally:
        s.quit()


class ScalingTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        if subprocess.run(["which", "haproxy"], capture_output=True).returncode != 0:
            raise unittest.SkipTest("haproxy is not installed")
        cls.nodes, cls.users, cls.proxy = [], [], None
        try:
            for _ in range(2):
                node = harness.Instance()
                cls.nodes.append(node)
                # Only HAProxy may reach a node (doc/scaling.md: firewall the port).
                node.write_config("esmtpd", "\n".join([
                    "ESMTPDSTART=YES", f"PORT=127.0.0.1.{node.port}", "ADDRESS=0",
                    "MAXDAEMONS=40", "MAXPERIP=40", 'TCPDOPTS="-nodnslookup -haproxy"', ""]))
                cls.users.append(node.add_user())
                node.run("sbin/courier", "start")
                node.run("sbin/esmtpd", "start")
                # postmaster is an alias on every node, so any node takes the same mail.
                node.write_config("aliases", f"postmaster: {cls.users[-1]}\n")
                node.run("sbin/makealiases")
            for n in cls.nodes:   # no test connection: it would lack the PROXY header
                harness.wait_for(lambda: listening(n.port), timeout=10, what="esmtpd to listen")
            cls.proxy = Haproxy([n.port for n in cls.nodes], version=2).start()
        except BaseException:
            cls.tearDownClass()
            raise

    @classmethod
    def tearDownClass(cls):
        if cls.proxy:
            cls.proxy.stop()
        for n in cls.nodes:
            n.stop()

    def test_both_nodes_accept_mail_and_log_the_real_clients(self):
        # Round robin: the four connections alternate between the two nodes.
        for i, client in enumerate(CLIENTS):
            send_from(self.proxy.port, client, "postmaster@test.example", f"m{i}")
        for node, user in zip(self.nodes, self.users):
            got = node.wait_delivered(user, 2)
            self.assertEqual(len(got), 2)
        seen = []
        for node in self.nodes:
            log = node.log_text()
            connects = [c for c in CLIENTS if f"connect client={c} " in log]
            accepted = [c for c in CLIENTS if f"client={c} source=esmtp" in log]
            self.assertEqual(len(connects), 2, log)
            self.assertEqual(connects, accepted)
            # HAProxy's own address is never taken for the client.
            self.assertNotIn("connect client=127.0.0.1 ", log)
            seen += connects
        self.assertEqual(sorted(seen), CLIENTS)


if __name__ == "__main__":
    harness.main()
