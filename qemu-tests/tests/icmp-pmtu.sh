#!/bin/bash
# Path-MTU discovery through the VIP: the gateway's link to the back-end has
# a smaller MTU, so the gateway answers the client's full-size segments with
# ICMP "fragmentation needed", quoting the translated packet (client to
# back-end). ringgate puts the quoted destination back to the VIP, so the
# client's TCP lowers its segment size and the upload completes.
#
#   ┌─ ns cl ──────────┐     ┌──────── ns gw ────────────┐     ┌─ ns be ────────────┐
#   │ cl0 10.9.0.1/24  ├─────┤ g0 10.9.0.11/24  mtu 1500 │     │ e0 10.8.0.2/24     │
#   │ mtu 1500         │     │    10.9.0.100/32 (VIP)    │     │ mtu 1500 (MSS 1460)│
#   │ uploads 400 KB   │     │ b0 10.8.0.1/24  mtu 1280  ├─────┤ TCP sink :7000     │
#   └──────────────────┘     └───────────────────────────┘     └────────────────────┘
. "$RG_REPO/qemu-tests/lib.sh"

VIP=10.9.0.100
gw() { ip netns exec gw "$RG_REPO/userd/target/debug/ringgatectl" "$@"; }

load_module
link_namespaces cl cl0 10.9.0.1/24 gw g0 10.9.0.11/24
ip netns add be
ip link add b0 netns gw type veth peer name e0 netns be
ip -n gw addr add 10.8.0.1/24 dev b0
ip -n be addr add 10.8.0.2/24 dev e0
ip -n gw link set b0 mtu 1280 up
ip -n be link set e0 up
ip -n be link set lo up
ip -n be route add default via 10.8.0.1
ip -n gw addr add "$VIP/32" dev g0
ip netns exec gw sysctl -qw net.ipv4.ip_forward=1
ip netns exec be python3 -c '
import socket
srv = socket.socket()
srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
srv.bind(("0.0.0.0", 7000))
srv.listen(4)
while True:
    conn, _ = srv.accept()
    total = 0
    while True:
        data = conn.recv(65536)
        if not data:
            break
        total += len(data)
    conn.sendall(str(total).encode())
    conn.close()
' &
gw vip add "$VIP"
gw vip own "$VIP"
gw backend add "$VIP" 7000 10.8.0.2:7000
sleep 1

ip netns exec cl tcpdump -U -nn -i cl0 -w /tmp/icmp.pcap icmp 2>/tmp/tcpdump.log &
capture=$!
wait_listening /tmp/tcpdump.log   # the capture must run before the upload
received=$(ip netns exec cl python3 -c '
import socket
s = socket.create_connection(("10.9.0.100", 7000), timeout=20)
s.sendall(b"x" * 400000)
s.shutdown(socket.SHUT_WR)
print(s.recv(64).decode())
') || fail "the upload through a smaller-MTU path did not complete"
expect_eq "$received" 400000 "bytes the back-end received"
sleep 0.5
kill $capture; wait $capture 2>/dev/null || true

# The error the client got names the VIP, not the back-end, and the client
# learned the path MTU for the VIP.
tcpdump -nn -v -r /tmp/icmp.pcap >/tmp/icmp.txt 2>/dev/null
grep -q 'need to frag (mtu 1280)' /tmp/icmp.txt || fail "no fragmentation-needed error reached the client: $(head -5 /tmp/icmp.txt)"
grep -Eq "10\.9\.0\.1\.[0-9]+ > $VIP\.7000" /tmp/icmp.txt || fail "the error does not quote the VIP: $(head -5 /tmp/icmp.txt)"
if grep -q '> 10\.8\.0\.2\.' /tmp/icmp.txt; then fail "an error quotes the back-end: $(grep -m1 -B2 '> 10\.8\.0\.2\.' /tmp/icmp.txt)"; fi
ip -n cl route get "$VIP" | grep -q 'mtu 1280' || fail "client's path MTU: $(ip -n cl route get "$VIP")"

unload_module
