#!/bin/bash
# A request that changes nothing publishes nothing: no new table version, no
# RCU grace period to wait for. A control plane repeats "take this VIP" and
# "this back-end has weight 2" freely; failover must not queue behind such
# no-ops. The status reports each table's version (vip-generation,
# service-generation), which must move with every real change and only then.
#
#   ┌─ ns t ───────────────────────────────┐
#   │ v0 10.9.0.11/24, 10.9.0.100/32 (VIP) ├── v1 (peer, ns t)
#   └──────────────────────────────────────┘
. "$RG_REPO/qemu-tests/lib.sh"

VIP=10.9.0.100
t() { ctl_in t "$@"; }
# versions: "VIP-GENERATION SERVICE-GENERATION", read with the kernel's YNL
# client, through one process in t (see ynl_server): started anew for each
# of the 14 reads, python and the spec took about 3.5 s each under TCG,
# most of this test's time.
versions() {
  ynl --do status-get --json '{}' --output-json |
    jqr '"\(get("vip-generation")) \(get("service-generation"))"'
}
# expect_versions WHAT DVIP DSERVICE: the versions moved by exactly that much
# since the last call.
last=""
expect_versions() {
  local now v s lv ls
  now=$(versions)
  read -r v s <<<"$now"
  read -r lv ls <<<"$last"
  expect_eq "$((v - lv)) $((s - ls))" "$2 $3" "$1: versions went from '$last' to '$now'"
  last=$now
}

load_module
link_namespaces t v0 10.9.0.11/24 t v1 10.9.0.12/24
ip -n t addr add "$VIP/32" dev v0
ynl_server t
last=$(versions)

t vip add "$VIP"
expect_versions "vip add" 1 0
# Adding what is there is refused (ip and ipvsadm refuse it too), and
# publishes nothing.
refused_add() {
  local msg
  if msg=$(t "$@" 2>&1); then fail "'$*' again succeeded"; fi
  case "$msg" in *already*) ;; *) fail "'$*' again: unclear refusal: $msg" ;; esac
}
refused_add vip add "$VIP"
expect_versions "vip add again" 0 0
t vip own "$VIP"
expect_versions "vip own" 1 0
garp=$(t status --json | jqr 'get("garp_sent")')
t vip own "$VIP"
expect_versions "vip own again" 0 0
expect_eq "$(t status --json | jqr 'get("garp_sent")')" "$garp" \
  "gratuitous ARPs for a VIP already owned"
t vip release "$VIP"
expect_versions "vip release" 1 0
t vip release "$VIP"
expect_versions "vip release again" 0 0

t service add "$VIP" 80 --scheduler lc
expect_versions "service add" 0 1
refused_add service add "$VIP" 80 --scheduler lc
expect_versions "service add again" 0 0
t backend add "$VIP" 80 10.9.0.12:8080 --weight 2
expect_versions "backend add" 0 1
t backend set "$VIP" 80 10.9.0.12:8080 --weight 2
expect_versions "same weight" 0 0
t backend set "$VIP" 80 10.9.0.12:8080 --weight 3
expect_versions "new weight" 0 1
t backend set "$VIP" 80 10.9.0.12:8080 --down
expect_versions "down" 0 1
t backend set "$VIP" 80 10.9.0.12:8080 --down
expect_versions "down again" 0 0
