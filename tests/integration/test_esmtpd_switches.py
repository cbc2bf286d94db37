"""ZMailer's switches per listener (issue 10), observed on the wire: esmtpd withholds
extensions (No8BITMIME, NoCHUNKING, NoDSN, NoPIPELINING, NoENHANCEDSTATUSCODES) while
esmtpd-msa on the same instance keeps offering them; NoEHLO leaves HELO only; the
HELO-name patterns file refuses or tightens by name; MAXLOADAVER answers 421 4.3.2;
and esmtpd start/restart refuse a settings or patterns file with errors (file:line),
the running service keeping its last good patterns."""

import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
import harness  # noqa: E402
from esmtpd_support import RawSmtp, esmtpd_settings, start_service, stop_service  # noqa: E402

PATTERNS = ("# test patterns\n"
            "*.dialup.example   !Dial-up hosts must use their provider's relay\n"
            "localhost*         S\n"
            "nopipe.*           P\n")


class SwitchesTest(harness.InstanceTestCase):
    @classmethod
    def configure(cls, mta):
        cls.user = mta.add_user()
        cls.rcpt = f"{cls.user}@{mta.me}"
        mta.write_config("esmtphelopatterns", PATTERNS)
        mta.write_config("esmtpd", esmtpd_settings(mta, mta.port, [
            "No8BITMIME=1", "NoCHUNKING=1", "NoDSN=yes", "NoPIPELINING=1", "NoENHANCEDSTATUSCODES=1"]))

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        try:
            cls.msa_port = start_service(cls.mta, "esmtpd-msa")
            cls.helo_only_port = start_service(cls.mta, "esmtpd-ssl", ["NoEHLO=1"])
        except BaseException:
            cls.tearDownClass()
            raise

    @classmethod
    def tearDownClass(cls):
        for name in ("esmtpd-msa", "esmtpd-ssl"):
            stop_service(cls.mta, name)
        super().tearDownClass()

    def session(self, port=None):
        s = RawSmtp(port or self.mta.port)
        self.addCleanup(s.close)
        self.assertEqual(s.reply()[0], 220)
        return s

    def test_withheld_extensions_on_one_listener_only(self):
        s = self.session()
        code, lines = s.cmd("EHLO client.example")
        self.assertEqual(code, 250)
        for keyword in ("8BITMIME", "CHUNKING", "DSN", "PIPELINING", "ENHANCEDSTATUSCODES"):
            self.assertNotIn(keyword, lines)
        self.assertIn("SMTPUTF8", lines)
        self.assertEqual(s.cmd("MAIL FROM:<s@remote.example> BODY=8BITMIME")[0], 555)
        self.assertEqual(s.cmd("MAIL FROM:<s@remote.example> RET=HDRS")[0], 555)
        # No enhanced code in any reply.
        self.assertEqual(s.cmd("MAIL FROM:<s@remote.example>"), (250, ["Ok"]))
        self.assertEqual(s.cmd(f"RCPT TO:<{self.rcpt}> NOTIFY=NEVER")[0], 555)
        self.assertEqual(s.cmd(f"RCPT TO:<{self.rcpt}>"), (250, ["Ok"]))
        s.send("BDAT 4 LAST\r\nabcd")
        self.assertEqual(s.reply()[0], 502)
        self.assertEqual(s.cmd("NOOP"), (250, ["Ok"]))

        other = self.session(self.msa_port)
        code, lines = other.cmd("EHLO client.example")
        for keyword in ("8BITMIME", "CHUNKING", "DSN", "PIPELINING", "ENHANCEDSTATUSCODES"):
            self.assertIn(keyword, lines)
        self.assertEqual(other.cmd("NOOP"), (250, ["2.0.0 Ok"]))

    def test_noehlo_leaves_helo(self):
        s = self.session(self.helo_only_port)
        code, text = s.cmd("EHLO client.example")
        self.assertEqual((code, text[0][:5]), (502, "5.5.1"))
        self.assertEqual(s.cmd("HELO client.example")[0], 250)
        self.assertEqual(s.cmd("MAIL FROM:<s@remote.example>")[0], 250)
        self.assertIn("policy rule=NoEHLO", self.mta.log_text())

    def test_helo_patterns(self):
        s = self.session(self.msa_port)
        self.assertEqual(s.cmd("EHLO pc7.dialup.example"),
                         (550, ["5.7.1 Dial-up hosts must use their provider's relay"]))
        self.assertEqual(s.cmd("MAIL FROM:<s@remote.example>")[0], 503)
        self.assertEqual(s.cmd("HELO localhost")[0], 501)
        self.assertEqual(s.cmd("HELO localhost.example.net")[0], 250)
        code, lines = s.cmd("EHLO nopipe.example.net")
        self.assertNotIn("PIPELINING", lines)
        self.assertIn("CHUNKING", lines)
        patterns = self.mta.path("etc", "esmtphelopatterns")
        self.assertIn(f"policy rule=esmtphelopatterns {patterns}:2 *.dialup.example", self.mta.log_text())

    def test_broken_patterns_keep_the_last_good_ones(self):
        # Cleanups run last-in first-out: the good file is back before the restart.
        self.addCleanup(self.mta.run, "sbin/esmtpd-msa", "restart", check=False)
        self.addCleanup(self.mta.write_config, "esmtphelopatterns", PATTERNS)
        self.mta.write_config("esmtphelopatterns", PATTERNS + "broken.*\n*.dialup.example Q\n")
        r = self.mta.run("sbin/esmtpd-msa", "restart", check=False)
        patterns = self.mta.path("etc", "esmtphelopatterns")
        self.assertEqual(r.returncode, 78, r.stderr)
        self.assertIn(f"{patterns}:5: missing flags after the pattern", r.stderr)
        self.assertIn(f"{patterns}:6: unknown flag 'Q'", r.stderr)
        # The service runs on with the patterns it had.
        s = self.session(self.msa_port)
        self.assertEqual(s.cmd("EHLO pc7.dialup.example")[0], 550)
        # A good edit takes effect at restart.
        self.mta.write_config("esmtphelopatterns", "*.dialup.example -\n")
        self.assertEqual(self.mta.run("sbin/esmtpd-msa", "restart", check=False).returncode, 0)
        s = self.session(self.msa_port)
        self.assertEqual(s.cmd("EHLO pc7.dialup.example")[0], 250)

    def test_broken_settings_are_refused_with_file_and_line(self):
        path = self.mta.path("etc", "esmtpd-ssl")
        with open(path) as f:
            good = f.read()
        self.addCleanup(self.mta.write_config, "esmtpd-ssl", good)
        self.mta.write_config("esmtpd-ssl", good + "NoDSN=perhaps\nMAXLOADAVER=lots\n")
        r = self.mta.run("sbin/esmtpd-ssl", "restart", check=False)
        lines = len(good.splitlines())
        self.assertEqual(r.returncode, 78, r.stderr)
        self.assertIn(f"{path}:{lines + 1}: NoDSN=perhaps: expected 1 or 0", r.stderr)
        self.assertIn(f"{path}:{lines + 2}: MAXLOADAVER=lots", r.stderr)
        # Still serving, as configured before.
        s = self.session(self.helo_only_port)
        self.assertEqual(s.cmd("EHLO client.example")[0], 502)


class LoadGuardTest(harness.InstanceTestCase):
    @classmethod
    def configure(cls, mta):
        mta.write_config("esmtpd", esmtpd_settings(mta, mta.port, ["MAXLOADAVER=0.01"]))

    def test_load_above_the_limit_gets_421(self):
        if os.getloadavg()[0] <= 0.01:
            self.skipTest("the machine's load average is 0: the guard cannot trip")
        s = RawSmtp(self.mta.port)
        self.addCleanup(s.close)
        code, text = s.reply()
        self.assertEqual((code, text[0][:5]), (421, "4.3.2"))
        self.assertIn("System load too high", text[0])
        self.assertTrue(s.closed_by_server())
        self.assertIn("policy rule=MAXLOADAVER", self.mta.log_text())


if __name__ == "__main__":
    harness.main()
