#!/bin/bash
# corosync's side of `make bench-ring`: N corosync 3 processes (Debian's
# package; knet transport, crypto on) in network namespaces of their own,
# joined by a bridge in a namespace of its own, on private addresses
# 10.213.0.1-N. Several corosync instances cannot share a namespace (their
# IPC sockets are abstract, one set per network namespace) nor a /run (the
# pid file is fixed), so each runs with a private /run too. Nothing is
# created in, or sent from, the host's own namespace.
#
#   corosync.sh --nodes N --size BYTES --seconds S (--max | --rate R | --death) --dir DIR
#
# (the arguments of proc_bench, the ringgate side) sets up, runs cpgbench
# (built at DIR/cpgbench) on every node, prints one key=value line, and
# tears everything down (also on error or interrupt).
set -euo pipefail

NS=rgbench
nodes= size= seconds= mode= rate= dir=
while [ $# -gt 0 ]; do
  case $1 in
    --nodes) nodes=$2; shift ;;
    --size) size=$2; shift ;;
    --seconds) seconds=$2; shift ;;
    --max | --death) mode=$1 ;;
    --rate) mode=$1 rate=$2; shift ;;
    --dir) dir=$2; shift ;;
    *) echo "corosync.sh: unknown argument $1" >&2; exit 2 ;;
  esac
  shift
done
if ! [[ "$nodes" =~ ^[0-9]+$ && "$nodes" -ge 2 && "$nodes" -le 32 ]] || [ -z "$size" ] ||
  [ -z "$seconds" ] || [ -z "$mode" ] || [ ! -x "$dir/cpgbench" ]; then
  echo "corosync.sh: need --nodes 2..32, --size, --seconds, a mode and --dir holding cpgbench" >&2
  exit 2
fi

teardown() {
  # Waited for, so the shell reports no "Killed" lines.
  for pid in $(cat "$dir"/pids 2>/dev/null); do
    { kill -9 "$pid" && wait "$pid"; } 2>/dev/null || true
  done
  for ns in $(ip netns list | awk '{print $1}' | grep "^$NS-" || true); do
    ip netns pids "$ns" 2>/dev/null | xargs -r kill -9 2>/dev/null || true
    ip netns del "$ns"
  done
  rm -f "$dir"/pids
}
trap teardown EXIT INT TERM
teardown

ip netns add $NS-hub
ip -n $NS-hub link add br0 type bridge
ip -n $NS-hub link set br0 up
for i in $(seq 1 "$nodes"); do
  ip netns add $NS-$i
  ip -n $NS-hub link add v$i type veth peer name eth0 netns $NS-$i
  ip -n $NS-hub link set v$i master br0 up
  ip -n $NS-$i link set lo up
  ip -n $NS-$i addr add 10.213.0.$i/24 dev eth0
  ip -n $NS-$i link set eth0 up
done

[ -f "$dir/authkey" ] || corosync-keygen -l -k "$dir/authkey" >/dev/null 2>&1
for i in $(seq 1 "$nodes"); do
  mkdir -p "$dir/state-$i"
  {
    printf 'totem {\n version: 2\n cluster_name: rgbench\n transport: knet\n'
    printf ' crypto_cipher: aes256\n crypto_hash: sha256\n keyfile: %s\n}\n' "$dir/authkey"
    printf 'system {\n state_dir: %s\n}\n' "$dir/state-$i"
    printf 'logging {\n to_logfile: yes\n logfile: %s\n to_syslog: no\n to_stderr: no\n timestamp: on\n}\n' \
      "$dir/corosync-$i.log"
    printf 'nodelist {\n'
    for j in $(seq 1 "$nodes"); do
      printf ' node {\n  nodeid: %s\n  name: n%s\n  ring0_addr: 10.213.0.%s\n }\n' "$j" "$j" "$j"
    done
    printf '}\n'
  } >"$dir/corosync-$i.conf"
  ip netns exec $NS-$i unshare -m --propagation private \
    sh -c "mount -t tmpfs rgbench-run /run && exec corosync -f -c $dir/corosync-$i.conf" \
    >"$dir/corosync-$i.out" 2>&1 &
  echo $! >>"$dir/pids"
done

args=(--nodes "$nodes" --size "$size" --seconds "$seconds" "$mode")
[ -n "$rate" ] && args+=("$rate")
# Wait for each corosync's IPC to answer, then start every client at once.
for i in $(seq 1 "$nodes"); do
  for attempt in $(seq 1 101); do
    ip netns exec $NS-$i corosync-cfgtool -s >/dev/null 2>&1 && break
    if [ "$attempt" = 101 ]; then
      echo "corosync.sh: corosync $i does not answer; see $dir/corosync-$i.out and .log" >&2
      exit 1
    fi
    sleep 0.1
  done
done
for i in $(seq 1 "$nodes"); do
  ip netns exec $NS-$i "$dir/cpgbench" "${args[@]}" >"$dir/client-$i.out" 2>&1 &
  echo $! >"$dir/client-$i.pid"
done

if [ "$mode" = --death ]; then
  # Once every client is in the group, let the ring carry messages a
  # while, then kill the last node's corosync (and with it its client)
  # without a word. A large cluster takes seconds to form.
  for i in $(seq 1 "$nodes"); do
    for attempt in $(seq 1 601); do
      grep -q "group complete" "$dir/client-$i.out" && break
      if [ "$attempt" = 601 ]; then echo "corosync.sh: client $i never saw the whole group" >&2; exit 1; fi
      sleep 0.1
    done
  done
  sleep 2
  killed_at=$(date +%s%6N)
  # The killed jobs' deaths are expected; keep the shell from reporting them.
  {
    ip netns pids $NS-"$nodes" | xargs -r kill -9
    for i in $(seq 1 "$nodes"); do wait "$(cat "$dir/client-$i.pid")" || true; done
  } 2>/dev/null
  worst=
  for i in $(seq 1 $((nodes - 1))); do
    after=$(sed -n 's/.*delivered_after_us=\([0-9]*\).*/\1/p' "$dir/client-$i.out")
    if [ -z "$after" ] || [ "$after" = 0 ]; then worst=none; break; fi
    ms=$(( (after - killed_at) / 1000 ))
    if [ -z "$worst" ] || [ "$ms" -gt "$worst" ]; then worst=$ms; fi
  done
  echo "system=corosync nodes=$nodes size=$size mode=death new_ring_delivering_ms=$worst"
  exit 0
fi

for i in $(seq 1 "$nodes"); do wait "$(cat "$dir/client-$i.pid")" || true; done
# The slowest node's delivered rate; latency percentiles of the node with
# the worst p99 (each client sees its own deliveries).
slowest= p50=0 p99=0 max=0
for i in $(seq 1 "$nodes"); do
  line=$(cat "$dir/client-$i.out")
  r=$(sed -n 's/.*msgs_per_s=\([0-9]*\).*/\1/p' <<<"$line")
  [ -n "$r" ] || { echo "corosync.sh: node $i: $line" >&2; exit 1; }
  if [ -z "$slowest" ] || [ "$r" -lt "$slowest" ]; then slowest=$r; fi
  q=$(sed -n 's/.*p99_us=\([0-9]*\).*/\1/p' <<<"$line")
  if [ "$q" -ge "$p99" ]; then
    p99=$q
    p50=$(sed -n 's/.*p50_us=\([0-9]*\).*/\1/p' <<<"$line")
    max=$(sed -n 's/.*max_us=\([0-9]*\).*/\1/p' <<<"$line")
  fi
done
echo "system=corosync nodes=$nodes size=$size mode=${mode#--}${rate} msgs_per_s=$slowest p50_us=$p50 p99_us=$p99 max_us=$max"
