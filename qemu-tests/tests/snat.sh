#!/bin/bash
# Outbound translation on one node (`ringgatectl snat`): connections the
# back-end opens through the gateway to a host outside leave from the VIP
# with a port of the configured range, and their replies are translated
# back; a UDP flow too. The range bounds the connections to one
# destination at a time: with two ports a third connection to the same
# host and port is refused and counted (`snat-no-port`), one to another
# port of the host is not, and a port is free again once its session ends.
# `snat off` stops translating new connections and leaves established ones
# alone. Malformed translations change nothing. What is not the back-end's
# own connection out is left alone: a back-end's datagram from the port of
# a service (of two VIPs here), and the back-end's answer to a connection
# the outside opened to its own address.
#
#   ┌─ ns cl (outside) ──┐      ┌──────── ns gw ─────────────┐      ┌─ ns be1 ──────┐
#   │ cl0 10.9.0.1/24    ├──────┤ g0 10.9.0.11/24            │      │ e0 10.8.0.2   │
#   │ echo :7000/:7001,  │      │    10.9.0.100/32 (VIP)     ├──────┤ default via   │
#   │ :7002/:7003        │      │ b0 10.8.0.1/24 (forward)   │      │ 10.8.0.1      │
#   └────────────────────┘      └────────────────────────────┘      └───────────────┘
# The outside host has no route to the back-ends' network: only a
# translated connection can be answered.
. "$RG_REPO/qemu-tests/lib.sh"

VIP=10.9.0.100
gw() { ctl_in gw "$@"; }
status_field() { gw status --json | jqr 'get($f)' --arg f "$1"; }
# connect PORT SECONDS: a connection from the back-end to the outside
# host's PORT that echoes one line within SECONDS; prints "ok LOCAL_PORT"
# or "failed WHY".
connect() {
  ip netns exec be1 python3 -c '
import socket, sys
try:
    s = socket.create_connection(("10.9.0.1", int(sys.argv[1])), timeout=float(sys.argv[2]))
    s.sendall(b"hello\n")
    assert s.recv(64) == b"hello\n"
    print("ok", s.getsockname()[1])
    s.close()
except Exception as e:
    print("failed", "timeout" if isinstance(e, TimeoutError) else type(e).__name__)
' "$1" "$2"
}
# seen_from KIND: where the outside host saw KIND connections (tcp) or
# datagrams (udp) come from, as "ADDR:PORT" lines in order.
seen_from() { awk -v k="$1" '$1 == k {print $2}' /tmp/snat-peers; }
# seen_count KIND N: waits (10 s at most) until the outside host logged N
# of KIND: its server accepts a connection after the back-end's connect()
# returned.
seen_count() {
  local deadline=$((SECONDS + 10))
  until [ "$(seen_from "$1" | wc -l)" -ge "$2" ]; do
    [ "$SECONDS" -lt "$deadline" ] || fail "the outside host logged $(seen_from "$1" | wc -l) $1 peers, not $2: $(cat /tmp/snat-peers)"
    sleep 0.1
  done
}

load_module
gateway_line be1
rm -f /tmp/snat-peers
ip netns exec cl python3 "$RG_REPO/qemu-tests/guest/peer-echo.py" 10.9.0.1 7000 /tmp/snat-peers &
ip netns exec cl python3 "$RG_REPO/qemu-tests/guest/peer-echo.py" 10.9.0.1 7002 /tmp/snat-peers &
wait_port cl tcp 7000
wait_port cl tcp 7002
gw vip add "$VIP" >/dev/null
gw vip own "$VIP" >/dev/null
expect_eq "$(gw snat show)" off "the translation before any is set"

# Untranslated, the back-end's connection cannot be answered.
expect_eq "$(connect 7000 2)" "failed timeout" "a connection out before the translation"

# Malformed translations are refused and change nothing, by ringgatectl and,
# sent as they are, by the module.
refused_ctl() {
  local out code=0
  out=$(gw snat set "$@" 2>&1) || code=$?
  expect_eq "$code" 2 "exit code of snat set $*"
  case "$out" in *"$WANT"*) ;; *) fail "snat set $*: expected '$WANT' in: $out" ;; esac
}
WANT="bits set" refused_ctl 10.8.0.1/24 --to "$VIP" --ports 40000-40001
WANT="1024 or more" refused_ctl 10.8.0.0/24 --to "$VIP" --ports 80-81
WANT="first-last" refused_ctl 10.8.0.0/24 --to "$VIP" --ports 40000
ynl_server
# YNL takes addresses as numbers: 10.8.0.0 is 168296448, 10.8.0.1
# 168296449, 10.9.0.100 168362084.
# refused OP WANT JSON: YNL's OP request fails with WANT in its error.
refused() {
  local msg
  if msg=$(ynl --do "$1" --json "$3" 2>&1); then fail "accepted: $1 $3"; fi
  case "$msg" in *"$2"*) ;; *) fail "$1 $3: expected '$2', got: $msg" ;; esac
}
refused snat-set "go together" '{"source": 168296448, "prefix-len": 24}'
refused snat-set "bits set beyond" '{"source": 168296449, "prefix-len": 24, "to": 168362084, "port-lo": 40000, "port-hi": 40001}'
refused snat-set "must not be below" '{"source": 168296448, "prefix-len": 24, "to": 168362084, "port-lo": 40001, "port-hi": 40000}'
refused snat-set "Numerical result out of range" '{"source": 168296448, "prefix-len": 24, "to": 168362084, "port-lo": 1000, "port-hi": 40000}'
refused snat-set "Numerical result out of range" '{"source": 168296448, "prefix-len": 33, "to": 168362084, "port-lo": 40000, "port-hi": 40001}'
refused snat-set "to is a VIP" '{"source": 168296448, "prefix-len": 24, "to": 4294967295, "port-lo": 40000, "port-hi": 40001}'
# Port shares in the peer table: two nodes' overlapping, or one backwards,
# refuse the whole table.
peer() { printf '{"node-id": %s, "ifindex": 1, "mac": "0200000000%02x", "port-lo": %s, "port-hi": %s}' "$1" "$1" "$2" "$3"; }
refused peer-set "overlaps no other node's" "{\"peer\": [$(peer 2 20000 29999), $(peer 3 25000 30000)]}"
refused peer-set "both ends in order" "{\"peer\": [$(peer 2 30000 29999)]}"
ynl --do peer-set --json "{\"peer\": [$(peer 2 20000 29999), $(peer 3 30000 39999)]}" >/dev/null ||
  fail "two nodes' adjacent port shares refused"
ynl --do peer-set --json '{}' >/dev/null
expect_eq "$(gw snat show)" off "the translation after refused ones"

# Two ports: enough for two connections to one host and port at a time.
gw config set --timeout-closing 1 >/dev/null
gw snat set 10.8.0.0/24 --to "$VIP" --ports 40000-40001
expect_eq "$(gw snat show)" "10.8.0.0/24 to $VIP ports 40000-40001" "the translation set"
stop=/tmp/snat-stop
rm -f "$stop"
for i in 1 2; do
  ip netns exec be1 python3 "$RG_REPO/qemu-tests/guest/echo-stream.py" 10.9.0.1 7000 120 "$stop" >/tmp/snat-stream-$i 2>&1 &
done
for i in 1 2; do
  for _ in $(seq 100); do grep -q connected /tmp/snat-stream-$i && break; sleep 0.1; done
  grep -q connected /tmp/snat-stream-$i || fail "outbound connection $i did not open: $(cat /tmp/snat-stream-$i)"
done

seen_count tcp 2
expect_eq "$(seen_from tcp | sort | tr '\n' ' ')" "$VIP:40000 $VIP:40001 " \
  "where the outside host saw the two connections come from"
outbound=$(gw sessions --json | jqr '[.[] | select(get("outbound"))] | map("\(get("client_addr")):\(get("client_port")) \(get("vip")) \(get("backend_addr"))") | unique | join(";")')
expect_eq "$outbound" "10.9.0.1:7000 $VIP 10.8.0.2" "the outbound sessions as listed"
expect_eq "$(gw sessions | awk '$8 == "out"' | wc -l)" 2 "sessions listed as out"
# Their TCP tracking saw the handshake the back-end opened: established.
expect_eq "$(gw sessions --json | jqr '[.[] | select(get("outbound")) | get("stage")] | unique | join(" ")')" \
  established "the outbound sessions' stage"

# A third one to the same host and port finds no port; one to another
# port of the host does.
no_port_before=$(status_field snat_no_port)
expect_eq "$(connect 7000 3)" "failed timeout" "a third connection to the same destination"
no_port=$(($(status_field snat_no_port) - no_port_before))
expect_ge "$no_port" 1 "connections refused for want of a port"
echo "measured: the third connection's SYNs refused for want of a port: $no_port"
other=$(connect 7002 5)
case "$other" in ok*) ;; *) fail "a connection to another port of the host: $other" ;; esac
seen_count tcp 3
expect_eq "$(seen_from tcp | tail -n1 | cut -d: -f1)" "$VIP" "the connection to another port's source"

# UDP, from the same range.
udp=$(ip netns exec be1 python3 -c '
import socket
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.settimeout(3)
s.sendto(b"ping", ("10.9.0.1", 7001))
print(s.recvfrom(64)[0].decode())
') || fail "a UDP datagram out: $udp"
expect_eq "$udp" ping "the UDP echo"
seen_count udp 1
case "$(seen_from udp)" in "$VIP:4000"[01]) ;; *) fail "the UDP datagram came from $(seen_from udp)" ;; esac

# A back-end's datagram from a service's port is a reply, never a
# connection out, even when the back-end serves two VIPs (whose packets do
# not say which VIP they answer): it passes as it is, here unanswered.
gw vip add 10.9.0.101 >/dev/null
for vip in "$VIP" 10.9.0.101; do
  gw service add "$vip" 5300 --proto udp >/dev/null
  gw backend add "$vip" 5300 --proto udp 10.8.0.2:5300 >/dev/null
done
ip netns exec be1 python3 -c '
import socket
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind(("10.8.0.2", 5300))
s.sendto(b"stray", ("10.9.0.1", 7001))
'
seen_count udp 2
expect_eq "$(seen_from udp | tail -n1)" 10.8.0.2:5300 "where a back-end's datagram from its service port came from"

# Off: new connections are not translated, the open ones go on.
gw snat off
expect_eq "$(gw snat show)" off "the translation turned off"
expect_eq "$(connect 7000 2)" "failed timeout" "a connection out after snat off"
touch "$stop"
for i in 1 2; do
  for _ in $(seq 100); do grep -q '^ok\|^broken' /tmp/snat-stream-$i && break; sleep 0.1; done
  grep -q '^ok ' /tmp/snat-stream-$i || fail "outbound connection $i broke: $(cat /tmp/snat-stream-$i)"
done
echo "measured: the outbound connections: $(tail -qn1 /tmp/snat-stream-* | tr '\n' ';')"

# On again: the closed connections' ports are free once their sessions
# end (the closing timeout is a second).
gw snat set 10.8.0.0/24 --to "$VIP" --ports 40000-40001
# Until the closed connections' sessions have ended (a poll of what a
# fixed 3 s waited for, at most 9 s).
deadline=$((SECONDS + 9))
until [ "$(gw sessions --json | jqr '[.[] | select(get("outbound") and get("proto") == "tcp" and get("client_port") == 7000)] | length')" = 0 ] ||
  [ "$SECONDS" -ge "$deadline" ]; do
  sleep 0.2
done
again=$(connect 7000 5)
case "$again" in ok*) ;; *) fail "a connection once the ports were free again: $again" ;; esac

# The outside reaching the back-end's own address (an operator's ssh,
# say): the back-end's answer is no connection out and passes as it is.
tcp_echo be1 2222
ip -n cl route add 10.8.0.0/24 via 10.9.0.11
inbound=$(ip netns exec cl python3 -c '
import socket
s = socket.create_connection(("10.8.0.2", 2222), timeout=5)
s.sendall(b"in\n")
assert s.recv(64) == b"in\n"
print("ok")
') || fail "a connection from outside to the back-end's own address: $inbound"
