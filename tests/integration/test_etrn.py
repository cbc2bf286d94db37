"""ETRN (RFC 1985, issue 10) end to end: mail deferred for a domain stays in the queue
(retryalpha of an hour) until a relay client sends ETRN for that domain; then courierd
attempts exactly that domain's mail (or, with "@domain", its subdomains' too) and the
peer receives it. A client that is not a relay client gets 459; with courierd not
running the reply is 458."""

import os
import socket
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
import courierd_support as cs  # noqa: E402
import harness  # noqa: E402
from esmtpd_support import RawSmtp, esmtpd_settings  # noqa: E402
from smtp_peer import SmtpPeer  # noqa: E402

NET = "127.0.61."
TEMPFAIL = "451 4.3.0 the test peer says later"


class SourceSmtp(RawSmtp):
    def __init__(self, port, source, timeout=20):
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=timeout,
                                             source_address=(source, 0))
        self.buf = b""


class EtrnTest(harness.InstanceTestCase):
    @classmethod
    def configure(cls, mta):
        cls.peer = SmtpPeer(NET + "2", 25).start()
        mta.write_config("esmtpdelay", "0\n")
        mta.write_config("retryalpha", "1h\n")
        mta.write_config("retrygamma", "2h\n")
        route = f"[{NET}2],25"
        mta.write_config("esmtproutes", f"etrn.test: {route}\nmx.sub.etrn.test: {route}\nother.test: {route}\n")
        mta.write_config("smtpaccess", "127.0.0.1\tallow,RELAYCLIENT\n")
        mta.run("sbin/makesmtpaccess")
        dat = mta.path("etc", "smtpaccess.dat")
        mta.write_config("esmtpd", esmtpd_settings(mta, mta.port, [f'TCPDOPTS="-nodnslookup -access={dat}"']))
        cls.sender = mta.add_user()

    @classmethod
    def release(cls):
        cls.peer.stop()

    def deferred(self, rcpt, subject):
        self.peer.rcpt_replies[rcpt.lower()] = TEMPFAIL
        replies, qid = cs.submit(self.mta, f"{self.sender}@{self.mta.me}", [rcpt],
                                 f"Subject: {subject}\n\nbody\n", source="local")
        self.assertIsNotNone(qid, replies)
        harness.wait_for(lambda: [r for r in cs.status_log(self.mta, qid) if r[0] == "retry"],
                         timeout=20, what="the first deferral")
        self.peer.rcpt_replies.pop(rcpt.lower(), None)
        return qid

    def queued(self, qid):
        return os.path.exists(self.mta.path("spool", "msgs", qid[:5], "Q" + qid))

    def received(self, subject):
        return harness.wait_for(
            lambda: [m for m in self.peer.messages if ("Subject: " + subject).encode() in m["data"]],
            timeout=30, what=f"{subject!r} at the peer")

    def session(self, source="127.0.0.1"):
        s = SourceSmtp(self.mta.port, source)
        self.addCleanup(s.close)
        self.assertEqual(s.reply()[0], 220)
        code, lines = s.cmd("EHLO client.example")
        self.assertIn("ETRN", lines)
        return s

    def test_etrn_flushes_one_domain_then_subdomains(self):
        exact = self.deferred("a@etrn.test", "etrn-exact")
        sub = self.deferred("c@mx.sub.etrn.test", "etrn-sub")
        other = self.deferred("b@other.test", "etrn-other")
        s = self.session()
        self.assertEqual(s.cmd("ETRN etrn.test"), (250, ["2.0.0 Queuing for node etrn.test started"]))
        self.received("etrn-exact")
        harness.wait_for(lambda: not self.queued(exact), timeout=20, what="the flushed message to go")
        self.assertTrue(self.queued(sub), "ETRN etrn.test also flushed a subdomain")
        self.assertTrue(self.queued(other), "ETRN etrn.test flushed another domain")
        self.assertEqual(s.cmd("ETRN @etrn.test")[0], 250)
        self.received("etrn-sub")
        self.assertTrue(self.queued(other))
        self.assertIn("etrn status=started client=127.0.0.1 domain=etrn.test", self.mta.log_text())
        self.assertIn("courierd: etrn domain=@etrn.test messages=1", self.mta.log_text())
        self.mta.run("sbin/courier", "flush")
        self.received("etrn-other")

    def test_not_a_relay_client(self):
        s = self.session("127.0.0.2")
        self.assertEqual(s.cmd("ETRN other.test"),
                         (459, ["4.7.1 Node other.test not allowed: ETRN is for relay clients only"]))
        self.assertIn("policy rule=ETRN not-relay-client client=127.0.0.2", self.mta.log_text())
        self.assertEqual(s.cmd("ETRN #queue")[0], 458)
        self.assertEqual(s.cmd("ETRN not..a..domain")[0], 501)

    def test_courierd_not_running(self):
        self.mta.run("sbin/courier", "stop")
        self.addCleanup(self.mta.run, "sbin/courier", "start")
        s = self.session()
        self.assertEqual(s.cmd("ETRN etrn.test"), (458, ["4.3.0 Unable to queue messages for node etrn.test"]))


if __name__ == "__main__":
    harness.main()
