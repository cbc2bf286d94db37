"""Hostile clients (issue 12): connections held open up to maxprocs, a slow sender, clients
that never read replies, a pipelining flood, an endless line and AUTH brute force. Each
time a well-behaved client must still get its message accepted (within its socket
timeout: the bounded delay) and delivered, the memory of every courieresmtpd process
stays bounded, and once the hostile clients go the server serves new clients normally."""

import os
import resource
import smtplib
import socket
import sys
import threading
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
import harness  # noqa: E402

# One socket per held connection here, and couriertcpd (which inherits this limit)
# one per child: the default of 1,024 descriptors is too few.
_soft, _hard = resource.getrlimit(resource.RLIMIT_NOFILE)
resource.setrlimit(resource.RLIMIT_NOFILE, (max(_soft, 8192), max(_hard, 8192)))
from esmtpd_support import RawSmtp, make_certificate, make_userdb  # noqa: E402

# A sanitized build (tools/sanitizer-check) carries ASan's shadow memory in every
# process: 1,000 of them would not fit in memory, so that run holds fewer.
SANITIZED = os.environ.get("COURIER_SANITIZED") == "1"
HELD = 200 if SANITIZED else 1000   # connections held open at once: within maxprocs
MAXDAEMONS = HELD + 40
CLIENT_TIMEOUT = 30        # the well-behaved client's bound on every reply
RSS_LIMIT_KB = 64 * 1024   # per courieresmtpd process, during the flood


def uses_asan(pid):
    try:
        with open(f"/proc/{pid}/maps") as f:
            return "libasan" in f.read()
    except OSError:
        return False
PASSWORD = "c0rrect horse"


def rss_kb(pid):
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


class HostileClientsTest(harness.InstanceTestCase):
    @classmethod
    def configure(cls, mta):
        cls.user = mta.add_user()
        cls.rcpt = f"{cls.user}@{mta.me}"
        make_certificate(mta)
        make_userdb(mta, {"alice": PASSWORD})
        mta.write_config("esmtpd", "\n".join([
            "ESMTPDSTART=YES", f"PORT=127.0.0.1.{mta.port}", "ADDRESS=0",
            f"MAXDAEMONS={MAXDAEMONS}", f"MAXPERIP={MAXDAEMONS}", 'TCPDOPTS="-nodnslookup"',
            "ESMTPAUTH_DELAY=100", "ESMTPAUTH_MAXFAIL=3", ""]))

    def setUp(self):
        self.sockets = []
        self.threads = []
        self.stop = threading.Event()
        self.addCleanup(self.cleanup)

    def cleanup(self):
        self.stop.set()
        for s in self.sockets:
            try:
                s.close()
            except OSError:
                pass
        for t in self.threads:
            t.join(timeout=15)

    # ---- helpers -----------------------------------------------------------------
    def smtpd_pids(self):
        out = []
        for pid in harness.processes_of(self.mta.root):
            try:
                with open(f"/proc/{pid}/comm") as f:
                    if f.read().strip() == "courieresmtpd":
                        out.append(pid)
            except OSError:
                pass
        return out

    def raw(self):
        s = socket.create_connection(("127.0.0.1", self.mta.port), timeout=CLIENT_TIMEOUT)
        self.sockets.append(s)
        return s

    def background(self, fn):
        t = threading.Thread(target=fn, daemon=True)
        t.start()
        self.threads.append(t)

    def send_good_message(self, tag):
        """A well-behaved client: every reply must come within CLIENT_TIMEOUT."""
        before = len(self.mta.delivered(self.user))
        with smtplib.SMTP("127.0.0.1", self.mta.port, timeout=CLIENT_TIMEOUT) as s:
            s.ehlo("good.example")
            s.sendmail("good@remote.example", [self.rcpt],
                       f"From: good@remote.example\r\nSubject: {tag}\r\n\r\nwell-behaved {tag}\r\n")
        got = self.mta.wait_delivered(self.user, before + 1, timeout=60)
        self.assertTrue(any(f"Subject: {tag}".encode() in body for _, body in got))

    def assert_memory_bounded(self):
        pids = self.smtpd_pids()
        self.assertTrue(pids)
        worst = max(rss_kb(p) for p in pids)
        # A --enable-sanitizers build carries ASan's shadow memory and quarantine.
        limit = RSS_LIMIT_KB * (4 if any(uses_asan(p) for p in pids) else 1)
        self.assertLess(worst, limit, f"a courieresmtpd uses {worst} kB")
        return worst

    def wait_flood_gone(self):
        harness.wait_for(lambda: len(self.smtpd_pids()) == 0, timeout=30,
                         what="every hostile courieresmtpd to end")

    # ---- tests -------------------------------------------------------------------
    def test_held_connections_within_maxprocs(self):
        for _ in range(HELD):
            self.raw()
        for s in self.sockets:   # every one got its greeting: a process serves it
            data = b""
            while b"\n" not in data:
                chunk = s.recv(512)
                self.assertTrue(chunk, "connection closed before the greeting")
                data += chunk
            self.assertTrue(data.startswith(b"220"), data)
        harness.wait_for(lambda: len(self.smtpd_pids()) >= HELD, timeout=60,
                         what=f"{HELD} courieresmtpd processes")
        self.send_good_message("held")
        worst = self.assert_memory_bounded()
        print(f"  {len(self.smtpd_pids())} courieresmtpd processes, largest VmRSS {worst} kB")
        self.cleanup()
        self.sockets = []
        self.wait_flood_gone()
        self.send_good_message("after-held")

    def test_slow_deaf_and_flooding_clients(self):
        # A slow sender: one byte per second.
        slow = self.raw()

        def trickle():
            for b in b"EHLO slow.example\r\n"[:6]:
                if self.stop.wait(1.0):
                    return
                try:
                    slow.send(bytes([b]))
                except OSError:
                    return
        self.background(trickle)

        # Clients that never read a reply, flooding pipelined commands.
        flood = b"EHLO deaf.example\r\n" + b"MAIL FROM:<a@remote.example>\r\nRCPT TO:<b@remote.example>\r\nRSET\r\n" * 20000

        def deaf():
            s = self.raw()
            s.settimeout(2)
            sent = 0
            while not self.stop.is_set() and sent < len(flood):
                try:
                    sent += s.send(flood[sent:sent + 65536])
                except socket.timeout:
                    continue   # the server stopped reading: its replies are not read
                except OSError:
                    return
        for _ in range(4):
            self.background(deaf)

        # A line that never ends: the server must not buffer it.
        def endless():
            s = self.raw()
            s.settimeout(2)
            chunk = b"X" * 65536
            for _ in range(64):   # 4 MB
                if self.stop.is_set():
                    return
                try:
                    s.sendall(chunk)
                except socket.timeout:
                    continue
                except OSError:
                    return
        self.background(endless)

        harness.wait_for(lambda: len(self.smtpd_pids()) >= 6, timeout=20, what="the hostile sessions")
        self.send_good_message("flood")
        time.sleep(1)   # let the flood run on while memory is read
        worst = self.assert_memory_bounded()
        print(f"  during the flood: largest courieresmtpd VmRSS {worst} kB")
        self.send_good_message("flood-2")
        self.cleanup()
        self.sockets, self.threads = [], []
        self.wait_flood_gone()
        self.send_good_message("after-flood")

    def test_auth_brute_force_is_cut_off(self):
        wrong = "AUTH PLAIN AGFsaWNlAHdyb25n"   # alice / "wrong"
        for _ in range(3):
            with RawSmtp(self.mta.port) as s:
                s.reply()
                s.cmd("EHLO brute.example")
                self.assertEqual(s.cmd("STARTTLS")[0], 220)
                s.starttls()
                s.cmd("EHLO brute.example")
                codes = [s.cmd(wrong)[0] for _ in range(3)]
                self.assertEqual(codes, [535, 535, 535])
                code, _ = s.reply()
                self.assertEqual(code, 421)
                self.assertTrue(s.closed_by_server())
        self.assertGreaterEqual(self.mta.log_text().count("auth status=failed"), 9)
        # The right password still works on a new connection, and mail still flows.
        with smtplib.SMTP("127.0.0.1", self.mta.port, timeout=CLIENT_TIMEOUT) as s:
            s.ehlo("good.example")
            s.starttls(context=__import__("esmtpd_support").client_tls_context())
            s.ehlo("good.example")
            self.assertEqual(s.login("alice", PASSWORD)[0], 235)
        self.send_good_message("after-brute")


if __name__ == "__main__":
    harness.main(time_limit=150)
