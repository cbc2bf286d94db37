"""vhost recording (issue 4): the receiving address (vhost.<ip>) or the authenticated
domain (vhost.<domain>) selects me.<vhost> for the message, and is recorded in the
queue file for the later stages."""

import os
import subprocess
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
import harness  # noqa: E402


def find(mta, user, subject):
    for _, d in mta.delivered(user):
        if f"Subject: {subject}\n".encode() in d:
            return d.decode()
    return None


class VhostTest(harness.InstanceTestCase):
    @classmethod
    def configure(cls, mta):
        cls.user = mta.add_user()
        mta.write_config("locals", f"{mta.me}\n")
        mta.write_config("vhost.127.0.0.1", "")
        mta.write_config("me.127.0.0.1", "ip-vhost.example\n")
        mta.write_config("vhost.auth.example", "")
        mta.write_config("me.auth.example", "auth-vhost.example\n")

    def submit(self, *session, subject):
        body = f"Subject: {subject}\n\nx\n"
        lines = "".join(f"session {k} {v}\n" for k, v in session)
        lines += f"mail a@example.org\nrcpt {self.user}\ndata\nchunk {len(body)}\n{body}chunk 0\nquit\n"
        r = subprocess.run([self.mta.path("libexec", "submit"), "esmtp"], input=lines, env=self.mta.env,
                           capture_output=True, text=True, timeout=30)
        self.assertIn("250 2.0.0", r.stdout)

    def test_receiving_address_selects_the_vhost(self):
        with self.mta.smtp() as s:
            s.sendmail("x@remote.example", [f"{self.user}@{self.mta.me}"], "Subject: ip-1\r\n\r\nx\r\n")
        text = harness.wait_for(lambda: find(self.mta, self.user, "ip-1"), what="ip-1")
        self.assertRegex(text, r"by ip-vhost\.example with E?SMTP")

    def test_authenticated_domain_selects_the_vhost_before_the_address(self):
        self.mta.run("sbin/courier", "stop")
        try:
            self.submit(("local-ip", "127.0.0.1"), ("auth", "bob@Auth.Example"), subject="auth-1")
            self.submit(("local-ip", "127.0.0.1"), ("auth", "bob@other.example"), subject="auth-2")
            records = []
            for q in self.mta.queue_files():
                with open(q, "rb") as f:
                    records.append([ln for ln in f.read().split(b"\n") if ln.startswith(b"vhost ")])
            self.assertEqual(sorted(records), [[b"vhost 127.0.0.1"], [b"vhost auth.example"]])
        finally:
            self.mta.run("sbin/courier", "start")
        text = harness.wait_for(lambda: find(self.mta, self.user, "auth-1"), what="auth-1")
        self.assertIn("by auth-vhost.example with ESMTPA", text)
        text = harness.wait_for(lambda: find(self.mta, self.user, "auth-2"), what="auth-2")
        self.assertIn("by ip-vhost.example with ESMTPA", text)


    def test_submitdelay_holds_the_first_attempt_until_a_flush(self):
        harness.wait_for(lambda: not self.mta.queue_files(), what="an empty queue")
        self.mta.write_config("submitdelay", "1h\n")
        try:
            with self.mta.smtp() as s:
                s.sendmail("x@remote.example", [f"{self.user}@{self.mta.me}"], "Subject: delay-1\r\n\r\nx\r\n")
        finally:
            os.unlink(self.mta.path("etc", "submitdelay"))
        status = [q[:-len(os.path.basename(q))] + "S" + os.path.basename(q)[1:] for q in self.mta.queue_files()]
        self.assertEqual(len(status), 1)
        with open(status[0]) as f:
            self.assertRegex(f.read(), r"^retry \d+ 0\n$")
        self.assertIsNone(find(self.mta, self.user, "delay-1"))
        self.mta.run("sbin/courier", "flush")
        harness.wait_for(lambda: find(self.mta, self.user, "delay-1"), what="delay-1 after the flush")


if __name__ == "__main__":
    harness.main()
