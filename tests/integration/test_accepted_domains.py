"""Accepted domains (issue 10; courier(8) locals, hosteddomains, esmtpacceptmailfor,
"Hostname-dependent configuration"): which recipient domains a client that is not a
relay client may use, observed as RCPT replies, delivered mail and the log's rule;
makehosteddomains and makeacceptmailfor report bad lines as file:line and keep the old
database."""

import os
import pwd
import random
import smtplib
import socket
import subprocess
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
import harness  # noqa: E402

IDN_UTF8 = "пример.испытание"
IDN_ALABEL = "xn--e1afmkfd.xn--80akhbyknj4f"


def rcpt_code(mta, rcpt):
    with mta.smtp() as s:
        s.ehlo("client.example")
        s.mail("tester@client.example")
        code, text = s.rcpt(rcpt)
        s.rset()
        return code, text.decode(errors="replace")


def send(mta, rcpt, subject):
    with mta.smtp() as s:
        s.sendmail("tester@client.example", [rcpt], f"Subject: {subject}\r\n\r\nbody\r\n")


def delivered_subjects(mta, user):
    return [line[9:].decode() for _, data in mta.delivered(user) for line in data.split(b"\n")
            if line.startswith(b"Subject: ")]


class AcceptedDomainsTest(harness.InstanceTestCase):
    @classmethod
    def configure(cls, mta):
        cls.user = mta.add_user()
        cls.short = socket.gethostname().split(".")[0].lower()
        mta.write_config("locals", "\n".join([
            mta.me, "!no.wild.test", ".wild.test", IDN_UTF8, ""]))
        # A hosted mailbox is the account named "user@domain".
        cls.hosted_user = harness.USER_PREFIX + "%06x" % random.randrange(1 << 24)
        cls.hosted = cls.hosted_user + "@hosted.test"
        home = mta.path("home", cls.hosted)
        subprocess.run(["useradd", "--badname", "--no-create-home", "--home-dir", home,
                        "--shell", "/usr/sbin/nologin", "--user-group", cls.hosted], check=True, timeout=30)
        mta.users.append(cls.hosted)
        os.makedirs(home, mode=0o700)
        pw = pwd.getpwnam(cls.hosted)
        os.chown(home, pw.pw_uid, pw.pw_gid)
        mta.write_config("hosteddomains", "# hosted\nhosted.test\nalias.test\thosted.test\n")
        mta.run("sbin/makehosteddomains")
        os.unlink(mta.path("etc", "hosteddomains"))   # from now on only the database counts
        mta.write_config("esmtpacceptmailfor", "!no.backup.test\n.backup.test\n*.hostdep.test\n")
        os.makedirs(mta.path("etc", "esmtpacceptmailfor.dir"))
        mta.write_config("esmtpacceptmailfor.dir/main", "secondary.test\n")
        mta.run("sbin/makeacceptmailfor")

    def test_locals_wildcard_and_exclusion(self):
        send(self.mta, f"{self.user}@a.wild.test", "wild")
        harness.wait_for(lambda: "wild" in delivered_subjects(self.mta, self.user), what="wild delivered")
        code, _ = rcpt_code(self.mta, f"{self.user}@no.wild.test")
        self.assertEqual(code, 550)
        code, _ = rcpt_code(self.mta, f"{self.user}@wild.test")
        self.assertEqual(code, 550)
        self.assertIn("rule=locals:3", self.mta.log_text())

    def test_hostname_dependent_entry(self):
        code, text = rcpt_code(self.mta, f"{self.user}@{self.short}.hostdep.test")
        self.assertEqual(code, 250, text)
        code, _ = rcpt_code(self.mta, f"{self.user}@other.hostdep.test")
        self.assertEqual(code, 550)
        self.assertIn("rule=esmtpacceptmailfor:3", self.mta.log_text())

    def test_idn_in_a_label_form_matches_utf8_locals(self):
        code, text = rcpt_code(self.mta, f"{self.user}@{IDN_ALABEL.upper()}")
        self.assertEqual(code, 250, text)
        self.assertIn("rule=locals:4", self.mta.log_text())

    def test_hosted_domain_and_its_alias(self):
        send(self.mta, self.hosted, "hosted")
        send(self.mta, self.hosted_user + "@Alias.Test", "via alias")
        harness.wait_for(lambda: {"hosted", "via alias"} <= set(delivered_subjects(self.mta, self.hosted)),
                         what="hosted deliveries")
        code, _ = rcpt_code(self.mta, "nobody-here@hosted.test")
        self.assertEqual(code, 550)
        self.assertIn("rule=hosteddomains:3", self.mta.log_text())

    def test_esmtpacceptmailfor_file_and_database(self):
        for rcpt, want in (("x@mx.backup.test", 250), ("x@no.backup.test", 550), ("x@backup.test", 550),
                           ("x@secondary.test", 250), ("x@tertiary.test", 550)):
            with self.subTest(rcpt=rcpt):
                code, text = rcpt_code(self.mta, rcpt)
                self.assertEqual(code, want, text)
        log = self.mta.log_text()
        self.assertIn("rule=esmtpacceptmailfor:2", log)
        self.assertIn("rule=esmtpacceptmailfor.dir/main:1", log)

    def test_bad_lines_reported_and_old_database_kept(self):
        self.mta.write_config("hosteddomains", "hosted.test\nbad..name\nalias2.test nowhere.test\n")
        r = self.mta.run("sbin/makehosteddomains", check=False)
        self.assertNotEqual(r.returncode, 0)
        self.assertIn("hosteddomains:2:", r.stderr)
        self.assertIn("hosteddomains:3:", r.stderr)
        os.unlink(self.mta.path("etc", "hosteddomains"))
        code, text = rcpt_code(self.mta, self.hosted_user + "@alias.test")
        self.assertEqual(code, 250, text)   # the old database still answers
        self.mta.write_config("esmtpacceptmailfor.dir/zz", "ok.test\n!!x\n")
        try:
            r = self.mta.run("sbin/makeacceptmailfor", check=False)
            self.assertNotEqual(r.returncode, 0)
            self.assertIn("esmtpacceptmailfor.dir/zz:2:", r.stderr)
            code, _ = rcpt_code(self.mta, "x@ok.test")
            self.assertEqual(code, 550)
        finally:
            os.unlink(self.mta.path("etc", "esmtpacceptmailfor.dir/zz"))


if __name__ == "__main__":
    harness.main()
