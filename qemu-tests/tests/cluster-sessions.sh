#!/bin/bash
# Session continuity across a gateway's death, behind a stateful firewall:
# three gateways with a ringgated each share the client-side VIP
# 10.9.0.100 and the back-end's gateway address 10.8.0.1 (a VIP without
# services), each with the common stateful forward ruleset (new connections
# only to the back-end's two ports) and the module's default conntrack mode,
# tracked. Five long-lived TCP connections run through the VIP's owner:
# three whose client speaks (an echo, every byte checked) and two downloads
# whose server speaks and whose client only acknowledges (every block
# checked). The daemons carry each other's sessions over the ring into
# every module; once the peers have them, the owner dies (daemon killed,
# links down). The survivors take both addresses, the new owner writes
# conntrack entries for the sessions it got and adopts them (both survivors
# then list it as their owner), and the five connections go on to their
# end, every byte intact, through the ruleset.
#
# The topology is cluster-lib.sh's, with three gateways and one back-end.
. "$RG_REPO/qemu-tests/lib.sh"
. "$RG_REPO/qemu-tests/cluster-lib.sh"

VIP=10.9.0.100
BACKGW=10.8.0.1
ECHOES=3
DOWNLOADS=2
CONNECTIONS=$((ECHOES + DOWNLOADS))
stateful_streams 240

# The owner dies while every connection still runs.
sleep 2
if grep -q '^ok\|^broken' "$CL"/stream-*; then fail "a connection ended before the owner died: $(cat "$CL"/stream-*)"; fi
kill_gateway "$owner"
ip -n "gw$owner" link set "g$owner" down
ip -n "gw$owner" link set "b$owner" down
others=$(others_than "$owner")
# shellcheck disable=SC2086
wait_settled 2 $others
survivor=$(owner_of "$VIP" "${others%% *}")
echo "measured: after gw$owner's death the VIP is gw$survivor's, the back-end gateway gw$(owner_of "$BACKGW" "$survivor")'s"
# The new owner adopts the dead node's sessions and announces them as its
# own: both survivors list it as their owner (so their copies stay fresh
# for the next failover).
adopted() {
  ctl_in "gw$1" sessions --json | jqr '[.[] | select(get("owner") == $o)] | length' --argjson o "$survivor"
}
start=$SECONDS
for n in $others; do
  deadline=$((SECONDS + 15))
  until [ "$(adopted "$n")" = "$CONNECTIONS" ]; do
    [ "$SECONDS" -lt "$deadline" ] || fail "gw$n does not list gw$survivor as the owner of the $CONNECTIONS sessions: $(ctl_in "gw$n" sessions)"
    sleep 0.2
  done
done
echo "measured: the dead node's sessions owned by gw$survivor on both survivors within $((SECONDS - start)) s of the takeover"

# Some seconds more through the new owner, then the new owner's conntrack,
# while the connections live, has the downloads as the connections they
# are: client to back-end, seen both ways.
sleep 3
ip netns exec "gw$survivor" conntrack -L -p tcp --dport 9000 2>/dev/null >$CL/ct-survivor
touch "$CL/stop"
for i in $(seq $CONNECTIONS); do eval "wait \$stream$i" || true; done
echo "measured: after gw$owner's death: $(for i in $(seq $CONNECTIONS); do tail -1 "$CL/stream-$i" | tr '\n' ';'; done)"
for i in $(seq $CONNECTIONS); do
  grep -q "^ok " "$CL/stream-$i" || fail "connection $i broke when gw$owner died: $(cat "$CL/stream-$i"); all: $(tail -qn1 "$CL"/stream-* | tr "\n" ";")"
done
expect_ge "$(ctl_in "gw$survivor" backend list --stats --json | jqr '[.[] | get("packets_in")] | add')" 20 \
  "packets the new owner gw$survivor translated to the back-ends"
expect_ge "$(grep -c 'src=10\.9\.0\.1 dst=10\.8\.0\.2 .*dport=9000 src=10\.8\.0\.2 dst=10\.9\.0\.1 sport=9000 .*ASSURED' $CL/ct-survivor)" $DOWNLOADS \
  "download connections in gw$survivor's conntrack: $(cat $CL/ct-survivor)"
echo "measured: packets gw$survivor's ruleset dropped: $(ip netns exec "gw$survivor" nft -j list counter inet fw dropped | jq '.nftables[1].counter.packets')"
