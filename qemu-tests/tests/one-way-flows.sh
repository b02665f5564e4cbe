#!/bin/bash
# A session lives until its timeout after the last packet in either
# direction, though it is stored as two entries (one per direction). A UDP
# flow whose traffic goes one way for longer than the timeout keeps both:
# - client -> back-end only: the back-end's late answer still comes back from
#   the VIP (a lost reply entry would let it leave with the back-end's
#   address, and the client's connected socket would never see it);
# - back-end -> client only: the client's next datagram still goes to the
#   same back-end (a lost client entry would have it scheduled afresh, to
#   the other back-end by round-robin).
#
#   ┌─ ns cl ─────────┐      ┌──────── ns gw ────────────┐      ┌─ ns be1 ──────────┐
#   │ cl0 10.9.0.1/24 ├──────┤ g0 10.9.0.11/24           │  ┌───┤ e0 10.8.0.2/24    │
#   └─────────────────┘      │    10.9.0.100/32 (VIP)    │  │   └───────────────────┘
#                            │ b0 10.8.0.1/24  (forward) ├──┤   ┌─ ns be2 ──────────┐
#                            └───────────────────────────┘  └───┤ e0 10.8.0.3/24    │
#                                 (bridge br1 in ns back)       └───────────────────┘
# Both back-ends run the same UDP server on :9000: "hello" is answered with
# the back-end's name; "stream N" makes it send N datagrams, 0.5 s apart,
# and "late" is answered after the client's stream of datagrams stops.
. "$RG_REPO/qemu-tests/lib.sh"

VIP=10.9.0.100
TIMEOUT=3
gw() { ctl_in gw "$@"; }

load_module
gateway_backends 2
for ns in be1 be2; do
  ip netns exec $ns python3 -c '
import socket, sys, time
name = sys.argv[1].encode()
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind(("0.0.0.0", 9000))
while True:
    data, peer = s.recvfrom(64)
    if data == b"hello":
        s.sendto(name, peer)
    elif data.startswith(b"stream "):
        for _ in range(int(data.split()[1])):
            s.sendto(name + b" streaming", peer)
            time.sleep(0.5)
    elif data == b"late":
        # Answered once the client has gone quiet (it says so through a file).
        s.settimeout(None)
        while True:
            try:
                open("/tmp/client-quiet").close()
                break
            except FileNotFoundError:
                time.sleep(0.1)
        s.sendto(name + b" late answer", peer)
' $ns &
done

gw vip add "$VIP"
gw vip own "$VIP"
gw config set --timeout-udp $TIMEOUT
gw service add "$VIP" 9000 --proto udp
gw backend add "$VIP" 9000 --proto udp 10.8.0.2:9000
gw backend add "$VIP" 9000 --proto udp 10.8.0.3:9000

# Client -> back-end only, for twice the timeout: the back-end's answer after
# that still comes from the VIP.
rm -f /tmp/client-quiet
ip netns exec cl python3 - $TIMEOUT <<'PY' || fail "client-only flow"
import socket, sys, time
timeout = int(sys.argv[1])
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.connect(("10.9.0.100", 9000))
s.settimeout(5)
s.send(b"late")
end = time.monotonic() + 2 * timeout
while time.monotonic() < end:
    s.send(b"one way")
    time.sleep(0.3)
open("/tmp/client-quiet", "w").close()
try:
    answer = s.recv(64)
except socket.timeout:
    sys.exit("FAIL: the back-end's answer after a one-way stream never arrived from the VIP")
assert answer.endswith(b"late answer"), answer
print("late answer:", answer.decode())
PY

# Back-end -> client only, for twice the timeout: the client's next datagram
# goes to the same back-end.
ip netns exec cl python3 - $TIMEOUT <<'PY' || fail "back-end-only flow"
import socket, sys, time
timeout = int(sys.argv[1])
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.connect(("10.9.0.100", 9000))
s.settimeout(3)
s.send(b"hello")
first = s.recv(64)
# 4 x timeout datagrams 0.5 s apart: the stream lasts twice the timeout, and
# the client answers right after the last one, well within the timeout.
s.send(b"stream %d" % (4 * timeout))
received = 0
while received < 4 * timeout:
    try:
        data = s.recv(64)
    except socket.timeout:
        sys.exit(f"FAIL: the stream stopped after {received} datagrams")
    assert data == first + b" streaming", (first, data)
    received += 1
s.send(b"hello")
again = s.recv(64)
if again != first:
    sys.exit(f"FAIL: the flow moved from {first} to {again} after a one-way stream")
print("same back-end after the stream:", again.decode())
PY
