#!/usr/bin/env python3
"""Subscribes to the ringgate module's `sessions` multicast group and reads
nothing, until SIGTERM; then prints how many notifications its buffer held.

sync-cost-bench runs it in place of a daemon: the module then builds and
sends one notification per new session, as it does for ringgated, but no
process spends CPU reading them (python under TCG would cost more than the
module does: about a millisecond a message); once the socket's buffer is
full the kernel drops them. What that costs the packet path against the
module alone is the part of session sync's cost that lives in the packet
path.

Usage: session-listener.py (in the gateway's namespace)."""

import signal
import socket
import struct
import sys
import time

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
    body = struct.pack("=BBH", CTRL_CMD_GETFAMILY, 1, 0) + attr
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
    sock.bind((0, 0))
    sock.setsockopt(SOL_NETLINK, NETLINK_ADD_MEMBERSHIP, sessions_group(sock))

    def done(_signum, _frame):
        # What the buffer held: notifications the module sent here.
        sock.setblocking(False)
        held, overflowed = 0, False
        while True:
            try:
                sock.recv(65536)
                held += 1
            except BlockingIOError:
                break
            except OSError:
                # ENOBUFS, once: the kernel dropped notifications for want
                # of room, as intended.
                overflowed = True
        print("session-listener: %d notifications held unread%s"
              % (held, ", more dropped" if overflowed else ""))
        sys.exit(0)

    signal.signal(signal.SIGTERM, done)
    print("session-listener: listening", flush=True)
    while True:
        time.sleep(3600)


main()
