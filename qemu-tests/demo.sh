#!/bin/bash
# The demo `make demo` runs inside the VM: two gateways share a VIP in front
# of two web back-ends. gw1 owns the VIP and spreads connections 3:1 over the
# back-ends; then the VIP moves to gw2, whose gratuitous ARP repoints the
# client, and gw2 carries on.
#
#   ┌─ ns client ─────┐
#   │ 10.9.0.1/24     │  curl http://10.9.0.100/
#   └───────┬─────────┘
#   ┌───────┴──────── ns front: bridge br0 ────────────────────┐
#   └───────┬───────────────────────────────────┬──────────────┘
#   ┌───────┴── ns gw1 ──────────┐   ┌──────────┴── ns gw2 ────┐
#   │ 10.9.0.11/24, VIP/32       │   │ 10.9.0.12/24, VIP/32    │
#   │ 10.8.0.11/24               │   │ 10.8.0.12/24            │
#   └───────┬────────────────────┘   └──────────┬──────────────┘
#   ┌───────┴──────── ns back: bridge br1 ──────┴──────────────┐
#   └───────┬───────────────────────────────────┬──────────────┘
#   ┌───────┴── ns web1 ─────────┐   ┌──────────┴── ns web2 ───┐
#   │ 10.8.0.2/24  httpd :8080   │   │ 10.8.0.3/24 httpd :8080 │
#   └────────────────────────────┘   └─────────────────────────┘
#   The back-ends route via 10.8.0.1, a second VIP of the pool on the back
#   side, so it moves (and is announced) together with the front VIP.
. "$RG_REPO/qemu-tests/lib.sh"
set +e
VIP=10.9.0.100
say() { printf '\n== %s\n' "$*"; }
ctl() { local ns=$1; shift; echo "[$ns] ringgatectl $*"; ip netns exec "$ns" "$RG_REPO/userd/target/debug/ringgatectl" "$@"; }
mac_of() { ip -n "$1" -br link show "$2" | awk '{print $3}'; }
fetch() { for _ in $(seq "$1"); do ip netns exec client curl -s --max-time 5 "http://$VIP/" || echo "(no answer)"; done; }

say "insmod ringgate.ko"
load_module
dmesg | grep 'ringgate' | tail -n 1 | sed 's/^\[[^]]*\] //'

for bridge in front:br0 back:br1; do
  IFS=: read -r ns br <<<"$bridge"
  ip netns add "$ns"
  ip -n "$ns" link add "$br" type bridge
  ip -n "$ns" link set "$br" up
done
attach() { # ns dev bridge-ns bridge address
  ip link add "$2" netns "$1" type veth peer name "$1-$2" netns "$3"
  ip -n "$3" link set "$1-$2" master "$4" up
  ip -n "$1" addr add "$5" dev "$2"
  ip -n "$1" link set "$2" up
}
for ns in client gw1 gw2 web1 web2; do ip netns add $ns; ip -n $ns link set lo up; done
attach client eth0 front br0 10.9.0.1/24
attach gw1 f0 front br0 10.9.0.11/24
attach gw2 f0 front br0 10.9.0.12/24
attach gw1 b0 back br1 10.8.0.11/24
attach gw2 b0 back br1 10.8.0.12/24
attach web1 eth0 back br1 10.8.0.2/24
attach web2 eth0 back br1 10.8.0.3/24
for n in 1 2; do
  ip -n web$n route add default via 10.8.0.1
  mkdir -p /tmp/demo-web$n && echo "hello from web$n" >/tmp/demo-web$n/index.html
  ip netns exec web$n busybox httpd -f -p 8080 -h /tmp/demo-web$n &
  ip -n gw$n addr add "$VIP/32" dev f0
  ip -n gw$n addr add 10.8.0.1/32 dev b0
  ip netns exec gw$n sysctl -qw net.ipv4.ip_forward=1
done

say "both gateways: the same VIP pool and service, nobody owns the VIP yet"
for gw in gw1 gw2; do
  ctl $gw vip add $VIP
  ctl $gw vip add 10.8.0.1
  ctl $gw backend add $VIP 80 10.8.0.2:8080 --weight 3
  ctl $gw backend add $VIP 80 10.8.0.3:8080 --weight 1
done
ctl gw1 backend list

say "gw1 takes the VIP and the back-ends' gateway address 10.8.0.1"
ctl gw1 vip own $VIP
ctl gw1 vip own 10.8.0.1
ctl gw1 vip list
echo "client: arping $VIP -> $(ip netns exec client arping -c 2 -w 2 -I eth0 $VIP | grep -o '\[.*\]' | sort -u | tr '\n' ' ')(gw1 is $(mac_of gw1 f0))"

say "client: 8 requests to http://$VIP/ (weights 3:1)"
fetch 8 | sort | uniq -c
ctl gw1 sessions
ctl gw1 backend list   # connections per back-end: active, and closing (inactive)
ctl gw1 status

say "the VIP moves to gw2"
ctl gw1 vip release $VIP
ctl gw1 vip release 10.8.0.1
ctl gw2 vip own $VIP
ctl gw2 vip own 10.8.0.1
sleep 0.2
echo "client's neighbour entry for $VIP: $(ip -n client neigh show $VIP | awk '{print $5}') (gw2 is $(mac_of gw2 f0))"

say "client: 4 more requests, now through gw2"
fetch 4 | sort | uniq -c
ctl gw2 status

say "rmmod ringgate"
unload_module
ringgatectl status || true
