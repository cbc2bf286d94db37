"""Helpers for the courieresmtpd integration tests (issue 3): a raw SMTP client that
reads replies line by line (for pipelining and protocol-error tests), the TLS
certificate and userdb set-up through the MTA's own tools, and the extra services
esmtpd-msa and esmtpd-ssl on free loopback ports."""

import os
import socket
import ssl
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402


class RawSmtp:
    """A byte-level SMTP client: send anything, read whole (multi-line) replies."""

    def __init__(self, port, timeout=20, tls=False):
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=timeout)
        if tls:
            self.sock = client_tls_context().wrap_socket(self.sock)
        self.buf = b""

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def send(self, data):
        if isinstance(data, str):
            data = data.encode()
        self.sock.sendall(data)

    def line(self):
        while b"\n" not in self.buf:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise EOFError("connection closed; buffered: %r" % self.buf)
            self.buf += chunk
        line, self.buf = self.buf.split(b"\n", 1)
        return line.rstrip(b"\r").decode("utf-8", "replace")

    def reply(self):
        """One reply: (code, [text lines])."""
        lines = []
        while True:
            line = self.line()
            lines.append(line[4:])
            if len(line) < 4 or line[3] != "-":
                return int(line[:3]), lines

    def cmd(self, text):
        self.send(text + "\r\n")
        return self.reply()

    def closed_by_server(self):
        """True once the server has closed (reads EOF within the timeout)."""
        try:
            while True:
                chunk = self.sock.recv(65536)
                if not chunk:
                    return True
                self.buf += chunk
        except ConnectionResetError:
            return True
        except (socket.timeout, OSError):
            return False

    def starttls(self):
        self.sock = client_tls_context().wrap_socket(self.sock)


def client_tls_context():
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    return ctx


def make_certificate(mta):
    """etc/esmtpd.pem by mkesmtpdcert (EC key: quick); returns its path."""
    mta.run("sbin/mkesmtpdcert", "-ec", "-host", mta.me)
    return mta.path("etc", "esmtpd.pem")


def make_userdb(mta, accounts):
    """accounts: {name: password}. Hashes with userdbpw, compiles with makeuserdb."""
    lines = []
    for name, password in accounts.items():
        h = subprocess.run([mta.path("sbin/userdbpw")], input=password + "\n", capture_output=True,
                           text=True, check=True, env=mta.env).stdout.strip()
        c = subprocess.run([mta.path("sbin/userdbpw"), "-cram-md5"], input=password + "\n",
                           capture_output=True, text=True, check=True, env=mta.env).stdout.strip()
        lines.append(f"{name}\tsystempw={h}|crammd5pw={c}")
    mta.write_config("userdb", "\n".join(lines) + "\n")
    mta.run("sbin/makeuserdb")


def esmtpd_settings(mta, port, extra=()):
    return "\n".join(["ESMTPDSTART=YES", f"PORT=127.0.0.1.{port}", "ADDRESS=0", "MAXDAEMONS=40",
                      "MAXPERIP=40", 'TCPDOPTS="-nodnslookup"', *extra, ""])


def start_service(mta, name, extra=()):
    """Writes etc/<name> with a free port and runs sbin/<name> start; returns the port."""
    port = harness.free_port()
    mta.write_config(name, esmtpd_settings(mta, port, extra))
    mta.run("sbin/" + name, "start")

    def accepting():
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                return True
        except OSError:
            return False
    harness.wait_for(accepting, timeout=10, what=name + " to accept connections")
    return port


def stop_service(mta, name):
    mta.run("sbin/" + name, "stop", check=False)


def queue_texts(mta):
    out = []
    for p in mta.queue_files():
        with open(p, "rb") as f:
            out.append(f.read())
    return out
