"""Delivery status notifications (RFC 3464) and backscatter suppression (issue 5).

A scripted module (tests/courierd_support.py) stands in for outbound ESMTP, which is
issue 6's: it fails fail*@, delivers ok*@ and defers defer*@ recipients. Notices go to
a local sender, and the test parses them with Python's email package."""

import os
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
import harness  # noqa: E402
import courierd_support as cs  # noqa: E402


class NoticeTest(harness.InstanceTestCase):
    @classmethod
    def configure(cls, mta):
        cs.install_script_module(mta)
        mta.write_config("retryalpha", "1\n")
        mta.write_config("retrybeta", "100\n")
        mta.write_config("warntime", "2s\n")
        mta.write_config("queuetime", "6s\n")
        mta.write_config("dsnfrom", '"Test Mailer" <mailer-daemon@test.example>\n')

    def sender(self):
        user = self.mta.add_user()
        return user, f"{user}@{self.mta.me}"

    def wait_notices(self, user, n, what):
        return harness.wait_for(lambda: len(cs.notices(self.mta, user)) >= n and cs.notices(self.mta, user),
                                timeout=30, what=what)

    def test_failure_notice_honours_ret_envid_orcpt(self):
        user, addr = self.sender()
        replies, qid = cs.submit(self.mta, addr, ["fail1@remote.example", "ok1@remote.example"],
                                 "Subject: will bounce\nMessage-ID: <m1@x>\n\nsecret body\n",
                                 mail_params="RET=HDRS ENVID=env+2B42",
                                 rcpt_params={"fail1@remote.example": "NOTIFY=FAILURE ORCPT=rfc822;Fail1@remote.example"})
        self.assertIsNotNone(qid, replies)
        n = self.wait_notices(user, 1, "the failure notice")[0]
        self.assertEqual(n["To"], f"<{addr}>")
        self.assertEqual(n["From"], '"Test Mailer" <mailer-daemon@test.example>')
        self.assertIn("Failure", n["Subject"])
        self.assertEqual(n["Auto-Submitted"], "auto-replied")
        per_msg, per_rcpt = cs.report_fields(n)
        self.assertEqual(per_msg["Reporting-MTA"], f"dns; {self.mta.me}")
        self.assertEqual(per_msg["Original-Envelope-Id"], "env+42")   # xtext decoded
        self.assertEqual(len(per_rcpt), 1, "the delivered recipient asked for no success notice")
        r = per_rcpt[0]
        self.assertEqual(r["Final-Recipient"], "rfc822; fail1@remote.example")
        self.assertEqual(r["Original-Recipient"], "rfc822;Fail1@remote.example")
        self.assertEqual(r["Action"], "failed")
        self.assertEqual(r["Status"], "5.1.1")
        self.assertTrue(r["Diagnostic-Code"].startswith("smtp; 550 5.1.1"))
        parts = n.get_payload()
        self.assertEqual(parts[0].get_content_type(), "text/plain")
        self.assertEqual(parts[2].get_content_type(), "text/rfc822-headers")   # RET=HDRS
        self.assertIn("Subject: will bounce", parts[2].get_payload())
        self.assertNotIn("secret body", n.as_string())
        harness.wait_for(lambda: not os.path.exists(self.mta.path("spool", "msgs", qid[:5], "Q" + qid)),
                         timeout=20, what="the message to leave the queue")
        # The notice itself came from the null sender through submit.
        raw = [d for _, d in self.mta.delivered(user)][0]
        self.assertTrue(raw.startswith(b"Return-Path: <>"), raw[:80])

    def test_success_notice_with_full_message(self):
        # Final delivery happens here (the local module): the success notice is ours.
        user, addr = self.sender()
        rcpt = f"{self.mta.add_user()}@{self.mta.me}"
        _, qid = cs.submit(self.mta, addr, [rcpt], "Subject: hello\n\nfull body\n",
                           mail_params="RET=FULL", rcpt_params={rcpt: "NOTIFY=SUCCESS"})
        n = self.wait_notices(user, 1, "the success notice")[0]
        _, per_rcpt = cs.report_fields(n)
        self.assertEqual(per_rcpt[0]["Final-Recipient"], f"rfc822; {rcpt}")
        self.assertEqual(per_rcpt[0]["Action"], "delivered")
        self.assertEqual(per_rcpt[0]["Status"], "2.0.0")
        returned = n.get_payload()[2]
        self.assertEqual(returned.get_content_type(), "message/rfc822")
        self.assertIn("full body", n.as_string())

    def test_delay_notice_once_then_expiry_bounce(self):
        user, addr = self.sender()
        _, qid = cs.submit(self.mta, addr, ["defer1@remote.example"], "Subject: slow\n\nbody\n")
        first = self.wait_notices(user, 1, "the delay notice")[0]
        self.assertIn("Delay", first["Subject"])
        _, per_rcpt = cs.report_fields(first)
        self.assertEqual(per_rcpt[0]["Action"], "delayed")
        self.assertEqual(per_rcpt[0]["Status"], "4.4.1")
        self.assertIn("Will-Retry-Until", per_rcpt[0])
        self.assertEqual(first.get_payload()[2].get_content_type(), "text/rfc822-headers")
        notes = self.wait_notices(user, 2, "the expiry bounce")
        harness.wait_for(lambda: not os.path.exists(self.mta.path("spool", "msgs", qid[:5], "Q" + qid)),
                         timeout=20, what="the expired message to leave the queue")
        time.sleep(1)
        notes = cs.notices(self.mta, user)
        kinds = [cs.report_fields(n)[1][0]["Action"] for n in notes]
        self.assertEqual(sorted(kinds), ["delayed", "failed"], "exactly one warning and one bounce")
        bounce = [n for n in notes if cs.report_fields(n)[1][0]["Action"] == "failed"][0]
        r = cs.report_fields(bounce)[1][0]
        self.assertEqual(r["Status"], "5.4.7")
        self.assertIn("4.4.1", r["Diagnostic-Code"])
        self.assertEqual(bounce.get_payload()[2].get_content_type(), "message/rfc822")
        self.assertIn(f"expired id={qid}", self.mta.log_text())

    def test_no_notice_to_the_null_sender(self):
        _, qid = cs.submit(self.mta, "", ["fail3@remote.example"], "Subject: from nobody\n\nx\n")
        self.assertIsNotNone(qid)
        harness.wait_for(lambda: f"removed id={qid}" in self.mta.log_text(), timeout=20,
                         what="the failed message's removal")
        self.assertNotIn(f"notice id={qid}", self.mta.log_text())

    def test_notify_never(self):
        user, addr = self.sender()
        _, qid = cs.submit(self.mta, addr, ["fail4@remote.example"], "Subject: quiet\n\nx\n",
                           rcpt_params={"fail4@remote.example": "NOTIFY=NEVER"})
        harness.wait_for(lambda: f"removed id={qid}" in self.mta.log_text(), timeout=20,
                         what="the failed message's removal")
        self.assertEqual(cs.notices(self.mta, user), [])


class BackscatterTest(harness.InstanceTestCase):
    @classmethod
    def configure(cls, mta):
        cs.install_script_module(mta)
        mta.write_config("retryalpha", "1\n")

    def shown(self):
        return [ln.split()[0] for ln in self.mta.run("sbin/courier", "show", "all").stdout.splitlines()]

    def test_permanent_failure_of_smtp_mail_is_listed_until_cleared(self):
        _, qid = cs.submit(self.mta, "someone@remote.example", ["failbs@Remote.Example"], "Subject: x\n\nx\n")
        harness.wait_for(lambda: "failbs@remote.example" in self.shown(), timeout=20,
                         what="the address on the backscatter list")
        # Survives a restart of courierd.
        self.mta.run("sbin/courier", "stop")
        self.mta.run("sbin/courier", "start")
        self.assertIn("failbs@remote.example", self.shown())
        self.assertTrue(os.path.exists(self.mta.path("spool", "backscatter.dat")))
        self.mta.run("sbin/courier", "clear", "failbs@remote.example")
        self.assertNotIn("failbs@remote.example", self.shown())

    def test_clear_all_and_sources(self):
        cs.submit(self.mta, "a@remote.example", ["failbs2@remote.example"], "Subject: x\n\nx\n")
        # Authenticated SMTP is not suppressed by the default "smtp" setting.
        cs.submit(self.mta, "b@remote.example", ["failbs3@remote.example"], "Subject: x\n\nx\n",
                  session={"auth": "someone"})
        harness.wait_for(lambda: "failbs2@remote.example" in self.shown(), timeout=20,
                         what="the address on the backscatter list")
        harness.wait_for(lambda: self.mta.log_text().count("removed id=") >= 2, timeout=20,
                         what="both messages to be finished")
        self.assertNotIn("failbs3@remote.example", self.shown())
        self.mta.run("sbin/courier", "clear", "all")
        self.assertEqual(self.shown(), [])

    def test_a_later_successful_delivery_removes_the_address(self):
        cs.submit(self.mta, "c@remote.example", ["failbs4@remote.example"], "Subject: x\n\nx\n")
        harness.wait_for(lambda: "failbs4@remote.example" in self.shown(), timeout=20,
                         what="the address on the backscatter list")
        # The peer accepts the address again (the scripted module's release file); the
        # next message to it is delivered and the address leaves the list. (Local mail:
        # submit refuses SMTP mail to a listed address.)
        open(cs.module_file(self.mta, "release-failbs4"), "w").close()
        replies, qid2 = cs.submit(self.mta, "c@remote.example", ["failbs4@remote.example"],
                                  "Subject: y\n\ny\n", source="local")
        self.assertIsNotNone(qid2, replies)
        harness.wait_for(lambda: f"removed id={qid2}" in self.mta.log_text(), timeout=20,
                         what="the delivery")
        self.assertNotIn("failbs4@remote.example", self.shown())


if __name__ == "__main__":
    harness.main()
