"""couriertcpd's process options (couriertcpd(1)): -stderrlogger with
-stderrloggername (one logger for every child, restarted if it dies), -stderr=logfile
reopened by -restart, -stderr=socket, -user/-group, -pid with -stop (children get
SIGTERM), and the port list with -address."""

import grp
import os
import pwd
import signal
import subprocess
import sys
import time
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
import harness  # noqa: E402
from haproxy_support import (ENV_PROGRAM, HOLD_PROGRAM, Tcpd, client, connect,  # noqa: E402
                             environment, write_program)

STDERR_PROGRAM = "#!/bin/sh\necho hello\necho \"stderr line from $TCPREMOTEIP\" >&2\n"


def processes_running(path):
    """Pids whose command line runs the script at path (an argument of its own)."""
    out = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/cmdline", "rb") as f:
                    if path.encode() in f.read().split(b"\0"):
                        out.append(int(entry))
            except OSError:
                pass
    return out


class OptionsTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.mta = harness.Instance()

    @classmethod
    def tearDownClass(cls):
        cls.mta.stop()

    def read(self, path):
        try:
            with open(path) as f:
                return f.read()
        except FileNotFoundError:
            return ""

    def test_stderrlogger_one_logger_for_all_children(self):
        out = self.mta.path("log", "logger.out")
        logger = write_program(self.mta, "testlogger",
                               "#!/bin/sh\nwhile IFS= read -r l; do echo \"$1: $l\" >> " + out + "; done\n")
        with Tcpd(self.mta, ["-nodnslookup", "-stderrlogger=" + logger], STDERR_PROGRAM) as t:
            for n in (2, 3, 4):
                self.assertEqual(client(t.port, f"127.0.0.{n}"), "hello\n")
            harness.wait_for(lambda: self.read(out).count("\n") >= 3, what="three logged lines")
            name = os.path.basename(t.program)
            for n in (2, 3, 4):
                self.assertIn(f"{name}: stderr line from 127.0.0.{n}\n", self.read(out))
            self.assertEqual(len(processes_running(logger)), 1)
            # A logger that dies is started again; the children's stderr still arrives.
            os.kill(processes_running(logger)[0], signal.SIGKILL)
            harness.wait_for(lambda: "stderr logger" in self.mta.log_text() and
                             len(processes_running(logger)) == 1, what="logger restart")
            self.assertEqual(client(t.port, "127.0.0.5"), "hello\n")
            harness.wait_for(lambda: "stderr line from 127.0.0.5" in self.read(out), what="line after restart")
        harness.wait_for(lambda: not processes_running(logger), what="logger to end")

    def test_stderrloggername(self):
        out = self.mta.path("log", "logger2.out")
        logger = write_program(self.mta, "testlogger2",
                               "#!/bin/sh\nwhile IFS= read -r l; do echo \"$1: $l\" >> " + out + "; done\n")
        opts = ["-nodnslookup", "-stderrlogger=" + logger, "-stderrloggername=smtpd"]
        with Tcpd(self.mta, opts, STDERR_PROGRAM) as t:
            client(t.port, "127.0.0.6")
            harness.wait_for(lambda: "smtpd: stderr line from 127.0.0.6" in self.read(out),
                             what="named logger line")

    def test_stderr_logfile_reopened_by_restart(self):
        logfile = self.mta.path("log", "prog.err")
        pid_file = self.mta.path("run", "tcpd-opts.pid")
        t = Tcpd(self.mta, ["-nodnslookup", "-pid=" + pid_file, "-stderr=" + logfile], STDERR_PROGRAM)
        t.start()
        try:
            harness.wait_for(lambda: os.path.exists(pid_file), what="pid file")
            client(t.port, "127.0.0.7")
            harness.wait_for(lambda: "from 127.0.0.7" in self.read(logfile), what="stderr in the file")
            os.rename(logfile, logfile + ".1")
            self.tcpd_cmd(pid_file, "-restart")
            harness.wait_for(lambda: os.path.exists(logfile), what="log file reopened")
            client(t.port, "127.0.0.8")
            harness.wait_for(lambda: "from 127.0.0.8" in self.read(logfile), what="new file used")
            self.assertNotIn("127.0.0.8", self.read(logfile + ".1"))
        finally:
            self.tcpd_cmd(pid_file, "-stop")

    def test_stderr_socket(self):
        with Tcpd(self.mta, ["-nodnslookup", "-stderr=socket"], STDERR_PROGRAM) as t:
            self.assertEqual(client(t.port, "127.0.0.9"), "hello\nstderr line from 127.0.0.9\n")

    def test_user_and_group(self):
        courier = pwd.getpwnam(harness.MAIL_USER)
        program = "#!/bin/sh\necho hello\necho uid=$(id -u) gid=$(id -g)\n"
        with Tcpd(self.mta, ["-nodnslookup", "-user=" + harness.MAIL_USER], program) as t:
            self.assertIn(f"uid={courier.pw_uid} gid={courier.pw_gid}", client(t.port))
        nogroup = grp.getgrnam("nogroup").gr_gid
        with Tcpd(self.mta, ["-nodnslookup", "-group=nogroup"], program) as t:
            self.assertIn(f"uid=0 gid={nogroup}", client(t.port))

    def test_stop_ends_children_and_daemon(self):
        pid_file = self.mta.path("run", "tcpd-stop.pid")
        t = Tcpd(self.mta, ["-nodnslookup", "-pid=" + pid_file], HOLD_PROGRAM)
        t.start()
        harness.wait_for(lambda: os.path.exists(pid_file), what="pid file")
        with open(pid_file) as f:
            daemon = int(f.read().split()[0])
        held = connect(t.port)
        try:
            self.assertEqual(held.recv(6), b"hello\n")
            self.tcpd_cmd(pid_file, "-stop")
            self.assertEqual(held.recv(100), b"")   # the child got SIGTERM and ended
        finally:
            held.close()
        harness.wait_for(lambda: not os.path.exists(f"/proc/{daemon}"), what="daemon to exit")
        self.assertFalse(os.path.exists(pid_file))
        self.assertEqual(processes_running(t.program), [])

    def test_port_list_and_address(self):
        p1, p2 = harness.free_port(), harness.free_port()
        with Tcpd(self.mta, ["-nodnslookup", "-address=127.0.0.1", "-listen=16"], ENV_PROGRAM,
                  ports=f"{p1},127.0.0.1.{p2}", port=p1):
            self.assertEqual(environment(client(p1))["TCPLOCALPORT"], str(p1))
            self.assertEqual(environment(client(p2))["TCPLOCALPORT"], str(p2))
        r = subprocess.run([self.mta.path("sbin", "couriertcpd"), "bogus.port", "/bin/true"],
                           env=self.mta.env, capture_output=True, text=True, timeout=10)
        self.assertEqual(r.returncode, 64)
        self.assertIn("bad port list entry", r.stderr)

    def tcpd_cmd(self, pid_file, action):
        subprocess.run([self.mta.path("sbin", "couriertcpd"), "-pid=" + pid_file, action],
                       env=self.mta.env, check=True, timeout=10)


if __name__ == "__main__":
    harness.main(time_limit=300)
