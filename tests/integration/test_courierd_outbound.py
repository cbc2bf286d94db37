"""courierd against a real SMTP peer (issue 5, "Done when"): courieresmtp delivers to an
aiosmtpd peer (tests/smtp_peer.py) on 127.0.51.x, reached through esmtproutes. The peer
answers 451 to chosen recipients until the test lets them through: the retries follow
the schedule, `courier flush` works for one message and for all, warntime and
queuetime give RFC 3464 notices, and backuprelay reroutes after warntime."""

import os
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
import harness  # noqa: E402
import courierd_support as cs  # noqa: E402
from smtp_peer import RawPeer, SmtpPeer  # noqa: E402

NET = "127.0.51."
TEMPFAIL = "451 4.3.0 the test peer says later"


def schedule(alpha, beta, gamma, maxdelta, count):
    """The waits of courier(8)'s prose, as courierd/retry.h implements them."""
    return [alpha if a % beta else gamma * 2 ** min(a // beta - 1, maxdelta) for a in range(1, count + 1)]


class PeerTestCase(harness.InstanceTestCase):
    """An instance whose domain peer.test is routed to one SMTP peer (port 25 on
    NET + peer_octet); settings: the class's config dict."""
    peer_octet = "2"
    config = {}
    routes = ""

    @classmethod
    def configure(cls, mta):
        cls.peers = []
        cls.peer = SmtpPeer(NET + cls.peer_octet, 25).start()
        cls.peers.append(cls.peer)
        mta.write_config("esmtpdelay", "0\n")
        mta.write_config("esmtproutes", f"peer.test: [{NET}{cls.peer_octet}],25\n" + cls.routes)
        for name, value in cls.config.items():
            mta.write_config(name, value + "\n")
        cls.sender = mta.add_user()


    @classmethod
    def release(cls):
        for p in getattr(cls, "peers", []):
            p.stop()


    def send(self, rcpt, subject, tempfail=True):
        if tempfail:
            self.peer.rcpt_replies[rcpt.lower()] = TEMPFAIL
        replies, qid = cs.submit(self.mta, f"{self.sender}@{self.mta.me}", [rcpt],
                                 f"Subject: {subject}\n\nbody\n", source="local")
        self.assertIsNotNone(qid, replies)
        return qid

    def let_through(self, rcpt):
        self.peer.rcpt_replies.pop(rcpt.lower(), None)

    def received(self, peer, subject, timeout=30):
        return harness.wait_for(
            lambda: [m for m in peer.messages if ("Subject: " + subject).encode() in m["data"]],
            timeout=timeout, what=f"{subject!r} at the peer {peer.host}")

    def retries(self, qid):
        return [r for r in cs.status_log(self.mta, qid) if r[0] == "retry"]

    def gone(self, qid):
        harness.wait_for(lambda: not os.path.exists(self.mta.path("spool", "msgs", qid[:5], "Q" + qid)),
                         timeout=20, what=f"{qid} to leave the queue")


class RetryTest(PeerTestCase):
    config = {"retryalpha": "1s", "retrybeta": "2", "retrygamma": "2", "retrymaxdelta": "1"}

    def test_451_is_retried_on_schedule_then_250_delivers(self):
        rcpt = "retry1@peer.test"
        qid = self.send(rcpt, "retried")
        harness.wait_for(lambda: len(self.retries(qid)) >= 4, timeout=40, what="four retry records")
        self.let_through(rcpt)
        got = self.received(self.peer, "retried")
        self.assertEqual(got[0]["rcpts"], [rcpt])
        self.gone(qid)
        # The status log is gone with the message; the log lines tell the attempts.
        lines = [ln for ln in self.mta.log_text().splitlines()
                 if f"delivery id={qid}" in ln and " courierd[" in ln]
        defers = [ln for ln in lines if "status=defer" in ln]
        self.assertGreaterEqual(len(defers), 4)
        self.assertIn("module=esmtp", defers[0])
        self.assertIn("code=4.3.0", defers[0])
        self.assertIn("the test peer says later", defers[0])
        self.assertIn("status=ok", lines[-1])

    def test_retry_records_follow_the_schedule(self):
        rcpt = "retry2@peer.test"
        qid = self.send(rcpt, "schedule")
        harness.wait_for(lambda: len(self.retries(qid)) >= 5, timeout=40, what="five retry records")
        log = cs.status_log(self.mta, qid)
        self.let_through(rcpt)
        waits, attempts, due = [], [], None
        last_deferral = None
        for r in log:
            if r[0] == "deferred":
                last_deferral = int(r[2])
                self.assertIn("451 4.3.0", r[3])
                if due is not None:
                    self.assertGreaterEqual(last_deferral, due, "an attempt came early")
            if r[0] == "retry":
                due = int(r[1])
                waits.append(due - last_deferral)
                attempts.append(int(r[2]))
        self.assertEqual(attempts[:5], [1, 2, 3, 4, 5])
        # retryalpha 1 s, retrybeta 2, retrygamma 2 s, retrymaxdelta 1: 1 2 1 4 1
        self.assertEqual(waits[:5], schedule(1, 2, 2, 1, 5))
        self.assertEqual(waits[:5], [1, 2, 1, 4, 1])
        self.received(self.peer, "schedule")
        self.gone(qid)


class FlushTest(PeerTestCase):
    """retryalpha of an hour: only a flush makes courierd try again."""
    peer_octet = "3"
    config = {"retryalpha": "1h", "retrygamma": "2h"}

    def deferred(self, rcpt, subject):
        qid = self.send(rcpt, subject)
        harness.wait_for(lambda: self.retries(qid), timeout=20, what="the first deferral")
        return qid

    def test_flush_one_then_all(self):
        one = self.deferred("flush1@peer.test", "flush-one")
        others = [self.deferred(f"flush{i}@peer.test", f"flush-all-{i}") for i in (2, 3)]
        for r in ("flush1@peer.test", "flush2@peer.test", "flush3@peer.test"):
            self.let_through(r)
        self.mta.run("sbin/courier", "flush", one)
        self.received(self.peer, "flush-one")
        self.gone(one)
        self.assertFalse([m for m in self.peer.messages if b"flush-all" in m["data"]],
                         "flushing one message delivered others")
        for qid in others:
            self.assertTrue(os.path.exists(self.mta.path("spool", "msgs", qid[:5], "Q" + qid)))
        self.mta.run("sbin/courier", "flush")
        for i in (2, 3):
            self.received(self.peer, f"flush-all-{i}")
        for qid in others:
            self.gone(qid)


class WarnAndExpireTest(PeerTestCase):
    peer_octet = "4"
    config = {"retryalpha": "1", "retrybeta": "100", "warntime": "2s", "queuetime": "6s",
              "dsnfrom": '"Test Mailer" <mailer-daemon@test.example>'}

    def test_delay_notice_at_warntime_then_bounce_at_queuetime(self):
        rcpt = "never@peer.test"
        qid = self.send(rcpt, "never delivered")
        notes = harness.wait_for(lambda: len(cs.notices(self.mta, self.sender)) >= 2
                                 and cs.notices(self.mta, self.sender), timeout=40,
                                 what="the delay notice and the expiry bounce")
        self.gone(qid)
        by_action = {}
        for n in notes:
            per_msg, per_rcpt = cs.report_fields(n)
            self.assertEqual(per_msg["Reporting-MTA"], f"dns; {self.mta.me}")
            self.assertEqual(len(per_rcpt), 1)
            by_action.setdefault(per_rcpt[0]["Action"], []).append((n, per_rcpt[0]))
        self.assertEqual(sorted(by_action), ["delayed", "failed"])
        self.assertEqual(len(by_action["delayed"]), 1, "exactly one delay notice")
        self.assertEqual(len(by_action["failed"]), 1, "exactly one bounce")
        warn, r = by_action["delayed"][0]
        self.assertIn("Delay", warn["Subject"])
        self.assertEqual(warn["To"], f"<{self.sender}@{self.mta.me}>")
        self.assertEqual(r["Final-Recipient"], f"rfc822; {rcpt}")
        self.assertEqual(r["Status"], "4.3.0")
        self.assertEqual(r["Diagnostic-Code"], "smtp; " + TEMPFAIL)
        self.assertIn("Will-Retry-Until", r)
        bounce, r = by_action["failed"][0]
        self.assertIn("Failure", bounce["Subject"])
        self.assertEqual(r["Final-Recipient"], f"rfc822; {rcpt}")
        self.assertEqual(r["Status"], "5.4.7")
        self.assertIn("4.3.0 the test peer says later", r["Diagnostic-Code"])
        self.assertIn("Subject: never delivered", bounce.get_payload()[2].as_string())
        self.assertFalse([m for m in self.peer.messages if b"never delivered" in m["data"]])


class BackupRelayTest(PeerTestCase):
    """backuprelay: after warntime, SMTP recipients go to the backup relay (a host name
    that esmtproutes routes to a second peer) and no delay notice is sent."""
    peer_octet = "5"
    routes = f"backup.test: [{NET}6],25\n"
    config = {"retryalpha": "1", "retrybeta": "100", "warntime": "2s", "queuetime": "1h",
              "backuprelay": "backup.test"}

    @classmethod
    def configure(cls, mta):
        super().configure(mta)
        cls.backup = SmtpPeer(NET + "6", 25).start()
        cls.peers.append(cls.backup)

    def test_rerouted_after_warntime_without_a_delay_notice(self):
        rcpt = "stuck@peer.test"
        qid = self.send(rcpt, "to the backup relay")
        got = self.received(self.backup, "to the backup relay")
        self.assertEqual(got[0]["rcpts"], [rcpt])
        self.assertEqual(got[0]["sender"], f"{self.sender}@{self.mta.me}")
        self.gone(qid)
        self.assertFalse([m for m in self.peer.messages if b"to the backup relay" in m["data"]])
        log = self.mta.log_text()
        self.assertRegex(log, rf"delivery id={qid} .*rcpt=<{rcpt}> module=esmtp relay=peer\.test status=defer")
        self.assertRegex(log, rf"delivery id={qid} .*rcpt=<{rcpt}> module=esmtp relay=backup\.test status=ok")
        self.assertIn(f"backuprelay id={qid} rcpt=<{rcpt}> relay=backup.test", log)
        self.assertEqual(cs.notices(self.mta, self.sender), [], "backuprelay replaces the delay notice")


class RelayedNoticeTest(PeerTestCase):
    """The peer (aiosmtpd) offers no DSN: NOTIFY=SUCCESS gets a "relayed" notice from
    this MTA (RFC 3461 5.2.2); a recipient without NOTIFY=SUCCESS gets none."""

    def test_peer_without_dsn_gives_a_relayed_notice(self):
        replies, qid = cs.submit(self.mta, f"{self.sender}@{self.mta.me}",
                                 ["told@peer.test", "quiet@peer.test"], "Subject: relay me\n\nbody\n",
                                 source="local", rcpt_params={"told@peer.test": "NOTIFY=SUCCESS"})
        self.assertIsNotNone(qid, replies)
        got = self.received(self.peer, "relay me")
        self.assertEqual(sorted(got[0]["rcpts"]), ["quiet@peer.test", "told@peer.test"])
        n = harness.wait_for(lambda: cs.notices(self.mta, self.sender), timeout=30,
                             what="the relayed notice")[0]
        self.assertIn("Success", n["Subject"])
        _, per_rcpt = cs.report_fields(n)
        self.assertEqual([r["Final-Recipient"] for r in per_rcpt], ["rfc822; told@peer.test"])
        self.assertEqual(per_rcpt[0]["Action"], "relayed")
        self.assertEqual(per_rcpt[0]["Status"], "2.0.0")
        self.gone(qid)
        self.assertRegex(self.mta.log_text(), rf"delivery id={qid} .*rcpt=<told@peer\.test> .*status=ok dsn=relayed")

class DsnPeerNoticeTest(harness.InstanceTestCase):
    """The peer offers DSN (RawPeer): NOTIFY, ORCPT, ENVID and RET go to it on the wire
    and it answers for NOTIFY=SUCCESS from then on, so this MTA sends no success
    notice of its own (RFC 3461 5.2.2); a local recipient of the same message with
    NOTIFY=SUCCESS still gets "delivered" from us."""
    start_esmtpd = False

    @classmethod
    def configure(cls, mta):
        cls.peer = RawPeer(NET + "7", 25).start()
        mta.write_config("esmtpdelay", "0\n")
        mta.write_config("esmtproutes", f"dsn.test: [{NET}7],25\n")
        cls.sender = mta.add_user()
        cls.local_rcpt = mta.add_user()

    @classmethod
    def release(cls):
        if getattr(cls, "peer", None):
            cls.peer.stop()

    def test_success_at_a_dsn_peer_gives_no_notice_from_us(self):
        local = f"{self.local_rcpt}@{self.mta.me}"
        replies, qid = cs.submit(
            self.mta, f"{self.sender}@{self.mta.me}", ["told@dsn.test", local],
            "Subject: dsn hop\n\nbody\n", source="local", mail_params="RET=HDRS ENVID=env+2B7",
            rcpt_params={"told@dsn.test": "NOTIFY=SUCCESS ORCPT=rfc822;Told+2Bx@dsn.test",
                         local: "NOTIFY=SUCCESS"})
        self.assertIsNotNone(qid, replies)
        got = harness.wait_for(lambda: [m for m in self.peer.messages if b"dsn hop" in m["data"]],
                               timeout=30, what="the message at the DSN peer")[0]
        self.assertRegex(got["commands"][0], r" RET=HDRS ENVID=env\+2B7$")
        self.assertEqual(got["commands"][1], "RCPT TO:<told@dsn.test> NOTIFY=SUCCESS ORCPT=rfc822;Told+2Bx@dsn.test")
        harness.wait_for(lambda: not os.path.exists(self.mta.path("spool", "msgs", qid[:5], "Q" + qid)),
                         timeout=30, what=f"{qid} to leave the queue")
        # The notice is submitted before the message is removed; give its local
        # delivery a moment, then there must be exactly the one for the local recipient.
        notes = harness.wait_for(lambda: cs.notices(self.mta, self.sender), timeout=30,
                                 what="the success notice for the local recipient")
        time.sleep(2)
        notes = cs.notices(self.mta, self.sender)
        self.assertEqual(len(notes), 1, [n["Subject"] for n in notes])
        _, per_rcpt = cs.report_fields(notes[0])
        self.assertEqual([r["Final-Recipient"] for r in per_rcpt], [f"rfc822; {local}"])
        self.assertEqual(per_rcpt[0]["Action"], "delivered")
        log = self.mta.log_text()
        self.assertRegex(log, rf"delivery id={qid} .*rcpt=<told@dsn\.test> module=esmtp .*status=ok code=")
        self.assertNotRegex(log, rf"delivery id={qid} .*rcpt=<told@dsn\.test> .*dsn=relayed")


if __name__ == "__main__":
    harness.main()
