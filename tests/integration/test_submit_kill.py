"""submit killed at random points while SMTP clients send (issue 4): every message is
either completely in the queue or not at all, and none that got 250 is missing."""

import os
import random
import re
import signal
import smtplib
import sys
import threading
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
import harness  # noqa: E402

COUNT = 40


def submit_pids(mta):
    out = []
    for pid in harness.processes_of(mta.root):
        try:
            with open(f"/proc/{pid}/comm") as f:
                if f.read().strip() == "submit":
                    out.append(pid)
        except OSError:
            pass
    return out


def parse_queue_file(path):
    with open(path, "rb") as f:
        data = f.read()
    pos = 0
    env = {}
    while True:
        nl = data.index(b"\n", pos)
        line = data[pos:nl].decode()
        pos = nl + 1
        tag, _, value = line.partition(" ")
        env.setdefault(tag, value)
        if tag == "data":
            return env, data[pos:]


class SubmitKillTest(harness.InstanceTestCase):
    @classmethod
    def configure(cls, mta):
        cls.user = mta.add_user()

    def test_killed_submit_never_loses_an_acknowledged_message(self):
        self.mta.run("sbin/courier", "stop")
        acked, done = {}, threading.Event()
        rnd = random.Random(4)

        def send():
            try:
                for i in range(COUNT):
                    body = f"Subject: kill-{i}\r\n\r\n" + ("x" * 77 + "\r\n") * rnd.choice([10, 4000, 9000]) + f"END-{i}\r\n"
                    try:
                        with self.mta.smtp() as s:
                            s.ehlo()
                            s.mail("k@remote.example")
                            s.rcpt(self.user)
                            code, resp = s.data(body)
                            if code == 250:
                                acked[i] = re.search(rb"queued as (\S+)", resp).group(1).decode()
                    except (smtplib.SMTPException, OSError):
                        pass
            finally:
                done.set()

        t = threading.Thread(target=send)
        t.start()
        kills = 0
        while not done.is_set():
            time.sleep(rnd.uniform(0.0, 0.03))
            for pid in submit_pids(self.mta):
                try:
                    os.kill(pid, signal.SIGKILL)
                    kills += 1
                except ProcessLookupError:
                    pass
        t.join(60)
        self.assertGreater(kills, 0)
        print(f"kills={kills} acked={len(acked)} queued={len(self.mta.queue_files())}", file=sys.stderr)
        files = {os.path.basename(p)[1:]: p for p in self.mta.queue_files()}
        for i, qid in acked.items():
            self.assertIn(qid, files, f"message {i} got 250 as {qid} but is not queued")
        for qid, path in files.items():
            env, message = parse_queue_file(path)
            self.assertEqual(len(message), int(env["data"]), path)
            m = re.search(rb"Subject: kill-(\d+)\n", message)
            self.assertTrue(m, path)
            self.assertTrue(message.endswith(f"END-{int(m.group(1))}\n".encode()), f"{path} is cut off")
        self.mta.run("sbin/courier", "start")
        self.mta.wait_delivered(self.user, len(files), timeout=60)


if __name__ == "__main__":
    harness.main()
