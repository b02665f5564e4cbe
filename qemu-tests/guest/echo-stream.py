#!/usr/bin/python3
"""A long-lived TCP connection through a VIP that checks every byte.

    echo-stream.py HOST PORT SECONDS [STOPFILE]

Connects to an echo server at HOST:PORT, prints "connected LOCAL_PORT",
then sends a numbered 1 KB line every 50 ms for SECONDS (or until STOPFILE
exists: a test whose steps take as long as the guest makes them says when
it is done) and checks that
each comes back intact. At the end it prints "ok LINES MAX_GAP_MS" (the
longest wait for an echo), or "broken after LINES lines: WHY". Tests
kill or move the gateway in between; the connection must not notice
beyond a pause."""

import os
import socket
import sys
import time


def main():
    host, port, seconds = sys.argv[1], int(sys.argv[2]), float(sys.argv[3])
    stop = sys.argv[4] if len(sys.argv) > 4 else None
    s = socket.create_connection((host, port), timeout=5)
    s.settimeout(10)
    print("connected", s.getsockname()[1], flush=True)
    end = time.time() + seconds
    n = 0
    gap = 0.0
    try:
        while time.time() < end and not (stop and os.path.exists(stop)):
            line = (b"%08d" % n) * 128
            sent = time.time()
            s.sendall(line)
            got = b""
            while len(got) < len(line):
                chunk = s.recv(len(line) - len(got))
                if not chunk:
                    raise ConnectionError("closed by the peer")
                got += chunk
            if got != line:
                raise ValueError("line %d came back altered" % n)
            gap = max(gap, time.time() - sent)
            n += 1
            time.sleep(0.05)
        print("ok", n, "%.0f" % (gap * 1000), flush=True)
    except Exception as e:
        print("broken after", n, "lines:", type(e).__name__, e, flush=True)


main()
