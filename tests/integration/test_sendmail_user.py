"""sendmail run by an ordinary local user (issue 4): submit is installed set-uid to the
mail user, the message is queued with that user as sender, and the user can neither
read nor change the queue (other users' mail included)."""

import os
import pwd
import shutil
import subprocess
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
import harness  # noqa: E402


class UserSendmailTest(harness.InstanceTestCase):
    @classmethod
    def configure(cls, mta):
        cls.alice, cls.bob = mta.add_user(), mta.add_user()
        # The installed layout: submit owned by the mail user, mode 4755.
        submit = mta.path("libexec", "submit")
        target = os.path.realpath(submit)
        os.unlink(submit)
        shutil.copy(target, submit)
        mail = pwd.getpwnam(harness.MAIL_USER)
        os.chown(submit, mail.pw_uid, mail.pw_gid)
        os.chmod(submit, 0o4755)

    def as_user(self, user, argv, data="", check=False):
        env = harness.user_env(self.mta)
        return subprocess.run(["runuser", "-u", user, "--"] + env + argv, input=data,
                              capture_output=True, text=True, timeout=30, check=check)

    def wait_subject(self, user, subject):
        def find():
            for _, d in self.mta.delivered(user):
                if f"Subject: {subject}\n".encode() in d:
                    return d.decode()
            return None
        return harness.wait_for(find, what=f"{subject} for {user}")

    def sendmail(self, user, *args, data=""):
        return self.as_user(user, [self.mta.path("bin", "sendmail")] + list(args), data=data)

    def test_user_mail_is_queued_with_the_user_as_sender(self):
        r = self.sendmail(self.alice, "-t", data=f"To: {self.bob}\nSubject: user-1\n\nhello\n")
        self.assertEqual(r.returncode, 0, r.stderr)
        text = self.wait_subject(self.bob, "user-1")
        uid = pwd.getpwnam(self.alice).pw_uid
        self.assertIn(f"Return-Path: <{self.alice}@{self.mta.me}>", text)
        self.assertIn(f"From: {self.alice}@{self.mta.me}", text)
        self.assertRegex(text, rf"Received: \(from {self.alice} uid {uid}\)\s+by {self.mta.me} with local")

    def test_user_cannot_pretend_to_be_the_smtp_server(self):
        lines = "session remote-ip 192.0.2.1\nsession relay yes\nmail x@example.org\nquit\n"
        r = self.as_user(self.alice, [self.mta.path("libexec", "submit"), "esmtp"], data=lines)
        self.assertEqual(r.returncode, 77)      # EX_NOPERM
        # As "local", the forged session facts are ignored.
        body = "Subject: forged-1\n\nx\n"
        lines = ("session remote-ip 192.0.2.1\nsession helo forged.example\nmail x@example.org\n"
                 f"rcpt {self.bob}\ndata\nchunk {len(body)}\n{body}chunk 0\nquit\n")
        r = self.as_user(self.alice, [self.mta.path("libexec", "submit"), "local"], data=lines)
        self.assertIn("250 2.0.0", r.stdout, r.stderr)
        text = self.wait_subject(self.bob, "forged-1")
        self.assertNotIn("192.0.2.1", text)
        self.assertNotIn("forged.example", text)

    def test_users_cannot_read_or_change_queued_mail(self):
        self.mta.run("sbin/courier", "stop")
        try:
            r = self.sendmail(self.alice, self.bob, data="Subject: private-1\n\nsecret\n")
            self.assertEqual(r.returncode, 0, r.stderr)
            files = self.mta.queue_files()
            self.assertEqual(len(files), 1)
            st = os.stat(files[0])
            self.assertEqual(st.st_uid, pwd.getpwnam(harness.MAIL_USER).pw_uid)
            for user in (self.alice, self.bob):
                self.assertNotEqual(self.as_user(user, ["cat", files[0]]).returncode, 0)
                self.assertNotEqual(self.as_user(user, ["ls", self.mta.path("spool", "msgs")]).returncode, 0)
                self.assertNotEqual(self.as_user(user, ["rm", "-f", files[0]]).returncode, 0)
                self.assertNotEqual(self.as_user(user, ["touch", self.mta.path("spool", "tmp", "x")]).returncode, 0)
            self.assertEqual(self.mta.queue_files(), files)
        finally:
            self.mta.run("sbin/courier", "start")
        self.wait_subject(self.bob, "private-1")


if __name__ == "__main__":
    harness.main()
