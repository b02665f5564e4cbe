#!/bin/bash
# A client ACK that does not acknowledge the back-end's
# SYN-ACK must not establish a session (conntrack checks the ACK against
# the SYN-ACK). A host that sends a SYN from a spoofed source never sees the
# SYN-ACK, but any ACK it sends after it made the session established
# (900 s, never evicted); the back-end's RST answering the bad ACK carries
# the bad ACK's number as its sequence, which does not fit the back-end's
# window, so it ends nothing. Enough such SYN + blind ACK pairs fill the
# table with sessions that carry no connection, and a real client is locked
# out: half-open sessions are meant to be evictable.
# Expected: the blind-ACK sessions stay in `syn`, and a real client connects.
#
#   ┌─ ns cl ─────────┐      ┌──────── ns gw ────────────┐      ┌─ ns be1 ─────────┐
#   │ cl0 10.9.0.1/24 ├──────┤ g0 10.9.0.11/24           │      │ e0 10.8.0.2/24   │
#   │ raw SYN + ACK   │      │    10.9.0.100/32 (VIP)    │      │ TCP echo :7000   │
#   │ (own RSTs cut)  │      │ b0 10.8.0.1/24  (forward) ├──────┤                  │
#   └─────────────────┘      └───────────────────────────┘      └──────────────────┘
. "$RG_REPO/qemu-tests/lib.sh"

VIP=10.9.0.100
MAX=64
FLOWS=72
gw() { ctl_in gw "$@"; }
stages() {
  gw sessions --json | jqr '[.[] | select(get("client_port") >= 41000) | get("stage")] | sort | join(" ")'
}

load_module
gateway_line be1
tcp_echo be1 7000
gw vip add "$VIP"
gw vip own "$VIP"
gw config set --max-sessions $MAX
gw service add "$VIP" 7000
gw backend add "$VIP" 7000 10.8.0.2:7000

# The "spoofed" client never answers the SYN-ACKs it does not expect.
ip netns exec cl nft -f - <<NFT
table inet quiet {
  chain out {
    type filter hook output priority 0;
    tcp sport 41000-41999 tcp flags & rst == rst drop
  }
}
NFT

ip netns exec cl python3 - "$RG_REPO/qemu-tests/guest" $FLOWS <<'PY'
import socket, sys, time
sys.path.insert(0, sys.argv[1])
from tcpraw import segment
flows = int(sys.argv[2])
raw = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_TCP)
raw.bind(("10.9.0.1", 0))
send = lambda port, flags, seq, ack: raw.sendto(
    segment("10.9.0.1", port, "10.9.0.100", 7000, flags, seq, ack), ("10.9.0.100", 0))
for port in range(41000, 41000 + flows):
    send(port, "S", 1000, 0)
time.sleep(1)  # the back-end's SYN-ACKs pass the gateway
for port in range(41000, 41000 + flows):
    send(port, "A", 1001, 777)  # acknowledges nothing the back-end sent
PY
sleep 1

echo "blind-ACK sessions: $(stages | tr ' ' '\n' | sort | uniq -c | tr '\n' ' ')"
established=$(stages | tr ' ' '\n' | grep -c '^established$' || true)
expect_eq "$established" 0 "sessions established by an ACK that acknowledged no SYN-ACK"

# A real client must still get in: half-open sessions give way.
ip netns exec cl python3 -c '
import socket
s = socket.create_connection(("10.9.0.100", 7000), timeout=5)
s.sendall(b"hello")
assert s.recv(64) == b"hello"
' || fail "a real client was locked out by $FLOWS SYN + blind ACK pairs (max-sessions $MAX)"
