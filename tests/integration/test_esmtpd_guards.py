"""courieresmtpd's guards (issue 10), observed on the wire: BLOCK from the access file
refuses every recipient with its text (also in the reply-code form), a null-sender
message is limited to MAXERRORRECIPIENTS recipients, sizelimit.<address> applies to
its vhost, and MINAVAILSPACE answers 452 4.3.1 on a small dedicated tmpfs spool
without damaging what is already queued. Each refusal is logged with its rule."""

import os
import socket
import subprocess
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
import harness  # noqa: E402
from esmtpd_support import RawSmtp, esmtpd_settings, queue_texts  # noqa: E402


class SourceSmtp(RawSmtp):
    """RawSmtp from a chosen loopback source address (the access file keys on it)."""

    def __init__(self, port, source, timeout=20):
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=timeout,
                                             source_address=(source, 0))
        self.buf = b""


ACCESS = ("127.0.0.2\tallow,BLOCK=Listed by the test list\n"
          "127.0.0.3\tallow,BLOCK=554 Go away\n"
          "127.0.0.4\tallow,RELAYCLIENT,BLOCK=Blocked relay\n"
          "127.0.0.5\tallow,BLOCK\n")


class BlockAndNullSenderTest(harness.InstanceTestCase):
    @classmethod
    def configure(cls, mta):
        cls.user = mta.add_user()
        cls.rcpt = f"{cls.user}@{mta.me}"
        mta.write_config("smtpaccess", ACCESS)
        mta.run("sbin/makesmtpaccess")
        dat = mta.path("etc", "smtpaccess.dat")
        mta.write_config("esmtpd", esmtpd_settings(mta, mta.port, [
            f'TCPDOPTS="-nodnslookup -access={dat}"', "MAXERRORRECIPIENTS=1"]))

    def session(self, source="127.0.0.1"):
        s = SourceSmtp(self.mta.port, source)
        self.addCleanup(s.close)
        self.assertEqual(s.reply()[0], 220)
        self.assertEqual(s.cmd("EHLO client.example")[0], 250)
        return s

    def test_block_text_refuses_every_recipient(self):
        s = self.session("127.0.0.2")
        self.assertEqual(s.cmd("MAIL FROM:<s@remote.example>")[0], 250)
        for rcpt in (self.rcpt, "postmaster", "x@elsewhere.example"):
            self.assertEqual(s.cmd(f"RCPT TO:<{rcpt}>"), (550, ["5.7.1 Listed by the test list"]))
        self.assertEqual(s.cmd("DATA")[0], 503)
        self.assertEqual(queue_texts(self.mta), [])
        self.assertIn("policy rule=BLOCK client=127.0.0.2 reply=550 5.7.1 Listed by the test list",
                      self.mta.log_text())

    def test_block_reply_code_form(self):
        s = self.session("127.0.0.3")
        s.cmd("MAIL FROM:<s@remote.example>")
        self.assertEqual(s.cmd(f"RCPT TO:<{self.rcpt}>"), (554, ["5.7.1 Go away"]))

    def test_block_applies_to_relay_clients(self):
        s = self.session("127.0.0.4")
        s.cmd("MAIL FROM:<s@remote.example>")
        self.assertEqual(s.cmd(f"RCPT TO:<{self.rcpt}>"), (550, ["5.7.1 Blocked relay"]))

    def test_empty_block_is_not_a_block(self):
        s = self.session("127.0.0.5")
        s.cmd("MAIL FROM:<s@remote.example>")
        self.assertEqual(s.cmd(f"RCPT TO:<{self.rcpt}>")[0], 250)
        s.cmd("RSET")

    def test_null_sender_recipient_limit(self):
        s = self.session()
        self.assertEqual(s.cmd("MAIL FROM:<>")[0], 250)
        self.assertEqual(s.cmd(f"RCPT TO:<{self.rcpt}>")[0], 250)
        code, text = s.cmd("RCPT TO:<postmaster>")
        self.assertEqual((code, text[0][:5]), (550, "5.5.3"))
        self.assertIn("policy rule=MAXERRORRECIPIENTS", self.mta.log_text())
        # An ordinary sender is not limited.
        s.cmd("RSET")
        s.cmd("MAIL FROM:<s@remote.example>")
        self.assertEqual(s.cmd(f"RCPT TO:<{self.rcpt}>")[0], 250)
        self.assertEqual(s.cmd(f"RCPT TO:<{self.rcpt}>")[0], 250)
        s.cmd("RSET")


class VhostSizeLimitTest(harness.InstanceTestCase):
    @classmethod
    def configure(cls, mta):
        cls.user = mta.add_user()
        cls.rcpt = f"{cls.user}@{mta.me}"
        mta.write_config("vhost.127.0.0.1", "")
        mta.write_config("sizelimit.127.0.0.1", "3000\n")
        mta.write_config("sizelimit", "9000000\n")

    def test_sizelimit_of_the_vhost(self):
        s = RawSmtp(self.mta.port)
        self.addCleanup(s.close)
        s.reply()
        code, lines = s.cmd("EHLO client.example")
        self.assertIn("SIZE 3000", lines)
        code, text = s.cmd("MAIL FROM:<s@remote.example> SIZE=5000")
        self.assertEqual((code, text[0][:5]), (552, "5.3.4"))
        self.assertEqual(s.cmd("MAIL FROM:<s@remote.example>")[0], 250)
        self.assertEqual(s.cmd(f"RCPT TO:<{self.rcpt}>")[0], 250)
        self.assertEqual(s.cmd("DATA")[0], 354)
        code, text = s.cmd("Subject: big\r\n\r\n" + ("x" * 70 + "\r\n") * 60 + ".")
        self.assertEqual((code, text[0][:5]), (552, "5.3.4"))
        self.assertEqual(queue_texts(self.mta), [])



class LargerVhostSizeLimitTest(harness.InstanceTestCase):
    """A vhost's sizelimit above the global one: courieresmtpd and submit both apply
    the vhost's, so a message over the global limit is accepted and delivered."""

    @classmethod
    def configure(cls, mta):
        cls.user = mta.add_user()
        cls.rcpt = f"{cls.user}@{mta.me}"
        mta.write_config("vhost.127.0.0.1", "")
        mta.write_config("sizelimit.127.0.0.1", "9000000\n")
        mta.write_config("sizelimit", "3000\n")

    def test_the_vhost_limit_wins_over_the_global_one(self):
        with self.mta.smtp() as s:
            s.ehlo("client.example")
            self.assertEqual(s.esmtp_features.get("size"), "9000000")
            s.sendmail("s@remote.example", [self.rcpt], "Subject: large\r\n\r\n" + ("y" * 70 + "\r\n") * 100)
        got = self.mta.wait_delivered(self.user, 1)
        self.assertIn(b"Subject: large", got[0][1])

SPOOL_MB = 4
MINAVAIL_KB = 1024


class DiskSpaceTest(harness.InstanceTestCase):
    """The spool is a 4 MB tmpfs; MINAVAILSPACE=1024 (KB)."""

    @classmethod
    def configure(cls, mta):
        cls.user = mta.add_user()
        cls.rcpt = f"{cls.user}@{mta.me}"
        spool = mta.path("spool")
        subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={SPOOL_MB}m,mode=0750", "tmpfs", spool],
                       check=True)
        cls.mounted = spool
        mail = harness.pwd.getpwnam(harness.MAIL_USER)
        os.chown(spool, mail.pw_uid, mail.pw_gid)
        for d in ("tmp", "msgs"):
            os.makedirs(os.path.join(spool, d), mode=0o750)
            os.chown(os.path.join(spool, d), mail.pw_uid, mail.pw_gid)
        mta.write_config("esmtpd", esmtpd_settings(mta, mta.port, [f"MINAVAILSPACE={MINAVAIL_KB}"]))

    @classmethod
    def unmount(cls):
        if getattr(cls, "mounted", None):
            if subprocess.run(["umount", cls.mounted], stderr=subprocess.DEVNULL).returncode != 0:
                subprocess.run(["umount", "-l", cls.mounted], stderr=subprocess.DEVNULL)
            cls.mounted = None

    @classmethod
    def release(cls):
        cls.unmount()   # setting up failed halfway: the instance is already stopped

    @classmethod
    def tearDownClass(cls):
        # Everything using the tmpfs stops first, then it is unmounted, then the
        # instance folder goes.
        for argv in (("sbin/esmtpd", "stop"), ("sbin/courier", "stop")):
            cls.mta.run(*argv, check=False, timeout=15)
        cls.mta.kill_all()
        cls.unmount()
        super().tearDownClass()

    def free_kb(self):
        st = os.statvfs(self.mta.path("spool"))
        return st.f_bavail * st.f_frsize // 1024

    def fill_to(self, free_kb):
        """Leaves about free_kb kilobytes free on the spool with a filler file."""
        filler = self.mta.path("spool", "filler")
        self.addCleanup(lambda: os.path.exists(filler) and os.unlink(filler))
        with open(filler, "ab") as f:
            f.write(b"\0" * max(0, (self.free_kb() - free_kb) * 1024))
        return filler

    def send(self, body):
        s = RawSmtp(self.mta.port)
        self.addCleanup(s.close)
        s.reply()
        s.cmd("EHLO client.example")
        self.assertEqual(s.cmd("MAIL FROM:<s@remote.example>")[0], 250)
        self.assertEqual(s.cmd(f"RCPT TO:<{self.rcpt}>")[0], 250)
        self.assertEqual(s.cmd("DATA")[0], 354)
        return s.cmd(body + "\r\n.")

    def test_low_space_answers_452_and_keeps_queued_mail(self):
        # courierd is stopped so that the first message stays in the queue.
        self.mta.run("sbin/courier", "stop")
        self.addCleanup(lambda: self.mta.run("sbin/courier", "start", check=False))
        code, _ = self.send("Subject: queued before\r\n\r\nkeep me intact")
        self.assertEqual(code, 250)
        before = queue_texts(self.mta)
        self.assertEqual(len(before), 1)

        filler = self.fill_to(MINAVAIL_KB // 2)
        s = RawSmtp(self.mta.port)
        self.addCleanup(s.close)
        s.reply()
        s.cmd("EHLO client.example")
        self.assertEqual(s.cmd("MAIL FROM:<s@remote.example>"),
                         (452, ["4.3.1 Insufficient system storage, try again later"]))
        self.assertIn("policy rule=MINAVAILSPACE", self.mta.log_text())
        self.assertEqual(queue_texts(self.mta), before)

        # Just above the minimum, a message larger than what is left: the space runs
        # out while submit writes it. A temporary failure, nothing half-written kept.
        os.unlink(filler)
        self.fill_to(MINAVAIL_KB + 256)
        code, text = self.send("Subject: too big for the disk\r\n\r\n" + ("y" * 76 + "\r\n") * 30000)
        self.assertEqual(code // 100, 4, text)
        self.assertEqual(queue_texts(self.mta), before)
        self.assertEqual(os.listdir(self.mta.path("spool", "tmp")), [])

        # Space again: mail is accepted, and the first message is delivered whole.
        os.unlink(self.mta.path("spool", "filler"))
        self.assertEqual(s.cmd("MAIL FROM:<s@remote.example>")[0], 250)
        s.cmd("QUIT")
        self.mta.run("sbin/courier", "start")
        delivered = self.mta.wait_delivered(self.user, 1)
        self.assertIn(b"keep me intact", delivered[0][1])


if __name__ == "__main__":
    harness.main()
