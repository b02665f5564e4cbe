// SPDX-License-Identifier: GPL-2.0

//! Header parsing: what is a flow, which ICMP errors are translated, the
//! fragment rule, ARP format checks, and short or malformed packets.

use crate::headers::{arp, flow, icmp_quoted, Arp, Bytes, ARP_REQUEST};

/// A packet as bytes, its network header at `network`.
struct Wire {
    data: Vec<u8>,
    network: u32,
}

impl Bytes for Wire {
    fn copy(&self, offset: u32, buf: &mut [u8]) -> Option<()> {
        let start = offset as usize;
        buf.copy_from_slice(self.data.get(start..start.checked_add(buf.len())?)?);
        Some(())
    }
    fn len(&self) -> u32 {
        self.data.len() as u32
    }
    fn network_offset(&self) -> Option<u32> {
        Some(self.network)
    }
}

const CLIENT: [u8; 4] = [10, 0, 0, 1];
const VIP: [u8; 4] = [10, 9, 0, 100];

fn ipv4(proto: u8, frag: u16, src: [u8; 4], dst: [u8; 4]) -> Vec<u8> {
    let mut h = vec![0x45, 0, 0, 0, 0, 0];
    h.extend_from_slice(&frag.to_be_bytes());
    h.extend_from_slice(&[64, proto, 0, 0]);
    h.extend_from_slice(&src);
    h.extend_from_slice(&dst);
    h
}

fn tcp(sport: u16, dport: u16, seq: u32, ack: u32, flags: u8) -> Vec<u8> {
    let mut t = Vec::new();
    t.extend_from_slice(&sport.to_be_bytes());
    t.extend_from_slice(&dport.to_be_bytes());
    t.extend_from_slice(&seq.to_be_bytes());
    t.extend_from_slice(&ack.to_be_bytes());
    t.extend_from_slice(&[5 << 4, flags, 0, 0, 0, 0, 0, 0]);
    t
}

fn packet(parts: &[&[u8]]) -> Wire {
    Wire {
        data: parts.concat(),
        network: 0,
    }
}

#[test]
fn a_tcp_segment_is_a_flow_with_its_sequence_and_payload() -> Result<(), &'static str> {
    let p = packet(&[
        &ipv4(6, 0, CLIENT, VIP),
        &tcp(40000, 80, 1000, 0, 0x02),
        &[0; 10],
    ]);
    let f = flow(&p).ok_or("no flow")?;
    assert_eq!(f.saddr, u32::from_ne_bytes(CLIENT));
    assert_eq!(f.daddr, u32::from_ne_bytes(VIP));
    assert_eq!(f.sport, 40000u16.to_be());
    assert_eq!(f.dport, 80u16.to_be());
    assert_eq!(
        (f.proto, f.tcp_flags, f.seq, f.payload),
        (6, 0x02, 1000, 10)
    );
    Ok(())
}

#[test]
fn only_the_first_fragment_carries_the_ports() {
    let udp = [0x9c, 0x40, 0, 53, 0, 8, 0, 0];
    // More fragments follow, offset 0: the first fragment.
    assert!(flow(&packet(&[&ipv4(17, 0x2000, CLIENT, VIP), &udp])).is_some());
    // Fragment offset 185 (1480 bytes): no ports, whatever it carries.
    assert!(flow(&packet(&[&ipv4(17, 0x2000 | 185, CLIENT, VIP), &udp])).is_none());
    assert!(flow(&packet(&[&ipv4(17, 185, CLIENT, VIP), &udp])).is_none());
}

#[test]
fn short_and_malformed_packets_are_no_flow() {
    let whole = [ipv4(6, 0, CLIENT, VIP), tcp(1, 2, 3, 4, 0x10)].concat();
    for len in 0..whole.len() {
        let cut = Wire {
            data: whole[..len].to_vec(),
            network: 0,
        };
        assert!(flow(&cut).is_none(), "cut at {len}");
    }
    let mut bad_version = whole.clone();
    bad_version[0] = 0x65;
    assert!(flow(&Wire {
        data: bad_version,
        network: 0
    })
    .is_none());
    let mut short_ihl = whole.clone();
    short_ihl[0] = 0x44;
    assert!(flow(&Wire {
        data: short_ihl,
        network: 0
    })
    .is_none());
    let mut tcp_offset_past_end = whole;
    tcp_offset_past_end[20 + 12] = 15 << 4;
    assert!(flow(&Wire {
        data: tcp_offset_past_end,
        network: 0
    })
    .is_none());
    // Neither TCP nor UDP.
    assert!(flow(&packet(&[&ipv4(47, 0, CLIENT, VIP), &[0; 8]])).is_none());
}

/// An ICMP error of `kind` quoting a TCP segment from the VIP to the client.
fn icmp_error(kind: u8) -> Wire {
    let quoted = [
        ipv4(6, 0, VIP, CLIENT),
        tcp(80, 40000, 0, 0, 0x10)[..8].to_vec(),
    ]
    .concat();
    packet(&[
        &ipv4(1, 0, [10, 0, 0, 254], VIP),
        &[kind, 4, 0, 0, 0, 0, 5, 0xdc],
        &quoted,
    ])
}

#[test]
fn destination_unreachable_time_exceeded_and_parameter_problem_are_translated(
) -> Result<(), &'static str> {
    for kind in [3, 11, 12] {
        let q = icmp_quoted(&icmp_error(kind)).ok_or("an error not translated")?;
        assert_eq!(q.offset, 28);
        assert_eq!(q.flow.saddr, u32::from_ne_bytes(VIP));
        assert_eq!(q.flow.dport, 40000u16.to_be());
    }
    // Echo request and reply, redirect, source quench: not translated.
    for kind in [0, 4, 5, 8] {
        assert!(icmp_quoted(&icmp_error(kind)).is_none(), "type {kind}");
    }
    Ok(())
}

#[test]
fn an_icmp_error_cut_before_the_quoted_ports_is_not_translated() {
    let whole = icmp_error(3);
    // Outer IPv4 (20), ICMP (8), quoted IPv4 (20), then the ports (4).
    let cut = Wire {
        data: whole.data[..20 + 8 + 20 + 3].to_vec(),
        network: 0,
    };
    assert!(icmp_quoted(&cut).is_none());
    let enough = Wire {
        data: whole.data[..20 + 8 + 20 + 4].to_vec(),
        network: 0,
    };
    assert!(icmp_quoted(&enough).is_some());
}

/// An Ethernet/IPv4 ARP packet behind `link` bytes of link-layer header.
fn arp_packet(link: usize, op: u16, sender: [u8; 4], target: [u8; 4]) -> Wire {
    let mut a = vec![0xff; link];
    a.extend_from_slice(&[0, 1, 8, 0, 6, 4]);
    a.extend_from_slice(&op.to_be_bytes());
    a.extend_from_slice(&[2; 6]);
    a.extend_from_slice(&sender);
    a.extend_from_slice(&[0; 6]);
    a.extend_from_slice(&target);
    Wire {
        data: a,
        network: link as u32,
    }
}

#[test]
fn arp_is_read_at_the_network_offset() {
    let want = Arp {
        op: ARP_REQUEST,
        sender_ip: u32::from_ne_bytes(VIP),
        target_ip: u32::from_ne_bytes(CLIENT),
    };
    assert_eq!(arp(&arp_packet(0, 1, VIP, CLIENT)), Some(want));
    // At NF_ARP_OUT the Ethernet header comes first.
    assert_eq!(arp(&arp_packet(14, 1, VIP, CLIENT)), Some(want));
}

#[test]
fn arp_other_than_ethernet_ipv4_is_left_alone() {
    for (at, value) in [(1, 6), (2, 0x86), (4, 8), (5, 16)] {
        let mut p = arp_packet(0, 1, VIP, CLIENT);
        p.data[at] = value;
        assert!(arp(&p).is_none(), "byte {at} = {value}");
    }
    let mut short = arp_packet(0, 1, VIP, CLIENT);
    short.data.pop();
    assert!(arp(&short).is_none());
}
