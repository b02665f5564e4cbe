#!/bin/bash
# Malformed and unprivileged requests are refused with a netlink error and
# change nothing; well-formed ones from the kernel's own YNL client (a client
# we did not write, driven only by our YAML spec) work.
#
#   ┌──── initial namespace ────┐     ┌─ unshare -U -r -n ─┐
#   │ lo: ping 127.0.0.1        │     │ its own netns,     │
#   │ (makes counters non-zero) │     │ owned by the userns│
#   └───────────────────────────┘     └────────────────────┘
. "$RG_REPO/qemu-tests/lib.sh"
# nlraw [PREFIX...]: guest/nlraw.py's requests, one a line of stdin (its
# arguments, as in a shell; a # starts a comment), in the order given, by
# one python process run under PREFIX (a python start took about a second
# under TCG, ten of them here). As nlraw.py alone, the first answer not
# the one expected ends it, and it fails, saying which.
nlraw() {
  "$@" python3 -c '
import shlex, sys
sys.path.insert(0, sys.argv[1])
import nlraw
for line in sys.stdin:
    args = shlex.split(line, comments=True)
    if args:
        sys.argv = ["nlraw.py"] + args
        nlraw.main()
' "$RG_REPO/qemu-tests/guest"
}
local_in() { counter_here local-in packets; }
counter_here() {
  ringgatectl status --json --hook "$1" | jqr 'get("hooks")[0] | get($f)' --arg f "$2"
}
# jq definitions for the form python's print() gives lists and tuples of
# numbers, booleans and plain strings (the expected values below are in it):
# py renders a value; list and tuple join items already rendered.
py='def list: "[" + join(", ") + "]";
def tuple: "(" + join(", ") + (if length == 1 then ",)" else ")" end);
def py: if type == "string" then "\u0027" + . + "\u0027"
  elif type == "array" then map(py) | list
  elif type == "boolean" then (if . then "True" else "False" end)
  elif type == "null" then "None"
  else tojson end;'

load_module
# One cli.py process answers every `ynl` request below (see lib.sh).
ynl_server

# The kernel's YNL client reads and resets through the spec alone.
ynl --do status-get --json '{}' --output-json | jqr '
get("version") as $v
| if $v == "" or $v == 0 or $v == null or $v == false or $v == [] or $v == {} then error(tojson) else . end
| if [get("hooks")[] | get("hook")] != ["pre-routing", "local-in", "forward", "local-out", "post-routing", "arp-in", "arp-out"]
  then error(tojson) else empty end
'
ynl --do status-get --json '{"hook": "arp-in"}' --output-json | jqr '
if [get("hooks")[] | get("hook")] != ["arp-in"] then error(tojson) else empty end
'
ping -c 3 -i 0.2 127.0.0.1 >/dev/null
expect_ge "$(local_in)" 3 "loopback traffic counted"
ynl --do counters-reset --json '{"hook": "local-in"}' >/dev/null
expect_eq "$(local_in)" 0 "YNL reset of local-in"
expect_ge "$(counter_here local-out packets)" 3 "local-out untouched by a local-in reset"

ping -c 3 -i 0.2 127.0.0.1 >/dev/null
kept=$(local_in)
expect_ge "$kept" 3 "traffic counted again"

# Malformed requests: each gets the errno named, and the counters stay.
STATUS=1 RESET=2 A_HOOK=3
nlraw <<REQUESTS
$STATUS --attr 42:u32:1 --expect EINVAL         # unknown attribute type
$STATUS --attr $A_HOOK:u64:1 --expect EINVAL    # u32 sent as 8 bytes
$STATUS --attr $A_HOOK:u16:1 --expect EINVAL    # u32 sent as 2 bytes
$STATUS --attr $A_HOOK:u32:7 --expect ERANGE    # hook out of range
$RESET --attr $A_HOOK:u32:99 --expect ERANGE
$RESET --attr 42:str:x --expect EINVAL
99 --expect EOPNOTSUPP                          # unknown command
$STATUS --version 0 --attr $A_HOOK:u32:1 --expect OK
REQUESTS
expect_ge "$(local_in)" "$kept" "malformed resets changed nothing"

# Unprivileged: nobody without CAP_NET_ADMIN may change anything, nor read:
# the session table names every client and its back-end (IPVS and
# ctnetlink refuse such readers too). Dumps are refused by their start
# callback, requests by their pre_doit; both are tried, with our client and
# with raw netlink / the kernel's YNL client.
nobody() { setpriv --reuid=65534 --regid=65534 --clear-groups --inh-caps=-all "$@"; }
for args in "counters reset" "status" "sessions" "vip list" "backend list" "config show"; do
  # shellcheck disable=SC2086
  if msg=$(nobody "$RG_REPO/userd/target/release/ringgatectl" $args 2>&1); then
    fail "an unprivileged '$args' succeeded: $msg"
  fi
  case "$msg" in *"permission denied"*CAP_NET_ADMIN*) ;; *) fail "unclear refusal of '$args': $msg" ;; esac
done
printf '%s\n' "$RESET --expect EPERM" "$STATUS --expect EPERM" | nlraw nobody
# The three dumps by the kernel's YNL client through one cli.py process
# run as nobody (guest/ynl-server.py, its requests on stdin, an answer a
# line: what cli.py printed, its error included, and its exit status): a
# cli.py start each took about 3 s under TCG.
dumps="session-get vip-get service-get"
answers=$(for dump in $dumps; do
    printf '["--no-schema", "--spec", "%s", "--dump", "%s"]\n' "$RG_REPO/include/netlink/ringgate.yaml" "$dump"
  done | nobody /usr/bin/python3 "$RG_REPO/qemu-tests/guest/ynl-server.py" "$RG_KSRC")
for dump in $dumps; do
  IFS= read -r answer && [ -n "$answer" ] || fail "no answer to the unprivileged $dump dump (answers: $answers)"
  msg=$(jqr 'get("out")' <<<"$answer")
  if [ "$(jqr 'get("code")' <<<"$answer")" = 0 ]; then
    fail "an unprivileged $dump dump succeeded: $msg"
  fi
  case "$msg" in *"Operation not permitted"*) ;;
    *) fail "unprivileged $dump dump: unclear refusal: $msg" ;; esac
done <<<"$answers"
expect_ge "$(local_in)" "$kept" "unprivileged resets changed nothing"

# Root of a new user namespace has no CAP_NET_ADMIN over the initial network
# namespace, but does over a network namespace its user namespace owns.
if unshare -U -r "$RG_REPO/userd/target/release/ringgatectl" counters reset 2>/dev/null; then
  fail "a user namespace reset the initial namespace's counters"
fi
expect_ge "$(local_in)" "$kept" "user-namespace reset changed nothing"
unshare -U -r -n bash -c "ip link set lo up && ping -c 2 -i 0.2 127.0.0.1 >/dev/null &&
  '$RG_REPO/userd/target/release/ringgatectl' counters reset &&
  '$RG_REPO/userd/target/release/ringgatectl' sessions >/dev/null &&
  '$RG_REPO/userd/target/release/ringgatectl' status --json --hook local-in | grep -q '\"packets\": 0'" ||
  fail "namespace-local admin could not reset its own counters"

# Values out of the policy's range, sent by the kernel's YNL client (which,
# unlike ringgatectl, does not check them first), so the kernel's own policy
# is what refuses them; each refusal leaves everything as it was.
# refused WANT YNL-ARGS...: YNL's request fails with WANT in its error; the
# error is left in $msg for further checks.
refused() {
  local want=$1
  shift
  if msg=$(ynl "$@" 2>&1); then fail "accepted: $*"; fi
  case "$msg" in *"$want"*) ;; *) fail "$*: expected '$want', got: $msg" ;; esac
}
# YNL takes addresses as numbers (and prints them dotted): 10.9.9.9 is
# 0x0a090909, 10.8.0.2 is 0x0a080002, 10.9.9.10 is 0x0a09090a.
VIP9=168364297 BE2=168296450 VIP10=168364298
ynl --do vip-add --json "{\"addr\": $VIP9}" >/dev/null
ynl --do service-add --json "{\"vip\": $VIP9, \"port\": 80, \"proto\": 6}" >/dev/null
max_before=$(ynl --do config-get --json '{}' --output-json | jqr 'get("max-sessions")')
refused "Numerical result out of range" --do config-set --json '{"max-sessions": 63}'
refused "Numerical result out of range" --do config-set --json '{"max-sessions": 1048577}'
expect_eq "$(ynl --do config-get --json '{}' --output-json | jqr 'get("max-sessions")')" \
  "$max_before" "max-sessions after refused sizes"
refused "Numerical result out of range" --do vip-add --json "{\"addr\": $VIP10, \"garp-count\": 17}"
refused "Numerical result out of range" --do vip-add --json "{\"addr\": $VIP10, \"garp-count\": 0}"
refused "Numerical result out of range" --do backend-add \
  --json "{\"vip\": $VIP9, \"port\": 80, \"proto\": 6, \"backend\": {\"addr\": $BE2, \"port\": 80, \"weight\": 0}}"
refused "Numerical result out of range" --do backend-add \
  --json "{\"vip\": $VIP9, \"port\": 80, \"proto\": 6, \"backend\": {\"addr\": $BE2, \"port\": 80, \"weight\": 1001}}"
# A back-end without its port: the kernel names the missing nested attribute
# (the back-end's port, type 2, inside the nest; YNL prints nested types as
# numbers), and without its nest, the nest (the service's back-end, type 5).
refused "required nested attribute missing" --do backend-add \
  --json "{\"vip\": $VIP9, \"port\": 80, \"proto\": 6, \"backend\": {\"addr\": $BE2}}"
case "$msg" in *"'miss-type': 2"*"'miss-nest'"*) ;; *) fail "the missing nested attribute is not named: $msg" ;; esac
refused "required attribute missing" --do backend-add \
  --json "{\"vip\": $VIP9, \"port\": 80, \"proto\": 6}"
case "$msg" in *"'miss-type': 'backend'"*) ;; *) fail "the missing nest is not named: $msg" ;; esac
expect_eq "$(ynl --dump vip-get --output-json | jqr "$py"'[.[] | get("addr")] | sort | py')" \
  "['10.9.9.9']" "the pool after refused additions"
expect_eq "$(ynl --dump service-get --output-json | jqr 'map(if has("backends") then .backends else [] end | length) | add // 0')" \
  0 "back-ends after refused additions"

# Adding and changing are separate commands, as IPVS's new-dest and
# set-dest: an add refuses an object that exists, a set one that is missing;
# each refusal names its object and changes nothing, and what a change
# leaves out stays. (Generic netlink refuses rtnetlink's NLM_F_CREATE and
# NLM_F_EXCL header flags for a new family, which is checked first.)
SVC9="\"vip\": $VIP9, \"port\": 80, \"proto\": 6"
refused "ambiguous or reserved bits set in nlmsg_flags" --do vip-add --create --excl --json "{\"addr\": $VIP10}"
refused "the VIP is already in this namespace's pool" --do vip-add --json "{\"addr\": $VIP9, \"garp-count\": 9}"
refused "no such VIP in this namespace's pool" --do vip-set --json "{\"addr\": $VIP10, \"garp-count\": 9}"
refused "nothing to change" --do vip-set --json "{\"addr\": $VIP9}"
refused "the service already exists" --do service-add --json "{$SVC9, \"scheduler\": \"lc\"}"
refused "no such service" --do service-set --json "{\"vip\": $VIP9, \"port\": 81, \"proto\": 6}"
refused "no such back-end in this service" --do backend-set \
  --json "{$SVC9, \"backend\": {\"addr\": $BE2, \"port\": 80}}"
ynl --do vip-set --json "{\"addr\": $VIP9, \"garp-count\": 5}" >/dev/null
ynl --do vip-set --json "{\"addr\": $VIP9, \"owned\": 0}" >/dev/null
ynl --do service-set --json "{$SVC9, \"scheduler\": \"hash\"}" >/dev/null
ynl --do service-set --json "{$SVC9}" >/dev/null
ynl --do backend-add --json "{$SVC9, \"backend\": {\"addr\": $BE2, \"port\": 80, \"weight\": 7}}" >/dev/null
ynl --do backend-set --json "{$SVC9, \"backend\": {\"addr\": $BE2, \"port\": 80, \"up\": 0}}" >/dev/null
# Re-adding a drained back-end is refused; it stays down.
refused "the back-end is already in this service" --do backend-add \
  --json "{$SVC9, \"backend\": {\"addr\": $BE2, \"port\": 80}}"
expect_eq "$(ynl --dump vip-get --output-json | jqr "$py"'map([(get("addr") | py), (get("garp-count") | py)] | tuple) | list')" \
  "[('10.9.9.9', 5)]" "the pool after changes that leave garp-count out"
expect_eq "$(ynl --dump service-get --output-json | jqr "$py"'
  map([(get("port") | py), (get("scheduler") | py),
       ((if has("backends") then .backends else [] end) | map([(get("weight") | py), (get("up") | py)] | tuple) | list)]
    | tuple) | list')" \
  "[(80, 'hash', [(7, 0)])]" "the service after changes that leave scheduler and weight out"
