#!/usr/bin/env bash
# Boots the test kernel under QEMU with the host's root filesystem shared
# read-only over 9p, and runs either the VM tests or the demo inside it.
#
#   run-vm.sh --kernel BZIMAGE --ksrc KERNEL_SOURCE test [TEST...]
#   run-vm.sh --kernel BZIMAGE --ksrc KERNEL_SOURCE demo
#
# Why the host's root over 9p rather than an initramfs: the guest then runs
# exactly the Debian userland (iproute2, ping, python3 for the kernel's YNL
# client) and the freshly built ringgate binaries without copying anything,
# and nothing but the kernel command line decides what runs. The guest has no
# network device that leaves the VM (-nic none): all test traffic stays in
# namespaces inside it.
#
# For tests, prints a line per test and closes with "N passed, N failed"; a
# guest that panics (WARN is fatal: panic_on_warn) or times out counts as one
# more failure. The full serial log is kept in qemu-tests/out/.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/.." && pwd)
# The whole VM run's limit: the 41 tests took 25 to 28 minutes under TCG on
# one machine and take longer on a slower one (1200 s cut a fresh-clone run
# off 12 verdicts short once l7-resume came), so 50 minutes, well inside
# CI's 90.
kernel= ksrc= module=ringgate.ko timeout_s=${RINGGATE_VM_TIMEOUT:-3000}
while [ $# -gt 0 ]; do
  case "$1" in
    --kernel) kernel=$2; shift 2 ;;
    --ksrc) ksrc=$2; shift 2 ;;
    --timeout) timeout_s=$2; shift 2 ;;
    # The module the guest loads, a path inside the repository (the bench
    # builds one against its own kernel).
    --module) module=$2; shift 2 ;;
    *) break ;;
  esac
done
mode=${1:?usage: run-vm.sh --kernel BZIMAGE --ksrc DIR test|demo|bench [TEST...]}
shift
[ -f "$kernel" ] || { echo "run-vm: no kernel image at '$kernel'" >&2; exit 1; }

tests=""
if [ "$mode" = test ]; then
  if [ $# -eq 0 ]; then
    tests=$(cd "$here/tests" && ls *.sh | sed 's/\.sh$//' | paste -sd, -)
  else
    tests=$(printf '%s\n' "$@" | sed 's/\.sh$//' | paste -sd, -)
  fi
elif [ "$mode" = bench ] && [ $# -gt 0 ]; then
  # The benches to run (nat, failover); all of them without any.
  tests=$(printf '%s\n' "$@" | paste -sd, -)
fi

# KVM only when it really works: here /dev/kvm exists but nested
# virtualisation fails, so probe by booting the kernel far enough to print.
accel=(-accel tcg,thread=multi -cpu max)
if [ -z "${RINGGATE_FORCE_TCG:-}" ] && [ -w /dev/kvm ]; then
  if timeout 20 qemu-system-x86_64 -accel kvm -cpu host -m 256 -nodefaults -no-reboot \
       -display none -serial stdio -kernel "$kernel" \
       -append "console=ttyS0 panic=-1 init=/nonexistent" </dev/null 2>/dev/null \
       | grep -q "Linux version"; then
    accel=(-accel kvm -cpu host)
  fi
fi

out=$here/out
mkdir -p "$out"
log=$out/serial-$mode.log

cmdline=(
  console=ttyS0 loglevel=4
  root=/dev/root rootfstype=9p rootflags=trans=virtio,version=9p2000.L,msize=262144,cache=loose ro
  init="$here/guest/init.sh"
  panic_on_warn=1 panic=-1 oops=panic kmemleak=on
  rg.mode="$mode" rg.tests="$tests" rg.module="$module"
  rg.bench_rounds="${RG_BENCH_ROUNDS:-5}" rg.bench_seconds="${RG_BENCH_SECONDS:-5}"
  rg.bench_kills="${RG_BENCH_KILLS:-20}" rg.bench_load_seconds="${RG_BENCH_LOAD_SECONDS:-60}"
  rg.failover_rounds="${RG_FAILOVER_ROUNDS:-10}" rg.bench_sync_conns="${RG_BENCH_SYNC_CONNS:-1000}"
  rg.test_timeout="${RG_TEST_TIMEOUT:-0}" rg.slow_steps="${RG_SLOW_STEPS:-0}"
)
# The repository and the kernel source are also exported on their own, and
# the guest mounts them at fixed paths: wherever they live on the host (a CI
# clone under /tmp, say), the guest's own tmpfs mounts cannot hide them.
share() { # tag path
  echo "-fsdev local,id=$1,path=$2,security_model=none,readonly=on,multidevs=remap"
  echo "-device virtio-9p-pci,fsdev=$1,mount_tag=$1"
}
shares=($(share rgrepo "$repo") $(share rgksrc "$ksrc"))

: > "$log"
echo "run-vm: booting ($([ "${accel[1]}" = kvm ] && echo KVM || echo TCG)), serial log in $log" >&2
set +e
timeout --foreground "$timeout_s" qemu-system-x86_64 "${accel[@]}" -smp 2 -m 2G \
  -nodefaults -no-reboot -display none -nic none \
  -serial stdio -kernel "$kernel" -append "${cmdline[*]}" \
  -fsdev local,id=root,path=/,security_model=none,readonly=on,multidevs=remap \
  -device virtio-9p-pci,fsdev=root,mount_tag=/dev/root \
  "${shares[@]}" -device virtio-rng-pci </dev/null >"$log" 2>&1 &
qemu=$!
# Show progress as it happens: test verdicts in test mode, everything in demo mode.
tail -n +1 -F --pid=$qemu "$log" 2>/dev/null | if [ "$mode" = test ]; then
  grep --line-buffered -E '^RINGGATE-TEST |^    |^\[ *[0-9.]+\] (.*(WARNING|BUG|Oops|panic).*)$'
else
  grep --line-buffered -v -E '^\[ *[0-9.]+\] |^RINGGATE-VM-DONE'
fi &
tailer=$!
wait $qemu
status=$?
# tail follows the log until QEMU is gone (--pid), then the filter ends too.
wait $tailer 2>/dev/null
set -e

done_marker=$(grep -c '^RINGGATE-VM-DONE' "$log" || true)
if [ "$mode" != test ]; then
  [ "$done_marker" -ge 1 ] || { echo "run-vm: the $mode did not finish (qemu exit $status); see $log" >&2; exit 1; }
  exit 0
fi

passed=$(grep -c '^RINGGATE-TEST PASS' "$log" || true)
failed=$(grep -c '^RINGGATE-TEST FAIL' "$log" || true)
# Every requested test and the final kmemleak and kfence checks must report
# a verdict; a test that never reported (the guest died, or never ran it) has
# failed.
expected=$(( $(tr ',' '\n' <<<"$tests" | grep -c .) + 2 ))
missing=$(( expected - passed - failed ))
if [ "$done_marker" -lt 1 ] || [ "$missing" -gt 0 ]; then
  echo "run-vm: $missing of $expected verdicts missing (qemu exit $status: a kernel panic, WARN, timeout or a broken guest); last lines of $log:" >&2
  tail -n 60 "$log" >&2
  failed=$((failed + (missing > 0 ? missing : 1)))
fi
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
