"""Support for the couriertcpd tests (tests/integration/test_tcpd_*.py): a couriertcpd
run in the foreground inside a harness instance, with a small shell program per
connection, clients bound to chosen loopback addresses, and a real HAProxy
(`haproxy -f cfg -db`) in front of it.

    mta = harness.Instance()            # not started: only its root, log and programs
    with Tcpd(mta, ["-nodnslookup"], ENV_PROGRAM) as t:
        print(client(t.port, source="127.0.0.2"))
"""

import os
import signal
import socket
import subprocess
import tempfile
import time

import harness

# Prints a greeting and its environment, then ends: what the program saw.
ENV_PROGRAM = "#!/bin/sh\necho hello\nenv | sort\n"
# Prints a greeting and waits for a line (or the end of the connection).
HOLD_PROGRAM = "#!/bin/sh\necho hello\nread line\necho bye\n"


def write_program(mta, name, text):
    path = mta.path("bin", name)
    with open(path, "w") as f:
        f.write(text)
    os.chmod(path, 0o755)
    return path


def log_count(mta, needle):
    return mta.log_text().count(needle)


class Tcpd:
    """couriertcpd in the foreground (or with -pid), listening on 127.0.0.1.<port>
    unless `ports` is given; stopped with SIGTERM, its children with it."""

    def __init__(self, mta, options, program_text, ports=None, env=None, port=None):
        self.mta = mta
        self.port = port or harness.free_port()
        self.ports = ports or f"127.0.0.1.{self.port}"
        self.program = write_program(mta, "prog%d" % self.port, program_text)
        self.options = list(options)
        self.env = dict(mta.env, **(env or {}))
        self.proc = None

    def start(self):
        before = log_count(self.mta, "started ports=" + self.ports)
        argv = [self.mta.path("sbin", "couriertcpd")] + self.options + [self.ports, self.program]
        self.proc = subprocess.Popen(argv, env=self.env, stdout=subprocess.DEVNULL,
                                     stderr=subprocess.PIPE, stdin=subprocess.DEVNULL)
        try:
            harness.wait_for(lambda: self.proc.poll() is not None or
                             log_count(self.mta, "started ports=" + self.ports) > before,
                             timeout=10, what="couriertcpd to start")
        except AssertionError:
            self.stop()
            raise
        if self.proc.poll() is not None and "-pid" not in " ".join(self.options):
            raise AssertionError("couriertcpd exited: " + self.proc.stderr.read().decode())
        return self

    def stop(self):
        stop_process(self.proc)

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()


def connect(port, source="127.0.0.1", host="127.0.0.1", timeout=20):
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    s = socket.socket(family, socket.SOCK_STREAM)
    s.settimeout(timeout)
    s.bind((source, 0))
    s.connect((host, port))
    return s


def read_all(s):
    data = b""
    while True:
        try:
            chunk = s.recv(65536)
        except ConnectionResetError:
            break
        if not chunk:
            break
        data += chunk
    return data


def client(port, source="127.0.0.1", host="127.0.0.1", send=b""):
    """Connects, sends `send`, returns everything read until the server closes."""
    with connect(port, source, host) as s:
        if send:
            s.sendall(send)
        return read_all(s).decode(errors="replace")


def environment(output):
    """NAME=value lines of ENV_PROGRAM's output as a dict."""
    env = {}
    for line in output.splitlines()[1:]:
        if "=" in line:
            k, v = line.split("=", 1)
            env[k] = v
    return env


def stop_process(proc):
    """SIGTERM, then SIGKILL after 10 s; closes its stderr pipe."""
    if proc and proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
    if proc and proc.stderr:
        proc.stderr.close()


class Haproxy:
    """Debian's haproxy in the foreground: listens on 127.0.0.1.<port> and forwards to
    127.0.0.1.<backend_port> (or round robin over a list of ports) with send-proxy or
    send-proxy-v2."""

    def __init__(self, backend_port, version=1):
        self.port = harness.free_port()
        self.backend_ports = backend_port if isinstance(backend_port, list) else [backend_port]
        self.version = version
        self.dir = tempfile.mkdtemp(prefix="haproxy-test-")
        self.proc = None

    def start(self):
        send = "send-proxy-v2" if self.version == 2 else "send-proxy"
        cfg = os.path.join(self.dir, "haproxy.cfg")
        with open(cfg, "w") as f:
            f.write("\n".join([
                "global", "    maxconn 100",
                "defaults", "    mode tcp", "    timeout connect 5s",
                "    timeout client 30s", "    timeout server 30s",
                "frontend fe", f"    bind 127.0.0.1:{self.port}", "    default_backend be",
                "backend be", "    balance roundrobin"] +
                [f"    server s{i} 127.0.0.1:{p} {send}" for i, p in enumerate(self.backend_ports)] +
                [""]))
        self.proc = subprocess.Popen(["haproxy", "-f", cfg, "-db"], stdout=subprocess.DEVNULL,
                                     stderr=subprocess.PIPE, stdin=subprocess.DEVNULL)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError("haproxy failed: " + self.proc.stderr.read().decode(errors="replace"))
            if listening(self.port):
                return self
            time.sleep(0.05)
        self.stop()
        raise RuntimeError("haproxy did not start")

    def stop(self):
        stop_process(self.proc)
        subprocess.run(["rm", "-rf", self.dir])

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()


def listening(port):
    """Whether something listens on 127.0.0.1:port, from /proc/net/tcp (no connection
    is made, so no backend connection is triggered)."""
    want = ":%04X" % port
    with open("/proc/net/tcp") as f:
        for line in f.readlines()[1:]:
            fields = line.split()
            if fields[1].endswith(want) and fields[3] == "0A":
                return True
    return False
