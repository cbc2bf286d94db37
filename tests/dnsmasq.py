"""A real DNS server for tests: dnsmasq on a loopback port, serving only the records a
test gives it (MX, A, AAAA, TXT, PTR) and refusing to forward anything else.

    with DnsServer(mx=[("example.test", "mx1.example.test", 10)],
                   a=[("mx1.example.test", "127.0.0.2")]) as dns:
        ... point the MTA's resolver at ("127.0.0.1", dns.port) ...
"""

import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time


def _free_udp_port():
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as u, socket.socket() as t:
        u.bind(("127.0.0.1", 0))
        port = u.getsockname()[1]
        try:
            t.bind(("127.0.0.1", port))
        except OSError:
            return _free_udp_port()
        return port


class DnsServer:
    def __init__(self, mx=(), a=(), aaaa=(), txt=(), ptr=(), cname=()):
        """mx: (domain, host, preference); a/aaaa: (name, address); txt: (name, text);
        ptr: (reverse name e.g. 1.0.0.127.in-addr.arpa, target); cname: (alias, target)."""
        self.records = dict(mx=list(mx), a=list(a), aaaa=list(aaaa), txt=list(txt), ptr=list(ptr),
                            cname=list(cname))
        self.port = None
        self.proc = None
        self.dir = None

    def _config(self):
        lines = ["no-resolv", "no-hosts", "no-poll", "bind-interfaces", "listen-address=127.0.0.1",
                 f"port={self.port}", "log-queries", f"log-facility={self.dir}/dnsmasq.log",
                 "local=/#/"]   # answer only from these records: never forward
        for domain, host, pref in self.records["mx"]:
            lines.append(f"mx-host={domain},{host},{pref}")
        for name, addr in self.records["a"] + self.records["aaaa"]:
            lines.append(f"host-record={name},{addr}")
        for name, text in self.records["txt"]:
            quoted = '"' + text.replace('"', '\\"') + '"'
            lines.append(f"txt-record={name},{quoted}")
        for name, target in self.records["ptr"]:
            lines.append(f"ptr-record={name},{target}")
        for alias, target in self.records["cname"]:
            lines.append(f"cname={alias},{target}")
        return "\n".join(lines) + "\n"

    def start(self):
        self.dir = tempfile.mkdtemp(prefix="dnsmasq-test-")
        self.port = _free_udp_port()
        conf = os.path.join(self.dir, "dnsmasq.conf")
        with open(conf, "w") as f:
            f.write(self._config())
        self.proc = subprocess.Popen(["dnsmasq", "--keep-in-foreground", "--conf-file=" + conf,
                                      "--user=root", "--pid-file="],
                                     stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError("dnsmasq failed: " + self.proc.stderr.read().decode(errors="replace"))
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.2):
                    return self
            except OSError:
                time.sleep(0.05)
        self.stop()
        raise RuntimeError("dnsmasq did not start")

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        if self.dir:
            shutil.rmtree(self.dir, ignore_errors=True)
            self.dir = None

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()
