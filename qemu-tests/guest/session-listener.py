#!/usr/bin/env python3
"""Reads the ringgate module's `sessions` multicast group and throws every
notification away, until SIGTERM; then prints how many it read.

sync-cost-bench runs it in place of a daemon: the module then builds and
sends one notification per new session, as it does for ringgated, and
something reads each one, but nothing dumps the table, no ring turns and no
peer imports. What that costs the packet path against the module alone is
the part of session sync's cost that lives in the packet path.

Usage: session-listener.py (in the gateway's namespace)."""

import signal
import socket
import struct
import sys

NETLINK_GENERIC = 16
GENL_ID_CTRL = 0x10
CTRL_CMD_GETFAMILY = 3
CTRL_ATTR_FAMILY_NAME = 2
CTRL_ATTR_MCAST_GROUPS = 7
CTRL_ATTR_MCAST_GRP_NAME = 1
CTRL_ATTR_MCAST_GRP_ID = 2
NLM_F_REQUEST = 1
SOL_NETLINK = 270
NETLINK_ADD_MEMBERSHIP = 1
NETLINK_BROADCAST_ERROR = 4
SO_RCVBUFFORCE = 33
# The daemon's own buffer for this group (ringgate-netlink's
# SESSIONS_RECEIVE_BUFFER, forced past rmem_max as the daemon forces it),
# and broadcast errors as the daemon asks for them, so that the kernel
# drops no more here than it would for the daemon.
RECEIVE_BUFFER = 4 << 20


def attributes(data):
    """(type, payload) of each netlink attribute in data."""
    out = []
    while len(data) >= 4:
        length, kind = struct.unpack_from("=HH", data)
        if length < 4:
            break
        out.append((kind & 0x3FFF, data[4:length]))
        data = data[(length + 3) & ~3:]
    return out


def sessions_group(sock):
    name = b"ringgate\0"
    attr = struct.pack("=HH", 4 + len(name), CTRL_ATTR_FAMILY_NAME) + name
    attr += b"\0" * (-len(attr) % 4)
    genl = struct.pack("=BBH", CTRL_CMD_GETFAMILY, 1, 0)
    body = genl + attr
    sock.send(struct.pack("=IHHII", 16 + len(body), GENL_ID_CTRL, NLM_F_REQUEST, 1, 0) + body)
    reply = sock.recv(65536)
    _length, kind = struct.unpack_from("=IH", reply)
    if kind != GENL_ID_CTRL:
        sys.exit("session-listener: the kernel has no ringgate family (module not loaded?)")
    for attr_kind, payload in attributes(reply[20:]):
        if attr_kind != CTRL_ATTR_MCAST_GROUPS:
            continue
        for _index, group in attributes(payload):
            fields = dict(attributes(group))
            if fields.get(CTRL_ATTR_MCAST_GRP_NAME, b"").rstrip(b"\0") == b"sessions":
                return struct.unpack("=I", fields[CTRL_ATTR_MCAST_GRP_ID][:4])[0]
    sys.exit("session-listener: the ringgate family has no sessions group")


def main():
    sock = socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, NETLINK_GENERIC)
    sock.setsockopt(socket.SOL_SOCKET, SO_RCVBUFFORCE, RECEIVE_BUFFER)
    sock.setsockopt(SOL_NETLINK, NETLINK_BROADCAST_ERROR, 1)
    sock.bind((0, 0))
    sock.setsockopt(SOL_NETLINK, NETLINK_ADD_MEMBERSHIP, sessions_group(sock))
    counts = {"notifications": 0, "losses": 0}

    def done(_signum, _frame):
        print("session-listener: %(notifications)d notifications read, %(losses)d losses" % counts)
        sys.exit(0)

    signal.signal(signal.SIGTERM, done)
    print("session-listener: listening", flush=True)
    while True:
        try:
            data = sock.recv(1 << 16)
        except OSError:
            # ENOBUFS: the kernel dropped notifications this socket had no
            # room for; counted, and reading goes on.
            counts["losses"] += 1
            continue
        while len(data) >= 16:
            length = struct.unpack_from("=I", data)[0]
            if length < 16:
                break
            counts["notifications"] += 1
            data = data[(length + 3) & ~3:]


main()
