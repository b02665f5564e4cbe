#!/usr/bin/python3
"""A TCP connection on which the back-end speaks next, for a test that
takes the connection's session away from the gateway in between.

    backend-speaks.py server PORT PUSH
    backend-speaks.py client ADDR PORT DONE

The server accepts one connection, answers the client's "hello" with "hi",
then waits until the file PUSH exists and sends "pushed". The client
connects, says "hello", and once it has "hi" prints "ready LOCAL-PORT";
then it prints the next line it receives (or "timeout" after 60 s) and
keeps the connection open until the file DONE exists (30 s at most), so
that the test can look at the session of an open connection.
"""
import os
import socket
import sys
import time


def wait_for(path, seconds):
    deadline = time.monotonic() + seconds
    while not os.path.exists(path) and time.monotonic() < deadline:
        time.sleep(0.05)


def server(port, push):
    srv = socket.socket()
    srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    srv.bind(("0.0.0.0", port))
    srv.listen(1)
    conn, _ = srv.accept()
    reader = conn.makefile("rb")
    if reader.readline() == b"hello\n":
        conn.sendall(b"hi\n")
        wait_for(push, 60)
        conn.sendall(b"pushed\n")
    # Until the client closes (or resets).
    try:
        reader.read()
    except OSError:
        pass


def client(addr, port, done):
    conn = socket.create_connection((addr, port), timeout=60)
    reader = conn.makefile("rb")
    conn.sendall(b"hello\n")
    if reader.readline() != b"hi\n":
        print("no greeting", flush=True)
        return
    print("ready", conn.getsockname()[1], flush=True)
    try:
        print(reader.readline().decode().strip() or "closed", flush=True)
    except socket.timeout:
        print("timeout", flush=True)
    wait_for(done, 30)
    conn.close()


def main():
    if sys.argv[1] == "server":
        server(int(sys.argv[2]), sys.argv[3])
    else:
        client(sys.argv[2], int(sys.argv[3]), sys.argv[4])


if __name__ == "__main__":
    main()
