#!/bin/bash
# ringgatectl for scripts, against the real module: each kind of failure has
# its exit code (3 module not loaded, 4 not found, 2 bad input), `--json` is
# accepted before and after the subcommand with addresses and ports as
# separate fields, and every line of a table has as many fields as its
# header (so awk reads the same column on every line); `-n NS` works in
# namespace NS as `ip netns exec NS` does.
. "$RG_REPO/qemu-tests/lib.sh"

VIP=10.9.0.100
gw() { ctl_in gw "$@"; }
# exit_code CMD...: the exit status of ringgatectl CMD in gw, its output dropped.
exit_code() { local rc=0; gw "$@" >/dev/null 2>&1 || rc=$?; echo "$rc"; }
# same_fields: fails unless every line of stdin has as many fields as the first.
same_fields() { awk 'NR == 1 {n = NF} NF != n {bad = 1} END {exit bad}'; }

gateway_line be1
expect_eq "$(exit_code status)" 3 "exit code without the module"

load_module
expect_eq "$(exit_code vip del 10.9.0.99)" 4 "exit code of deleting a VIP not in the pool"
expect_eq "$(exit_code vip own 10.9.0.99)" 4 "exit code of taking a VIP not in the pool"
expect_eq "$(exit_code service set 10.9.0.99 80 --scheduler lc)" 4 "exit code of changing a missing service"
expect_eq "$(exit_code vip add 127.0.0.1)" 2 "exit code of a loopback VIP"
expect_eq "$(exit_code vip add not-an-address)" 2 "exit code of a usage error"
expect_eq "$(exit_code backend set 10.9.0.99 80 10.8.0.2:80 --weight 0)" 2 "exit code of an out-of-range weight"

gw vip add "$VIP"
gw vip own "$VIP"
gw vip add 10.9.0.101 --garp-count 5
gw backend add "$VIP" 80 10.8.0.2:8080 --weight 3
gw backend add "$VIP" 80 10.8.0.3:8080
gw backend set "$VIP" 80 10.8.0.3:8080 --down
gw service add "$VIP" 53 --proto udp --scheduler hash
expect_eq "$(exit_code backend set "$VIP" 80 10.8.0.9:8080 --up)" 4 "exit code of changing a missing back-end"

# status: a version line, the hook table, a blank line, one counter a line.
gw status | sed -n '2,/^$/p' | sed '/^$/d' | same_fields || fail "status hook table: $(gw status)"
gw status | sed '1,/^$/d' | same_fields || fail "status counters: $(gw status)"
for listing in "vip list" "backend list" "service list" "status" "config show" "sessions"; do
  # shellcheck disable=SC2086
  [ "$listing" = status ] || gw $listing | same_fields || fail "'$listing' lines differ in fields: $(gw $listing)"
  # The global option and the command's own print the same document; the
  # status counters and the sessions' remaining lifetimes move between the
  # two calls, so those compare by their fields.
  # (gojq prints an object's keys sorted, so equal documents print alike.)
  case $listing in
    status) same='[paths]' ;;
    sessions) same='map(del(.expires_ms))' ;;
    *) same='.' ;;
  esac
  # shellcheck disable=SC2086
  global=$(gw -j $listing | jq -c "$same") || fail "'-j $listing' printed no JSON"
  # shellcheck disable=SC2086
  own=$(gw $listing --json | jq -c "$same") || fail "'$listing --json' printed no JSON"
  [ -n "$global" ] || fail "'-j $listing' printed nothing"
  expect_eq "$global" "$own" "'-j $listing' and '$listing --json'"
done
expect_eq "$(gw vip list | awk '$1 == "10.9.0.100" {print $2}')" yes "the owned column"
expect_eq "$(gw backend list | awk '$5 == "10.8.0.3" {print $8}')" down "the state column"
expect_eq "$(gw backend list | awk '$2 == 53 {print $5}')" - "a service without back-ends"
gw -j backend list | jqr '
def service($key): [.[] | select([get("vip"), get("port"), get("proto")] == $key)]
  | if length == 0 then error("KeyError: \($key)") else last end;
service(["10.9.0.100", 80, "tcp"]) as $web
| if [$web | get("backends")[] | [get("addr"), get("port"), get("weight"), get("up")]]
     != [["10.8.0.2", 8080, 3, true], ["10.8.0.3", 8080, 1, false]] then error($web | tojson) else . end
| if (service(["10.9.0.100", 53, "udp"]) | get("scheduler")) != "hash" then error("AssertionError") else empty end
'

# -n NS reaches NS's module (the one `ip netns exec NS` reaches), not this
# shell's: the test's own namespace has no VIP. A namespace nobody added,
# or a name with a '/', is bad input (not "not found", which scripts read
# as "already gone"), said as such. Then what -n saves a call.
expect_eq "$(ringgatectl -n gw save)" "$(ip netns exec gw "$RG_REPO/userd/target/release/ringgatectl" save)" \
  "save through -n gw and through ip netns exec gw"
expect_eq "$(ringgatectl vip list --json)" "[]" "the VIPs of the test's own namespace"
for name in no-such-ns ../gw; do
  rc=0; err=$(ringgatectl -n "$name" status 2>&1 >/dev/null) || rc=$?
  expect_eq "$rc" 2 "exit code of -n $name"
  [[ $err == *"network namespace"* ]] || fail "-n $name: $err"
done
# EPOCHREALTIME without its dot counts microseconds.
start=${EPOCHREALTIME/./}
for _ in 1 2 3 4 5; do ringgatectl -n gw vip list >/dev/null; done
with_n=$(((${EPOCHREALTIME/./} - start) / 5000))
start=${EPOCHREALTIME/./}
for _ in 1 2 3 4 5; do ip netns exec gw "$RG_REPO/userd/target/release/ringgatectl" vip list >/dev/null; done
with_exec=$(((${EPOCHREALTIME/./} - start) / 5000))
echo "measured: one 'vip list' through -n gw: $with_n ms; through ip netns exec gw: $with_exec ms (mean of 5)"
