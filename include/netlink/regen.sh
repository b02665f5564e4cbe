#!/usr/bin/env bash
# Regenerates everything derived from include/netlink/ringgate.yaml with the
# kernel tree's own generator (tools/net/ynl/ynl-gen-c.py):
#   include/uapi/linux/ringgate.h          the UAPI header
#   module/glue/ringgate_nl_gen.{c,h}      kernel policies, ops table, family
# With --check, generates into a scratch directory and fails if the committed
# files differ, so the spec and its outputs cannot drift apart.
set -euo pipefail

repo=$(cd "$(dirname "$0")/../.." && pwd)
ksrc=$("$repo/qemu-tests/tools/kernel-source.sh")
check=${1:-}

# ynl-gen-c validates a spec against <spec dir>/../genetlink.yaml and names it
# by its path below the nearest directory holding MAINTAINERS, so the spec is
# staged in a scratch tree shaped the way the generator expects.
stage=$(mktemp -d)
trap 'rm -rf "$stage"' EXIT
mkdir -p "$stage/include/netlink" "$stage/out"
touch "$stage/MAINTAINERS"
cp "$repo/include/netlink/ringgate.yaml" "$stage/include/netlink/"
ln -s "$ksrc/Documentation/netlink/genetlink.yaml" "$stage/include/genetlink.yaml"

gen() { # mode header|source output
  (cd "$stage" && /usr/bin/python3 "$ksrc/tools/net/ynl/ynl-gen-c.py" \
     --mode "$1" "--$2" --spec include/netlink/ringgate.yaml -o "$stage/out/$3")
}
gen uapi header ringgate.h
gen kernel header ringgate_nl_gen.h
gen kernel source ringgate_nl_gen.c
# The events group says which node takes which VIP and when the session
# table refuses, the sessions group names every new connection: only
# CAP_NET_ADMIN in the namespace may join them, as only it may dump. 6.12's
# spec format cannot flag a multicast group (later kernels' can), so the
# flag is added to the generated table here, where --check still guards it.
for group in EVENTS:events SESSIONS:sessions; do
  sed -i "s/\[RINGGATE_NLGRP_${group%%:*}\] = { \"${group#*:}\", },/[RINGGATE_NLGRP_${group%%:*}] = { \"${group#*:}\", .flags = GENL_MCAST_CAP_NET_ADMIN, },/" \
    "$stage/out/ringgate_nl_gen.c"
  grep -q "\[RINGGATE_NLGRP_${group%%:*}\] = .*GENL_MCAST_CAP_NET_ADMIN" "$stage/out/ringgate_nl_gen.c" ||
    { echo "regen: could not restrict the ${group#*:} group (the generator's output changed)" >&2; exit 1; }
done

status=0
for pair in ringgate.h:include/uapi/linux/ringgate.h \
            ringgate_nl_gen.h:module/glue/ringgate_nl_gen.h \
            ringgate_nl_gen.c:module/glue/ringgate_nl_gen.c; do
  new=$stage/out/${pair%%:*}
  dest=$repo/${pair#*:}
  if [ "$check" = --check ]; then
    if ! cmp -s "$new" "$dest"; then
      echo "regen: $dest is out of date with include/netlink/ringgate.yaml (run make generate)" >&2
      diff -u "$dest" "$new" >&2 || true
      status=1
    fi
  else
    cp "$new" "$dest"
  fi
done
exit $status
