#!/bin/bash
# What session sync costs the packet path: NAT throughput through gw1 in
# three set-ups, each round all three in turn:
# - alone: its module alone, configured by ringgatectl, no daemon: nothing
#   listens for new sessions, nothing reads the table;
# - again: the same as alone, once more in each round: its ratio to alone
#   is the method's own noise, against which the others' ratios are read
#   (a figure's ratio that this one's spread also reaches says nothing);
# - notified: the same with a process subscribed to the module's
#   `sessions` group (guest/session-listener.py), so the module builds and
#   sends one notification per new session, as it does for a daemon; the
#   process reads none (once its buffer is full the kernel drops them), so
#   this is what the packet path pays, without a reader's CPU;
# - synced: the cluster running (two ringgated, gw1 owning the VIP, gw2 a
#   member that never gets a VIP): every new session is notified, the
#   daemon's worker reads the table every 200 ms, and the sessions go over
#   the ring to gw2, whose module imports them. In this VM gw2's daemon and
#   import, and both ring threads' idle token, run on the same two CPUs as
#   gw1's packets, which a real second gateway would not.
# The same three figures as the NAT bench (TCP Gbit/s, UDP 64-byte
# packets/s, TCP connections/s with one request each), the ratio of each
# round's figures to the same round's alone, and where the guest's CPU went
# in the last round's connections/s stretch of each set-up (by thread, see
# thread-ticks.sh). Asserts nothing; `make bench BENCHES=sync-cost` runs it.
#
# The topology is cluster-lib.sh's, with two gateways and one back-end.
. "$RG_REPO/qemu-tests/lib.sh"
. "$RG_REPO/qemu-tests/cluster-lib.sh"
. "$RG_REPO/qemu-tests/bench/thread-ticks.sh"
set +e
trap - ERR

VIP=10.9.0.100
ROUNDS=${RG_BENCH_ROUNDS:-5}
SECONDS_PER_FIGURE=${RG_BENCH_SECONDS:-5}
say() { echo "sync-cost-bench: $*"; }

module_loaded || load_module
cluster_net 2 1 "$VIP"
ip -n be1 route replace 10.9.0.0/24 via 10.8.0.11
mkdir -p /tmp/www && echo hello >/tmp/www/index.html
ip netns exec be1 busybox httpd -f -p 8081 -h /tmp/www &
ip netns exec be1 iperf3 -s -D >/dev/null 2>&1
# Both servers up before the first figure (the first set-up has no
# daemon's settling to give them the time).
wait_port be1 tcp 5201
wait_port be1 tcp 8081
services() {
  printf '[[cluster.vips]]\naddr = "%s"\n' "$VIP"
  printf '[[cluster.vips.services]]\nproto = "%s"\nport = %s\nbackends = [{ addr = "10.8.0.2:%s" }]\n' \
    tcp 5201 5201 udp 5201 5201 tcp 80 8081
}
for n in $GATEWAYS; do
  gateway_config "$n" $CL/key "$(printf '[cluster]\n[[cluster.nodes]]\nid = 1\nweight = 100\n[[cluster.nodes]]\nid = 2\nweight = 0\n[cluster.settings]\nhold_ms = 600000\ntwo_node = true\n%s\n' "$TCG_FENCES"; services)"
done

tcp_gbits() {
  cl iperf3 -c "$VIP" -t "$SECONDS_PER_FIGURE" -J 2>/dev/null |
    python3 -c 'import json,sys; print("%.3f" % (json.load(sys.stdin)["end"]["sum_received"]["bits_per_second"] / 1e9))' 2>/dev/null || echo 0
}
udp_pps() {
  cl iperf3 -c "$VIP" -u -l 64 -b 0 -t "$SECONDS_PER_FIGURE" -J 2>/dev/null |
    python3 -c '
import json, sys
s = json.load(sys.stdin)["end"]["sum"]
print("%.0f" % ((s["packets"] - s["lost_packets"]) / s["seconds"]))' 2>/dev/null || echo 0
}
conn_rate() {
  cl wrk -t1 -c8 -d"${SECONDS_PER_FIGURE}s" -H "Connection: close" "http://$VIP/" 2>/dev/null |
    awk '/Requests\/sec/ {print $2}' | grep . || echo 0
}
# measure SETUP: one line of figures; the CPU shares of its TCP stream
# (no new sessions) and connections/s stretches go to
# /tmp/sync-cost-shares.
measure() {
  local tcp udp conn
  ticks_mark
  tcp=$(tcp_gbits)
  ticks_shares sync-cost-bench "$1, TCP stream stretch" >>/tmp/sync-cost-shares
  udp=$(udp_pps)
  ticks_mark
  conn=$(conn_rate)
  ticks_shares sync-cost-bench "$1, TCP conn/s stretch" >>/tmp/sync-cost-shares
  echo "$1 $tcp $udp $conn" | tee -a /tmp/sync-cost-results
}

# The module alone, as nat-bench's ringgate set-up has it; "again" is
# the same set-up measured a second time in the round.
again_on() { alone_on; }
again_off() { alone_off; }
alone_on() {
  load_module
  ctl_in gw1 config set --conntrack untracked
  ctl_in gw1 vip add "$VIP" && ctl_in gw1 vip own "$VIP"
  ctl_in gw1 backend add "$VIP" 5201 10.8.0.2:5201
  ctl_in gw1 backend add "$VIP" 5201 --proto udp 10.8.0.2:5201
  ctl_in gw1 backend add "$VIP" 80 10.8.0.2:8081
}
alone_off() { unload_module; }
# The module alone and a reader of its new sessions.
notified_on() {
  alone_on
  ip netns exec gw1 python3 "$RG_REPO/qemu-tests/guest/session-listener.py" >/tmp/sync-cost-listener 2>&1 &
  LISTENER=$!
  local tries=0
  until grep -q listening /tmp/sync-cost-listener; do
    tries=$((tries + 1))
    [ "$tries" -le 100 ] || { say "the session listener did not start: $(cat /tmp/sync-cost-listener)"; break; }
    sleep 0.1
  done
}
notified_off() {
  kill "$LISTENER" && wait "$LISTENER"
  say "$(tail -1 /tmp/sync-cost-listener | tr -d '\n')"
  unload_module
}
# The cluster: the same services from the configuration, gw1 owning the
# VIP (gw2 has weight 0); untracked as above, set in both modules before
# the daemons start.
synced_on() {
  local n
  load_module
  for n in $GATEWAYS; do
    ctl_in "gw$n" config set --conntrack untracked
    start_gateway "$n"
  done
  wait_settled 1 1 2
  [ "$(owner_of "$VIP" 1)" = 1 ] || say "the VIP is on gw$(owner_of "$VIP" 1), not gw1"
}
synced_off() {
  local n
  for n in $GATEWAYS; do kill_gateway "$n"; done
  unload_module
}

: >/tmp/sync-cost-results
: >/tmp/sync-cost-shares
module_loaded && unload_module
# A first measurement in this topology found nobody (0 on every figure, in
# whichever set-up came first): one round of the module alone, thrown away,
# as nat-bench warms up.
alone_on >/tmp/sync-cost-setup 2>&1
measure warmup >/dev/null
alone_off >>/tmp/sync-cost-setup 2>&1
sed -i '/^warmup /d' /tmp/sync-cost-results
: >/tmp/sync-cost-shares
setups=(alone notified synced again)
for round in $(seq "$ROUNDS"); do
  for i in 0 1 2 3; do
    setup=${setups[$(((round + i) % 4))]}
    # Not through a pipe: the set-up's variables (the listener's pid) must
    # outlive it. Only its own words are shown.
    ${setup}_on >/tmp/sync-cost-setup 2>&1
    measure "$setup"
    ${setup}_off >>/tmp/sync-cost-setup 2>&1
    grep '^sync-cost-bench' /tmp/sync-cost-setup
  done
done
# The sessions the last synced round's peer imported, to show sync ran.
say "gw2's daemon: $(grep -c 'session' "$CL/log-2") log lines about sessions; last: $(grep 'session' "$CL/log-2" | tail -1)"

for setup in "${setups[@]}"; do
  grep "sync-cost-bench: $setup, TCP stream" /tmp/sync-cost-shares | tail -1
  grep "sync-cost-bench: $setup, TCP conn/s" /tmp/sync-cost-shares | tail -1
done

python3 - <<'PY'
import statistics
runs = {}
for line in open("/tmp/sync-cost-results"):
    name, *values = line.split()
    runs.setdefault(name, []).append([float(v) for v in values])
figures = ("TCP Gbit/s", "UDP 64B pkt/s", "TCP conn/s")
print("sync-cost-bench: medians over %d rounds:" % len(runs.get("alone", [])))
print("%-10s %16s %16s %16s" % ("", *figures))
for name in ("alone", "again", "notified", "synced"):
    cols = list(zip(*runs.get(name, [[0, 0, 0]])))
    print("%-10s %16.3f %16.0f %16.0f" % (name, *[statistics.median(c) for c in cols]))
for name in ("again", "notified", "synced"):
    pairs = list(zip(runs.get(name, []), runs.get("alone", [])))
    cells = []
    for i in range(len(figures)):
        ratios = sorted(s[i] / a[i] for s, a in pairs if a[i])
        cells.append("%.2f/%.2f/%.2f" % (ratios[0], statistics.median(ratios), ratios[-1]) if ratios else "n/a")
    print("%-24s %16s %16s %16s" % ("%s / alone, min/med/max" % name, *cells))
    # The run's summary table (qemu-tests/bench/summary.sh): the median of
    # the connection rate's ratios.
    conn = sorted(s[2] / a[2] for s, a in pairs if a[2])
    if conn:
        figure = {"again": "conn/s, alone measured again / alone (noise)",
                  "notified": "conn/s, new sessions notified / alone",
                  "synced": "conn/s, cluster syncing / alone"}[name]
        with open("/tmp/bench-summary", "a") as summary:
            summary.write("%s\t%s\t%.2f\n" % (figure, "ringgate", statistics.median(conn)))
PY
