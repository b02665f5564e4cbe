#!/bin/bash
# The demo `make demo` runs inside the VM: the module is loaded, two network
# namespaces exchange traffic, and `ringgatectl status` shows that each one
# has its own counters.
#
#   ┌──── ns left ────┐           ┌──── ns right ───┐
#   │ 10.9.0.1/24     ├───veth────┤ 10.9.0.2/24     │
#   └─────────────────┘           └─────────────────┘
#   left pings right 10 times; right sends left 2 MB over TCP.
. "$RG_REPO/qemu-tests/lib.sh"
say() { printf '\n== %s\n' "$*"; }
left() { ip netns exec left "$@"; }
right() { ip netns exec right "$@"; }

say "insmod ringgate.ko"
load_module
dmesg | grep 'ringgate' | tail -n 1 | sed 's/^\[[^]]*\] //'

link_namespaces left veth-l 10.9.0.1/24 right veth-r 10.9.0.2/24

say "left: ping -c 10 10.9.0.2"
left ping -c 10 -i 0.1 10.9.0.2 | tail -n 2
say "right -> left: 2 MB over TCP"
left busybox nc -l -p 7000 >/dev/null &
for _ in $(seq 50); do left ss -ltn | grep -q ':7000' && break; sleep 0.1; done
right bash -c 'exec 3<>/dev/tcp/10.9.0.1/7000; head -c 2000000 /dev/zero >&3; exec 3>&-'
wait

say "ringgatectl status   (network namespace 'left')"
left "$RG_REPO/userd/target/debug/ringgatectl" status
say "ringgatectl status   (network namespace 'right')"
right "$RG_REPO/userd/target/debug/ringgatectl" status
say "ringgatectl status   (initial namespace: no traffic here)"
ringgatectl status
say "rmmod ringgate"
unload_module
ringgatectl status || true
