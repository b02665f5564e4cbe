#!/bin/bash
# ringgated refuses to start without the module, starts when it is loaded,
# and stops cleanly (exit 0) on SIGTERM and on SIGINT.
#
#   ┌──── initial namespace ────┐
#   │ ringgated ── genl ──► ringgate.ko
#   └───────────────────────────┘
. "$RG_REPO/qemu-tests/lib.sh"
ringgated=$RG_REPO/userd/target/release/ringgated

if "$ringgated" 2>/tmp/ringgated.err; then fail "ringgated started without the module"; fi
grep -q "module is not loaded" /tmp/ringgated.err || fail "unclear error: $(cat /tmp/ringgated.err)"

load_module
for signal in TERM INT; do
  "$ringgated" 2>/tmp/ringgated.log &
  pid=$!
  for _ in $(seq 100); do grep -q started /tmp/ringgated.log && break; sleep 0.1; done
  grep -q "module ringgate .* answers" /tmp/ringgated.log || fail "no module check in: $(cat /tmp/ringgated.log)"
  kill -$signal $pid
  status=0
  wait $pid || status=$?
  expect_eq "$status" 0 "exit status after SIG$signal"
  grep -q "stopping" /tmp/ringgated.log || fail "no clean stop logged"
done
