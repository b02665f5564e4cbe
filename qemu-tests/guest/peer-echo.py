#!/usr/bin/python3
"""An echo server outside the cluster that logs who connects.

    peer-echo.py ADDR PORT LOG

Echoes TCP on ADDR:PORT (a thread per connection) and UDP datagrams on
ADDR:PORT+1, and appends each TCP peer as "tcp ADDR:PORT" and each UDP
datagram's sender as "udp ADDR:PORT" to LOG, one line each: what a host on
the outside sees of connections a back-end opened through the cluster."""

import socket
import sys
import threading


def main():
    addr, port, path = sys.argv[1], int(sys.argv[2]), sys.argv[3]
    log = open(path, "a", buffering=1)
    lock = threading.Lock()

    def note(kind, peer):
        with lock:
            log.write("%s %s:%d\n" % (kind, peer[0], peer[1]))

    def echo(conn, peer):
        note("tcp", peer)
        try:
            while data := conn.recv(4096):
                conn.sendall(data)
        except OSError:
            pass
        conn.close()

    def udp():
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        s.bind((addr, port + 1))
        while True:
            data, peer = s.recvfrom(65535)
            note("udp", peer)
            try:
                s.sendto(data, peer)
            except OSError:
                pass  # a sender this host has no route back to

    threading.Thread(target=udp, daemon=True).start()
    srv = socket.socket()
    srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    srv.bind((addr, port))
    srv.listen(64)
    while True:
        conn, peer = srv.accept()
        threading.Thread(target=echo, args=(conn, peer), daemon=True).start()


main()
