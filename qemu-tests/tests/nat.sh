#!/bin/bash
# NAT of VIP traffic to back-ends: connections to the VIP are spread over the
# back-ends by weight, replies come back from the VIP, UDP works, and a
# back-end taken down gets no new connections.
#
#   ┌─ ns cl ─────────┐      ┌──────── ns gw ────────────┐      ┌─ ns be1 ──────────┐
#   │ cl0 10.9.0.1/24 ├──────┤ g0 10.9.0.11/24           │  ┌───┤ e0 10.8.0.2/24    │
#   └─────────────────┘      │    10.9.0.100/32 (VIP)    │  │   │ httpd :8080, udp  │
#                            │ b0 10.8.0.1/24  (forward) ├──┤   └───────────────────┘
#                            └───────────────────────────┘  │   ┌─ ns be2 ──────────┐
#                                 ns back: bridge br1 ──────┴───┤ e0 10.8.0.3/24    │
#                                                               │ httpd :8080       │
#                                                               └───────────────────┘
. "$RG_REPO/qemu-tests/lib.sh"

VIP=10.9.0.100
gw() { ctl_in gw "$@"; }
status_field() { gw status --json | jqr 'get($f)' --arg f "$1"; }
# Which back-end answered each of N HTTP requests to the VIP, one line each.
fetch() { ip netns exec cl python3 "$RG_REPO/qemu-tests/guest/http-answers.py" "http://$VIP/" "$1"; }

load_module
gateway_backends 2
for ns in be1 be2; do
  mkdir -p /tmp/www-$ns
  echo "$ns" >/tmp/www-$ns/index.html
  ip netns exec $ns busybox httpd -f -p 8080 -h /tmp/www-$ns &
done
# On both back-ends, a TCP server on 7000 that greets with its name and
# holds the connection until the client closes it (for least-connections).
for ns in be1 be2; do
  ip netns exec $ns python3 -c '
import socket, sys, threading
def hold(conn):
    conn.sendall(sys.argv[1].encode())
    while conn.recv(64):
        pass
    conn.close()
srv = socket.socket()
srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
srv.bind(("0.0.0.0", 7000))
srv.listen(16)
while True:
    threading.Thread(target=hold, args=(srv.accept()[0],), daemon=True).start()
' $ns &
done
# A UDP echo server on be1.
ip netns exec be1 python3 -c '
import socket
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind(("0.0.0.0", 9000))
while True:
    data, peer = s.recvfrom(2048)
    s.sendto(b"echo:" + data, peer)
' &

gw vip add "$VIP"
gw vip own "$VIP"
gw backend add "$VIP" 80 10.8.0.2:8080 --weight 3
gw backend add "$VIP" 80 10.8.0.3:8080 --weight 1
gw backend add "$VIP" 9000 --proto udp 10.8.0.2:9000
gw backend list --json | jqr '
def service($key): [.[] | select([get("vip"), get("port"), get("proto")] == $key)]
  | if length == 0 then error("KeyError: \($key)") else last end;
service(["10.9.0.100", 80, "tcp"]) as $web
| if [$web | get("backends")[] | [get("addr"), get("port"), get("weight"), get("up")]]
     != [["10.8.0.2", 8080, 3, true], ["10.8.0.3", 8080, 1, true]] then error($web | tojson) else . end
| (service(["10.9.0.100", 9000, "udp"]) | get("backends")[0]) as $udp
| if ($udp | [get("addr"), get("port")]) != ["10.8.0.2", 9000] then error($udp | tojson) else empty end
'
for n in 2 3; do
  for _ in $(seq 50); do ip netns exec gw curl -s --max-time 1 "http://10.8.0.$n:8080/" >/dev/null && break; sleep 0.1; done
done

# Weighted round-robin: 40 connections split 30:10, every one answered.
# Their sessions are counted below: closed ones must not expire meanwhile
# however slow the host (40 fetches can take over a minute under TCG).
gw config set --timeout-closing 600
fetch 40 >/tmp/answers
expect_eq "$(grep -c '^be1$' /tmp/answers)" 30 "connections to be1 (weight 3)"
expect_eq "$(grep -c '^be2$' /tmp/answers)" 10 "connections to be2 (weight 1)"
expect_ge "$(status_field sessions)" 40 "sessions in the table"

# In the conntrack mode `untracked`, with conntrack in use and an nftables
# ruleset that drops what conntrack finds invalid, NAT'd traffic still
# flows: ringgate translates at pre-routing before conntrack (priority -399
# < -200) and marks both directions untracked, so conntrack neither tracks
# nor invalidates them (the tracked mode, the default, is test
# stateful-firewall's).
gw config set --conntrack untracked
ip netns exec gw nft -f - <<'NFT'
table inet filter {
  chain forward {
    type filter hook forward priority filter; policy accept;
    ct state invalid counter drop
    ct state untracked counter accept
  }
}
NFT
fetch 4 >/tmp/answers
expect_eq "$(grep -c '^be[12]$' /tmp/answers)" 4 "connections answered with conntrack and nftables rules present"
ip netns exec gw nft list chain inet filter forward | grep -q 'ct state invalid counter packets 0 ' ||
  fail "conntrack found NAT'd packets invalid: $(ip netns exec gw nft list chain inet filter forward)"
ip netns exec gw nft list chain inet filter forward | grep 'ct state untracked' | grep -vq 'packets 0 ' ||
  fail "NAT'd packets were not untracked"

# UDP: the reply comes back from the VIP's address and port.
ip netns exec cl python3 -c '
import socket
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.settimeout(5)
s.sendto(b"ping", ("10.9.0.100", 9000))
data, peer = s.recvfrom(2048)
assert data == b"echo:ping", data
assert peer == ("10.9.0.100", 9000), peer
'

# ICMP echo to the VIP is answered by the gateway itself.
ip netns exec cl ping -c 2 -i 0.2 -W 2 "$VIP" >/dev/null || fail "ICMP echo to the VIP"

# A back-end taken down gets no new connections.
gw backend set "$VIP" 80 10.8.0.3:8080 --down
fetch 8 >/tmp/answers
expect_eq "$(grep -c '^be1$' /tmp/answers)" 8 "all connections to be1 while be2 is down"

# Consistent hashing: 16 client addresses each keep their back-end; taking
# be2 down moves only be2's clients, and bringing it back restores the map.
gw service add "$VIP" 81 --scheduler hash
gw backend add "$VIP" 81 10.8.0.2:8080
gw backend add "$VIP" 81 10.8.0.3:8080
for i in $(seq 21 36); do ip -n cl addr add 10.9.0.$i/24 dev cl0; done
client_map() {
  # shellcheck disable=SC2046
  ip netns exec cl python3 "$RG_REPO/qemu-tests/guest/http-answers.py" "http://$VIP:81/" \
    --from $(seq -f '10.9.0.%g' 21 36)
}
client_map >/tmp/map-before
grep -q ' be1$' /tmp/map-before && grep -q ' be2$' /tmp/map-before || fail "hash used one back-end only: $(cat /tmp/map-before)"
expect_eq "$(client_map)" "$(cat /tmp/map-before)" "the same clients map to the same back-ends again"
gw backend set "$VIP" 81 10.8.0.3:8080 --down
client_map >/tmp/map-down
while read -r client backend; do
  expect_eq "$(awk -v c="$client" '$1 == c {print $2}' /tmp/map-down)" be1 "client $client with be2 down"
done </tmp/map-before
gw backend set "$VIP" 81 10.8.0.3:8080 --up
expect_eq "$(client_map)" "$(cat /tmp/map-before)" "the map after be2 came back"

# Weighted least-connections: each new connection goes to the back-end with
# the fewest per unit of weight, a closing connection counting 1/256 of an
# open one; counts are visible per back-end and drop to zero once the
# closed sessions expire (the sweep frees expired sessions' counts).
gw config set --timeout-closing 2
gw service add "$VIP" 82 --scheduler lc
gw backend add "$VIP" 82 10.8.0.2:7000
gw backend add "$VIP" 82 10.8.0.3:7000
ip netns exec cl python3 - "$RG_REPO/userd/target/release/ringgatectl" <<'PY' || fail "least-connections"
import json, socket, subprocess, sys, time

def counts():
    out = subprocess.run(["ip", "netns", "exec", "gw", sys.argv[1], "backend", "list", "--json"],
                         capture_output=True, text=True, check=True).stdout
    service = next(s for s in json.loads(out) if s["port"] == 82)
    name = {("10.8.0.2", 7000): "be1", ("10.8.0.3", 7000): "be2"}
    return {name[(b["addr"], b["port"])]: (b["active_conns"], b["inactive_conns"]) for b in service["backends"]}

def expect(what, got, want):
    if got != want:
        sys.exit(f"{what}: expected {want}, got {got}")

def connect():
    s = socket.create_connection(("10.9.0.100", 82), timeout=5)
    return s, s.recv(16).decode()

def settle(want, seconds):
    end = time.time() + seconds
    while counts() != want and time.time() < end:
        time.sleep(0.2)
    expect(f"counts within {seconds} s", counts(), want)

held = [connect() for _ in range(4)]
expect("back-ends of 4 connections, weights 1:1", [b for _, b in held], ["be1", "be2", "be1", "be2"])
expect("counts with 4 open", counts(), {"be1": (2, 0), "be2": (2, 0)})
for s, b in held:
    if b == "be1":
        s.close()
settle({"be1": (0, 2), "be2": (2, 0)}, 2)
more = [connect() for _ in range(2)]
expect("back-ends after be1's connections closed", [b for _, b in more], ["be1", "be1"])
for s, _ in held + more:
    s.close()
settle({"be1": (0, 0), "be2": (0, 0)}, 10)
subprocess.run(["ip", "netns", "exec", "gw", sys.argv[1], "backend", "set", "10.9.0.100", "82",
                "10.8.0.3:7000", "--weight", "3"], check=True)
weighted = [connect() for _ in range(4)]
expect("back-ends of 4 connections, weights 1:3", [b for _, b in weighted], ["be1", "be2", "be2", "be2"])
expect("counts, weights 1:3", counts(), {"be1": (1, 0), "be2": (3, 0)})
PY
gw config set --timeout-closing 60

# With no back-end up, new connections are dropped and counted.
gw backend set "$VIP" 80 10.8.0.2:8080 --down
before=$(status_field no_backend)
ip netns exec cl curl -s --max-time 2 "http://$VIP/" && fail "a connection got through with every back-end down"
expect_ge "$(status_field no_backend)" $((before + 1)) "no-back-end drops counted"
gw backend set "$VIP" 80 10.8.0.2:8080 --up
expect_eq "$(fetch 1)" be1 "back in service"

# Bad input: clear errors, nothing changed (connection counts aside: they
# move as sessions expire).
services() {
  gw backend list --json | jqr '
# The form of python json.dumps: ", " and ": " between items.
def dumps: if type == "array" then "[" + (map(dumps) | join(", ")) + "]"
  elif type == "object" then "{" + (to_entries | map((.key | tojson) + ": " + (.value | dumps)) | join(", ")) + "}"
  else tojson end;
map(get("backends") |= map(get("active_conns") as $_ | get("inactive_conns") as $_ | del(.active_conns, .inactive_conns, .traffic)))
| dumps'
}
before=$(services)
expect_refused() {
  local want=$1; shift
  local out
  if out=$(gw "$@" 2>&1); then fail "accepted: ringgatectl $*"; fi
  case "$out" in *"$want"*) ;; *) fail "unclear refusal of '$*': $out" ;; esac
}
expect_refused "not in this network namespace's pool" backend add 10.9.0.99 80 10.8.0.2:8080
expect_refused "no such back-end in this service" backend set "$VIP" 80 10.8.0.9:8080 --down
expect_refused "no such service" service del "$VIP" 84
expect_refused "invalid value 'sctp'" backend add "$VIP" 80 --proto sctp 10.8.0.2:8080
expect_refused "invalid value" backend add "$VIP" 80 10.8.0.2:8080 --weight 0
expect_refused "invalid value 'fifo'" service add "$VIP" 83 --scheduler fifo
# Connection counts are the kernel's to keep: a request setting one is refused.
if out=$(ip netns exec gw python3 "$RG_KSRC/tools/net/ynl/cli.py" --no-schema \
    --spec "$RG_REPO/include/netlink/ringgate.yaml" --do backend-set --json \
    '{"vip": 168361060, "port": 80, "proto": 6, "backend": {"addr": 168296450, "port": 8080, "active-conns": 5}}' 2>&1); then
  fail "the kernel accepted a connection count in backend-set"
fi
case "$out" in *"read-only"*) ;; *) fail "refusal of a connection count without its reason: $out" ;; esac
expect_eq "$(services)" "$before" "refused requests changed the services"

# Unloading under NAT traffic, with live sessions, leaves nothing behind (the
# harness checks the kernel log and kmemleak); new connections then reach
# the gateway itself, which has nothing on port 80 and refuses them.
(while :; do ip netns exec cl curl -s --max-time 2 "http://$VIP/" >/dev/null || true; done) &
load=$!
ip netns exec cl python3 -c '
import socket, time
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
end = time.time() + 3
while time.time() < end:
    s.sendto(b"flood", ("10.9.0.100", 9000))
' &
flood=$!
sleep 1
unload_module
wait $flood
kill $load 2>/dev/null || fail "the request loop ended early"
wait $load 2>/dev/null || true
module_loaded && fail "ringgate still loaded"
expect_eq "$(ringgate_hooks)" 0 "hooks left after rmmod"
ip netns exec cl curl -s --max-time 3 "http://$VIP/" && fail "NAT still happening after rmmod"
true
