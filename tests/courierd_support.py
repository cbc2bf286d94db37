"""Helpers for the courierd integration tests (issue 5): queueing a message through
submit directly (any source, any session facts), a scripted delivery module that
answers by recipient name, reading status logs, and parsing RFC 3464 notices."""

import email
import email.policy
import os
import pwd
import stat
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402


def xtext(s):
    out = []
    for ch in s.encode():
        if ch < 33 or ch > 126 or ch in (ord("+"), ord("=")):
            out.append("+%02X" % ch)
        else:
            out.append(chr(ch))
    return "".join(out)


def unxtext(s):
    out = bytearray()
    i = 0
    while i < len(s):
        if s[i] == "+" and i + 2 < len(s) + 1:
            out.append(int(s[i + 1:i + 3], 16))
            i += 3
        else:
            out.append(ord(s[i]))
            i += 1
    return out.decode(errors="replace")


def submit(mta, sender, rcpts, message, source="esmtp", session=None, mail_params="",
           rcpt_params=None):
    """Runs submit as the mail user (as courieresmtpd would) and queues one message.
    Returns (list of reply lines, queue id or None)."""
    mail = pwd.getpwnam(harness.MAIL_USER)
    facts = {"remote-ip": "127.0.0.1", "relay": "yes"}
    facts.update(session or {})
    lines = [f"session {k} {xtext(v)}" for k, v in facts.items()]
    lines.append(f"mail {xtext(sender)} {mail_params}".rstrip())
    for r in rcpts:
        lines.append(f"rcpt {xtext(r)} {(rcpt_params or {}).get(r, '')}".rstrip())
    body = message.replace("\r\n", "\n").encode()
    data = ("\n".join(lines) + "\ndata\n").encode() + f"chunk {len(body)}\n".encode() + body + \
        b"chunk 0\nquit\n"
    p = subprocess.run([mta.path("libexec", "submit"), source], input=data, capture_output=True,
                       env=mta.env, user=mail.pw_uid, group=mail.pw_gid, timeout=30)
    replies = p.stdout.decode().splitlines()
    qid = None
    if replies and "queued as" in replies[-1]:
        qid = replies[-1].split()[-1]
    return replies, qid


# A delivery module in Python that speaks the module protocol of doc/architecture.md.
# The local part of each recipient decides: ok* delivers; fail* fails (550 5.1.1) and
# defer* defers (451 4.4.1) until the file <root>/modstate/release-<localpart> exists;
# slow* creates <root>/modstate/started-<localpart>, waits (at most 60 s) for the
# release file, then delivers.
SCRIPT_MODULE = r'''#!/usr/bin/python3
import os, sys, time
root = os.path.join(os.environ["COURIER_ROOT"], "modstate")
def xt(s):
    return "".join("+%02X" % c if c < 33 or c > 126 or c in (43, 61) else chr(c) for c in s.encode())
def unxt(s):
    out = bytearray(); i = 0
    while i < len(s):
        if s[i] == "+":
            out.append(int(s[i+1:i+3], 16)); i += 3
        else:
            out.append(ord(s[i])); i += 1
    return out.decode()
cur = None
for line in sys.stdin:
    f = line.split()
    if f[0] == "deliver":
        cur = (f[1], [])
    elif f[0] == "rcpt":
        cur[1].append((f[1], unxt(f[2])))
    elif f[0] == "end":
        for idx, addr in cur[1]:
            local = addr.split("@")[0]
            if local.startswith("slow"):
                open(os.path.join(root, "started-" + local), "w").close()
                for _ in range(600):
                    if os.path.exists(os.path.join(root, "release-" + local)):
                        break
                    time.sleep(0.1)
            released = os.path.exists(os.path.join(root, "release-" + local))
            if local.startswith("ok") or local.startswith("slow"):
                st, text = "ok", "250 2.0.0 accepted by the test peer"
            elif local.startswith("fail") and not released:
                st, text = "fail", "550 5.1.1 <%s>: no such user here" % addr
            elif released:
                st, text = "ok", "250 2.0.0 accepted at last"
            else:
                st, text = "defer", "451 4.4.1 the test peer is not answering"
            sys.stdout.write("result %s %s %s %s\n" % (cur[0], idx, st, xt(text)))
        sys.stdout.write("done %s\n" % cur[0])
        sys.stdout.flush()
'''


def module_file(mta, name):
    """A file in the scripted module's folder (release-*, started-*)."""
    return mta.path("modstate", name)


def install_script_module(mta, name="esmtp"):
    mail = pwd.getpwnam(harness.MAIL_USER)
    os.makedirs(mta.path("modstate"), exist_ok=True)
    os.chown(mta.path("modstate"), mail.pw_uid, mail.pw_gid)
    path = mta.path("libexec", "test-module-" + name)
    with open(path, "w") as f:
        f.write(SCRIPT_MODULE)
    os.chmod(path, 0o755)
    mta.write_config("module." + name, f"NAME={name}\nPROG={path}\nMAXDELS=4\nMAXHOST=4\nMAXRCPT=10\n")


def status_log(mta, qid):
    """The records of S<qid> as lists of fields (xtext decoded)."""
    path = mta.path("spool", "msgs", qid[:5], "S" + qid)
    try:
        with open(path) as f:
            text = f.read()
    except FileNotFoundError:
        return []
    out = []
    for line in text.split("\n")[:-1]:
        f = line.split(" ")
        if f[0] in ("delivered", "failed", "deferred"):
            f[3] = unxtext(f[3])
        out.append(f)
    return out


def notices(mta, user):
    """The multipart/report messages in the user's Maildir, parsed."""
    out = []
    for _, data in mta.delivered(user):
        msg = email.message_from_bytes(data, policy=email.policy.compat32)
        if msg.get_content_type() == "multipart/report":
            out.append(msg)
    return out


def report_fields(msg):
    """(per-message fields, [per-recipient fields]) of a multipart/report notice."""
    assert msg.get_param("report-type") == "delivery-status", msg.get_params()
    parts = msg.get_payload()
    ds = [p for p in parts if p.get_content_type() == "message/delivery-status"]
    assert len(ds) == 1, [p.get_content_type() for p in parts]
    blocks = ds[0].get_payload()   # the email package parses it into header blocks
    return dict(blocks[0].items()), [dict(b.items()) for b in blocks[1:]]


def make_home_unwritable(mta, user, unwritable=True):
    home = mta.path("home", user)
    os.chmod(home, 0o500 if unwritable else 0o700)
    return stat.S_IMODE(os.stat(home).st_mode)
