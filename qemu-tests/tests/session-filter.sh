#!/bin/bash
# session-filter: a session-get dump narrowed by its request (owner and
# changed-within-ms), as a daemon reads its module between whole reads.
# One gateway (node 1) carries a connection A, and holds a session that node
# 2 announced (imported). Once A has been quiet for a while, a dump of node
# 1's sessions changed within the last second is empty, while node 1's and
# node 2's dumps each list their own. A new connection B is listed as a
# recent change, and A again once it closes. Windows out of
# the spec's range are refused by the policy.
. "$RG_REPO/qemu-tests/lib.sh"

VIP=10.9.0.100
gw() { ctl_in gw "$@"; }
# dump JSON: the client ports of the sessions a session-get dump with the
# request JSON lists, sorted, space-separated. Through one YNL process in
# gw (see ynl_server): started anew for each request, python and the spec
# took about 3 s under TCG, longer than the windows asked for.
dump() {
  local out
  out=$(ynl --dump session-get --json "$1" --output-json) || fail "the dump $1 failed: $out"
  jqr 'map(get("client-port")) | sort | map(tostring) | join(" ")' <<<"$out"
}

load_module
gateway_line be1
ynl_server gw
ip netns exec be1 python3 "$RG_REPO/qemu-tests/guest/hold-conns.py" serve 7000 &
wait_port be1 tcp 7000
gw config set --node-id 1
gw vip add "$VIP"
gw vip own "$VIP"
gw backend add "$VIP" 7000 10.8.0.2:7000

# Connection A, held open.
rm -f /tmp/stop-a /tmp/stop-b
ip netns exec cl python3 "$RG_REPO/qemu-tests/guest/hold-conns.py" connect "$VIP" 7000 1 /tmp/stop-a >/tmp/conn-a &
for _ in $(seq 100); do grep -q opened /tmp/conn-a && break; sleep 0.1; done
grep -q "opened 1 " /tmp/conn-a || fail "connection A did not open: $(cat /tmp/conn-a)"
port_a=$(gw sessions --json | jqr 'map(select(get("owner") == 1)) | .[0] | get("client_port")')

# A session of node 2's, as its daemon would import it.
ynl --do session-import --json "$(printf \
  '{"session": [{"proto": 6, "client-addr": %d, "client-port": 40999, "vip": %d, "vip-port": 7000, "backend-addr": %d, "backend-port": 7000, "stage": 2, "expires-ms": 600000, "owner": 2}]}' \
  $((10 << 24 | 9 << 16 | 0 << 8 | 1)) $((10 << 24 | 9 << 16 | 0 << 8 | 100)) $((10 << 24 | 8 << 16 | 0 << 8 | 2)))" >/tmp/imported ||
  fail "the import of node 2's session was refused: $(cat /tmp/imported)"

expect_eq "$(dump '{}')" "$(printf '%s\n' "$port_a" 40999 | sort | xargs)" "every session"
expect_eq "$(dump '{"owner": 1}')" "$port_a" "node 1's sessions"
expect_eq "$(dump '{"owner": 2}')" "40999" "node 2's sessions"

# A was made and established, and its one byte sent, more than 3 s ago,
# and has been quiet since: no change of node 1's within the last second.
sleep 3
expect_eq "$(dump '{"owner": 1, "changed-within-ms": 1000}')" "" "node 1's changes in the last second, A quiet"
# The window reaches back to A's opening when it is wide enough.
expect_eq "$(dump '{"owner": 1, "changed-within-ms": 3600000}')" "$port_a" "node 1's changes in the last hour"

# Connection B: a change.
ip netns exec cl python3 "$RG_REPO/qemu-tests/guest/hold-conns.py" connect "$VIP" 7000 1 /tmp/stop-b >/tmp/conn-b &
for _ in $(seq 100); do grep -q opened /tmp/conn-b && break; sleep 0.1; done
grep -q "opened 1 " /tmp/conn-b || fail "connection B did not open: $(cat /tmp/conn-b)"
port_b=$(gw sessions --json | jqr 'map(select(get("owner") == 1 and get("client_port") != ($a | tonumber))) | .[0] | get("client_port")' --arg a "$port_a")
# B opened a moment ago, A is older than the window (more than 3 s quiet).
expect_eq "$(dump '{"owner": 1, "changed-within-ms": 2500}')" "$port_b" "node 1's changes just after B opened"

# B quiet for a while, A closes: its FIN is a change again.
sleep 1.5
touch /tmp/stop-a
for _ in $(seq 50); do
  [ "$(gw sessions --json | jqr 'map(select(get("client_port") == ($a | tonumber))) | .[0].stage' --arg a "$port_a")" = closing ] && break
  sleep 0.1
done
recent=$(dump '{"owner": 1, "changed-within-ms": 2000}')
case " $recent " in *" $port_a "*) ;; *) fail "A closed, and node 1's changes in the last 2 s are '$recent', without A ($port_a)" ;; esac
case " $recent " in *" 40999 "*) fail "node 1's changes list node 2's session: '$recent'" ;; esac
# Node 2's session, imported 3 s and more ago, is no change of node 2's now.
expect_eq "$(dump '{"owner": 2, "changed-within-ms": 1000}')" "" "node 2's changes in the last second"

# Out of the spec's range: refused, by the policy.
for bad in 0 3600001; do
  if ynl --dump session-get --json "{\"changed-within-ms\": $bad}" >/tmp/refused 2>&1; then
    fail "a window of $bad ms was taken: $(cat /tmp/refused)"
  fi
  grep -qi "invalid\|range\|error" /tmp/refused || fail "the refusal of $bad ms does not say why: $(cat /tmp/refused)"
done
touch /tmp/stop-b
echo "measured: node 1's dumps: whole [$port_a 40999], own [$port_a], recent after B [$port_b]"
