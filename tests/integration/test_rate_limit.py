#!/usr/bin/env python3
"""ratelimit(8) over SMTP: the N+1st message from one client IP within the window is
refused with 451 4.7.1 (and logged with its rule), and accepted again once the window
has passed; a recipients-per-sender limit counts recipients; concurrent sessions (each
its own courieresmtpd and submit) share one counter, so exactly N of a burst get
through; a bad config line is refused with file:line."""

import concurrent.futures
import os
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
import harness  # noqa: E402

WINDOW = 4   # seconds: short, so the test can wait for it to pass


class RateLimitBase(harness.InstanceTestCase):
    LIMITS = ""

    @classmethod
    def configure(cls, mta):
        cls.user = mta.add_user()
        cls.rcpt = f"{cls.user}@{mta.me}"
        mta.write_config("ratelimit", cls.LIMITS)
        mta.write_config("enablefiltering", "esmtp\n")
        mta.run("sbin/filterctl", "start", "ratelimit", mta.path("libexec", "ratelimit"))
        mta.run("sbin/courierfilter", "start")
        harness.wait_for(lambda: os.path.exists(mta.path("spool", "filters", "ratelimit")), timeout=15,
                         what="the ratelimit socket")

    def send(self, sender, rcpts=None, tag="m"):
        """(code, text) at the end of DATA."""
        rcpts = rcpts or [self.rcpt]
        with self.mta.smtp() as s:
            s.ehlo("client.example")
            self.assertEqual(s.mail(sender)[0], 250)
            for r in rcpts:
                self.assertEqual(s.rcpt(r)[0], 250)
            code, text = s.data(f"From: {sender}\r\nSubject: {tag}\r\n\r\nbody {tag}\r\n".encode())
            return code, text.decode(errors="replace")


class IpWindowTest(RateLimitBase):
    LIMITS = f"# three messages per client address in {WINDOW} seconds\nip messages 3 {WINDOW}s\n"

    def test_n_plus_first_refused_then_accepted_after_window(self):
        first = time.monotonic()
        for i in range(3):
            code, text = self.send("a@example.com", tag=f"ip-{i}")
            self.assertEqual(code, 250, text)
        code, text = self.send("b@example.com", tag="ip-over")
        self.assertEqual(code, 451)
        self.assertIn("4.7.1 Rate limit of 3 messages per ip exceeded", text)
        self.assertLess(time.monotonic() - first, WINDOW, "too slow to test the window")
        log = self.mta.log_text()
        self.assertIn(f"ratelimit rule={self.mta.path('etc', 'ratelimit')}:2 "
                      f'counter="ip messages {WINDOW} 127.0.0.1" in_window=3', log)
        # Still refused inside the window, accepted once it has passed.
        time.sleep(max(0.0, first + WINDOW + 0.5 - time.monotonic()))
        code, text = self.send("a@example.com", tag="ip-after")
        self.assertEqual(code, 250, text)
        self.mta.wait_delivered(self.user, 4)
        self.assertFalse(any(b"ip-over" in d for _, d in self.mta.delivered(self.user)))

    def test_bad_config_is_refused_with_file_and_line(self):
        bad = self.mta.path("etc", "ratelimit.bad")
        with open(bad, "w") as f:
            f.write("ip messages 3 10s\nsender messages 5 soon\n")
        r = self.mta.run("libexec/ratelimit", "-check", bad, check=False)
        self.assertEqual(r.returncode, 78)
        self.assertIn(f"{bad}:2: bad window", r.stderr)


class SenderLimitsTest(RateLimitBase):
    LIMITS = "sender recipients 4 1h\nsender messages 3 1h\n"

    @classmethod
    def configure(cls, mta):
        # Distinct accounts: submit merges duplicate recipients, and the filter counts
        # the recipients it is given.
        cls.others = [mta.add_user() for _ in range(5)]
        super().configure(mta)

    def rcpts(self, n):
        return [f"{u}@{self.mta.me}" for u in self.others[:n]]

    def test_recipients_per_sender(self):
        code, _ = self.send("many@example.com", self.rcpts(3), tag="r-1")
        self.assertEqual(code, 250)
        code, text = self.send("many@example.com", self.rcpts(2), tag="r-2")   # 3 + 2 > 4
        self.assertEqual(code, 451)
        self.assertIn("recipients per sender", text)
        code, _ = self.send("MANY@example.com", tag="r-3")   # 3 + 1 fits; senders ignore case
        self.assertEqual(code, 250)
        code, text = self.send("many@example.com", self.rcpts(5), tag="r-4")  # never fits
        self.assertEqual(code, 550)

    def test_concurrent_sessions_share_one_counter(self):
        def one(i):
            return self.send("burst@example.com", tag=f"burst-{i}")[0]
        with concurrent.futures.ThreadPoolExecutor(max_workers=8) as pool:
            codes = list(pool.map(one, range(8)))
        self.assertEqual(sorted(codes), [250] * 3 + [451] * 5, codes)


if __name__ == "__main__":
    harness.main()
