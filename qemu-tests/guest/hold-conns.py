#!/usr/bin/python3
"""Many idle TCP connections held open, for the session sync benchmark.

    hold-conns.py serve PORT                 accepts connections and holds
                                             them, reading and discarding
    hold-conns.py connect HOST PORT N STOP [SOURCE]
                                             opens N connections to HOST:PORT
                                             (from address SOURCE if given)
                                             one after another, sends one byte
                                             on each (a third packet from the
                                             client, which IPVS's sync waits
                                             for), prints "opened N AT" (epoch
                                             seconds when the last one was
                                             open), holds them until the file
                                             STOP exists, then closes them

Connections that fail are counted: "opened N AT failed F"."""

import os
import selectors
import socket
import sys
import time


def serve(port):
    sel = selectors.DefaultSelector()
    srv = socket.socket()
    srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    srv.bind(("0.0.0.0", port))
    srv.listen(1024)
    srv.setblocking(False)
    sel.register(srv, selectors.EVENT_READ)
    while True:
        for key, _ in sel.select():
            if key.fileobj is srv:
                try:
                    conn, _ = srv.accept()
                except BlockingIOError:
                    continue
                conn.setblocking(False)
                sel.register(conn, selectors.EVENT_READ)
            else:
                try:
                    data = key.fileobj.recv(4096)
                except OSError:
                    data = b""
                if not data:
                    sel.unregister(key.fileobj)
                    key.fileobj.close()


def connect(host, port, n, stop, source=None):
    conns, failed = [], 0
    for _ in range(n):
        try:
            s = socket.create_connection((host, port), timeout=5,
                                         source_address=(source, 0) if source else None)
            s.sendall(b"x")
            conns.append(s)
        except OSError:
            failed += 1
    print("opened %d %.3f failed %d" % (len(conns), time.time(), failed), flush=True)
    while not os.path.exists(stop):
        time.sleep(0.2)
    for s in conns:
        s.close()


if sys.argv[1] == "serve":
    serve(int(sys.argv[2]))
else:
    connect(sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), sys.argv[5],
            sys.argv[6] if len(sys.argv) > 6 else None)
