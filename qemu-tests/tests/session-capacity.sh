#!/bin/bash
# The session table holds what it is sized for. Each session's two entries
# go to the emptier of two buckets each; with one bucket per flow, 8-way
# buckets overflowed long before the table was full (UDP flows, which are
# never evicted, were refused with most of the table empty).
# - Three quarters of max-sessions: every flow gets its session.
# - Past max-sessions: the table holds max-sessions (give or take a session
#   per CPU racing the limit), and every flow beyond is a counted refusal.
#
#   ┌─ ns cl ─────────┐      ┌──────── ns gw ────────────┐      ┌─ ns be1 ─────────┐
#   │ cl0 10.9.0.1/24 ├──────┤ g0 10.9.0.11/24           │      │ e0 10.8.0.2/24   │
#   └─────────────────┘      │    10.9.0.100/32 (VIP)    │      │ (no server: the  │
#   one UDP flow per         │ b0 10.8.0.1/24  (forward) ├──────┤  sessions exist  │
#   client port              └───────────────────────────┘      │  all the same)   │
#                                                                └──────────────────┘
. "$RG_REPO/qemu-tests/lib.sh"

VIP=10.9.0.100
MAX=1024
gw() { ctl_in gw "$@"; }
status_field() { gw status --json | jqr 'get($f)' --arg f "$1"; }
# flows FIRST COUNT: one datagram to the VIP from each client port
# FIRST..FIRST+COUNT-1.
flows() {
  ip netns exec cl python3 - "$1" "$2" <<'PY'
import socket, sys
first, count = int(sys.argv[1]), int(sys.argv[2])
for port in range(first, first + count):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind(("10.9.0.1", port))
    s.sendto(b"x", ("10.9.0.100", 9000))
    s.close()
PY
}

load_module
gateway_line be1
gw vip add "$VIP"
gw vip own "$VIP"
gw config set --max-sessions $MAX --timeout-udp 600
gw service add "$VIP" 9000 --proto udp
gw backend add "$VIP" 9000 --proto udp 10.8.0.2:9000

flows 20000 $((MAX * 3 / 4))
sessions=$(status_field sessions)
dropped=$(status_field sessions_dropped)
echo "$((MAX * 3 / 4)) flows into a $MAX-session table: $sessions sessions, $dropped refused"
expect_eq "$dropped" 0 "flows refused at three quarters of max-sessions"
expect_eq "$sessions" $((MAX * 3 / 4)) "sessions at three quarters of max-sessions"

flows 30000 $((MAX / 2))
sessions=$(status_field sessions)
dropped=$(status_field sessions_dropped)
echo "$((MAX * 5 / 4)) flows into a $MAX-session table: $sessions sessions, $dropped refused"
[ "$sessions" -ge $((MAX - 8)) ] && [ "$sessions" -le $((MAX + 2)) ] ||
  fail "$sessions sessions in a table of $MAX after $((MAX * 5 / 4)) flows"
expect_eq "$((sessions + dropped))" $((MAX * 5 / 4)) "every flow either has its session or is a counted refusal"
