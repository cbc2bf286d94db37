"""courieresmtp MTA-STS (RFC 8461): a local HTTPS server (http.server + ssl, certificate
from a test CA the MTA trusts through TLS_TRUSTCERTS, port from `mtastsport`) serves the
policies of three domains; DNS (dnsmasq) has their _mta-sts TXT records. Enforce
delivers to an MX inside the policy, refuses one outside it (deferred, peer untouched);
testing delivers and logs the failure; the policy is cached in spool/mta-sts/<domain>
and the cache is used while the TXT id is unchanged."""

import http.server
import os
import re
import ssl
import sys
import threading

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
import harness  # noqa: E402
from dnsmasq import DnsServer  # noqa: E402
from smtp_peer import SmtpPeer, TestCA, submit_message  # noqa: E402

NET = "127.0.9."
WEB = NET + "1"


def policy(mode, *mx):
    return "version: STSv1\r\nmode: %s\r\n%smax_age: 86400\r\n" % (mode, "".join(f"mx: {m}\r\n" for m in mx))


class PolicyServer:
    """HTTPS on WEB:port answering GET /.well-known/mta-sts.txt by Host header."""

    def __init__(self, cert, key):
        self.policies = {}   # host -> (status, content type, body)
        self.requests = []
        server = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self):
                host = (self.headers.get("Host") or "").split(":")[0]
                server.requests.append((host, self.path))
                status, ctype, body = server.policies.get(host, (404, "text/plain", "not here"))
                if self.path != "/.well-known/mta-sts.txt":
                    status, ctype, body = 404, "text/plain", "not here"
                data = body.encode()
                self.send_response(status)
                self.send_header("Content-Type", ctype)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args):
                pass

        self.httpd = http.server.ThreadingHTTPServer((WEB, 0), Handler)
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(cert, key)
        self.httpd.socket = ctx.wrap_socket(self.httpd.socket, server_side=True)
        self.port = self.httpd.server_address[1]
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    def start(self):
        self.thread.start()
        return self

    def stop(self):
        self.httpd.shutdown()
        self.httpd.server_close()


class MtaStsTest(harness.InstanceTestCase):
    start_esmtpd = False

    @classmethod
    def configure(cls, mta):
        cls.ca = TestCA()
        cls.peers = {}
        names = ["mta-sts.sts.test", "mta-sts.refuse.test", "mta-sts.testing.test"]
        ext = os.path.join(cls.ca.dir, "web.ext")
        with open(ext, "w") as f:
            f.write("subjectAltName=" + ",".join("DNS:" + n for n in names) + "\n")
        key, csr, cert = (os.path.join(cls.ca.dir, "web." + x) for x in ("key", "csr", "pem"))
        cls.ca._run("req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-keyout", key,
                    "-out", csr, "-subj", "/CN=" + names[0])
        cls.ca._run("x509", "-req", "-in", csr, "-CA", cls.ca.ca_cert, "-CAkey", cls.ca.ca_key, "-CAcreateserial",
                    "-out", cert, "-days", "2", "-extfile", ext)
        cls.web = PolicyServer(cert, key).start()
        cls.web.policies = {
            "mta-sts.sts.test": (200, "text/plain", policy("enforce", "mx.sts.test")),
            "mta-sts.refuse.test": (200, "text/plain", policy("enforce", "mx.elsewhere.test")),
            "mta-sts.testing.test": (200, "text/plain", policy("testing", "*.testing.test")),
        }
        doms = {"sts": 2, "refuse": 3, "testing": 4}
        cls.dns = DnsServer(
            mx=[(f"{d}.test", f"mx.{d}.test", 10) for d in doms],
            a=[(f"mx.{d}.test", NET + str(i)) for d, i in doms.items()] +
              [(f"mta-sts.{d}.test", WEB) for d in doms],
            txt=[(f"_mta-sts.{d}.test", "v=STSv1; id=20261122A;") for d in doms]).start()
        cls.peers["sts"] = SmtpPeer(NET + "2", 25, starttls=cls.ca.server_cert("mx.sts.test")).start()
        cls.peers["refuse"] = SmtpPeer(NET + "3", 25, starttls=cls.ca.server_cert("mx.refuse.test")).start()
        # testing: a certificate for the wrong name, so the MTA-STS check fails.
        cls.peers["testing"] = SmtpPeer(NET + "4", 25, starttls=cls.ca.server_cert("wrong.example")).start()
        mta.write_config("dnsserver", f"127.0.0.1@{cls.dns.port}\n")
        mta.write_config("mtastsport", f"{cls.web.port}\n")
        mta.write_config("courierd", f"TLS_TRUSTCERTS={cls.ca.ca_cert}\n")
        mta.write_config("esmtpdelay", "0\n")
        mta.write_config("esmtptimeoutkeepalive", "1\n")

    @classmethod
    def release(cls):
        for p in getattr(cls, "peers", {}).values():
            p.stop()
        if getattr(cls, "web", None):
            cls.web.stop()
        if getattr(cls, "dns", None):
            cls.dns.stop()
        if getattr(cls, "ca", None):
            cls.ca.cleanup()

    def send(self, rcpt, subject):
        submit_message(self.mta, "sender@client.example", [rcpt],
                       f"Subject: {subject}\nFrom: a@client.example\n\nhello\n")

    def received(self, name, subject):
        peer = self.peers[name]
        return harness.wait_for(lambda: [m for m in peer.messages if f"Subject: {subject}".encode() in m["data"]],
                                timeout=30, what=f"{subject!r} at {name}")[0]

    def wait_log(self, pattern, timeout=30):
        rx = re.compile(pattern)
        try:
            return harness.wait_for(lambda: rx.search(self.mta.log_text()), timeout=timeout, what=pattern)
        except AssertionError as e:   # show what the MTA did instead
            raise AssertionError(f"{e}\nlog:\n" + "\n".join(self.mta.log_text().splitlines()[-25:])) from None

    def test_enforce_delivers_to_a_matching_mx_and_caches_the_policy(self):
        self.send("u@sts.test", "sts-1")
        self.assertTrue(self.received("sts", "sts-1")["tls"])
        self.wait_log(r"mta-sts domain=sts\.test id=20261122A fetched mode=enforce max_age=86400 mx=1")
        self.wait_log(r"outbound mta-sts host=mx\.sts\.test ip=127\.0\.9\.2 mode=enforce check=ok")
        cache = self.mta.path("spool", "mta-sts", "sts.test")
        text = open(cache).read()
        self.assertIn("id 20261122A\n", text)
        self.assertIn("mode: enforce", text)
        # The same id: the cache is used, even when the web server now fails.
        harness.wait_for(lambda: re.search(r"outbound session closed domain=sts\.test", self.mta.log_text()),
                         timeout=30, what="the first session to end")
        self.web.policies["mta-sts.sts.test"] = (500, "text/plain", "broken")
        fetches = len([r for r in self.web.requests if r[0] == "mta-sts.sts.test"])
        self.send("v@sts.test", "sts-2")
        self.received("sts", "sts-2")
        self.assertEqual(len([r for r in self.web.requests if r[0] == "mta-sts.sts.test"]), fetches)
        self.assertEqual(len(re.findall(r"mta-sts domain=sts\.test id=\S+ fetched", self.mta.log_text())), 1)

    def test_enforce_refuses_an_mx_outside_the_policy(self):
        self.send("u@refuse.test", "refuse")
        self.wait_log(r"outbound domain=refuse\.test host=mx\.refuse\.test mta-sts=enforce mx-mismatch")
        self.wait_log(r"rcpt=<u@refuse\.test> module=esmtp .*status=defer .*text=451 4\.7\.5 no MX host of "
                      r"refuse\.test matches its MTA-STS policy")
        self.assertEqual(self.peers["refuse"].messages, [])
        self.assertTrue([q for q in self.mta.queue_files() if b"u@refuse.test" in open(q, "rb").read()])

    def test_testing_mode_delivers_and_logs_the_failure(self):
        self.send("u@testing.test", "testing")
        self.assertTrue(self.received("testing", "testing")["tls"])
        self.wait_log(r"outbound mta-sts host=mx\.testing\.test ip=127\.0\.9\.4 mode=testing check=failed "
                      r"reason=certificate does not name mx\.testing\.test \(testing: delivering\)")


if __name__ == "__main__":
    harness.main()
