#!/bin/bash
# NAT cost, measured rather than guessed: the same client, gateway and
# back-end namespaces in the same VM, with the gateway translating VIP
# traffic by ringgate, IPVS (ipvsadm, NAT mode) and nftables DNAT. Untracked
# set-ups: ringgate and IPVS with nothing in the gateway using conntrack.
# Tracked set-ups, each with the same stateful forward ruleset (so conntrack
# runs): ringgate-ct (conntrack mode tracked), ipvs-ct (net.ipv4.vs.conntrack
# = 1) and nftables (DNAT is tracked by nature).
# Prints TCP throughput (iperf3), small-packet UDP packets/s (iperf3, 64-byte
# payloads, as fast as the client can send) and a connection rate: HTTP
# requests/s from wrk with one request per connection ("Connection: close",
# and busybox httpd closes after each answer anyway), where creating and
# ending sessions, and the locks that takes, dominate. Each figure is also
# given as a ratio to IPVS, with the spread of the per-round ratios. It
# asserts nothing. `make bench` runs it on the bench profile's kernel (no
# lockdep, kmemleak or KFENCE).
#
#   ┌─ ns cl ─────────┐      ┌──────── ns gw ────────────┐      ┌─ ns be ──────────┐
#   │ cl0 10.9.0.1/24 ├──────┤ g0 10.9.0.11/24           │      │ e0 10.8.0.2/24   │
#   │ iperf3 -c, wrk  │      │    10.9.0.100/32 (VIP)    │      │ iperf3 -s :5201  │
#   └─────────────────┘      │ b0 10.8.0.1/24  (forward) ├──────┤ httpd :8080      │
#                            └───────────────────────────┘      └──────────────────┘
. "$RG_REPO/qemu-tests/lib.sh"
set +e

VIP=10.9.0.100
SECONDS_PER_FIGURE=${RG_BENCH_SECONDS:-5}
# The three set-ups run in turn this many times; the medians are reported
# (TCG timing is noisy, and interleaving spreads its drift over all three).
ROUNDS=${RG_BENCH_ROUNDS:-5}
gw() { ctl_in gw "$@"; }

gateway_line be
mkdir -p /tmp/www && echo hello >/tmp/www/index.html
ip netns exec be busybox httpd -f -p 8080 -h /tmp/www &
ip netns exec be iperf3 -s -D >/dev/null 2>&1
sleep 1

tcp_gbits() {
  ip netns exec cl iperf3 -c "$VIP" -t "$SECONDS_PER_FIGURE" -J 2>/dev/null |
    python3 -c 'import json,sys; print("%.3f" % (json.load(sys.stdin)["end"]["sum_received"]["bits_per_second"] / 1e9))' 2>/dev/null || echo 0
}
udp_pps() {
  ip netns exec cl iperf3 -c "$VIP" -u -l 64 -b 0 -t "$SECONDS_PER_FIGURE" -J 2>/dev/null |
    python3 -c '
import json, sys
s = json.load(sys.stdin)["end"]["sum"]
print("%.0f" % ((s["packets"] - s["lost_packets"]) / s["seconds"]))' 2>/dev/null || echo 0
}
conn_rate() {
  ip netns exec cl wrk -t1 -c8 -d"${SECONDS_PER_FIGURE}s" -H "Connection: close" "http://$VIP/" 2>/dev/null |
    awk '/Requests\/sec/ {print $2}' | grep . || echo 0
}
measure() {
  echo "$1 $(tcp_gbits) $(udp_pps) $(conn_rate)" | tee -a /tmp/bench-results
}

: >/tmp/bench-results
ringgate_on() {
  load_module
  gw config set --conntrack untracked
  gw vip add "$VIP" && gw vip own "$VIP"
  gw backend add "$VIP" 5201 10.8.0.2:5201
  gw backend add "$VIP" 5201 --proto udp 10.8.0.2:5201
  gw backend add "$VIP" 80 10.8.0.2:8080
}
ringgate_off() { unload_module; }
# The stateful forward ruleset of the tracked set-ups.
stateful_on() {
  ip netns exec gw nft -f - <<'NFT'
table inet fw {
  chain forward {
    type filter hook forward priority filter; policy drop;
    ct state established,related accept
    ct state invalid drop
    ip daddr 10.8.0.2 ct state new accept
  }
}
NFT
}
# Each tracked set-up leaves conntrack entries behind, which the next one
# would clash with (nftables' entry for client -> VIP has the same reply
# tuple as ringgate-ct's client -> back-end, so conntrack drops the new
# connection): the table is flushed after each.
stateful_off() { ip netns exec gw nft delete table inet fw; ip netns exec gw conntrack -F 2>/dev/null || true; }
ringgate-ct_on() { ringgate_on; gw config set --conntrack tracked; stateful_on; }
ringgate-ct_off() { stateful_off; ringgate_off; }
# IPVS, NAT (masquerading) mode.
ipvs_on() {
  ip netns exec gw ipvsadm -A -t "$VIP:5201" -s rr
  ip netns exec gw ipvsadm -a -t "$VIP:5201" -r 10.8.0.2:5201 -m
  ip netns exec gw ipvsadm -A -u "$VIP:5201" -s rr
  ip netns exec gw ipvsadm -a -u "$VIP:5201" -r 10.8.0.2:5201 -m
  ip netns exec gw ipvsadm -A -t "$VIP:80" -s rr
  ip netns exec gw ipvsadm -a -t "$VIP:80" -r 10.8.0.2:8080 -m
}
ipvs_off() { ip netns exec gw ipvsadm -C; }
ipvs-ct_on() { ip netns exec gw sysctl -qw net.ipv4.vs.conntrack=1; ipvs_on; stateful_on; }
ipvs-ct_off() { stateful_off; ipvs_off; ip netns exec gw sysctl -qw net.ipv4.vs.conntrack=0; }
# nftables DNAT; conntrack un-NATs the replies.
nftables_on() {
  ip netns exec gw nft -f - <<NFT
table ip bench {
  chain pre {
    type nat hook prerouting priority dstnat;
    ip daddr $VIP tcp dport 5201 dnat to 10.8.0.2:5201
    ip daddr $VIP udp dport 5201 dnat to 10.8.0.2:5201
    ip daddr $VIP tcp dport 80 dnat to 10.8.0.2:8080
  }
}
NFT
  stateful_on
}
nftables_off() { stateful_off; ip netns exec gw nft delete table ip bench; }

# A first measurement in a fresh VM runs slower (cold caches of the 9p
# root, iperf3's and wrk's first start), whatever it measures: one pass
# through IPVS warms up and is not counted, and the order of the set-ups
# rotates from round to round, so no set-up is always the first.
ipvs_on
measure warmup >/dev/null
ipvs_off
sed -i '/^warmup /d' /tmp/bench-results
setups=(ringgate ipvs ringgate-ct ipvs-ct nftables)
for round in $(seq "$ROUNDS"); do
  for i in "${!setups[@]}"; do
    setup=${setups[$(( (round + i) % ${#setups[@]} ))]}
    ${setup}_on
    measure "$setup"
    ${setup}_off
  done
done

python3 - <<'PY'
import statistics
runs = {}
for line in open("/tmp/bench-results"):
    name, *values = line.split()
    runs.setdefault(name, []).append([float(v) for v in values])
figures = ("TCP Gbit/s", "UDP 64B pkt/s", "TCP conn/s")
rows = {name: [statistics.median(col) for col in zip(*r)] for name, r in runs.items()}
kernel = open("/proc/version").read().split()[2]
print("NAT benchmark (kernel %s, same VM, TCG; one client, one back-end; %d rounds of %s s per figure)"
      % (kernel, len(runs.get("ipvs", [])), __import__("os").environ.get("RG_BENCH_SECONDS", "5")))
print("medians:")
print("%-10s %16s %16s %16s" % ("", *figures))
for name in ("ringgate", "ipvs", "ringgate-ct", "ipvs-ct", "nftables"):
    v = rows.get(name, [0, 0, 0])
    print("%-12s %16.3f %16.0f %16.0f" % (name, *v))
# The run's summary table (qemu-tests/bench/summary.sh): conntrack on for
# all three, as a stateful gateway runs.
with open("/tmp/bench-summary", "a") as summary:
    for i, (figure, form) in enumerate((("NAT TCP Gbit/s, median", "%.3f"),
                                        ("NAT UDP 64B pkt/s, median", "%.0f"),
                                        ("NAT TCP conn/s, median", "%.0f"))):
        for name, system in (("ringgate-ct", "ringgate"), ("ipvs-ct", "keepalived+IPVS"),
                             ("nftables", "nftables")):
            if name in rows:
                summary.write("%s\t%s\t%s\n" % (figure, system, form % rows[name][i]))
# Each round runs the set-ups back to back, so a round's ratio cancels the
# drift of a TCG host between rounds; the spread of those paired ratios
# says how far any one figure can be trusted.
print("per-round ratios, min / median / max:")
print("%-24s %16s %16s %16s" % ("", *figures))
for name, anchor in (("ringgate", "ipvs"), ("ringgate-ct", "ipvs-ct"),
                     ("nftables", "ipvs-ct"), ("ringgate-ct", "ringgate"),
                     ("ipvs-ct", "ipvs")):
    pairs = list(zip(runs.get(name, []), runs.get(anchor, [])))
    cells = []
    for i in range(len(figures)):
        ratios = sorted(r[i] / b[i] for r, b in pairs if b[i])
        cells.append("%.2f/%.2f/%.2f" % (ratios[0], statistics.median(ratios), ratios[-1])
                     if ratios else "n/a")
    print("%-24s %16s %16s %16s" % ("%s / %s" % (name, anchor), *cells))
PY
