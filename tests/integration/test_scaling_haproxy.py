"""Scaling out (issue 13, doc/scaling.md): a real HAProxy balances SMTP over two
independent instances with the PROXY protocol; both accept and deliver mail, and each
logs the original client addresses (not HAProxy's)."""

import os
import signal
import smtplib
import subprocess
import sys
import tempfile
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
import harness  # noqa: E402

CLIENTS = ["127.0.0.2", "127.0.0.3", "127.0.0.4", "127.0.0.5"]


class BalancedHaproxy:
    """haproxy -db in round-robin over several backends, each with send-proxy-v2."""

    def __init__(self, backend_ports):
        self.port = harness.free_port()
        self.backends = backend_ports
        self.dir = tempfile.mkdtemp(prefix="haproxy-scaling-")
        self.proc = None

    def start(self):
        cfg = os.path.join(self.dir, "haproxy.cfg")
        servers = [f"    server n{i} 127.0.0.1:{p} send-proxy-v2" for i, p in enumerate(self.backends)]
        with open(cfg, "w") as f:
            f.write("\n".join(["global", "    maxconn 100", "defaults", "    mode tcp",
                               "    timeout connect 5s", "    timeout client 30s", "    timeout server 30s",
                               "frontend smtp", f"    bind 127.0.0.1:{self.port}", "    default_backend nodes",
                               "backend nodes", "    balance roundrobin"] + servers + [""]))
        self.proc = subprocess.Popen(["haproxy", "-f", cfg, "-db"], stdout=subprocess.DEVNULL,
                                     stderr=subprocess.PIPE, stdin=subprocess.DEVNULL)
        try:
            harness.wait_for(lambda: self.proc.poll() is not None or self._listening(), timeout=10,
                             what="haproxy to listen")
        except AssertionError:
            self.stop()
            raise
        if self.proc.poll() is not None:
            raise RuntimeError("haproxy failed: " + self.proc.stderr.read().decode(errors="replace"))
        return self

    def _listening(self):
        return listening(self.port)

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        if self.proc and self.proc.stderr:
            self.proc.stderr.close()
        subprocess.run(["rm", "-rf", self.dir])


def listening(port):
    """Whether something listens on 127.0.0.1:port (from /proc/net/tcp, no connection)."""
    want = ":%04X" % port
    with open("/proc/net/tcp") as f:
        return any(ln.split()[1].endswith(want) and ln.split()[3] == "0A" for ln in f.readlines()[1:])


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
            cls.proxy = BalancedHaproxy([n.port for n in cls.nodes]).start()
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
