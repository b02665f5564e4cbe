#!/bin/bash
# ICMP errors about translated packets, from all three places they arise.
#
# 1. The gateway itself: its link to the back-end has a smaller MTU, so it
#    answers the client's full-size segments with "fragmentation needed",
#    quoting the translated packet (client to back-end). ringgate puts the
#    quoted destination back to the VIP; the client's upload completes.
# 2. A router on the client side: the far client's own link has a smaller
#    MTU than it advertises, so the router answers the back-end's full-size
#    replies with "fragmentation needed" addressed to the VIP. ringgate sends
#    it on to the back-end (destination and quoted source become the
#    back-end's); the back-end lowers its segment size, the download completes.
# 3. The back-end: nothing listens on its UDP port, so it answers with "port
#    unreachable". ringgate makes it come from the VIP and quote the VIP;
#    the client's connected UDP socket gets ECONNREFUSED.
# All with a stateful ruleset (forward and output accept established and
# related, drop invalid, forward accepts only new connections to the
# back-end and drops everything else) in the conntrack mode `tracked`, the
# default: conntrack tracks the connections as client <-> back-end and
# finds every one of these errors related to the connection it quotes.
#
#   ┌─ ns cl ──────────┐     ┌──────── ns gw ────────────┐     ┌─ ns be ────────────┐
#   │ cl0 10.9.0.1/24  ├─────┤ g0 10.9.0.11/24  mtu 1500 │     │ e0 10.8.0.2/24     │
#   │ mtu 1500         │     │    10.9.0.100/32 (VIP)    │     │ mtu 1500 (MSS 1460)│
#   │ uploads 400 KB   │     │ b0 10.8.0.1/24  mtu 1280  ├─────┤ TCP sink :7000     │
#   └──────────────────┘     │ g1 10.6.0.1/24            │     │ TCP source :7001   │
#                            └─────────────┬─────────────┘     │ nothing on udp 7002│
#   ┌─ ns far ─────────┐     ┌─ ns rt ─────┴─────────────┐     └────────────────────┘
#   │ f0 10.7.0.1/24   ├─────┤ r0 10.7.0.254/24 mtu 1280 │
#   │ mtu 1500         │     │ r1 10.6.0.2/24            │
#   │ downloads 400 KB │     └───────────────────────────┘
#   └──────────────────┘
. "$RG_REPO/qemu-tests/lib.sh"

VIP=10.9.0.100
gw() { ctl_in gw "$@"; }

load_module
gateway_line be
ip -n gw link set b0 mtu 1280
link_namespaces far f0 10.7.0.1/24 rt r0 10.7.0.254/24
ip -n rt link set r0 mtu 1280
ip link add r1 netns rt type veth peer name g1 netns gw
ip -n rt addr add 10.6.0.2/24 dev r1
ip -n gw addr add 10.6.0.1/24 dev g1
ip -n rt link set r1 up
ip -n gw link set g1 up
ip -n far route add default via 10.7.0.254
ip -n rt route add default via 10.6.0.1
ip -n gw route add 10.7.0.0/24 via 10.6.0.2
ip netns exec rt sysctl -qw net.ipv4.ip_forward=1
ip netns exec be python3 -c '
import socket, threading
def serve(port, handle):
    srv = socket.socket()
    srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    srv.bind(("0.0.0.0", port))
    srv.listen(4)
    while True:
        conn, _ = srv.accept()
        handle(conn)
        conn.close()
def sink(conn):
    total = 0
    while True:
        data = conn.recv(65536)
        if not data:
            break
        total += len(data)
    conn.sendall(str(total).encode())
def source(conn):
    conn.sendall(b"y" * 400000)
threading.Thread(target=serve, args=(7001, source), daemon=True).start()
serve(7000, sink)
' &
gw vip add "$VIP"
gw vip own "$VIP"
gw backend add "$VIP" 7000 10.8.0.2:7000
gw backend add "$VIP" 7001 10.8.0.2:7001
gw backend add "$VIP" 7002 --proto udp 10.8.0.2:7002
ip netns exec gw nft -f - <<'NFT'
table inet filter {
  counter forward_related {}
  counter output_related {}
  counter invalid {}
  counter dropped {}
  chain forward {
    type filter hook forward priority filter; policy drop;
    ct state established accept
    ct state related counter name forward_related accept
    ct state invalid counter name invalid drop
    ip daddr 10.8.0.2 ct state new accept
    counter name dropped
  }
  chain output {
    type filter hook output priority filter; policy accept;
    ct state related counter name output_related accept
    ct state invalid counter name invalid drop
  }
}
NFT
# nft_counter NAME: packets of the named counter.
nft_counter() { ip netns exec gw nft -j list counter inet filter "$1" | jq '.nftables[1].counter.packets'; }
wait_port be tcp 7000
wait_port be tcp 7001

# 1. The gateway's own error, to the client.
ip netns exec cl tcpdump -U --immediate-mode -nn -i cl0 -w /tmp/icmp.pcap icmp 2>/tmp/tcpdump.log &
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

# 3. The back-end's error, to the client (same capture).
refused=$(ip netns exec cl python3 -c '
import socket
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.settimeout(5)
s.connect(("10.9.0.100", 7002))
s.send(b"anyone?")
try:
    s.recv(64)
    print("answered")
except ConnectionRefusedError:
    print("refused")
except socket.timeout:
    print("no error arrived")
')
expect_eq "$refused" refused "the client's UDP socket after the back-end's port-unreachable"
sleep 0.5
kill $capture; wait $capture 2>/dev/null || true

# The errors the client got name the VIP, never the back-end, and the client
# learned the path MTU for the VIP.
tcpdump -nn -v -r /tmp/icmp.pcap >/tmp/icmp.txt 2>/dev/null
grep -q 'need to frag (mtu 1280)' /tmp/icmp.txt || fail "no fragmentation-needed error reached the client: $(head -5 /tmp/icmp.txt)"
grep -Eq "10\.9\.0\.1\.[0-9]+ > $VIP\.7000" /tmp/icmp.txt || fail "the error does not quote the VIP: $(head -5 /tmp/icmp.txt)"
grep -Eq "$VIP > 10\.9\.0\.1: ICMP $VIP udp port 7002 unreachable" /tmp/icmp.txt ||
  fail "the port-unreachable does not come from and quote the VIP: $(grep -v "need to frag" /tmp/icmp.txt | grep -v "Flags \\[")"
if grep -q '10\.8\.0\.2' /tmp/icmp.txt; then fail "an error names the back-end: $(grep -m1 -B2 '10\.8\.0\.2' /tmp/icmp.txt)"; fi
ip -n cl route get "$VIP" | grep -q 'mtu 1280' || fail "client's path MTU: $(ip -n cl route get "$VIP")"

# 2. A client-side router's error, on to the back-end.
ip netns exec be tcpdump -U --immediate-mode -nn -i e0 -w /tmp/icmp-be.pcap icmp 2>/tmp/tcpdump-be.log &
capture=$!
wait_listening /tmp/tcpdump-be.log
downloaded=$(ip netns exec far python3 -c '
import socket
s = socket.create_connection(("10.9.0.100", 7001), timeout=20)
total = 0
while True:
    data = s.recv(65536)
    if not data:
        break
    total += len(data)
print(total)
') || fail "the download through a smaller-MTU client path did not complete"
expect_eq "$downloaded" 400000 "bytes the far client received"
sleep 0.5
kill $capture; wait $capture 2>/dev/null || true
tcpdump -nn -v -r /tmp/icmp-be.pcap >/tmp/icmp-be.txt 2>/dev/null
grep -Eq "10\.6\.0\.2 > 10\.8\.0\.2: ICMP 10\.7\.0\.1 unreachable - need to frag \(mtu 1280\)" /tmp/icmp-be.txt ||
  fail "the router's error did not reach the back-end as the back-end's: $(head -5 /tmp/icmp-be.txt)"
grep -Eq "10\.8\.0\.2\.7001 > 10\.7\.0\.1\.[0-9]+" /tmp/icmp-be.txt ||
  fail "the error reaching the back-end does not quote its own packet: $(head -5 /tmp/icmp-be.txt)"
ip -n be route get 10.7.0.1 | grep -q 'mtu 1280' || fail "back-end's path MTU: $(ip -n be route get 10.7.0.1)"

# Errors 2 and 3 passed forward as related, error 1 left as related; none
# was invalid and nothing fell to the forward chain's drop.
expect_ge "$(nft_counter forward_related)" 2 "ICMP errors forward found related"
expect_ge "$(nft_counter output_related)" 1 "ICMP errors of the gateway found related"
expect_eq "$(nft_counter invalid)" 0 "packets conntrack found invalid"
expect_eq "$(nft_counter dropped)" 0 "packets the forward chain dropped"

unload_module
