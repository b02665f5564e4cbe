#!/usr/bin/env bash
# Installs what building and testing ringgate needs, from Debian's packages
# and crates.io only. Idempotent: installs only what is missing, never asks.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
. "$here/toolchain.sh"

packages=(
  # The kernel with CONFIG_RUST=y and the module.
  linux-source-6.12 rustc-web rust-web-src libclang-dev clang lld llvm
  bc bison flex libelf-dev libssl-dev cpio kmod make gcc
  # The netlink code generator and client from the kernel tree (tools/net/ynl).
  python3 python3-yaml python3-jsonschema
  # The VM and what the tests run inside it (the guest uses the host's root
  # filesystem read-only over 9p).
  qemu-system-x86 iproute2 iputils-ping iputils-arping tcpdump busybox-static util-linux
  procps nftables ethtool jq conntrack curl
  # What the NAT benchmark compares against and drives traffic with.
  ipvsadm iperf3 wrk
  # What the failover benchmark compares against (VRRPv3), run in the VM only.
  keepalived
)

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "deps: installing ${missing[*]}" >&2
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >&2
  # keepalived is there for the VM, which runs the host's binaries with its
  # own configuration; it must never run on the host. Debian's unit and init
  # script do nothing without /etc/keepalived/keepalived.conf, which the
  # package does not ship, but the unit is enabled at boot: stop and disable
  # it where systemd runs, so a configuration written later does not start
  # it either. Only when this run installed it: a keepalived the host
  # already had is the host's business.
  if [[ " ${missing[*]} " == *" keepalived "* ]] && [ -d /run/systemd/system ]; then
    systemctl disable --now keepalived.service >&2 || true
  fi
fi

if ! "$RG_BINDGEN" --version 2>/dev/null | grep -qx "bindgen $RG_BINDGEN_VERSION"; then
  echo "deps: installing bindgen-cli $RG_BINDGEN_VERSION" >&2
  cargo install --locked --quiet bindgen-cli --version "$RG_BINDGEN_VERSION" >&2
fi

# `make check-format` runs rustfmt; rustup's minimal profile leaves it out.
if ! rustfmt --version >/dev/null 2>&1 && command -v rustup >/dev/null; then
  echo "deps: installing rustfmt" >&2
  rustup component add rustfmt >&2
fi

# The packet decoder's fuzz target (userd/fuzz) runs under cargo-fuzz.
RG_CARGO_FUZZ_VERSION=0.13.2
if ! cargo fuzz --version 2>/dev/null | grep -q "cargo-fuzz $RG_CARGO_FUZZ_VERSION"; then
  echo "deps: installing cargo-fuzz $RG_CARGO_FUZZ_VERSION" >&2
  cargo install --locked --quiet cargo-fuzz --version "$RG_CARGO_FUZZ_VERSION" >&2
fi

# The kernel's rustc must be exactly the one `rustc-web` installed; a rustup
# toolchain of another version cannot build the kernel crate the module links.
"$RG_RUSTC" --version >/dev/null
