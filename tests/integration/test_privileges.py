"""Privilege checks (issue 12): each long-running process runs with the uid, gid and
groups doc/architecture.md promises, the spool is closed to other users, Maildir files
belong to the recipient, and a set-gid copy of a program ignores COURIER_ROOT."""

import grp
import os
import pwd
import shutil
import stat
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
import harness  # noqa: E402


def status_ids(pid):
    ids = {}
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            key, _, value = line.partition(":")
            if key in ("Uid", "Gid", "Groups"):
                ids[key] = [int(x) for x in value.split()]
    return ids


class PrivilegeTest(harness.InstanceTestCase):
    @classmethod
    def configure(cls, mta):
        cls.user = mta.add_user()

    def processes(self):
        out = []
        for pid in harness.processes_of(self.mta.root):
            try:
                with open(f"/proc/{pid}/comm") as f:
                    out.append((f.read().strip(), status_ids(pid)))
            except OSError:
                pass
        return out

    def test_each_process_runs_as_documented(self):
        mail = pwd.getpwnam(harness.MAIL_USER)
        with self.mta.smtp() as s:
            s.ehlo("client.example")
            procs = self.processes()
        seen = {}
        for comm, ids in procs:
            seen.setdefault(comm, []).append(ids)
            uid_set = set(ids["Uid"])   # real, effective, saved, filesystem
            gid_set = set(ids["Gid"])
            if comm in ("couriertcpd", "courieresmtpd", "courieresmtp", "submit"):
                self.assertEqual(uid_set, {mail.pw_uid}, comm)
                self.assertEqual(gid_set, {mail.pw_gid}, comm)
                self.assertTrue(set(ids["Groups"]) <= {mail.pw_gid}, (comm, ids["Groups"]))
        for comm in ("couriertcpd", "courieresmtpd", "courieresmtp", "courierlocal", "courierd"):
            self.assertIn(comm, seen)
        # courierd: the supervisor (root) and the scheduler (mail user), nothing else.
        uids = sorted(set(ids["Uid"]) for ids in seen["courierd"])
        self.assertEqual(sorted(map(sorted, uids)), sorted([[0], [mail.pw_uid]]))
        # courierlocal keeps root to become each recipient, and only it.
        for ids in seen["courierlocal"]:
            self.assertEqual(set(ids["Uid"]), {0})

    def test_spool_is_closed_to_other_users(self):
        with self.mta.smtp() as s:
            s.sendmail("a@remote.example", [f"{self.user}@{self.mta.me}"], "Subject: p\r\n\r\nx\r\n")
        mail = pwd.getpwnam(harness.MAIL_USER)
        for dirpath, dirnames, filenames in os.walk(self.mta.path("spool")):
            for name in dirnames + filenames + ["."]:
                p = os.path.join(dirpath, name)
                try:
                    st = os.lstat(p)
                except FileNotFoundError:
                    continue   # delivered and removed meanwhile
                self.assertEqual(st.st_mode & stat.S_IRWXO, 0, p)
                self.assertEqual(st.st_uid, mail.pw_uid, p)

    def test_maildir_files_belong_to_the_recipient(self):
        with self.mta.smtp() as s:
            s.sendmail("a@remote.example", [f"{self.user}@{self.mta.me}"], "Subject: own\r\n\r\nx\r\n")
        self.mta.wait_delivered(self.user, 1)
        pw = pwd.getpwnam(self.user)
        new = os.path.join(self.mta.maildir(self.user), "new")
        for name in os.listdir(new):
            st = os.stat(os.path.join(new, name))
            self.assertEqual((st.st_uid, st.st_gid), (pw.pw_uid, pw.pw_gid))
            self.assertEqual(stat.S_IMODE(st.st_mode), 0o600)
        st = os.stat(self.mta.maildir(self.user))
        self.assertEqual(st.st_uid, pw.pw_uid)

    def test_setgid_program_ignores_courier_root(self):
        # A set-gid copy of `courier`, run by an ordinary user with COURIER_ROOT set,
        # must use its compiled-in folders: flush then fails on the real spool, not ours.
        d = tempfile.mkdtemp(prefix="setgid-test-")
        self.addCleanup(shutil.rmtree, d, True)
        os.chmod(d, 0o755)
        prog = os.path.join(d, "courier")
        shutil.copy(os.path.join(harness.BUILDDIR, "courierd", "courier"), prog)
        os.chown(prog, 0, grp.getgrnam(harness.MAIL_USER).gr_gid)
        os.chmod(prog, 0o2755)
        env = dict(os.environ, COURIER_ROOT=self.mta.root)
        plain = subprocess.run(["setpriv", "--reuid", self.user, "--regid", self.user, "--clear-groups",
                                os.path.join(harness.BUILDDIR, "courierd", "courier"), "flush"],
                               env=env, capture_output=True, text=True, timeout=30)
        setgid = subprocess.run(["setpriv", "--reuid", self.user, "--regid", self.user, "--clear-groups",
                                 prog, "flush"], env=env, capture_output=True, text=True, timeout=30)
        self.assertIn(self.mta.root, plain.stdout + plain.stderr)
        self.assertNotIn(self.mta.root, setgid.stdout + setgid.stderr)
        self.assertNotEqual(setgid.returncode, 0)


if __name__ == "__main__":
    harness.main()
