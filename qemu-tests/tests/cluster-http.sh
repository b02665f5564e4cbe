#!/bin/bash
# cluster-http: an HTTP-mode service in the cluster configuration. Two
# gateways, three busybox httpd back-ends holding the same 24 MB file.
# - Every ringgated starts ringgate-l7d for the service; the module has no
#   NAT service for the port (the proxy serves it).
# - curl downloads the file through the VIP while the serving back-end is
#   killed: the download completes with the original's SHA-256.
# - The cluster's health checks find the dead back-end down, and both
#   proxies are told (reloaded, not restarted: the proxy's pid stays); when
#   it is back, it is up again.
# - A back-end deleted with ringgatectl leaves both proxies' pools; a
#   service added with `service add --mode http` is served by both (and
#   refused without ringgated); a killed proxy is started again; a deleted
#   service stops its listener; the module refuses nothing all along.
# - The VIP's owner dies (SIGKILL of its daemon, links down; two_node lets
#   the survivor serve alone): its proxy goes
#   with it (--die-with-parent), the survivor takes the VIP, and its proxy
#   serves a whole download. The last HTTP service deleted stops the proxy.
. "$RG_REPO/qemu-tests/lib.sh"
. "$RG_REPO/qemu-tests/cluster-lib.sh"

VIP=10.9.0.100
SIZE_MB=24
load_module
cluster_net 2 3 "$VIP"
for ns in cl gw1 gw2 be1 be2 be3; do
  ip netns exec $ns sysctl -qw net.ipv4.tcp_rmem="4096 131072 1048576" net.ipv4.tcp_wmem="4096 131072 1048576"
done
WWW=/tmp/www
mkdir -p $WWW
head -c ${SIZE_MB}M /dev/urandom >$WWW/big.bin
touch -d '2026-01-01 00:00:00' $WWW/big.bin
want=$(sha256sum <$WWW/big.bin | cut -d' ' -f1)
httpd() { # NS
  ip netns exec "$1" busybox httpd -f -p 80 -h $WWW &
  echo $! >"/tmp/httpd-$1-80"
  disown
}
for n in 1 2 3; do httpd be$n; done
for n in 1 2 3; do
  for _ in $(seq 50); do ip netns exec be$n ss -ltn | grep -q ':80 ' && break; sleep 0.1; done
done

services=$(printf '[[cluster.vips]]\naddr = "%s"\n[[cluster.vips.services]]\nproto = "tcp"\nport = 80\nmode = "http"\n' $VIP)
services="$services
backends = [{ addr = \"10.8.0.2:80\" }, { addr = \"10.8.0.3:80\" }, { addr = \"10.8.0.4:80\" }]
health = { check = \"tcp\", interval_ms = 300, timeout_ms = 200, rise = 2, fall = 2 }"
# two_node needs the two nodes listed.
nodes=$(printf '[[cluster.nodes]]\nid = %s\nweight = 100\n' 1 2)
for n in $GATEWAYS; do
  gateway_config "$n" $CL/key "$(printf '[cluster]\n[cluster.settings]\nhold_ms = 600000\ntwo_node = true\n%s\n%s\n%s\n' "$TCG_FENCES" "$nodes" "$services")"
  start_gateway "$n"
done
cleanup_http() {
  pkill -KILL -f "busybox httpd" 2>/dev/null || true
}
# cluster_cleanup reads the test's exit status (and prints the daemons'
# logs on a failure): it must see the status, not cleanup_http's.
trap 'rc=$?; cleanup_http; (exit $rc); cluster_cleanup' EXIT
wait_settled 1 1 2
owner=$(owner_of $VIP 1)
other=$((3 - owner))

# l7_status N: gwN's proxy's status document, through one reader process
# (see unix_reader), started after the daemons so they do not inherit its
# FIFOs.
unix_reader
l7_status() { unix_read "$CL/epoch-$1.cluster.l7d.sock"; }
# l7_backends N: "ADDRESS=up|down|disabled ..." as gwN's proxy sees them.
l7_backends() {
  l7_status "$1" 2>/dev/null | jqr '[get("services")[0] | get("backends")[] | "\(.address)=\(if .disabled then "disabled" elif .up then "up" else "down" end)"] | join(" ")' 2>/dev/null || true
}
l7_pid() { pgrep -f "ringgate-l7d --config $CL/epoch-$1.cluster.l7d.toml" || true; }
# wait_backends N WANT WHAT: until gwN's proxy lists exactly WANT.
wait_backends() {
  local deadline=$((SECONDS + 30))
  until [ "$(l7_backends "$1")" = "$2" ]; do
    [ "$SECONDS" -lt "$deadline" ] || fail "$3: gw$1's proxy lists '$(l7_backends "$1")', not '$2'; its log: $(grep l7d "$CL/log-$1" | tail -5)"
    sleep 0.2
  done
}
# wait_listens N WANT WHAT: until gwN's proxy serves exactly WANT (listen
# addresses, space-separated).
wait_listens() {
  local deadline=$((SECONDS + 30))
  until [ "$(l7_status "$1" 2>/dev/null | jqr '[get("services")[] | .listen] | join(" ")' 2>/dev/null)" = "$2" ]; do
    [ "$SECONDS" -lt "$deadline" ] || fail "$3: gw$1's proxy does not serve exactly '$2': $(l7_status "$1")"
    sleep 0.2
  done
}
all_up="10.8.0.2:80=up 10.8.0.3:80=up 10.8.0.4:80=up"
for n in $GATEWAYS; do
  wait_backends "$n" "$all_up" "the proxy started by ringgated"
  # The module leaves the port to the proxy: it has the VIP, no service.
  expect_eq "$(ctl_in "gw$n" service list --json | jqr 'length')" 0 "services in gw$n's module"
done
pid_before=$(l7_pid "$owner")
[ -n "$pid_before" ] || fail "no ringgate-l7d process for gw$owner"

size_of() { stat -c %s "$1" 2>/dev/null || echo 0; }
download() { # OUT: curl through the VIP in the background; its exit code in OUT.rc
  rm -f "$1" "$1.rc"
  ip netns exec cl sh -c 'curl -sS --limit-rate 8M -o "$1" "$2" 2>"$1.err"; echo $? >"$1.rc"' \
    sh "$1" "http://$VIP/big.bin" &
  disown
}
finish() { # OUT
  local deadline=$((SECONDS + 120))
  while [ ! -e "$1.rc" ]; do
    [ "$SECONDS" -lt "$deadline" ] || fail "$1: the download hangs at $(size_of "$1") bytes"
    sleep 0.1
  done
  [ "$(cat "$1.rc")" = 0 ] || fail "$1: curl failed: $(cat "$1.err")"
  [ "$(sha256sum <"$1" | cut -d' ' -f1)" = "$want" ] || fail "$1: SHA-256 differs ($(size_of "$1") bytes)"
}

# A back-end killed mid-body: the owner's proxy resumes from another.
download /tmp/dl
killed=$(python3 "$RG_REPO/qemu-tests/guest/kill-at.py" /tmp/dl $((SIZE_MB * 1024 * 1024 * 3 / 10)) kill \
  be1:/tmp/httpd-be1-80 be2:/tmp/httpd-be2-80 be3:/tmp/httpd-be3-80) || exit 1
set -- $killed
dead=$1
finish /tmp/dl
echo "measured: kill of $dead at $2 bytes of $SIZE_MB MB through gw$owner's proxy: SHA-256 equal"
rm -f /tmp/dl

# The proxy's traffic counts in the VIP's load, which the module never
# sees (no NAT for an HTTP service): a slow download shows in the owner's
# view of the VIP within a few measurements.
rm -f /tmp/slow /tmp/slow.rc
ip netns exec cl sh -c 'curl -sS --limit-rate 1M -o "$1" "$2" 2>"$1.err"; echo $? >"$1.rc"' \
  sh /tmp/slow "http://$VIP/big.bin" &
slow=$!
load=0
while [ ! -e /tmp/slow.rc ] && [ "$load" -eq 0 ]; do
  sleep 0.5
  load=$(cstatus "$owner" | jqr ".vips[] | select(.vip == \"$VIP\") | .load.bytes_per_sec")
done
kill "$slow" 2>/dev/null || true
pkill -f 'curl -sS --limit-rate 1M' || true
expect_ge "$load" 1 "bytes/s of $VIP's HTTP download in gw$owner's view of its load"
echo "measured: a 1 MB/s HTTP download seen as $load bytes/s of $VIP's load"

# The cluster finds it down and both proxies are told, without a restart.
dead_addr="10.8.0.$((${dead#be} + 1)):80"
want_list=$(echo "$all_up" | sed "s/$dead_addr=up/$dead_addr=disabled/")
start=$SECONDS
for n in $GATEWAYS; do wait_backends "$n" "$want_list" "after $dead died"; done
echo "measured: $dead down for both proxies within $((SECONDS - start)) s of the download's end"
expect_eq "$(l7_pid "$owner")" "$pid_before" "gw$owner's proxy pid after a reload"
httpd "$dead"
for n in $GATEWAYS; do wait_backends "$n" "$all_up" "after $dead came back"; done

# A back-end deleted through the cluster leaves both proxies.
ctl_in gw1 --socket $CL/ctl-1 backend del $VIP 80 10.8.0.4:80 || fail "backend del through the cluster refused"
for n in $GATEWAYS; do wait_backends "$n" "10.8.0.2:80=up 10.8.0.3:80=up" "after backend del"; done

# A service added with `ringgatectl service add --mode http` reaches both
# proxies and serves; without the cluster's socket (the module alone) the
# mode is refused as bad input (exit 2) and nothing is added.
echo small >$WWW/small.txt
rc=0; ctl_in gw1 service add $VIP 82 --mode http 2>$CL/refused || rc=$?
expect_eq "$rc" 2 "exit status of --mode http without ringgated: $(cat $CL/refused)"
ctl_in gw1 --socket $CL/ctl-1 service add $VIP 81 --mode http || fail "service add --mode http refused"
ctl_in gw1 --socket $CL/ctl-1 backend add $VIP 81 10.8.0.3:80 || fail "backend add to the http service refused"
for n in $GATEWAYS; do
  wait_listens "$n" "$VIP:80 $VIP:81" "after service add --mode http"
  expect_eq "$(ctl_in "gw$n" service list --json | jqr 'length')" 0 "services in gw$n's module after the http service was added"
done
expect_eq "$(cl curl -sS "http://$VIP:81/small.txt")" small "a GET through $VIP:81"

# A proxy that dies is started again by its daemon and serves.
old_pid=$(l7_pid "$owner")
kill -KILL "$old_pid"
deadline=$((SECONDS + 20))
until [ -n "$(l7_pid "$owner")" ] && [ "$(l7_pid "$owner")" != "$old_pid" ] && [ -n "$(l7_backends "$owner")" ]; do
  [ "$SECONDS" -lt "$deadline" ] || fail "gw$owner's proxy was not started again: $(grep l7d "$CL/log-$owner" | tail -3)"
  sleep 0.2
done
expect_eq "$(cl curl -sS "http://$VIP:81/small.txt")" small "a GET through $VIP:81 after the proxy was started again"

# Deleting the :81 service stops only that listener: both proxies stay
# (:80 is served through the owner's death below).
for n in $GATEWAYS; do eval "proxy_pid$n=$(l7_pid "$n")"; done
ctl_in gw1 --socket $CL/ctl-1 service del $VIP 81 || fail "service del of the http service refused"
for n in $GATEWAYS; do
  wait_listens "$n" "$VIP:80" "after service del"
  eval "expect_eq \"\$(l7_pid $n)\" \"\$proxy_pid$n\" \"gw$n's proxy pid across the reload\""
done
! cl curl -sS --max-time 3 "http://$VIP:81/small.txt" >/dev/null 2>&1 || fail "$VIP:81 still answers after its service was deleted"
# The module never saw the HTTP services: no refusal on any node (health
# verdicts and back-end changes of an HTTP service must not reach it).
for n in $GATEWAYS; do
  expect_eq "$(cstatus "$n" | jqr '.module_errors')" 0 "module refusals on gw$n: $(cstatus "$n" | jqr '.last_module_error')"
done

# The owner dies: its proxy goes with its daemon, the survivor serves.
kill_gateway "$owner"
ip -n "gw$owner" link set "g$owner" down
ip -n "gw$owner" link set "b$owner" down
deadline=$((SECONDS + 10))
while [ -n "$(l7_pid "$owner")" ]; do
  [ "$SECONDS" -lt "$deadline" ] || fail "gw$owner's proxy outlived its daemon"
  sleep 0.2
done
wait_settled 1 "$other"
download /tmp/dl
finish /tmp/dl
echo "measured: after gw$owner's death a download through gw$other's proxy: SHA-256 equal"
# The proxy counts the body once its last byte went to the client: give a
# slow guest a moment, but the count must come.
completed() { l7_status "$other" 2>/dev/null | jqr 'get("services")[0] | get("counters") | get("transfers_completed")' 2>/dev/null || echo 0; }
deadline=$((SECONDS + 5))
until [ "$(completed)" -ge 1 ] || [ "$SECONDS" -ge "$deadline" ]; do sleep 0.2; done
expect_ge "$(completed)" 1 "downloads gw$other's proxy completed"

# The last HTTP service deleted: the proxy stops; the module still has
# nothing for the port.
ctl_in "gw$other" --socket "$CL/ctl-$other" service del $VIP 80 || fail "service del of the last http service refused"
deadline=$((SECONDS + 20))
while [ -n "$(l7_pid "$other")" ]; do
  [ "$SECONDS" -lt "$deadline" ] || fail "gw$other's proxy runs on without an HTTP service"
  sleep 0.2
done
grep -q "no HTTP service left" "$CL/log-$other" || fail "gw$other did not say why its proxy stopped"
