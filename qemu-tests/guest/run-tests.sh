#!/bin/bash
# Runs each named test of qemu-tests/tests/ in the guest and judges it by its
# exit status and by the kernel log it left: any WARN, BUG, Oops, RCU stall or
# lockdep report fails the test even when the script itself passed. At the
# end, kmemleak is asked for leaks, which fail the run as a test of its own.
set -u
tests_dir=$RG_REPO/qemu-tests/tests
# RG_TEST_TIMEOUT, if set (`make soak` sets it), is every test's limit;
# otherwise a test's own (below) or 300 s.
per_test_timeout=${RG_TEST_TIMEOUT:-300}
bad_kernel_log='WARNING:|BUG:|Oops|kernel BUG|Call Trace|rcu: INFO|detected stall|general protection fault|UBSAN|possible circular locking|possible recursive locking|inconsistent lock state|suspicious RCU usage|kmemleak:.*leak'

echo clear > /sys/kernel/debug/kmemleak 2>/dev/null
dmesg -c >/dev/null

verdict() { # PASS|FAIL name seconds [details]
  echo "RINGGATE-TEST $1 $2 (${3}s)"
  [ -z "${4:-}" ] || printf '%s\n' "$4" | sed 's/^/    /'
}

for name in "$@"; do
  script=$tests_dir/$name.sh
  if [ ! -f "$script" ]; then
    verdict FAIL "$name" 0 "no such test: $script"
    continue
  fi
  # The shell's own words where a process would do (date, sed, head, cat,
  # grep): each start costs the TCG guest 0.2 s or more, paid for all 45
  # tests.
  started=$EPOCHSECONDS
  # A test that needs longer than the default says so in a line of its own,
  # "# vm-timeout: SECONDS" (the failover loop, whose rounds each wait for
  # a takeover and a rejoin, on a guest whose speed varies by machine).
  timeout_s=""
  while IFS= read -r line; do
    if [[ $line =~ ^"# vm-timeout: "([0-9]+)$ ]]; then
      timeout_s=${BASH_REMATCH[1]}
      break
    fi
  done <"$script"
  timeout_s=${RG_TEST_TIMEOUT:-${timeout_s:-$per_test_timeout}}
  # timeout runs the test in a process group of its own, so whatever the test
  # left running in the background can be killed with the group afterwards.
  # With RG_SLOW_STEPS=N the test runs from a copy whose first line sets a
  # DEBUG trap: the time before each command of the script goes to a file
  # of its own, not the test's output. Before, not after, as xtrace would
  # write it, so a command substitution's time counts at its own line.
  # Functions and sourced files do not inherit the trap (no set -T, which
  # would also spread lib.sh's ERR trap), so a function's whole time counts
  # at the line that called it. The copy has the test's name, which
  # lib.sh's failure messages show. The N slowest lines of the script are
  # shown after the verdict: where a slow guest spends a test's time.
  if [ "${RG_SLOW_STEPS:-0}" -gt 0 ]; then
    mkdir -p /tmp/traced
    {
      # shellcheck disable=SC2016
      echo 'exec 7>/tmp/test-trace; trap '\''printf "+%s|%s|%s\n" "$EPOCHREALTIME" "$LINENO" "$BASHPID" >&7'\'' DEBUG'
      cat "$script"
    } >"/tmp/traced/$name.sh"
    (cd /tmp && exec timeout --kill-after=10 "$timeout_s" bash "/tmp/traced/$name.sh" >/tmp/test-output 2>&1) &
  else
    (cd /tmp && exec timeout --kill-after=10 "$timeout_s" bash "$script" >/tmp/test-output 2>&1) &
  fi
  group=$!
  wait $group
  rc=$?
  output=$(</tmp/test-output)
  # Whatever a test left behind must not leak into the next one.
  kill -KILL -- -$group 2>/dev/null
  ip -all netns delete 2>/dev/null
  # The module must unload after every test: a refusal (a leaked reference,
  # say) fails this test, not the next one's load.
  unload=""
  loaded=""
  while read -r module _; do [ "$module" = ringgate ] && loaded=yes; done </proc/modules
  if [ -n "$loaded" ]; then
    unload=$(rmmod ringgate 2>&1) && unload="" || unload="rmmod after the test failed: ${unload:-no message}"
  fi
  kernel_log=$(dmesg -c)
  bad=""
  [[ $kernel_log =~ $bad_kernel_log ]] && bad=yes
  seconds=$((EPOCHSECONDS - started))
  if [ $rc -ne 0 ]; then
    # The reason first (a test's logs after it can push it out of the
    # tail), then the output's end.
    verdict FAIL "$name" "$seconds" "exit status $rc$([ $rc -eq 124 ] && echo ' (timeout)'); $(printf '%s\n' "$output" | sed -n '/^FAIL/,+12p' | head -13)
output's end:
$(printf '%s\n' "$output" | tail -n 40)"
  elif [ -n "$unload" ]; then
    verdict FAIL "$name" "$seconds" "$unload"
  elif [ -n "$bad" ]; then
    verdict FAIL "$name" "$seconds" "kernel log:
$(printf '%s\n' "$kernel_log" | tail -n 60)"
  else
    # Figures a test measured (lines starting "measured:") are shown even
    # when it passes.
    measured=""
    while IFS= read -r line; do
      [[ $line == measured:* ]] && measured+="${measured:+$'\n'}$line"
    done <<<"$output"
    verdict PASS "$name" "$seconds" "$measured"
  fi
  if [ "${RG_SLOW_STEPS:-0}" -gt 0 ] && [ -s /tmp/test-trace ]; then
    # Each line of the trace carries its time, its line in the copy (one
    # more than in the script) and its process. Only the test's own shell
    # counts (the process of the first line; command substitutions and
    # background jobs run in others): the time up to its next line is
    # summed under the script's line, so a loop's or a wait's whole time
    # counts at one line.
    awk -F'|' 'main == "" { main = $3 }
      $3 == main { t = substr($1, 2) + 0; line = $2 - 1
        if (pl != "") sum[pl] += t - pt
        pt = t; pl = line }
      END { for (l in sum) printf "%.1f %s\n", sum[l], l }' /tmp/test-trace |
      sort -rn | head -n "$RG_SLOW_STEPS" | while read -r secs line; do
        printf '    slow step: %s s at line %s: %s\n' "$secs" "$line" "$(sed -n "${line}p" "$script" | cut -c1-100)"
      done
    rm -f /tmp/test-trace
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
    verdict FAIL kmemleak 0 "$(printf '%s\n' "$leaks" | head -n 80)"
  else
    verdict PASS kmemleak 0
  fi
else
  verdict FAIL kmemleak 0 "kmemleak is not available in this kernel"
fi

# KFENCE reports land in the kernel log as "BUG: KFENCE: ...", which fails
# the test that caused them; this verdict only proves it was watching: on,
# and it guarded some of the objects the tests allocated.
kfence=/sys/kernel/debug/kfence/stats
if [ -r "$kfence" ] && grep -q '^enabled: 1' "$kfence"; then
  guarded=$(awk -F': ' '/^total allocations/ {print $2}' "$kfence")
  if [ "${guarded:-0}" -gt 0 ]; then
    verdict PASS kfence 0
  else
    verdict FAIL kfence 0 "KFENCE guarded no allocation: $(cat "$kfence")"
  fi
else
  verdict FAIL kfence 0 "KFENCE is not enabled in this kernel"
fi
