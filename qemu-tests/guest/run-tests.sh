#!/bin/bash
# Runs each named test of qemu-tests/tests/ in the guest and judges it by its
# exit status and by the kernel log it left: any WARN, BUG, Oops, RCU stall or
# lockdep report fails the test even when the script itself passed. At the
# end, kmemleak is asked for leaks, which fail the run as a test of its own.
set -u
tests_dir=$RG_REPO/qemu-tests/tests
per_test_timeout=${RG_TEST_TIMEOUT:-300}
bad_kernel_log='WARNING:|BUG:|Oops|kernel BUG|Call Trace|rcu: INFO|detected stall|general protection fault|UBSAN|possible circular locking|possible recursive locking|inconsistent lock state|suspicious RCU usage|kmemleak:.*leak'

echo clear > /sys/kernel/debug/kmemleak 2>/dev/null
dmesg -c >/dev/null

verdict() { # PASS|FAIL name [details]
  echo "RINGGATE-TEST $1 $2"
  [ -z "${3:-}" ] || printf '%s\n' "$3" | sed 's/^/    /'
}

for name in "$@"; do
  script=$tests_dir/$name.sh
  if [ ! -f "$script" ]; then
    verdict FAIL "$name" "no such test: $script"
    continue
  fi
  # timeout runs the test in a process group of its own, so whatever the test
  # left running in the background can be killed with the group afterwards.
  (cd /tmp && exec timeout --kill-after=10 "$per_test_timeout" bash "$script" >/tmp/test-output 2>&1) &
  group=$!
  wait $group
  rc=$?
  output=$(cat /tmp/test-output)
  # Whatever a test left behind must not leak into the next one.
  kill -KILL -- -$group 2>/dev/null
  ip -all netns delete 2>/dev/null
  grep -q '^ringgate ' /proc/modules && rmmod ringgate 2>&1
  kernel_log=$(dmesg -c)
  bad=$(printf '%s\n' "$kernel_log" | grep -E "$bad_kernel_log")
  if [ $rc -ne 0 ]; then
    verdict FAIL "$name" "exit status $rc$([ $rc -eq 124 ] && echo ' (timeout)'); output:
$(printf '%s\n' "$output" | tail -n 40)"
  elif [ -n "$bad" ]; then
    verdict FAIL "$name" "kernel log:
$(printf '%s\n' "$kernel_log" | tail -n 60)"
  else
    verdict PASS "$name"
  fi
done

# kmemleak only reports objects older than five seconds, and the first scan
# can miss what a second one finds.
if [ -e /sys/kernel/debug/kmemleak ]; then
  sleep 6
  echo scan > /sys/kernel/debug/kmemleak
  echo scan > /sys/kernel/debug/kmemleak
  leaks=$(cat /sys/kernel/debug/kmemleak)
  if [ -n "$leaks" ]; then
    verdict FAIL kmemleak "$(printf '%s\n' "$leaks" | head -n 80)"
  else
    verdict PASS kmemleak
  fi
else
  verdict FAIL kmemleak "kmemleak is not available in this kernel"
fi
