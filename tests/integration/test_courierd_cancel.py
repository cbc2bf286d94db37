"""cancelmsg by the message's owner (issue 5, "Queue tools"): a local user sends mail
with sendmail (set-uid submit records the user as the owner) to an address that is
deferred (a relay to a peer that is not running); cancelmsg, installed set-uid to the
mail user as make install does, lets that user cancel it: the message leaves the queue
and the failure notice arrives in the user's Maildir. Another local user gets exit code
77 and the message stays as it was; malformed ids are refused before any file is used."""

import os
import pwd
import shutil
import subprocess
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
import harness  # noqa: E402
import courierd_support as cs  # noqa: E402

EX_USAGE, EX_NOPERM = 64, 77
DOWN_PEER = "127.0.51.9"   # nothing listens there: every attempt is deferred


def install_setuid(mta, folder, name):
    """Replaces the instance's symlink by a copy owned by the mail user, mode 4755."""
    path = mta.path(folder, name)
    target = os.path.realpath(path)
    os.unlink(path)
    shutil.copy(target, path)
    mail = pwd.getpwnam(harness.MAIL_USER)
    os.chown(path, mail.pw_uid, mail.pw_gid)
    os.chmod(path, 0o4755)


class CancelByOwnerTest(harness.InstanceTestCase):
    start_esmtpd = False

    @classmethod
    def configure(cls, mta):
        cls.alice, cls.bob = mta.add_user(), mta.add_user()
        install_setuid(mta, "libexec", "submit")
        install_setuid(mta, "bin", "cancelmsg")
        mta.write_config("esmtpdelay", "0\n")
        mta.write_config("esmtproutes", f"down.test: [{DOWN_PEER}],25\n")
        # One attempt, then an hour: the message stays queued for the whole test.
        mta.write_config("retryalpha", "1h\n")
        mta.write_config("retrygamma", "2h\n")

    def as_user(self, user, argv, data=""):
        env = harness.user_env(self.mta)
        return subprocess.run(["runuser", "-u", user, "--"] + env + argv, input=data,
                              capture_output=True, text=True, timeout=30)

    def cancelmsg(self, user, qid):
        return self.as_user(user, [self.mta.path("bin", "cancelmsg"), qid])

    def queue_path(self, qid):
        return self.mta.path("spool", "msgs", qid[:5], "Q" + qid)

    def queued_with(self, subject):
        for path in self.mta.queue_files():
            try:
                with open(path, "rb") as f:
                    if f"\nSubject: {subject}\n".encode() in f.read():
                        return path
            except FileNotFoundError:
                pass
        return None

    def notices_about(self, user, subject):
        return [n for n in cs.notices(self.mta, user) if f"Subject: {subject}" in n.as_string()]

    def deferred_message(self, user, subject):
        """Sends with sendmail as `user`; returns the queue id once it was deferred."""
        r = self.as_user(user, [self.mta.path("bin", "sendmail"), "stuck@down.test"],
                         data=f"Subject: {subject}\n\nbody\n")
        self.assertEqual(r.returncode, 0, r.stderr)
        path = harness.wait_for(lambda: self.queued_with(subject), what=f"{subject} in the queue")
        qid = os.path.basename(path)[1:]
        harness.wait_for(lambda: [x for x in cs.status_log(self.mta, qid) if x[0] == "retry"],
                         timeout=30, what=f"the first deferral of {qid}")
        return qid

    def test_owner_cancels_and_gets_the_failure_notice(self):
        qid = self.deferred_message(self.alice, "cancel-mine")
        with open(self.queue_path(qid), "rb") as f:
            head = f.read(4096)
        self.assertIn(f"\nowner {pwd.getpwnam(self.alice).pw_uid}\n".encode(), head)
        r = self.cancelmsg(self.alice, qid)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn(f"{qid} cancelled", r.stdout)
        harness.wait_for(lambda: not os.path.exists(self.queue_path(qid)), timeout=30,
                         what=f"{qid} to leave the queue")
        bounce = harness.wait_for(lambda: self.notices_about(self.alice, "cancel-mine"), timeout=30,
                                  what="the failure notice in the owner's Maildir")[0]
        self.assertIn("Failure", bounce["Subject"])
        self.assertEqual(bounce["To"], f"<{self.alice}@{self.mta.me}>")
        _, per_rcpt = cs.report_fields(bounce)
        self.assertEqual(per_rcpt[0]["Final-Recipient"], "rfc822; stuck@down.test")
        self.assertEqual(per_rcpt[0]["Action"], "failed")
        self.assertIn(f"cancelled by {self.alice}", per_rcpt[0]["Diagnostic-Code"])
        self.assertIn("Subject: cancel-mine", bounce.as_string())

    def test_another_user_cannot_cancel_it(self):
        qid = self.deferred_message(self.alice, "not-yours")
        before = cs.status_log(self.mta, qid)
        r = self.cancelmsg(self.bob, qid)
        self.assertEqual(r.returncode, EX_NOPERM, (r.stdout, r.stderr))
        self.assertIn("permission denied", r.stderr)
        self.assertNotIn("cancelled", r.stdout)
        self.assertTrue(os.path.exists(self.queue_path(qid)))
        self.assertEqual([x for x in cs.status_log(self.mta, qid) if x[0] == "failed"], [])
        self.assertEqual(cs.status_log(self.mta, qid)[:len(before)], before)
        self.assertEqual(self.notices_about(self.alice, "not-yours"), [])
        # Root may cancel anyone's message (the administrator's right).
        r = self.mta.run("bin/cancelmsg", qid, check=False)
        self.assertEqual(r.returncode, 0, r.stderr)
        harness.wait_for(lambda: not os.path.exists(self.queue_path(qid)), timeout=30,
                         what=f"{qid} to leave the queue")

    def test_malformed_ids_are_refused(self):
        qid = self.deferred_message(self.bob, "bad-ids")
        for bad in ("../../etc/passwd", qid.lower(), qid + "/", "msgs/" + qid, qid[:-1], ""):
            r = self.cancelmsg(self.bob, bad)
            self.assertEqual(r.returncode, EX_USAGE, (bad, r.stderr))
            self.assertIn("bad queue id", r.stderr)
        self.assertTrue(os.path.exists(self.queue_path(qid)))
        r = self.cancelmsg(self.bob, "00000000.00000000.0000")
        self.assertEqual(r.returncode, 65, r.stderr)   # EX_DATAERR: no such message
        self.assertIn("no such message", r.stderr)
        self.assertEqual(self.cancelmsg(self.bob, qid).returncode, 0)


if __name__ == "__main__":
    harness.main()
