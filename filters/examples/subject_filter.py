#!/usr/bin/env python3
# subject_filter.py: an example global mail filter in Python (doc/filters.md), run by
# courierfilter like any other: it refuses mail whose Subject: contains a word listed
# in the config file "subjectfilter" and marks the mail it lets through.
#
# subjectfilter, one rule per line:   reject <word>   or   tempfail <word>
# (in $COURIER_ROOT/etc when COURIER_ROOT is set, else /etc/courier; read per message).
import os
import socket
import sys
import threading
from email.parser import BytesHeaderParser

SOCKET = sys.argv[1] if len(sys.argv) > 1 else os.environ["FILTERSOCKET"]
CONFIG = os.path.join(os.environ["COURIER_ROOT"], "etc") if os.environ.get("COURIER_ROOT") \
    else "/etc/courier"


def rules():
    try:
        with open(os.path.join(CONFIG, "subjectfilter")) as f:
            return [line.split(None, 1) for line in f if len(line.split(None, 1)) == 2]
    except FileNotFoundError:
        return []


def judge(message_path):
    """The answer lines for one message: directives, then the reply."""
    with open(message_path, "rb") as f:
        subject = str(BytesHeaderParser().parse(f).get("Subject", "")).lower()
    for action, word in rules():
        if word.strip().lower() in subject:
            if action == "tempfail":
                return "451 4.7.1 Subject word %s: try later\n" % word.strip()
            return "550 5.7.1 Subject word %s is not welcome here\n" % word.strip()
    return "prepend X-Subject-Filter: passed\n250 Ok\n"


def serve(conn):
    with conn, conn.makefile("rw", encoding="utf-8", errors="replace", newline="\n") as f:
        message_path = f.readline().rstrip("\n")
        f.readline()   # the envelope file: not needed here
        f.readline()   # the empty line that ends the request
        try:
            f.write(judge(message_path))
        except OSError as e:
            f.write("451 4.3.0 Filter cannot read the message: %s\n" % e.strerror)


def main():
    hidden = os.path.join(os.path.dirname(SOCKET), "." + os.path.basename(SOCKET))
    if os.path.exists(hidden):
        os.unlink(hidden)
    server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    server.bind(hidden)
    os.chmod(hidden, 0o660)
    server.listen(16)
    os.rename(hidden, SOCKET)   # only now can submit connect

    def accept_loop():
        while True:
            conn, _ = server.accept()
            threading.Thread(target=serve, args=(conn,), daemon=True).start()

    threading.Thread(target=accept_loop, daemon=True).start()
    sys.stdin.read()            # end of input: courierfilter says stop
    os.unlink(SOCKET)


if __name__ == "__main__":
    main()
