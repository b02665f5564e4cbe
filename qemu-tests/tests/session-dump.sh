#!/bin/bash
# A dump of thousands of sessions in many parts lists every session exactly
# once (a part that fills mid-bucket resumes at the session that did not
# fit), and a dump that a resize interrupts says so with NLM_F_DUMP_INTR.
#
#   ┌─ ns cl ─────────┐      ┌──────── ns gw ────────────┐      ┌─ ns be1 ─────────┐
#   │ cl0 10.9.0.1/24 ├──────┤ g0 10.9.0.11/24           │      │ e0 10.8.0.2/24   │
#   └─────────────────┘      │    10.9.0.100/32 (VIP)    │      │ (no server: the  │
#   3000 UDP flows,          │ b0 10.8.0.1/24  (forward) ├──────┤  sessions exist  │
#   ports 20000-22999        └───────────────────────────┘      │  all the same)   │
#                                                                └──────────────────┘
. "$RG_REPO/qemu-tests/lib.sh"

VIP=10.9.0.100
FLOWS=3000
gw() { ctl_in gw "$@"; }

load_module
gateway_line be1
gw vip add "$VIP"
gw vip own "$VIP"
gw config set --timeout-udp 600
gw service add "$VIP" 9000 --proto udp
gw backend add "$VIP" 9000 --proto udp 10.8.0.2:9000
ip netns exec cl python3 - $FLOWS <<'PY'
import socket, sys
for port in range(20000, 20000 + int(sys.argv[1])):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind(("10.9.0.1", port))
    s.sendto(b"x", ("10.9.0.100", 9000))
    s.close()
PY

# check_dump: reads a JSON list of sessions on stdin; every client port of
# the flows exactly once, nothing else.
check_dump() {
  jqr '
[.[] | get($key)] as $ports
| (($ports | length) - ($ports | unique | length)) as $dups
| if $dups != 0 then error("\($who): \($dups) sessions listed twice")
  elif ($ports | sort) != [range(20000; 20000 + $flows)]
  then error("\($who): \($ports | length) sessions, expected \($flows)")
  else "\($who): \($ports | length) sessions, each once" end
' --argjson flows "$FLOWS" --arg who "$1" --arg key "$2"
}
# The kernel's YNL client with a small receive buffer: about 40 sessions a part.
ip netns exec gw /usr/bin/python3 "$RG_KSRC/tools/net/ynl/cli.py" --no-schema --spec "$RG_REPO/include/netlink/ringgate.yaml" \
  --dump session-get --output-json --dbg-small-recv 2>/dev/null | check_dump "YNL, small parts" client-port
# Our client (its JSON has the client port as a field of its own).
gw sessions --json | check_dump ringgatectl client_port

# A resize between two parts: the rest of the dump walks the new table, and
# the kernel must flag it. Without a resize, no flag.
quiet=$(ip netns exec gw python3 "$RG_REPO/qemu-tests/guest/dump-raced.py" true)
case "$quiet" in "sessions $FLOWS parts "*" interrupted 0") ;; *) fail "an undisturbed dump: $quiet" ;; esac
raced=$(ip netns exec gw python3 "$RG_REPO/qemu-tests/guest/dump-raced.py" \
  "$RG_REPO/userd/target/release/ringgatectl" config set --max-sessions 32768)
echo "dump raced by a resize: $raced"
case "$raced" in *" interrupted 1") ;; *) fail "a dump across a resize was not flagged: $raced" ;; esac
# The sessions moved into the resized table, and a new dump lists them all.
gw sessions --json | check_dump "ringgatectl after the resize" client_port

# Scans lock only the buckets that may hold an entry (module/occupancy.rs):
# the table's 6,000 entries use thousands of buckets. Short-lived flows
# then use more, and once they expired and the sweep passed, both their
# entries are gone and the table uses exactly the buckets it used before
# (the back-end side of a session is freed once its client side is).
status_of() { gw status --json | jqr 'get($f)' --arg f "$1"; }
before=$(status_of session_buckets_used)
expect_ge "$before" "$FLOWS" "session-table buckets in use for $FLOWS sessions"
gw config set --timeout-udp 1
ip netns exec cl python3 - <<'PY'
import socket
for port in range(30000, 30300):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind(("10.9.0.1", port))
    s.sendto(b"x", ("10.9.0.100", 9000))
    s.close()
PY
expect_ge "$(status_of session_buckets_used)" "$((before + 1))" "buckets in use with 300 more flows"
deadline=$((SECONDS + 30))
until [ "$(status_of sessions)" = "$FLOWS" ] && [ "$(status_of session_buckets_used)" = "$before" ]; do
  [ "$SECONDS" -lt "$deadline" ] || fail "300 expired flows left the table: $(status_of sessions) sessions (expected $FLOWS), $(status_of session_buckets_used) buckets in use (expected $before)"
  sleep 1
done
echo "measured: session-table buckets in use: $before for $FLOWS sessions, the same once 300 more flows expired"
