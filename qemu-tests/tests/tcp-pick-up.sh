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
# The back-end may speak next instead (it answers what the client sent
# before the death, or sends on its own): the client then has nothing to
# send, and the back-end's segments, untranslated, would reach it from the
# back-end's address and be dropped. The owner picks such a segment up the
# same way if the back-end serves that one service and is the back-end the
# hash picks for the segment's destination, and the client's answer, not
# the back-end's segments, confirms the session. Shown with a hand-built
# segment and with a real connection whose session the node lost (its
# back-end went down under the down policy "drop" and came back up). Only
# within 10 s of taking the VIP: a host's own connection straight to the
# back-end's address looks the same, and must work once those seconds
# are over (shown first).
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
# backend_segment PORT FLAGS: one segment from the back-end's service port to the client's port PORT.
backend_segment() { ip netns exec be1 python3 "$RG_REPO/qemu-tests/guest/tcpraw.py" 10.8.0.2 7000 10.9.0.1 "$1" "$2" 6000 5000; }
# settled_after PORT PICKED SESSION WHAT: half a second after a segment of
# client port PORT, the picked-up counter is PICKED and that port's
# session is SESSION ("" for none); WHAT names the case in failures.
settled_after() {
  sleep 0.5
  expect_eq "$(picked_up)" "$2" "connections picked up after $4"
  expect_eq "$(session_of "$1")" "$3" "the session of $4"
}
# until_session PORT WANT: waits (at most 5 s) until session_of PORT says WANT.
until_session() {
  local _
  for _ in $(seq 50); do [ "$(session_of "$1")" = "$2" ] && return 0; sleep 0.1; done
}

load_module
gateway_line be1
tcp_echo be1 7000
gw vip add "$VIP"
gw vip own "$VIP"
taken_at=$SECONDS
gw service add "$VIP" 7000 --scheduler wrr
gw backend add "$VIP" 7000 10.8.0.2:7000

segment 42000 A
settled_after 42000 0 "" "a mid-stream ACK to a wrr service"

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
settled_after 42003 2 "reset 7000" "a stray FIN to a hash service, after the back-end's reset"

segment 42002 R
settled_after 42002 2 "" "a reset"

# A connection from the client straight to the back-end's address and
# service port, through the gateway, once 10 s have passed since the VIP
# was taken: its back-end's data must pass untranslated.
ip -n cl route add 10.8.0.0/24 via 10.9.0.11
while [ $((SECONDS - taken_at)) -lt 11 ]; do sleep 0.2; done
ip netns exec cl timeout 5 bash -c 'exec 3<>/dev/tcp/10.8.0.2/7000 && printf ring >&3 && IFS= read -r -N 4 got <&3 && [ "$got" = ring ]' ||
  fail "no echo on a connection straight to the back-end's service port"
expect_eq "$(picked_up)" 2 "connections picked up from a connection straight to the back-end"

# The back-end sections below take the VIP afresh, so that they fall
# within the 10 s.
retake() { gw vip release "$VIP"; gw vip own "$VIP"; }
retake

# A back-end's segment to a wrr service: nothing to pick up from.
gw service set "$VIP" 7000 --scheduler wrr
backend_segment 42010 A
settled_after 42010 2 "" "a back-end's segment to a wrr service"

# To a hash service: picked up and translated; the client, which has no
# such connection, answers the VIP with a reset, which ends the session.
gw service set "$VIP" 7000 --scheduler hash
backend_segment 42011 A
until_session 42011 "reset 7000"
expect_eq "$(picked_up)" 3 "connections picked up from a back-end's segment to a hash service"
expect_eq "$(session_of 42011)" "reset 7000" "the session of a stray back-end segment after the client's reset"

# A back-end of two services of the VIP: its segment could answer either,
# so it is not picked up.
gw service add "$VIP" 7001 --scheduler hash
gw backend add "$VIP" 7001 10.8.0.2:7000
backend_segment 42012 A
settled_after 42012 3 "" "a back-end's segment of two services"
gw service del "$VIP" 7001

# A real connection on which the back-end speaks next, after the node lost
# its session.
gw config set --down-policy drop
gw service add "$VIP" 7100 --scheduler hash
gw backend add "$VIP" 7100 10.8.0.2:7100
rm -f /tmp/rg-push /tmp/rg-done
ip netns exec be1 python3 "$RG_REPO/qemu-tests/guest/backend-speaks.py" server 7100 /tmp/rg-push &
wait_port be1 tcp 7100
ip netns exec cl python3 "$RG_REPO/qemu-tests/guest/backend-speaks.py" client "$VIP" 7100 /tmp/rg-done >/tmp/rg-speaks.out &
client_pid=$!
for _ in $(seq 100); do grep -q ready /tmp/rg-speaks.out && break; sleep 0.1; done
read -r _ port </tmp/rg-speaks.out
[ -n "$port" ] || fail "the client did not connect: $(cat /tmp/rg-speaks.out)"
until_session "$port" "established 7100"
expect_eq "$(session_of "$port")" "established 7100" "the session of the connection before the loss"
gw backend set "$VIP" 7100 10.8.0.2:7100 --down
expect_eq "$(session_of "$port")" "" "the session after its back-end went down (down policy drop)"
gw backend set "$VIP" 7100 10.8.0.2:7100 --up
retake
touch /tmp/rg-push
for _ in $(seq 600); do [ "$(wc -l </tmp/rg-speaks.out)" -ge 2 ] && break; sleep 0.1; done
expect_eq "$(sed -n 2p /tmp/rg-speaks.out)" "pushed" "what the client received from the back-end after the loss"
expect_eq "$(picked_up)" 4 "connections picked up from the back-end's segment of a real connection"
until_session "$port" "established 7100"
expect_eq "$(session_of "$port")" "established 7100" "the session picked up, once the client answered"
touch /tmp/rg-done
wait "$client_pid"
