#!/bin/bash
# The module is removed and reloaded three times while a ping flood and a TCP
# stream run through its hooks. Each rmmod must succeed and leave no hook and
# no family behind; traffic keeps flowing; kmemleak (checked by the harness at
# the end of the run) finds nothing.
#
#   ┌───── ns a ──────┐   ping -f + TCP   ┌───── ns b ──────┐
#   │ veth-a          ├──────────────────►┤ veth-b          │
#   │ 10.9.0.1/24     │                   │ 10.9.0.2/24     │
#   └─────────────────┘                   └─────────────────┘
. "$RG_REPO/qemu-tests/lib.sh"

a() { ip netns exec a "$@"; }
b() { ip netns exec b "$@"; }

link_namespaces a veth-a 10.9.0.1/24 b veth-b 10.9.0.2/24

b busybox nc -l -p 5000 >/dev/null &
for _ in $(seq 50); do b ss -ltn | grep -q ':5000' && break; sleep 0.1; done
a bash -c 'cat /dev/zero > /dev/tcp/10.9.0.2/5000' 2>/dev/null &
a ping -f -q -w 60 10.9.0.2 >/dev/null 2>&1 &
trap 'kill $(jobs -p) 2>/dev/null || true' EXIT

for round in 1 2 3; do
  load_module
  # Hooks come with the namespace's first request (see load-unload).
  a "$RG_REPO/userd/target/release/ringgatectl" status >/dev/null
  sleep 1
  expect_ge "$(counter a local-out packets)" 100 "traffic passes the hooks (round $round)"
  unload_module
  [ ! -e /sys/module/ringgate ] || fail "module still present (round $round)"
  expect_eq "$(ringgate_hooks)" 0 "hooks after rmmod"
  if ringgatectl status >/dev/null 2>&1; then fail "family still registered"; fi
  a ping -c 2 -W 2 10.9.0.2 >/dev/null || fail "traffic stopped after rmmod (round $round)"
done
