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

. "$RG_REPO/qemu-tests/bench/thread-ticks.sh"

# sample WHAT: the shares of one SAMPLE-second stretch.
sample() {
  ticks_mark
  sleep "$SAMPLE"
  ticks_shares idle-bench "$1"
}

module_loaded || load_module
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
