"""Logging (issue 13, doc/logging.md): one line per event in the documented format, so
that one grep for a queue id shows a message's whole life -- accepted by
courieresmtpd and submit, each delivery attempt, the notice, the removal -- and the
connection line is found through the courieresmtpd pid of its message line."""

import os
import re
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
import harness  # noqa: E402
import courierd_support as cs  # noqa: E402

# The line of log/mail.log: time, program[pid], level, the event text (doc/logging.md).
LINE = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3} (?P<prog>[a-z]+)\[(?P<pid>\d+)\] "
                  r"(?P<level>[a-z]+): (?P<text>.*)$")
# The documented event formats, each a regular expression over the text.
EVENTS = {
    "connect": r"connect client=(?P<client>\S*) port=\d* host=\S* local=\S*:\d*",
    "message": r"message status=accepted client=\S+ from=<[^>]*> rcpts=\d+ size=\d+ "
               r"reply=250 2\.0\.0 Ok: queued as (?P<qid>\S+)",
    "accepted": r"accepted id=(?P<qid>\S+) from=\S* rcpts=\d+ size=\d+ client=\S* source=\S+",
    "delivery": r"delivery id=(?P<qid>\S+) from=<[^>]*> rcpt=<[^>]*> module=\S+ relay=\S* "
                r"status=(ok|defer|fail)( dsn=relayed)? code=\S* delay=\d+ attempt=\d+ text=.*",
    "notice": r"notice id=(?P<qid>\S+) kind=(dsn|delay) to=<[^>]*> rcpts=\d+ "
              r"text=250 2\.0\.0 Ok: queued as (?P<notice_qid>\S+)",
    "removed": r"removed id=(?P<qid>\S+)",

    "expired": r"expired id=(?P<qid>\S+) rcpt=<[^>]*> text=.*",
}


def parse(log_text):
    out = []
    for line in log_text.splitlines():
        m = LINE.match(line)
        if m:
            out.append(m.groupdict())
    return out


# Module detail lines, told apart from courierd's events by the program name.
MODULE_EVENTS = {
    "courierlocal": {"local delivery": r"delivery id=(?P<qid>\S+) rcpt=\S+ module=local "
                                       r"status=(ok|defer|fail) text=.*"},
}


def event_of(text, prog=None):
    for name, rx in MODULE_EVENTS.get(prog, EVENTS).items():
        m = re.fullmatch(rx, text)
        if m:
            return name, m.groupdict()
    return None, {}


class FollowOneQueueIdTest(harness.InstanceTestCase):
    @classmethod
    def configure(cls, mta):
        cs.install_script_module(mta)
        with open(mta.path("etc", "esmtpd"), "a") as f:
            f.write("RELAYCLIENT=\n")

    def test_one_grep_follows_a_message(self):
        user = self.mta.add_user()
        with self.mta.smtp() as s:
            s.ehlo("client.example")
            s.mail(f"{user}@test.example")
            s.rcpt("fail1@remote.example")
            s.rcpt("ok1@remote.example")
            code, reply = s.data(b"Subject: followed\r\n\r\nbody\r\n")
        self.assertEqual(code, 250)
        qid = reply.decode().split()[-1]
        harness.wait_for(lambda: f"removed id={qid}" in self.mta.log_text(), timeout=30,
                         what="the message to be removed")
        lines = parse(self.mta.log_text())
        mine = [ln for ln in lines if qid in ln["text"]]   # what `grep <qid>` shows
        kinds = []
        for ln in mine:
            kind, fields = event_of(ln["text"], ln["prog"])
            self.assertIsNotNone(kind, "undocumented line: " + ln["text"])
            self.assertEqual(fields["qid"], qid, ln["text"])
            kinds.append((kind, ln["prog"]))
        # submit logs before courieresmtpd has read its reply; courieresmtpd's line may
        # race with the first delivery, the rest is in order.
        self.assertEqual(kinds[0], ("accepted", "submit"))
        self.assertIn(("message", "courieresmtpd"), kinds[1:3])
        rest = [k for k in kinds[1:] if k[0] != "message"]
        self.assertEqual(rest, [("delivery", "courierd"), ("delivery", "courierd"),
                                ("notice", "courierd"), ("removed", "courierd")])
        statuses = sorted(re.search(r"status=(\w+)", ln["text"]).group(1)
                          for ln in mine if ln["text"].startswith("delivery"))
        self.assertEqual(statuses, ["fail", "ok"])

        # The connection: the line of the same courieresmtpd process.
        pid = next(ln["pid"] for ln in mine if ln["prog"] == "courieresmtpd")
        connects = [ln for ln in lines if ln["pid"] == pid and ln["text"].startswith("connect ")]
        self.assertEqual(len(connects), 1)
        kind, fields = event_of(connects[0]["text"])
        self.assertEqual((kind, fields["client"]), ("connect", "127.0.0.1"))

        # The notice has its own queue id, named in the notice line: followed the same way.
        notice_qid = next(event_of(ln["text"])[1]["notice_qid"] for ln in mine
                          if ln["text"].startswith("notice "))
        self.mta.wait_delivered(user, 1)
        harness.wait_for(lambda: f"removed id={notice_qid}" in self.mta.log_text(), timeout=30,
                         what="the notice to be removed")
        notice_kinds = [event_of(ln["text"], ln["prog"])[0] for ln in parse(self.mta.log_text())
                        if notice_qid in ln["text"] and not ln["text"].startswith("notice ")]
        self.assertEqual(notice_kinds, ["accepted", "local delivery", "delivery", "removed"])


if __name__ == "__main__":
    harness.main()
