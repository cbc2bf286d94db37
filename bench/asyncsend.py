#!/usr/bin/env python3
"""A second, independent SMTP load client (asyncio), to cross-check smtp-source's counts.

Like smtp-source's default, every message gets its own SMTP session: connect, EHLO,
MAIL, RCPT, DATA, QUIT. `sessions` sessions run at once until `messages` were tried.
Counts the messages that got a 250 after the final dot, and those that did not.

    asyncsend.py HOST PORT SESSIONS MESSAGES SIZE FROM TO   prints one JSON object
"""

import asyncio
import json
import sys
import time


def make_body(size, n):
    head = (f"From: <bench@bench.example>\r\nTo: <rcpt@bench.example>\r\n"
            f"Subject: asyncsend {n}\r\nMessage-ID: <as{n}.{time.time_ns()}@bench.example>\r\n\r\n")
    line = "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789abcdef\r\n"
    body = head
    while len(body) < size:
        body += line
    return body[:size - 2].rstrip("\r\n") + "\r\n"


async def reply(reader):
    """One SMTP reply: its code (multi-line replies joined)."""
    while True:
        line = await reader.readline()
        if not line:
            raise ConnectionError("connection closed")
        if len(line) < 4 or line[3:4] != b"-":
            return int(line[:3])


async def one_message(host, port, sender, rcpt, body):
    reader, writer = await asyncio.open_connection(host, port)
    try:
        if await reply(reader) != 220:
            return False
        for cmd, want in ((b"EHLO asyncsend.bench.example\r\n", 250),
                          (f"MAIL FROM:<{sender}>\r\n".encode(), 250),
                          (f"RCPT TO:<{rcpt}>\r\n".encode(), 250),
                          (b"DATA\r\n", 354)):
            writer.write(cmd)
            if await reply(reader) != want:
                return False
        writer.write(body.encode() + b".\r\n")
        ok = await reply(reader) == 250
        writer.write(b"QUIT\r\n")
        await writer.drain()
        try:
            await asyncio.wait_for(reply(reader), 5)
        except (asyncio.TimeoutError, ConnectionError):
            pass
        return ok
    finally:
        writer.close()


async def run(host, port, sessions, messages, size, sender, rcpt):
    counts = {"accepted": 0, "refused": 0, "errors": 0}
    next_n = 0

    async def worker():
        nonlocal next_n
        while next_n < messages:
            n = next_n
            next_n += 1
            try:
                ok = await asyncio.wait_for(one_message(host, port, sender, rcpt, make_body(size, n)), 60)
                counts["accepted" if ok else "refused"] += 1
            except (OSError, ConnectionError, asyncio.TimeoutError):
                counts["errors"] += 1

    start = time.monotonic()
    await asyncio.gather(*(worker() for _ in range(sessions)))
    counts["seconds"] = time.monotonic() - start
    return counts


def main():
    host, port, sessions, messages, size, sender, rcpt = sys.argv[1:8]
    print(json.dumps(asyncio.run(run(host, int(port), int(sessions), int(messages), int(size),
                                     sender, rcpt))))


if __name__ == "__main__":
    main()
