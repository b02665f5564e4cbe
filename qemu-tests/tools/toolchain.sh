# Sourced by the build scripts: where the kernel-side toolchain lives.
#
# The kernel and the module must be built by the same rustc. Debian's
# rustc-web (/usr/bin/rustc) is that compiler; the rustup toolchain on PATH
# builds userspace only and must never reach the kernel build.
RG_RUSTC=${RG_RUSTC:-/usr/bin/rustc}
RG_BINDGEN=${RG_BINDGEN:-$(command -v bindgen || echo "${CARGO_HOME:-$HOME/.cargo}/bin/bindgen")}
# The bindgen-cli release `make deps` installs; pinned so the kernel cache key is stable.
RG_BINDGEN_VERSION=0.73.2
