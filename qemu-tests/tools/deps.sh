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
  procps nftables ethtool jq gojq conntrack curl
  # What the NAT benchmark compares against and drives traffic with.
  ipvsadm iperf3 wrk
  # What the failover benchmark compares against (VRRPv3), run in the VM only.
  keepalived
  # What the HTTP mode's benchmark compares against (reverse proxies), run in
  # the VM only.
  haproxy nginx-light
)
# Packages that ship a service the host must never run (see below).
vm_only_services=(keepalived haproxy nginx)

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "deps: installing ${missing[*]}" >&2
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  # nginx and haproxy start their service as they are installed (nginx
  # would listen on the host's port 80): a policy-rc.d that refuses every
  # start keeps invoke-rc.d from starting anything during this install.
  # Removed afterwards, and only if this run put it there.
  policy=/usr/sbin/policy-rc.d
  own_policy=
  if [ ! -e $policy ]; then
    printf '#!/bin/sh\nexit 101\n' >$policy
    chmod 755 $policy
    own_policy=1
  fi
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >&2 || {
    [ -z "$own_policy" ] || rm -f $policy
    exit 1
  }
  [ -z "$own_policy" ] || rm -f $policy
  # keepalived, haproxy and nginx are there for the VM, which runs the
  # host's binaries with its own configuration; they must never run on the
  # host. Their units are enabled at boot: stop and disable them where
  # systemd runs, so a reboot or a configuration written later does not
  # start them either. Only those this run installed: a service the host
  # already had is the host's business.
  for service in "${vm_only_services[@]}"; do
    installed=$service
    [ "$service" != nginx ] || installed=nginx-light
    if [[ " ${missing[*]} " == *" $installed "* ]] && [ -d /run/systemd/system ]; then
      systemctl disable --now "$service.service" >&2 || true
    fi
  done
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
