#!/bin/bash
# `ringgatectl save` and `restore -f` against the real module: restoring a
# save onto the state it came from changes nothing (the pool's and the
# services' versions stay as they were); onto a fresh namespace it rebuilds
# the same configuration; a file with a bad line is refused, by line
# number, with nothing changed; a line the kernel refuses undoes the lines
# before it; and every saved line runs as it is in a shell.
. "$RG_REPO/qemu-tests/lib.sh"

VIP=10.9.0.100
gw() { ctl_in gw "$@"; }
# generations: the pool's and the services' versions in gw, from the
# kernel's YNL client, through one process in gw (see ynl_server, started
# below): a cli.py start for each of the four reads took about 3 s under
# TCG.
generations() {
  ynl --do status-get --json '{}' --output-json |
    jqr '"\(get("vip-generation")) \(get("service-generation"))"'
}

load_module
gateway_line be1
ynl_server gw
gw config set --node-id 7 --timeout-udp 8 --down-policy drop
gw vip add "$VIP" --garp-count 5
gw vip own "$VIP"
gw vip add 10.9.0.101
gw service add "$VIP" 80 --scheduler lc
gw backend add "$VIP" 80 10.8.0.2:8080 --weight 3
gw backend add "$VIP" 80 10.8.0.3:8080 --down
gw service add "$VIP" 53 --proto udp --scheduler hash
gw save >/tmp/saved
cat /tmp/saved

# Onto the same state: nothing changes, not even the versions.
before=$(generations)
gw restore -f /tmp/saved
expect_eq "$(generations)" "$before" "versions after restoring a save onto its own state"
expect_eq "$(gw save)" "$(cat /tmp/saved)" "save after the restore"

# Onto a drifted state, from standard input: what differs is set back.
gw vip release "$VIP"
gw backend set "$VIP" 80 10.8.0.3:8080 --up
gw service set "$VIP" 80 --scheduler wrr
gw restore -f - </tmp/saved
expect_eq "$(gw save)" "$(cat /tmp/saved)" "save after restoring a drifted state"

# A bad third line: refused by number, exit code 2, nothing changed.
printf 'vip add 10.9.0.102\nvip own 10.9.0.102\nbackend add %s 80 10.8.0.4:8080 --weight 5000\n' "$VIP" >/tmp/bad
before=$(generations)
rc=0; msg=$(gw restore -f /tmp/bad 2>&1) || rc=$?
expect_eq "$rc" 2 "exit code of a bad restore file"
case "$msg" in *"/tmp/bad: line 3: "*) ;; *) fail "the bad line is not named: $msg" ;; esac
expect_eq "$(generations)" "$before" "versions after a refused restore file"
expect_eq "$(gw save)" "$(cat /tmp/saved)" "save after a refused restore file"

# A line only the kernel can refuse (a VIP taken that no interface of the
# namespace has): the requests sent before it are undone, the add by a
# delete and the set by a set to the weight before it, and the line after
# it is never sent.
printf '%s\n' 'vip add 10.9.9.9' 'service add 10.9.9.9 80 --scheduler hash' \
  "backend set $VIP 80 10.8.0.2:8080 --weight 9" 'vip own 10.9.9.9' 'vip add 10.9.9.10' >/tmp/refused
rc=0; msg=$(gw restore -f /tmp/refused 2>&1) || rc=$?
[ "$rc" -ne 0 ] || fail "a restore the kernel refused exited 0: $msg"
case "$msg" in
  *"/tmp/refused: line 4: "*"the 3 changes sent before it were undone") ;;
  *) fail "the refused line and the undo are not said: $msg" ;;
esac
expect_eq "$(gw save)" "$(cat /tmp/saved)" "save after a restore the kernel refused"

# Onto a fresh namespace (the VIPs configured on its interface, as the
# operator does before restoring): the same configuration, both by restore
# and by running the saved lines in a shell.
for ns in gw2 gw3; do
  ip netns add "$ns"
  ip -n "$ns" link add g0 type veth peer name g1
  ip -n "$ns" link set g0 up
  ip -n "$ns" link set g1 up
  ip -n "$ns" addr add "$VIP/32" dev g0
  ip -n "$ns" addr add 10.9.0.101/32 dev g0
done
ctl_in gw2 restore -f /tmp/saved
expect_eq "$(ctl_in gw2 save)" "$(cat /tmp/saved)" \
  "save of a namespace restored from scratch"
PATH="$RG_REPO/userd/target/release:$PATH" ip netns exec gw3 bash -e /tmp/saved
expect_eq "$(ctl_in gw3 save)" "$(cat /tmp/saved)" \
  "save of a namespace built by running the saved lines"
