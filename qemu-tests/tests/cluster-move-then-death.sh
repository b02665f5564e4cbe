#!/bin/bash
# vm-timeout: 420
# cluster-move-then-death: a VIP and the back-ends' gateway address are
# moved by hand (`vip move`) from the node carrying five long-lived
# connections (three echoes, two downloads), behind a stateful ruleset in
# the tracked mode (as in cluster-sessions); the connections go on through
# their old owner. REVIEW_WAIT s later (35) that old owner dies. The node
# the addresses moved to takes nothing at the death (it holds both
# already), so the conntrack entries it wrote at the move are all it had,
# and those were never refreshed (the connections' packets are sent on to
# the old owner at pre-routing, before this node's conntrack) and expired
# with the sessions' expiry at the move. The module's established timeout
# is cut to REVIEW_EST s (20; default 900) so that this happens within a
# VM test. Every connection must survive: the survivor writes the entries
# of the sessions it adopts from the dead node. Without that (helper-59's
# review, 2026-12-02) 2 and then 3 of the 5 broke, the ruleset dropping
# the back-end's next packet as a new connection.
. "$RG_REPO/qemu-tests/lib.sh"
. "$RG_REPO/qemu-tests/cluster-lib.sh"

VIP=10.9.0.100
BACKGW=10.8.0.1
ECHOES=3
DOWNLOADS=2
CONNECTIONS=$((ECHOES + DOWNLOADS))
EST=${REVIEW_EST:-20}
WAIT=${REVIEW_WAIT:-35}
# The fences must make a death no self fence (on hardware: token loss
# ~30 ms, self fence 100 ms): with a self fence barely above the token-loss
# timeout every survivor fenced itself at a death, released and re-took its
# VIPs, and so rewrote the conntrack entries by accident. TCG_FENCES
# (cluster-lib.sh) keeps that ratio: a 1,000 ms self fence against the
# 250 ms token loss.
FENCES=${REVIEW_FENCES:-$TCG_FENCES}
echo "measured: fences: $(echo $FENCES)"
echo "measured: established timeout $EST s, $WAIT s between the move and the death"
load_module
cluster_net 3 1 "$VIP"
ip netns exec be1 python3 "$RG_REPO/qemu-tests/guest/download-stream.py" serve 9000 &
for n in $GATEWAYS; do
  ctl_in "gw$n" config set --timeout-established "$EST" >/dev/null
  ip -n "gw$n" addr add "$BACKGW/32" dev "b$n"
  stateful_ruleset "gw$n"
done
ip -n be1 route replace 10.9.0.0/24 via "$BACKGW"
for n in $GATEWAYS; do
  gateway_config "$n" $CL/key "$(printf '[cluster]\n[cluster.settings]\nhold_ms = 600000\n%s\n' "$FENCES"; service_vips "$VIP"
    download_lines "$BACKGW")"
  start_gateway "$n"
done
wait_settled 2 1 2 3
old=$(owner_of "$VIP" 1)
if [ "$(owner_of "$BACKGW" 1)" != "$old" ]; then
  ringgatectl vip move "$BACKGW" "$old" --socket "$CL/ctl-$old" >/dev/null
  wait_settled 2 1 2 3
fi
expect_eq "$(owner_of "$BACKGW" 1)" "$old" "the back-end gateway's owner"
echo "measured: module timeouts gw$old: $(ctl_in "gw$old" config show)"

open_streams 300
synced() {
  ctl_in "gw$1" sessions --json |
    jqr '[.[] | select(get("owner") == $o and get("backend_addr") == "10.8.0.2") | get("client_port")] | sort | map(tostring) | join(" ")' --argjson o "$old"
}
for n in $GATEWAYS; do
  [ "$n" = "$old" ] && continue
  deadline=$((SECONDS + 15))
  until [ "$(synced "$n") " = "$ports" ]; do
    [ "$SECONDS" -lt "$deadline" ] || fail "gw$n's module did not get gw$old's sessions: want '$ports', have '$(synced "$n") '"
    sleep 0.2
  done
done

# Both addresses are moved by hand to another node, which from then on
# sends the old connections' packets (both directions) on to gw$old.
others=$(others_than "$old")
new=${others%% *}
ringgatectl vip move "$VIP" "$new" --socket "$CL/ctl-$new" >/dev/null
ringgatectl vip move "$BACKGW" "$new" --socket "$CL/ctl-$new" >/dev/null
wait_settled 2 1 2 3
expect_eq "$(owner_of "$VIP" 1)" "$new" "the VIP's owner after the move"
expect_eq "$(owner_of "$BACKGW" 1)" "$new" "the back-end gateway's owner after the move"
moved_at=$SECONDS
sleep 3
echo "measured: gw$new conntrack entries (dport 9000/8080) 3 s after the move: $(ip netns exec "gw$new" conntrack -L -p tcp 2>/dev/null | grep -c 'dst=10\.8\.0\.2')"
echo "measured: gw$new conntrack after the move: $(ip netns exec "gw$new" conntrack -L -p tcp 2>/dev/null | grep 'dst=10\.8\.0\.2' | awk '{print $3, $5, $6}' | tr '\n' ';')"
grep 'conntrack entries written' "$CL/log-$new" | sed "s/^/measured: gw$new log: /" || true
redirected() { ctl_in "gw$1" status --json | jqr 'get("redirected")'; }
redir0=$(redirected "$new")
while [ $((SECONDS - moved_at)) -lt "$WAIT" ]; do sleep 1; done
if grep -q '^ok\|^broken' "$CL"/stream-*; then fail "a connection ended before the old owner died: $(tail -qn1 "$CL"/stream-* | tr '\n' ';')"; fi
echo "measured: gw$new redirected counter at the move+3s / now: $redir0 / $(redirected "$new")"
ct_before=$(ip netns exec "gw$new" conntrack -L -p tcp 2>/dev/null | grep -c 'dst=10\.8\.0\.2' || true)
echo "measured: gw$new conntrack entries of the back-end just before gw$old's death ($((SECONDS - moved_at)) s after the move): $ct_before"

# The old owner, which still carries every connection, dies.
kill_gateway "$old"
ip -n "gw$old" link set "g$old" down
ip -n "gw$old" link set "b$old" down
# shellcheck disable=SC2086
wait_settled 2 $others
echo "measured: after gw$old's death the VIP is gw$(owner_of "$VIP" "$new")'s, the back-end gateway gw$(owner_of "$BACKGW" "$new")'s"
adopted() {
  ctl_in "gw$1" sessions --json | jqr '[.[] | select(get("owner") == $o and get("backend_addr") == "10.8.0.2")] | length' --argjson o "$new"
}
start=$SECONDS
deadline=$((SECONDS + 15))
until [ "$(adopted "$new")" -ge "$CONNECTIONS" ]; do
  [ "$SECONDS" -lt "$deadline" ] || { echo "measured: gw$new did not adopt: $(ctl_in "gw$new" sessions)"; break; }
  sleep 0.2
done
echo "measured: adopted by gw$new: $(adopted "$new") of $CONNECTIONS within $((SECONDS - start)) s"
sleep 15
ip netns exec "gw$new" conntrack -L -p tcp 2>/dev/null | grep 'dst=10\.8\.0\.2' | sed "s/^/measured: gw$new ct: /" || true
touch "$CL/stop"
for i in $(seq $CONNECTIONS); do eval "wait \$stream$i" || true; done
grep -h 'took VIP\|conntrack entries\|adopted\|releas\|no token\|installed with' "$CL/log-$new" | sed "s/^/measured: gw$new log: /" || true
echo "measured: packets gw$new's ruleset dropped: $(ip netns exec "gw$new" nft -j list counter inet fw dropped | jq '.nftables[1].counter.packets')"
echo "measured: after gw$old's death: $(for i in $(seq $CONNECTIONS); do tail -1 "$CL/stream-$i" | tr '\n' ';'; done)"
bad=0
for i in $(seq $CONNECTIONS); do
  grep -q "^ok " "$CL/stream-$i" || { echo "measured: connection $i broke: $(tail -1 "$CL/stream-$i")"; bad=$((bad + 1)); }
done
summary="gw$new ct entries before the death: $ct_before; gw$new ruleset dropped $(ip netns exec "gw$new" nft -j list counter inet fw dropped | jq '.nftables[1].counter.packets'); streams (3 echoes, 2 downloads): $(for i in $(seq $CONNECTIONS); do tail -1 "$CL/stream-$i" | tr '\n' ';'; done) gw$new log: $(grep -h 'took VIP\|releasing\|adopted\|installed with' "$CL/log-$new" | sed 's/ringgated: //' | tr '\n' ';')"
[ "$bad" = 0 ] || fail "$summary; $bad of $CONNECTIONS connections moved off gw$old by vip move broke when gw$old died $WAIT s after the move"
