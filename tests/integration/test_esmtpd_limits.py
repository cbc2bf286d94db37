"""courieresmtpd's time limits (issue 3): the idle timeout per state (commands, DATA)
and the cap on a whole session, each ending with 421 4.4.2 and nothing queued. The
limits are set to seconds here; the test waits for the reply, never times it."""

import os
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
import harness  # noqa: E402
from esmtpd_support import RawSmtp, esmtpd_settings, queue_texts  # noqa: E402


class LimitsTest(harness.InstanceTestCase):
    @classmethod
    def configure(cls, mta):
        cls.user = mta.add_user()
        cls.rcpt = f"{cls.user}@{mta.me}"
        mta.write_config("esmtpd", esmtpd_settings(mta, mta.port, [
            "ESMTP_TIMEOUT=2", "ESMTP_DATA_TIMEOUT=1", "ESMTP_SESSION_LIMIT=4"]))

    def session(self):
        s = RawSmtp(self.mta.port, timeout=15)
        self.addCleanup(s.close)
        self.assertEqual(s.reply()[0], 220)
        return s

    def test_idle_command_timeout(self):
        s = self.session()
        code, text = s.reply()   # no command sent: the server gives up
        self.assertEqual((code, text[0][:5]), (421, "4.4.2"))
        self.assertTrue(s.closed_by_server())

    def test_data_timeout_queues_nothing(self):
        s = self.session()
        s.cmd("EHLO c")
        s.cmd("MAIL FROM:<s@remote.example>")
        self.assertEqual(s.cmd(f"RCPT TO:<{self.rcpt}>")[0], 250)
        self.assertEqual(s.cmd("DATA")[0], 354)
        s.send("Subject: never finished\r\n\r\nhalf")
        code, text = s.reply()
        self.assertEqual((code, text[0][:5]), (421, "4.4.2"))
        self.assertEqual(queue_texts(self.mta), [])
        self.assertIn("message status=aborted", self.mta.log_text())

    def test_session_cap(self):
        s = self.session()
        s.cmd("EHLO c")
        # A client that keeps the session busy is still stopped at the cap.
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            code, text = s.cmd("NOOP")
            if code != 250:
                break
            time.sleep(0.3)
        self.assertEqual(code, 421)
        self.assertIn("Session time limit", text[0])


if __name__ == "__main__":
    harness.main()
