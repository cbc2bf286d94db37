"""courieresmtpd items of issue 3 that had no test on the wire (found by the audit of
issue 3): esmtpgreeting and the vhost override of me/esmtpgreeting, the Received:
header of a message received by SMTP (HELO name, client address and reverse name,
queue id of the 250 reply, AUTH user with receivedauth), AUTH offered in the clear
when ESMTPAUTH says so, BODY=8BITMIME, HELO/VRFY/RSET/NOOP, and client certificates
with TLS_VERIFYPEER=REQUIREPEER; and of issue 2: `esmtpd start|stop` obeying
ESMTPDSTART, PORT, ADDRESS and MAXDAEMONS."""

import os
import re
import smtplib
import socket
import ssl
import subprocess
import sys
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
import harness  # noqa: E402
from esmtpd_support import (RawSmtp, esmtpd_settings, make_certificate, make_userdb,  # noqa: E402
                            start_service, stop_service)
from smtp_peer import TestCA  # noqa: E402

PASSWORD = "audit pass"


class AuditEsmtpdTest(harness.InstanceTestCase):
    @classmethod
    def configure(cls, mta):
        cls.user = mta.add_user()
        cls.rcpt = f"{cls.user}@{mta.me}"
        cls.ca = TestCA()
        cls.other_ca = TestCA()
        make_certificate(mta)
        make_userdb(mta, {"alice": PASSWORD})
        mta.write_config("esmtpd", esmtpd_settings(mta, mta.port, [
            "ESMTPAUTH=PLAIN", "ESMTPAUTH_DELAY=0", "ESMTP_ERROR_DELAY=0"]))

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        try:
            cls.ssl_port = start_service(cls.mta, "esmtpd-ssl", [
                "ESMTP_IMPLICIT_TLS=1", "TLS_VERIFYPEER=REQUIREPEER", f"TLS_TRUSTCERTS={cls.ca.ca_cert}"])
            cls.peer_port = start_service(cls.mta, "esmtpd-msa", [
                "ESMTP_IMPLICIT_TLS=1", "TLS_VERIFYPEER=PEER", f"TLS_TRUSTCERTS={cls.ca.ca_cert}"])
        except BaseException:
            cls.mta.stop()
            cls.release()
            raise

    @classmethod
    def release(cls):
        for ca in (getattr(cls, "ca", None), getattr(cls, "other_ca", None)):
            if ca:
                ca.cleanup()

    @classmethod
    def tearDownClass(cls):
        stop_service(cls.mta, "esmtpd-ssl")
        stop_service(cls.mta, "esmtpd-msa")
        super().tearDownClass()

    def config_file(self, name, text):
        self.mta.write_config(name, text)
        self.addCleanup(lambda: os.path.exists(self.mta.path("etc", name)) and
                        os.unlink(self.mta.path("etc", name)))

    def greeting_and_ehlo(self):
        with RawSmtp(self.mta.port) as s:
            code, text = s.reply()
            self.assertEqual(code, 220)
            ecode, etext = s.cmd("EHLO client.example")
            self.assertEqual(ecode, 250)
            s.cmd("QUIT")
            return text[0], etext[0]

    def send(self, subject, login=False, helo="client.example"):
        """Sends one message; returns the queue id of the 250 reply and the delivered bytes."""
        before = len(self.mta.delivered(self.user))
        with smtplib.SMTP("127.0.0.1", self.mta.port, local_hostname=helo, timeout=20) as s:
            s.ehlo(helo)
            if login:
                s.login("alice", PASSWORD)
            s.mail("s@remote.example")
            s.rcpt(self.rcpt)
            code, text = s.data(f"Subject: {subject}\r\n\r\nbody\r\n")
            self.assertEqual(code, 250, text)
        qid = text.decode().split()[-1]
        got = self.mta.wait_delivered(self.user, before + 1)
        mine = [d for _, d in got if f"Subject: {subject}".encode() in d]
        self.assertEqual(len(mine), 1)
        return qid, mine[0]

    def received(self, data):
        """The first Received: header, unfolded."""
        m = re.search(rb"^Received:(.*(?:\n[ \t].*)*)", data, re.M)
        self.assertIsNotNone(m, data)
        return " ".join(m.group(1).decode().split())

    def test_greeting_from_esmtpgreeting_and_the_vhost(self):
        greeting, ehlo = self.greeting_and_ehlo()
        self.assertEqual((greeting, ehlo), (f"{self.mta.me} ESMTP", self.mta.me))
        # vhost.<local ip>: me.<ip> replaces me (greeting and EHLO).
        self.config_file("vhost.127.0.0.1", "")
        self.config_file("me.127.0.0.1", "vhost.example\n")
        self.assertEqual(self.greeting_and_ehlo(), ("vhost.example ESMTP", "vhost.example"))
        # esmtpgreeting applies where no esmtpgreeting.<ip> exists (as ipout does) ...
        self.config_file("esmtpgreeting", "Audit greeting here\n")
        self.assertEqual(self.greeting_and_ehlo(), ("Audit greeting here", "vhost.example"))
        # ... and esmtpgreeting.<ip> wins over it.
        self.config_file("esmtpgreeting.127.0.0.1", "Vhost greeting\n")
        self.assertEqual(self.greeting_and_ehlo()[0], "Vhost greeting")
        # Without vhost.<ip> the .<ip> files are not used.
        os.unlink(self.mta.path("etc", "vhost.127.0.0.1"))
        self.assertEqual(self.greeting_and_ehlo(), ("Audit greeting here", self.mta.me))

    def test_received_header_of_an_smtp_message(self):
        qid, data = self.send("rcvd plain", helo="helo-name.example")
        rcvd = self.received(data)
        self.assertIn("from helo-name.example (", rcvd)
        self.assertIn("[127.0.0.1])", rcvd)
        self.assertIn(f"by {self.mta.me} with ESMTP id {qid}", rcvd)
        self.assertIn(f"for <{self.rcpt}>;", rcvd)
        self.assertNotIn("AUTH:", rcvd)

    def test_auth_in_the_clear_when_esmtpauth_allows_it_and_receivedauth(self):
        with smtplib.SMTP("127.0.0.1", self.mta.port, timeout=20) as s:
            s.ehlo("c")
            self.assertEqual(s.esmtp_features["auth"].split(), ["PLAIN"])
        qid, data = self.send("rcvd auth hidden", login=True)
        self.assertIn(f"with ESMTPA id {qid}", self.received(data))
        self.assertNotIn("AUTH: alice", self.received(data))
        self.config_file("receivedauth", "")
        qid, data = self.send("rcvd auth shown", login=True)
        rcvd = self.received(data)
        self.assertIn("(AUTH: alice)", rcvd)
        self.assertIn(f"with ESMTPA id {qid}", rcvd)

    def test_body_8bitmime(self):
        before = len(self.mta.delivered(self.user))
        body = "Subject: eight bit\r\n\r\ncaf\u00e9 \u00fcber\r\n".encode()
        with RawSmtp(self.mta.port) as s:
            s.reply()
            s.cmd("EHLO c")
            self.assertEqual(s.cmd("MAIL FROM:<s@remote.example> BODY=BOGUS")[0] // 100, 5)
            self.assertEqual(s.cmd("MAIL FROM:<s@remote.example> BODY=8BITMIME")[0], 250)
            self.assertEqual(s.cmd(f"RCPT TO:<{self.rcpt}>")[0], 250)
            self.assertEqual(s.cmd("DATA")[0], 354)
            s.send(body + b".\r\n")
            self.assertEqual(s.reply()[0], 250)
            s.cmd("QUIT")
        got = self.mta.wait_delivered(self.user, before + 1)
        self.assertTrue(any(d.endswith(b"\n\ncaf\xc3\xa9 \xc3\xbcber\n") for _, d in got))

    def test_helo_vrfy_noop_rset_on_the_wire(self):
        with RawSmtp(self.mta.port) as s:
            s.reply()
            code, text = s.cmd("HELO client.example")
            self.assertEqual((code, text[0]), (250, self.mta.me))
            code, text = s.cmd(f"VRFY {self.user}")
            self.assertEqual((code, text[0][:5]), (252, "2.5.2"))
            self.assertEqual(s.cmd("VRFY")[0], 501)
            self.assertEqual(s.cmd("MAIL FROM:<s@remote.example>")[0], 250)
            self.assertEqual(s.cmd("RSET")[0], 250)
            self.assertEqual(s.cmd(f"RCPT TO:<{self.rcpt}>")[0], 503)   # RSET ended the transaction
            self.assertEqual(s.cmd("NOOP")[0], 250)
            self.assertEqual(s.cmd("QUIT")[0], 221)

    def tls_greeting(self, cert=None, port=None):
        """The first bytes the implicit-TLS service (on `port`, default the REQUIREPEER
        one) sends to a client with `cert` ((cert, key) or None); b"" when the handshake
        or the session is refused."""
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
        if cert:
            ctx.load_cert_chain(*cert)
        raw = socket.create_connection(("127.0.0.1", port or self.ssl_port), timeout=20)
        try:
            with ctx.wrap_socket(raw) as s:
                return s.recv(100)
        except (ssl.SSLError, ConnectionResetError, BrokenPipeError):
            return b""
        finally:
            raw.close()

    def test_client_certificate_required(self):
        self.assertTrue(self.tls_greeting(self.ca.server_cert("client.example")).startswith(b"220 "))
        self.assertEqual(self.tls_greeting(None), b"")
        self.assertEqual(self.tls_greeting(self.other_ca.server_cert("stranger.example")), b"")

    def test_client_certificate_checked_when_presented(self):
        # TLS_VERIFYPEER=PEER: no certificate is fine, a trusted one is logged, an
        # untrusted one ends the handshake.
        self.assertTrue(self.tls_greeting(None, self.peer_port).startswith(b"220 "))
        self.assertTrue(self.tls_greeting(self.ca.server_cert("peer.example"), self.peer_port).startswith(b"220 "))
        harness.wait_for(lambda: "verified=yes" in self.mta.log_text(), timeout=10, what="the log line")
        self.assertRegex(self.mta.log_text(), r"tls status=ok .*client-cert=\S*CN=peer\.example\S* verified=yes")
        self.assertEqual(self.tls_greeting(self.other_ca.server_cert("stranger.example"), self.peer_port), b"")


class AuditEsmtpdStartTest(unittest.TestCase):
    """The esmtpd settings file of issue 2, as the kernel and a client see them."""

    @classmethod
    def setUpClass(cls):
        cls.mta = harness.Instance()

    @classmethod
    def tearDownClass(cls):
        cls.mta.stop()

    def listeners(self, port):
        out = subprocess.run(["ss", "-ltnH", f"sport = :{port}"], capture_output=True, text=True,
                             check=True, timeout=10).stdout
        return [line.split()[3].rsplit(":", 1)[0] for line in out.splitlines() if line.startswith("LISTEN")]

    def test_esmtpdstart_port_address_and_maxdaemons(self):
        port = harness.free_port()
        settings = ["PORT=" + str(port), "ADDRESS=127.0.0.1", "MAXDAEMONS=2", "MAXPERIP=10",
                    'TCPDOPTS="-nodnslookup"']
        self.mta.write_config("esmtpd", "\n".join(["ESMTPDSTART=NO"] + settings + [""]))
        r = self.mta.run("sbin/esmtpd", "start", check=False)
        self.assertIn("not starting", r.stdout + r.stderr)
        self.assertEqual(self.listeners(port), [])
        self.mta.write_config("esmtpd", "\n".join(["ESMTPDSTART=YES"] + settings + [""]))
        self.mta.run("sbin/esmtpd", "start")
        try:
            harness.wait_for(lambda: self.listeners(port), what="esmtpd to listen")
            self.assertEqual(self.listeners(port), ["127.0.0.1"])   # ADDRESS, not the wildcard
            held = []
            try:
                for _ in range(2):
                    s = RawSmtp(port)
                    held.append(s)
                    self.assertEqual(s.reply()[0], 220)
                third = RawSmtp(port, timeout=1)
                held.append(third)
                with self.assertRaises(socket.timeout):   # MAXDAEMONS=2: it waits
                    third.reply()
                held[0].cmd("QUIT")
                held[0].close()
                third.sock.settimeout(20)
                self.assertEqual(third.reply()[0], 220)
            finally:
                for s in held:
                    s.close()
        finally:
            self.mta.run("sbin/esmtpd", "stop", check=False)
        harness.wait_for(lambda: not self.listeners(port), what="esmtpd stop to close the port")

    def test_received_names_the_client_by_its_reverse_name(self):
        # DNS lookups on (no -nodnslookup): couriertcpd's TCPREMOTEHOST reaches Received:.
        # The resolver library answers the reverse zone of 127.0.0.1 itself (localhost).
        user = self.mta.add_user()
        port = harness.free_port()
        self.mta.write_config("esmtpd", f"ESMTPDSTART=YES\nPORT=127.0.0.1.{port}\nTCPDOPTS=\n")
        self.mta.run("sbin/esmtpd", "start")
        try:
            harness.wait_for(lambda: self.listeners(port), what="esmtpd to listen")
            with smtplib.SMTP("127.0.0.1", port, local_hostname="helo.example", timeout=20) as s:
                s.sendmail("s@remote.example", [f"{user}@{self.mta.me}"], "Subject: rdns\r\n\r\nhi\r\n")
        finally:
            self.mta.run("sbin/esmtpd", "stop", check=False)
        # courierd is not running here: the message waits in the queue.
        queued = b""
        for path in self.mta.queue_files():
            with open(path, "rb") as f:
                queued += f.read()
        m = re.search(rb"^Received:(.*(?:\n[ \t].*)*)", queued, re.M)
        self.assertIsNotNone(m, queued)
        self.assertIn("from helo.example (localhost [127.0.0.1])", " ".join(m.group(1).decode().split()))


if __name__ == "__main__":
    harness.main()
