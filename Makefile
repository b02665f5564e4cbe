# ringgate — see README.md.
#
#   make demo    boot the VM and show the module at work (the main job)
#   make test    every test: generated-code check, cargo test, VM tests
#
# Other targets: deps, kernel, module, userd, generate, check-generated,
# check-format, bench, bench-ring, test-module-logic,
# test-userd, fuzz (FUZZ_SECONDS=n), test-vm (TESTS="load-unload ..." picks VM
# tests), clean.
# KDIR=<kernel build dir> builds the module against another CONFIG_RUST=y kernel.

SHELL := /bin/bash
TOOLS := qemu-tests/tools
RG_RUSTC := /usr/bin/rustc
RG_BINDGEN = $(shell . $(TOOLS)/toolchain.sh && echo $$RG_BINDGEN)
# The kernel the VM boots; built (or found in the cache) on demand.
TEST_KDIR = $$($(TOOLS)/build-kernel.sh)
TESTS ?=
FUZZ_SECONDS ?= 30

.PHONY: all deps kernel module userd generate check-generated check-format demo bench bench-ring test test-userd test-module-logic fuzz test-vm soak clean

all: module userd

deps:
	@$(TOOLS)/deps.sh

kernel: deps
	@$(TOOLS)/build-kernel.sh >/dev/null

module: deps
	@kdir="$(KDIR)"; [ -n "$$kdir" ] || kdir=$(TEST_KDIR); \
	$(MAKE) -C "$$kdir" M=$(CURDIR) RUSTC=$(RG_RUSTC) BINDGEN=$(RG_BINDGEN) modules

userd: deps
	cd userd && cargo build --locked --release

generate: deps
	include/netlink/regen.sh

check-generated: deps
	include/netlink/regen.sh --check

# Formatting, as the kernel's coding guidelines ask: the module with the
# kernel tree's .rustfmt.toml, userd with cargo fmt. Prints the diff on failure.
# Each module file goes through stdin, so rustfmt does not follow `mod
# bindings;` into a file only the module build generates.
check-format: deps
	@ksrc=$$($(TOOLS)/kernel-source.sh); status=0; \
	  for f in $$(git ls-files 'module/*.rs'); do \
	    rustfmt --emit stdout --edition 2021 --config-path "$$ksrc/.rustfmt.toml" <"$$f" | \
	      diff -u "$$f" - >/tmp/rustfmt.diff || \
	      { echo "check-format: $$f is not formatted (rustfmt):"; cat /tmp/rustfmt.diff; status=1; }; \
	  done; exit $$status
	cd userd && cargo fmt --all --check

# The seed sweeps (3000 ring simulator seeds, 500 cluster seeds) and the
# largest-snapshot test run once, in release, which keeps overflow checks
# on (userd/Cargo.toml) and has no debug_assert to lose: in the debug build
# they took 100 s more for a tenth of the seeds. A failing seed prints how
# to rerun it alone. A plain `cargo test` still runs them all, debug. The
# seeds run on every CPU (crates/ringgate-seeds): one after the other, the
# ring's 3000 took 98 s and the cluster's 500 49 s on one core of this
# 2-core machine kind, against 57 s and 38 s on both.
test-userd: deps
	cd userd && cargo test --locked -- --skip clusters_agree_despite_loss_partitions_crashes_and_joins \
	  --skip seeded_clusters_keep_every_property --skip the_largest_state_fits_a_snapshot
	cd userd && RINGGATE_SIM_SEEDS=3000 cargo test --locked --release -p ringgate-ring --test simulator
	cd userd && RINGGATE_CLUSTER_SEEDS=500 cargo test --locked --release -p ringgate-cluster \
	  --test simulation --test snapshot_size -- --nocapture

# The module's pure logic (clock, header parsing, session placement and
# eviction, stages, TCP tracking, Maglev, round-robin, create/exclusive
# flags), compiled on the host from the module's own files: see
# module/host-tests/src/lib.rs.
test-module-logic: deps
	cd module/host-tests && cargo test

# A bounded libFuzzer run of the packet decoder and the node behind it.
# cargo-fuzz needs nightly's -Z flags: a nightly toolchain is used when
# present, else the stable compiler with RUSTC_BOOTSTRAP=1. No sanitizer:
# the fuzzed crate has no unsafe code, and a panic is what we look for.
fuzz: deps
	cd userd/fuzz && if rustup run nightly rustc --version >/dev/null 2>&1; then tc=+nightly; \
	  else tc=; export RUSTC_BOOTSTRAP=1; fi; \
	  cargo $$tc fuzz run --sanitizer none packet -- -max_total_time=$(FUZZ_SECONDS)

test-vm: module userd
	@kdir=$(TEST_KDIR); qemu-tests/run-vm.sh --kernel "$$kdir/arch/x86/boot/bzImage" \
	  --ksrc "$$($(TOOLS)/kernel-source.sh)" test $(TESTS)

test: check-generated check-format test-module-logic test-userd fuzz test-vm

# Session continuity soak (prints counts; not part of `make test`, which runs
# the same test with 10 rounds): RG_FAILOVER_ROUNDS rounds (default 100) of
# killing the VIP owner's daemon under load, takeover, restart and rejoin,
# then the short connections opened, completed, reset and corrupted and the
# long ones' outcome. 10 to 30 s a round under TCG, depending on the machine:
# the test may take up to RG_TEST_TIMEOUT (default 3300 s).
soak: module userd
	@kdir=$(TEST_KDIR); RG_FAILOVER_ROUNDS=$${RG_FAILOVER_ROUNDS:-100} \
	  RG_TEST_TIMEOUT=$${RG_TEST_TIMEOUT:-3300} qemu-tests/run-vm.sh \
	  --timeout "$${RINGGATE_VM_TIMEOUT:-3600}" --kernel "$$kdir/arch/x86/boot/bzImage" \
	  --ksrc "$$($(TOOLS)/kernel-source.sh)" test session-failover-loop

demo: module userd
	@kdir=$(TEST_KDIR); qemu-tests/run-vm.sh --kernel "$$kdir/arch/x86/boot/bzImage" \
	  --ksrc "$$($(TOOLS)/kernel-source.sh)" demo

# NAT cost of ringgate, IPVS and nftables in the same VM (prints numbers), on
# the bench profile's kernel: the test kernel's lockdep and kmemleak tax every
# lock on the packet path. RG_BENCH_ROUNDS=n interleaved rounds (default 5),
# RG_BENCH_SECONDS=s per figure (default 5). Then failover gaps of ringgate
# and keepalived (VRRPv3): RG_BENCH_KILLS=n kills per set-up (default 20),
# RG_BENCH_LOAD_SECONDS=s of CPU load per set-up counting ownership changes
# (default 60). Together they take about 20 minutes under TCG, run-vm.sh's
# default limit, so the bench allows 45; RINGGATE_VM_TIMEOUT still overrides.
# Then the session sync latency of ringgate and IPVS's sync daemon
# (RG_BENCH_SYNC_CONNS connections, default 1000, RG_BENCH_ROUNDS rounds).
# Then HTTP mode: ringgate-l7d against HAProxy and nginx as reverse proxies
# (requests/s, MB/s) and its resume gap (RG_BENCH_ROUNDS rounds).
# Then established connections surviving an owner's death, ringgate beside
# IPVS's sync daemon (RG_BENCH_SYNC_CONNS per death, RG_BENCH_ROUNDS deaths).
# Then what an idle three-gateway cluster costs, by thread (shares of the
# guest's CPU; RG_BENCH_SECONDS doubled per figure).
# Then what session sync costs NAT throughput (module alone, with a reader
# of its new-session notifications, and the cluster running, and the
# module alone measured again as the method's noise; ratios per round). Last, the headline figures of every bench that ran, side by side
# (qemu-tests/bench/summary.sh).
# BENCHES="failover" (or "nat", "sync", "sync-cost", "survival", "l7", "idle")
# runs only those.
bench: deps userd
	@kdir=$$($(TOOLS)/build-kernel.sh --profile bench); \
	  $(TOOLS)/build-module-copy.sh "$$kdir" qemu-tests/out/bench-module >/dev/null; \
	  qemu-tests/run-vm.sh --timeout "$${RINGGATE_VM_TIMEOUT:-2700}" --kernel "$$kdir/arch/x86/boot/bzImage" \
	  --ksrc "$$($(TOOLS)/kernel-source.sh)" --module qemu-tests/out/bench-module/ringgate.ko bench $(BENCHES)

# The token ring beside corosync 3 on this host (prints a side-by-side
# table; not part of `make test`): one ringgated per node on 127.0.0.x, one
# corosync per network namespace, a client per node on each daemon's local
# API. As root; installs corosync and libcpg-dev. RG_BENCH_SECONDS,
# RG_BENCH_REPS, RG_BENCH_NODES, RG_BENCH_SIZES: see userd/bench/bench-ring.sh.
bench-ring: deps
	userd/bench/bench-ring.sh

clean:
	rm -rf *.o *.ko *.mod *.mod.c .*.cmd modules.order Module.symvers .module-common.o \
	  module/*.o module/.*.cmd module/glue/*.o module/glue/.*.cmd module/glue/bindings.rs \
	  module/*.d qemu-tests/out
	cd userd && cargo clean
	cd module/host-tests && cargo clean
