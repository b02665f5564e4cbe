#!/bin/bash
# Without the fix, the parser took a UDP datagram whose header is cut after
# the ports (IPv4 total length 24: 4 of UDP's 8 header bytes) as a flow, so
# pre-routing schedules it and creates a UDP session (never evicted) before
# the rewrite finds the header short (skb_ensure_writable(thoff + 8)) and
# drops the packet. Each such packet holds a session and a back-end count
# for timeout-udp; TCP headers are checked whole, UDP ones are not.
# Expected: no session for a packet that cannot be translated.
#
#   ┌─ ns cl ─────────┐      ┌──────── ns gw ────────────┐      ┌─ ns be1 ─────────┐
#   │ cl0 10.9.0.1/24 ├──────┤ g0 10.9.0.11/24           │      │ e0 10.8.0.2/24   │
#   │ raw IPv4 + 4 B  │      │    10.9.0.100/32 (VIP)    │      │                  │
#   └─────────────────┘      │ b0 10.8.0.1/24  (forward) ├──────┤                  │
#                            └───────────────────────────┘      └──────────────────┘
. "$RG_REPO/qemu-tests/lib.sh"

VIP=10.9.0.100
gw() { ctl_in gw "$@"; }
status_field() { gw status --json | jqr 'get($f)' --arg f "$1"; }

load_module
gateway_line be1
gw vip add "$VIP"
gw vip own "$VIP"
gw service add "$VIP" 9000 --proto udp
gw backend add "$VIP" 9000 --proto udp 10.8.0.2:9000
expect_eq "$(status_field sessions)" 0 "sessions before"

ip netns exec cl python3 - <<'PY'
import socket, struct
src, dst = socket.inet_aton("10.9.0.1"), socket.inet_aton("10.9.0.100")
# IPv4 header (the kernel fills in the checksum and the total length: 24)
# and only the ports of a UDP header: 40000 -> 9000.
ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 24, 0, 0, 64, 17, 0, src, dst)
raw = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_RAW)
for _ in range(3):
    raw.sendto(ip + struct.pack("!HH", 40000, 9000), ("10.9.0.100", 0))
PY
sleep 0.5
echo "after 3 UDP datagrams cut inside their header: sessions $(status_field sessions)"
expect_eq "$(status_field sessions)" 0 "sessions created for datagrams cut inside the UDP header"
