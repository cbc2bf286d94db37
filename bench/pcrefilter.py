#!/usr/bin/env python3
"""PCRE2 content filter throughput (issue 11): `make bench-pcrefilter`.

One instance of this MTA, messages sent over SMTP by bench/asyncsend.py (20 sessions,
4 KB messages), accepted messages/second measured with pcrefilter(8) running 200 rules
(100 header, 100 body; none matches, so every rule is tried on every line: the worst
case) and without any filter, alternately, REPEATS times each. Reports the ratio
filtered/unfiltered of the medians, plus the filter's own rate when submit's requests
are sent straight to its socket (no SMTP, no queue). Writes
bench/results/pcrefilter-<timestamp>.json.

Needs root (the harness creates users) but none of bench/run's tools.
Environment: COURIER_BUILDDIR, COURIER_SRCDIR; BENCH_QUICK=1 for fewer messages.
"""

import asyncio
import concurrent.futures
import datetime
import json
import os
import socket
import statistics
import sys
import time

SRCDIR = os.environ.get("COURIER_SRCDIR") or os.path.abspath(os.path.join(os.path.dirname(__file__), ".."))
os.environ.setdefault("COURIER_SRCDIR", SRCDIR)
sys.path.insert(0, os.path.join(SRCDIR, "tests"))
sys.path.insert(0, os.path.join(SRCDIR, "bench"))
import harness  # noqa: E402
import asyncsend  # noqa: E402

QUICK = os.environ.get("BENCH_QUICK") == "1"
REPEATS = 3
MESSAGES = 150 if QUICK else 600
SESSIONS = 20
MSG_SIZE = 4096
DIRECT = 500 if QUICK else 3000          # requests straight to the filter socket
DIRECT_THREADS = 4
N_RULES = 200


def log(*a):
    print(*a, file=sys.stderr, flush=True)


def rules_text():
    """200 rules of the kinds administrators write; none matches the bench messages."""
    lines = ["# bench/pcrefilter.py: 200 non-matching rules"]
    for i in range(N_RULES // 2):
        kind = i % 4
        if kind == 0:
            lines.append(f"header /^Subject:.*\\b(cheap|free|discount)\\s+item{i}\\b/ REJECT")
        elif kind == 1:
            lines.append(f"header /^From:.*@spammer{i}\\.example>?$/ REJECT 554 5.7.1 blocked sender")
        elif kind == 2:
            lines.append(f"header /^Received:.*\\[10\\.{i}\\.\\d+\\.\\d+\\]/ WARN via bad relay {i}")
        else:
            lines.append(f"header /^X-Mailer:\\s*BulkTool{i}/ PREPEND X-Bulk: {i}")
    for i in range(N_RULES // 2):
        kind = i % 4
        if kind == 0:
            lines.append(f"body /you have won (the )?lottery{i}/ HOLD lottery {i}")
        elif kind == 1:
            lines.append(f"body /https?:\\/\\/[a-z0-9.-]*badsite{i}\\.example/ REJECT bad link")
        elif kind == 2:
            lines.append(f"body /\\b(viagra|cialis)\\w*{i}\\b/ DISCARD pills {i}")
        else:
            lines.append(f"body /^unsubscribe-{i}-[0-9a-f]{{8}}$/ DISCARD")
    return "\n".join(lines) + "\n"


def smtp_rate(mta, rcpt):
    counts = asyncio.run(asyncsend.run("127.0.0.1", mta.port, SESSIONS, MESSAGES, MSG_SIZE,
                                       "bench@bench.example", rcpt))
    if counts["accepted"] != MESSAGES:
        raise RuntimeError(f"not every message was accepted: {counts}")
    return MESSAGES / counts["seconds"]


def direct_rate(mta):
    """Requests straight to the filter socket, as submit sends them (doc/filters.md)."""
    tmp = mta.path("spool", "tmp")
    msg_path = os.path.join(tmp, "bench-filter.msg")
    env_path = os.path.join(tmp, "bench-filter.env")
    with open(msg_path, "w") as f:
        f.write(asyncsend.make_body(MSG_SIZE, 0).replace("\r\n", "\n"))
    with open(env_path, "w") as f:
        f.write("courier-filter 1\nsource esmtp\nsender bench@bench.example\nremote-ip 127.0.0.1\n"
                "rcpt rcpt@bench.example\n")
    for p in (msg_path, env_path):
        os.chmod(p, 0o644)
    sock_path = mta.path("spool", "filters", "pcrefilter")
    request = f"{msg_path}\n{env_path}\n\n".encode()

    def one(_):
        with socket.socket(socket.AF_UNIX) as s:
            s.connect(sock_path)
            s.sendall(request)
            answer = b""
            while True:
                chunk = s.recv(4096)
                if not chunk:
                    break
                answer += chunk
        if not answer.startswith(b"2"):
            raise RuntimeError(f"filter answered {answer!r}")

    t0 = time.monotonic()
    with concurrent.futures.ThreadPoolExecutor(DIRECT_THREADS) as pool:
        list(pool.map(one, range(DIRECT)))
    rate = DIRECT / (time.monotonic() - t0)
    os.unlink(msg_path)
    os.unlink(env_path)
    return rate


def main():
    started = time.monotonic()
    mta = harness.Instance(me="bench.example")
    try:
        mta.write_config("esmtpd", "\n".join([
            "ESMTPDSTART=YES", f"PORT=127.0.0.1.{mta.port}", "ADDRESS=0",
            "MAXDAEMONS=300", "MAXPERIP=300", 'TCPDOPTS="-nodnslookup"', ""]))
        user = mta.add_user()
        rcpt = f"{user}@bench.example"
        mta.write_config("pcrefilter", rules_text())
        mta.run("sbin/filterctl", "start", "pcrefilter", mta.path("libexec", "pcrefilter"))
        mta.run("sbin/courierfilter", "start")
        harness.wait_for(lambda: os.path.exists(mta.path("spool", "filters", "pcrefilter")), timeout=30,
                         what="the pcrefilter socket")
        check = mta.run("libexec/pcrefilter", "-check", mta.path("etc", "pcrefilter"))
        log(check.stdout.strip())
        mta.start()
        smtp_rate(mta, rcpt)   # warm-up: page cache, first deliveries
        plain, filtered = [], []
        for r in range(REPEATS):
            # enablefiltering is read for every message: toggling it switches the filter
            # on and off without restarting anything.
            if os.path.exists(mta.path("etc", "enablefiltering")):
                os.unlink(mta.path("etc", "enablefiltering"))
            plain.append(smtp_rate(mta, rcpt))
            log(f"  run {r + 1}: without filter {plain[-1]:.1f} msg/s")
            mta.write_config("enablefiltering", "esmtp\n")
            filtered.append(smtp_rate(mta, rcpt))
            log(f"  run {r + 1}: through {N_RULES} rules {filtered[-1]:.1f} msg/s")
        if "pcrefilter rule=" in mta.log_text():
            raise RuntimeError("a bench rule matched: the run is not the no-match worst case")
        direct = direct_rate(mta)
        res = {
            "started": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
            "quick": QUICK, "rules": N_RULES, "messages": MESSAGES, "sessions": SESSIONS,
            "message_bytes": MSG_SIZE, "jit": "jit=yes" in check.stdout,
            "without_filter_per_s": plain, "with_filter_per_s": filtered,
            "ratio_filtered_to_unfiltered": statistics.median(filtered) / statistics.median(plain),
            "filter_socket_per_s": direct,
            "seconds": time.monotonic() - started,
        }
    finally:
        mta.stop()
    print(f"pcrefilter, {N_RULES} rules, {MESSAGES} x {MSG_SIZE} B messages, {SESSIONS} SMTP sessions, "
          f"median of {REPEATS}:")
    print(f"  accepted msg/s without filter   {statistics.median(plain):10.1f}")
    print(f"  accepted msg/s through filter   {statistics.median(filtered):10.1f}")
    print(f"  ratio filtered / unfiltered     {res['ratio_filtered_to_unfiltered']:10.3f}")
    print(f"  filter alone (socket) msg/s     {direct:10.1f}   ({DIRECT_THREADS} clients, JIT {res['jit']})")
    out_dir = os.path.join(SRCDIR, "bench", "results")
    os.makedirs(out_dir, exist_ok=True)
    name = os.path.join(out_dir, "pcrefilter-" + datetime.datetime.now().strftime("%Y%m%dT%H%M%S") + ".json")
    with open(name, "w") as f:
        json.dump(res, f, indent=1)
    print(f"results: {name} ({res['seconds']:.0f} s)")


if __name__ == "__main__":
    main()
