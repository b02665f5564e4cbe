#!/bin/bash
# Every request and dump of the family now needs
# CAP_NET_ADMIN (reads included, as IPVS and ctnetlink require), but the
# family's `events` multicast group has no GENL_MCAST_CAP_NET_ADMIN flag,
# so any user of the namespace can join it and read every VIP takeover and
# release (the failover events) and the session table's refusal counts.
# (ctnetlink's event groups cannot be joined without CAP_NET_ADMIN.)
# Expected: an unprivileged user cannot join the group (EPERM) and
# receives nothing when a VIP is taken.
#
#   ┌──────── ns gw ────────────────┐
#   │ d0 10.9.0.100/32 (VIP) ── d1  │
#   │ nobody: joins "events"        │
#   │ root:   vip add, vip own      │
#   └───────────────────────────────┘
. "$RG_REPO/qemu-tests/lib.sh"

VIP=10.9.0.100
gw() { ctl_in gw "$@"; }
nobody() { setpriv --reuid=65534 --regid=65534 --clear-groups --inh-caps=-all "$@"; }

load_module
link_namespaces gw d0 10.9.0.11/24 gw d1 10.9.0.12/24
ip -n gw addr add $VIP/32 dev d0

rm -f /tmp/listener
ip netns exec gw setpriv --reuid=65534 --regid=65534 --clear-groups --inh-caps=-all \
  python3 - <<'PY' &
import socket, struct, sys
NETLINK_GENERIC, GENL_ID_CTRL, CTRL_CMD_GETFAMILY = 16, 0x10, 3
CTRL_ATTR_FAMILY_NAME, CTRL_ATTR_MCAST_GROUPS = 2, 7
SOL_NETLINK, NETLINK_ADD_MEMBERSHIP = 270, 1

def attrs(data, offset, end):
    while offset + 4 <= end:
        length, kind = struct.unpack_from("=HH", data, offset)
        yield kind & 0x3fff, data[offset + 4:offset + length]
        offset += (length + 3) & ~3

def report(text):
    open("/tmp/listener", "a").write(text + "\n")

s = socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, NETLINK_GENERIC)
s.bind((0, 0))
name = b"ringgate\0"
body = struct.pack("=BBH", CTRL_CMD_GETFAMILY, 2, 0) + struct.pack("=HH", 4 + len(name), CTRL_ATTR_FAMILY_NAME) + name + b"\0" * (-len(name) % 4)
s.send(struct.pack("=IHHII", 16 + len(body), GENL_ID_CTRL, 1, 1, 0) + body)
data = s.recv(65536)
group = None
for kind, payload in attrs(data, 20, struct.unpack_from("=I", data)[0]):
    if kind == CTRL_ATTR_MCAST_GROUPS:
        for _, grp in attrs(payload, 0, len(payload)):
            fields = dict(attrs(grp, 0, len(grp)))
            if fields.get(1, b"").rstrip(b"\0") == b"events":
                group = struct.unpack("=I", fields[2][:4])[0]
if group is None:
    report("no events group")
    sys.exit(0)
try:
    s.setsockopt(SOL_NETLINK, NETLINK_ADD_MEMBERSHIP, group)
except PermissionError:
    report("join refused")
    sys.exit(0)
report("joined")
s.settimeout(10)
try:
    data = s.recv(65536)
    report("received %d bytes, cmd %d" % (len(data), data[16]))
except socket.timeout:
    report("received nothing")
PY
for _ in $(seq 100); do [ -s /tmp/listener ] && break; sleep 0.1; done
gw vip add "$VIP"
gw vip own "$VIP"
for _ in $(seq 120); do [ "$(wc -l </tmp/listener)" -ge 2 ] || grep -q "refused" /tmp/listener && break; sleep 0.1; done
echo "unprivileged listener: $(tr '\n' ';' </tmp/listener)"
grep -q "received [0-9]* bytes" /tmp/listener &&
  fail "an unprivileged user read a VIP takeover from the events group: $(tr '\n' ';' </tmp/listener)"
expect_eq "$(head -1 /tmp/listener)" "join refused" "an unprivileged join of the events group"
