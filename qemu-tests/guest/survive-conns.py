#!/usr/bin/python3
"""Established TCP connections through a gateway that fails over: how many
go on afterwards.

    survive-conns.py HOST PORT N GO SOURCE

Opens N connections to an echo server at HOST:PORT from address SOURCE,
one after another, and exchanges one byte on each (so each is established
and has passed the gateway both ways). Prints "opened N AT" (AT: epoch
seconds when the last one was open), then waits until the file GO exists
(the benchmark has failed the gateway over meanwhile). Then it sends one
byte on every connection at once and waits up to 20 s for each echo, and
prints one line:

    survived S reset R silent T failed_to_open F

survived: the echo came back; reset: the connection was reset or closed
(a gateway without its state answers a reset, or passes the segment to a
stack that does); silent: no echo within 20 s."""

import os
import selectors
import socket
import sys
import time


def main():
    host, port, n, go, source = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4], sys.argv[5]
    conns, failed = [], 0
    for _ in range(n):
        try:
            s = socket.create_connection((host, port), timeout=5, source_address=(source, 0))
            s.sendall(b"x")
            if s.recv(1) != b"x":
                raise OSError("no echo")
            conns.append(s)
        except OSError:
            failed += 1
    print("opened %d %.3f" % (len(conns), time.time()), flush=True)
    while not os.path.exists(go):
        time.sleep(0.1)
    sel = selectors.DefaultSelector()
    survived = reset = 0
    for s in conns:
        try:
            s.setblocking(False)
            s.send(b"y")
            sel.register(s, selectors.EVENT_READ)
        except OSError:
            reset += 1
    deadline = time.time() + 20
    waiting = len(sel.get_map())
    while waiting and time.time() < deadline:
        for key, _ in sel.select(timeout=max(0.0, deadline - time.time())):
            try:
                data = key.fileobj.recv(1)
            except BlockingIOError:
                continue
            except OSError:
                data = b""
            if data == b"y":
                survived += 1
            else:
                reset += 1
            sel.unregister(key.fileobj)
            waiting -= 1
    print("survived %d reset %d silent %d failed_to_open %d" % (survived, reset, waiting, failed), flush=True)


if __name__ == "__main__":
    main()
