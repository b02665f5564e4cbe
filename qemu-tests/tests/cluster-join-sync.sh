#!/bin/bash
# A node that joins takes no VIP before its module holds the cluster's
# session table, and a flood of new sessions while it joins leaves every
# node with the same table.
#
# Two gateways run, one VIP each (the load rule is off): the owner of
# 10.9.0.100 carries three long-lived echo connections, and a client
# floods 10.9.0.101 with new UDP flows (one datagram from each of 6,000
# client ports). While the flood runs, gw3 starts, and the test asks for
# 10.9.0.100 to move to gw3 at once and every 0.2 s after: the cluster
# refuses the move until gw3 has every other member's whole table (each
# member's full announcement after the membership change, counted batch by
# batch, then its end marker). Checked:
# - gw3 took the VIP only after it logged "session table held" for the
#   ring it was in (the refused moves are counted and shown); the moves are
#   asked for through the VIP's owner, so without the rule the first one
#   after gw3 joined is agreed long before the table reaches gw3;
# - the echo connections go on, every byte intact (after the move their
#   packets reach gw3, which sends them on to the old owner);
# - once the flood ends the three tables list the same UDP sessions with
#   the same owner (what the owner holds is what the others imported).
# Shown: how often the ring re-formed meanwhile, and session sync's
# counters (batches dropped or refused on the way, which the full
# announcement at each ring change makes good).
#
# The topology is cluster-lib.sh's, with three gateways and one back-end.
. "$RG_REPO/qemu-tests/lib.sh"
. "$RG_REPO/qemu-tests/cluster-lib.sh"

VIP=10.9.0.100
FLOODVIP=10.9.0.101
FLOWS=6000
load_module
cluster_net 3 1 "$VIP $FLOODVIP"
# A node whose module knows no VIP yet would answer ARP for them as local
# addresses: gw3 gets them once its daemon gave its module the pool.
for vip in $VIPS; do ip -n gw3 addr del "$vip/32" dev g3; done
for n in $GATEWAYS; do
  ctl_in "gw$n" config set --timeout-udp 600 >/dev/null
  gateway_config "$n" $CL/key "$(printf '[cluster]\n[cluster.settings]\nhold_ms = 600000\nmin_imbalance = 1000000000000\n%s\n' "$TCG_FENCES"; service_vips "$VIP"
    printf '[[cluster.vips]]\naddr = "%s"\n[[cluster.vips.services]]\nproto = "udp"\nport = 9000\nbackends = [{ addr = "10.8.0.2:9000" }]\n' "$FLOODVIP")"
done
# The flood's datagrams end at a sink (no port-unreachable errors back).
ip netns exec be1 python3 -c '
import socket
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind(("0.0.0.0", 9000))
while True:
    s.recv(65535)
' &
start_gateway 1
start_gateway 2
wait_settled 2 1 2
old=$(owner_of "$VIP" 1)
flooded=$(owner_of "$FLOODVIP" 1)
[ "$old" != "$flooded" ] || fail "both VIPs on gw$old: $(owners 1)"
ip -n be1 route replace 10.9.0.0/24 via "10.8.0.1$old"

for i in 1 2 3; do
  cl python3 "$RG_REPO/qemu-tests/guest/echo-stream.py" "$VIP" 80 300 "$CL/stop-streams" >"$CL/stream-$i" 2>&1 &
done
for i in 1 2 3; do
  for _ in $(seq 100); do grep -q connected "$CL/stream-$i" && break; sleep 0.1; done
  grep -q connected "$CL/stream-$i" || fail "connection $i did not open: $(cat "$CL/stream-$i")"
done
# The echo connections' sessions first reach gw$flooded, whose table the
# flood fills.
tcp_copies() { ctl_in "gw$1" sessions --json | jqr '[.[] | select(get("proto") == "tcp")] | length'; }
deadline=$((SECONDS + 15))
until [ "$(tcp_copies "$flooded")" = 3 ]; do
  [ "$SECONDS" -lt "$deadline" ] || fail "gw$flooded did not get the echo connections' sessions"
  sleep 0.2
done

# The flood: one datagram to the VIP's UDP service from each client port.
cl python3 - "$FLOWS" >"$CL/flood" 2>&1 <<'PY' &
import socket, sys, time
start = time.time()
for port in range(20000, 20000 + int(sys.argv[1])):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind(("10.9.0.1", port))
    s.sendto(b"x", ("10.9.0.101", 9000))
    s.close()
print("sent %s flows in %.1f s" % (sys.argv[1], time.time() - start), flush=True)
PY
flood=$!
# gw3 joins while the flood runs.
for _ in $(seq 100); do
  [ "$(ctl_in "gw$flooded" status --json | jqr 'get("sessions")')" -ge 1000 ] && break
  sleep 0.1
done
joined_at=$SECONDS
start_gateway 3
deadline=$((SECONDS + 30))
until [ "$(ctl_in gw3 vip list --json | jqr 'length')" = 2 ]; do
  [ "$SECONDS" -lt "$deadline" ] || fail "gw3's daemon did not give its module the VIPs"
  sleep 0.1
done
for vip in $VIPS; do ip -n gw3 addr add "$vip/32" dev g3; done
refused=0
refusal=""
others=""
deadline=$((SECONDS + 90))
# Asked through gw$old, which is in the ring throughout: the first request
# delivered after gw3 joined would be agreed at once.
until out=$(ringgatectl vip move "$VIP" 3 --socket "$CL/ctl-$old" 2>&1); do
  [ "$SECONDS" -lt "$deadline" ] || fail "the VIP never moved to gw3: last answer '$out'"
  case $out in
    *"session table"*) refused=$((refused + 1)); refusal=$out ;;
    *"not a member"*) ;;
    *) others="$others; $((SECONDS - joined_at)) s: $out" ;;
  esac
  sleep 0.2
done
moved_after=$((SECONDS - joined_at))
echo "measured: the move to gw3 was refused $refused times for its session table and accepted ${moved_after} s after gw3 started${refusal:+ (\"$refusal\")}; other answers: ${others:-none}"
deadline=$((SECONDS + 30))
until [ "$(owner_of "$VIP" 1)" = 3 ] && [ "$(module_owned 3)" = "$VIP" ]; do
  [ "$SECONDS" -lt "$deadline" ] || fail "gw3 did not take the VIP: $(owners 1)"
  sleep 0.2
done
# In gw3's log, between the last ring installed before it took the VIP and
# the take: the table held, for that ring's members.
held=$(awk -v vip="taking VIP $VIP" '
  / installed with members / { held = "" }
  /session table held/ { held = $0 }
  index($0, vip) { print (held == "" ? "none" : held); exit }' "$CL/log-3")
case $held in
  *"(members [1, 2, 3])"*) echo "measured: gw3: $held" ;;
  *) fail "gw3 took the VIP before its module held the session table of its ring ($held): $(grep -E 'installed|session table|taking' "$CL/log-3" | tail -8)" ;;
esac

wait "$flood" || fail "the flood failed: $(cat "$CL/flood")"
echo "measured: flood: $(cat "$CL/flood")"
# Every byte of the echo connections, through the move.
sleep 2
touch "$CL/stop-streams"
for i in 1 2 3; do
  for _ in $(seq 200); do grep -q '^ok\|^broken' "$CL/stream-$i" && break; sleep 0.1; done
  grep -q "^ok " "$CL/stream-$i" || fail "connection $i broke: $(cat "$CL/stream-$i")"
done
echo "measured: echo connections: $(tail -qn1 "$CL"/stream-* | tr '\n' ';')"

# udp_table N: gwN's UDP sessions of the VIP as "PORT OWNER BACKEND", sorted.
# From the table's columns (proto client vip backend stage expires owner)
# by awk: a JSON filter over thousands of sessions took the guest seconds
# a table, and the loop below reads three tables a try.
udp_table() {
  ctl_in "gw$1" sessions | awk '$1 == "udp" { split($2, client, ":"); print client[2], $7, $4 }' | sort
}
field() { ctl_in "gw$1" status --json | jqr 'get($f)' --arg f "$2"; }
flood_done=$SECONDS
# Sessions a node dropped from its import queue during the flood come back
# with the owner's next full announcement, which is at most a minute away
# (see session_worker): a slow guest that dropped some after the last
# membership change converges only then (seen in CI: gw3 short of 240 of
# 6,000 at 30 s). The loop ends as soon as the tables agree.
deadline=$((SECONDS + 75))
while :; do
  udp_table "$flooded" >"$CL/table-$flooded"
  same=1
  for n in $GATEWAYS; do
    [ "$n" = "$flooded" ] && continue
    udp_table "$n" >"$CL/table-$n"
    cmp -s "$CL/table-$flooded" "$CL/table-$n" || same=0
  done
  [ "$same" = 1 ] && break
  [ "$SECONDS" -lt "$deadline" ] || fail "the session tables differ: $(for n in $GATEWAYS; do echo "gw$n: $(wc -l <"$CL/table-$n") UDP sessions"; done; for n in $GATEWAYS; do [ "$n" = "$flooded" ] || diff "$CL/table-$flooded" "$CL/table-$n" | head -3; done)"
  sleep 1
done
rows=$(wc -l <"$CL/table-$flooded")
owner=$(awk '{print $2}' "$CL/table-$flooded" | sort -u | tr '\n' ' ')
echo "measured: tables: $rows UDP sessions on every node (owned by gw${owner% }) $((SECONDS - flood_done)) s after the flood ended; rings installed at gw3: $(grep -c 'installed with members' "$CL/log-3")"
for n in $GATEWAYS; do
  echo "measured: gw$n session sync: $(cstatus "$n" | jq -c '.session_sync')"
done
# Datagrams that came while the flooded VIP's owner re-formed the ring
# with the others (the flood loads the guest) found no owner and have no
# session; most must have one.
expect_ge "$rows" $((FLOWS / 2)) "UDP sessions of the flood in the tables"
