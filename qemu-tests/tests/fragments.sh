#!/bin/bash
# Fragmented datagrams to a VIP service are translated whole, with no
# conntrack or nftables rule anywhere: only a datagram's first fragment
# carries the ports a session is found by, so the namespace must reassemble
# before ringgate's pre-routing hook. A service turns IPv4 defragmentation on
# in its namespace, as IPVS does.
#
#   ┌─ ns cl ─────────┐      ┌──────── ns gw ────────────┐      ┌─ ns be1 ──────────┐
#   │ cl0 10.9.0.1/24 ├──────┤ g0 10.9.0.11/24           │      │ e0 10.8.0.2/24    │
#   └─────────────────┘      │    10.9.0.100/32 (VIP)    │      │ UDP echo :9000    │
#   4000-byte datagrams      │ b0 10.8.0.1/24  (forward) ├──────┤ (logs lengths)    │
#                            └───────────────────────────┘      └───────────────────┘
. "$RG_REPO/qemu-tests/lib.sh"

VIP=10.9.0.100
gw() { ctl_in gw "$@"; }
defrag_hooks() { ip netns exec gw nft list hooks ip 2>/dev/null | grep -c defrag || true; }

load_module
gateway_line be1
ip netns exec be1 python3 -c '
import socket
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind(("0.0.0.0", 9000))
while True:
    data, peer = s.recvfrom(65535)
    with open("/tmp/be1-lengths", "a") as log:
        print(len(data), flush=True, file=log)
    s.sendto(data, peer)
' &
: >/tmp/be1-lengths

# Nothing in gw asks for reassembly yet (no ruleset, no conntrack user).
expect_eq "$(ip netns exec gw nft list ruleset)" "" "gw has no ruleset"
expect_eq "$(defrag_hooks)" 0 "defrag hooks before any service"

gw vip add "$VIP"
gw vip own "$VIP"
gw service add "$VIP" 9000 --proto udp
gw backend add "$VIP" 9000 --proto udp 10.8.0.2:9000

# Three 4000-byte datagrams (three fragments each on a 1500-byte link): each
# reaches the back-end whole, and its 4000-byte echo (fragmented by the
# back-end, reassembled and translated at gw) comes back from the VIP.
echoed=$(ip netns exec cl python3 -c '
import socket
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.connect(("10.9.0.100", 9000))
s.settimeout(3)
ok = 0
for i in range(3):
    payload = bytes([i]) * 4000
    s.send(payload)
    try:
        if s.recv(65535) == payload:
            ok += 1
    except socket.timeout:
        pass
print(ok)
')
expect_eq "$(sort -u /tmp/be1-lengths | tr '\n' ' ')" "4000 " "datagram lengths at the back-end"
expect_eq "$echoed" 3 "whole echoes from the VIP"
# It is the service that turned reassembly on.
expect_ge "$(defrag_hooks)" 1 "defrag hooks once a service exists"
