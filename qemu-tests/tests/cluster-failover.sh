#!/bin/bash
# Three gateways, each its own ringgated driving its own namespace's module,
# form one cluster from one configuration: they agree on one owner per VIP
# and spread the VIPs, exactly the owner answers ARP for each VIP, and NAT'd
# connections to every VIP reach the back-end. Then:
# - a daemon alone dies (its link stays up): its module stops answering for
#   the node's VIPs when the ownership lease runs out, and the survivors
#   answer instead, never two at once (a client counts responders);
# - the daemon restarts: the node rejoins without taking VIPs from others;
# - a gateway dies (SIGKILL of its daemon, link down): the survivors take
#   its VIPs, the client's ARP cache follows, new connections work; the
#   traffic gap is printed.
#
#   ┌─ ns cl ─────────┐                      ┌─ ns be ─────────────┐
#   │ cl0 10.9.0.1/24 │                      │ e0 10.8.0.2/24      │
#   └───────┬─────────┘                      │ :8080 echo          │
#   ┌───────┴───── ns lan: br0 (clients) ─┐  └──────┬──────────────┘
#   └──┬──────────────┬──────────────┬────┘  ┌──────┴─ ns lan: br1 ──┐
#   ┌──┴─ ns gw1 ─┐┌──┴─ ns gw2 ─┐┌──┴─ ns gw3 ─┐ (b1..b3 10.8.0.11-13)
#   │ g1 10.9.0.11 ││ g2 .12      ││ g3 .13      │  every gateway has every
#   │ ringgated    ││ ringgated   ││ ringgated   │  VIP as a /32 on g<n>
#   └──────────────┘└─────────────┘└─────────────┘
# The back-end's replies must come back through the VIP's owner (the
# session is there; sending them to its owner from any node is the
# session-continuity issue's work): the test routes the client's subnet
# from the back-end via the owner of the VIP it is testing.
. "$RG_REPO/qemu-tests/lib.sh"
ringgated=$RG_REPO/userd/target/debug/ringgated
VIPS="10.9.0.100 10.9.0.101 10.9.0.102"

cl() { ip netns exec cl "$@"; }
mac_of() { ip -n "$1" -br link show "$2" | awk '{print $3}'; }
# The distinct MACs answering one ARP request for $1 from the client.
responders() {
  cl arping -c 1 -w 1 -I cl0 "$1" 2>/dev/null | grep -o '\[[0-9A-Fa-f:]*\]' | tr -d '[]' | tr 'A-F' 'a-f' | sort -u | tr '\n' ' ' || true
}
client_neighbour() { ip -n cl neigh show "$1" dev cl0 | awk '{for (i = 1; i < NF; i++) if ($i == "lladdr") print $(i + 1)}'; }
cstatus() { ip netns exec "gw$1" "$RG_REPO/userd/target/debug/ringgatectl" cluster --socket "/tmp/cl/ctl-$1" status --json; }
# owners N: "VIP=OWNER ..." of every VIP owned (not moving), as node N sees it.
owners() {
  cstatus "$1" 2>/dev/null | jqr '[get("vips")[] | select(.state == "owned" or .state == "taking over") | "\(.vip)=\(.owner)"] | join(" ")' 2>/dev/null || true
}
# settled NODES...: every node named has the same owner for every VIP, all
# owners among NODES, and each node's module owns exactly its VIPs.
settled() {
  local first n vip owner want have
  first=$(owners "$1")
  [ "$(wc -w <<<"$first")" = 3 ] || return 1
  for n in "$@"; do
    [ "$(owners "$n")" = "$first" ] || return 1
    want=$(for pair in $first; do [ "${pair#*=}" = "$n" ] && echo "${pair%=*}"; done | sort | tr '\n' ' ')
    have=$(ip netns exec "gw$n" "$RG_REPO/userd/target/debug/ringgatectl" vip list --json |
      jqr '[.[] | select(.owned) | .addr] | sort | join(" ")')
    [ "$want" = "${have:+$have }" ] || return 1
  done
  for pair in $first; do
    case " $* " in *" ${pair#*=} "*) ;; *) return 1 ;; esac
  done
}
wait_settled() {
  local deadline=$((SECONDS + 60))
  until settled "$@"; do
    [ "$SECONDS" -lt "$deadline" ] || fail "nodes $* did not settle: $(for n in "$@"; do echo "node $n: $(owners "$n")"; done)"
    sleep 0.2
  done
}
owner_of() { owners "$2" | tr ' ' '\n' | awk -F= -v v="$1" '$1 == v {print $2}'; }
# through VIP OWNER: one NAT'd echo exchange with the back-end via VIP.
through() {
  ip -n be route replace 10.9.0.0/24 via "10.8.0.1$2"
  cl python3 -c '
import socket, sys
s = socket.create_connection((sys.argv[1], 80), timeout=5)
s.sendall(b"ring")
assert s.recv(16) == b"ring"
' "$1" || fail "no echo through VIP $1 (owner gw$2)"
}

load_module
ip netns add lan
for br in br0 br1; do ip -n lan link add $br type bridge; ip -n lan link set $br up; done
attach() { # NS DEV PORT BRIDGE ADDR
  [ -e "/run/netns/$1" ] || ip netns add "$1"
  ip link add "$2" netns "$1" type veth peer name "$3" netns lan
  ip -n lan link set "$3" master "$4" up
  ip -n "$1" addr add "$5" dev "$2"
  ip -n "$1" link set "$2" up
  ip -n "$1" link set lo up
}
attach cl cl0 pcl br0 10.9.0.1/24
attach be e0 pbe br1 10.8.0.2/24
tcp_echo be 8080
mkdir -p /tmp/cl
head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n' >/tmp/cl/key
chmod 600 /tmp/cl/key
for n in 1 2 3; do
  attach "gw$n" "g$n" "pg$n" br0 "10.9.0.1$n/24"
  attach "gw$n" "b$n" "pb$n" br1 "10.8.0.1$n/24"
  for vip in $VIPS; do ip -n "gw$n" addr add "$vip/32" dev "g$n"; done
  ip netns exec "gw$n" sysctl -qw net.ipv4.ip_forward=1
  {
    echo "node_id = $n"
    echo "listen = \"10.9.0.1$n:5405\""
    echo "key_file = \"/tmp/cl/key\""
    echo "control_socket = \"/tmp/cl/ctl-$n\""
    echo "state_file = \"/tmp/cl/epoch-$n\""
    for p in 1 2 3; do
      [ "$p" = "$n" ] || printf '[[peers]]\nid = %s\naddress = "10.9.0.1%s:5405"\n' "$p" "$p"
    done
    echo "[cluster]"
    echo "[cluster.settings]"
    echo "hold_ms = 600000"
    for vip in $VIPS; do
      printf '[[cluster.vips]]\naddr = "%s"\n[[cluster.vips.services]]\nproto = "tcp"\nport = 80\nbackends = [{ addr = "10.8.0.2:8080" }]\n' "$vip"
    done
  } >"/tmp/cl/node-$n.toml"
done
start_gateway() {
  ip netns exec "gw$1" "$ringgated" --config "/tmp/cl/node-$1.toml" >/dev/null 2>>"/tmp/cl/log-$1" &
  eval "pid$1=$!"
}
for n in 1 2 3; do start_gateway $n; done
cleanup() {
  local status=$?
  kill $pid1 $pid2 $pid3 2>/dev/null || true
  if [ "$status" != 0 ]; then
    for n in 1 2 3; do echo "--- gw$n's ringgated log (last lines):"; tail -8 "/tmp/cl/log-$n"; done
  fi
}
trap cleanup EXIT

# One cluster: every VIP owned by one node, one per node, as all three see it.
wait_settled 1 2 3
for n in 1 2 3; do
  expect_eq "$(owners $n | tr ' ' '\n' | grep -c "=$n\$")" 1 "VIPs of node $n: $(owners 1)"
done
for vip in $VIPS; do
  owner=$(owner_of "$vip" 1)
  expect_eq "$(responders "$vip")" "$(mac_of "gw$owner" "g$owner") " "ARP responders of $vip (owner gw$owner)"
  through "$vip" "$owner"
done
cstatus 1 | jqr 'if get("quorate") and (get("ring") | get("members") | length) == 3 then empty else error(tojson) end'
ip netns exec gw1 "$RG_REPO/userd/target/debug/ringgatectl" cluster --socket /tmp/cl/ctl-1 status >/tmp/cl/status.txt
grep -q "^configuration version 1  quorate" /tmp/cl/status.txt || fail "status view: $(cat /tmp/cl/status.txt)"

# The daemon alone dies on the owner of 10.9.0.101; its links stay up. Its
# module stops answering when the lease runs out, the two others take its
# VIP, and a client asking all along never sees two responders at once.
dying_vip=10.9.0.101
dying=$(owner_of $dying_vip 1)
others=$(echo 1 2 3 | tr ' ' '\n' | grep -vx "$dying" | tr '\n' ' ')
: >/tmp/cl/answers.txt
( while :; do echo "$(responders "$dying_vip")" >>/tmp/cl/answers.txt; done ) &
asker=$!
sleep 1
eval "kill -KILL \$pid$dying"
# shellcheck disable=SC2086
wait_settled $others
sleep 1
kill $asker; wait $asker 2>/dev/null || true
expect_eq "$(ip netns exec "gw$dying" "$RG_REPO/userd/target/debug/ringgatectl" vip list --json | jqr '[.[] | select(.owned)] | length')" 0 \
  "VIPs still owned by gw$dying's module after its daemon died (the lease must release them)"
two=$(awk 'NF > 1' /tmp/cl/answers.txt | wc -l)
echo "measured: daemon death: $(wc -l </tmp/cl/answers.txt) ARP requests for $dying_vip while it moved, $two answered by two gateways"
expect_eq "$two" 0 "ARP requests answered by two gateways: $(awk 'NF > 1' /tmp/cl/answers.txt | head -3)"
taker=$(owner_of $dying_vip "${others%% *}")
expect_eq "$(responders $dying_vip)" "$(mac_of "gw$taker" "g$taker") " "responder of $dying_vip after its daemon died"
through $dying_vip "$taker"

# The daemon restarts: the node rejoins (keeping its state file) without
# taking anything from the others, who keep their VIPs.
before=$(owners "$taker")
start_gateway "$dying"
deadline=$((SECONDS + 60))
until [ "$(cstatus "$dying" 2>/dev/null | jqr '.ring.members | length' 2>/dev/null)" = 3 ]; do
  [ "$SECONDS" -lt "$deadline" ] || fail "gw$dying did not rejoin: $(tail -5 /tmp/cl/log-$dying)"
  sleep 0.2
done
wait_settled 1 2 3
expect_eq "$(owners "$dying")" "$before" "owners after gw$dying rejoined"

# A gateway dies: SIGKILL its daemon and take its links down. A client
# pings the victim's VIP every 10 ms; the longest run of lost replies is
# the traffic gap.
victim_vip=10.9.0.100
victim=$(owner_of $victim_vip 1)
survivors=$(echo 1 2 3 | tr ' ' '\n' | grep -vx "$victim" | tr '\n' ' ')
# Not through the cl() function: $! must be ping itself, or the signal
# that ends it would go to a subshell that ignores it while ping runs on.
ip netns exec cl ping -i 0.01 -W 1 -D -O "$victim_vip" >/tmp/cl/ping.txt 2>&1 &
pinger=$!
sleep 1
eval "kill -KILL \$pid$victim"
ip -n "gw$victim" link set "g$victim" down
ip -n "gw$victim" link set "b$victim" down
# shellcheck disable=SC2086
wait_settled $survivors
new_owner=$(owner_of $victim_vip "${survivors%% *}")
new_mac=$(mac_of "gw$new_owner" "g$new_owner")
for _ in $(seq 100); do [ "$(client_neighbour $victim_vip)" = "$new_mac" ] && break; sleep 0.05; done
expect_eq "$(client_neighbour $victim_vip)" "$new_mac" "the client's ARP entry for $victim_vip followed to gw$new_owner"
sleep 1
kill -INT $pinger; wait $pinger 2>/dev/null || true
gap=$(awk '/icmp_seq=/ { split($0, a, "icmp_seq="); split(a[2], b, " "); seq = b[1] + 0;
             if (/bytes from/) { if (last && seq - last > max) max = seq - last; last = seq } }
           END { print (max > 0 ? (max - 1) * 10 : -1) }' /tmp/cl/ping.txt)
echo "measured: failover: gateway $victim killed, $victim_vip answered again by gw$new_owner after a gap of about $gap ms (10 ms probes, TCG)"
[ "$gap" -ge 0 ] || fail "no replies around the kill: $(tail -5 /tmp/cl/ping.txt)"
for vip in $VIPS; do
  through "$vip" "$(owner_of "$vip" "${survivors%% *}")"
done
if grep -h "module refused" /tmp/cl/log-*; then fail "a module request was refused (see above)"; fi
