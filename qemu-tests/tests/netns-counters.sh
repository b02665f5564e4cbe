#!/bin/bash
# Every network namespace has its own counters, which grow with real traffic
# through that namespace only.
#
#   ┌───── ns a ──────┐          ┌───── ns b ──────┐      ┌─ ns idle ─┐
#   │ veth-a          ├──────────┤ veth-b          │      │ lo only   │
#   │ 10.9.0.1/24     │          │ 10.9.0.2/24     │      └───────────┘
#   └─────────────────┘          └─────────────────┘
#   ping and a 1 MB TCP transfer from a to b; nothing in idle or in the
#   initial namespace.
. "$RG_REPO/qemu-tests/lib.sh"

a() { ip netns exec a "$@"; }
b() { ip netns exec b "$@"; }

load_module
link_namespaces a veth-a 10.9.0.1/24 b veth-b 10.9.0.2/24
ip netns add idle
ip -n idle link set lo up
for ns in a b idle; do ctl_in $ns counters reset; done
ringgatectl counters reset

a ping -c 5 -i 0.2 -W 2 10.9.0.2 >/dev/null

expect_ge "$(counter a local-out packets)" 5 "a: echo requests at local-out"
expect_ge "$(counter a post-routing packets)" 5 "a: echo requests at post-routing"
expect_ge "$(counter a local-in packets)" 5 "a: echo replies at local-in"
expect_ge "$(counter a arp-out packets)" 1 "a: ARP request"
expect_ge "$(counter b pre-routing packets)" 5 "b: echo requests at pre-routing"
expect_ge "$(counter b local-in packets)" 5 "b: echo requests at local-in"
expect_ge "$(counter b arp-in packets)" 1 "b: ARP request"
expect_eq "$(counter a forward packets)" 0 "a forwards nothing"

# A 1 MB TCP transfer shows up as bytes in the sender's and receiver's hooks.
before_out=$(counter a local-out bytes)
before_in=$(counter b local-in bytes)
b busybox nc -l -p 5000 >/dev/null &
server=$!
for _ in $(seq 50); do b ss -ltn | grep -q ':5000' && break; sleep 0.1; done
a bash -c 'exec 3<>/dev/tcp/10.9.0.2/5000; head -c 1000000 /dev/zero >&3; exec 3>&-'
wait $server
expect_ge "$(( $(counter a local-out bytes) - before_out ))" 1000000 "a: TCP bytes at local-out"
expect_ge "$(( $(counter b local-in bytes) - before_in ))" 1000000 "b: TCP bytes at local-in"

# Namespaces without traffic stay at zero: counters are per namespace.
for hook in pre-routing local-in forward local-out post-routing arp-in arp-out; do
  expect_eq "$(counter idle $hook packets)" 0 "idle: $hook"
  expect_eq "$("$RG_REPO/userd/target/release/ringgatectl" status --json --hook $hook |
    jqr 'get("hooks")[0] | get("packets")')" 0 "initial namespace: $hook"
done

# The human-readable table lists all seven hooks (three fields a line, for
# awk), then after a blank line one counter a line, the ARP ones among them.
expect_eq "$(a "$RG_REPO/userd/target/release/ringgatectl" status | sed -n '3,/^$/p' | grep -c '^[a-z-]\+ \+[0-9]\+ \+[0-9]\+$')" 7 "table rows"
a "$RG_REPO/userd/target/release/ringgatectl" status | grep -qx 'arp-suppressed 0' || fail "ARP suppressed counter line"
a "$RG_REPO/userd/target/release/ringgatectl" status | grep -qx 'garp-sent 0' || fail "gratuitous ARP counter line"
