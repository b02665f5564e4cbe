#!/bin/bash
# A resize copies the sessions into a new table while packets keep changing
# them in the old one; what changed there after a session was copied must
# reach the new table too. Here 20 connections close one after another
# while 20000 sessions are being moved: afterwards none of them may still be
# listed as established (a stale copy would hold it for the 900 s
# established timeout, counted as active).
#
#   ┌─ ns cl ─────────┐      ┌──────── ns gw ────────────┐      ┌─ ns be1 ─────────┐
#   │ cl0 10.9.0.1/24 ├──────┤ g0 10.9.0.11/24           │      │ e0 10.8.0.2/24   │
#   └─────────────────┘      │    10.9.0.100/32 (VIP)    │      │ TCP echo :7000   │
#   20 TCP connections,      │ b0 10.8.0.1/24  (forward) ├──────┤ (no UDP server)  │
#   20000 UDP flows          └───────────────────────────┘      └──────────────────┘
. "$RG_REPO/qemu-tests/lib.sh"

VIP=10.9.0.100
gw() { ip netns exec gw "$RG_REPO/userd/target/debug/ringgatectl" "$@"; }

load_module
gateway_line be1
ip netns exec be1 python3 -c '
import socket, threading
def echo(conn):
    while data := conn.recv(64):
        conn.sendall(data)
    conn.close()
srv = socket.socket()
srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
srv.bind(("0.0.0.0", 7000))
srv.listen(64)
while True:
    threading.Thread(target=echo, args=(srv.accept()[0],), daemon=True).start()
' &
gw config set --max-sessions 65536 --timeout-udp 600 --timeout-closing 600
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

# How long a move of these sessions takes here (TCG is slow and noisy, so
# the closing below is paced by this run's own measure).
start=$(date +%s%N)
gw config set --max-sessions 131072
move_ms=$(( ($(date +%s%N) - start) / 1000000 ))
echo "moving 20000 sessions took $move_ms ms"

# 20 connections, established; then closed one by one across a resize.
rm -f /tmp/close-now
ip netns exec cl python3 - "$move_ms" <<'PY' &
import os, socket, sys, time
conns = []
for _ in range(20):
    c = socket.create_connection(("10.9.0.100", 7000), timeout=5)
    c.sendall(b"hi")
    assert c.recv(64) == b"hi"
    conns.append(c)
open("/tmp/opened", "w").close()
while not os.path.exists("/tmp/close-now"):
    time.sleep(0.01)
pause = int(sys.argv[1]) / 1000 / 20
for c in conns:
    c.shutdown(socket.SHUT_WR)      # our FIN
    assert c.recv(64) == b""         # the back-end's FIN
    c.close()
    time.sleep(pause)
open("/tmp/closed", "w").close()
PY
rm -f /tmp/closed
for _ in $(seq 100); do [ -e /tmp/opened ] && break; sleep 0.1; done
established=$(gw sessions --json | python3 -c '
import json, sys
print(sum(s["stage"] == "established" for s in json.load(sys.stdin)))
')
expect_eq "$established" 20 "established connections"
touch /tmp/close-now
gw config set --max-sessions 65536
for _ in $(seq 100); do [ -e /tmp/closed ] && break; sleep 0.1; done
[ -e /tmp/closed ] || fail "the connections did not close"
stages=$(gw sessions --json | python3 -c '
import collections, json, sys
print(dict(collections.Counter(s["stage"] for s in json.load(sys.stdin) if s["vip"].endswith(":7000"))))
')
echo "after the resize: $stages"
case "$stages" in *established*) fail "connections closed during the resize are still established: $stages" ;; esac
