"""Aliases (issue 4): makealiases builds aliases.dat, submit expands local recipients.

Every test delivers real messages over SMTP and looks in the Maildirs."""

import os
import pwd
import random
import subprocess
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
import harness  # noqa: E402


def subjects(mta, user):
    out = []
    for _, data in mta.delivered(user):
        for line in data.split(b"\n"):
            if line.startswith(b"Subject: "):
                out.append(line[9:].decode())
    return out


class AliasTest(harness.InstanceTestCase):
    @classmethod
    def configure(cls, mta):
        cls.a, cls.b, cls.c = mta.add_user(), mta.add_user(), mta.add_user()
        cls.include = mta.path("etc", "list.txt")
        with open(cls.include, "w") as f:
            f.write(f"# members\n{cls.b}, {cls.c}\n")
        mta.write_config("hosteddomains", "hosted.example\n")
        # A hosted mailbox is the account named "user@domain" (useradd needs --badname).
        cls.hosted = harness.USER_PREFIX + "%06x" % random.randrange(1 << 24) + "@hosted.example"
        home = mta.path("home", cls.hosted)
        subprocess.run(["useradd", "--badname", "--no-create-home", "--home-dir", home,
                        "--shell", "/usr/sbin/nologin", "--user-group", cls.hosted], check=True, timeout=30)
        mta.users.append(cls.hosted)
        os.makedirs(home, mode=0o700)
        pw = pwd.getpwnam(cls.hosted)
        os.chown(home, pw.pw_uid, pw.pw_gid)
        mta.write_config("aliases", "\n".join([
            f"single: {cls.a}",
            f"multi: {cls.a}, {cls.b}@{mta.me},",
            f"   {cls.c}",
            "nested: single, team",
            f"team: {cls.b}, multi",
            f"incl: :include:{cls.include}",
            f"info@hosted.example: {cls.c}",
            f"postmaster: {cls.a}",
            "",
        ]))
        mta.run("sbin/makealiases")

    def send(self, rcpt, subject):
        with self.mta.smtp() as s:
            s.sendmail("x@remote.example", [rcpt], f"Subject: {subject}\r\n\r\nbody\r\n")

    def wait_subject(self, user, subject):
        harness.wait_for(lambda: subject in subjects(self.mta, user), what=f"{subject} for {user}")

    def test_single_alias(self):
        self.send(f"single@{self.mta.me}", "single-1")
        self.wait_subject(self.a, "single-1")
        self.assertNotIn("single-1", subjects(self.mta, self.b))

    def test_multiple_recipients_with_continuation_line(self):
        self.send("Multi@" + self.mta.me.upper(), "multi-1")
        for u in (self.a, self.b, self.c):
            self.wait_subject(u, "multi-1")
        data = [d for _, d in self.mta.delivered(self.b) if b"multi-1" in d][0]
        self.assertIn(f"Delivered-To: {self.b}@{self.mta.me}".encode(), data)

    def test_nested_aliases_deliver_once_each(self):
        self.send("nested", "nested-1")
        for u in (self.a, self.b, self.c):
            self.wait_subject(u, "nested-1")
        self.mta.run("sbin/courier", "flush")
        harness.wait_for(lambda: not self.mta.queue_files(), what="an empty queue")
        for u in (self.a, self.b, self.c):
            self.assertEqual(subjects(self.mta, u).count("nested-1"), 1, u)

    def test_include_list(self):
        self.send(f"incl@{self.mta.me}", "incl-1")
        self.wait_subject(self.b, "incl-1")
        self.wait_subject(self.c, "incl-1")

    def test_hosted_domain_alias_and_postmaster(self):
        self.send("info@hosted.example", "hosted-1")
        self.wait_subject(self.c, "hosted-1")
        self.send("POSTMASTER", "pm-1")
        self.wait_subject(self.a, "pm-1")
        with self.mta.smtp() as s:
            s.ehlo()
            code, _ = s.docmd("MAIL FROM:<x@remote.example>")
            code, msg = s.docmd("RCPT TO:<nobody@hosted.example>")
            self.assertEqual(code, 550, msg)

    def test_hosted_domain_mailbox_is_the_user_at_domain_account(self):
        local = self.hosted.split("@")[0]
        # The local part of a hosted address is lowercased; the domain is case-blind.
        self.send(f"{local.upper()}@Hosted.Example", "hosted-box-1")
        self.wait_subject(self.hosted, "hosted-box-1")
        data = [d for _, d in self.mta.delivered(self.hosted) if b"hosted-box-1" in d][0]
        # The recipient address keeps the case it was given in.
        self.assertIn(f"Delivered-To: {local.upper()}@hosted.example".encode(), data)
        # No address extensions in hosted domains, and the bare local part is not local.
        with self.mta.smtp() as s:
            s.ehlo()
            s.docmd("MAIL FROM:<x@remote.example>")
            self.assertEqual(s.docmd(f"RCPT TO:<{local}-ext@hosted.example>")[0], 550)
            self.assertEqual(s.docmd(f"RCPT TO:<{local}@{self.mta.me}>")[0], 550)

    def test_loop_and_errors_are_reported_and_the_old_database_kept(self):
        good = self.mta.path("etc", "aliases")
        with open(good) as f:
            original = f.read()
        try:
            with open(good, "a") as f:
                f.write("loop1: loop2\nloop2: loop1\nbroken: |/bin/sh\n")
            r = self.mta.run("sbin/makealiases", check=False)
            self.assertNotEqual(r.returncode, 0)
            self.assertIn("aliases:9: alias loop: loop1 -> loop2 -> loop1", r.stderr)
            self.assertIn("aliases:11: ", r.stderr)
            # The old database still serves.
            self.send("single", "after-error")
            self.wait_subject(self.a, "after-error")
            with self.mta.smtp() as s:
                s.ehlo()
                s.docmd("MAIL FROM:<x@remote.example>")
                code, _ = s.docmd("RCPT TO:<loop1>")
                self.assertEqual(code, 550)
        finally:
            with open(good, "w") as f:
                f.write(original)

    def test_aliases_folder(self):
        folder = self.mta.path("etc", "aliases.d")
        os.makedirs(folder)
        with open(os.path.join(folder, "10-sales"), "w") as f:
            f.write(f"sales: {self.b}\n")
        with open(os.path.join(folder, "20-bad"), "w") as f:
            f.write("oops\n")
        out = self.mta.path("etc", "aliases-test.dat")
        r = self.mta.run("sbin/makealiases", f"-src={folder}", f"-out={out}", check=False)
        self.assertEqual(r.returncode, 65, r.stderr)
        self.assertIn("20-bad:1: ", r.stderr)
        self.assertFalse(os.path.exists(out))
        os.unlink(os.path.join(folder, "20-bad"))
        self.mta.run("sbin/makealiases", f"-src={folder}", f"-out={out}")
        r = self.mta.run("sbin/makealiases", "-dump", f"-out={out}")
        self.assertEqual(r.stdout, f"sales: {self.b}\n")


if __name__ == "__main__":
    harness.main()
