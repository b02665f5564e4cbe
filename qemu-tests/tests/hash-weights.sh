#!/bin/bash
# Consistent hashing honours unequal weights: a back-end's share of clients
# follows its weight, and a heavy back-end never crowds the others out of
# the lookup table. (Filling the table `weight` slots per back-end per round
# gave 200:100 a 200:51 split of its 251 slots, and a weight of 251 or more
# every slot.)
#
#   ┌─ ns cl ──────────────┐      ┌──── ns gw ───────────────┐      ┌─ ns be1 ───────┐
#   │ cl0 10.9.0.1/24      ├──────┤ g0 10.9.0.11/24          │  ┌───┤ e0 10.8.0.2/24 │
#   │ 1000 client addrs    │      │    10.9.0.100/32 (VIP)   │  │   └────────────────┘
#   │ 10.10.0.1-10.10.3.232│      │ b0 10.8.0.1/24 (forward) ├──┤   ┌─ ns be2 ───────┐
#   └──────────────────────┘      └──────────────────────────┘  └───┤ e0 10.8.0.3/24 │
#                                      (bridge br1 in ns back)      └────────────────┘
. "$RG_REPO/qemu-tests/lib.sh"

VIP=10.9.0.100
CLIENTS=1000
gw() { ctl_in gw "$@"; }

load_module
gateway_backends 2
python3 -c '
for i in range(1, 1 + int(__import__("sys").argv[1])):
    print(f"addr add 10.10.{i // 256}.{i % 256}/32 dev cl0")
' $CLIENTS | ip -n cl -batch -
ip -n gw route add 10.10.0.0/22 via 10.9.0.1
gw vip add "$VIP"
gw vip own "$VIP"
gw config set --timeout-udp 600
# share PORT: one datagram from each client address to VIP:PORT; prints how
# many of the clients' sessions went to be1 (10.8.0.2).
share() {
  ip netns exec cl python3 - $CLIENTS "$1" <<'PY'
import socket, sys
for i in range(1, 1 + int(sys.argv[1])):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind((f"10.10.{i // 256}.{i % 256}", 0))
    s.sendto(b"x", ("10.9.0.100", int(sys.argv[2])))
    s.close()
PY
  gw sessions --json | jqr '
[.[] | select(get("vip_port") == $port)]
| if length != $clients then error("\(length) sessions on port \($port)") else . end
| map(select(get("backend_addr") == "10.8.0.2")) | length
' --argjson port "$1" --argjson clients $CLIENTS
}
for spec in 9000:200:100 9001:300:100 9002:1:1; do
  IFS=: read -r port w1 w2 <<<"$spec"
  gw service add "$VIP" "$port" --proto udp --scheduler hash
  gw backend add "$VIP" "$port" --proto udp 10.8.0.2:"$port" --weight "$w1"
  gw backend add "$VIP" "$port" --proto udp 10.8.0.3:"$port" --weight "$w2"
done

# Weights 200:100: be1 gets two thirds of the clients (about 4 standard
# deviations of slack each way; the old fill gave it 79 %).
be1=$(share 9000)
echo "weights 200:100: be1 has $be1 of $CLIENTS clients"
[ "$be1" -ge 600 ] && [ "$be1" -le 730 ] || fail "weights 200:100 gave be1 $be1 of $CLIENTS clients"
# Weights 300:100: be2 keeps a quarter (the old fill gave be1 every slot).
be1=$(share 9001)
echo "weights 300:100: be1 has $be1 of $CLIENTS clients"
[ "$be1" -ge 690 ] && [ "$be1" -le 810 ] || fail "weights 300:100 gave be1 $be1 of $CLIENTS clients"
# Equal weights split evenly.
be1=$(share 9002)
echo "weights 1:1: be1 has $be1 of $CLIENTS clients"
[ "$be1" -ge 435 ] && [ "$be1" -le 565 ] || fail "weights 1:1 gave be1 $be1 of $CLIENTS clients"
