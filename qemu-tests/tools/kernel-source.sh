#!/usr/bin/env bash
# Unpacks Debian's linux-source-6.12 into the cache (once per package version)
# and prints the source directory. The kernel build and the netlink code
# generator (tools/net/ynl) both use this tree.
set -euo pipefail

src_tar=/usr/src/linux-source-6.12.tar.xz
[ -r "$src_tar" ] || { echo "kernel-source: $src_tar is missing; run 'make deps' first" >&2; exit 1; }
src_version=$(dpkg-query -W -f='${Version}' linux-source-6.12)
cache=${RINGGATE_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/ringgate}
src=$cache/linux-source-$src_version

if [ ! -f "$src/.ringgate-unpacked" ]; then
  echo "kernel-source: unpacking $src_tar" >&2
  mkdir -p "$cache"
  rm -rf "$src" "$src.tmp"
  mkdir -p "$src.tmp"
  tar -xf "$src_tar" -C "$src.tmp" --strip-components=1
  touch "$src.tmp/.ringgate-unpacked"
  mv "$src.tmp" "$src"
fi
echo "$src"
