#!/bin/bash
# PID 1 of the test VM. The root filesystem is the host's, read-only over 9p;
# everything the guest writes goes to tmpfs. Hands over to the test runner or
# the demo, then reboots, which ends QEMU (-no-reboot).
export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
export HOME=/tmp TERM=dumb LANG=C.UTF-8

mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev 2>/dev/null
mkdir -p /dev/pts /dev/shm
mount -t devpts devpts /dev/pts
mount -t tmpfs tmpfs /dev/shm
for dir in /tmp /run /var/tmp /var/log; do mount -t tmpfs tmpfs "$dir"; done
mount -t debugfs debugfs /sys/kernel/debug
ip link set lo up

# The repository and the kernel source arrive as 9p shares of their own.
mount -t tmpfs tmpfs /mnt
mkdir -p /mnt/repo /mnt/ksrc
opts=trans=virtio,version=9p2000.L,msize=262144,cache=loose,ro
mount -t 9p -o $opts rgrepo /mnt/repo
mount -t 9p -o $opts rgksrc /mnt/ksrc
export RG_REPO=/mnt/repo RG_KSRC=/mnt/ksrc

for arg in $(cat /proc/cmdline); do
  case "$arg" in
    rg.mode=*) mode=${arg#rg.mode=} ;;
    rg.tests=*) tests=${arg#rg.tests=} ;;
    rg.module=*) export RG_MODULE=$RG_REPO/${arg#rg.module=} ;;
    rg.bench_rounds=*) export RG_BENCH_ROUNDS=${arg#rg.bench_rounds=} ;;
    rg.bench_seconds=*) export RG_BENCH_SECONDS=${arg#rg.bench_seconds=} ;;
    rg.bench_kills=*) export RG_BENCH_KILLS=${arg#rg.bench_kills=} ;;
    rg.bench_load_seconds=*) export RG_BENCH_LOAD_SECONDS=${arg#rg.bench_load_seconds=} ;;
    rg.failover_rounds=*) export RG_FAILOVER_ROUNDS=${arg#rg.failover_rounds=} ;;
    rg.bench_sync_conns=*) export RG_BENCH_SYNC_CONNS=${arg#rg.bench_sync_conns=} ;;
    # 0: each test's own limit (see run-tests.sh).
    rg.slow_steps=[1-9]*) export RG_SLOW_STEPS=${arg#rg.slow_steps=} ;;
    rg.test_timeout=[1-9]*) export RG_TEST_TIMEOUT=${arg#rg.test_timeout=} ;;
  esac
done

case "$mode" in
  test) bash "$RG_REPO/qemu-tests/guest/run-tests.sh" ${tests//,/ } ;;
  demo) bash "$RG_REPO/qemu-tests/demo.sh" ;;
  # The failover bench builds its own namespaces, and its client is also
  # called cl: the NAT bench's namespaces go first. Its iperf3 and httpd
  # stay alive in namespaces nobody can reach any more, idle.
  bench)
    : >/tmp/bench-summary
    # All by default; rg.tests names the ones to run (make bench BENCHES=...).
    case " ${tests//,/ } " in "  " | *" nat "*) bash "$RG_REPO/qemu-tests/bench/nat-bench.sh" ;; esac
    ip -all netns delete
    case " ${tests//,/ } " in "  " | *" failover "*) bash "$RG_REPO/qemu-tests/bench/failover-bench.sh" ;; esac
    ip -all netns delete
    case " ${tests//,/ } " in "  " | *" sync "*) bash "$RG_REPO/qemu-tests/bench/sync-bench.sh" ;; esac
    ip -all netns delete
    case " ${tests//,/ } " in "  " | *" sync-cost "*) bash "$RG_REPO/qemu-tests/bench/sync-cost-bench.sh" ;; esac
    ip -all netns delete
    case " ${tests//,/ } " in "  " | *" survival "*) bash "$RG_REPO/qemu-tests/bench/survival-bench.sh" ;; esac
    ip -all netns delete
    case " ${tests//,/ } " in "  " | *" l7 "*) bash "$RG_REPO/qemu-tests/bench/l7-bench.sh" ;; esac
    ip -all netns delete
    case " ${tests//,/ } " in "  " | *" idle "*) bash "$RG_REPO/qemu-tests/bench/idle-bench.sh" ;; esac
    bash -c ". $RG_REPO/qemu-tests/bench/summary.sh; summary_table"
    ;;
esac
echo "RINGGATE-VM-DONE"
/bin/busybox reboot -f
