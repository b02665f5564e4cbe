#!/bin/bash
# Offloaded packets through the NAT: the same 4 MB upload and download
# through the VIP arrive intact (SHA-256 compared end to end) whether the
# gateway sees TSO super-packets with partial checksums (veth's default),
# GRO-merged packets (GRO on the gateway's interfaces), or plain MTU-sized
# packets with full checksums (offloads off at the senders). The gateway
# must have seen packets larger than the MTU in the first two cases, or the
# test would prove nothing about them.
#
#   ┌─ ns cl ──────────┐     ┌──────── ns gw ────────────┐     ┌─ ns be ────────────┐
#   │ cl0 10.9.0.1/24  ├─────┤ g0 10.9.0.11/24           │     │ e0 10.8.0.2/24     │
#   │                  │     │    10.9.0.100/32 (VIP)    │     │ :7000 sha256 of    │
#   │                  │     │ b0 10.8.0.1/24            ├─────┤ upload / 4 MB down │
#   └──────────────────┘     └───────────────────────────┘     └────────────────────┘
. "$RG_REPO/qemu-tests/lib.sh"

VIP=10.9.0.100
gw() { ctl_in gw "$@"; }

load_module
gateway_line be
# The back-end: the first byte says what to do; "u" answers the SHA-256 of
# the rest, "d" sends 4 MB of a fixed pattern.
ip netns exec be python3 -c '
import hashlib, socket, threading
PATTERN = bytes(range(256)) * 16384
def serve(conn):
    if conn.recv(1) == b"u":
        digest = hashlib.sha256()
        while data := conn.recv(65536):
            digest.update(data)
        conn.sendall(digest.hexdigest().encode())
    else:
        conn.sendall(PATTERN)
    conn.close()
srv = socket.socket()
srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
srv.bind(("0.0.0.0", 7000))
srv.listen(4)
while True:
    threading.Thread(target=serve, args=(srv.accept()[0],), daemon=True).start()
' &
gw vip add "$VIP"
gw vip own "$VIP"
gw backend add "$VIP" 7000 10.8.0.2:7000
wait_port be tcp 7000

# Uploads 4 MB and downloads 4 MB through the VIP; fails unless both arrive
# exactly.
transfer() {
  ip netns exec cl python3 -c '
import hashlib, socket, sys
PATTERN = bytes(range(256)) * 16384
up = socket.create_connection(("10.9.0.100", 7000), timeout=20)
up.sendall(b"u" + PATTERN)
up.shutdown(socket.SHUT_WR)
answer = up.recv(64).decode()
if answer != hashlib.sha256(PATTERN).hexdigest():
    sys.exit(f"upload digest {answer!r} differs")
down = socket.create_connection(("10.9.0.100", 7000), timeout=20)
down.sendall(b"d")
got = b""
while data := down.recv(65536):
    got += data
if got != PATTERN:
    sys.exit(f"download differs: {len(got)} bytes")
' || fail "transfer with $1"
}

# largest_seen WHAT IF...: the largest IPv4 packet seen on each gateway
# interface IF during one "transfer WHAT", space-separated in the order
# given. One transfer for both interfaces, each captured by its own
# tcpdump: a transfer for each cost a python start and 8 MB through the
# TCG guest's NAT, and each capture sees the same packets either way.
largest_seen() {
  local what=$1 dev size captures=() sizes=()
  shift
  for dev in "$@"; do
    ip netns exec gw tcpdump -U --immediate-mode -nn -i "$dev" -w "/tmp/offload-$dev.pcap" "tcp port 7000" 2>"/tmp/offload-$dev.log" &
    captures+=($!)
  done
  for dev in "$@"; do wait_listening "/tmp/offload-$dev.log"; done
  transfer "$what"
  sleep 0.5
  kill "${captures[@]}"; wait "${captures[@]}" 2>/dev/null || true
  for dev in "$@"; do
    # An empty capture has no largest packet: fail rather than call it 0,
    # which would pass the "no offloads" check below.
    size=$(tcpdump -nn -r "/tmp/offload-$dev.pcap" 2>/dev/null | grep -o 'length [0-9]*' |
      awk '$2 > max {max = $2} END {if (NR == 0) exit 1; print max}') ||
      fail "no packet of \"transfer $what\" captured on $dev"
    sizes+=("$size")
  done
  echo "${sizes[*]}"
}

# 1. veth's defaults: TSO at the senders, super-packets forwarded as they are.
sizes=$(largest_seen "TSO super-packets" g0 b0)
read -r from_client from_backend <<<"$sizes"
expect_ge "$from_client" 2000 "largest TCP payload from the client with TSO"
expect_ge "$from_backend" 2000 "largest TCP payload from the back-end with TSO"

# 2. GRO on the gateway's interfaces, senders segmenting in software.
ip netns exec cl ethtool -K cl0 tso off gso off >/dev/null
ip netns exec be ethtool -K e0 tso off gso off >/dev/null
ip netns exec gw ethtool -K g0 gro on >/dev/null
ip netns exec gw ethtool -K b0 gro on >/dev/null
sizes=$(largest_seen "GRO" g0 b0)
read -r from_client from_backend <<<"$sizes"
expect_ge "$from_client" 2000 "largest TCP payload from the client after GRO"
expect_ge "$from_backend" 2000 "largest TCP payload from the back-end after GRO"

# 3. No offloads at all: full checksums computed by the senders.
ip netns exec gw ethtool -K g0 gro off >/dev/null
ip netns exec gw ethtool -K b0 gro off >/dev/null
ip netns exec cl ethtool -K cl0 tx off >/dev/null
ip netns exec be ethtool -K e0 tx off >/dev/null
largest=$(largest_seen "no offloads" g0)
[ "$largest" -le 1448 ] || fail "a $largest-byte payload with offloads off"

unload_module
