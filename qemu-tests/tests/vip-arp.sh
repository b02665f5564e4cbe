#!/bin/bash
# VIP ownership on the wire: both gateways have the VIP configured, only the
# owner answers ARP for it, taking it announces the new owner by gratuitous
# ARP, and the other gateway neither answers nor contests that announcement.
#
#   ┌─ ns cl ─────────┐
#   │ cl0 10.9.0.1/24 │   arping / ping 10.9.0.100
#   └───────┬─────────┘
#   ┌───────┴──────────── ns lan: bridge br0 ─────────────────┐
#   └───────┬────────────────────────────────┬────────────────┘
#   ┌───────┴──── ns gw1 ──────┐    ┌────────┴──── ns gw2 ─────┐
#   │ g1 10.9.0.11/24          │    │ g2 10.9.0.12/24          │
#   │    10.9.0.100/32 (VIP)   │    │    10.9.0.100/32 (VIP)   │
#   └──────────────────────────┘    └──────────────────────────┘
. "$RG_REPO/qemu-tests/lib.sh"

VIP=10.9.0.100
cl() { ip netns exec cl "$@"; }
gw() { ctl_in "$@"; }
mac_of() { ip -n "$1" -br link show "$2" | awk '{print $3}'; }
# The distinct MACs that answer an ARP request for the VIP from the client.
answering_macs() {
  cl arping -c 3 -w 3 -I cl0 "$VIP" 2>/dev/null | grep -o '\[[0-9A-Fa-f:]*\]' | tr -d '[]' | tr 'A-F' 'a-f' | sort -u | tr '\n' ' ' || true
}
client_neighbour() { ip -n cl neigh show "$VIP" dev cl0 | awk '{for (i = 1; i < NF; i++) if ($i == "lladdr") print $(i + 1)}'; }
status_field() { gw "$1" status --json | jqr 'get($f)' --arg f "$2"; }

load_module
ip netns add lan
ip -n lan link add br0 type bridge
ip -n lan link set br0 up
for pair in cl:cl0:pcl:10.9.0.1/24 gw1:g1:pg1:10.9.0.11/24 gw2:g2:pg2:10.9.0.12/24; do
  IFS=: read -r ns dev port addr <<<"$pair"
  ip netns add "$ns"
  ip link add "$dev" netns "$ns" type veth peer name "$port" netns lan
  ip -n lan link set "$port" master br0 up
  ip -n "$ns" addr add "$addr" dev "$dev"
  ip -n "$ns" link set "$dev" up
  ip -n "$ns" link set lo up
done
for ns in gw1 gw2; do ip -n "$ns" addr add "$VIP/32" dev "${ns/gw/g}"; done
MAC1=$(mac_of gw1 g1)
MAC2=$(mac_of gw2 g2)
[ -n "$MAC1" ] && [ -n "$MAC2" ] && [ "$MAC1" != "$MAC2" ] || fail "gateway MACs: '$MAC1' '$MAC2'"

# Without ringgate both kernels answer for the address they share.
expect_eq "$(answering_macs)" "$(printf '%s\n' "$MAC1" "$MAC2" | sort | tr '\n' ' ')" "both answer without a pool"

# In the pool and owned by nobody: nobody answers, and both count it.
for ns in gw1 gw2; do gw "$ns" vip add "$VIP"; done
expect_eq "$(answering_macs)" "" "an unowned VIP is not answered"
expect_ge "$(status_field gw1 arp_suppressed)" 3 "gw1 suppressed the requests"
expect_ge "$(status_field gw2 arp_suppressed)" 3 "gw2 suppressed the requests"

# gw1 takes it: exactly gw1 answers, and the VIP answers ICMP echo.
gw gw1 vip own "$VIP"
expect_ge "$(status_field gw1 garp_sent)" 6 "gw1 announced the VIP (3 request/reply pairs)"
expect_eq "$(answering_macs)" "$MAC1 " "only the owner answers"
cl ping -c 2 -i 0.2 -W 2 "$VIP" >/dev/null || fail "ICMP echo to the owned VIP"
expect_eq "$(client_neighbour)" "$MAC1" "client resolved the VIP to gw1"
gw gw1 vip list --json | jqr '
if . != [{"addr": "10.9.0.100", "owned": true, "garp_count": 3}] then error(tojson) else empty end
'

# Ownership changes are announced on the "events" multicast group
# (`ringgatectl monitor` prints them, once it has joined the group). The
# monitor is stopped after the last change's event, which follows any the
# repeated release would wrongly have caused.
events_start gw1 /tmp/events.txt
gw gw1 vip release "$VIP"
gw gw1 vip release "$VIP"   # no change: no event
gw gw1 vip own "$VIP"
events_stop "^vip-owner $VIP owned\$"
expect_eq "$(grep -c '^vip-owner ' /tmp/events.txt)" 2 "ownership events (release, own): $(cat /tmp/events.txt)"

# The VIP moves to gw2: its gratuitous ARP repoints the client at once,
# without the client asking. How fast is a speed figure, not a test
# (timestamps taken by userspace tools under TCG say little); what is
# checked is the cause: gw2 announced itself, and the client's entry moved
# to gw2 while the client sent no ARP request of its own.
gw gw1 vip release "$VIP"
CLMAC=$(mac_of cl cl0)
ip netns exec lan tcpdump -U --immediate-mode -nn -i pg2 -w /tmp/garp.pcap "arp and ether src $MAC2" 2>/tmp/garp.log &
garp_capture=$!
ip netns exec lan tcpdump -U --immediate-mode -nn -i pcl -w /tmp/asked.pcap "arp and ether src $CLMAC and arp[6:2] == 1" 2>/tmp/asked.log &
asked_capture=$!
wait_listening /tmp/garp.log
wait_listening /tmp/asked.log
gw gw2 vip own "$VIP"
for _ in $(seq 100); do [ "$(client_neighbour)" = "$MAC2" ] && break; sleep 0.01; done
expect_eq "$(client_neighbour)" "$MAC2" "client repointed to gw2"
sleep 0.5
kill $garp_capture $asked_capture; wait $garp_capture $asked_capture 2>/dev/null || true
expect_ge "$(tcpdump -nn -r /tmp/garp.pcap 2>/dev/null | wc -l)" 2 "gratuitous ARP packets from gw2"
expect_eq "$(tcpdump -nn -r /tmp/asked.pcap 2>/dev/null | wc -l)" 0 "ARP requests from the client while it was repointed"
expect_eq "$(answering_macs)" "$MAC2 " "only the new owner answers"
cl ping -c 2 -i 0.2 -W 2 "$VIP" >/dev/null || fail "ICMP echo after the move"

# Another announcement by gw2 draws nothing from gw1: not a reply, not a
# conflict answer; gw1 drops the requests, and the client stays at gw2.
suppressed=$(status_field gw1 arp_suppressed)
ip netns exec lan tcpdump -U --immediate-mode -nn -i pg1 -w /tmp/gw1-arp.pcap "arp and ether src $MAC1" 2>/tmp/gw1-arp.log &
capture=$!
wait_listening /tmp/gw1-arp.log
gw gw2 vip release "$VIP"
gw gw2 vip own "$VIP"
sleep 1
kill $capture; wait $capture 2>/dev/null || true
expect_eq "$(tcpdump -nn -r /tmp/gw1-arp.pcap 2>/dev/null | wc -l)" 0 "ARP packets from gw1 during gw2's announcement"
expect_ge "$(status_field gw1 arp_suppressed)" $((suppressed + 3)) "gw1 dropped gw2's gratuitous requests"
sleep 0.5
expect_eq "$(client_neighbour)" "$MAC2" "client still at gw2"

# Bad input gets a clear error and changes nothing.
before=$(gw gw1 vip list --json)
expect_refused() {
  local want=$1; shift
  local out
  if out=$(gw "$@" 2>&1); then fail "accepted: ringgatectl $*"; fi
  case "$out" in *"$want"*) ;; *) fail "unclear refusal of '$*': $out" ;; esac
}
expect_refused "no such VIP" gw1 vip del 10.9.0.201
expect_refused "no such VIP" gw1 vip own 10.9.0.201
gw gw1 vip add 10.9.0.202
expect_refused "not configured on any interface" gw1 vip own 10.9.0.202
gw gw1 vip del 10.9.0.202
expect_refused "unicast IPv4" gw1 vip add 127.0.0.1
expect_refused "unicast IPv4" gw1 vip add 224.0.0.5
# The kernel refuses such addresses itself, explaining why in extack, for
# clients that do not check (the kernel's YNL client, 127.0.0.1 as a number).
if out=$(ip netns exec gw1 python3 "$RG_KSRC/tools/net/ynl/cli.py" --no-schema \
    --spec "$RG_REPO/include/netlink/ringgate.yaml" --do vip-add --json '{"addr": 2130706433}' 2>&1); then
  fail "the kernel accepted 127.0.0.1 as a VIP"
fi
case "$out" in *"unicast IPv4"*) ;; *) fail "kernel refusal without its reason: $out" ;; esac
expect_refused "invalid value" gw1 vip add 10.9.0.203 --garp-count 17
expect_refused "invalid IPv4" gw1 vip add 10.9.0.300
if out=$(ip netns exec gw1 setpriv --reuid=65534 --regid=65534 --clear-groups --inh-caps=-all \
    "$RG_REPO/userd/target/release/ringgatectl" vip add 10.9.0.204 2>&1); then
  fail "an unprivileged vip add succeeded"
fi
case "$out" in *"permission denied"*) ;; *) fail "unclear refusal: $out" ;; esac
expect_eq "$(gw gw1 vip list --json)" "$before" "refused requests changed the pool"

# The pool holds RINGGATE_MAX_VIPS entries, all listed; one more is refused.
# 255 of them go in through one raw netlink socket (a ringgatectl process
# each would take minutes under TCG), the last through ringgatectl.
ip netns add big
ip netns exec big python3 - "$RG_REPO/qemu-tests/guest" <<'PY'
import socket, sys
sys.path.insert(0, sys.argv[1])
import nlraw
VIP_ADD, A_VIP_ADDR = nlraw.uapi("RINGGATE_CMD_VIP_ADD"), nlraw.uapi("RINGGATE_A_VIP_ADDR")
sock = socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, nlraw.NETLINK_GENERIC)
family = nlraw.family_id(sock)
for i in range(255):
    addr = socket.inet_aton(f"10.77.{i // 200}.{i % 200 + 1}")
    _, err = nlraw.request(sock, family, VIP_ADD, 1, [nlraw.nla(A_VIP_ADDR, addr)], 100 + i)
    assert err == 0, (i, err)
PY
gw big vip add 10.77.1.200
expect_eq "$(gw big vip list --json | jqr 'length')" 256 "a full pool lists every VIP"
expect_refused "pool is full" big vip add 10.77.9.9
# Adding a VIP already there is refused as such, even when the pool is full.
expect_refused "already in this namespace's pool" big vip add 10.77.0.1

# Unloading with owned VIPs leaves nothing behind (the harness checks the
# kernel log and kmemleak).
unload_module
