#!/usr/bin/python3
"""Short TCP connections through a VIP, opened one after another by several
workers, each checking every byte, until a stop file appears.

    churn.py HOST PORT WORKERS STOPFILE

Each connection sends LINES numbered 1 KB lines to an echo server, one
every 50 ms, checks each comes back intact, and closes. At the end it
prints one line:

    opened N completed N reset N corrupted N unanswered N connect_failed N slowest_connect_ms N

opened: connections established; completed: all lines echoed and closed
cleanly; reset: the connection was reset or closed by the peer midway;
corrupted: a line came back altered; unanswered: an echo did not come
within 10 s; connect_failed: the handshake did not finish within
CONNECT_TIMEOUT (the kernel retransmits the SYN meanwhile);
slowest_connect_ms: the longest handshake that did finish, which is the
takeover gap a new connection saw; the first failure of each
kind, and a count by kind, are printed before that line. Tests run it while they kill
and restart gateways: a connection must not notice beyond a pause."""

import socket
import sys
import threading
import time

LINES = 20
# The kernel sends a SYN again 1, 3, 7 and 15 s after the first. A connection
# opened just as its gateway dies waits for the survivors to take over; under
# TCG a takeover after a self fence took longer than 7 s once (CI), and a 10 s
# budget then failed a handshake whose next SYN was due at 15 s. 20 s leaves
# that last SYN its chance; slowest_connect_ms reports the gap that was seen.
CONNECT_TIMEOUT = 20
counts = {k: 0 for k in ("opened", "completed", "reset", "corrupted", "unanswered", "connect_failed", "slowest_connect_ms")}
lock = threading.Lock()
# Why connections failed to open, by error, for the diagnosis of a failure.
connect_errors = {}
# Failures printed so far by kind, and how many of each are printed.
shown = {}
SHOW_FAILURES = 12


def count(what):
    with lock:
        counts[what] += 1


def one_connection(host, port, worker, n):
    began = time.monotonic()
    try:
        s = socket.create_connection((host, port), timeout=CONNECT_TIMEOUT)
    except OSError as e:
        count("connect_failed")
        why = type(e).__name__
        with lock:
            connect_errors[why] = connect_errors.get(why, 0) + 1
            first = connect_errors[why] == 1
        if first:
            print("connect failed at %.1f: %s %s" % (time.time(), why, e), flush=True)
        return
    took_ms = int((time.monotonic() - began) * 1000)
    opened = time.time()
    i = 0
    with lock:
        counts["opened"] += 1
        counts["slowest_connect_ms"] = max(counts["slowest_connect_ms"], took_ms)
    if took_ms >= 2000:
        print("slow connect at %.1f: %d ms" % (time.time(), took_ms), flush=True)
    s.settimeout(10)
    got = b""
    try:
        for i in range(LINES):
            line = (b"%03d%05d" % (worker, (n * LINES + i) % 100000)) * 128
            s.sendall(line)
            got = b""
            while len(got) < len(line):
                chunk = s.recv(len(line) - len(got))
                if not chunk:
                    raise ConnectionResetError("closed by the peer")
                got += chunk
            if got != line:
                count("corrupted")
                return
            time.sleep(0.05)
        s.close()
        count("completed")
    except socket.timeout:
        count("unanswered")
        failed("unanswered", s, opened, i, len(got))
    except OSError:
        count("reset")
        failed("reset", s, opened, i, len(got))


def tcp_state(s):
    """What the client's TCP knew when it gave up (struct tcp_info): bytes
    it sent and still waits to see acknowledged, its retransmissions and
    backoff, and how long ago data and ACKs last came. An unanswered
    connection with nothing unacknowledged was waiting on the server's side
    alone: no segment of the client's could have reached a gateway."""
    try:
        info = s.getsockopt(socket.IPPROTO_TCP, socket.TCP_INFO, 104)
    except OSError:
        return "no tcp_info"
    import struct
    retransmits, backoff = info[2], info[4]
    rto, unacked = struct.unpack_from("=I", info, 8)[0], struct.unpack_from("=I", info, 24)[0]
    data_recv, ack_recv = struct.unpack_from("=II", info, 52)
    return ("unacked %d segments, retransmits %d, backoff %d, rto %d ms, last data %d ms ago, last ack %d ms ago"
            % (unacked, retransmits, backoff, rto // 1000, data_recv, ack_recv))


def failed(kind, s, opened, line, got=0):
    """Prints the first failures of each kind with when the connection
    opened and failed (wall clock, as the test's round lines), so they can
    be placed against the gateways' deaths, and the client's TCP state."""
    with lock:
        shown[kind] = shown.get(kind, 0) + 1
        if shown[kind] > SHOW_FAILURES:
            return
    try:
        port = s.getsockname()[1]
    except OSError:
        port = 0
    print("%s: client port %d opened at %.2f, failed at %.2f after %d of %d lines (%d bytes of the next echo); %s"
          % (kind, port, opened, time.time(), line, LINES, got, tcp_state(s)), flush=True)


def work(host, port, worker, stopfile):
    n = 0
    while True:
        try:
            open(stopfile).close()
            return
        except OSError:
            pass
        one_connection(host, port, worker, n)
        n += 1


def main():
    host, port, workers, stopfile = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
    threads = [threading.Thread(target=work, args=(host, port, w, stopfile)) for w in range(workers)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    if connect_errors:
        print("connect errors:", " ".join("%s %d" % kv for kv in connect_errors.items()), flush=True)
    print(" ".join("%s %d" % kv for kv in counts.items()), flush=True)


main()
