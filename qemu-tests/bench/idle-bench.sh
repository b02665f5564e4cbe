#!/bin/bash
# What an idle cluster costs: three gateways (cluster-lib.sh's topology and
# the VM tests' settings), settled, no traffic, and where the guest's CPU
# went over SAMPLE seconds, by thread: each daemon's ring thread, its session
# worker (which reads the module's session table up to five times a
# second), its other threads, kernel threads, everything else, and idle.
# Shares of the guest's total ticks, not seconds: a TCG guest's clock and
# tick accounting are too uneven to compare absolute figures across runs.
# Twice: with the VM tests' idle token hold (20 ms) and with 100 ms, because
# the idle token is most of what is left. It asserts nothing.
# `make bench BENCHES=idle`; RG_BENCH_SECONDS per figure (default 5, used
# here doubled).
#
# Measured this way on the test kernel (lockdep, kmemleak) before the
# session table's occupancy bits: the three session workers took 15 % of
# the guest's CPU, the three ring threads 27 %, idle 25 %.
. "$RG_REPO/qemu-tests/lib.sh"
. "$RG_REPO/qemu-tests/cluster-lib.sh"
set +e

SAMPLE=$((2 * ${RG_BENCH_SECONDS:-5}))

# Every thread of the guest: "TID COMM KIND TICKS", KIND kernel for kernel
# threads (PF_KTHREAD in their flags), daemon for a ringgated's threads,
# other otherwise. One awk over every stat file: under TCG a process per
# thread would cost more than the stretch measured.
threads() {
  awk '{ pid = FILENAME; sub(/^\/proc\//, "", pid); sub(/\/.*/, "", pid)
         tid = FILENAME; sub(/\/stat$/, "", tid); sub(/.*\//, "", tid)
         comm = $0; sub(/^[^(]*\(/, "", comm); sub(/\) [^)]*$/, "", comm); gsub(/ /, "", comm)
         rest = $0; sub(/^.*\) /, "", rest); split(rest, f, " ")
         if (tid == pid) main[pid] = comm
         owner[tid] = pid; name[tid] = comm; ticks[tid] = f[12] + f[13]
         kthread[tid] = int(f[7] / 2097152) % 2 }
       END { for (t in name) printf "%s %s %s %d\n", t, name[t],
               kthread[t] ? "kernel" : main[owner[t]] == "ringgated" ? "daemon" : "other", ticks[t] }' \
    /proc/[0-9]*/task/[0-9]*/stat 2>/dev/null | sort
}

# sample WHAT: the shares of one SAMPLE-second stretch.
sample() {
  local before after t0 t1
  read -r _ u0 n0 s0 i0 w0 q0 sq0 _ </proc/stat
  before=$(threads)
  sleep "$SAMPLE"
  read -r _ u1 n1 s1 i1 w1 q1 sq1 _ </proc/stat
  after=$(threads)
  t0=$((u0 + n0 + s0 + i0 + w0 + q0 + sq0)) t1=$((u1 + n1 + s1 + i1 + w1 + q1 + sq1))
  join <(printf '%s\n' "$before") <(printf '%s\n' "$after") | awk -v total=$((t1 - t0)) \
    -v idle=$((i1 - i0)) -v what="$1" '
    { d = $7 - $4; if (d < 0) d = 0
      role = $3 == "daemon" ? ($2 == "ringgated" ? "ring threads" : $2 == "sessions" ? "session workers" : "other daemon threads") : $3 == "kernel" ? "kernel threads" : "other processes"
      sum[role] += d }
    END { printf "idle-bench: %s: idle %.0f %%", what, 100 * idle / total
      n = split("ring threads,session workers,other daemon threads,kernel threads,other processes", order, ",")
      for (i = 1; i <= n; i++) printf ", %s %.1f %%", order[i], 100 * sum[order[i]] / total
      printf " (of %d ticks, both vCPUs)\n", total }'
}

load_module
cluster_net 3 2 "10.9.0.100 10.9.0.101 10.9.0.102"
cluster_toml() { printf '[cluster]\n[cluster.settings]\nhold_ms = 600000\n%s\n' "$TCG_FENCES"; service_vips; }
for hold in 20 100; do
  TCG_RING_TIMEOUTS="[timeouts]
token_loss_ms = 250
token_hold_ms = $hold"
  for n in $GATEWAYS; do
    gateway_config "$n" $CL/key "$(cluster_toml)"
    start_gateway "$n"
  done
  ( wait_settled 3 1 2 3 ) || { echo "idle-bench: the cluster did not settle (token hold $hold ms)"; continue; }
  sample "3 gateways settled, no traffic, idle token held $hold ms"
  for n in $GATEWAYS; do kill_gateway "$n"; done
done
