"""The backscatter blacklist at submit (issue 4; courier(8) "courier clear", bofh
BOFHSUPPRESSBACKSCATTER): after a permanent delivery failure of SMTP mail, the next SMTP
RCPT to that address is refused with 450 until `courier clear`; local mail is not."""

import os
import pwd
import subprocess
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
import harness  # noqa: E402


def write_as(user, path, text):
    with open(path, "w") as f:
        f.write(text)
    pw = pwd.getpwnam(user)
    os.chown(path, pw.pw_uid, pw.pw_gid)
    os.chmod(path, 0o644)


class BackscatterSubmitTest(harness.InstanceTestCase):
    @classmethod
    def configure(cls, mta):
        cls.sender = mta.add_user()
        cls.failing = mta.add_user()
        # A delivery program that fails permanently (EX_NOUSER).
        write_as(cls.failing, os.path.join(mta.path("home", cls.failing), ".courier"),
                 "| echo no such mailbox >&2; exit 67\n")

    def rcpt(self, address):
        with self.mta.smtp() as s:
            s.ehlo("client.example")
            s.mail(f"{self.sender}@{self.mta.me}")
            code, msg = s.rcpt(address)
            s.rset()
        return code, msg.decode()

    def listed(self):
        out = self.mta.run("sbin/courier", "show", "all").stdout
        return [ln.split()[0] for ln in out.splitlines() if ln.strip()]

    def test_failed_address_is_refused_until_cleared(self):
        addr = f"{self.failing}@{self.mta.me}"
        self.assertEqual(self.rcpt(addr)[0], 250)
        with self.mta.smtp() as s:
            s.sendmail(f"{self.sender}@{self.mta.me}", [addr], "Subject: bs-1\r\n\r\nbody\r\n")
        harness.wait_for(lambda: addr in self.listed(), timeout=30, what="the address on the backscatter list")
        # The sender got the bounce; the next SMTP attempt is refused at RCPT time.
        self.mta.wait_delivered(self.sender, 1)
        code, msg = self.rcpt(addr)
        self.assertEqual(code, 450)
        self.assertEqual(msg, f"4.7.1 <{addr}>: recent delivery failure; try later")
        self.assertIn(f"refused rcpt={addr} ", self.mta.log_text())
        self.assertEqual(self.rcpt(f"{self.sender}@{self.mta.me}")[0], 250)
        # Local mail (sendmail) is not a listed source: it is still accepted.
        r = subprocess.run([self.mta.path("bin", "sendmail"), "-f", f"{self.sender}@{self.mta.me}", addr],
                           input="Subject: bs-local\n\nbody\n", env=self.mta.env, capture_output=True,
                           text=True, timeout=30)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.mta.run("sbin/courier", "clear", addr)
        self.assertNotIn(addr, self.listed())
        self.assertEqual(self.rcpt(addr)[0], 250)


if __name__ == "__main__":
    harness.main()
