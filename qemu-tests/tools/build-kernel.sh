#!/usr/bin/env bash
# Builds the test kernel: Debian's linux-source-6.12 with CONFIG_RUST=y, configured
# from tinyconfig plus the fragments in qemu-tests/kconfig/.
#
# The build lives outside the repository, in a directory keyed by everything it
# depends on (kernel source package version, rustc, bindgen, the fragments and
# this script), so a change to any of them builds a fresh kernel and an
# unchanged setup reuses the previous one. Nothing requires the cache to exist.
#
# Two profiles: `test` (the default) carries the debug checks every test run
# is held to (lockdep, kmemleak, KFENCE); `bench` is the same kernel without
# them, so that a benchmark measures what a production kernel would pay.
#
# Prints the kernel build directory (usable as KDIR) on its last line.
#   build-kernel.sh [--profile test|bench]
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
. "$here/toolchain.sh"

profile=test
if [ "${1:-}" = --profile ]; then
  profile=${2:?build-kernel: --profile needs test or bench}
fi
case "$profile" in
  test) fragments=("$repo"/qemu-tests/kconfig/{base,rust,net,debug}.config) ;;
  bench) fragments=("$repo"/qemu-tests/kconfig/{base,rust,net}.config) ;;
  *) echo "build-kernel: unknown profile '$profile' (test or bench)" >&2; exit 2 ;;
esac
src=$("$here/kernel-source.sh")
src_version=$(dpkg-query -W -f='${Version}' linux-source-6.12)
key=$( { echo "$src_version"; "$RG_RUSTC" --version; "$RG_BINDGEN" --version;
         cat "${fragments[@]}" "$0"; } | sha256sum | cut -c1-16)

cache=${RINGGATE_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/ringgate}
out=$cache/kernel-$key
mkdir -p "$cache"

if [ -f "$out/.ringgate-built" ]; then
  echo "build-kernel: cached kernel $out" >&2
  echo "$out"
  exit 0
fi

kmake() {
  make -C "$src" O="$out" ARCH=x86_64 RUSTC="$RG_RUSTC" HOSTRUSTC="$RG_RUSTC" \
    BINDGEN="$RG_BINDGEN" "$@"
}

start=$(date +%s)
# Kbuild rebuilds only what a configuration change touches, so a new key
# starts from a copy of the newest finished build of the same profile, when
# there is one (an option added to a fragment then costs minutes, not a
# full build). The copy never counts as built until the build below ends.
seed=$(ls -dt "$cache"/kernel-*/.ringgate-built 2>/dev/null | while read -r done; do
  dir=$(dirname "$done")
  # Builds from before the profile marker: the test profile has kmemleak.
  have=$(cat "$dir/.ringgate-profile" 2>/dev/null ||
         { grep -q '^CONFIG_DEBUG_KMEMLEAK=y' "$dir/.config" && echo test || echo bench; })
  [ "$have" = "$profile" ] && { echo "$dir"; break; }
done || true)
if [ -n "$seed" ]; then
  rm -rf "$out"
  echo "build-kernel: starting from a copy of $seed" >&2
  cp -a "$seed" "$out"
  rm -f "$out/.ringgate-built"
fi
mkdir -p "$out"
echo "$profile" >"$out/.ringgate-profile"
kmake -s tinyconfig >&2
"$src/scripts/kconfig/merge_config.sh" -m -O "$out" "$out/.config" "${fragments[@]}" >/dev/null
kmake -s olddefconfig >&2

# merge_config only warns when Kconfig drops a requested option (an unmet
# dependency); a kernel that silently lacks one would fail tests much later, so
# refuse it here and name what is missing.
missing=$(
  for f in "${fragments[@]}"; do
    grep -E '^(CONFIG_[A-Z0-9_]+=.*|# CONFIG_[A-Z0-9_]+ is not set)$' "$f"
  done | while read -r line; do
    case "$line" in
      "# "*) opt=${line#\# }; opt=${opt%% *}
             grep -q "^$opt=" "$out/.config" && echo "  $opt should be off" ;;
      *)     grep -qx "$line" "$out/.config" || echo "  $line" ;;
    esac
  done
)
if [ -n "$missing" ]; then
  echo "build-kernel: these options did not survive olddefconfig:" >&2
  echo "$missing" >&2
  exit 1
fi

kmake -j"$(( $(nproc) + 1 ))" bzImage modules >&2
touch "$out/.ringgate-built"
echo "build-kernel: built $out in $(( $(date +%s) - start )) s" >&2
echo "$out"
