#!/bin/bash
# `make bench-ring`: ringgate's token ring beside corosync 3, measured the
# same way (see README.md, "Benchmark"). As root on Debian 12; installs what
# it needs without asking. Prints a side-by-side table.
#
#   RG_BENCH_SECONDS  measured seconds per figure (default 10)
#   RG_BENCH_REPS     repetitions of each figure (default 3)
#   RG_BENCH_NODES    node counts (default "3 5 8")
#   RG_BENCH_SIZES    message sizes in bytes (default "64 1024 8192")
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
userd=$(dirname "$here")
seconds=${RG_BENCH_SECONDS:-10}
reps=${RG_BENCH_REPS:-3}
node_counts=${RG_BENCH_NODES:-3 5 8}
sizes=${RG_BENCH_SIZES:-64 1024 8192}

[ "$(id -u)" = 0 ] || { echo "bench-ring: run as root (network namespaces, corosync)" >&2; exit 1; }
for v in "$seconds" "$reps"; do
  [[ "$v" =~ ^[1-9][0-9]*$ ]] || { echo "bench-ring: RG_BENCH_SECONDS and RG_BENCH_REPS are whole numbers" >&2; exit 1; }
done

packages=(corosync libcpg-dev build-essential iproute2 util-linux procps)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "bench-ring: installing ${missing[*]}" >&2
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq </dev/null
  apt-get install -y -qq --no-install-recommends "${missing[@]}" </dev/null >&2
fi

work=$(mktemp -d /tmp/bench-ring.XXXXXX)
trap 'rm -rf "$work"' EXIT
gcc -O2 -Wall -Wextra -o "$work/cpgbench" "$here/cpgbench.c" -lcpg
(cd "$userd" && cargo build --locked --release -q -p ringgated --bin ringgated --example proc_bench)
ringgated=$userd/target/release/ringgated
proc_bench=$userd/target/release/examples/proc_bench

# One figure: prints the key=value line, with the 1-minute load average
# before it ran appended.
figure() {
  local system=$1; shift
  local load; load=$(cut -d' ' -f1 /proc/loadavg)
  local line
  if [ "$system" = ringgate ]; then
    line=$("$proc_bench" --ringgated "$ringgated" "$@")
  else
    line=$("$here/corosync.sh" "$@" --dir "$work")
  fi
  echo "$line load=$load"
}

# field KEY LINES...: the values of KEY in the lines, one a line.
field() { local key=$1; shift; printf '%s\n' "$@" | sed -n "s/.* $key=\([^ ]*\).*/\1/p"; }
# spread VALUES...: "min/median/max" (numeric; "none" sorts last).
spread() {
  printf '%s\n' "$@" | sort -g | awk '{v[NR]=$1} END {printf "%s/%s/%s", v[1], v[int((NR+1)/2)], v[NR]}'
}
median() { printf '%s\n' "$@" | sort -g | awk '{v[NR]=$1} END {print v[int((NR+1)/2)]}'; }
# ratio A B: A/B, or "-" unless both are numbers ("none": no new ring).
ratio() {
  awk -v a="$1" -v b="$2" 'BEGIN {
    if (a ~ /^[0-9.]+$/ && b ~ /^[0-9.]+$/ && b > 0) printf "%.2f", a / b; else print "-" }'
}

results=$work/results
: >"$results"
# The host's own latency tail, before any system runs: how late a thread
# that sleeps 500 us wakes. Every hop of a message waits for such a
# wake-up, on both systems alike.
jitter_before=$("$proc_bench" --jitter --seconds "$seconds")
echo "$jitter_before" >&2
# Low load: each node submits this many messages a second, on a fixed
# schedule; what the latency tail is when the cores are mostly idle.
low_rate=500
for n in $node_counts; do
  for size in $sizes; do
    for system in ringgate corosync; do
      max_lines=()
      for _ in $(seq "$reps"); do
        max_lines+=("$(figure "$system" --nodes "$n" --size "$size" --seconds "$seconds" --max)")
        echo "${max_lines[-1]}" | tee -a "$results" >&2
      done
      # Half load: each node submits a share of half this system's median
      # maximum, on a fixed schedule.
      med=$(median $(field msgs_per_s "${max_lines[@]}"))
      per_node=$(awk -v m="$med" -v n="$n" 'BEGIN { r = m / 2 / n; printf "%.0f", r < 1 ? 1 : r }')
      for _ in $(seq "$reps"); do
        figure "$system" --nodes "$n" --size "$size" --seconds "$seconds" --rate "$per_node" |
          tee -a "$results" >&2
      done
    done
  done
  for system in ringgate corosync; do
    for _ in $(seq "$reps"); do
      figure "$system" --nodes "$n" --size 64 --seconds "$seconds" --death | tee -a "$results" >&2
    done
  done
  for system in ringgate corosync; do
    for _ in $(seq "$reps"); do
      echo "$(figure "$system" --nodes "$n" --size 1024 --seconds "$seconds" --rate "$low_rate") phase=low" |
        tee -a "$results" >&2
    done
  done
done
jitter_after=$("$proc_bench" --jitter --seconds "$seconds")
echo "$jitter_after" >&2

# The table: min/median/max over the repetitions; ratios of the medians.
mapfile -t all <"$results"
pick() { printf '%s\n' "${all[@]}" | grep -v "phase=low" | grep -E "system=$1 nodes=$2 size=$3 mode=$4( |$)" || true; }
pick_low() { printf '%s\n' "${all[@]}" | grep -E "system=$1 nodes=$2 size=1024 .*phase=low" || true; }
echo
echo "token ring: ringgate (one ringgated per node, client on its control socket) vs corosync $(corosync -v | sed -n 's/.*version .\([0-9.]*\).*/\1/p') (knet, aes256/sha256, libcpg client)"
echo "${seconds} s per figure, ${reps} repetitions (min/median/max), AGREED messages delivered per second at the slowest node;"
echo "latency from the intended send time at half of each system's own median maximum, medians of p50/p99 (us)"
printf '%-5s %-6s | %-22s %-22s %-6s | %-15s %-15s | %-11s\n' nodes size "ringgate msg/s" "corosync msg/s" ratio "rg p50/p99" "cs p50/p99" "load"
for n in $node_counts; do
  for size in $sizes; do
    mapfile -t rg < <(pick ringgate "$n" "$size" max)
    mapfile -t cs < <(pick corosync "$n" "$size" max)
    mapfile -t rgh < <(pick ringgate "$n" "$size" 'rate[0-9.]+')
    mapfile -t csh < <(pick corosync "$n" "$size" 'rate[0-9.]+')
    [ ${#rg[@]} -gt 0 ] && [ ${#cs[@]} -gt 0 ] || continue
    loads=$(spread $(field load "${rg[@]}" "${cs[@]}" "${rgh[@]}" "${csh[@]}"))
    printf '%-5s %-6s | %-22s %-22s %-6s | %-15s %-15s | %-11s\n' "$n" "$size" \
      "$(spread $(field msgs_per_s "${rg[@]}"))" "$(spread $(field msgs_per_s "${cs[@]}"))" \
      "$(ratio "$(median $(field msgs_per_s "${rg[@]}"))" "$(median $(field msgs_per_s "${cs[@]}"))")" \
      "$(median $(field p50_us "${rgh[@]}"))/$(median $(field p99_us "${rgh[@]}"))" \
      "$(median $(field p50_us "${csh[@]}"))/$(median $(field p99_us "${csh[@]}"))" "$loads"
  done
done
echo
echo "node death -> survivors' new ring delivering (ms, slowest survivor; min/median/max)"
for n in $node_counts; do
  mapfile -t rg < <(pick ringgate "$n" 64 death)
  mapfile -t cs < <(pick corosync "$n" 64 death)
  printf '%-5s ringgate %-20s corosync %-20s ratio %s\n' "$n" \
    "$(spread $(field new_ring_delivering_ms "${rg[@]}"))" "$(spread $(field new_ring_delivering_ms "${cs[@]}"))" \
    "$(ratio "$(median $(field new_ring_delivering_ms "${rg[@]}"))" "$(median $(field new_ring_delivering_ms "${cs[@]}"))")"
done
echo
echo "low load: each node submits $low_rate 1 KB messages a second; p50/p99 (us), min/median/max of the p99s"
for n in $node_counts; do
  mapfile -t rg < <(pick_low ringgate "$n")
  mapfile -t cs < <(pick_low corosync "$n")
  printf '%-5s ringgate %s p99 %-20s corosync %s p99 %-20s\n' "$n" \
    "$(median $(field p50_us "${rg[@]}"))/$(median $(field p99_us "${rg[@]}"))" "$(spread $(field p99_us "${rg[@]}"))" \
    "$(median $(field p50_us "${cs[@]}"))/$(median $(field p99_us "${cs[@]}"))" "$(spread $(field p99_us "${cs[@]}"))"
done
echo
echo "the host: a thread sleeping 500 us wakes late by (us; before and after the runs, ${seconds} s each):"
for line in "$jitter_before" "$jitter_after"; do
  echo "  p50 $(field late_p50_us "$line")  p99 $(field late_p99_us "$line")  max $(field late_max_us "$line")  2 ms or more late: $(field late_2ms "$line") of $(field wakeups "$line")"
done
echo "targets (issue 10): >= 2x corosync's 1 KB msg/s at 3 and 5 nodes; p99 <= 2 ms at half load; new ring delivering <= 100 ms"
