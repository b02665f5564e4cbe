#!/bin/bash
# A session follows its TCP connection from both directions, not from flags
# alone:
# - a SYN and then a bare ACK to a back-end that never answered open
#   nothing: the session stays in the handshake (short timeout, evictable);
# - a reset whose sequence number does not fit the connection (a blind,
#   off-path one) leaves an established session as it is; one that fits
#   resets it;
# - a new SYN from the same client port on a reset (or closed) session opens
#   a new connection: the session starts over in the handshake.
#
#   ┌─ ns cl ─────────┐      ┌──────── ns gw ────────────┐      ┌─ ns be1 ─────────┐
#   │ cl0 10.9.0.1/24 ├──────┤ g0 10.9.0.11/24           │      │ e0 10.8.0.2/24   │
#   │ raw segments    │      │    10.9.0.100/32 (VIP)    │      │ TCP echo :7000   │
#   └─────────────────┘      │ b0 10.8.0.1/24  (forward) ├──────┤                  │
#                            └───────────────────────────┘      └──────────────────┘
#   VIP:7000 -> be1:7000; VIP:7001 -> 10.8.0.99:7001, which nobody answers.
. "$RG_REPO/qemu-tests/lib.sh"

VIP=10.9.0.100
gw() { ctl_in gw "$@"; }

load_module
gateway_line be1
tcp_echo be1 7000
gw vip add "$VIP"
gw vip own "$VIP"
gw service add "$VIP" 7000
gw backend add "$VIP" 7000 10.8.0.2:7000
gw service add "$VIP" 7001
gw backend add "$VIP" 7001 10.8.0.99:7001

# SYN, then a bare ACK, to the silent back-end.
tcpraw 40001 "$VIP" 7001 S 1000 0
expect_eq "$(session 40001 stage)" syn "after the SYN"
tcpraw 40001 "$VIP" 7001 A 1001 777
expect_eq "$(session 40001 stage)" syn "after a bare ACK that no SYN-ACK came before"

# An established connection, held open by a client that talks on cue.
rm -f /tmp/next-step /tmp/client-state
ip netns exec cl python3 -c '
import os, socket, struct, time
TCP_REPAIR, TCP_REPAIR_QUEUE, TCP_QUEUE_SEQ, TCP_SEND_QUEUE = 19, 20, 21, 2
s = socket.create_connection(("10.9.0.100", 7000), timeout=5)
s.sendall(b"hello")
assert s.recv(64) == b"hello"
# The next sequence number this socket sends, read in repair mode.
s.setsockopt(socket.IPPROTO_TCP, TCP_REPAIR, 1)
s.setsockopt(socket.IPPROTO_TCP, TCP_REPAIR_QUEUE, TCP_SEND_QUEUE)
seq = s.getsockopt(socket.IPPROTO_TCP, TCP_QUEUE_SEQ)
s.setsockopt(socket.IPPROTO_TCP, TCP_REPAIR, 0)
with open("/tmp/client-state", "w") as f:
    print(s.getsockname()[1], seq, file=f)
while not os.path.exists("/tmp/next-step"):
    time.sleep(0.1)
s.sendall(b"still here")
with open("/tmp/client-echo", "w") as f:
    print(s.recv(64).decode(), file=f)
time.sleep(30)
' &
for _ in $(seq 100); do [ -s /tmp/client-state ] && break; sleep 0.1; done
read -r port seq </tmp/client-state
expect_eq "$(session "$port" stage)" established "after the handshake"

# A blind reset, half the sequence space away: nothing changes, and the
# connection carries on.
tcpraw "$port" "$VIP" 7000 R $((seq + (1 << 31))) 0
expect_eq "$(session "$port" stage)" established "after a reset that does not fit"
expires=$(session "$port" expires_ms)
expect_ge "$expires" 60000 "established timeout after a blind reset"
touch /tmp/next-step
for _ in $(seq 50); do [ -s /tmp/client-echo ] && break; sleep 0.1; done
expect_eq "$(cat /tmp/client-echo)" "still here" "the connection after a blind reset"

# A reset that fits (the client's own next sequence number) ends it.
read -r port seq </tmp/client-state
tcpraw "$port" "$VIP" 7000 R $((seq + 10)) 0
expect_eq "$(session "$port" stage)" reset "after a reset that fits"

# The client port reused for a new connection: a fresh session, not the
# reset one with its 5 s timeout. The client's kernel still holds the old
# connection on that port and would answer the back-end's SYN-ACK; its
# answers are dropped, so the new session stays in the handshake.
ip netns exec cl nft -f - <<EOF
table inet quiet {
  chain out {
    type filter hook output priority 0;
    tcp sport $port tcp flags != syn drop
  }
}
EOF
tcpraw "$port" "$VIP" 7000 S 123456 0
expect_eq "$(session "$port" stage)" syn "a new SYN on a reset session"
expect_ge "$(session "$port" expires_ms)" 6000 "the new connection's timeout"
