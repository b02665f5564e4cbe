#!/bin/bash
# Session continuity across a gateway's death: three gateways with a
# ringgated each share the client-side VIP 10.9.0.100 and the back-end's
# gateway address 10.8.0.1 (a VIP without services). Five long-lived TCP
# connections run through the VIP's owner, each checking every byte its
# echo server sends back. The daemons carry each other's sessions over
# the ring into every module; once the peers have them, the owner dies
# (daemon killed, links down). The survivors take both addresses and the
# five connections go on to their end, every byte intact.
#
# The topology is cluster-lib.sh's, with three gateways and one back-end.
. "$RG_REPO/qemu-tests/lib.sh"
. "$RG_REPO/qemu-tests/cluster-lib.sh"

VIP=10.9.0.100
BACKGW=10.8.0.1
CONNECTIONS=5
load_module
cluster_net 3 1 "$VIP"
for n in $GATEWAYS; do ip -n "gw$n" addr add "$BACKGW/32" dev "b$n"; done
ip -n be1 route replace 10.9.0.0/24 via "$BACKGW"
for n in $GATEWAYS; do
  gateway_config "$n" $CL/key "$(printf '[cluster]\n[cluster.settings]\nhold_ms = 600000\n%s\n' "$TCG_FENCES"; service_vips "$VIP"; printf '[[cluster.vips]]\naddr = "%s"\n' "$BACKGW")"
  start_gateway "$n"
done
wait_settled 2 1 2 3
owner=$(owner_of "$VIP" 1)
echo "measured: VIP owner gw$owner, back-end gateway owner gw$(owner_of "$BACKGW" 1)"

for i in $(seq $CONNECTIONS); do
  cl python3 "$RG_REPO/qemu-tests/guest/echo-stream.py" "$VIP" 80 30 >"$CL/stream-$i" &
  eval "stream$i=$!"
done
for i in $(seq $CONNECTIONS); do
  for _ in $(seq 100); do grep -q connected "$CL/stream-$i" && break; sleep 0.1; done
  grep -q connected "$CL/stream-$i" || fail "connection $i did not open: $(cat "$CL/stream-$i")"
done
ports=$(awk '/connected/ {print $2}' "$CL"/stream-* | sort -n | tr '\n' ' ')

# Every peer's module gets the owner's sessions, as the owner's.
synced() {
  ctl_in "gw$1" sessions --json |
    jqr '[.[] | select(get("owner") == $o and get("backend_addr") == "10.8.0.2") | get("client_port")] | sort | map(tostring) | join(" ")' --argjson o "$owner"
}
start=$SECONDS
for n in $GATEWAYS; do
  [ "$n" = "$owner" ] && continue
  deadline=$((SECONDS + 15))
  until [ "$(synced "$n") " = "$ports" ]; do
    [ "$SECONDS" -lt "$deadline" ] || fail "gw$n's module did not get gw$owner's sessions: want '$ports', have '$(synced "$n") '"
    sleep 0.2
  done
done
echo "measured: sessions on every peer within $((SECONDS - start)) s of the connections opening"

# The owner dies while every connection still runs.
sleep 2
if grep -q '^ok\|^broken' "$CL"/stream-*; then fail "a connection ended before the owner died: $(cat "$CL"/stream-*)"; fi
kill_gateway "$owner"
ip -n "gw$owner" link set "g$owner" down
ip -n "gw$owner" link set "b$owner" down
others=$(echo 1 2 3 | tr ' ' '\n' | grep -vx "$owner" | tr '\n' ' ')
# shellcheck disable=SC2086
wait_settled 2 $others
survivor=$(owner_of "$VIP" "$(echo $others | cut -d' ' -f1)")

for i in $(seq $CONNECTIONS); do eval "wait \$stream$i" || true; done
echo "measured: after gw$owner's death: $(for i in $(seq $CONNECTIONS); do tail -1 "$CL/stream-$i" | tr '\n' ';'; done)"
for i in $(seq $CONNECTIONS); do
  grep -q '^ok ' "$CL/stream-$i" || fail "connection $i broke when gw$owner died: $(cat "$CL/stream-$i")"
done
expect_ge "$(ctl_in "gw$survivor" backend list --stats --json | jqr '.[0] | get("packets_in")')" 20 \
  "packets the new owner gw$survivor translated to the back-end"
