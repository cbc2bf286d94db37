"""Integration test harness: a throwaway MTA instance per test class.

Each Instance is a COURIER_ROOT folder in /tmp with its own configuration, spool, free
loopback port and local test users (system accounts whose homes live inside the
instance). Its daemons are the programs of the build tree, reached through symlinks.
stop() ends every process whose environment names the instance, removes the users and
deletes the folder, also when a test failed. Tests need root (they create users and
run the daemons with the privilege model of doc/architecture.md).
"""

import atexit
import glob
import os
import pwd
import random
import shutil
import signal
import smtplib
import socket
import subprocess
import sys
import tempfile
import time
import unittest

BUILDDIR = os.environ.get("COURIER_BUILDDIR") or os.path.abspath(os.path.join(os.path.dirname(__file__), ".."))
SRCDIR = os.environ.get("COURIER_SRCDIR") or os.path.abspath(os.path.join(os.path.dirname(__file__), ".."))
MAIL_USER = "courier"
USER_PREFIX = "ctst"

# Every executable built in these folders is linked into the instance's libexec/,
# sbin/ and bin/ (programs find each other through those folders), plus these extra
# names for programs that behave after the name they are called by.
PROGRAM_FOLDERS = ["tcpd", "esmtp", "submit", "courierd", "local", "filters", "config", "tools"]
PROGRAM_ALIASES = {
    "esmtpd-msa": "esmtp/esmtpd",
    "esmtpd-ssl": "esmtp/esmtpd",
}


def built_programs():
    """(name, absolute path) of each program in the build tree, aliases included."""
    out = {}
    for folder in PROGRAM_FOLDERS:
        d = os.path.join(BUILDDIR, folder)
        if not os.path.isdir(d):
            continue
        for name in os.listdir(d):
            p = os.path.join(d, name)
            if (os.path.isfile(p) and os.access(p, os.X_OK) and "." not in name
                    and not name.endswith("_test")):
                out[name] = p
    for alias, target in PROGRAM_ALIASES.items():
        p = os.path.join(BUILDDIR, target)
        if os.path.exists(p):
            out[alias] = p
    return out

_live_instances = []


def user_env(mta, *settings):
    """`env -i ...` for a program run as an ordinary user (runuser): a clean environment
    with the instance's COURIER_ROOT, and tools/sanitizer-check's ASAN_OPTIONS when it
    runs the tests (the set-uid programs set their own: lib/setid_sanitizer.h)."""
    env = ["env", "-i", "PATH=/usr/bin:/bin", f"COURIER_ROOT={mta.root}", *settings]
    if "ASAN_OPTIONS" in os.environ:
        env.append("ASAN_OPTIONS=" + os.environ["ASAN_OPTIONS"])
    return env


def free_port():
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for(predicate, timeout=20.0, interval=0.05, what="condition"):
    """Polls predicate until it returns a true value; fails the test after timeout."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(interval)


def ensure_mail_user():
    try:
        pwd.getpwnam(MAIL_USER)
    except KeyError:
        subprocess.run(["useradd", "--system", "--user-group", "--no-create-home",
                        "--home-dir", "/nonexistent", "--shell", "/usr/sbin/nologin", MAIL_USER],
                       check=True)


def remove_stale_users():
    """Test users whose instance folder is gone were left by a killed test run."""
    for pw in pwd.getpwall():
        if pw.pw_name.startswith(USER_PREFIX) and not os.path.isdir(os.path.dirname(pw.pw_dir)):
            subprocess.run(["userdel", pw.pw_name], stderr=subprocess.DEVNULL)


def processes_of(root):
    """Pids of processes whose environment holds COURIER_ROOT=root."""
    needle = ("COURIER_ROOT=" + root).encode() + b"\0"
    pids = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit() or int(entry) == os.getpid():
            continue
        try:
            with open(f"/proc/{entry}/environ", "rb") as f:
                if needle in f.read() + b"\0":
                    pids.append(int(entry))
        except OSError:
            pass
    return pids


class Instance:
    def __init__(self, me="test.example", port=None):
        if os.geteuid() != 0:
            raise unittest.SkipTest("integration tests need root")
        ensure_mail_user()
        remove_stale_users()
        self.root = tempfile.mkdtemp(prefix="courier-test-")
        os.chmod(self.root, 0o755)
        self.me = me
        self.port = port or free_port()
        self.users = []
        self.mounts = []
        self.env = dict(os.environ, COURIER_ROOT=self.root)
        _live_instances.append(self)
        self._layout()

    # ---- setup -------------------------------------------------------------------
    def _layout(self):
        mail = pwd.getpwnam(MAIL_USER)
        for d in ("etc", "libexec", "sbin", "bin", "home"):
            os.makedirs(self.path(d), mode=0o755)
        for d in ("spool", "spool/tmp", "spool/msgs", "run", "log"):
            os.makedirs(self.path(d), mode=0o750)
            os.chown(self.path(d), mail.pw_uid, mail.pw_gid)
        os.chmod(self.path("log"), 0o755)
        os.chmod(self.path("run"), 0o755)
        with open(self.path("log/mail.log"), "w"):
            pass
        os.chmod(self.path("log/mail.log"), 0o666)
        for name, target in built_programs().items():
            for folder in ("libexec", "sbin", "bin"):
                os.symlink(target, self.path(folder, name))
        for f in ("module.local", "module.esmtp"):
            shutil.copy(os.path.join(SRCDIR, "config/defaults", f), self.path("etc", f))
        self.write_config("me", self.me + "\n")
        self.write_config("esmtpd", "\n".join([
            "ESMTPDSTART=YES",
            f"PORT=127.0.0.1.{self.port}",
            "ADDRESS=0",
            "MAXDAEMONS=40",
            "MAXPERIP=40",
            'TCPDOPTS="-nodnslookup"',
            "",
        ]))
        # Like -nodnslookup: no test may wait on the Internet's DNS (CI has none, and a
        # lookup that gets no answer takes 17 s). DKIM/DMARC checking looks up every
        # inbound message's From: domain, so it is off unless a test turns it on
        # (test_dkim.py and test_dmarc.py remove this file, to test the default).
        self.write_config("dkimsettings", "DKIM_VERIFY=0\n")

    def path(self, *parts):
        return os.path.join(self.root, *parts)

    def write_config(self, name, text):
        with open(self.path("etc", name), "w") as f:
            f.write(text)

    def add_user(self):
        """Creates a system account whose home is inside the instance; returns its name."""
        name = USER_PREFIX + "%06x" % random.randrange(1 << 24)
        home = self.path("home", name)
        subprocess.run(["useradd", "--no-create-home", "--home-dir", home, "--shell", "/usr/sbin/nologin",
                        "--user-group", name], check=True)
        self.users.append(name)
        pw = pwd.getpwnam(name)
        os.makedirs(home, mode=0o700)
        os.chown(home, pw.pw_uid, pw.pw_gid)
        return name

    def mount_tmpfs(self, path, size_kb, owner=None, mode=0o750):
        """Mounts a small tmpfs at path (created if missing) for full-disk tests; its
        previous contents are copied in. stop() unmounts it."""
        os.makedirs(path, exist_ok=True)
        st = os.stat(path)
        saved = tempfile.mkdtemp(prefix="courier-tmpfs-")
        try:
            # cp -a keeps owners and modes (the spool's belong to the mail user).
            subprocess.run(["cp", "-a", path + "/.", saved], check=True)
            pw = pwd.getpwnam(owner) if owner else None
            uid, gid = (pw.pw_uid, pw.pw_gid) if pw else (st.st_uid, st.st_gid)
            subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size_kb}k,mode={mode:o},uid={uid},gid={gid}",
                            "tmpfs", path], check=True)
            self.mounts.append(path)
            subprocess.run(["cp", "-a", saved + "/.", path], check=True)
        finally:
            shutil.rmtree(saved, ignore_errors=True)

    # ---- running -----------------------------------------------------------------
    def run(self, *argv, check=True, timeout=30):
        """Runs an installed command of the instance (e.g. "sbin/courier", "start")."""
        cmd = [self.path(argv[0])] + list(argv[1:])
        return subprocess.run(cmd, env=self.env, capture_output=True, text=True, check=check, timeout=timeout)

    def start(self):
        self.run("sbin/courier", "start")
        self.run("sbin/esmtpd", "start")
        wait_for(self._accepting, timeout=10, what="esmtpd to accept connections")
        return self

    def _accepting(self):
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=1):
                return True
        except OSError:
            return False

    def courierd_pids(self):
        """Pids of every courierd process (supervisor, scheduler) and its modules."""
        names = ("courierd", "courierlocal", "courieresmtp")
        out = []
        for pid in processes_of(self.root):
            try:
                with open(f"/proc/{pid}/comm") as f:
                    if f.read().strip() in names:
                        out.append(pid)
            except OSError:
                pass
        return out

    def stop(self):
        for argv in (("sbin/esmtpd", "stop"), ("sbin/courier", "stop")):
            try:
                self.run(*argv, check=False, timeout=15)
            except (OSError, subprocess.TimeoutExpired):
                pass
        self.kill_all()
        for name in self.users:
            subprocess.run(["userdel", name], stderr=subprocess.DEVNULL)
        self.users = []
        for mountpoint in reversed(self.mounts):
            subprocess.run(["umount", "-l", mountpoint], stderr=subprocess.DEVNULL)
        self.mounts = []
        shutil.rmtree(self.root, ignore_errors=True)
        if self in _live_instances:
            _live_instances.remove(self)

    def kill_all(self):
        for _ in range(50):
            pids = processes_of(self.root)
            if not pids:
                return
            for pid in pids:
                try:
                    os.kill(pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
            time.sleep(0.1)

    # ---- observing ---------------------------------------------------------------
    def maildir(self, user):
        return self.path("home", user, "Maildir")

    def delivered(self, user):
        """Files in the user's Maildir/new, as (name, bytes) sorted by name."""
        out = []
        for p in sorted(glob.glob(os.path.join(self.maildir(user), "new", "*"))):
            with open(p, "rb") as f:
                out.append((os.path.basename(p), f.read()))
        return out

    def wait_delivered(self, user, count, timeout=30):
        wait_for(lambda: len(self.delivered(user)) >= count, timeout=timeout,
                 what=f"{count} messages in {user}'s Maildir")
        return self.delivered(user)

    def queue_files(self):
        return sorted(glob.glob(self.path("spool", "msgs", "*", "Q*")))

    def log_text(self):
        with open(self.path("log", "mail.log"), errors="replace") as f:
            return f.read()

    def smtp(self):
        s = smtplib.SMTP("127.0.0.1", self.port, timeout=30)
        return s


def _cleanup_all():
    for inst in list(_live_instances):
        inst.stop()


atexit.register(_cleanup_all)
signal.signal(signal.SIGTERM, lambda *_: sys.exit(1))


class InstanceTestCase(unittest.TestCase):
    """One running instance for the whole class, stopped even when a test fails.

    start_esmtpd = False runs only courierd (tests that submit mail directly).
    release() stops what the class started itself (peers, DNS servers); it runs after
    the instance stops, and also when setting up failed halfway."""

    start_esmtpd = True

    @classmethod
    def setUpClass(cls):
        cls.mta = Instance()
        try:
            cls.configure(cls.mta)
            if cls.start_esmtpd:
                cls.mta.start()
            else:
                cls.mta.run("sbin/courier", "start")
        except BaseException:
            cls.mta.stop()
            cls.release()
            raise

    @classmethod
    def configure(cls, mta):
        """Override to write configuration before the daemons start."""

    @classmethod
    def release(cls):
        """Override to stop the class's own helpers."""

    @classmethod
    def tearDownClass(cls):
        cls.mta.stop()
        cls.release()


def main(time_limit=900):
    """Runs the module's tests and ends with 'RESULT: N passed, N failed'.

    A test file that runs longer than time_limit seconds fails (and cleans up)."""
    def out_of_time(*_):
        print(f"test file exceeded {time_limit}s", file=sys.stderr)
        sys.exit(1)
    signal.signal(signal.SIGALRM, out_of_time)
    signal.alarm(time_limit)
    suite = unittest.defaultTestLoader.loadTestsFromModule(sys.modules["__main__"])
    result = unittest.TextTestRunner(verbosity=2, stream=sys.stdout).run(suite)
    failed = len(result.failures) + len(result.errors) + len(result.unexpectedSuccesses)
    skipped = len(result.skipped)
    passed = result.testsRun - failed - skipped
    print(f"RESULT: {passed} passed, {failed} failed")
    if result.testsRun and skipped == result.testsRun:
        sys.exit(77)
    sys.exit(0 if failed == 0 else 1)
