"""A real SMTP peer for outbound tests: aiosmtpd (python3-aiosmtpd) on a loopback
address, recording each message with its envelope, the client's address, the EHLO
name, and whether TLS and AUTH were used. It can refuse recipients with configured
replies, offer STARTTLS or speak SMTPS with a certificate from a test CA, and require
AUTH (PLAIN, LOGIN).

    with SmtpPeer("127.0.0.2", port) as peer:
        ... peer.messages[0]["client"] == "127.0.0.1" ...
"""

import os
import shutil
import ssl
import subprocess
import sys
import tempfile
import threading

try:
    from aiosmtpd.controller import Controller
    from aiosmtpd.smtp import SMTP, AuthResult, LoginPassword
except ImportError:   # a python3 outside Debian's (e.g. pyenv): use Debian's package
    sys.path.append("/usr/lib/python3/dist-packages")
    from aiosmtpd.controller import Controller
    from aiosmtpd.smtp import SMTP, AuthResult, LoginPassword


def xtext(s):
    return "".join(c if "!" <= c <= "~" and c not in "+=" else "+%02X" % ord(c) for c in s)


def submit_message(mta, sender, rcpts, data, local_ip=None, source="local", mail_params="", rcpt_params=None):
    """Queues a message through the instance's submit program (doc/architecture.md,
    "The submit protocol"); returns submit's final reply line."""
    import subprocess
    lines = []
    if local_ip:
        lines.append(f"session local-ip {xtext(local_ip)}")
    lines.append(f"mail {xtext(sender)}" + (" " + mail_params if mail_params else ""))
    rcpt_params = rcpt_params or {}
    lines += [f"rcpt {xtext(r)}" + (" " + rcpt_params[r] if r in rcpt_params else "") for r in rcpts]
    lines.append("data")
    payload = ("\n".join(lines) + "\n").encode()
    body = data.encode() if isinstance(data, str) else data
    payload += f"chunk {len(body)}\n".encode() + body + b"chunk 0\nquit\n"
    r = subprocess.run([mta.path("libexec", "submit"), source], input=payload, env=mta.env,
                       capture_output=True, timeout=30)
    out = r.stdout.decode(errors="replace").splitlines()
    if not out or not out[-1].startswith("250"):
        raise AssertionError(f"submit refused the message: {out} {r.stderr!r}")
    return out[-1]


class TestCA:
    """A throwaway CA and one server certificate per host name (openssl CLI)."""

    def __init__(self):
        self.dir = tempfile.mkdtemp(prefix="testca-")
        os.chmod(self.dir, 0o755)   # the MTA reads the CA certificate as the mail user
        self.ca_cert = os.path.join(self.dir, "ca.pem")
        key = os.path.join(self.dir, "ca.key")
        self._run("req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
                  "-keyout", key, "-out", self.ca_cert, "-days", "2", "-subj", "/CN=Courier Test CA")
        os.chmod(self.ca_cert, 0o644)
        self.ca_key = key

    def _run(self, *args):
        subprocess.run(["openssl", *args], check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

    def server_cert(self, name):
        """(cert, key) for `name`, signed by this CA."""
        key = os.path.join(self.dir, name + ".key")
        csr = os.path.join(self.dir, name + ".csr")
        cert = os.path.join(self.dir, name + ".pem")
        ext = os.path.join(self.dir, name + ".ext")
        with open(ext, "w") as f:
            f.write(f"subjectAltName=DNS:{name}\n")
        self._run("req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-keyout", key,
                  "-out", csr, "-subj", "/CN=" + name)
        self._run("x509", "-req", "-in", csr, "-CA", self.ca_cert, "-CAkey", self.ca_key, "-CAcreateserial",
                  "-out", cert, "-days", "2", "-extfile", ext)
        return cert, key

    def cleanup(self):
        shutil.rmtree(self.dir, ignore_errors=True)


class _Handler:
    def __init__(self, peer):
        self.peer = peer

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        reply = self.peer.rcpt_replies.get(address.lower())
        if reply:
            return reply
        envelope.rcpt_tos.append(address)
        envelope.rcpt_options.extend(rcpt_options)
        return "250 2.1.5 OK"

    async def handle_DATA(self, server, session, envelope):
        with self.peer.lock:
            self.peer.messages.append(dict(
                sender=envelope.mail_from, rcpts=list(envelope.rcpt_tos), data=envelope.content,
                mail_options=list(envelope.mail_options), client=session.peer[0], client_port=session.peer[1],
                helo=session.host_name,
                tls=server.transport.get_extra_info("ssl_object") is not None or session.ssl is not None,
                auth=session.auth_data.login.decode() if session.auth_data else None))
        return self.peer.data_reply


class _Smtp(SMTP):
    """aiosmtpd's SMTP with optional suppression of 8BITMIME (a 7-bit peer)."""

    def __init__(self, *a, no_8bit=False, broken_starttls=False, peer=None, requiretls=False, **kw):
        super().__init__(*a, **kw)
        self._requiretls = requiretls
        self._no_8bit = no_8bit
        self._broken_starttls = broken_starttls
        self._peer = peer

    async def auth_CRAM__MD5(self, _, args):   # aiosmtpd: "__" names "-"
        """RFC 2195, which aiosmtpd lacks: offered when the peer requires AUTH."""
        import hmac
        import hashlib
        challenge = b"<4711.1700000000@peer.test>"
        resp = await self.challenge_auth(challenge)
        if not isinstance(resp, bytes) or b" " not in resp:
            return AuthResult(success=False)
        user, digest = resp.rsplit(b" ", 1)
        user_ok = self._peer.auth and user.decode() == self._peer.auth[0]
        want = hmac.new(self._peer.auth[1].encode(), challenge, hashlib.md5).hexdigest().encode() if user_ok else b""
        if not user_ok or not hmac.compare_digest(want, digest):
            return AuthResult(success=False)
        self._peer.auth_mechanisms.append("CRAM-MD5")
        return AuthResult(success=True, auth_data=LoginPassword(user, b""))

    async def smtp_STARTTLS(self, arg):
        if self._broken_starttls:   # advertise it, then fail it
            await self.push("454 4.7.0 TLS not available after all")
            self.transport.close()
            return
        return await super().smtp_STARTTLS(arg)

    def _getparams(self, params):
        """REQUIRETLS (RFC 8689) is accepted when offered; it stays in mail_options."""
        result = super()._getparams(params)
        if result is not None and self._requiretls and self._tls_protocol:
            result.pop("REQUIRETLS", None)
        return result

    async def push(self, status):
        if self._requiretls and self._tls_protocol and status == "250 HELP":
            await super().push("250-REQUIRETLS")   # RFC 8689: advertised only under TLS
        if self._no_8bit and "8BITMIME" in status:
            status = status.replace("250-8BITMIME", "250-X-NO-8BIT")
        return await super().push(status)


class SmtpPeer:
    def __init__(self, host, port, starttls=None, smtps=None, auth=None, rcpt_replies=None,
                 data_reply="250 2.0.0 OK queued", no_8bit=False, broken_starttls=False, size_limit=None,
                 smtputf8=True, requiretls=False):
        """starttls/smtps: (cert, key) to offer STARTTLS / to speak TLS at once.
        auth: (user, password) that AUTH must present (AUTH required).
        rcpt_replies: {address: "550 5.1.1 ..."} replies for chosen recipients.
        broken_starttls: offer STARTTLS, then drop the connection when it is used.
        requiretls: after STARTTLS, advertise REQUIRETLS and accept it on MAIL FROM."""
        self.host, self.port = host, port
        self.messages = []
        self.lock = threading.Lock()
        self.rcpt_replies = {k.lower(): v for k, v in (rcpt_replies or {}).items()}
        self.data_reply = data_reply
        self.starttls, self.smtps, self.auth = starttls, smtps, auth
        self.no_8bit, self.broken_starttls = no_8bit, broken_starttls
        self.size_limit = size_limit
        self.smtputf8 = smtputf8
        self.requiretls = requiretls
        self.auth_mechanisms = []   # mechanisms of successful AUTHs the peer handled itself
        self.controller = None

    def _context(self, pair):
        ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        ctx.load_cert_chain(*pair)
        return ctx

    def _authenticator(self, server, session, envelope, mechanism, auth_data):
        ok = self.auth and auth_data.login.decode() == self.auth[0] and auth_data.password.decode() == self.auth[1]
        return AuthResult(success=bool(ok), handled=False, auth_data=auth_data)

    def start(self):
        peer = self
        import warnings
        warnings.filterwarnings("ignore", message="Requiring AUTH while not requiring TLS")
        kwargs = dict(enable_SMTPUTF8=True, auth_require_tls=False)
        if self.size_limit:
            kwargs["data_size_limit"] = self.size_limit
        if not self.smtputf8:
            kwargs["enable_SMTPUTF8"] = False
        if self.starttls:
            kwargs["tls_context"] = self._context(self.starttls)
        if self.auth:
            kwargs.update(auth_required=True, authenticator=self._authenticator)
        else:
            kwargs["auth_exclude_mechanism"] = ["CRAM-MD5"]

        class _Controller(Controller):
            def factory(self):
                return _Smtp(self.handler, no_8bit=peer.no_8bit, broken_starttls=peer.broken_starttls,
                             peer=peer, requiretls=peer.requiretls, **self.SMTP_kwargs)

        ssl_ctx = self._context(self.smtps) if self.smtps else None
        if self.broken_starttls and not self.starttls:
            raise ValueError("broken_starttls needs starttls=(cert, key)")
        self.controller = _Controller(_Handler(self), hostname=self.host, port=self.port,
                                      ssl_context=ssl_ctx, **kwargs)
        self.controller.start()
        return self

    def stop(self):
        if self.controller:
            self.controller.stop()
            self.controller = None

    def wait_messages(self, n, timeout=30):
        import harness
        harness.wait_for(lambda: len(self.messages) >= n, timeout=timeout, what=f"{n} messages at {self.host}")
        return self.messages

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()


class RawPeer:
    """A small hand-written SMTP server for the extensions aiosmtpd lacks: it offers
    PIPELINING, 8BITMIME, DSN and CHUNKING, records MAIL/RCPT command lines verbatim
    and the message of each transaction (DATA or BDAT), with the client's address.
    It also records every command of every connection (`sessions`: a list of
    {"client", "commands"}) and the most connections it had open at once
    (`max_active`). A message's "helo" is the EHLO or HELO command line that
    preceded it. host may be an IPv6 address (e.g. "::1"); port 0 picks a free one
    (`port` is then set to it).
    ehlo_reply: a reply to EHLO instead of 250 (e.g. "502 5.5.1 no EHLO here": a
    peer that only knows HELO). data_delay: seconds to wait before answering the end
    of DATA (a slow peer)."""

    def __init__(self, host, port, ehlo_reply=None, data_delay=0):
        import socket
        import socketserver
        import time
        self.host, self.port = host, port
        self.messages = []
        self.sessions = []
        self.active = self.max_active = 0
        self.lock = threading.Lock()
        peer = self

        class Handler(socketserver.StreamRequestHandler):
            def handle(self):
                with peer.lock:
                    peer.active += 1
                    peer.max_active = max(peer.max_active, peer.active)
                    session = dict(client=self.client_address[0], commands=[])
                    peer.sessions.append(session)
                try:
                    self.converse(session)
                finally:
                    with peer.lock:
                        peer.active -= 1

            def converse(self, session):
                w = self.wfile
                w.write(b"220 raw.test ESMTP\r\n")
                cur = dict(commands=[], data=b"", bdat=[], client=self.client_address[0], helo=None)
                while True:
                    line = self.rfile.readline(10000)
                    if not line:
                        return
                    cmd = line.rstrip(b"\r\n").decode(errors="replace")
                    verb = cmd.split(" ", 1)[0].upper()
                    session["commands"].append(cmd)
                    if verb == "EHLO" and ehlo_reply:
                        w.write(ehlo_reply.encode() + b"\r\n")
                    elif verb == "EHLO":
                        cur["helo"] = cmd
                        w.write(b"250-raw.test\r\n250-PIPELINING\r\n250-8BITMIME\r\n250-DSN\r\n250 CHUNKING\r\n")
                    elif verb == "HELO":
                        cur["helo"] = cmd
                        w.write(b"250 raw.test\r\n")
                    elif verb in ("MAIL", "RCPT"):
                        cur["commands"].append(cmd)
                        w.write(b"250 2.1.0 ok\r\n")
                    elif verb == "DATA":
                        w.write(b"354 go\r\n")
                        w.flush()
                        data = b""
                        while True:
                            dl = self.rfile.readline(100000)
                            if not dl or dl == b".\r\n":
                                break
                            data += dl[1:] if dl.startswith(b"..") else dl
                        cur["data"] = data
                        if data_delay:
                            time.sleep(data_delay)
                        peer.messages.append(cur)
                        cur = dict(commands=[], data=b"", bdat=[], client=cur["client"], helo=cur["helo"])
                        w.write(b"250 2.0.0 data ok\r\n")
                    elif verb == "BDAT":
                        parts = cmd.split()
                        n = int(parts[1])
                        cur["data"] += self.rfile.read(n)
                        cur["bdat"].append(cmd)
                        if len(parts) > 2 and parts[2].upper() == "LAST":
                            if data_delay:
                                time.sleep(data_delay)
                            peer.messages.append(cur)
                            cur = dict(commands=[], data=b"", bdat=[], client=cur["client"], helo=cur["helo"])
                            w.write(b"250 2.0.0 bdat ok\r\n")
                        else:
                            w.write(b"250 2.0.0 chunk ok\r\n")
                    elif verb == "QUIT":
                        w.write(b"221 bye\r\n")
                        return
                    else:
                        w.write(b"250 ok\r\n")
                    w.flush()

        class Server(socketserver.ThreadingTCPServer):
            allow_reuse_address = True
            daemon_threads = True
            address_family = socket.AF_INET6 if ":" in host else socket.AF_INET

        self.server = Server((host, port), Handler)
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def start(self):
        self.thread.start()
        return self

    def stop(self):
        self.server.shutdown()
        self.server.server_close()

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()
