#!/bin/bash
# Established connections through a gateway that dies: how many go on,
# ringgate beside IPVS with its own connection sync daemon, in the same VM,
# with the same client, back-end and kill.
#
# Each round a client opens N connections through the VIP's owner, one
# after another, exchanging one byte on each (IPVS's sync threshold of
# three packets is passed), and the owner dies at once after the last one
# opened: its links go down (and, for ringgate, its daemon is killed).
#   - ringgate: two ringgated on the ring (`two_node`, so that the one
#     left serves, as keepalived's backup does); the survivor takes the VIP and
#     the back-ends' gateway address (a VIP without services) after its
#     takeover fence, with the sessions the dead node announced.
#   - IPVS: the same service on both nodes (masquerade), `ipvsadm
#     --start-daemon master` on the owner and `backup` on the other; at the
#     death the survivor gets the VIP and the back-ends' gateway address
#     and sends gratuitous ARP for both, which is what keepalived's VRRP
#     instance does on becoming master (keepalived itself is left out: its
#     detection time is failover-bench's, not this count's).
# Then every connection sends one byte and waits up to 20 s for its echo:
# survived, reset, or silent. Connections whose state had not reached the
# survivor before the death are lost with either; the figure is how many
# that is. The dead node comes back (links up, daemon restarted, IPVS sync
# roles swapped) and the next round kills the new owner.
#
# RG_BENCH_ROUNDS rounds per set-up (default 5), N = RG_BENCH_SYNC_CONNS
# (default 200 here). Asserts nothing; `make bench BENCHES=survival`.
. "$RG_REPO/qemu-tests/lib.sh"
. "$RG_REPO/qemu-tests/cluster-lib.sh"
set +e
trap - ERR

ROUNDS=${RG_BENCH_ROUNDS:-5}
N=${RG_BENCH_SYNC_CONNS:-200}
VIP=10.9.0.100
BACKGW=10.8.0.1
IPVS_VIP=10.9.0.200
IPVS_BACKGW=10.8.0.254
say() { echo "survival-bench: $*"; }
ulimit -n 65536

module_loaded || load_module
cluster_net 2 1 "$VIP"
for n in $GATEWAYS; do
  ip -n "gw$n" addr add "$BACKGW/32" dev "b$n"
  gateway_config "$n" $CL/key "$(printf '[cluster]\n[cluster.settings]\nhold_ms = 600000\ntwo_node = true\n%s\n[[cluster.nodes]]\nid = 1\nweight = 100\n[[cluster.nodes]]\nid = 2\nweight = 100\n' "$TCG_FENCES"; service_vips "$VIP"
    printf '[[cluster.vips]]\naddr = "%s"\n' "$BACKGW")"
  start_gateway "$n"
done
wait_settled 2 1 2
for v in "$VIP" "$BACKGW"; do
  [ "$(owner_of "$v" 1)" = 1 ] || ringgatectl vip move "$v" 1 --socket "$CL/ctl-1" >/dev/null
done
wait_settled 2 1
say "ringgate: both VIPs on gw1"

# Each round's connections come from their own client address, which the
# back-end routes through the set-up's gateway address.
for r in $(seq "$ROUNDS"); do
  ip -n cl addr add "10.9.0.$((40 + r))/24" dev cl0
  ip -n be1 route add "10.9.0.$((40 + r))/32" via "$BACKGW"
  ip -n cl addr add "10.9.0.$((60 + r))/24" dev cl0
  ip -n be1 route add "10.9.0.$((60 + r))/32" via "$IPVS_BACKGW"
done

# open_conns ADDR SOURCE NAME: starts the client; returns once all are open.
open_conns() {
  rm -f "$CL/go-$3" "$CL/conns-$3"
  cl python3 "$RG_REPO/qemu-tests/guest/survive-conns.py" "$1" 80 "$N" "$CL/go-$3" "$2" >"$CL/conns-$3" &
  client=$!
  local deadline=$((SECONDS + 120))
  until [ -s "$CL/conns-$3" ]; do
    [ "$SECONDS" -lt "$deadline" ] || {
      say "$3: the client opened nothing in 120 s; the round does not count"
      kill "$client" 2>/dev/null
      wait "$client" 2>/dev/null
      return 1
    }
    sleep 0.1
  done
}
# probe NAME: lets the client test its connections and waits for its
# verdict (not in a subshell: the client is this shell's child).
probe() {
  touch "$CL/go-$1"
  wait "$client"
}
links() { ip -n "gw$1" link set "g$1" "$2"; ip -n "gw$1" link set "b$1" "$2"; }
: >"$CL/survival"

# ---------------------------------------------------------------- ringgate
for r in $(seq "$ROUNDS"); do
  victim=$(owner_of "$VIP" 1)
  [ -n "$victim" ] || victim=$(owner_of "$VIP" 2)
  survivor=$((3 - victim))
  open_conns "$VIP" "10.9.0.$((40 + r))" "rg$r" || continue
  killed=$(date +%s.%N)
  kill_gateway "$victim"
  links "$victim" down
  deadline=$((SECONDS + 30))
  until [ "$(module_owned "$survivor")" = "$BACKGW $VIP" ]; do
    [ "$SECONDS" -lt "$deadline" ] || {
      say "gw$survivor did not take both VIPs (its module owns '$(module_owned "$survivor")'); its log:"
      grep -v 'one turn' "$CL/log-$survivor" | tail -25
      break
    }
    sleep 0.1
  done
  took=$(python3 -c "import sys, time; print('%.2f' % (time.time() - float(sys.argv[1])))" "$killed")
  probe "rg$r"
  verdict=$(tail -1 "$CL/conns-rg$r")
  say "ringgate round $r: $N connections through gw$victim, killed: $verdict; gw$survivor held both VIPs ${took} s after the kill"
  echo "ringgate $verdict" >>"$CL/survival"
  links "$victim" up
  start_gateway "$victim"
  deadline=$((SECONDS + 60))
  until settled 2 1 2; do
    [ "$SECONDS" -lt "$deadline" ] || { say "gw$victim did not rejoin"; break; }
    sleep 0.2
  done
done
for n in $GATEWAYS; do eval "kill \${pid$n:-} 2>/dev/null"; done

# ---------------------------------------------------------------- IPVS
# IPVS gets a back-end port of its own. The ringgate module stays loaded
# and configured once its daemons are gone (nothing unloads it between
# benches), and :8080 is a back-end of its VIP: a packet from it with no
# session is sent on to the VIP's last owner (see the module's
# `nat::reply_without_session`), so the IPVS replies arriving at gw2 went
# to gw1 and the rounds measured that, not IPVS.
tcp_echo be1 8081
for n in $GATEWAYS; do
  ip netns exec "gw$n" ipvsadm -A -t "$IPVS_VIP:80" -s rr
  ip netns exec "gw$n" ipvsadm -a -t "$IPVS_VIP:80" -r 10.8.0.2:8081 -m
done
# ipvs_master N: gwN holds the addresses and syncs to the other.
ipvs_master() {
  local other=$((3 - $1))
  ip -n "gw$1" addr replace "$IPVS_VIP/32" dev "g$1"
  ip -n "gw$1" addr replace "$IPVS_BACKGW/32" dev "b$1"
  ip netns exec "gw$1" arping -q -U -c 2 -I "g$1" "$IPVS_VIP" &
  ip netns exec "gw$1" arping -q -U -c 2 -I "b$1" "$IPVS_BACKGW" &
  ip netns exec "gw$1" ipvsadm --stop-daemon backup 2>/dev/null
  ip netns exec "gw$other" ipvsadm --stop-daemon master 2>/dev/null
  ip netns exec "gw$1" ipvsadm --start-daemon master --mcast-interface "g$1" --syncid 1
  ip netns exec "gw$other" ipvsadm --start-daemon backup --mcast-interface "g$other" --syncid 1
}
ip netns exec gw1 ipvsadm --start-daemon master --mcast-interface g1 --syncid 1
ip netns exec gw2 ipvsadm --start-daemon backup --mcast-interface g2 --syncid 1
ip -n gw1 addr add "$IPVS_VIP/32" dev g1
ip -n gw1 addr add "$IPVS_BACKGW/32" dev b1
master=1
sleep 1
for r in $(seq "$ROUNDS"); do
  survivor=$((3 - master))
  open_conns "$IPVS_VIP" "10.9.0.$((60 + r))" "ipvs$r" || continue
  links "$master" down
  # What keepalived does on the survivor when it becomes master.
  ip -n "gw$survivor" addr add "$IPVS_VIP/32" dev "g$survivor"
  ip -n "gw$survivor" addr add "$IPVS_BACKGW/32" dev "b$survivor"
  ip netns exec "gw$survivor" arping -q -U -c 2 -I "g$survivor" "$IPVS_VIP" &
  ip netns exec "gw$survivor" arping -q -U -c 2 -I "b$survivor" "$IPVS_BACKGW" &
  synced=$(ip netns exec "gw$survivor" ipvsadm -Lnc | grep -c "ESTABLISHED *10.9.0.$((60 + r)):")
  probe "ipvs$r"
  verdict=$(tail -1 "$CL/conns-ipvs$r")
  say "ipvs round $r: $N connections through gw$master, killed: $verdict; the survivor had $synced of them synced at the kill"
  echo "ipvs $verdict" >>"$CL/survival"
  ip -n "gw$master" addr del "$IPVS_VIP/32" dev "g$master"
  ip -n "gw$master" addr del "$IPVS_BACKGW/32" dev "b$master"
  links "$master" up
  ipvs_master "$survivor"
  master=$survivor
  sleep 1
done
ip netns exec gw1 ipvsadm --stop-daemon master 2>/dev/null
ip netns exec gw2 ipvsadm --stop-daemon master 2>/dev/null
ip netns exec gw1 ipvsadm --stop-daemon backup 2>/dev/null
ip netns exec gw2 ipvsadm --stop-daemon backup 2>/dev/null

total() { awk -v s="$1" '$1 == s {for (i = 2; i < NF; i += 2) t[$i] += $(i + 1)} END {printf "survived %d reset %d silent %d failed_to_open %d", t["survived"], t["reset"], t["silent"], t["failed_to_open"]}' "$CL/survival"; }
. "$RG_REPO/qemu-tests/bench/summary.sh"
short() { awk -v s="$1" '$1 == s {for (i = 2; i < NF; i += 2) t[$i] += $(i + 1)} END {printf "%d of %d, %d reset", t["survived"], t["survived"] + t["reset"] + t["silent"], t["reset"]}' "$CL/survival"; }
summary "connections surviving a death" ringgate "$(short ringgate)"
summary "connections surviving a death" keepalived+IPVS "$(short ipvs)"
say "over $ROUNDS deaths, $N connections each, the owner killed right after the last one opened:"
say "  ringgate: $(total ringgate)"
say "  ipvs sync daemon: $(total ipvs)"
