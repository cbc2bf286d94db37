"""bsd-mailx, Debian's mailx (issue 4, "Done when"), sends through our sendmail to a
local Maildir. The package cannot be installed without pulling in another MTA, so it is
fetched with `apt-get download` and unpacked with `dpkg -x` (as bench/run does with
postfix); its `sendmail` variable (bsd-mailx(1), set in the file MAILRC names) points
at the instance's sendmail. Skipped only when the package cannot be downloaded."""

import os
import glob
import pwd
import shutil
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
import harness  # noqa: E402


def fetch(package, into):
    """Downloads and unpacks a Debian package into `into`; returns an error text or None."""
    try:
        r = subprocess.run(["apt-get", "download", package], cwd=into, capture_output=True,
                           text=True, timeout=120)
    except (OSError, subprocess.TimeoutExpired) as e:
        return str(e)
    debs = glob.glob(os.path.join(into, package + "_*.deb"))
    if r.returncode != 0 or not debs:
        return (r.stderr or r.stdout).strip()[-300:]
    subprocess.run(["dpkg", "-x", debs[0], os.path.join(into, "root")], check=True, timeout=60)
    return None


def missing_libraries(binary):
    r = subprocess.run(["ldd", binary], capture_output=True, text=True, timeout=30)
    return [ln.split()[0] for ln in r.stdout.splitlines() if "not found" in ln]


class MailxTest(harness.InstanceTestCase):
    @classmethod
    def configure(cls, mta):
        cls.alice, cls.bob, cls.carol = mta.add_user(), mta.add_user(), mta.add_user()
        # The installed layout: submit set-uid to the mail user, so alice's sendmail works.
        submit = mta.path("libexec", "submit")
        target = os.path.realpath(submit)
        os.unlink(submit)
        shutil.copy(target, submit)
        mail = pwd.getpwnam(harness.MAIL_USER)
        os.chown(submit, mail.pw_uid, mail.pw_gid)
        os.chmod(submit, 0o4755)
        cls.tools = tempfile.mkdtemp(prefix="courier-mailx-")
        os.chmod(cls.tools, 0o755)
        cls.fetch_error = fetch("bsd-mailx", cls.tools)
        cls.mailx_bin = os.path.join(cls.tools, "root", "usr", "bin", "bsd-mailx")
        cls.libdirs = []
        if cls.fetch_error is None:
            # Its libraries (libbsd0, liblockfile1) are usually present; else fetch them too.
            for lib in missing_libraries(cls.mailx_bin):
                pkg = {"liblockfile.so.1": "liblockfile1", "libbsd.so.0": "libbsd0",
                       "libmd.so.0": "libmd0"}.get(lib)
                if pkg and fetch(pkg, cls.tools) is None:
                    cls.libdirs = [os.path.join(cls.tools, "root", d)
                                   for d in ("usr/lib/x86_64-linux-gnu", "lib/x86_64-linux-gnu")]
        cls.mailrc = os.path.join(cls.tools, "mailrc")
        with open(cls.mailrc, "w") as f:
            f.write(f"set sendmail={mta.path('bin', 'sendmail')}\n")
        os.chmod(cls.mailrc, 0o644)

    @classmethod
    def tearDownClass(cls):
        super().tearDownClass()
        shutil.rmtree(cls.tools, ignore_errors=True)

    def setUp(self):
        if self.fetch_error is not None:
            self.skipTest(f"apt-get download bsd-mailx failed: {self.fetch_error}")

    def mailx(self, user, args, data):
        home = self.mta.path("home", user)
        env = harness.user_env(self.mta, f"HOME={home}", f"USER={user}", f"MAILRC={self.mailrc}")
        if self.libdirs:
            env.append("LD_LIBRARY_PATH=" + ":".join(self.libdirs))
        # -n: no /etc/mail.rc; stdin is not a terminal, so mailx sends what it reads.
        return subprocess.run(["runuser", "-u", user, "--"] + env + [self.mailx_bin, "-n"] + args,
                              input=data, capture_output=True, text=True, timeout=60, cwd=home)

    def wait_subject(self, user, subject):
        def find():
            for _, d in self.mta.delivered(user):
                if f"Subject: {subject}\n".encode() in d:
                    return d.decode()
            return None
        return harness.wait_for(find, what=f"{subject} for {user}")

    def test_mailx_delivers_through_our_sendmail(self):
        r = self.mailx(self.alice, ["-s", "mailx-1", "-c", f"{self.carol}@{self.mta.me}", self.bob],
                       "Hello from mailx.\n.\nstill the body\n")
        self.assertEqual(r.returncode, 0, r.stderr)
        text = self.wait_subject(self.bob, "mailx-1")
        uid = pwd.getpwnam(self.alice).pw_uid
        self.assertIn(f"Return-Path: <{self.alice}@{self.mta.me}>", text)
        self.assertIn(f"From: {self.alice}@{self.mta.me}", text)
        self.assertRegex(text, rf"Received: \(from {self.alice} uid {uid}\)\s+by {self.mta.me} with local")
        self.assertIn("\nDate: ", text)
        self.assertIn("\nMessage-ID: <", text)
        self.assertIn("Hello from mailx.\n.\nstill the body\n", text)   # mailx passes -i
        cc = self.wait_subject(self.carol, "mailx-1")
        self.assertIn(f"Cc: {self.carol}@{self.mta.me}", cc)

    def test_mailx_r_sets_the_envelope_sender(self):
        r = self.mailx(self.alice, ["-r", "list-owner@example.org", "-s", "mailx-2", self.bob], "body\n")
        self.assertEqual(r.returncode, 0, r.stderr)
        text = self.wait_subject(self.bob, "mailx-2")
        self.assertIn("Return-Path: <list-owner@example.org>", text)
        self.assertIn("From: list-owner@example.org", text)


if __name__ == "__main__":
    harness.main()
