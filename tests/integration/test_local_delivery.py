"""courierlocal (issue 7): .courier files, DEFAULTDELIVERY, mbox, programs, forwarding,
loops, quotas and maildirmake, with real messages through the whole chain.

Every message goes SMTP -> submit -> courierd -> courierlocal; the tests look at what
the recipient sees (Maildir, mbox, files a program wrote, read back with Python's
mailbox module) and at the delivery lines of the log."""

import fcntl
import glob
import mailbox
import os
import pwd
import re
import subprocess
import sys
import threading
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
import harness  # noqa: E402


def home(mta, user):
    return mta.path("home", user)


def write_as(user, path, text, mode=0o600):
    """Writes a file owned by the user, as the user would."""
    with open(path, "w") as f:
        f.write(text)
    pw = pwd.getpwnam(user)
    os.chown(path, pw.pw_uid, pw.pw_gid)
    os.chmod(path, mode)


def maildir_messages(path):
    # courierlocal may be creating the Maildir right now (tmp, new, cur in turn).
    if not all(os.path.isdir(os.path.join(path, d)) for d in ("tmp", "new", "cur")):
        return []
    md = mailbox.Maildir(path, factory=None, create=False)
    return [md[k] for k in md.keys()]


class LocalDeliveryTest(harness.InstanceTestCase):
    @classmethod
    def configure(cls, mta):
        # Users without a .courier file get DEFAULTDELIVERY: a Maildir named Inbox.
        mta.write_config("courierd", 'DEFAULTDELIVERY="./Inbox/"\n')
        mta.write_config("localtimeout", "3s\n")
        cls.plain = mta.add_user()
        cls.lines = mta.add_user()
        cls.target = mta.add_user()
        cls.prog = mta.add_user()
        # A supplementary group, which the program must have as well.
        subprocess.run(["usermod", "-a", "-G", cls.target, cls.prog], check=True, timeout=30)
        cls.boxer = mta.add_user()
        cls.loop_a = mta.add_user()
        cls.loop_b = mta.add_user()
        cls.quota = mta.add_user()
        cls.ext = mta.add_user()
        cls.retry = mta.add_user()
        cls.retry_target = mta.add_user()
        cls.dropper = mta.add_user()
        fake = mta.path("etc", "fake-maildrop")
        with open(fake, "w") as f:
            f.write("#!/bin/sh\nfor a in \"$@\"; do echo \"$a\"; done > \"$HOME/args.txt\"\n"
                    "cat > \"$HOME/msg.txt\"\n")
        os.chmod(fake, 0o755)
        mta.write_config("maildrop", fake + "\n")
        cls.exits = {name: mta.add_user() for name in ("tempfail", "permfail", "killed", "slow")}
        h = lambda u: home(mta, u)  # noqa: E731
        write_as(cls.lines, os.path.join(h(cls.lines), ".courier"),
                 "# every kind of line\n./Mail/\n./mbox\n"
                 "| cat > \"$HOME/piped-$(date +%s%N)\"\n"
                 f"&{cls.target}@{mta.me}\n")
        write_as(cls.prog, os.path.join(h(cls.prog), ".courier"),
                 "| id > \"$HOME/id.txt\"; env > \"$HOME/env.txt\"; ls /proc/self/fd > \"$HOME/fds.txt\"; "
                 "cat > \"$HOME/stdin.txt\"\n")
        write_as(cls.boxer, os.path.join(h(cls.boxer), ".courier"), "./mbox\n")
        write_as(cls.loop_a, os.path.join(h(cls.loop_a), ".courier"), f"&{cls.loop_b}@{mta.me}\n")
        write_as(cls.loop_b, os.path.join(h(cls.loop_b), ".courier"), f"&{cls.loop_a}@{mta.me}\n")
        for name, text in (("tempfail", "| echo busy right now; exit 75\n"),
                           ("permfail", "| echo no such mailbox >&2; exit 67\n"),
                           ("killed", "| kill -9 $$\n"),
                           ("slow", "| sleep 60\n")):
            write_as(cls.exits[name], os.path.join(h(cls.exits[name]), ".courier"), text)
        write_as(cls.dropper, os.path.join(h(cls.dropper), ".courier"), f"| {fake}\n")
        # Fails once after the mbox and forward steps, then succeeds.
        write_as(cls.retry, os.path.join(h(cls.retry), ".courier"),
                 f"./mbox\n&{cls.retry_target}@{mta.me}\n"
                 "| test -e \"$HOME/ok\" || { touch \"$HOME/ok\"; echo first try; exit 75; }\n")
        for name, text in (("-stop", "| exit 99\n./NotReached/\n"),
                           ("-list-default", "./List/\n"),
                           ("", "./Maildir/\n")):
            write_as(cls.ext, os.path.join(h(cls.ext), ".courier" + name), text)

    # ---- helpers ---------------------------------------------------------------------
    def send(self, rcpt, subject, body="body\r\n", sender="x@remote.example"):
        with self.mta.smtp() as s:
            s.sendmail(sender, [rcpt], f"Subject: {subject}\r\nFrom: <{sender}>\r\n\r\n{body}")

    def addr(self, user):
        return f"{user}@{self.mta.me}"

    def log_deliveries(self, rcpt):
        """(status, text) of each delivery line for rcpt in the log."""
        out = []
        for line in self.mta.log_text().splitlines():
            if " delivery " in f" {line} " and f"rcpt={rcpt} " in line:
                m = re.search(r"status=(\w+) text=(.*)$", line)
                if m:
                    out.append((m.group(1), m.group(2)))
        return out

    def wait_log(self, rcpt, status, fragment):
        return harness.wait_for(
            lambda: [t for s, t in self.log_deliveries(rcpt) if s == status and fragment in t],
            what=f"a {status} delivery of {rcpt} with {fragment!r}")

    def queued_with(self, marker):
        out = []
        for q in self.mta.queue_files():
            try:
                with open(q, "rb") as f:
                    if marker in f.read():
                        out.append(q)
            except FileNotFoundError:
                pass
        return out

    def wait_maildir(self, path, count):
        return harness.wait_for(lambda: len(maildir_messages(path)) >= count and maildir_messages(path),
                                what=f"{count} messages in {path}")

    # ---- tests -----------------------------------------------------------------------
    def test_default_delivery_from_courierd_file_read_by_mailbox_module(self):
        self.send(self.addr(self.plain), "default-1", sender="s1@remote.example")
        msgs = self.wait_maildir(os.path.join(home(self.mta, self.plain), "Inbox"), 1)
        self.assertFalse(os.path.exists(os.path.join(home(self.mta, self.plain), "Maildir")))
        m = msgs[0]
        self.assertEqual(m["Subject"], "default-1")
        self.assertEqual(m["Return-Path"], "<s1@remote.example>")
        self.assertEqual(m["Delivered-To"], self.addr(self.plain))
        self.assertEqual(m.get_payload(), "body\n")
        st = os.stat(glob.glob(os.path.join(home(self.mta, self.plain), "Inbox", "new", "*"))[0])
        self.assertEqual(st.st_uid, pwd.getpwnam(self.plain).pw_uid)

    def test_each_kind_of_courier_line(self):
        self.send(self.addr(self.lines), "lines-1", sender="s2@remote.example")
        h = home(self.mta, self.lines)
        msgs = self.wait_maildir(os.path.join(h, "Mail"), 1)
        self.assertEqual(msgs[0]["Subject"], "lines-1")
        self.wait_log(self.addr(self.lines), "ok", "&" + self.addr(self.target))
        box = mailbox.mbox(os.path.join(h, "mbox"), create=False)
        self.assertEqual([m["Subject"] for m in box], ["lines-1"])
        self.assertEqual(box[0]["Delivered-To"], self.addr(self.lines))
        self.assertEqual(box[0].get_from().split()[0], "s2@remote.example")
        piped = glob.glob(os.path.join(h, "piped-*"))
        self.assertEqual(len(piped), 1)
        with open(piped[0]) as f:
            text = f.read()
        self.assertIn("Subject: lines-1\n", text)
        self.assertNotIn("Delivered-To:", text)   # programs get $DTLINE instead
        # The forwarded copy: original sender kept, our Delivered-To on top.
        fwd = self.wait_maildir(os.path.join(home(self.mta, self.target), "Inbox"), 1)
        self.assertEqual(fwd[0]["Subject"], "lines-1")
        self.assertEqual(fwd[0]["Return-Path"], "<s2@remote.example>")
        self.assertEqual(fwd[0].get_all("Delivered-To"), [self.addr(self.target), self.addr(self.lines)])
        for p in [os.path.join(h, "mbox")] + piped:
            self.assertEqual(os.stat(p).st_uid, pwd.getpwnam(self.lines).pw_uid)

    def test_program_runs_as_the_recipient_with_the_courier_environment(self):
        self.send(self.addr(self.prog), "prog-1", sender="s3@remote.example")
        h = home(self.mta, self.prog)
        harness.wait_for(lambda: os.path.exists(os.path.join(h, "stdin.txt"))
                         and self.log_deliveries(self.addr(self.prog)), what="the program's files")
        pw = pwd.getpwnam(self.prog)
        with open(os.path.join(h, "id.txt")) as f:
            ident = f.read()
        self.assertTrue(ident.startswith(f"uid={pw.pw_uid}({self.prog}) gid={pw.pw_gid}({self.prog})"), ident)
        groups = ident.split("groups=", 1)[1]
        self.assertIn(f"({self.target})", groups)
        self.assertNotIn("uid=0", ident)
        self.assertNotIn("(root)", ident)
        with open(os.path.join(h, "env.txt")) as f:
            env = dict(line.split("=", 1) for line in f.read().splitlines() if "=" in line)
        self.assertEqual(env["SENDER"], "s3@remote.example")
        self.assertEqual(env["RECIPIENT"], self.addr(self.prog))
        self.assertEqual(env["HOME"], h)
        self.assertEqual(env["USER"], self.prog)
        self.assertEqual(env["LOCAL"], self.prog)
        self.assertEqual(env["HOST"], self.mta.me)
        self.assertEqual(env["DTLINE"], f"Delivered-To: {self.addr(self.prog)}")
        self.assertEqual(env["RPLINE"], "Return-Path: <s3@remote.example>")
        self.assertTrue(env["UFLINE"].startswith("From s3@remote.example "))
        self.assertEqual(env["PWD"], h)
        with open(os.path.join(h, "stdin.txt")) as f:
            self.assertIn("Subject: prog-1\n", f.read())
        # No queue file, result pipe or forwarding socket leaks into the program
        # (ls itself holds 3, the folder it lists).
        with open(os.path.join(h, "fds.txt")) as f:
            self.assertEqual(sorted(f.read().split()), ["0", "1", "2", "3"])
        self.assertEqual(os.stat(os.path.join(h, "id.txt")).st_uid, pw.pw_uid)
        self.assertEqual(self.log_deliveries(self.addr(self.prog))[0][0], "ok")

    def test_forwarding_loop_is_bounced_as_5_4_6(self):
        self.send(self.addr(self.loop_a), "loop-1")
        texts = self.wait_log(self.addr(self.loop_a), "fail", "5.4.6")
        self.assertIn("mail loop", texts[0])
        # a forwarded once to b, b forwarded back, a saw its own Delivered-To: once only.
        self.assertEqual([s for s, _ in self.log_deliveries(self.addr(self.loop_a))], ["ok", "fail"])
        self.assertEqual([s for s, _ in self.log_deliveries(self.addr(self.loop_b))], ["ok"])

    def extension_or_skip(self, ext):
        rcpt = f"{self.ext}-{ext}@{self.mta.me}"
        with self.mta.smtp() as s:
            s.ehlo("client.example")
            s.mail("x@remote.example")
            code, msg = s.rcpt(rcpt)
            s.rset()
        self.assertEqual(code, 250, f"submit refused the address extension {rcpt}: {msg!r}")
        return rcpt

    def test_program_exit_codes_by_class(self):
        cases = [("tempfail", "defer", "451 4.3.0 program \"echo busy right now; exit 75\" "
                                       "exited with status 75: busy right now"),
                 ("permfail", "fail", "550 5.3.0 program \"echo no such mailbox >&2; exit 67\" "
                                      "exited with status 67: no such mailbox"),
                 ("killed", "defer", "killed by signal 9"),
                 ("slow", "defer", "timed out after 3s")]
        rcpts = [(self.addr(self.exits[name]), status, text) for name, status, text in cases]
        for rcpt, _, _ in rcpts:
            self.send(rcpt, "exit-" + rcpt)
        for rcpt, status, text in rcpts:
            self.wait_log(rcpt, status, text)

    def test_the_maildrop_program_gets_its_arguments_without_a_shell(self):
        self.send(self.addr(self.dropper), "drop-1", sender="s4@remote.example")
        self.wait_log(self.addr(self.dropper), "ok", "")
        h = home(self.mta, self.dropper)
        with open(os.path.join(h, "args.txt")) as f:
            self.assertEqual(f.read().splitlines(),
                             ["-A", f"Delivered-To: {self.addr(self.dropper)}",
                              "-A", "Return-Path: <s4@remote.example>", "-f", "s4@remote.example"])
        with open(os.path.join(h, "msg.txt")) as f:
            self.assertIn("Subject: drop-1\n", f.read())

    def test_a_retry_does_not_repeat_the_steps_that_succeeded(self):
        rcpt = self.addr(self.retry)
        self.send(rcpt, "retry-1")
        self.wait_log(rcpt, "defer", "exited with status 75: first try")
        self.mta.run("sbin/courier", "flush")
        self.wait_log(rcpt, "ok", "")
        box = mailbox.mbox(os.path.join(home(self.mta, self.retry), "mbox"), create=False)
        self.assertEqual([m["Subject"] for m in box], ["retry-1"])
        fwd = self.wait_maildir(os.path.join(home(self.mta, self.retry_target), "Inbox"), 1)
        harness.wait_for(lambda: not self.queued_with(b"retry-1"), what="retry-1 to leave the queue")
        fwd = maildir_messages(os.path.join(home(self.mta, self.retry_target), "Inbox"))
        self.assertEqual(len(fwd), 1)
        self.assertEqual([s for s, _ in self.log_deliveries(self.addr(self.retry_target))], ["ok"])

    def test_extensions_and_the_default_chain(self):
        stop = self.extension_or_skip("stop")
        listed = self.extension_or_skip("list-members-x")
        missing = self.extension_or_skip("nothing")
        self.send(stop, "ext-stop")
        self.send(listed, "ext-list")
        self.send(missing, "ext-missing")
        h = home(self.mta, self.ext)
        msgs = self.wait_maildir(os.path.join(h, "List"), 1)
        self.assertEqual(msgs[0]["Delivered-To"], listed)
        self.wait_log(missing, "fail", "550 5.1.1")
        self.wait_log(stop, "ok", "")
        self.assertFalse(os.path.exists(os.path.join(h, "NotReached")))

    def test_quota_defers_then_delivers_after_space_is_freed(self):
        user = self.quota
        h = home(self.mta, user)
        md = os.path.join(h, "Inbox")
        r = subprocess.run(["su", "-s", "/bin/sh", user, "-c",
                            f"{self.mta.path('bin', 'maildirmake')} -q 2C {md}"],
                           capture_output=True, text=True, timeout=30)
        self.assertEqual(r.returncode, 0, r.stderr)
        with open(os.path.join(md, "maildirsize")) as f:
            self.assertEqual(f.read(), "2C\n0 0\n")
        for i in range(2):
            self.send(self.addr(user), f"quota-{i}")
            self.wait_maildir(md, i + 1)
        self.send(self.addr(user), "quota-2")
        self.wait_log(self.addr(user), "defer", "452 4.2.2")
        self.assertEqual(len(maildir_messages(md)), 2)
        os.unlink(sorted(glob.glob(os.path.join(md, "new", "*")))[0])
        self.mta.run("sbin/courier", "flush")
        msgs = self.wait_maildir(md, 2)
        harness.wait_for(lambda: "quota-2" in [m["Subject"] for m in maildir_messages(md)],
                         what="quota-2 after space was freed")
        self.assertEqual(len(msgs), 2)

    def test_concurrent_mbox_deliveries_and_the_fcntl_lock(self):
        user = self.boxer
        path = os.path.join(home(self.mta, user), "mbox")
        errors = []

        def sender(worker):
            try:
                with self.mta.smtp() as s:
                    for i in range(4):
                        body = f"From the start {worker}-{i}\r\n>From quoted\r\nend\r\n"
                        s.sendmail("m@remote.example", [self.addr(user)],
                                   f"Subject: mbox {worker}-{i}\r\n\r\n{body}")
            except Exception as e:  # reported below, in the test's thread
                errors.append(repr(e))

        threads = [threading.Thread(target=sender, args=(w,)) for w in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(60)
        self.assertEqual(errors, [])
        harness.wait_for(lambda: len([s for s, _ in self.log_deliveries(self.addr(user)) if s == "ok"]) >= 16,
                         what="16 mbox deliveries")
        box = mailbox.mbox(path, create=False)
        subjects = sorted(m["Subject"] for m in box)
        self.assertEqual(subjects, sorted(f"mbox {w}-{i}" for w in range(4) for i in range(4)))
        for m in box:
            w_i = m["Subject"].split()[1]
            self.assertEqual(m.get_payload(), f">From the start {w_i}\n>>From quoted\nend\n")
        # While a mail reader holds the fcntl lock, nothing is appended.
        size = os.path.getsize(path)
        with open(path, "a") as f:
            fcntl.lockf(f, fcntl.LOCK_EX)
            self.send(self.addr(user), "while-locked")
            time.sleep(2)
            self.assertEqual(os.path.getsize(path), size)
            fcntl.lockf(f, fcntl.LOCK_UN)
        harness.wait_for(lambda: "while-locked" in [m["Subject"] for m in mailbox.mbox(path, create=False)],
                         what="the message held back by the lock")


class ConfigFilesTest(harness.InstanceTestCase):
    """dotextension renames the instruction files; maildirmake."""

    @classmethod
    def configure(cls, mta):
        mta.write_config("dotextension", "qmail\n")
        cls.user = mta.add_user()
        h = home(mta, cls.user)
        write_as(cls.user, os.path.join(h, ".qmail"), "./Qmail/\n")
        write_as(cls.user, os.path.join(h, ".courier"), "./Wrong/\n")

    def test_dotextension_names_the_instruction_file(self):
        with self.mta.smtp() as s:
            s.sendmail("x@remote.example", [f"{self.user}@{self.mta.me}"], "Subject: dotext\r\n\r\nb\r\n")
        h = home(self.mta, self.user)
        msgs = harness.wait_for(lambda: maildir_messages(os.path.join(h, "Qmail")), what="the .qmail Maildir")
        self.assertEqual(msgs[0]["Subject"], "dotext")
        self.assertFalse(os.path.exists(os.path.join(h, "Wrong")))

    def test_maildirmake_folder_and_quota(self):
        base = self.mta.path("home", "md")
        mk = self.mta.path("bin", "maildirmake")
        subprocess.run([mk, base], check=True, timeout=30)
        for d in ("tmp", "new", "cur"):
            self.assertEqual(os.stat(os.path.join(base, d)).st_mode & 0o777, 0o700)
        r = subprocess.run([mk, base], capture_output=True, text=True, timeout=30)
        self.assertNotEqual(r.returncode, 0)
        self.assertIn("File exists", r.stderr)
        subprocess.run([mk, "-f", "Lists", base], check=True, timeout=30)
        self.assertTrue(os.path.isdir(os.path.join(base, ".Lists", "cur")))
        self.assertTrue(os.path.exists(os.path.join(base, ".Lists", "maildirfolder")))
        with open(os.path.join(base, "new", "m1"), "w") as f:
            f.write("x" * 10)
        subprocess.run([mk, "-q", "1000S,5C", base], check=True, timeout=30)
        with open(os.path.join(base, "maildirsize")) as f:
            self.assertEqual(f.read(), "1000S,5C\n10 1\n")
        r = subprocess.run([mk, "-q", "lots", base], capture_output=True, text=True, timeout=30)
        self.assertNotEqual(r.returncode, 0)


if __name__ == "__main__":
    harness.main()
