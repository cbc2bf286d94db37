"""courieresmtp items of issue 6 that had no test of their own (found by the audit of
issue 6): the timeouts esmtptimeoutconnect, esmtptimeouthelo, esmtptimeout,
esmtptimeoutdata and esmtptimeoutquit against hand-written peers that go silent at one
step (each timeout is set to 2 s; the defaults are 60 s and more, so a peer that sees
the connection closed within a few seconds proves the file was obeyed), PIPELINING used
only when the peer offers it, /SECURITY=STARTTLS with a peer without STARTTLS, and no
AUTH in the clear to a peer whose STARTTLS failed."""

import os
import re
import select
import socket
import sys
import threading
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
import harness  # noqa: E402
from smtp_peer import submit_message  # noqa: E402

NET = "127.0.12."
TIMEOUT = 2


class ScriptPeer:
    """An SMTP peer on host (a free port) that answers normally except where told to
    go silent: greet=False (no greeting), silent_at={"MAIL", "DATAEND", "QUIT"}.
    ehlo lists the extension lines it offers. Records per connection: the time it
    opened and closed, each chunk read, each command line and the time of chosen steps."""

    def __init__(self, host, greet=True, silent_at=(), ehlo=("8BITMIME",), mail_delay=0.0):
        self.host, self.greet, self.silent_at = host, greet, set(silent_at)
        self.ehlo, self.mail_delay = list(ehlo), mail_delay
        self.conns = []
        self.messages = []
        self.lock = threading.Lock()
        self.sock = socket.socket()
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind((host, 0))
        self.port = self.sock.getsockname()[1]
        self.sock.listen(16)
        self.sock.settimeout(0.2)
        self.running = True
        self.threads = [threading.Thread(target=self.accept_loop, daemon=True)]
        self.threads[0].start()

    def accept_loop(self):
        while self.running:
            try:
                conn, _ = self.sock.accept()
            except socket.timeout:
                continue
            except OSError:
                return
            t = threading.Thread(target=self.serve, args=(conn,), daemon=True)
            self.threads.append(t)
            t.start()

    def serve(self, conn):
        rec = dict(opened=time.monotonic(), closed=None, chunks=[], commands=[], marks={})
        with self.lock:
            self.conns.append(rec)
        conn.settimeout(30)
        try:
            if self.greet:
                conn.sendall(b"220 peer.test ESMTP\r\n")
            buf, data = b"", None
            while True:
                try:
                    chunk = conn.recv(65536)
                except (socket.timeout, OSError):
                    break
                if not chunk:
                    break
                rec["chunks"].append(chunk)
                buf += chunk
                while True:
                    if data is not None:
                        end = buf.find(b"\r\n.\r\n")
                        if end < 0:
                            break
                        data += buf[:end + 2]
                        buf = buf[end + 5:]
                        rec["marks"]["dataend"] = time.monotonic()
                        with self.lock:
                            self.messages.append(data)
                        data = None
                        if "DATAEND" not in self.silent_at:
                            conn.sendall(b"250 2.0.0 ok\r\n")
                        continue
                    if b"\r\n" not in buf:
                        break
                    line, buf = buf.split(b"\r\n", 1)
                    cmd = line.decode(errors="replace")
                    rec["commands"].append(cmd)
                    verb = cmd.split(" ", 1)[0].upper()
                    if verb == "EHLO":
                        lines = ["peer.test"] + self.ehlo
                        conn.sendall("".join(f"250{'-' if i < len(lines) - 1 else ' '}{x}\r\n"
                                             for i, x in enumerate(lines)).encode())
                    elif verb == "HELO":
                        conn.sendall(b"250 peer.test\r\n")
                    elif verb == "STARTTLS":
                        conn.sendall(b"454 4.7.0 TLS not available right now\r\n")
                    elif verb == "AUTH":
                        conn.sendall(b"235 2.7.0 ok\r\n")
                    elif verb == "MAIL":
                        rec["marks"]["mail"] = time.monotonic()
                        rec["marks"]["chunks_at_mail"] = len(rec["chunks"])
                        if "MAIL" in self.silent_at:
                            continue
                        time.sleep(self.mail_delay)
                        # What the client sent before getting this reply (pipelined).
                        readable, _, _ = select.select([conn], [], [], 0)
                        early = conn.recv(65536, socket.MSG_PEEK) if readable else b""
                        rec["marks"]["before_mail_reply"] = buf + early
                        conn.sendall(b"250 2.1.0 ok\r\n")
                    elif verb == "RCPT":
                        conn.sendall(b"250 2.1.5 ok\r\n")
                    elif verb == "DATA":
                        data = b""
                        conn.sendall(b"354 go ahead\r\n")
                    elif verb == "QUIT":
                        rec["marks"]["quit"] = time.monotonic()
                        if "QUIT" not in self.silent_at:
                            conn.sendall(b"221 2.0.0 bye\r\n")
                            return
                    else:
                        conn.sendall(b"250 2.0.0 ok\r\n")
        finally:
            rec["closed"] = time.monotonic()
            conn.close()

    def stop(self):
        self.running = False
        self.sock.close()
        for t in self.threads:
            t.join(5)


class AuditOutboundTest(harness.InstanceTestCase):
    start_esmtpd = False

    @classmethod
    def configure(cls, mta):
        cls.peers = {}
        cls.blackhole = None
        cls.fillers = []
        try:
            cls.peers["nogreet"] = ScriptPeer(NET + "2", greet=False)
            cls.peers["mailstall"] = ScriptPeer(NET + "3", silent_at={"MAIL"})
            cls.peers["datastall"] = ScriptPeer(NET + "4", silent_at={"DATAEND"})
            cls.peers["quitstall"] = ScriptPeer(NET + "5", silent_at={"QUIT"})
            cls.peers["pipe"] = ScriptPeer(NET + "6", ehlo=["PIPELINING", "8BITMIME"])
            cls.peers["nopipe"] = ScriptPeer(NET + "7", mail_delay=0.5)
            cls.peers["plain"] = ScriptPeer(NET + "8")
            cls.peers["authclear"] = ScriptPeer(NET + "9", ehlo=["STARTTLS", "AUTH PLAIN LOGIN"])
            # A listener whose accept queue is full and that never accepts: further
            # SYNs are dropped, so a connection attempt hangs until the client gives up.
            cls.blackhole = socket.socket()
            cls.blackhole.bind((NET + "10", 0))
            cls.blackhole.listen(0)
            for _ in range(3):
                f = socket.socket()
                f.setblocking(False)
                f.connect_ex(cls.blackhole.getsockname())
                cls.fillers.append(f)
        except BaseException:
            cls.release()
            raise
        routes = [f"{name}.test: [{p.host}],{p.port}" for name, p in cls.peers.items()]
        routes[routes.index(f"plain.test: [{NET}8],{cls.peers['plain'].port}")] += " /SECURITY=STARTTLS"
        routes.append(f"blackhole.test: [{NET}10],{cls.blackhole.getsockname()[1]}")
        mta.write_config("esmtproutes", "\n".join(routes) + "\n")
        mta.write_config("esmtpauthclient", "authclear.test relayuser s3cret\n")
        mta.write_config("esmtpdelay", "0\n")
        for name in ("esmtptimeout", "esmtptimeoutconnect", "esmtptimeoutdata", "esmtptimeouthelo",
                     "esmtptimeoutquit"):
            mta.write_config(name, f"{TIMEOUT}\n")
        mta.write_config("esmtptimeoutkeepalive", "1\n")

    @classmethod
    def release(cls):
        for p in getattr(cls, "peers", {}).values():
            p.stop()
        for s in getattr(cls, "fillers", []):
            s.close()
        if getattr(cls, "blackhole", None):
            cls.blackhole.close()

    def send(self, rcpt, subject):
        submit_message(self.mta, "sender@client.example", [rcpt],
                       f"Subject: {subject}\nFrom: sender@client.example\n\nhello\n")

    def wait_log(self, pattern, timeout=40):
        rx = re.compile(pattern)
        return harness.wait_for(lambda: rx.search(self.mta.log_text()), timeout=timeout, what=pattern)

    def first_closed_conn(self, name):
        peer = self.peers[name]
        return harness.wait_for(lambda: next((c for c in list(peer.conns) if c["closed"]), None),
                                timeout=40, what=f"a closed connection at {name}")

    def assert_gave_up_after_timeout(self, start, end):
        waited = end - start
        self.assertGreaterEqual(waited, TIMEOUT - 0.5)
        self.assertLess(waited, TIMEOUT + 6)

    def test_esmtptimeouthelo_without_greeting(self):
        self.send("u@nogreet.test", "nogreet")
        self.wait_log(r"rcpt=<u@nogreet\.test> module=esmtp .*status=defer .*text=451 4\.4\.2 no greeting")
        c = self.first_closed_conn("nogreet")
        self.assert_gave_up_after_timeout(c["opened"], c["closed"])

    def test_esmtptimeout_when_mail_gets_no_reply(self):
        self.send("u@mailstall.test", "mailstall")
        self.wait_log(r"rcpt=<u@mailstall\.test> module=esmtp .*status=defer .*text=451 4\.4\.2 connection lost")
        c = self.first_closed_conn("mailstall")
        self.assert_gave_up_after_timeout(c["marks"]["mail"], c["closed"])

    def test_esmtptimeoutdata_when_the_end_of_data_gets_no_reply(self):
        self.send("u@datastall.test", "datastall")
        self.wait_log(r"rcpt=<u@datastall\.test> module=esmtp .*status=defer .*text=451 4\.4\.2 connection lost")
        c = self.first_closed_conn("datastall")
        self.assert_gave_up_after_timeout(c["marks"]["dataend"], c["closed"])
        self.assertNotRegex(self.mta.log_text(), r"rcpt=<u@datastall\.test> module=esmtp .*status=ok")

    def test_esmtptimeoutquit_when_quit_gets_no_reply(self):
        self.send("u@quitstall.test", "quitstall")
        self.wait_log(r"rcpt=<u@quitstall\.test> module=esmtp .*status=ok")
        c = self.first_closed_conn("quitstall")
        self.assertIn("quit", c["marks"])   # the idle session was ended with QUIT
        self.assert_gave_up_after_timeout(c["marks"]["quit"], c["closed"])

    def test_esmtptimeoutconnect(self):
        t0 = time.monotonic()
        self.send("u@blackhole.test", "blackhole")
        self.wait_log(r"rcpt=<u@blackhole\.test> module=esmtp .*status=defer .*text=451 4\.4\.1 cannot connect")
        waited = time.monotonic() - t0
        self.assertGreaterEqual(waited, TIMEOUT - 0.5)   # it did hang: not a refused connection
        self.assertLess(waited, TIMEOUT + 15)            # the default would be 60 s

    def test_pipelining_only_when_offered(self):
        self.send("u@pipe.test", "pipe")
        self.wait_log(r"rcpt=<u@pipe\.test> module=esmtp .*status=ok")
        c = self.peers["pipe"].conns[0]
        together = [ch for ch in c["chunks"] if b"MAIL FROM:" in ch]
        self.assertEqual(len(together), 1)
        self.assertIn(b"RCPT TO:<u@pipe.test>", together[0])   # one write: RFC 2920
        self.assertIn(b"RCPT TO:<u@pipe.test>", c["marks"]["before_mail_reply"])
        self.send("u@nopipe.test", "nopipe")
        self.wait_log(r"rcpt=<u@nopipe\.test> module=esmtp .*status=ok")
        c = self.peers["nopipe"].conns[0]
        # The peer waited 0.5 s before answering MAIL: nothing more came meanwhile.
        at_mail = c["marks"]["chunks_at_mail"]
        self.assertEqual(c["marks"]["before_mail_reply"], b"")
        self.assertTrue(any(b"RCPT TO:<u@nopipe.test>" in ch for ch in c["chunks"][at_mail:]))

    def test_security_starttls_with_a_peer_without_starttls_defers(self):
        self.send("u@plain.test", "securitystarttls")
        self.wait_log(r"rcpt=<u@plain\.test> module=esmtp .*status=defer .*text=451 4\.7\.4 .*does not offer STARTTLS")
        self.assertEqual(self.peers["plain"].messages, [])

    def test_no_auth_in_the_clear_after_a_failed_starttls(self):
        self.send("u@authclear.test", "authclear")
        self.wait_log(r"rcpt=<u@authclear\.test> module=esmtp .*status=ok")
        commands = [cmd for c in self.peers["authclear"].conns for cmd in c["commands"]]
        self.assertIn("STARTTLS", commands)
        self.assertFalse([cmd for cmd in commands if cmd.upper().startswith("AUTH")], commands)
        self.assertEqual(len(self.peers["authclear"].messages), 1)


if __name__ == "__main__":
    harness.main()
