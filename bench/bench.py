#!/usr/bin/env python3
"""The benchmark suite behind `make bench` (issue 8); bench/run prepares the tools.

Measures this MTA and Debian's Postfix side by side in one run, with the same load
tools (Postfix's smtp-source and smtp-sink, and bench/asyncsend.py as a cross-check),
plus the durable-write limit of the spool's filesystem. Prints a table and writes
bench/results/<timestamp>.json.

Environment: COURIER_BUILDDIR, COURIER_SRCDIR (the build and source trees),
BENCH_TOOLS (folder with the extracted postfix package), BENCH_WORK (scratch folder),
BENCH_QUICK=1 (fewer messages, for development), BENCH_NO_POSTFIX=1 (ours only).
"""

import asyncio
import datetime
import glob
import json
import os
import platform
import pwd
import re
import shutil
import signal
import smtplib
import socket
import statistics
import subprocess
import sys
import threading
import time

SRCDIR = os.environ["COURIER_SRCDIR"]
BUILDDIR = os.environ["COURIER_BUILDDIR"]
TOOLS = os.environ["BENCH_TOOLS"]
WORK = os.environ["BENCH_WORK"]
QUICK = os.environ.get("BENCH_QUICK") == "1"
NO_POSTFIX = os.environ.get("BENCH_NO_POSTFIX") == "1"

sys.path.insert(0, os.path.join(SRCDIR, "tests"))
sys.path.insert(0, os.path.join(SRCDIR, "bench"))
import harness  # noqa: E402  (reads COURIER_BUILDDIR/COURIER_SRCDIR at import)
import asyncsend  # noqa: E402
import fsyncrate  # noqa: E402

PF_LIB = os.path.join(TOOLS, "postfix", "usr", "lib", "postfix")
SMTP_SOURCE = os.path.join(TOOLS, "postfix", "usr", "sbin", "smtp-source")
SMTP_SINK = os.path.join(TOOLS, "postfix", "usr", "sbin", "smtp-sink")
TOOL_ENV = dict(os.environ, LD_LIBRARY_PATH=PF_LIB)
CLK_TCK = os.sysconf("SC_CLK_TCK")

REPEATS = 3
N_INBOUND = 200 if QUICK else 2000
SESSIONS = 20
N_SINGLE = 30 if QUICK else 200          # single session, accepted (smtp-source -s 1)
N_LATENCY = 20 if QUICK else 100         # single session, send one, wait for it in Maildir
N_RELAY = 200 if QUICK else 2000
N_OPEN = 50 if QUICK else 200            # open sessions for the memory figure
N_STRACE = 50 if QUICK else 200
N_CONN = 300 if QUICK else 2000          # couriertcpd connections/s
MSG_SIZE = 4096
SPOOL_SIZES = (200, 20000) if QUICK else (2000, 200000)
N_DISPATCH = 2000                        # dispatches timed after courierd's first one
RELAY_DOMAIN = "relay.bench.example"
DEADLINE = 600                           # seconds any one wait may take


def log(*a):
    print(*a, file=sys.stderr, flush=True)


def wait_for(pred, timeout, interval=0.01, what="condition"):
    end = time.monotonic() + timeout
    while True:
        v = pred()
        if v:
            return v
        if time.monotonic() > end:
            raise TimeoutError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(interval)


def accepting(port):
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1):
            return True
    except OSError:
        return False


# ---- process accounting ---------------------------------------------------------------

def proc_stat(pid):
    with open(f"/proc/{pid}/stat") as f:
        s = f.read()
    rest = s[s.rindex(")") + 2:].split()
    # fields after the name: state(3) ppid(4) ... utime(14) stime(15) cutime(16) cstime(17)
    return {"ppid": int(rest[1]), "ticks": sum(int(x) for x in rest[11:15])}


def descendants(roots):
    """roots plus every process below them."""
    children = {}
    for e in os.listdir("/proc"):
        if e.isdigit():
            try:
                children.setdefault(proc_stat(int(e))["ppid"], []).append(int(e))
            except (OSError, ValueError, IndexError):
                pass
    out, todo = [], list(roots)
    while todo:
        p = todo.pop()
        if p not in out:
            out.append(p)
            todo.extend(children.get(p, []))
    return out


def cpu_seconds(pids):
    """utime+stime of the processes plus that of the children they reaped."""
    total = 0
    for p in pids:
        try:
            total += proc_stat(p)["ticks"]
        except (OSError, ValueError, IndexError):
            pass
    return total / CLK_TCK


def pss_kib(pids):
    total = 0
    for p in pids:
        try:
            with open(f"/proc/{p}/smaps_rollup") as f:
                for line in f:
                    if line.startswith("Pss:"):
                        total += int(line.split()[1])
        except OSError:
            pass
    return total


def count_dir(path):
    try:
        return len(os.listdir(path))
    except FileNotFoundError:
        return 0


def clear_dir(path):
    for name in os.listdir(path):
        os.unlink(os.path.join(path, name))


def make_maildir(home, uid, gid):
    for d in ("", "tmp", "new", "cur"):
        p = os.path.join(home, "Maildir", d)
        os.makedirs(p, mode=0o700, exist_ok=True)
        os.chown(p, uid, gid)


# ---- the two MTAs -----------------------------------------------------------------------

class Ours:
    name = "ours"
    stuck = 0    # messages that stay queued (the relay probe, when outbound does not work)

    def __init__(self, sink_port):
        self.inst = harness.Instance(me="bench.example")
        self.port = self.inst.port
        self.inst.write_config("esmtpd", "\n".join([
            "ESMTPDSTART=YES", f"PORT=127.0.0.1.{self.port}", "ADDRESS=0",
            "MAXDAEMONS=300", "MAXPERIP=300", 'TCPDOPTS="-nodnslookup"',
            "RELAYCLIENT=", ""]))
        self.inst.write_config("esmtproutes", f"{RELAY_DOMAIN}: [127.0.0.1],{sink_port}\n")
        # Issue 6's relay figure: 20 concurrent deliveries to the sink (module.esmtp's
        # MAXHOST and esmtpmaxsessions both default to 4 per host/domain).
        with open(self.inst.path("etc", "module.esmtp")) as f:
            module = re.sub(r"^MAXHOST=.*$", "MAXHOST=20", f.read(), flags=re.M)
        self.inst.write_config("module.esmtp", module)
        self.inst.write_config("esmtpmaxsessions", "20\n")
        self.user = self.inst.add_user()
        pw = pwd.getpwnam(self.user)
        make_maildir(pw.pw_dir, pw.pw_uid, pw.pw_gid)
        self.rcpt = f"{self.user}@bench.example"
        self.new = os.path.join(pw.pw_dir, "Maildir", "new")
        self.spool = self.inst.path("spool")

    def start(self):
        self.inst.start()

    def pids(self):
        return harness.processes_of(self.inst.root)

    def queued(self):
        return len(glob.glob(self.inst.path("spool", "msgs", "*", "Q*")))

    def relayed_ok(self):
        return len(re.findall(r"^.* delivery id=.* module=esmtp .*status=ok", self.inst.log_text(), re.M))

    def stop(self):
        self.inst.stop()


class Postfix:
    name = "postfix"
    stuck = 0
    USER = "pfbench"

    def __init__(self, sink_port):
        self.dir = os.path.join(WORK, "postfix")
        shutil.rmtree(self.dir, ignore_errors=True)
        self.conf = os.path.join(self.dir, "etc")
        self.queue = os.path.join(self.dir, "spool")
        self.port = harness.free_port()
        for d in (self.conf, self.queue, os.path.join(self.dir, "data"), os.path.join(self.dir, "home")):
            os.makedirs(d, mode=0o755)
        os.chown(os.path.join(self.dir, "data"), pwd.getpwnam("postfix").pw_uid, -1)
        home = os.path.join(self.dir, "home", self.USER)
        subprocess.run(["userdel", self.USER], stderr=subprocess.DEVNULL)
        subprocess.run(["useradd", "--no-create-home", "--home-dir", home, "--shell", "/usr/sbin/nologin",
                        "--user-group", self.USER], check=True)
        pw = pwd.getpwnam(self.USER)
        os.makedirs(home, mode=0o700)
        os.chown(home, pw.pw_uid, pw.pw_gid)
        make_maildir(home, pw.pw_uid, pw.pw_gid)
        self.rcpt = f"{self.USER}@pf.bench.example"
        self.new = os.path.join(home, "Maildir", "new")
        self.spool = self.queue
        self.maillog = os.path.join(self.dir, "maillog")
        with open(os.path.join(self.conf, "main.cf"), "w") as f:
            f.write(f"""# Postfix peer of the benchmark: Debian defaults except where a line says why.
compatibility_level = 3.6
queue_directory = {self.queue}
data_directory = {self.dir}/data
command_directory = /usr/sbin
daemon_directory = /usr/lib/postfix/sbin
shlib_directory = /usr/lib/postfix
meta_directory = /etc/postfix
mail_owner = postfix
setgid_group = postdrop
myhostname = pf.bench.example
mydomain = bench.example
myorigin = $myhostname
mydestination = pf.bench.example, localhost
inet_interfaces = 127.0.0.1
inet_protocols = ipv4
mynetworks = 127.0.0.0/8
# Maildir delivery for a local user, as the sandbox does
home_mailbox = Maildir/
alias_maps =
alias_database =
# the relay figure: one domain routed to smtp-sink
transport_maps = inline:{{ {{{RELAY_DOMAIN} = smtp:[127.0.0.1]:{sink_port}}} }}
# 20 sessions must not be throttled, 200 open sessions must be possible
default_process_limit = 300
maillog_file_prefixes = {self.dir}
maillog_file = {self.maillog}
""")
        with open(os.path.join(self.conf, "master.cf"), "w") as f:
            f.write(f"""# service type private unpriv chroot wakeup maxproc command
127.0.0.1:{self.port} inet n - n - - smtpd
pickup    unix  n       -       n       60      1       pickup
cleanup   unix  n       -       n       -       0       cleanup
qmgr      unix  n       -       n       300     1       qmgr
rewrite   unix  -       -       n       -       -       trivial-rewrite
bounce    unix  -       -       n       -       0       bounce
defer     unix  -       -       n       -       0       bounce
trace     unix  -       -       n       -       0       bounce
verify    unix  -       -       n       -       1       verify
flush     unix  n       -       n       1000?   0       flush
proxymap  unix  -       -       n       -       -       proxymap
proxywrite unix -       -       n       -       1       proxymap
smtp      unix  -       -       n       -       -       smtp
relay     unix  -       -       n       -       -       smtp
showq     unix  n       -       n       -       -       showq
error     unix  -       -       n       -       -       error
retry     unix  -       -       n       -       -       error
discard   unix  -       -       n       -       -       discard
local     unix  -       n       n       -       -       local
virtual   unix  -       n       n       -       -       virtual
lmtp      unix  -       -       n       -       -       lmtp
anvil     unix  -       -       n       -       1       anvil
scache    unix  -       -       n       -       1       scache
postlog   unix-dgram n  -       n       -       1       postlogd
""")

    def postfix(self, *args, check=True):
        return subprocess.run(["/usr/sbin/postfix", "-c", self.conf] + list(args), check=check,
                              capture_output=True, text=True, timeout=60)

    def start(self):
        r = self.postfix("start", check=False)
        if r.returncode != 0:
            raise RuntimeError("postfix start failed: " + r.stdout + r.stderr)
        wait_for(lambda: accepting(self.port), 20, what="postfix smtpd")

    def master_pid(self):
        try:
            with open(os.path.join(self.queue, "pid", "master.pid")) as f:
                return int(f.read().split()[0])
        except (OSError, ValueError, IndexError):
            return None

    def pids(self):
        m = self.master_pid()
        return descendants([m]) if m else []

    def queued(self):
        n = 0
        for q in ("incoming", "active", "deferred", "maildrop"):
            for _, _, files in os.walk(os.path.join(self.queue, q)):
                n += len(files)
        return n

    def relayed_ok(self):
        try:
            with open(self.maillog, errors="replace") as f:
                return len(re.findall(r"relay=127\.0\.0\.1\[127\.0\.0\.1\]:\d+,.*status=sent", f.read()))
        except OSError:
            return 0

    def stop(self):
        pids = self.pids()
        self.postfix("stop", check=False)
        for _ in range(100):
            pids = [p for p in pids if os.path.exists(f"/proc/{p}")]
            if not pids:
                break
            time.sleep(0.1)
        for p in pids:
            try:
                os.kill(p, signal.SIGKILL)
            except ProcessLookupError:
                pass
        subprocess.run(["userdel", self.USER], stderr=subprocess.DEVNULL)


# ---- load -----------------------------------------------------------------------------

def smtp_source(port, sessions, messages, rcpt, sender="bench@bench.example"):
    """Runs smtp-source; returns its wall time in seconds."""
    t0 = time.monotonic()
    r = subprocess.run([SMTP_SOURCE, "-s", str(sessions), "-m", str(messages), "-l", str(MSG_SIZE),
                        "-f", sender, "-t", rcpt, "-M", "source.bench.example", f"127.0.0.1:{port}"],
                       env=TOOL_ENV, capture_output=True, text=True, timeout=DEADLINE)
    elapsed = time.monotonic() - t0
    if r.returncode != 0 or "error" in r.stderr.lower() or "fatal" in r.stderr.lower():
        raise RuntimeError(f"smtp-source failed ({r.returncode}): {r.stderr.strip()[:500]}")
    return elapsed


def wait_new(mta, count, what):
    wait_for(lambda: count_dir(mta.new) >= count, DEADLINE, what=f"{what} ({count} in Maildir/new)")


def settle(mta):
    """Waits until the queue is empty (the last deliveries' clean-up is part of the cost)."""
    try:
        wait_for(lambda: mta.queued() <= mta.stuck, 60, 0.05, what="empty queue")
    except TimeoutError:
        log(f"  {mta.name}: queue not empty after 60 s")


def inbound(mta, sessions, n):
    clear_dir(mta.new)
    pids0 = mta.pids()
    cpu0 = cpu_seconds(pids0)
    t0 = time.monotonic()
    t_acc = smtp_source(mta.port, sessions, n, mta.rcpt)
    wait_new(mta, n, "inbound")
    t_del = time.monotonic() - t0
    settle(mta)
    cpu = cpu_seconds(mta.pids()) - cpu0
    got = count_dir(mta.new)
    return {"accepted_per_s": n / t_acc, "delivered_per_s": n / t_del,
            "cpu_s_per_1000": cpu * 1000 / n, "delivered": got}


def latency(mta, n):
    """Single session, one message at a time, each waited for in Maildir/new."""
    clear_dir(mta.new)
    body = asyncsend.make_body(MSG_SIZE, 0)
    total = 0.0
    for i in range(n):
        t0 = time.monotonic()
        with smtplib.SMTP("127.0.0.1", mta.port, timeout=30) as s:
            s.sendmail("bench@bench.example", [mta.rcpt], body)
        wait_for(lambda: count_dir(mta.new) >= i + 1, 60, 0.0005, what="one delivery")
        total += time.monotonic() - t0
    return total / n * 1000


def single(mta):
    clear_dir(mta.new)
    t = smtp_source(mta.port, 1, N_SINGLE, mta.rcpt)
    wait_new(mta, N_SINGLE, "single session")
    settle(mta)
    return {"accepted_ms": t / N_SINGLE * 1000, "delivered_ms": latency(mta, N_LATENCY)}


def relay(mta, n):
    before = mta.relayed_ok()
    t0 = time.monotonic()
    smtp_source(mta.port, SESSIONS, n, f"sink@{RELAY_DOMAIN}")
    wait_for(lambda: mta.relayed_ok() - before >= n, 300, 0.05, what="relayed to the sink")
    return n / (time.monotonic() - t0)


def relay_works(mta):
    """One message to the sink domain: does it arrive within 20 s?"""
    before = mta.relayed_ok()
    try:
        with smtplib.SMTP("127.0.0.1", mta.port, timeout=30) as s:
            s.sendmail("bench@bench.example", [f"probe@{RELAY_DOMAIN}"], asyncsend.make_body(MSG_SIZE, 0))
        wait_for(lambda: mta.relayed_ok() > before, 20, 0.05, what="probe relayed")
        return None
    except (smtplib.SMTPException, OSError, TimeoutError) as e:
        return f"a probe message to {RELAY_DOMAIN} was not delivered to smtp-sink within 20 s ({e})"


def memory(mta, n_open):
    time.sleep(1)
    idle = pss_kib(mta.pids())
    socks = []
    try:
        for _ in range(n_open):
            s = socket.create_connection(("127.0.0.1", mta.port), timeout=30)
            socks.append(s)
        for s in socks:
            if not s.recv(512).startswith(b"220"):
                raise RuntimeError("no greeting")
        time.sleep(1)
        busy = pss_kib(mta.pids())
        nproc = len(mta.pids())
    finally:
        for s in socks:
            s.close()
    return {"idle_kib": idle, "open_kib": busy, "per_session_kib": (busy - idle) / n_open,
            "processes_open": nproc}


def strace_fsync(mta, n):
    out = os.path.join(WORK, f"strace-{mta.name}.txt")
    pids = mta.pids()
    cmd = ["strace", "-f", "-c", "-q", "-o", out, "-e", "trace=fsync,fdatasync,syncfs,sync,sync_file_range,msync"]
    for p in pids:
        cmd += ["-p", str(p)]
    tr = subprocess.Popen(cmd, stderr=subprocess.DEVNULL)
    try:
        time.sleep(2)   # attach
        clear_dir(mta.new)
        smtp_source(mta.port, SESSIONS, n, mta.rcpt)
        wait_new(mta, n, "strace run")
        settle(mta)
        time.sleep(1)
    finally:
        tr.send_signal(signal.SIGINT)
        tr.wait(60)
    calls = {}
    with open(out) as f:
        for line in f:
            parts = line.split()
            if len(parts) >= 5 and parts[-1] in ("fsync", "fdatasync", "syncfs", "sync", "sync_file_range", "msync"):
                calls[parts[-1]] = int(parts[3])
    total = sum(calls.values())
    return {"per_message": total / n, "calls": calls, "messages": n}


def cross_check(mta, n):
    """The asyncio client sends n messages with 20 sessions; both counts must agree."""
    clear_dir(mta.new)
    r = asyncio.run(asyncsend.run("127.0.0.1", mta.port, SESSIONS, n, MSG_SIZE, "bench@bench.example", mta.rcpt))
    try:
        wait_new(mta, r["accepted"], "asyncsend")
    except TimeoutError:
        pass
    settle(mta)
    time.sleep(0.5)
    r["in_maildir"] = count_dir(mta.new)
    r["agree"] = r["accepted"] == n and r["in_maildir"] == n
    return r


# ---- other figures -----------------------------------------------------------------------

def tcpd_rate():
    """Issue 9: connections/s through couriertcpd to /bin/true vs a plain fork+exec loop."""
    tcpd = os.path.join(BUILDDIR, "tcpd", "couriertcpd")
    if not os.access(tcpd, os.X_OK):
        return {"error": "couriertcpd not built"}
    port = harness.free_port()
    pidf = os.path.join(WORK, "tcpd.pid")
    p = subprocess.Popen([tcpd, f"-pid={pidf}", "-nodnslookup", "-maxprocs=100", "-maxperip=100",
                          f"127.0.0.1.{port}", "/bin/true"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_for(lambda: accepting(port), 10, what="couriertcpd")

        def client(k, counts, n):
            done = 0
            while done < n:
                with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
                    while s.recv(64):
                        pass
                done += 1
            counts[k] = done

        rates = {}
        for conc in (1, 4):
            counts = [0] * conc
            t0 = time.monotonic()
            ts = [threading.Thread(target=client, args=(k, counts, N_CONN // conc)) for k in range(conc)]
            for t in ts:
                t.start()
            for t in ts:
                t.join()
            rates[conc] = sum(counts) / (time.monotonic() - t0)
        tcpd_rate_s = rates[1]
    finally:
        subprocess.run([tcpd, f"-pid={pidf}", "-stop"], capture_output=True, timeout=30)
        try:
            p.wait(10)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait()
    r = subprocess.run([os.path.join(TOOLS, "forkexec"), str(N_CONN), "/bin/true"], capture_output=True,
                       text=True, check=True, timeout=DEADLINE)
    fork_rate = float(r.stdout)
    return {"couriertcpd_conn_per_s": tcpd_rate_s, "couriertcpd_conn_per_s_4_clients": rates[4],
            "fork_exec_per_s": fork_rate, "ratio": tcpd_rate_s / fork_rate}


SCALE_QUEUEHI = 1000   # the in-memory bound of the large-queue measurement


def scheduler_scale(sink_port):
    """courierd start-up time and dispatch rate with a small and a large queue."""
    tool = os.path.join(SRCDIR, "bench", "make-spool")
    if not os.access(tool, os.X_OK):
        return {"missing": "bench/make-spool (the courierd issue's spool generator) does not exist"}
    out = {}
    for count in SPOOL_SIZES:
        inst = harness.Instance(me="bench.example")
        try:
            inst.write_config("esmtproutes", f"{RELAY_DOMAIN}: [127.0.0.1],{sink_port}\n")
            inst.write_config("queuehi", f"{SCALE_QUEUEHI}\n")   # issue 5: queuehi=1000
            log(f"[ours] scheduler scale: make-spool {count}")
            t0 = time.monotonic()
            subprocess.run([tool, "--spool", inst.path("spool"), "--count", str(count),
                            "--rcpt", f"sink@{RELAY_DOMAIN}", "--size", str(MSG_SIZE)],
                           check=True, timeout=DEADLINE, stdout=subprocess.DEVNULL)
            made = time.monotonic() - t0
            want = min(count, N_DISPATCH)

            def dispatched():
                return inst.log_text().count("delivery id=")

            t0 = time.monotonic()
            inst.run("sbin/courier", "start")
            wait_for(lambda: dispatched() >= 1, DEADLINE, 0.005, what="first dispatch")
            t_first = time.monotonic() - t0
            wait_for(lambda: dispatched() >= want, DEADLINE, 0.02, what=f"{want} dispatches")
            t_all = time.monotonic() - t0
            pids = inst.courierd_pids()
            rss = 0
            for p in pids:
                try:
                    with open(f"/proc/{p}/status") as f:
                        rss += next(int(line.split()[1]) for line in f if line.startswith("VmRSS:"))
                except (OSError, StopIteration):
                    pass
            out[str(count)] = {"make_spool_s": made, "startup_s": t_first, "dispatched": want,
                               "queuehi": SCALE_QUEUEHI,
                               # courierd's own count of messages held (its scan log lines):
                               # the bound that keeps memory flat however large the spool.
                               "max_in_memory": max((int(n) for n in re.findall(
                                   r"queue scan in_memory=(\d+)", inst.log_text())), default=0),
                               "dispatch_per_s": (want - 1) / max(t_all - t_first, 1e-6),
                               "courierd_rss_kib": rss, "courierd_pss_kib": pss_kib(pids)}
        finally:
            inst.stop()
    small, large = (out[str(c)] for c in SPOOL_SIZES)
    out["dispatch_ratio_large_to_small"] = large["dispatch_per_s"] / small["dispatch_per_s"]
    out["startup_ratio_large_to_small"] = large["startup_s"] / small["startup_s"]
    out["module"] = "esmtp (recipients in a domain routed to smtp-sink)"
    return out


def machine():
    cpu = ""
    with open("/proc/cpuinfo") as f:
        for line in f:
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    with open("/proc/meminfo") as f:
        mem = f.readline().split()[1]
    fs = subprocess.run(["df", "-T", WORK], capture_output=True, text=True).stdout.splitlines()[-1].split()[1]
    pfv = subprocess.run(["/usr/sbin/postconf", "-d", "-h", "mail_version"], capture_output=True,
                         text=True).stdout.strip() if os.path.exists("/usr/sbin/postconf") else ""
    return {"cpu": cpu, "cores": os.cpu_count(), "mem_gib": round(int(mem) / 1048576, 1),
            "kernel": platform.release(), "filesystem": fs, "postfix": pfv,
            "python": platform.python_version()}


# ---- the run ------------------------------------------------------------------------------

def stats(values):
    return {"min": min(values), "median": statistics.median(values), "max": max(values), "runs": values}


def each(mtas, what, fn):
    """fn(mta) for every MTA, in turn, so both see the same machine load."""
    out = {}
    for m in mtas:
        log(f"[{m.name}] {what}")
        out[m.name] = fn(m)
    return out


def repeated(mtas, what, fn):
    """REPEATS runs of fn(mta), the MTAs alternating run by run."""
    runs = {m.name: [] for m in mtas}
    for i in range(REPEATS):
        for name, v in each(mtas, f"{what}, run {i + 1}", fn).items():
            runs[name].append(v)
    return runs


def measure(mtas):
    r = {m.name: {} for m in mtas}
    for name, v in each(mtas, f"memory with {N_OPEN} open sessions", lambda m: memory(m, N_OPEN)).items():
        r[name]["memory"] = v
    each(mtas, "warm-up", lambda m: inbound(m, SESSIONS, min(200, N_INBOUND)))
    runs = repeated(mtas, f"inbound {SESSIONS} sessions x {N_INBOUND} messages",
                    lambda m: inbound(m, SESSIONS, N_INBOUND))
    for name, rs in runs.items():
        r[name]["inbound_accepted_per_s"] = stats([x["accepted_per_s"] for x in rs])
        r[name]["inbound_delivered_per_s"] = stats([x["delivered_per_s"] for x in rs])
        r[name]["cpu_s_per_1000"] = stats([x["cpu_s_per_1000"] for x in rs])
    runs = repeated(mtas, "single session", single)
    for name, rs in runs.items():
        r[name]["single_accepted_ms"] = stats([x["accepted_ms"] for x in rs])
        r[name]["single_delivered_ms"] = stats([x["delivered_ms"] for x in rs])
    for name, v in each(mtas, "cross-check with asyncsend", lambda m: cross_check(m, N_SINGLE)).items():
        r[name]["cross_check"] = v
    working = []
    for m in mtas:
        why = relay_works(m)
        if why:
            time.sleep(1)
            m.stuck = m.queued()
            r[m.name]["relay_per_s"] = {"missing": why}
        else:
            working.append(m)
    for name, rs in repeated(working, f"relay {N_RELAY} messages", lambda m: relay(m, N_RELAY)).items():
        r[name]["relay_per_s"] = stats(rs)
    for name, v in each(mtas, f"strace -f -c, {N_STRACE} messages", lambda m: strace_fsync(m, N_STRACE)).items():
        r[name]["fsync"] = v
    return r


def start_sink():
    port = harness.free_port()
    p = subprocess.Popen([SMTP_SINK, "-u", "nobody", f"127.0.0.1:{port}", "256"], env=TOOL_ENV,
                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    wait_for(lambda: accepting(port), 10, what="smtp-sink")
    return p, port


FIGURES = [
    # key, label, unit, better ("hi" or "lo")
    ("inbound_accepted_per_s", f"inbound {SESSIONS} sessions, accepted", "msg/s", "hi"),
    ("inbound_delivered_per_s", f"inbound {SESSIONS} sessions, delivered", "msg/s", "hi"),
    ("single_accepted_ms", "single session, accepted", "ms/msg", "lo"),
    ("single_delivered_ms", "single session, delivered (latency)", "ms/msg", "lo"),
    ("relay_per_s", "relay to smtp-sink", "msg/s", "hi"),
    ("cpu_s_per_1000", "CPU per 1000 delivered", "s", "lo"),
]


def fmt(v):
    return f"{v:.3g}" if abs(v) < 100 else f"{v:.0f}"


def table(res):
    lines = []
    o, p = res["ours"], res.get("postfix", {})
    lines.append(f"{'figure':42} {'unit':7} {'ours min/med/max':26} {'postfix min/med/max':26} ours/pf")
    for key, label, unit, _ in FIGURES:
        def cell(r):
            v = r.get(key)
            if not v:
                return "-", None
            if "missing" in v:
                return "n/a", None
            return f"{fmt(v['min'])}/{fmt(v['median'])}/{fmt(v['max'])}", v["median"]
        oc, om = cell(o)
        pc, pm = cell(p)
        ratio = f"{om / pm:.2f}" if om is not None and pm else "-"
        lines.append(f"{label:42} {unit:7} {oc:26} {pc:26} {ratio}")
    for label, f in (("PSS idle, all processes", "idle_kib"), (f"PSS with {N_OPEN} open sessions", "open_kib"),
                     ("PSS per open session", "per_session_kib")):
        ov, pv = o["memory"][f], p.get("memory", {}).get(f)
        lines.append(f"{label:42} {'KiB':7} {fmt(ov):26} {fmt(pv) if pv else '-':26} "
                     f"{ov / pv if pv else 0:.2f}")
    ov, pv = o["fsync"]["per_message"], p.get("fsync", {}).get("per_message")
    lines.append(f"{'fsync-family calls per message':42} {'calls':7} {fmt(ov):26} "
                 f"{fmt(pv) if pv is not None else '-':26} {ov / pv if pv else 0:.2f}")
    fs = res["fsync_rate"]
    fa, fb = res["fsync_rate_start"], res["fsync_rate_end"]
    lines.append(f"{'durable write cycles/s, 1 / 8 threads':42} {'1/s':7} {fs['1']:.0f} / {fs['8']:.0f} "
                 f"(start {fa['1']:.0f} / {fa['8']:.0f}, end {fb['1']:.0f} / {fb['8']:.0f})")
    for k, v in res["ratios"].items():
        lines.append(f"{k:60} {v:.3f}")
    t = res["tcpd"]
    if "error" not in t:
        lines.append(f"couriertcpd conn/s to /bin/true, 1 client: {t['couriertcpd_conn_per_s']:.0f}, 4 clients: "
                     f"{t['couriertcpd_conn_per_s_4_clients']:.0f}; plain fork+exec loop: {t['fork_exec_per_s']:.0f}/s "
                     f"(ratio 1 client / loop {t['ratio']:.2f})")
    for who in ("ours", "postfix"):
        if who in res:
            c = res[who]["cross_check"]
            lines.append(f"cross-check {who}: asyncsend accepted {c['accepted']}, refused {c['refused']}, "
                         f"errors {c['errors']}, in Maildir {c['in_maildir']}: {'agree' if c['agree'] else 'DISAGREE'}")
    for who in ("ours", "postfix"):
        if who in res and "missing" in res[who]["relay_per_s"]:
            lines.append(f"relay {who}: not available: {res[who]['relay_per_s']['missing']}")
    sc = res["scheduler_scale"]
    if "missing" in sc:
        lines.append(f"scheduler scale: not available: {sc['missing']}")
    else:
        for k in (k for k in sc if k.isdigit()):
            v = sc[k]
            lines.append(f"scheduler, {int(k):>7} queued: start-up {v['startup_s']:.2f} s, "
                         f"{v['dispatch_per_s']:.0f} dispatches/s over {v['dispatched']}, "
                         f"courierd RSS {v['courierd_rss_kib']} KiB")
        lines.append(f"scheduler growth: dispatch rate large/small {sc['dispatch_ratio_large_to_small']:.2f}, "
                     f"start-up large/small {sc['startup_ratio_large_to_small']:.2f}")
    return "\n".join(lines)


def main():
    started = time.monotonic()
    os.makedirs(WORK, exist_ok=True)
    res = {"started": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
           "quick": QUICK, "machine": machine(),
           "sizes": {"inbound": N_INBOUND, "sessions": SESSIONS, "single": N_SINGLE, "latency": N_LATENCY,
                     "relay": N_RELAY, "open_sessions": N_OPEN, "strace": N_STRACE, "message_bytes": MSG_SIZE}}
    log("fsync rate of the spool's filesystem")
    res["fsync_rate"] = fsyncrate_at(WORK)
    sink, sink_port = start_sink()
    mtas = []
    try:
        for cls in (Ours,) if NO_POSTFIX else (Ours, Postfix):
            mtas.append(cls(sink_port))
            mtas[-1].start()
        res.update(measure(mtas))
    finally:
        for m in mtas:
            m.stop()
    try:
        log("couriertcpd connection rate")
        res["tcpd"] = tcpd_rate()
        res["scheduler_scale"] = scheduler_scale(sink_port)
    finally:
        sink.terminate()
        sink.wait(10)
    log("fsync rate again, at the end")
    end = fsyncrate_at(WORK)
    res["fsync_rate_start"] = res["fsync_rate"]
    res["fsync_rate_end"] = end
    res["fsync_rate"] = {k: (v + end[k]) / 2 for k, v in res["fsync_rate"].items()}
    f1 = res["fsync_rate"]["1"]
    o = res["ours"]
    res["ratios"] = {
        "issue 3: single-session accepted msgs/s / fsync(1)": 1000 / o["single_accepted_ms"]["median"] / f1,
        "issue 3: 20-session accepted msgs/s / fsync(1)": o["inbound_accepted_per_s"]["median"] / f1,
        "issue 7: local deliveries/s (MAXDELS=10) / fsync(1)": o["inbound_delivered_per_s"]["median"] / f1,
    }
    if "median" in o["relay_per_s"]:
        res["ratios"]["issue 6: relay msgs/s (20 deliveries) / inbound delivered msgs/s"] = \
            o["relay_per_s"]["median"] / o["inbound_delivered_per_s"]["median"]
    res["seconds"] = time.monotonic() - started
    print(table(res))
    out_dir = os.path.join(SRCDIR, "bench", "results")
    os.makedirs(out_dir, exist_ok=True)
    name = os.path.join(out_dir, datetime.datetime.now().strftime("%Y%m%dT%H%M%S") + ".json")
    with open(name, "w") as f:
        json.dump(res, f, indent=1)
    print(f"results: {name} ({res['seconds']:.0f} s)")


def fsyncrate_at(directory):
    """Cycles/s on the filesystem of the spools (both live under /tmp in this suite)."""
    d = os.path.join(directory, "fsync")
    os.makedirs(d, exist_ok=True)
    secs = 2 if QUICK else 5
    return {str(t): fsyncrate.cycles(d, secs, t) for t in (1, 8)}


if __name__ == "__main__":
    main()
