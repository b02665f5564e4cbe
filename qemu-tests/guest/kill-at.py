#!/usr/bin/env python3
"""kill-at.py FILE BYTES[,BYTES...] kill|link NS:PIDFILE...

Waits until FILE (a download in progress) holds BYTES, then stops the
back-end serving it: the busybox httpd among NS:PIDFILE that has a child
(busybox forks one per connection), by SIGKILL to the child and the server
("kill") or by taking the namespace's link e0 down ("link"). Prints the
namespace and the file's size at that moment. Polls in-process: under TCG a
shell loop forking stat overshot by tens of megabytes. Several sizes stop
a back-end at each, a line each, in one process: a second process started
after the first kill took a second to start under TCG, and a download that
went on meanwhile could be past its size and sent whole by then."""
import os
import signal
import subprocess
import sys
import time


def children_of(pids):
    """The children of each of PIDS, from one pass over /proc: a pass per
    server took long enough under TCG for a server to send its last bytes
    and its child to exit between the size reached and the kill."""
    found = {pid: [] for pid in pids}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as stat:
                # The command may hold spaces: the parent is after the ')'.
                fields = stat.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        parent = int(fields[1])
        if parent in found:
            found[parent].append(int(entry))
    return found


def size(path):
    try:
        return os.stat(path).st_size
    except FileNotFoundError:
        return 0


def main():
    path, how = sys.argv[1], sys.argv[3]
    servers = []
    for spec in sys.argv[4:]:
        ns, pidfile = spec.split(":", 1)
        with open(pidfile) as f:
            servers.append((ns, int(f.read())))
    deadline = time.monotonic() + 120
    for wanted in sys.argv[2].split(","):
        stop_at(path, int(wanted), how, servers, deadline)


def stop_at(path, wanted, how, servers, deadline):
    while size(path) < wanted:
        if os.path.exists(path + ".rc") or time.monotonic() > deadline:
            sys.exit(f"FAIL: the download stopped at {size(path)} bytes, before {wanted}")
        time.sleep(0.002)
    kids_of = children_of([pid for _, pid in servers])
    for ns, pid in servers:
        kids = kids_of[pid]
        if not kids:
            continue
        if how == "kill":
            for victim in kids + [pid]:
                os.kill(victim, signal.SIGKILL)
        else:
            subprocess.run(["ip", "-n", ns, "link", "set", "e0", "down"], check=True)
        print(ns, size(path), flush=True)
        return
    sys.exit(f"FAIL: no back-end serves the download at {size(path)} bytes")


main()
