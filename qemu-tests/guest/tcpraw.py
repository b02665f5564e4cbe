#!/usr/bin/python3
"""Sends one hand-built TCP segment from the client's address, as a host
off the connection's path (or a broken client) could.

    tcpraw.py SRC SPORT DST DPORT FLAGS SEQ ACK

FLAGS is a combination of the letters S (SYN), A (ACK), R (RST), F (FIN).
"""
import socket
import struct
import sys


def checksum(data):
    if len(data) % 2:
        data += b"\0"
    total = sum(struct.unpack(f"!{len(data) // 2}H", data))
    while total >> 16:
        total = (total & 0xFFFF) + (total >> 16)
    return ~total & 0xFFFF


def segment(src, sport, dst, dport, flags, seq, ack):
    bits = {"F": 0x01, "S": 0x02, "R": 0x04, "A": 0x10}
    flag_byte = sum(bits[f] for f in flags)
    header = struct.pack("!HHIIBBHHH", sport, dport, seq & 0xFFFFFFFF, ack & 0xFFFFFFFF,
                         5 << 4, flag_byte, 65535, 0, 0)
    pseudo = socket.inet_aton(src) + socket.inet_aton(dst) + struct.pack("!BBH", 0, 6, len(header))
    return header[:16] + struct.pack("!H", checksum(pseudo + header)) + header[18:]


def main():
    src, sport, dst, dport, flags, seq, ack = sys.argv[1:8]
    raw = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_TCP)
    raw.bind((src, 0))
    raw.sendto(segment(src, int(sport), dst, int(dport), flags, int(seq), int(ack)), (dst, 0))


if __name__ == "__main__":
    main()
