"""Local mail filtering (issues 4 and 7; localmailfilter(7), courier(8) maildropfilter,
aliasfilteracct): submit runs the program named in maildropfilter for each local
recipient (-D uid/gid -M rcptfilter[-ext]) and after the data for those whose filter
exited 99 (-M smtpfilter[-ext], the message on stdin). The filter here is a script
written by the test: it records its uid, argv, environment and input, and answers from
a policy file keyed by "<uid> <mode>". Every check looks at SMTP replies on the wire,
the Maildirs and the filter's own record."""

import json
import os
import pwd
import smtplib
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
import harness  # noqa: E402

FILTER = r"""#!/usr/bin/python3
import json, os, sys, time
root = os.path.dirname(os.path.abspath(__file__))
mode = sys.argv[4] if len(sys.argv) > 4 else ""
data = sys.stdin.buffer.read().decode("utf-8", "replace") if mode.startswith("smtpfilter") else ""
with open(os.path.join(root, "filter.log"), "a") as f:
    f.write(json.dumps({"uid": os.getuid(), "euid": os.geteuid(), "argv": sys.argv,
                        "env": dict(os.environ), "stdin": data}) + "\n")
with open(os.path.join(root, "filter.policy")) as f:
    policy = json.load(f)
uid = sys.argv[2].split("/")[0] if len(sys.argv) > 2 else ""
rule = policy.get(uid + " " + mode)
if rule is None:
    sys.exit(0)
code, text = rule[0], rule[1]
if code == "sleep":
    time.sleep(30)
    sys.exit(0)
if code == "content":   # reject after the data when the message holds the word
    word, code, text = rule[1], rule[2], rule[3]
    if word not in data:
        sys.exit(0)
sys.stdout.write(text)
sys.exit(code)
"""


class LocalFilterTest(harness.InstanceTestCase):
    @classmethod
    def configure(cls, mta):
        cls.ok, cls.bad, cls.temp, cls.content, cls.slow = (mta.add_user() for _ in range(5))
        cls.admin, cls.content2 = mta.add_user(), mta.add_user()
        cls.mail_uid = pwd.getpwnam(harness.MAIL_USER).pw_uid
        cls.filter = mta.path("filter.py")
        with open(cls.filter, "w") as f:
            f.write(FILTER)
        os.chmod(cls.filter, 0o755)
        cls.log = mta.path("filter.log")
        with open(cls.log, "w"):
            pass
        os.chmod(cls.log, 0o666)
        uid = lambda u: str(pwd.getpwnam(u).pw_uid)  # noqa: E731
        cls.admin_home = mta.path("home", cls.admin)
        policy = {
            uid(cls.bad) + " rcptfilter": [1, "550 5.7.1 No mail from you, please\nsecond line\n"],
            uid(cls.bad) + " rcptfilter-ext": [0, ""],
            uid(cls.temp) + " rcptfilter": [75, "busy right now\n"],
            uid(cls.content) + " rcptfilter": [99, ""],
            uid(cls.content) + " smtpfilter": ["content", "BUYNOW", 1, "554 5.7.1 Content refused\n"],
            uid(cls.content2) + " rcptfilter": [99, ""],
            uid(cls.slow) + " rcptfilter": ["sleep", ""],
            uid(cls.admin) + f" rcptfilter-alias-blocked@{mta.me}": [1, "alias closed\n"],
        }
        with open(mta.path("filter.policy"), "w") as f:
            json.dump(policy, f)
        os.chmod(mta.path("filter.policy"), 0o644)
        mta.write_config("maildropfilter", cls.filter + "\n")
        mta.write_config("enablefiltering", "esmtp\n")
        mta.write_config("filtertimeout", "3\n")
        mta.write_config("aliasfilteracct", cls.admin_home + "\n")
        mta.write_config("aliases", f"staff: {cls.ok}\nblocked: {cls.ok}\n")
        mta.run("sbin/makealiases")

    def records(self):
        with open(self.log) as f:
            return [json.loads(line) for line in f if line.strip()]

    def records_for(self, mode_prefix, uid=None):
        return [r for r in self.records()
                if len(r["argv"]) > 4 and r["argv"][4].startswith(mode_prefix)
                and (uid is None or r["argv"][2].split("/")[0] == str(uid))]

    def rcpt_reply(self, rcpt, sender="s@remote.example"):
        with self.mta.smtp() as s:
            s.ehlo("client.example")
            s.mail(sender)
            return s.rcpt(rcpt)

    def send(self, rcpts, body, subject="t"):
        with self.mta.smtp() as s:
            return s.sendmail("s@remote.example", rcpts, f"Subject: {subject}\r\n\r\n{body}\r\n")

    def test_refusal_gives_the_filters_text_on_the_wire(self):
        code, msg = self.rcpt_reply(f"{self.bad}@{self.mta.me}")
        self.assertEqual(code, 550)
        self.assertEqual(msg.decode(), "5.7.1 No mail from you, please")
        self.assertIn("rule=maildropfilter", self.mta.log_text())

    def test_tempfail_exit_is_a_4xx(self):
        code, msg = self.rcpt_reply(f"{self.temp}@{self.mta.me}")
        self.assertEqual(code, 450)
        self.assertEqual(msg.decode(), "4.7.1 busy right now")

    def test_accepted_recipient_is_delivered_and_filter_got_courier_interface(self):
        self.send([f"{self.ok}@{self.mta.me}"], "hello", subject="accept-1")
        self.mta.wait_delivered(self.ok, 1)
        pw = pwd.getpwnam(self.ok)
        recs = self.records_for("rcptfilter", pw.pw_uid)
        self.assertTrue(recs)
        r = recs[-1]
        # Courier runs the filter as the mail user (never root, never the recipient),
        # telling it the recipient's uid/gid; a set-uid filter switches itself.
        self.assertEqual(r["uid"], self.mail_uid)
        self.assertEqual(r["euid"], self.mail_uid)
        self.assertEqual(r["argv"][0], self.filter)   # python puts the script path in argv[0]
        self.assertEqual(r["argv"][1:5], ["-D", f"{pw.pw_uid}/{pw.pw_gid}", "-M", "rcptfilter"])
        self.assertEqual(r["argv"][6:8], ["127.0.0.1", "s@remote.example"])
        self.assertEqual(r["env"]["HOME"], pw.pw_dir)
        self.assertEqual(r["env"]["SENDER"], "s@remote.example")
        self.assertEqual(r["env"]["TCPREMOTEIP"], "127.0.0.1")
        self.assertNotIn("COURIER_ROOT", r["env"])   # a clean environment

    def test_address_extension_names_the_filter(self):
        code, _ = self.rcpt_reply(f"{self.bad}-ext@{self.mta.me}")
        self.assertEqual(code, 250)
        self.assertTrue(self.records_for("rcptfilter-ext", pwd.getpwnam(self.bad).pw_uid))

    def test_content_filter_sees_the_message_and_can_refuse_after_data(self):
        rcpt = f"{self.content}@{self.mta.me}"
        with self.assertRaises(smtplib.SMTPDataError) as cm:
            self.send([rcpt], "please BUYNOW today", subject="spam-1")
        self.assertEqual(cm.exception.smtp_code, 554)
        self.assertIn(b"Content refused", cm.exception.smtp_error)
        recs = self.records_for("smtpfilter", pwd.getpwnam(self.content).pw_uid)
        self.assertTrue(any("please BUYNOW today" in r["stdin"] and "Subject: spam-1" in r["stdin"]
                            for r in recs))
        self.send([rcpt], "a normal letter", subject="ham-1")
        data = self.mta.wait_delivered(self.content, 1)
        self.assertTrue(any(b"ham-1" in d for _, d in data))
        self.assertFalse(any(b"spam-1" in d for _, d in self.mta.delivered(self.content)))

    def test_content_refusal_of_one_recipient_drops_only_that_recipient(self):
        self.send([f"{self.content}@{self.mta.me}", f"{self.content2}@{self.mta.me}"],
                  "BUYNOW for two", subject="split-1")
        harness.wait_for(lambda: any(b"split-1" in d for _, d in self.mta.delivered(self.content2)),
                         what="split-1 for the accepting recipient")
        self.assertFalse(any(b"split-1" in d for _, d in self.mta.delivered(self.content)))
        self.assertIn(f"localfilter dropped rcpt={self.content}@{self.mta.me}", self.mta.log_text())

    def test_whitelisted_and_content_filtered_recipients_are_not_mixed(self):
        with self.mta.smtp() as s:
            s.ehlo("client.example")
            s.mail("s@remote.example")
            self.assertEqual(s.rcpt(f"{self.ok}@{self.mta.me}")[0], 250)
            code, msg = s.rcpt(f"{self.content}@{self.mta.me}")
            self.assertEqual(code, 452)
            self.assertIn(b"separate message", msg)

    def test_alias_is_filtered_as_the_aliasfilteracct_owner(self):
        admin = pwd.getpwnam(self.admin)
        code, msg = self.rcpt_reply(f"blocked@{self.mta.me}")
        self.assertEqual(code, 550)
        self.assertEqual(msg.decode(), "5.7.1 alias closed")
        self.send([f"staff@{self.mta.me}"], "to the team", subject="alias-1")
        harness.wait_for(lambda: any(b"alias-1" in d for _, d in self.mta.delivered(self.ok)),
                         what="alias-1 delivered")
        recs = self.records_for(f"rcptfilter-alias-staff@{self.mta.me}")
        self.assertTrue(recs)
        r = recs[-1]
        self.assertEqual(r["argv"][2], f"{admin.pw_uid}/{admin.pw_gid}")
        self.assertEqual(r["env"]["HOME"], self.admin_home)
        self.assertEqual(r["uid"], self.mail_uid)

    def test_slow_filter_is_a_temporary_failure(self):
        code, _ = self.rcpt_reply(f"{self.slow}@{self.mta.me}")
        self.assertEqual(code, 451)
        self.assertIn("why=timeout", self.mta.log_text())

    def test_without_maildropfilter_nothing_runs(self):
        path = self.mta.path("etc", "maildropfilter")
        os.unlink(path)
        try:
            before = len(self.records())
            code, _ = self.rcpt_reply(f"{self.bad}@{self.mta.me}")
            self.assertEqual(code, 250)
            self.assertEqual(len(self.records()), before)
        finally:
            self.mta.write_config("maildropfilter", self.filter + "\n")


if __name__ == "__main__":
    harness.main()
