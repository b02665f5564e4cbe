#!/usr/bin/python3
"""Sends one hand-built generic netlink request to the ringgate family and
checks the errno of the answer. Real clients (ringgatectl, the kernel's YNL)
cannot send malformed attributes; this one exists to.

    nlraw.py CMD [--version V] [--attr TYPE:KIND:VALUE ...] --expect ERRNO|OK

KIND is u16, u32, u64 or str; the sizes are deliberately not checked.
"""
import argparse
import errno
import os
import socket
import struct
import sys

NETLINK_GENERIC = 16
GENL_ID_CTRL = 0x10
CTRL_CMD_GETFAMILY = 3
CTRL_ATTR_FAMILY_ID = 1
CTRL_ATTR_FAMILY_NAME = 2
NLM_F_REQUEST, NLM_F_ACK = 1, 4
NLMSG_ERROR = 2


def uapi(name):
    """The value of NAME in the family's UAPI header (an enum entry or a
    #define), so no test types a command or attribute number by hand."""
    import re
    header = os.path.join(os.path.dirname(os.path.abspath(__file__)),
                          "../../include/uapi/linux/ringgate.h")
    text = open(header).read()
    for block in re.findall(r"enum[^{]*\{([^}]*)\}", text):
        value = -1
        for entry in re.findall(r"^\s*(\w+)(?:\s*=\s*([^,\n]+))?,?", block, re.M):
            value = int(entry[1], 0) if entry[1] and entry[1].strip().isdigit() else value + 1
            if entry[0] == name:
                return value
    match = re.search(r"#define\s+%s\s+(\d+)" % name, text)
    if match:
        return int(match.group(1))
    raise KeyError(name)


def attr(kind, value):
    if kind == "str":
        return value.encode() + b"\0"
    return struct.pack({"u16": "=H", "u32": "=I", "u64": "=Q"}[kind], int(value))


def nla(nla_type, payload):
    raw = struct.pack("=HH", 4 + len(payload), nla_type) + payload
    return raw + b"\0" * (-len(raw) % 4)


def request(sock, family, cmd, version, attrs, seq):
    body = struct.pack("=BBH", cmd, version, 0) + b"".join(attrs)
    sock.send(struct.pack("=IHHII", 16 + len(body), family, NLM_F_REQUEST | NLM_F_ACK, seq, 0) + body)
    while True:
        data = sock.recv(65536)
        offset = 0
        while offset < len(data):
            length, msg_type, _, msg_seq, _ = struct.unpack_from("=IHHII", data, offset)
            if msg_type == NLMSG_ERROR and msg_seq == seq:
                (err,) = struct.unpack_from("=i", data, offset + 16)
                return data[offset + 20 : offset + length], -err
            offset += (length + 3) & ~3


def family_id(sock):
    body = struct.pack("=BBH", CTRL_CMD_GETFAMILY, 2, 0) + nla(CTRL_ATTR_FAMILY_NAME, b"ringgate\0")
    sock.send(struct.pack("=IHHII", 16 + len(body), GENL_ID_CTRL, NLM_F_REQUEST, 1, 0) + body)
    data = sock.recv(65536)
    length, msg_type = struct.unpack_from("=IH", data)
    if msg_type == NLMSG_ERROR:
        sys.exit("nlraw: the ringgate family is not registered")
    offset = 20
    while offset < length:
        alen, atype = struct.unpack_from("=HH", data, offset)
        if atype == CTRL_ATTR_FAMILY_ID:
            return struct.unpack_from("=H", data, offset + 4)[0]
        offset += (alen + 3) & ~3
    sys.exit("nlraw: no family id in the controller's answer")


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("cmd", type=int)
    parser.add_argument("--version", type=int, default=1)
    parser.add_argument("--attr", action="append", default=[])
    parser.add_argument("--expect", required=True)
    args = parser.parse_args()
    attrs = []
    for spec in args.attr:
        nla_type, kind, value = spec.split(":", 2)
        attrs.append(nla(int(nla_type), attr(kind, value)))
    sock = socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, NETLINK_GENERIC)
    sock.bind((0, 0))
    _, err = request(sock, family_id(sock), args.cmd, args.version, attrs, 2)
    # Compared as numbers: Python names some errnos by an alias (ENOTSUP).
    expected = 0 if args.expect == "OK" else getattr(errno, args.expect)
    if err != expected:
        got = "OK" if err == 0 else errno.errorcode.get(err, str(err))
        sys.exit(f"nlraw: cmd {args.cmd} {args.attr}: expected {args.expect}, got {got}")


if __name__ == "__main__":
    main()
