#!/usr/bin/python3
"""Dumps a table with raw netlink, reading one part at a time, and runs a
command after the first part. Prints the number of objects received and
whether any part carried NLM_F_DUMP_INTR.

    dump-raced.py session|service CMD...

A change between two parts (a resize of the session table, say) must be
flagged, or the dump silently skips or repeats objects; a command that
changes nothing must not be.
"""
import os
import socket
import struct
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import nlraw  # noqa: E402

DUMPS = {"service": 11, "session": 14}  # RINGGATE_CMD_SERVICE_GET, _SESSION_GET
NLM_F_REQUEST, NLM_F_DUMP = 0x1, 0x300
NLM_F_DUMP_INTR = 0x10
NLMSG_ERROR, NLMSG_DONE = 2, 3


def main():
    sock = socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, nlraw.NETLINK_GENERIC)
    sock.bind((0, 0))
    family = nlraw.family_id(sock)
    body = struct.pack("=BBH", DUMPS[sys.argv[1]], 1, 0)
    sock.send(struct.pack("=IHHII", 16 + len(body), family, NLM_F_REQUEST | NLM_F_DUMP, 7, 0) + body)
    sessions, interrupted, parts = 0, False, 0
    while True:
        # A buffer large enough for any part (netlink truncates a datagram
        # that does not fit); parts are about 32 KB, so thousands of
        # sessions take a dozen of them.
        data = sock.recv(1 << 20)
        parts += 1
        offset, done = 0, False
        while offset < len(data):
            length, msg_type, flags, _, _ = struct.unpack_from("=IHHII", data, offset)
            if flags & NLM_F_DUMP_INTR:
                interrupted = True
            if msg_type == NLMSG_DONE:
                done = True
            elif msg_type == NLMSG_ERROR:
                (err,) = struct.unpack_from("=i", data, offset + 16)
                sys.exit(f"dump failed: errno {-err}")
            elif msg_type == family:
                sessions += 1
            offset += (length + 3) & ~3
        if done:
            break
        if parts == 1:
            subprocess.run(sys.argv[2:], check=True)
    print(f"objects {sessions} parts {parts} interrupted {int(interrupted)}")


if __name__ == "__main__":
    main()
