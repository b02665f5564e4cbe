#!/usr/bin/env bash
# Builds ringgate.ko against another kernel (the bench profile's) from a copy
# of the module's sources, so the tests' ringgate.ko at the repository root,
# built against the test kernel, stays as it is.
#   build-module-copy.sh KDIR OUTDIR   (OUTDIR inside the repository, so the
#                                       VM, which sees the repository, finds it)
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
. "$here/toolchain.sh"
kdir=${1:?usage: build-module-copy.sh KDIR OUTDIR}
out=${2:?usage: build-module-copy.sh KDIR OUTDIR}

mkdir -p "$out"
out=$(cd "$out" && pwd)
# The sources only: the build products at the root belong to the other kernel.
rm -rf "$out/module" "$out/include"
cp -r "$repo/module" "$repo/include" "$out/"
rm -rf "$out/module/host-tests"
find "$out/module" \( -name '*.o' -o -name '.*.cmd' -o -name '*.d' -o -name bindings.rs \) -delete
cp "$repo/Kbuild" "$out/"
make -s -C "$kdir" M="$out" RUSTC="$RG_RUSTC" BINDGEN="$RG_BINDGEN" modules >&2
echo "$out/ringgate.ko"
