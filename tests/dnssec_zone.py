"""A real DNSSEC-signed test zone for DANE tests: the zone is signed with ldns-keygen and
ldns-signzone (Debian ldnsutils) and served, with an unsigned zone beside it, by nsd on
a loopback port, in a temporary folder with its own configuration (nsd runs in the
foreground as the caller, no chroot, no control socket).

The MTA's resolver (libunbound, lib/dns.cc) forwards to nsd (`dnsserver` =
127.0.0.1@port); nsd answers authoritatively for its zones and libunbound validates the
answers itself with the trust anchor file written by this helper (the zone's DS record,
named in the MTA's `dnssectrustanchor`). Names outside the signed zone are covered by no
trust anchor, so they come back insecure, never bogus: the unsigned zone is the
"opportunistic" case.

    zones = DnssecZones(signed={"dane.test": records}, unsigned={"plain.test": records}).start()
    mta.write_config("dnsserver", f"127.0.0.1@{zones.port}\\n")
    mta.write_config("dnssectrustanchor", zones.trust_anchor + "\\n")

records: zone-file lines relative to the zone ("mx.good 3600 IN A 127.0.8.2",
"_25._tcp.mx.good IN TLSA 3 1 1 <hex>"); spki_sha256(cert_pem) gives the "3 1 1" data.
tamper: {zone: [(old, new), ...]} text replaced in the signed zone after signing, so
the changed records no longer match their signatures (a "bogus" answer).
"""

import glob
import hashlib
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time

from dnsmasq import _free_udp_port


def spki_sha256(cert_pem):
    """SHA-256 (hex) of the DER SubjectPublicKeyInfo of a PEM certificate: the data of a
    TLSA "x 1 1" record."""
    pub = subprocess.run(["openssl", "x509", "-in", cert_pem, "-noout", "-pubkey"], check=True,
                         capture_output=True).stdout
    der = subprocess.run(["openssl", "pkey", "-pubin", "-outform", "DER"], input=pub, check=True,
                         capture_output=True).stdout
    return hashlib.sha256(der).hexdigest()


def cert_sha256(cert_pem):
    """SHA-256 (hex) of the DER certificate: the data of a TLSA "x 0 1" record."""
    der = subprocess.run(["openssl", "x509", "-in", cert_pem, "-outform", "DER"], check=True,
                         capture_output=True).stdout
    return hashlib.sha256(der).hexdigest()


class DnssecZones:
    def __init__(self, signed=None, unsigned=None, tamper=None):
        self.signed = dict(signed or {})
        self.tamper = dict(tamper or {})
        self.unsigned = dict(unsigned or {})
        self.dir = None
        self.proc = None
        self.port = None
        self.trust_anchor = None   # file with the DS records of the signed zones

    def _run(self, *argv):
        subprocess.run(list(argv), cwd=self.dir, check=True, stdout=subprocess.PIPE, stderr=subprocess.PIPE)

    def _zone_text(self, zone, records):
        head = [f"$ORIGIN {zone}.", "$TTL 300",
                f"@ IN SOA ns.{zone}. hostmaster.{zone}. 1 3600 600 86400 300",
                f"@ IN NS ns.{zone}.", "ns IN A 127.0.0.1"]
        return "\n".join(head + list(records)) + "\n"

    def _sign(self, zone, records):
        path = os.path.join(self.dir, zone)
        with open(path, "w") as f:
            f.write(self._zone_text(zone, records))
        # One key with the SEP flag signs everything (a combined signing key).
        out = subprocess.run(["ldns-keygen", "-a", "ECDSAP256SHA256", "-k", zone], cwd=self.dir, check=True,
                             capture_output=True, text=True).stdout.strip()
        self._run("ldns-signzone", "-n", "-f", path + ".signed", path, out)
        if self.tamper.get(zone):
            with open(path + ".signed") as f:
                text = f.read()
            for old, new in self.tamper[zone]:
                if old not in text:
                    raise ValueError(f"tamper: {old!r} not in the signed zone {zone}")
                text = text.replace(old, new)
            with open(path + ".signed", "w") as f:
                f.write(text)
        with open(os.path.join(self.dir, out + ".ds")) as f:
            return f.read()

    def _config(self):
        d = self.dir
        lines = ["server:", f"  ip-address: 127.0.0.1@{self.port}", f"  port: {self.port}",
                 '  username: ""', '  chroot: ""', f"  zonesdir: {d}", f"  pidfile: {d}/nsd.pid",
                 f'  database: ""', f"  zonelistfile: {d}/zone.list", f"  xfrdfile: {d}/xfrd.state",
                 f"  xfrdir: {d}", f"  logfile: {d}/nsd.log", "  verbosity: 2", "  server-count: 1",
                 "  tcp-count: 20", "remote-control:", "  control-enable: no"]
        for zone in self.signed:
            lines += ["zone:", f"  name: {zone}", f"  zonefile: {d}/{zone}.signed"]
        for zone in self.unsigned:
            lines += ["zone:", f"  name: {zone}", f"  zonefile: {d}/{zone}"]
        return "\n".join(lines) + "\n"

    def start(self):
        self.dir = tempfile.mkdtemp(prefix="nsd-test-")
        os.chmod(self.dir, 0o755)   # the MTA reads the trust anchor as the mail user
        self.port = _free_udp_port()
        anchors = [self._sign(z, r) for z, r in self.signed.items()]
        for zone, records in self.unsigned.items():
            with open(os.path.join(self.dir, zone), "w") as f:
                f.write(self._zone_text(zone, records))
        self.trust_anchor = os.path.join(self.dir, "trust-anchor.ds")
        with open(self.trust_anchor, "w") as f:
            f.write("".join(anchors))
        os.chmod(self.trust_anchor, 0o644)
        conf = os.path.join(self.dir, "nsd.conf")
        with open(conf, "w") as f:
            f.write(self._config())
        self.proc = subprocess.Popen(["nsd", "-d", "-c", conf], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                log = open(os.path.join(self.dir, "nsd.log")).read() if os.path.exists(os.path.join(self.dir, "nsd.log")) else ""
                raise RuntimeError("nsd failed: " + self.proc.stderr.read().decode(errors="replace") + log)
            if self._answers():
                return self
            time.sleep(0.1)
        self.stop()
        raise RuntimeError("nsd did not start")

    def _answers(self):
        """True once nsd answers a SOA query of the first zone over UDP."""
        zone = next(iter(self.signed or self.unsigned))
        qname = b"".join(bytes([len(p)]) + p.encode() for p in zone.split(".")) + b"\0"
        query = b"\x12\x34\x00\x00\x00\x01\x00\x00\x00\x00\x00\x00" + qname + b"\x00\x06\x00\x01"
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
            s.settimeout(0.3)
            try:
                s.sendto(query, ("127.0.0.1", self.port))
                reply = s.recv(4096)
            except OSError:
                return False
        return len(reply) > 12 and reply[:2] == b"\x12\x34" and (reply[3] & 0x0F) == 0

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        self.proc = None
        if self.dir:
            shutil.rmtree(self.dir, ignore_errors=True)
            self.dir = None

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()
