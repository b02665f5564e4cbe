#!/bin/bash
# `ringgatectl monitor` against the real module: taking and releasing a VIP
# print one line each as they happen, in words and with --json as one
# object a line. (A loss of notifications, ENOBUFS, and the re-dump that
# answers it are tested on the host: the module cannot be made to overflow
# a socket on demand.)
. "$RG_REPO/qemu-tests/lib.sh"

VIP=10.9.0.100
gw() { ctl_in gw "$@"; }
# start_monitor OUT ARGS...: runs `ringgatectl monitor ARGS` in gw into OUT
# and waits for its readiness line (it has joined the group by then).
start_monitor() {
  local out=$1; shift
  gw monitor "$@" >"$out" 2>"$out.err" &
  for _ in $(seq 300); do grep -q 'monitoring the events group' "$out.err" && return 0; sleep 0.1; done
  fail "monitor did not start: $(cat "$out.err")"
}
# wait_lines FILE N: waits until FILE has N lines.
wait_lines() {
  for _ in $(seq 300); do [ "$(wc -l <"$1")" -ge "$2" ] && return 0; sleep 0.1; done
  fail "$1 has $(wc -l <"$1") lines, not $2: $(cat "$1")"
}

load_module
gateway_line be1
gw vip add "$VIP"

start_monitor /tmp/words
start_monitor /tmp/json --json
gw vip own "$VIP"
gw vip release "$VIP"
wait_lines /tmp/words 2
wait_lines /tmp/json 2
expect_eq "$(cat /tmp/words)" "vip-owner $VIP owned
vip-owner $VIP released" "monitor lines"
jq -ne '[inputs] == [
    {"event": "vip-owner", "addr": "10.9.0.100", "owned": true},
    {"event": "vip-owner", "addr": "10.9.0.100", "owned": false}
  ]' /tmp/json >/dev/null || fail "monitor --json: $(cat /tmp/json)"
