#!/bin/bash
# Without the fix, a client that reconnects from the same port (a new SYN
# with a new ISN) while its first attempt's session is still in the
# handshake gets a working connection whose session never becomes
# established. The new SYN follows the old session to the same back-end,
# but the back-end-side entry still expects the first SYN's ISN + 1, so the
# back-end's SYN-ACK is not recognised; the session keeps the handshake
# timeout (and stays evictable) for the connection's whole life, and an
# idle pause longer than timeout-syn cuts the connection.
# Expected: the session is `established` after the handshake, and the
# connection survives a pause longer than timeout-syn.
#
#   ┌─ ns cl ─────────┐      ┌──────── ns gw ────────────┐      ┌─ ns be1 ─────────┐
#   │ cl0 10.9.0.1/24 ├──────┤ g0 10.9.0.11/24           │      │ e0 10.8.0.2/24   │
#   │ raw SYN, then a │      │    10.9.0.100/32 (VIP)    │      │ TCP echo :7000   │
#   │ socket on :42000│      │ b0 10.8.0.1/24  (forward) ├──────┤ (first SYN cut)  │
#   └─────────────────┘      └───────────────────────────┘      └──────────────────┘
. "$RG_REPO/qemu-tests/lib.sh"

VIP=10.9.0.100
PORT=42000
gw() { ctl_in gw "$@"; }

load_module
gateway_line be1
tcp_echo be1 7000
gw vip add "$VIP"
gw vip own "$VIP"
gw config set --timeout-syn 4
gw service add "$VIP" 7000
gw backend add "$VIP" 7000 10.8.0.2:7000

# The first attempt: its SYN never reaches the server.
ip netns exec be1 nft -f - <<NFT
table inet cut {
  chain in {
    type filter hook input priority 0;
    tcp dport 7000 tcp flags syn drop
  }
}
NFT
tcpraw $PORT "$VIP" 7000 S 1000 0
expect_eq "$(session $PORT stage)" syn "after the first SYN"
ip netns exec be1 nft delete table inet cut

# The second attempt, from the same port, with the kernel's own ISN, within
# timeout-syn of the first.
rm -f /tmp/step /tmp/echo1 /tmp/echo2
ip netns exec cl python3 -c '
import os, socket, time
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("10.9.0.1", 42000))
s.settimeout(5)
s.connect(("10.9.0.100", 7000))
s.sendall(b"hello")
open("/tmp/echo1", "w").write(s.recv(64).decode())
while not os.path.exists("/tmp/step"):
    time.sleep(0.1)
try:
    s.sendall(b"again")
    open("/tmp/echo2", "w").write(s.recv(64).decode())
except OSError as e:
    open("/tmp/echo2", "w").write("error: %s" % e)
' &
for _ in $(seq 50); do [ -s /tmp/echo1 ] && break; sleep 0.1; done
expect_eq "$(cat /tmp/echo1)" hello "the second attempt's first echo"
expect_eq "$(session $PORT stage)" established "the session of a completed handshake"

# Idle longer than timeout-syn (4 s), well within timeout-established.
sleep 6
touch /tmp/step
for _ in $(seq 80); do [ -s /tmp/echo2 ] && break; sleep 0.1; done
expect_eq "$(cat /tmp/echo2 2>/dev/null)" again "the connection after a pause longer than timeout-syn"
