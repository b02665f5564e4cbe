#!/bin/bash
# The demo `make demo` runs inside the VM: a cluster of three gateways, each
# its own ringgated driving its own namespace's module from one shared
# configuration, in front of two web back-ends. The daemons agree on one
# owner per VIP and spread the three VIPs over the three nodes; exactly the
# owner answers ARP for a VIP. A client fetches http://10.9.0.100/ every
# 0.2 s in the background all along. Then the gateway that owns that VIP
# dies (its daemon is SIGKILLed and its links go down): the survivors take
# its VIP, the new owner's gratuitous ARP repoints the client, and the
# client's fetches go on after a gap the demo measures. Last, the dead node
# comes back with the same configuration and rejoins the cluster.
#
#   ┌─ ns client ───────┐
#   │ cl0 10.9.0.1/24   │  curl http://10.9.0.100/ every 0.2 s
#   └───────┬───────────┘
#   ┌───────┴────────── ns lan: bridge br0 (the VIPs' side) ───────────┐
#   └──┬──────────────────────┬──────────────────────┬─────────────────┘
#   ┌──┴─ ns gw1 ────────┐ ┌──┴─ ns gw2 ────────┐ ┌──┴─ ns gw3 ────────┐
#   │ g1 10.9.0.11/24    │ │ g2 10.9.0.12/24    │ │ g3 10.9.0.13/24    │
#   │ + every VIP as /32 │ │ + every VIP as /32 │ │ + every VIP as /32 │
#   │ ringgated node 1   │ │ ringgated node 2   │ │ ringgated node 3   │
#   │ b1 10.8.0.11/24    │ │ b2 10.8.0.12/24    │ │ b3 10.8.0.13/24    │
#   └──┬─────────────────┘ └──┬─────────────────┘ └──┬─────────────────┘
#   ┌──┴──────────────────────┴─ ns lan: bridge br1 ─┴─────────────────┐
#   └───────┬───────────────────────────────────┬──────────────────────┘
#   ┌───────┴── ns web1 ─────────┐   ┌──────────┴── ns web2 ───────────┐
#   │ e0 10.8.0.2/24 httpd :8080 │   │ e0 10.8.0.3/24 httpd :8080      │
#   └────────────────────────────┘   └─────────────────────────────────┘
# The VIPs are 10.9.0.100 (tcp/80 to both back-ends, wrr 3:1), and
# 10.9.0.101 and 10.9.0.102 without services, there so that the cluster
# visibly spreads three VIPs over three nodes.
#
# The back-ends' replies must come back through the VIP's owner: the NAT
# session lives there, and forwarding replies to their owner from any node
# is the session-continuity issue's work. So the back-ends route the
# client's subnet via the owner's back-side address 10.8.0.1<owner>, and the
# demo re-points that route when the VIP moves.
#
# The demo prints, it does not assert; but every wait has a deadline, so a
# cluster that never agrees makes the demo say so and go on, not hang.
. "$RG_REPO/qemu-tests/lib.sh"
set +e
VIP=10.9.0.100
VIPS="10.9.0.100 10.9.0.101 10.9.0.102"
D=/tmp/demo
ringgated=$RG_REPO/userd/target/release/ringgated
ringgatectl_bin=$RG_REPO/userd/target/release/ringgatectl

say() { printf '\n== %s\n' "$*"; }
# Every control-socket call is bounded: a stuck daemon must not stall the demo.
ctl() { local ns=$1; shift; echo "[$ns] ringgatectl $*"; ip netns exec "$ns" timeout 10 "$ringgatectl_bin" "$@"; }
run() { echo "\$ $*"; "$@"; }
mac_of() { ip -n "$1" -br link show "$2" | awk '{print $3}'; }
# gw_of_mac MAC: the gateway whose front link has MAC, or MAC itself.
gw_of_mac() {
  local n
  for n in 1 2 3; do [ "$(mac_of "gw$n" "g$n")" = "$1" ] && { echo "gw$n"; return; }; done
  echo "$1"
}
# The distinct MACs answering ARP requests for $1 from the client.
responders() {
  ip netns exec client arping -c 2 -w 2 -I cl0 "$1" 2>/dev/null | grep -o '\[[0-9A-Fa-f:]*\]' | tr -d '[]' |
    tr 'A-F' 'a-f' | sort -u | tr '\n' ' '
}
client_neighbour() { ip -n client neigh show "$1" dev cl0 | awk '{for (i = 1; i < NF; i++) if ($i == "lladdr") print $(i + 1)}'; }
cstatus() { ip netns exec "gw$1" timeout 5 "$ringgatectl_bin" cluster --socket "$D/ctl-$1" status --json; }
# owners N: "VIP=OWNER ..." of every VIP owned (not moving), as node N sees it.
owners() {
  cstatus "$1" 2>/dev/null | jqr '[get("vips")[] | select(.state == "owned" or .state == "taking over") | "\(.vip)=\(.owner)"] | join(" ")' 2>/dev/null
}
owner_of() { owners "$2" | tr ' ' '\n' | awk -F= -v v="$1" '$1 == v {print $2}'; }
# settled NODES...: the nodes named agree on one owner for every VIP, every
# owner is among them, and each node's module owns exactly its VIPs (the
# same check as the cluster-failover test's).
settled() {
  local first n pair want have
  first=$(owners "$1")
  [ "$(wc -w <<<"$first")" = 3 ] || return 1
  for n in "$@"; do
    [ "$(owners "$n")" = "$first" ] || return 1
    want=$(for pair in $first; do [ "${pair#*=}" = "$n" ] && echo "${pair%=*}"; done | sort | tr '\n' ' ')
    have=$(ip netns exec "gw$n" timeout 5 "$ringgatectl_bin" vip list --json |
      jqr '[.[] | select(.owned) | .addr] | sort | join(" ")')
    [ "$want" = "${have:+$have }" ] || return 1
  done
  for pair in $first; do
    case " $* " in *" ${pair#*=} "*) ;; *) return 1 ;; esac
  done
}
# wait_settled NODES...: settled, or a message after 60 s (then the caller
# decides whether there is anything left to show).
wait_settled() {
  local started=$SECONDS deadline=$((SECONDS + 60)) n
  until settled "$@"; do
    if [ "$SECONDS" -ge "$deadline" ]; then
      echo "nodes $* did not agree within 60 s; as each sees it:"
      for n in "$@"; do echo "  node $n: $(owners "$n")"; done
      return 1
    fi
    sleep 0.2
  done
  echo "nodes $* agree after $((SECONDS - started)) s: $(owners "$1")"
}
# ms_now: the time as the fetch log writes it, HH:MM:SS.mmm; the awk
# scripts below turn that into ms of the day (the demo does not last across
# midnight).
ms_now() { date +%T.%3N; }

# start_gateway N: ringgated of gwN in the background, its pid in pidN. The
# & is here, on `ip netns exec` itself (which execs ringgated), so that $!
# is the daemon and killing it kills the daemon, not a subshell around it.
start_gateway() {
  echo "\$ ip netns exec gw$1 ringgated --config $D/node-$1.toml &"
  ip netns exec "gw$1" "$ringgated" --config "$D/node-$1.toml" >/dev/null 2>>"$D/log-$1" &
  eval "pid$1=$!"
}
# tally: "(no answer) 3, web1 12, web2 4" from fetch log lines on stdin.
tally() { awk '{ $1 = ""; n[substr($0, 2)]++ } END { for (k in n) print k " " n[k] }' | sort | paste -sd, | sed 's/,/, /g'; }
# running PID: the process exists and is not a zombie waiting to be reaped.
running() { [ -n "$1" ] && [ -e "/proc/$1" ] && ! grep -q '^[0-9]* (.*) Z' "/proc/$1/stat" 2>/dev/null; }
# finish: stop everything the demo started and unload the module; the end
# of every path through the demo.
finish() {
  local p pids="$fetcher $pid1 $pid2 $pid3 $httpd1 $httpd2"
  # shellcheck disable=SC2086
  kill $pids 2>/dev/null
  # The daemons stop on TERM; one that has not within 10 s gets KILL, so
  # that rmmod never waits behind it.
  for _ in $(seq 50); do
    for p in $pids; do running "$p" && break; done
    running "$p" || break
    sleep 0.2
  done
  # shellcheck disable=SC2086
  kill -KILL $pids 2>/dev/null
  # shellcheck disable=SC2086
  wait $pids 2>/dev/null
  if grep -h "module refused" "$D"/log-* 2>/dev/null; then echo "(a daemon's module request was refused, see above)"; fi
  say "rmmod ringgate"
  unload_module
  ringgatectl status
  exit 0
}

say "insmod ringgate.ko"
load_module
dmesg | grep 'ringgate' | tail -n 1 | sed 's/^\[[^]]*\] //'

# Both subnets are bridges in one namespace, lan; every other namespace
# hangs off them by a veth pair.
ip netns add lan
for br in br0 br1; do ip -n lan link add $br type bridge; ip -n lan link set $br up; done
attach() { # NS DEV PORT BRIDGE ADDR
  [ -e "/run/netns/$1" ] || ip netns add "$1"
  ip link add "$2" netns "$1" type veth peer name "$3" netns lan
  ip -n lan link set "$3" master "$4" up
  ip -n "$1" addr add "$5" dev "$2"
  ip -n "$1" link set "$2" up
  ip -n "$1" link set lo up
}
attach client cl0 pcl br0 10.9.0.1/24
mkdir -p $D
for n in 1 2; do
  attach "web$n" e0 "pweb$n" br1 "10.8.0.$((n + 1))/24"
  mkdir -p "$D/web$n" && echo "hello from web$n" >"$D/web$n/index.html"
  ip netns exec "web$n" busybox httpd -f -p 8080 -h "$D/web$n" &
  eval "httpd$n=$!"
done
head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n' >$D/key
chmod 600 $D/key
# One configuration for all three nodes but for the node's own identity:
# the [cluster] section is the same everywhere. hold_ms keeps a VIP where
# the cluster put it, so that the balancer does not move the client's VIP
# under its load (its return route would then point at the old owner): the
# demo is about failover, not balancing.
for n in 1 2 3; do
  attach "gw$n" "g$n" "pg$n" br0 "10.9.0.1$n/24"
  attach "gw$n" "b$n" "pb$n" br1 "10.8.0.1$n/24"
  for vip in $VIPS; do ip -n "gw$n" addr add "$vip/32" dev "g$n"; done
  ip netns exec "gw$n" sysctl -qw net.ipv4.ip_forward=1
  {
    echo "node_id = $n"
    echo "listen = \"10.9.0.1$n:5405\""
    echo "key_file = \"$D/key\""
    echo "control_socket = \"$D/ctl-$n\""
    echo "state_file = \"$D/epoch-$n\""
    for p in 1 2 3; do
      [ "$p" = "$n" ] || printf '[[peers]]\nid = %s\naddress = "10.9.0.1%s:5405"\n' "$p" "$p"
    done
    echo "[cluster]"
    echo "[cluster.settings]"
    echo "hold_ms = 600000"
    # The TCG guest's fences (see qemu-tests/cluster-lib.sh TCG_FENCES).
    echo "self_fence_ms = 150"
    echo "owner_lease_ms = 200"
    echo "takeover_fence_ms = 370"
    printf '[[cluster.vips]]\naddr = "%s"\n[[cluster.vips.services]]\nproto = "tcp"\nport = 80\nscheduler = "wrr"\n' "$VIP"
    printf 'backends = [{ addr = "10.8.0.2:8080", weight = 3 }, { addr = "10.8.0.3:8080", weight = 1 }]\n'
    for vip in $VIPS; do
      [ "$vip" = "$VIP" ] || printf '[[cluster.vips]]\naddr = "%s"\n' "$vip"
    done
  } >"$D/node-$n.toml"
done

say "the configuration of gw1's ringgated (gw2 and gw3 differ only in node_id, listen, sockets and peers)"
cat $D/node-1.toml

say "start the three daemons, each in its gateway's namespace"
for n in 1 2 3; do start_gateway $n; done

say "wait until they agree: one owner per VIP, as all three see it, and each module owns exactly its VIPs"
wait_settled 1 2 3 || { for n in 1 2 3; do echo "--- gw$n's ringgated log:"; tail -5 "$D/log-$n"; done; finish; }

say "the cluster as gw1's daemon sees it"
ctl gw1 cluster --socket $D/ctl-1 status

say "who owns which VIP, and who answers the client's ARP requests for it"
for vip in $VIPS; do
  owner=$(owner_of "$vip" 1)
  echo "[client] arping -c 2 -w 2 -I cl0 $vip"
  macs=$(responders "$vip")
  names=$(for mac in $macs; do gw_of_mac "$mac"; done | tr '\n' ' ')
  echo "  $vip: owner gw$owner ($(mac_of "gw$owner" "g$owner")); answered by: ${names:-nobody}($(wc -w <<<"$macs") responder(s))"
done
victim=$(owner_of $VIP 1)
if [ -z "$victim" ]; then echo "no owner of $VIP; nothing to fail over"; finish; fi
echo "what gw$victim's ringgated put into its module for $VIP:"
ctl "gw$victim" backend list

say "client: fetch http://$VIP/ every 0.2 s in the background (log: $D/fetches.log)"
echo "until session continuity (next issue) the back-end's return route follows the owner:"
for n in 1 2; do run ip -n "web$n" route replace 10.9.0.0/24 via "10.8.0.1$victim"; done
# Started by `ip netns exec ... &` directly, not through a function: $! is
# then the loop's own shell, and the TERM that ends the loop reaches it.
ip netns exec client bash -c '
  while :; do
    t=$(date +%T.%3N)
    answer=$(curl -s --max-time 1 "http://$0/" | grep -o "web[0-9]*")
    echo "$t ${answer:-(no answer)}"
    sleep 0.2
  done' "$VIP" >$D/fetches.log 2>&1 &
fetcher=$!
sleep 3
tail -n 5 $D/fetches.log
echo "so far: $(tally <$D/fetches.log)"

survivors=$(echo 1 2 3 | tr ' ' '\n' | grep -vx "$victim" | paste -sd' ')
say "gw$victim, the owner of $VIP, dies: SIGKILL its ringgated and take its links down"
kill_t=$(ms_now)
kill_ms=$(date +%s%3N)
victim_pid=pid$victim
echo "\$ kill -KILL ${!victim_pid}   # gw$victim's ringgated"
# Reaped at once and quietly: bash would otherwise report the job as
# "Killed" somewhere in the middle of the next steps' output.
{ kill -KILL "${!victim_pid}"; wait "${!victim_pid}"; } 2>/dev/null
run ip -n "gw$victim" link set "g$victim" down
run ip -n "gw$victim" link set "b$victim" down

say "the survivors (nodes $survivors) take its VIP"
# The new owner's gratuitous ARP repoints the client; the demo watches the
# client's neighbour entry for that, the cheapest sign there is, so that it
# can move the back-ends' return route at once (see below).
old_mac=$(mac_of "gw$victim" "g$victim")
taker=
deadline=$((SECONDS + 30))
while [ "$SECONDS" -lt "$deadline" ]; do
  now=$(client_neighbour $VIP)
  if [ -n "$now" ] && [ "$now" != "$old_mac" ]; then taker=$(gw_of_mac "$now"); taker=${taker#gw}; break; fi
  sleep 0.02
done
if [ -n "$taker" ]; then
  echo "gw$taker announced itself for $VIP $(( $(date +%s%3N) - kill_ms )) ms after the kill (the client's neighbour entry moved)"
  echo "until session continuity (next issue) the back-end's return route follows the owner:"
  for n in 1 2; do run ip -n "web$n" route replace 10.9.0.0/24 via "10.8.0.1$taker"; done
  echo "\$ ip -n client neigh show $VIP dev cl0"
  ip -n client neigh show $VIP dev cl0
  echo "client's neighbour entry for $VIP: now $(client_neighbour $VIP), gw$taker's (before: $old_mac, gw$victim's)"
else
  echo "nobody announced $VIP within 30 s"
fi
# shellcheck disable=SC2086
wait_settled $survivors
ctl "gw${survivors%% *}" cluster --socket "$D/ctl-${survivors%% *}" status

say "the client's fetches around the kill at $kill_t"
# Wait (at most 20 s) for an answered fetch started after the kill.
after() { # the fetch log's lines started after the kill
  awk -v k="$kill_t" 'function ms(t, a) { split(t, a, ":"); return (a[1] * 3600 + a[2] * 60 + a[3]) * 1000 }
    ms($1) > ms(k)' $D/fetches.log
}
deadline=$((SECONDS + 20))
until after | grep -q web || [ "$SECONDS" -ge "$deadline" ]; do sleep 0.2; done
# The gap: from the last answered fetch before the kill to the first one
# after it; the failed fetches are those in between.
awk -v k="$kill_t" 'function ms(t, a) { split(t, a, ":"); return (a[1] * 3600 + a[2] * 60 + a[3]) * 1000 }
  { t = ms($1); ok = ($2 ~ /^web/); line[NR] = $0 }
  t <= ms(k) && ok { last_ok = t; last_nr = NR; failed = 0 }
  t > ms(k) && ok && !first_ok { first_ok = t; first_nr = NR }
  last_nr && !first_ok && NR > last_nr && !ok { failed++ }
  END {
    from = (last_nr > 2 ? last_nr - 2 : 1); to = (first_nr ? first_nr + 2 : NR)
    if (to - from > 24) { for (i = from; i < from + 10; i++) print "  " line[i]; print "  ..."; from = to - 10 }
    for (i = from; i <= to && i <= NR; i++) print "  " line[i]
    if (first_ok) printf "%d fetches failed; no answer for %.1f s (from the last answer before the kill to the first after it)\n", failed, (first_ok - last_ok) / 1000
    else printf "%d fetches failed; no answer since the kill\n", failed
  }' $D/fetches.log | tee $D/gap.txt

say "gw$victim comes back: links up, its ringgated started again with the same configuration"
run ip -n "gw$victim" link set "g$victim" up
run ip -n "gw$victim" link set "b$victim" up
start_gateway "$victim"
deadline=$((SECONDS + 60)) rejoined=yes
until [ "$(cstatus "$victim" 2>/dev/null | jqr '.ring.members | length' 2>/dev/null)" = 3 ]; do
  if [ "$SECONDS" -ge "$deadline" ]; then
    echo "gw$victim did not rejoin within 60 s: $(tail -3 "$D/log-$victim")"
    rejoined=no
    break
  fi
  sleep 0.2
done
# The node rejoins without taking VIPs from the others, so the client's VIP
# stays with its new owner and the return route stays as it is.
if [ "$rejoined" = yes ]; then
  wait_settled 1 2 3
  echo "gw$victim is a member again; the VIPs stay where they are (the demo's hold_ms keeps the balancer from moving them)"
fi
ctl "gw$victim" cluster --socket "$D/ctl-$victim" status
sleep 2

kill "$fetcher" && wait "$fetcher" 2>/dev/null
fetcher=
say "summary"
total=$(wc -l <$D/fetches.log)
echo "$total fetches of http://$VIP/, one every 0.2 s or so: $(tally <$D/fetches.log) (wrr 3:1 over web1 and web2)"
echo "$VIP: owned by gw$victim, which died; taken over by gw${taker:-?}; $(tail -n 1 $D/gap.txt)"
echo "gw$victim restarted with the same configuration; ring members as it sees them: $(cstatus "$victim" 2>/dev/null | jqr '.ring.members | tojson' 2>/dev/null); owners: $(owners "$victim" | sed -E 's/=([0-9]+)/ on gw\1,/g; s/,$//')"
finish
