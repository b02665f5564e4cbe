#!/bin/bash
# Skewed load (topology: cluster-lib.sh, three gateways, six VIPs, two per
# node): a client sends UDP traffic to both VIPs of one node and none to the
# others. The cluster measures it through the modules' counters and moves one
# of those VIPs away within a bounded time; then, with the traffic going on,
# nothing moves again (a quiet period counted in the daemons' logs): the
# move evened the two nodes out, and moving either busy VIP again would only
# swap which node is busy.
. "$RG_REPO/qemu-tests/lib.sh"
. "$RG_REPO/qemu-tests/cluster-lib.sh"
QUIET_SECONDS=${RG_BALANCE_QUIET:-30}

load_module
cluster_net 3 1 "10.9.0.100 10.9.0.101 10.9.0.102 10.9.0.103 10.9.0.104 10.9.0.105"
vips_udp() {
  local vip
  for vip in $VIPS; do
    printf '[[cluster.vips]]\naddr = "%s"\n[[cluster.vips.services]]\nproto = "udp"\nport = 9\nbackends = [{ addr = "10.8.0.2:9" }]\n' "$vip"
  done
}
# Short periods, so the test takes seconds; the rules are the defaults'.
for n in $GATEWAYS; do
  gateway_config "$n" $CL/key "$(printf '[cluster]\n[cluster.settings]\nhold_ms = 5000\nbalance_interval_ms = 1000\nmove_period_ms = 5000\n%s\n' "$TCG_FENCES"; vips_udp)"
  start_gateway "$n"
done
wait_settled 6 1 2 3
# The busy node is one with two VIPs or more (with a staggered start the
# first ring's nodes hold them all: a later joiner gets VIPs only by load);
# two of its VIPs get the traffic.
busy_node=$(owners 1 | tr ' ' '\n' | cut -d= -f2 | sort | uniq -c | sort -rn | awk 'NR == 1 {print $2}')
busy=$(owners 1 | tr ' ' '\n' | awk -F= -v n="$busy_node" '$2 == n {print $1}' | head -2 | tr '\n' ' ')
expect_eq "$(wc -w <<<"$busy")" 2 "VIPs of node $busy_node: $(owners 1)"
balancing_moves() { grep -c 'load balancing' "$CL/log-1" || true; }
expect_eq "$(balancing_moves)" 0 "moves before any load"

# About 400 datagrams a second to each of the node's two VIPs (one-way: the
# back-end needs no listener; the modules count what they translate).
ip netns exec cl python3 -c '
import socket, sys, time
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
vips = sys.argv[1].split()
while True:
    start = time.monotonic()
    for _ in range(20):
        for v in vips:
            s.sendto(b"x" * 64, (v, 9))
    time.sleep(max(0, 0.05 - (time.monotonic() - start)))
' "$busy" &
sender=$!
trap 'kill $sender 2>/dev/null; cluster_cleanup' EXIT
started=$SECONDS
deadline=$((SECONDS + 60))
until [ "$(balancing_moves)" -ge 1 ]; do
  [ "$SECONDS" -lt "$deadline" ] || fail "no VIP moved off the busy node in 60 s: $(cstatus 1 | jqr '[.nodes[] | "\(.id):\(.load)"] | join(" ")')"
  sleep 0.5
done
echo "measured: balance: a VIP left the busy node $((SECONDS - started)) s after the load started"
# Settled again, with the busy node keeping one of its two busy VIPs.
wait_settled 6 1 2 3
left=$(owners 1 | tr ' ' '\n' | awk -F= -v n="$busy_node" '$2 == n {print $1}')
kept=0
for vip in $busy; do grep -qx "$vip" <<<"$left" && kept=$((kept + 1)); done
expect_eq "$kept" 1 "busy VIPs still on node $busy_node: $(owners 1)"
moves=$(balancing_moves)
sleep "$QUIET_SECONDS"
kill -0 $sender || fail "the traffic stopped"
expect_eq "$(balancing_moves)" "$moves" "moves in a quiet ${QUIET_SECONDS} s under the same load: $(grep 'load balancing' $CL/log-1)"
echo "measured: balance: $moves move(s) to even out the load, then none in ${QUIET_SECONDS} s"
# The load the cluster balanced on is the modules' count of the traffic.
expect_ge "$(cstatus 1 | jqr '[.vips[].load.packets_per_sec] | add')" 100 "packets/s the cluster sees"
