#!/bin/bash
# Loads and unloads the module three times. While it is loaded, its generic
# netlink family answers and its netfilter hooks are registered (seen through
# `nft list hooks`, which lists every hook with its owner); after rmmod both
# are gone and the CLI says, in one line, that the module is not loaded.
. "$RG_REPO/qemu-tests/lib.sh"

for round in 1 2 3; do
  if msg=$(ringgatectl status 2>&1); then fail "status succeeded without the module"; fi
  case "$msg" in
    "ringgatectl: the ringgate kernel module is not loaded"*insmod*) ;;
    *) fail "unclear error without the module: $msg" ;;
  esac
  expect_eq "$(printf '%s\n' "$msg" | wc -l)" 1 "the error is one line"
  expect_eq "$(ringgate_hooks)" 0 "hooks before load (round $round)"

  load_module
  # Hooks come with a namespace's first request from an administrator (as
  # IPVS's come with its first service): until then, and in namespaces
  # ringgate is never asked about, packets pay nothing for the module.
  expect_eq "$(ringgate_hooks)" 0 "hooks before any request (round $round)"
  setpriv --reuid=65534 --regid=65534 --clear-groups --inh-caps=-all \
    "$RG_REPO/userd/target/release/ringgatectl" status >/dev/null 2>&1 || true
  expect_eq "$(ringgate_hooks)" 0 "hooks after a refused unprivileged request (round $round)"
  version=$(ringgatectl status --json | jqr 'get("version")')
  [[ "$version" =~ ^[0-9]+\.[0-9]+\.[0-9]+$ ]] || fail "bad version '$version'"
  # Five IPv4 hooks and two ARP hooks in the initial namespace.
  expect_eq "$(ringgate_hooks)" 7 "hooks while loaded (round $round)"
  ip netns add untouched
  expect_eq "$(ip netns exec untouched bash -c "$(declare -f ringgate_hooks); ringgate_hooks")" 0 \
    "hooks in a namespace ringgate was never asked about (round $round)"
  ctl_in untouched status >/dev/null
  expect_eq "$(ip netns exec untouched bash -c "$(declare -f ringgate_hooks); ringgate_hooks")" 7 \
    "hooks once asked (round $round)"
  ip netns delete untouched

  unload_module
  expect_eq "$(ringgate_hooks)" 0 "hooks after rmmod (round $round)"
  [ ! -e /sys/module/ringgate ] || fail "module still present in sysfs"
done
