#!/usr/bin/python3
"""A long-lived download through a VIP whose server speaks first.

    download-stream.py serve PORT           the server: to each client, 1 KB
                                            blocks numbered from 0, one every
                                            20 ms, until it goes away
    download-stream.py HOST PORT SECONDS [STOPFILE]
                                            the client: prints "connected
                                            LOCAL_PORT", checks every block
                                            for SECONDS (or until STOPFILE
                                            exists), then prints "ok
                                            BLOCKS MAX_GAP_MS" or "broken
                                            after BLOCKS blocks: WHY"

The client only acknowledges, so after a gateway's death the first packet
the new gateway sees of this connection is the server's."""

import os
import socket
import sys
import threading
import time

BLOCK = 1024


def block(n):
    return (b"%08d" % n) * (BLOCK // 8)


def serve(port):
    srv = socket.socket()
    srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    srv.bind(("0.0.0.0", port))
    srv.listen(16)

    def feed(conn):
        n = 0
        try:
            while True:
                conn.sendall(block(n))
                n += 1
                time.sleep(0.02)
        except OSError:
            conn.close()

    while True:
        threading.Thread(target=feed, args=(srv.accept()[0],), daemon=True).start()


def fetch(host, port, seconds, stop=None):
    s = socket.create_connection((host, port), timeout=5)
    s.settimeout(10)
    print("connected", s.getsockname()[1], flush=True)
    end = time.time() + seconds
    n = 0
    gap = 0.0
    try:
        while time.time() < end and not (stop and os.path.exists(stop)):
            got = b""
            waited = time.time()
            while len(got) < BLOCK:
                chunk = s.recv(BLOCK - len(got))
                if not chunk:
                    raise ConnectionError("closed by the peer")
                got += chunk
            gap = max(gap, time.time() - waited)
            if got != block(n):
                raise ValueError("block %d came altered" % n)
            n += 1
        print("ok", n, "%.0f" % (gap * 1000), flush=True)
    except Exception as e:
        print("broken after", n, "blocks:", type(e).__name__, e, flush=True)


if sys.argv[1] == "serve":
    serve(int(sys.argv[2]))
else:
    fetch(sys.argv[1], int(sys.argv[2]), float(sys.argv[3]), sys.argv[4] if len(sys.argv) > 4 else None)
