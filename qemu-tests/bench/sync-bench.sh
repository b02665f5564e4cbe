#!/bin/bash
# Session sync, measured beside IPVS's own sync daemon in the same VM: a
# client opens N idle TCP connections through a VIP of gateway gw1 (each
# sends one byte, so IPVS's sync threshold of three packets is reached) and
# the benchmark times how long after the last one opened the standby gw2
# holds all N: in its module as gw1's sessions (ringgate: two ringgated on
# the ring, session sync every 200 ms), or in its connection table as
# synced connections (IPVS: `ipvsadm --start-daemon master/backup`,
# multicast on the shared segment). Both read by polling the standby every
# 0.2 s (`ringgatectl sessions --json`, `ipvsadm -Lnc`), so both figures
# carry that resolution. conntrackd is not measured here (its external
# cache reaches the kernel only on a commit). Asserts nothing; `make bench
# BENCHES=sync` runs it.
#
# RG_BENCH_ROUNDS interleaved rounds (default 5; each opens N connections
# per set-up), N = RG_BENCH_SYNC_CONNS (default 1000).
. "$RG_REPO/qemu-tests/lib.sh"
. "$RG_REPO/qemu-tests/cluster-lib.sh"
set +e
# A benchmark reports what it saw; lib.sh's ERR trap would end it at the
# first failed probe.
trap - ERR

ROUNDS=${RG_BENCH_ROUNDS:-5}
N=${RG_BENCH_SYNC_CONNS:-1000}
VIP=10.9.0.100
IPVS_VIP=10.9.0.200
PORT=7000
ulimit -n 65536
say() { echo "sync-bench: $*"; }

module_loaded || load_module
cluster_net 2 1 "$VIP"
ip -n be1 route replace 10.9.0.0/24 via 10.8.0.11
ip netns exec be1 python3 "$RG_REPO/qemu-tests/guest/hold-conns.py" serve $PORT &
for n in $GATEWAYS; do
  gateway_config "$n" $CL/key "$(printf '[cluster]\n[cluster.settings]\nhold_ms = 600000\n%s\n' "$TCG_FENCES"
    printf '[[cluster.vips]]\naddr = "%s"\n[[cluster.vips.services]]\nproto = "tcp"\nport = %s\nbackends = [{ addr = "10.8.0.2:%s" }]\n' "$VIP" $PORT $PORT)"
  start_gateway "$n"
done
wait_settled 1 1 2
if [ "$(owner_of "$VIP" 1)" != 1 ]; then
  ringgatectl vip move "$VIP" 1 --socket "$CL/ctl-1" >/dev/null
  wait_settled 1 1 2
fi

# IPVS on the same two gateways, its own VIP on gw1 only, the same
# back-end; the sync daemons on the client-side segment.
ip -n gw1 addr add "$IPVS_VIP/32" dev g1
for n in 1 2; do
  ip netns exec "gw$n" ipvsadm -A -t "$IPVS_VIP:$PORT" -s rr
  ip netns exec "gw$n" ipvsadm -a -t "$IPVS_VIP:$PORT" -r "10.8.0.2:$PORT" -m
done
ip netns exec gw1 ipvsadm --start-daemon master --mcast-interface g1 --syncid 1
ip netns exec gw2 ipvsadm --start-daemon backup --mcast-interface g2 --syncid 1

# Each round's connections come from their own client address, so the
# standby's count of a round is not confused by the last round's entries,
# which linger until they expire.
for a in $(seq 31 $((31 + 2 * ROUNDS))); do ip -n cl addr add "10.9.0.$a/24" dev cl0; done
# rg_count SOURCE / ipvs_count SOURCE: the standby's entries from SOURCE.
rg_count() {
  ctl_in gw2 sessions --json 2>/dev/null |
    jqr '[.[] | select(get("owner") == 1 and get("client_addr") == $s)] | length' --arg s "$1" 2>/dev/null || echo 0
}
ipvs_count() { ip netns exec gw2 ipvsadm -Lnc 2>/dev/null | grep -c "ESTABLISHED *$1:[0-9]* *$IPVS_VIP:$PORT" || true; }

# measure NAME ADDR COUNTER SOURCE: opens N connections to ADDR from
# SOURCE, prints the seconds until COUNTER reaches the number opened (or
# "none(HAVE/OPENED)" after 60 s).
measure() {
  local stop=/tmp/sync-stop-$1 line opened at deadline have
  rm -f "$stop" /tmp/sync-$1
  cl python3 "$RG_REPO/qemu-tests/guest/hold-conns.py" connect "$2" $PORT "$N" "$stop" "$4" >/tmp/sync-$1 &
  local client=$!
  until [ -s /tmp/sync-$1 ]; do sleep 0.1; done
  line=$(cat /tmp/sync-$1)
  opened=$(awk '{print $2}' <<<"$line")
  at=$(awk '{print $3}' <<<"$line")
  deadline=$((SECONDS + 60))
  until have=$($3 "$4"); [ "$have" -ge "$opened" ]; do
    [ "$SECONDS" -lt "$deadline" ] || { echo "none($have/$opened)"; break; }
    sleep 0.2
  done
  [ "$have" -ge "$opened" ] && python3 -c "import sys, time; print('%.2f' % (time.time() - float(sys.argv[1])))" "$at"
  touch "$stop"
  wait $client
  echo "$1 $line" >>/tmp/sync-opened
}

: >/tmp/sync-results
for round in $(seq "$ROUNDS"); do
  r=$(measure ringgate "$VIP" rg_count "10.9.0.$((30 + 2 * round))" | tail -1)
  i=$(measure ipvs "$IPVS_VIP" ipvs_count "10.9.0.$((31 + 2 * round))" | tail -1)
  say "round $round: $N connections: all at the standby after ringgate ${r} s, ipvs sync daemon ${i} s"
  echo "$r $i" >>/tmp/sync-results
done
median() { sort -n | awk '{a[NR] = $1} END {print (NR ? a[int((NR + 1) / 2)] : "none")}'; }
. "$RG_REPO/qemu-tests/bench/summary.sh"
summary "$N new connections at the standby, median s" ringgate "$(awk '{print $1}' /tmp/sync-results | median)"
summary "$N new connections at the standby, median s" keepalived+IPVS "$(awk '{print $2}' /tmp/sync-results | median)"
say "medians over $ROUNDS rounds, $N connections: ringgate $(awk '{print $1}' /tmp/sync-results | median) s, ipvs sync daemon $(awk '{print $2}' /tmp/sync-results | median) s (each read every 0.2 s)"
say "opened: $(awk '{printf "%s %s/%s failed %s; ", $1, $3, '"$N"', $6}' /tmp/sync-opened)"
for n in $GATEWAYS; do eval "kill \${pid$n:-} 2>/dev/null"; done
ip netns exec gw1 ipvsadm --stop-daemon master
ip netns exec gw2 ipvsadm --stop-daemon backup
