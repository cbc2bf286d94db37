"""courier check (issue 13): a list of broken configurations, each reported with
file:line and a non-zero exit; suspicious settings reported as warnings with exit 0;
courier start and esmtpd start refuse a broken configuration with the same messages."""

import os
import shutil
import sys
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
import harness  # noqa: E402

# (what is wrong, files to write, the finding courier check must print). "{etc}" is the
# instance's configuration folder.
BROKEN = [
    ("space in a local domain", {"locals": "test.example\nbad domain\n"},
     "{etc}/locals:2: error: character ' '"),
    ("address in hosteddomains", {"hosteddomains": "# hosted\nuser@example.com\n"},
     "{etc}/hosteddomains:2: error: "),
    ("retryalpha in words", {"retryalpha": "five minutes\n"},
     "{etc}/retryalpha:1: error: not an interval"),
    ("queuetime zero", {"queuetime": "0\n"}, "{etc}/queuetime:1: error: must be longer than 0"),
    ("retrybeta not a number", {"retrybeta": "3x\n"}, "{etc}/retrybeta:1: error: not a number"),
    ("queuelo zero", {"queuelo": "0\n"}, "{etc}/queuelo:1: error: out of range"),
    ("esmtproutes without a colon", {"esmtproutes": "example.com: [192.0.2.1]\nexample.org [192.0.2.2]\n"},
     "{etc}/esmtproutes:2: error:"),
    ("esmtpauthclient short line", {"esmtpauthclient": "relay.example.com user\n"},
     "{etc}/esmtpauthclient:1: error: not \"relay userid password\""),
    ("bad line in a module file", {"module.extra": "NAME=extra\nPROG courierlocal\n"},
     "{etc}/module.extra:2: error: not a NAME=value line"),
    ("module program missing", {"module.extra": "NAME=extra\nPROG=/nonexistent/prog\n"},
     "{etc}/module.extra: error: PROG /nonexistent/prog is not an executable program"),
    ("bad line in esmtpd-msa", {"esmtpd-msa": "ESMTPDSTART=NO\nPORT 587\n"},
     "{etc}/esmtpd-msa:2: error: not a NAME=value line"),
    ("TLS certificate missing", {"esmtpd-ssl": "ESMTPDSTART=YES\nTLS_CERTFILE=/nonexistent/cert.pem\n"},
     "{etc}/esmtpd-ssl: error: TLS certificate /nonexistent/cert.pem is missing"),
    ("unknown bofh keyword", {"bofh": "opt BOFHSUPPRESSBACKSCATTER=smtp\nbadform x@y\n"},
     "{etc}/bofh:2: error: unknown keyword \"badform\""),
    ("dnsserver by name", {"dnsserver": "ns1.example.com\n"}, "{etc}/dnsserver:1: error: not an IP address"),
    ("metrics folder missing", {"metricsfile": "/nonexistent/dir/courier.prom\n"},
     "{etc}/metricsfile:1: error: folder /nonexistent/dir does not exist"),
    ("list folder: the file in it is named", {"locals/20-more": "ok.example\n!\n"},
     "{etc}/locals/20-more:2: error: empty domain"),
]

# Suspicious, not wrong: a warning, exit 0.
SUSPICIOUS = [
    ("esmtpdelay longer than retryalpha", {"esmtpdelay": "10m\n", "retryalpha": "5m\n"},
     "{etc}/esmtpdelay: warning: esmtpdelay (600s) is longer than retryalpha (300s)"),
    ("queuelo above queuehi", {"queuelo": "500\n", "queuehi": "400\n"},
     "{etc}/queuehi: warning: queuelo (500) is above queuehi (400)"),
    ("local domain not accepted", {"locals": "test.example\nother.example\n",
                                   "esmtpacceptmailfor": "test.example\n"},
     "{etc}/esmtpacceptmailfor: warning: local domain other.example is not listed"),
    ("the installed esmtpd-ssl, not started, has no certificate yet",
     {"esmtpd-ssl": open(os.path.join(harness.SRCDIR, "config/defaults/esmtpd-ssl")).read()},
     "courier check: 0 errors, 0 warnings"),
    ("warntime after queuetime", {"warntime": "2d\n", "queuetime": "1d\n"},
     "{etc}/warntime: warning: warntime (172800s) is not shorter than queuetime (86400s)"),
    ("aliases not compiled", {"aliases": "postmaster: root\n"},
     "{etc}/aliases: warning: no aliases.dat: run makealiases"),
]


class CourierCheckTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.mta = harness.Instance()
        cls.etc = cls.mta.path("etc")
        cls.pristine = set(os.listdir(cls.etc))

    @classmethod
    def tearDownClass(cls):
        cls.mta.stop()

    def tearDown(self):
        for name in set(os.listdir(self.etc)) - self.pristine:
            p = os.path.join(self.etc, name)
            shutil.rmtree(p) if os.path.isdir(p) else os.unlink(p)

    def write(self, files):
        for name, text in files.items():
            os.makedirs(os.path.dirname(os.path.join(self.etc, name)), exist_ok=True)
            with open(os.path.join(self.etc, name), "w") as f:
                f.write(text)

    def check(self, *args):
        return self.mta.run("sbin/courier", "check", *args, check=False)

    def test_default_configuration_is_clean(self):
        r = self.check()
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        self.assertIn("courier check: 0 errors, 0 warnings", r.stdout)

    def test_each_broken_configuration_is_an_error_with_its_line(self):
        for what, files, expected in BROKEN:
            with self.subTest(what):
                self.write(files)
                try:
                    r = self.check()
                    self.assertNotEqual(r.returncode, 0, f"{what}: {r.stdout}")
                    self.assertIn(expected.format(etc=self.etc), r.stdout)
                    self.assertIn("courier check: 1 error,", r.stdout)
                finally:
                    self.tearDown()

    def test_suspicious_settings_are_warnings(self):
        for what, files, expected in SUSPICIOUS:
            with self.subTest(what):
                self.write(files)
                try:
                    r = self.check()
                    self.assertEqual(r.returncode, 0, f"{what}: {r.stdout}")
                    self.assertIn(expected.format(etc=self.etc), r.stdout)
                    # -q prints errors only: nothing here.
                    self.assertEqual(self.check("-q").stdout, "")
                finally:
                    self.tearDown()

    def test_daemons_refuse_a_broken_configuration(self):
        self.write({"retryalpha": "five minutes\n"})
        expected = f"{self.etc}/retryalpha:1: error: not an interval"
        r = self.mta.run("sbin/courier", "start", check=False)
        self.assertNotEqual(r.returncode, 0)
        self.assertIn(expected, r.stderr)
        self.assertEqual(self.mta.courierd_pids(), [])
        # courierd itself (as systemd would start it) refuses with the same message.
        r = self.mta.run("libexec/courierd", "-f", check=False, timeout=20)
        self.assertNotEqual(r.returncode, 0)
        self.assertIn(expected, r.stderr)
        self.assertIn(expected, self.mta.log_text())
        r = self.mta.run("sbin/esmtpd", "start", check=False)
        self.assertNotEqual(r.returncode, 0)
        self.assertIn(expected, r.stderr)
        self.assertFalse(self.mta._accepting())
        # Fixed, both start.
        self.tearDown()
        self.mta.start()
        self.assertTrue(self.mta.courierd_pids())


if __name__ == "__main__":
    harness.main()
