// SPDX-License-Identifier: GPL-2.0

//! Packet parsing: which packets ringgate acts on, read from their headers.
//!
//! The parsers see a packet only through `Bytes`, a bounded copy of a few
//! header bytes at an offset, which fails when the packet is shorter; so
//! each parse is a handful of fixed-size copies into stack buffers: no
//! allocation, no lock, bounded work, and no read outside the packet. Pure
//! logic with no kernel dependency (`module/host-tests` compiles it).
//! Addresses and ports are kept in network byte order as they are in
//! memory (`from_ne_bytes`), sequence numbers in host order.

/// A packet's bytes, as the parsers read them.
pub(crate) trait Bytes {
    /// Copies `buf.len()` bytes from `offset` (from the start of the
    /// packet's data) into `buf`; `None` if the packet is shorter.
    fn copy(&self, offset: u32, buf: &mut [u8]) -> Option<()>;
    /// The packet's length in bytes.
    fn len(&self) -> u32;
    /// Where the network header starts (at `NF_ARP_OUT` the link-layer
    /// header has been pushed before it), if it is within the packet.
    fn network_offset(&self) -> Option<u32>;
}

/// `N` bytes at `offset`.
fn read<const N: usize>(bytes: &impl Bytes, offset: u32) -> Option<[u8; N]> {
    let mut buf = [0; N];
    bytes.copy(offset, &mut buf)?;
    Some(buf)
}

/// `K` bytes of `b` at `at`. Every caller reads a fixed-size header copy
/// at a constant offset inside it, so the zeros for a range outside `b`
/// never show; they replace what would otherwise be a panic on the packet
/// path.
fn field<const K: usize>(b: &[u8], at: usize) -> [u8; K] {
    b.get(at..at.saturating_add(K))
        .and_then(|s| s.try_into().ok())
        .unwrap_or([0; K])
}

fn be16(b: &[u8], at: usize) -> u16 {
    u16::from_be_bytes(field(b, at))
}

fn ne16(b: &[u8], at: usize) -> u16 {
    u16::from_ne_bytes(field(b, at))
}

fn be32(b: &[u8], at: usize) -> u32 {
    u32::from_be_bytes(field(b, at))
}

fn ne32(b: &[u8], at: usize) -> u32 {
    u32::from_ne_bytes(field(b, at))
}

pub(crate) const PROTO_ICMP: u8 = 1;
pub(crate) const PROTO_TCP: u8 = 6;
pub(crate) const PROTO_UDP: u8 = 17;

/// ICMP errors that quote the packet they are about, and so are translated
/// with it: destination unreachable (fragmentation needed among them, which
/// path-MTU discovery rests on), time exceeded and parameter problem.
pub(crate) const ICMP_ERRORS_TRANSLATED: [u8; 3] = [3, 11, 12];

/// The ARP request opcode (`ARPOP_REQUEST`).
pub(crate) const ARP_REQUEST: u32 = 1;
/// The ARP reply opcode (`ARPOP_REPLY`).
pub(crate) const ARP_REPLY: u32 = 2;

/// The addresses and ports of an IPv4 TCP/UDP packet (network byte order).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct Flow {
    pub(crate) saddr: u32,
    pub(crate) daddr: u32,
    pub(crate) sport: u16,
    pub(crate) dport: u16,
    pub(crate) proto: u8,
    pub(crate) tcp_flags: u8,
    /// TCP only (host order): sequence and acknowledgement numbers and the
    /// payload length in bytes; 0 otherwise.
    pub(crate) seq: u32,
    pub(crate) ack: u32,
    pub(crate) payload: u32,
}

/// The fields of an IPv4 header that decide what ringgate does.
struct Ipv4 {
    /// Header length in bytes (20 to 60).
    header_len: u32,
    proto: u8,
    /// Not the first fragment of a datagram (its fragment offset is not 0).
    later_fragment: bool,
    saddr: u32,
    daddr: u32,
}

/// The IPv4 header at `offset`, if there is a well-formed one.
fn ipv4(bytes: &impl Bytes, offset: u32) -> Option<Ipv4> {
    let h = read::<20>(bytes, offset)?;
    let (version, ihl) = (h[0] >> 4, h[0] & 0x0f);
    if version != 4 || ihl < 5 {
        return None;
    }
    const FRAGMENT_OFFSET: u16 = 0x1fff;
    Some(Ipv4 {
        header_len: u32::from(ihl) * 4,
        proto: h[9],
        later_fragment: be16(&h, 6) & FRAGMENT_OFFSET != 0,
        saddr: ne32(&h, 12),
        daddr: ne32(&h, 16),
    })
}

/// The packet's IPv4 TCP/UDP addresses and ports, if it has them. A
/// fragment other than the first carries no ports, so it has none
/// (pre-routing runs after defragmentation, so this is rare there).
pub(crate) fn flow(bytes: &impl Bytes) -> Option<Flow> {
    let start = bytes.network_offset()?;
    let ip = ipv4(bytes, start)?;
    if (ip.proto != PROTO_TCP && ip.proto != PROTO_UDP) || ip.later_fragment {
        return None;
    }
    let l4 = start.checked_add(ip.header_len)?;
    // A whole UDP header (8 bytes), not only its ports: translating rewrites
    // its checksum, so a datagram cut inside it could never be translated
    // and must not get a session (TCP headers are checked whole below).
    let ports = read::<8>(bytes, l4)?;
    let mut flow = Flow {
        saddr: ip.saddr,
        daddr: ip.daddr,
        sport: ne16(&ports, 0),
        dport: ne16(&ports, 2),
        proto: ip.proto,
        ..Flow::default()
    };
    if ip.proto == PROTO_TCP {
        let th = read::<20>(bytes, l4)?;
        let tcp_len = u32::from(th[12] >> 4) * 4;
        let end = l4.checked_add(tcp_len)?;
        if tcp_len < 20 || end > bytes.len() {
            return None;
        }
        flow.tcp_flags = th[13];
        flow.seq = be32(&th, 4);
        flow.ack = be32(&th, 8);
        // The packet's length, not the IP total length: a GRO or TSO
        // packet carries many segments' payload (and big TCP's total
        // length is 0).
        flow.payload = bytes.len() - end;
    }
    Some(flow)
}

/// An ICMP error quoting an IPv4 TCP/UDP packet: the quoted packet's flow
/// and where its IPv4 header starts (for rewriting it).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Quoted {
    pub(crate) flow: Flow,
    pub(crate) offset: u32,
}

/// The packet an ICMP error quotes, if the packet is an error of a kind
/// translated (`ICMP_ERRORS_TRANSLATED`) quoting a TCP/UDP packet.
pub(crate) fn icmp_quoted(bytes: &impl Bytes) -> Option<Quoted> {
    let start = bytes.network_offset()?;
    let outer = ipv4(bytes, start)?;
    if outer.proto != PROTO_ICMP || outer.later_fragment {
        return None;
    }
    let icmp_at = start.checked_add(outer.header_len)?;
    let icmp = read::<8>(bytes, icmp_at)?;
    if !ICMP_ERRORS_TRANSLATED.contains(&icmp[0]) {
        return None;
    }
    let offset = icmp_at.checked_add(8)?;
    let inner = ipv4(bytes, offset)?;
    // A quoted later fragment carries no ports: what sits where they would
    // be is payload, chosen by whoever sent the datagram.
    if (inner.proto != PROTO_TCP && inner.proto != PROTO_UDP) || inner.later_fragment {
        return None;
    }
    let ports = read::<4>(bytes, offset.checked_add(inner.header_len)?)?;
    Some(Quoted {
        flow: Flow {
            saddr: inner.saddr,
            daddr: inner.daddr,
            sport: ne16(&ports, 0),
            dport: ne16(&ports, 2),
            proto: inner.proto,
            ..Flow::default()
        },
        offset,
    })
}

/// The fields of an Ethernet/IPv4 ARP packet that ringgate decides on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Arp {
    /// `ARP_REQUEST`, `ARP_REPLY`, or another opcode.
    pub(crate) op: u32,
    /// Sender and target protocol addresses, network byte order.
    pub(crate) sender_ip: u32,
    pub(crate) target_ip: u32,
}

/// The packet as Ethernet/IPv4 ARP, if it is one: hardware type Ethernet
/// (1), protocol IPv4 (0x0800), 6-byte hardware and 4-byte protocol
/// addresses. The header is at the network offset, not at the start of the
/// data: on the way out the Ethernet header is already in front of it.
pub(crate) fn arp(bytes: &impl Bytes) -> Option<Arp> {
    const ETHERNET: u16 = 1;
    const IPV4: u16 = 0x0800;
    let a = read::<28>(bytes, bytes.network_offset()?)?;
    if be16(&a, 0) != ETHERNET || be16(&a, 2) != IPV4 || a[4] != 6 || a[5] != 4 {
        return None;
    }
    Some(Arp {
        op: u32::from(be16(&a, 6)),
        sender_ip: ne32(&a, 14),
        target_ip: ne32(&a, 24),
    })
}
