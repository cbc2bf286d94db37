"""Full file systems (issue 12): the spool and a Maildir on small tmpfs mounts.

A full spool: every message gets 250 or a 4xx reply (never a 5xx, never a broken
session), the queue files that exist are complete, nothing is left in spool/tmp, and
once there is room again every accepted message is delivered once and intact.
A full Maildir: delivery is deferred, no partial file is left in the Maildir, and after
the file system grows every message is delivered once and intact."""

import os
import smtplib
import subprocess
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
import harness  # noqa: E402

BODY_KB = 150


def message(marker):
    line = (marker + " ").ljust(76, "x") + "\r\n"
    return f"Subject: {marker}\r\n\r\n" + line * (BODY_KB * 1024 // len(line)) + f"end {marker}\r\n"


def send(mta, rcpt, marker):
    """'ok', or the reply code of the refusal."""
    try:
        with smtplib.SMTP("127.0.0.1", mta.port, timeout=30) as s:
            s.sendmail("fill@remote.example", [rcpt], message(marker))
        return "ok"
    except smtplib.SMTPRecipientsRefused as e:
        return next(iter(e.recipients.values()))[0]
    except smtplib.SMTPResponseException as e:
        return e.smtp_code


def delivered_markers(mta, user):
    """marker -> number of intact copies in the Maildir; a damaged copy fails the test."""
    counts = {}
    for name, data in mta.delivered(user):
        subject = next(l for l in data.split(b"\n") if l.startswith(b"Subject: "))
        marker = subject[len("Subject: "):].strip().decode()
        expected = message(marker).split("\r\n\r\n", 1)[1].replace("\r\n", "\n").encode()
        if not data.endswith(b"\n\n" + expected):
            raise AssertionError(f"{name}: message {marker} is damaged")
        counts[marker] = counts.get(marker, 0) + 1
    return counts


class FullSpoolTest(harness.InstanceTestCase):
    @classmethod
    def configure(cls, mta):
        cls.user = mta.add_user()
        cls.rcpt = f"{cls.user}@{mta.me}"
        mta.mount_tmpfs(mta.path("spool"), 1024, owner=harness.MAIL_USER)

    def test_full_spool_gives_4xx_and_loses_nothing(self):
        self.mta.run("sbin/courier", "stop")      # nothing drains: the spool fills up
        outcome = {}
        for i in range(16):
            marker = f"spool-{i:02d}"
            outcome[marker] = send(self.mta, self.rcpt, marker)
        accepted = {m for m, r in outcome.items() if r == "ok"}
        refused = {m: r for m, r in outcome.items() if r != "ok"}
        print(f"\nfull spool: {len(accepted)} accepted, refused {sorted(set(refused.values()))}")
        self.assertTrue(accepted, "nothing was accepted")
        self.assertTrue(refused, "the spool never filled up")
        self.assertTrue(all(400 <= r < 500 for r in refused.values()), refused)
        self.assertEqual(len(self.mta.queue_files()), len(accepted))
        self.assertEqual(os.listdir(self.mta.path("spool", "tmp")), [])

        self.mta.run("sbin/courier", "start")
        harness.wait_for(lambda: set(delivered_markers(self.mta, self.user)) >= accepted, timeout=60,
                         what="every accepted message delivered")
        harness.wait_for(lambda: not self.mta.queue_files(), timeout=30, what="an empty queue")
        counts = delivered_markers(self.mta, self.user)
        self.assertEqual(set(counts), accepted, "a refused message was delivered")
        self.assertEqual(set(counts.values()), {1}, "a message was delivered twice")
        # Room again: the server accepts mail as before.
        self.assertEqual(send(self.mta, self.rcpt, "after"), "ok")
        harness.wait_for(lambda: "after" in delivered_markers(self.mta, self.user), timeout=30,
                         what="the message sent after the spool emptied")


class FullMaildirTest(harness.InstanceTestCase):
    @classmethod
    def configure(cls, mta):
        cls.user = mta.add_user()
        cls.rcpt = f"{cls.user}@{mta.me}"
        cls.home = mta.path("home", cls.user)
        mta.mount_tmpfs(cls.home, 512, owner=cls.user, mode=0o700)
        for name, value in (("retryalpha", "1"), ("retrygamma", "2"), ("retrybeta", "3")):
            mta.write_config(name, value + "\n")

    def test_full_maildir_defers_and_delivers_after_growth(self):
        markers = [f"maildir-{i}" for i in range(6)]
        for m in markers:
            self.assertEqual(send(self.mta, self.rcpt, m), "ok")
        # Some fit, the rest are deferred: they stay queued.
        harness.wait_for(lambda: "deferred" in self.mta.log_text() or "4.3.1" in self.mta.log_text()
                         or len(self.mta.queue_files()) < len(markers), timeout=30,
                         what="deliveries to run into the full Maildir")
        time.sleep(3)
        counts = delivered_markers(self.mta, self.user)   # whatever is there is intact
        self.assertLess(len(counts), len(markers), "the Maildir never filled up")
        self.assertTrue(self.mta.queue_files(), "undelivered mail left the queue")
        self.assertEqual(os.listdir(os.path.join(self.mta.maildir(self.user), "tmp")), [],
                         "a partial file was left in Maildir/tmp")

        subprocess.run(["mount", "-o", "remount,size=8m", self.home], check=True)
        self.mta.run("sbin/courier", "flush")
        harness.wait_for(lambda: set(delivered_markers(self.mta, self.user)) == set(markers), timeout=90,
                         what="every message delivered after the Maildir grew")
        harness.wait_for(lambda: not self.mta.queue_files(), timeout=30, what="an empty queue")
        self.assertEqual(set(delivered_markers(self.mta, self.user).values()), {1})


if __name__ == "__main__":
    harness.main()
