"""esmtpd's ACCESSFILE and BLACKLISTS settings, as in Courier's esmtpd file: without
any couriertcpd option in TCPDOPTS, the compiled smtpaccess of the configuration
folder decides who may connect and who relays, an empty ACCESSFILE turns it off, and
BLACKLISTS' -block list (served by a real dnsmasq) makes every RCPT get the list's
refusal."""

import os
import socket
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
import harness  # noqa: E402
from dnsmasq import DnsServer  # noqa: E402
from esmtpd_support import RawSmtp, esmtpd_settings, start_service  # noqa: E402


class SourceSmtp(RawSmtp):
    """RawSmtp from a chosen loopback source address."""

    def __init__(self, port, source, timeout=20):
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=timeout,
                                             source_address=(source, 0))
        self.buf = b""


def greeting(port, source):
    """The first reply line code, or None when the connection is closed without one."""
    s = SourceSmtp(port, source)
    try:
        code, _ = s.reply()
        return code
    except (OSError, EOFError):
        return None
    finally:
        s.close()


class AccessFileTest(harness.InstanceTestCase):
    @classmethod
    def configure(cls, mta):
        cls.user = mta.add_user()
        cls.dns = DnsServer(a=[("2.0.0.127.bl.test", "127.0.0.2")]).start()
        mta.write_config("dnsserver", f"127.0.0.1@{cls.dns.port}\n")
        mta.write_config("smtpaccess", "127.0.0.6\tdeny\n127.0.0.7\tallow,RELAYCLIENT\n")
        mta.run("sbin/makesmtpaccess")
        # The default service: no -access in TCPDOPTS, ACCESSFILE unset.
        mta.write_config("esmtpd", esmtpd_settings(mta, mta.port))

    @classmethod
    def release(cls):
        cls.dns.stop()

    def test_default_accessfile_refuses_and_grants_relaying(self):
        self.assertIsNone(greeting(self.mta.port, "127.0.0.6"))
        s = SourceSmtp(self.mta.port, "127.0.0.7")
        self.addCleanup(s.close)
        self.assertEqual(s.reply()[0], 220)
        s.cmd("EHLO client.example")
        s.cmd("MAIL FROM:<s@remote.example>")
        self.assertEqual(s.cmd("RCPT TO:<x@elsewhere.example>")[0], 250)   # RELAYCLIENT
        s.cmd("QUIT")
        self.assertEqual(greeting(self.mta.port, "127.0.0.8"), 220)   # not listed: allowed

    def test_empty_accessfile_turns_it_off(self):
        port = start_service(self.mta, "esmtpd-msa", ['ACCESSFILE=""'])
        self.addCleanup(self.mta.run, "sbin/esmtpd-msa", "stop")
        self.assertEqual(greeting(port, "127.0.0.6"), 220)

    def test_blacklists_block_every_recipient(self):
        port = start_service(self.mta, "esmtpd-ssl", ["ESMTP_IMPLICIT_TLS=0", 'BLACKLISTS="-block=bl.test"'])
        self.addCleanup(self.mta.run, "sbin/esmtpd-ssl", "stop")
        s = SourceSmtp(port, "127.0.0.2")
        self.addCleanup(s.close)
        self.assertEqual(s.reply()[0], 220)
        s.cmd("EHLO client.example")
        s.cmd("MAIL FROM:<s@remote.example>")
        code, lines = s.cmd(f"RCPT TO:<{self.user}@{self.mta.me}>")
        self.assertEqual(code, 550)
        self.assertIn("bl.test", " ".join(lines))


if __name__ == "__main__":
    harness.main()
