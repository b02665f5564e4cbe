#!/bin/bash
# A node that does not serve a VIP drops the packets of the VIP's services
# that have no session, instead of letting its own stack reset them: while
# a VIP moves, clients whose ARP entry still names the old owner keep
# sending there, and a reset would end their connection attempts
# (session-failover-loop saw 180 to 304 refused connections in 10 rounds
# without this). Their SYN is sent again and reaches the new owner.
#
# One gateway (gateway_backends 1), the client's ARP entry for the VIP
# pinned to it. Owned: a connection succeeds. Released: a connection to
# the service times out (no reset), counted in not-owner; the gateway's own
# connection to it and a port of the VIP that is no service are still the
# stack's (refused). Owned with the lease
# run out (no renewal): dropped the same way. Owned again: served. Owned
# under a running lease with nobody listening to the sessions group (the
# daemon that renews the lease announces the node's sessions from there; a
# killed daemon's module must not open connections nobody announces):
# dropped the same way; with a subscriber: served, and the subscriber is
# told of the new session.
. "$RG_REPO/qemu-tests/lib.sh"

VIP=10.9.0.100
gw() { ctl_in gw "$@"; }
not_owner() { gw status --json | jqr '.not_owner'; }
# lease MS: starts (or, with 0, ends) the module's ownership lease in gw,
# as ringgated does, with the kernel's YNL client through one process in gw
# (see ynl_server, started below): each of the five requests cost a cli.py
# start, about 3 s under TCG. cli.py opens a socket of its own for each
# request and subscribes to no group, as before.
lease() {
  ynl --do owner-lease --json "{\"owner-lease-ms\": $1}" >/dev/null ||
    fail "setting a $1 ms ownership lease"
}
# try_connect NS ADDRESS PORT: "ok", "refused" or "timeout" for one TCP
# connection from NS, given 2 s. bash's /dev/tcp, not python (a python
# start took 0.73 s in the idle TCG guest, bash's 0.26 s); `timeout` ends
# the connect as python's timeout did, and any other failure is "timeout"
# as python's OSError was.
try_connect() {
  local err
  if err=$(ip netns exec "$1" timeout 2 bash -c 'exec 3<>"/dev/tcp/$1/$2"' _ "$2" "$3" 2>&1); then
    echo ok
  elif [[ $err == *"Connection refused"* ]]; then
    echo refused
  else
    echo timeout
  fi
}
# connect PORT: "ok", "refused" or "timeout" for one TCP connection to the VIP.
connect() { try_connect cl "$VIP" "$1"; }

load_module
gateway_backends 1
mkdir -p /tmp/www-be1
echo be1 >/tmp/www-be1/index.html
ip netns exec be1 busybox httpd -f -p 8080 -h /tmp/www-be1 &
for _ in $(seq 100); do ip netns exec be1 ss -ltnH 'sport = :8080' | grep -q . && break; sleep 0.1; done
gw vip add "$VIP"
gw vip own "$VIP"
gw backend add "$VIP" 80 10.8.0.2:8080
ip -n cl neigh replace "$VIP" lladdr "$(ip -n gw -br link show g0 | awk '{print $3}')" dev cl0 nud permanent
# Started here, after the back-end's server (which need not inherit its
# FIFOs), and before the first lease: its python starts meanwhile.
ynl_server gw

expect_eq "$(connect 80)" ok "a connection through the owned VIP"
expect_eq "$(not_owner)" 0 "not-owner drops while owned"

gw vip release "$VIP"
expect_eq "$(connect 80)" timeout "a connection to the released VIP's service (a reset would say refused)"
expect_ge "$(not_owner)" 1 "not-owner drops after the release"
# The gateway's own connections to the VIP are its stack's (no client of
# another host is behind them): refused at once, not dropped.
own=$(try_connect gw "$VIP" 80)
expect_eq "$own" refused "the gateway's own connection to the released VIP"
# Only the VIP's services are ringgate's: another port is the stack's.
expect_eq "$(connect 81)" refused "a connection to a port of the VIP that is no service"
gw status | awk '$1 == "not-owner" {found = 1} END {exit !found}' || fail "ringgatectl status has no not-owner line: $(gw status)"

# Owned, but the daemon stopped renewing: once the lease runs out the node
# does not serve the VIP either.
gw vip own "$VIP"
lease 100
before=$(not_owner)
sleep 0.5
expect_eq "$(connect 80)" timeout "a connection after the ownership lease ran out"
expect_ge "$(not_owner)" $((before + 1)) "not-owner drops after the lease ran out"

lease 0
gw vip own "$VIP"
expect_eq "$(connect 80)" ok "a connection through the VIP owned again"

# Under a running lease a new connection opens only while someone listens
# to the sessions group: here nobody does.
lease 60000
before=$(not_owner)
expect_eq "$(connect 80)" timeout "a connection under a lease with nobody listening to the sessions group"
expect_ge "$(not_owner)" $((before + 1)) "not-owner drops under a lease with nobody listening"
# subscribe NS FILE: a subscriber to the sessions group in NS (the
# kernel's YNL library), in the background (pid in $subscriber); it writes
# "subscribed" to FILE once it is, then the first notification as JSON.
subscribe() {
  ip netns exec "$1" /usr/bin/python3 -c '
import json, sys, time
sys.path.insert(0, sys.argv[1] + "/tools/net/ynl")
from lib import YnlFamily
ynl = YnlFamily(sys.argv[2], "")
ynl.ntf_subscribe("sessions")
print("subscribed", flush=True)
deadline = time.time() + 60
while time.time() < deadline and not ynl.async_msg_queue:
    ynl.check_ntf()
    time.sleep(0.1)
for ntf in ynl.async_msg_queue[:1]:
    print(json.dumps(ntf), flush=True)
' "$RG_KSRC" "$RG_REPO/include/netlink/ringgate.yaml" >"$2" 2>&1 &
  subscriber=$!
  for _ in $(seq 100); do grep -q subscribed "$2" && return; sleep 0.3; done
  fail "the sessions group's subscriber in $1 did not start: $(cat "$2")"
}
# Netlink keeps multicast listeners per protocol, not per namespace: a
# subscriber in another namespace (another node's daemon on the same host)
# must not count as this one's.
subscribe cl /tmp/sessions-ntf-elsewhere
expect_eq "$(connect 80)" timeout "a connection under a lease with the sessions group listened to in another namespace only"
kill $subscriber 2>/dev/null || true
subscribe gw /tmp/sessions-ntf
# The module learnt the daemon was gone from the first connection's
# notification; a renewal (which a daemon that listens sends) clears that.
lease 60000
expect_eq "$(connect 80)" ok "a connection under a lease with the sessions group listened to"
wait $subscriber || true
ntf=$(grep -v subscribed /tmp/sessions-ntf)
echo "measured: session notification: $ntf"
expect_eq "$(jqr '"\(.name) \(.msg["vip-port"]) \(.msg["backend-port"]) \(.msg.stage) \(.msg.owner)"' <<<"$ntf")" \
  "session-new-ntf 80 8080 syn 0" "the notification of the new session (name, VIP port, back-end port, stage, owner)"
lease 0
