#!/bin/bash
# A resize copies the sessions into a new table while packets keep changing
# them in the old one; what changed there after a session was copied must
# reach the new table too (the second copy, after the grace period, merges
# it in). Here 400 connections are half-closed by their clients, one every
# few ms, while the table (20400 sessions) is moved from copy to copy
# without pause, the resizing process on one CPU and the client on the
# other: afterwards every connection must be listed as closing (a stale
# copy would keep it established, counted as active, for the 900 s
# established timeout). The back-end never closes its side, so no later
# packet of its own can repair a stale copy.
#
#   ┌─ ns cl ─────────┐      ┌──────── ns gw ────────────┐      ┌─ ns be1 ─────────┐
#   │ cl0 10.9.0.1/24 ├──────┤ g0 10.9.0.11/24           │      │ e0 10.8.0.2/24   │
#   └─────────────────┘      │    10.9.0.100/32 (VIP)    │      │ TCP echo :7000   │
#   400 TCP connections,     │ b0 10.8.0.1/24  (forward) ├──────┤ (no UDP server)  │
#   20000 UDP flows          └───────────────────────────┘      └──────────────────┘
. "$RG_REPO/qemu-tests/lib.sh"

VIP=10.9.0.100
gw() { ctl_in gw "$@"; }

load_module
gateway_line be1
ip netns exec be1 python3 -c '
import socket, threading, time
def echo(conn):
    while data := conn.recv(64):
        conn.sendall(data)
    time.sleep(600)  # half-closed by the client: this side stays open
srv = socket.socket()
srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
srv.bind(("0.0.0.0", 7000))
srv.listen(512)
while True:
    threading.Thread(target=echo, args=(srv.accept()[0],), daemon=True).start()
' &
# Room for the 20400 sessions with some to spare: each entry has two
# buckets to choose from, so at 85 % of max-sessions (68 % of the entries)
# every session fits, whatever the seed (see session-capacity).
gw config set --max-sessions 24000 --timeout-udp 600 --timeout-closing 600
gw vip add "$VIP"
gw vip own "$VIP"
gw service add "$VIP" 9000 --proto udp
gw backend add "$VIP" 9000 --proto udp 10.8.0.2:9000
gw service add "$VIP" 7000
gw backend add "$VIP" 7000 10.8.0.2:7000
ip netns exec cl python3 -c '
import socket
for port in range(20000, 40000):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind(("10.9.0.1", port))
    s.sendto(b"x", ("10.9.0.100", 9000))
    s.close()
'

# Resizes the table back and forth (max-sessions 24000 and 24001: small
# tables, so a move's time goes into copying the 20400 sessions, not into
# allocating) from one process, back to back, until /tmp/closed exists;
# prints how many moves ended while the connections were being closed.
resize_until_closed() {
  ip netns exec gw taskset -c 0 python3 - <<'PY'
import os, socket, sys, time
sys.path.insert(0, os.environ["RG_REPO"] + "/qemu-tests/guest")
import nlraw
sock = socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, nlraw.NETLINK_GENERIC)
sock.bind((0, 0))
family = nlraw.family_id(sock)
cmd, attr = nlraw.uapi("RINGGATE_CMD_CONFIG_SET"), nlraw.uapi("RINGGATE_A_CONFIG_MAX_SESSIONS")
during = 0
for seq in range(1, 2000):
    _, err = nlraw.request(sock, family, cmd, 1, [nlraw.nla(attr, nlraw.attr("u32", 24000 + seq % 2))], seq)
    assert err == 0, err
    if seq == 1:
        open("/tmp/resizing", "w").close()
    elif os.path.exists("/tmp/closed"):
        break
    elif os.path.exists("/tmp/close-now"):
        during += 1
print(during)
PY
}

# 400 connections, established; then half-closed one every few ms (so the
# closing spans several moves) while the table is moved from one copy to the
# next without pause. Each move has a window (after a session's bucket is copied, before the new
# table is in use) in which a FIN changes only the old table; with the
# moves back to back, many of the FINs land in one.
rm -f /tmp/close-now /tmp/opened /tmp/closed /tmp/resizing
ip netns exec cl taskset -c 1 python3 - <<'PY' &
import os, socket, time
conns = []
for _ in range(400):
    c = socket.create_connection(("10.9.0.100", 7000), timeout=5)
    c.sendall(b"hi")
    assert c.recv(64) == b"hi"
    conns.append(c)
open("/tmp/opened", "w").close()
while not os.path.exists("/tmp/close-now"):
    time.sleep(0.005)
for c in conns:
    c.shutdown(socket.SHUT_WR)
    time.sleep(0.003)
open("/tmp/closed", "w").close()
time.sleep(600)
PY
for _ in $(seq 600); do [ -e /tmp/opened ] && break; sleep 0.1; done
# stages: "ESTABLISHED CLOSING", how many of the VIP's :7000 sessions are
# in each stage, from one dump. From the table's columns (proto client vip
# backend stage ...) by awk: the JSON of the 20400 sessions, which gojq
# then parsed, took the guest seconds a dump.
stages() {
  gw sessions | awk '$3 ~ /:7000$/ {n[$5]++} END {printf "%d %d\n", n["established"], n["closing"]}'
}
read -r established _ <<<"$(stages)"
expect_eq "$established" 400 "established connections"
resize_until_closed >/tmp/moves-during &
resizer=$!
for _ in $(seq 300); do [ -e /tmp/resizing ] && break; sleep 0.1; done
touch /tmp/close-now
wait "$resizer" || fail "the resizes failed"
[ -e /tmp/closed ] || fail "the connections were not half-closed"
moves=$(cat /tmp/moves-during)
echo "$moves moves ended while the connections were being closed"
[ "$moves" -ge 1 ] || fail "no move overlapped the closing: the test did not test anything"
# The last FINs reach the gateway: a poll of what a fixed second waited
# for, at most 3 s (a stale copy stays established: no packet repairs it).
deadline=$((SECONDS + 3))
while :; do
  read -r established closing <<<"$(stages)"
  [ "$established $closing" != "0 400" ] && [ "$SECONDS" -lt "$deadline" ] || break
  sleep 0.2
done
echo "after the resizes: $established of 400 half-closed connections still established"
expect_eq "$established" 0 "half-closed connections still established after the resizes"
expect_eq "$closing" 400 "half-closed connections listed as closing"
