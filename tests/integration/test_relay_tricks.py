"""Relay control (issue 10; courier(8) locals, RELAYCLIENT): as a client that is not a
relay client, every classic open-relay test address aimed at an external domain is
refused on the wire, nothing is queued for outbound delivery, and the log names the
rule. A relay client may still relay."""

import os
import smtplib
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
import harness  # noqa: E402

VICTIM = "victim.invalid"


def rcpt_reply(mta, rcpt, helo="client.example"):
    """The reply to RCPT TO:<rcpt> (the address text given raw, as a relay tester does)."""
    with mta.smtp() as s:
        s.ehlo(helo)
        code, _ = s.mail("tester@client.example")
        assert code == 250, code
        s.putcmd("rcpt", "TO:<%s>" % rcpt)
        code, text = s.getreply()
        s.rset()
        return code, text.decode(errors="replace")


class RelayTricksTest(harness.InstanceTestCase):
    @classmethod
    def configure(cls, mta):
        cls.user = mta.add_user()
        mta.write_config("locals", f"{mta.me}\nlocal.example\n")

    def forms(self):
        me, u = self.mta.me, self.user
        return [
            f"{u}@{VICTIM}",                          # plain relaying
            f"{u}@VICTIM.Invalid",                    # mixed case
            f"{u}%{VICTIM}@{me}",                     # percent hack
            f"{u}%{VICTIM}@local.example",
            f"{VICTIM}!{u}@{me}",                     # bang path
            f"{VICTIM}!{u}",                          # bang path, no domain
            f'"{u}@{VICTIM}"@{me}',                   # quoted local part with @
            f'"{u}%{VICTIM}"@{me}',
            f"@{me}:{u}@{VICTIM}",                    # source route
            f"@{me},@local.example:{u}@{VICTIM}",
            f"{u}@[192.0.2.1]",                       # address literal, not ours
            f"{u}%{VICTIM}@[127.0.0.1]",              # literal of our address + percent hack
            f"{u}@{VICTIM}.",                         # trailing dot
            f"{u}@{me}.{VICTIM}",                     # our name as a prefix
            f"{u}@{VICTIM}@{me}",                     # two @
            f"{u}%{VICTIM}%{me}@{me}",
        ]

    def test_every_form_is_refused(self):
        for form in self.forms():
            with self.subTest(form=form):
                code, text = rcpt_reply(self.mta, form)
                self.assertTrue(500 <= code < 600, f"{form}: {code} {text}")

    def test_nothing_queued_for_outbound_and_rule_logged(self):
        for form in self.forms():
            rcpt_reply(self.mta, form)
        log = self.mta.log_text()
        self.assertNotIn("module=esmtp", log)
        self.assertIn("rule=percent hack", log)
        self.assertIn("rule=bang path", log)
        self.assertIn("rule=embedded @", log)
        self.assertIn("rule=not a local, hosted or accepted domain", log)
        self.assertEqual(self.mta.queue_files(), [])

    def test_a_whole_message_with_tricks_never_leaves(self):
        with self.mta.smtp() as s:
            refused = {}
            try:
                refused = s.sendmail("tester@client.example", [self.user, f"{self.user}%{VICTIM}@{self.mta.me}"],
                                     "Subject: tricks\r\n\r\nbody\r\n")
            except smtplib.SMTPRecipientsRefused as e:
                refused = e.recipients
        self.assertIn(f"{self.user}%{VICTIM}@{self.mta.me}", refused)
        self.mta.wait_delivered(self.user, 1)
        self.assertNotIn("module=esmtp", self.mta.log_text())

    def test_local_mail_still_accepted(self):
        code, _ = rcpt_reply(self.mta, f"{self.user}@Local.Example")
        self.assertEqual(code, 250)


class RelayClientTest(harness.InstanceTestCase):
    """RELAYCLIENT set: the same client may relay to any domain."""

    @classmethod
    def configure(cls, mta):
        with open(mta.path("etc", "esmtpd"), "a") as f:
            f.write("RELAYCLIENT=\n")

    def test_relay_client_may_relay(self):
        code, text = rcpt_reply(self.mta, f"someone@{VICTIM}")
        self.assertEqual(code, 250, text)
        self.assertIn("rule=relay client", self.mta.log_text())


if __name__ == "__main__":
    harness.main()
