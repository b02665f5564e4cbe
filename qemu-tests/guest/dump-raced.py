#!/usr/bin/python3
"""Dumps the session table with raw netlink, reading one part at a time,
and runs a command after the first part. Prints the number of sessions
received and whether any part carried NLM_F_DUMP_INTR.

    dump-raced.py CMD...

A resize between two parts replaces the table, so the rest of the dump
walks another table with the old cursor: the kernel must flag that, or the
dump silently skips or repeats sessions; a command that changes nothing
must not be flagged.
"""
import os
import socket
import struct
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import nlraw  # noqa: E402

RINGGATE_CMD_SESSION_GET = nlraw.uapi("RINGGATE_CMD_SESSION_GET")
NLM_F_REQUEST, NLM_F_DUMP = 0x1, 0x300
NLM_F_DUMP_INTR = 0x10
NLMSG_ERROR, NLMSG_DONE = 2, 3


def main():
    sock = socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, nlraw.NETLINK_GENERIC)
    sock.bind((0, 0))
    family = nlraw.family_id(sock)
    body = struct.pack("=BBH", RINGGATE_CMD_SESSION_GET, 1, 0)
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
            subprocess.run(sys.argv[1:], check=True)
    print(f"sessions {sessions} parts {parts} interrupted {int(interrupted)}")


if __name__ == "__main__":
    main()
