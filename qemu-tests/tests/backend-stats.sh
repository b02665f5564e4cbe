#!/bin/bash
# Each back-end's traffic counters (`backend list --stats`, the dump's
# conns/packets/bytes): exact connection counts under unequal weights,
# bytes each way that match what was sent, kept across a table resize, and
# restarted when a back-end takes a slot anew, where the previous
# back-end's surviving sessions (down policy "keep") must not count.
#
#   ┌─ ns cl ─────────┐      ┌──────── ns gw ────────────┐      ┌─ ns back ─ br1 ─┐
#   │ cl0 10.9.0.1/24 ├──────┤ g0 10.9.0.11/24           │      │ be1 10.8.0.2    │
#   └─────────────────┘      │    10.9.0.100/32 (VIP)    │      │ be2 10.8.0.3    │
#                            │ b0 10.8.0.1/24  (forward) ├──────┤ TCP echo :7000  │
#                            └───────────────────────────┘      └─────────────────┘
. "$RG_REPO/qemu-tests/lib.sh"

VIP=10.9.0.100
gw() { ctl_in gw "$@"; }
# stat BACKEND FIELD: one counter of back-end BACKEND (10.8.0.x) of :7000.
stat() {
  gw backend list --stats --json |
    jq -e --arg b "$1" --arg f "$2" '.[] | select(.port == 7000 and .backend_addr == $b) | .[$f]' ||
    fail "no counters for back-end $1"
}

load_module
gateway_backends 2
tcp_echo be1 7000
tcp_echo be2 7000
gw vip add "$VIP"
gw vip own "$VIP"
gw service add "$VIP" 7000 --scheduler wrr
gw backend add "$VIP" 7000 10.8.0.2:7000 --weight 3
gw backend add "$VIP" 7000 10.8.0.3:7000 --weight 1

# 40 connections, each echoing 1000 bytes: wrr gives 30 and 10.
ip netns exec cl python3 - <<'PY'
import socket
for _ in range(40):
    c = socket.create_connection(("10.9.0.100", 7000), timeout=10)
    c.sendall(b"x" * 1000)
    got = b""
    while len(got) < 1000:
        got += c.recv(4096)
    c.close()
PY
sleep 0.5  # the last FINs and ACKs
expect_eq "$(stat 10.8.0.2 conns)" 30 "connections to the weight-3 back-end"
expect_eq "$(stat 10.8.0.3 conns)" 10 "connections to the weight-1 back-end"
# Bytes are whole IP packets: the payload plus at most 80 bytes of headers a
# packet (IP, TCP and its options).
for b in 10.8.0.2:30 10.8.0.3:10; do
  addr=${b%:*} n=${b#*:}
  for way in in out; do
    packets=$(stat "$addr" packets_$way) bytes=$(stat "$addr" bytes_$way)
    echo "$addr $way: $packets packets, $bytes bytes"
    # At least SYN or SYN-ACK, data, FIN and an ACK per connection.
    expect_ge "$packets" $((4 * n)) "packets $way of $addr"
    expect_ge "$bytes" $((1000 * n)) "bytes $way of $addr"
    [ "$bytes" -le $((1000 * n + 80 * packets)) ] || fail "$bytes bytes $way of $addr: more than sent"
  done
done
# The table form carries the same numbers, one token a cell.
gw backend list --stats | awk '$4 == "10.8.0.2" && $6 == 30 {found = 1} END {exit !found}' ||
  fail "backend list --stats: $(gw backend list --stats)"

# A resize moves the sessions to a new table; the counters move with them.
before=$(stat 10.8.0.2 bytes_in)
gw config set --max-sessions 4096
expect_eq "$(stat 10.8.0.2 bytes_in)" "$before" "bytes after a resize"

# Four lasting connections (wrr puts one on 10.8.0.3); then 10.8.0.3 is
# removed and added again: its slot starts over, and the old connection,
# which goes on under the "keep" policy, counts toward neither.
rm -f /tmp/open /tmp/talk /tmp/talked
ip netns exec cl python3 - <<'PY' &
import os, socket, time
conns = [socket.create_connection(("10.9.0.100", 7000), timeout=10) for _ in range(4)]
open("/tmp/open", "w").close()
while not os.path.exists("/tmp/talk"):
    time.sleep(0.05)
for c in conns:
    c.sendall(b"y" * 500)
    got = b""
    while len(got) < 500:
        got += c.recv(4096)
open("/tmp/talked", "w").close()
time.sleep(60)
PY
for _ in $(seq 100); do [ -e /tmp/open ] && break; sleep 0.1; done
[ -e /tmp/open ] || fail "the lasting connections did not open"
expect_eq "$(gw sessions --json | jq '[.[] | select(.backend_addr == "10.8.0.3" and .stage == "established")] | length')" 1 \
  "lasting connections to 10.8.0.3"
gw backend del "$VIP" 7000 10.8.0.3:7000
gw backend add "$VIP" 7000 10.8.0.3:7000
expect_eq "$(stat 10.8.0.3 conns)" 0 "connections of a back-end added again"
in_before=$(stat 10.8.0.2 bytes_in)
touch /tmp/talk
for _ in $(seq 100); do [ -e /tmp/talked ] && break; sleep 0.1; done
[ -e /tmp/talked ] || fail "the lasting connections did not echo"
expect_eq "$(stat 10.8.0.3 packets_in)" 0 "packets of the removed back-end's session counted for its successor"
expect_eq "$(stat 10.8.0.3 bytes_out)" 0 "bytes of the removed back-end's session counted for its successor"
expect_ge "$(stat 10.8.0.2 bytes_in)" $((in_before + 3 * 500)) "bytes of the three connections to 10.8.0.2"

unload_module
