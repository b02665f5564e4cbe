#!/bin/bash
# ARP the gateway's own kernel sends speaks for a VIP only on its owner.
# `arping` cannot show this (packet sockets bypass the ARP hooks): here the
# kernel itself solicits a neighbour for a packet sourced from the VIP, which
# makes it send "who-has 10.9.0.1 tell <VIP>" from its own MAC, and every
# listener on the segment would repoint the VIP to that MAC. On a node that
# does not own the VIP, ringgate must drop that request at NF_ARP_OUT.
#
#   ┌─ ns cl ─────────┐   tcpdump: ARP from gw's MAC
#   │ cl0 10.9.0.1/24 │
#   └───────┬─────────┘
#   ┌───────┴──────────── ns gw ───────────┐
#   │ g0 10.9.0.11/24, 10.9.0.100/32 (VIP) │   ping -I VIP 10.9.0.1
#   └──────────────────────────────────────┘
. "$RG_REPO/qemu-tests/lib.sh"

VIP=10.9.0.100
gw() { ctl_in gw "$@"; }
status_field() { gw status --json | jqr 'get($f)' --arg f "$1"; }
# solicit: makes gw's kernel resolve 10.9.0.1 afresh with a packet from the
# VIP, and prints the ARP requests that reached the client, one per line.
solicit() {
  ip -n gw neigh flush dev g0
  ip -n cl neigh flush dev cl0
  ip netns exec cl tcpdump -l -n -e --immediate-mode -i cl0 arp >/tmp/arp.txt 2>/tmp/arp.err &
  local capture=$!
  wait_listening /tmp/arp.err
  ip netns exec gw ping -c 2 -i 0.3 -W 1 -I "$VIP" 10.9.0.1 >/dev/null 2>&1 || true
  sleep 1
  kill "$capture"
  wait "$capture" 2>/dev/null || true
  grep 'Request who-has 10.9.0.1 tell' /tmp/arp.txt || true
}

load_module
link_namespaces cl cl0 10.9.0.1/24 gw g0 10.9.0.11/24
ip -n gw addr add "$VIP/32" dev g0
MAC=$(ip -n gw -br link show g0 | awk '{print $3}')

# Without a pool entry the kernel speaks for the VIP: the test can see it.
requests=$(solicit)
case "$requests" in *"$MAC"*"tell $VIP"*) ;; *) fail "no kernel ARP request from the VIP: $requests" ;; esac

# In the pool, not owned: the same request must not leave, and is counted.
gw vip add "$VIP"
suppressed=$(status_field arp_suppressed)
requests=$(solicit)
case "$requests" in *"tell $VIP"*) fail "a node not owning the VIP sent: $requests" ;; esac
expect_ge "$(status_field arp_suppressed)" $((suppressed + 1)) "the request from the VIP was counted"

# The node's own address is never suppressed.
ip -n gw neigh flush dev g0
ip netns exec gw ping -c 1 -W 2 10.9.0.1 >/dev/null || fail "gw's own address cannot resolve the client"

# Owned: the kernel may speak for it again.
gw vip own "$VIP"
requests=$(solicit)
case "$requests" in *"$MAC"*"tell $VIP"*) ;; *) fail "the owner's ARP request from the VIP is missing: $requests" ;; esac
