#!/bin/bash
# NAT behind a stateful firewall: with the most common forward ruleset
# (established and related accepted, invalid dropped, new connections
# accepted only to the back-end's allowed ports, everything else dropped),
# TCP and UDP through the VIP work in the conntrack mode `tracked` (the
# default), conntrack lists the translated connections with the back-end's
# address and reports them as events, and a service whose back-end port the
# ruleset does not allow gets nothing through. In the mode `untracked` the
# same ruleset drops the traffic (no ct state rule matches an untracked
# packet), and a rule accepting `ct state untracked` lets it through.
#
#   ┌─ ns cl ─────────┐      ┌──────── ns gw ────────────┐      ┌─ ns be ──────────────┐
#   │ cl0 10.9.0.1/24 ├──────┤ g0 10.9.0.11/24           │      │ e0 10.8.0.2/24       │
#   └─────────────────┘      │    10.9.0.100/32 (VIP)    │      │ httpd tcp :8080      │
#                            │ b0 10.8.0.1/24  (forward) ├──────┤ udp echo :8080       │
#                            │ table inet fw (stateful)  │      │ tcp :9090 (not allowed)
#                            └───────────────────────────┘      └──────────────────────┘
. "$RG_REPO/qemu-tests/lib.sh"

VIP=10.9.0.100
gw() { ctl_in gw "$@"; }
fetch() { ip netns exec cl python3 "$RG_REPO/qemu-tests/guest/http-answers.py" "http://$VIP/" "$1"; }
# nft_counter NAME: packets of the named counter in table inet fw.
nft_counter() { ip netns exec gw nft -j list counter inet fw "$1" | jq '.nftables[1].counter.packets'; }
udp_echo() {
  ip netns exec cl python3 -c '
import socket
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.settimeout(3)
s.sendto(b"ping", ("10.9.0.100", 8080))
try:
    data, peer = s.recvfrom(2048)
    print(data.decode(), "%s:%d" % peer)
except socket.timeout:
    print("no-answer")
'
}

load_module
gateway_line be
mkdir -p /tmp/www && echo be >/tmp/www/index.html
ip netns exec be busybox httpd -f -p 8080 -h /tmp/www &
ip netns exec be python3 -c '
import socket
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind(("0.0.0.0", 8080))
while True:
    data, peer = s.recvfrom(2048)
    s.sendto(b"echo:" + data, peer)
' &
# A server on the port the ruleset does not allow, logging every
# connection it gets: it must get none.
: >/tmp/accepted-9090
ip netns exec be python3 -c '
import socket
srv = socket.socket()
srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
srv.bind(("0.0.0.0", 9090))
srv.listen(4)
while True:
    conn, peer = srv.accept()
    open("/tmp/accepted-9090", "a").write("%s:%d\n" % peer)
    conn.close()
' &

gw vip add "$VIP"
gw vip own "$VIP"
gw backend add "$VIP" 80 10.8.0.2:8080
gw backend add "$VIP" 8080 --proto udp 10.8.0.2:8080
gw backend add "$VIP" 81 10.8.0.2:9090
for _ in $(seq 50); do ip netns exec gw curl -s --max-time 1 "http://10.8.0.2:8080/" >/dev/null && break; sleep 0.1; done
expect_eq "$(gw config show --json | jqr 'get("conntrack")')" tracked "the default conntrack mode"

ip netns exec gw nft -f - <<'NFT'
table inet fw {
  counter new_tcp {}
  counter new_udp {}
  counter dropped {}
  chain forward {
    type filter hook forward priority filter; policy drop;
    ct state established,related accept
    ct state invalid drop
    ip daddr 10.8.0.2 tcp dport 8080 ct state new counter name new_tcp accept
    ip daddr 10.8.0.2 udp dport 8080 ct state new counter name new_udp accept
    counter name dropped
  }
}
NFT

# Conntrack's events for the connections below, as conntrackd would get them.
ip netns exec gw stdbuf -oL conntrack -E -e NEW >/tmp/ct-events 2>&1 &
events=$!
sleep 0.5

# TCP and UDP through the VIP, each opening exactly one new connection per
# client connection as the firewall sees it.
fetch 5 >/tmp/answers
expect_eq "$(grep -c '^be$' /tmp/answers)" 5 "HTTP requests answered through the stateful ruleset"
expect_eq "$(nft_counter new_tcp)" 5 "new TCP connections the ruleset accepted"
expect_eq "$(udp_echo)" "echo:ping 10.9.0.100:8080" "UDP echo through the VIP"
expect_eq "$(nft_counter new_udp)" 1 "new UDP flows the ruleset accepted"
expect_eq "$(nft_counter dropped)" 0 "packets the ruleset dropped"

# Conntrack tracks them as client <-> back-end.
ip netns exec gw conntrack -L -p tcp 2>/dev/null >/tmp/ct-tcp
expect_eq "$(grep -cE 'src=10\.9\.0\.1 dst=10\.8\.0\.2 sport=[0-9]+ dport=8080 src=10\.8\.0\.2 dst=10\.9\.0\.1 sport=8080' /tmp/ct-tcp)" 5 \
  "TCP connections conntrack lists (client <-> back-end): $(cat /tmp/ct-tcp)"
ip netns exec gw conntrack -L -p udp 2>/dev/null >/tmp/ct-udp
expect_eq "$(grep -cE 'src=10\.9\.0\.1 dst=10\.8\.0\.2 sport=[0-9]+ dport=8080 src=10\.8\.0\.2 dst=10\.9\.0\.1 sport=8080' /tmp/ct-udp)" 1 \
  "UDP flows conntrack lists: $(cat /tmp/ct-udp)"
sleep 0.5
kill $events; wait $events 2>/dev/null || true
expect_ge "$(grep -cE '\[NEW\] tcp .*src=10\.9\.0\.1 dst=10\.8\.0\.2 .*dport=8080' /tmp/ct-events)" 5 \
  "conntrack NEW events of the TCP connections: $(cat /tmp/ct-events)"

# A service whose back-end port the ruleset does not allow: the SYN ends in
# the drop counter, the back-end never sees a connection.
blocked=$(ip netns exec cl python3 -c '
import socket
try:
    socket.create_connection(("10.9.0.100", 81), timeout=2)
    print("connected")
except OSError:
    print("blocked")
')
expect_eq "$blocked" blocked "a connection to a service on a port the ruleset does not allow"
expect_ge "$(nft_counter dropped)" 1 "packets the ruleset dropped"
expect_eq "$(wc -l </tmp/accepted-9090)" 0 "connections the not-allowed back-end port accepted"

# The untracked mode: this ruleset now drops the translated traffic ...
gw config set --conntrack untracked
before=$(nft_counter dropped)
expect_eq "$(fetch 1)" no-answer "an HTTP request through the stateful ruleset, untracked"
expect_ge "$(nft_counter dropped)" $((before + 1)) "packets the ruleset dropped, untracked"
# ... and one rule accepting untracked packets lets it through.
ip netns exec gw nft insert rule inet fw forward ct state untracked accept
expect_eq "$(fetch 1)" be "an HTTP request with ct state untracked accepted"
gw config set --conntrack tracked
expect_eq "$(gw config show --json | jqr 'get("conntrack")')" tracked "the conntrack mode set back"

unload_module
