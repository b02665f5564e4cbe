#!/bin/bash
# A TCP segment met mid-stream at a VIP's owner that has no session for it:
# the node that opened the connection died before its daemon announced the
# session. If the service hashes clients to back-ends, the owner picks the
# back-end every node picks for that client, which is the connection's own,
# and makes the session (counted in picked-up); with any other scheduler
# the back-end cannot be known and the segment goes to the node's stack,
# which resets it (no session, nothing counted). Anyone can send such a
# segment, so the session stays in the handshake stage until the back-end
# answers with anything but a reset, and the back-end's reset (its answer
# to a connection it does not have) ends it. A reset is never picked up:
# it ends what it names. The failover loop shows connections going on
# through such a pick-up; here each case is a single hand-built segment.
#
#   ┌─ ns cl ─────────┐      ┌──────── ns gw ────────────┐      ┌─ ns be1 ─────────┐
#   │ cl0 10.9.0.1/24 ├──────┤ g0 10.9.0.11/24           │      │ e0 10.8.0.2/24   │
#   │ raw ACK / RST   │      │    10.9.0.100/32 (VIP)    │      │ TCP echo :7000   │
#   │                 │      │ b0 10.8.0.1/24  (forward) ├──────┤                  │
#   └─────────────────┘      └───────────────────────────┘      └──────────────────┘
. "$RG_REPO/qemu-tests/lib.sh"

VIP=10.9.0.100
gw() { ctl_in gw "$@"; }
picked_up() { gw status --json | jqr 'get("picked_up")'; }
# session_of PORT: "STAGE BACKEND-PORT" of the session of client port PORT, if any.
session_of() {
  gw sessions --json | jqr '[.[] | select(get("client_port") == ($p | tonumber)) | "\(get("stage")) \(get("backend_port"))"] | join(",")' --arg p "$1"
}
# segment PORT FLAGS: one segment from the client's port PORT to the VIP's service.
segment() { ip netns exec cl python3 "$RG_REPO/qemu-tests/guest/tcpraw.py" 10.9.0.1 "$1" "$VIP" 7000 "$2" 5000 6000; }

load_module
gateway_line be1
tcp_echo be1 7000
gw vip add "$VIP"
gw vip own "$VIP"
gw service add "$VIP" 7000 --scheduler wrr
gw backend add "$VIP" 7000 10.8.0.2:7000

segment 42000 A
sleep 0.5
expect_eq "$(picked_up)" 0 "connections picked up by a wrr service"
expect_eq "$(session_of 42000)" "" "a session made for a mid-stream ACK to a wrr service"

gw service set "$VIP" 7000 --scheduler hash
segment 42001 A
sleep 0.5
expect_eq "$(picked_up)" 1 "connections picked up by a hash service"
# The segment reached the back-end, which has no such connection and
# answered with a reset: the session ended (a stray segment from any host
# must not leave an established, unevictable session behind).
expect_eq "$(session_of 42001)" "reset 7000" "the session of a stray ACK to a hash service after the back-end's reset"

# A spoofed FIN is picked up too, and must not leave a half-closed session
# (never evicted) behind once the back-end answered it with a reset.
segment 42003 FA
sleep 0.5
expect_eq "$(picked_up)" 2 "connections picked up after a FIN"
expect_eq "$(session_of 42003)" "reset 7000" "the session of a stray FIN to a hash service after the back-end's reset"

segment 42002 R
sleep 0.5
expect_eq "$(picked_up)" 2 "connections picked up after a reset"
expect_eq "$(session_of 42002)" "" "a session made for a reset"
