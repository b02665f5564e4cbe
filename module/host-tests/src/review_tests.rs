// SPDX-License-Identifier: GPL-2.0

//! Inputs an adversarial review found the pure logic mishandling. Each test states the
//! behaviour the module's own documentation (or conntrack's) promises.

use crate::headers::{flow, icmp_quoted, Bytes};
use crate::stage::Stage;
use crate::tcp::{Direction, Segment};

const SYN: u8 = 0x02;
const ACK: u8 = 0x10;

struct Wire(Vec<u8>);

impl Bytes for Wire {
    fn copy(&self, offset: u32, buf: &mut [u8]) -> Option<()> {
        let start = offset as usize;
        buf.copy_from_slice(self.0.get(start..start.checked_add(buf.len())?)?);
        Some(())
    }
    fn len(&self) -> u32 {
        self.0.len() as u32
    }
    fn network_offset(&self) -> Option<u32> {
        Some(0)
    }
}

const CLIENT: [u8; 4] = [10, 0, 0, 1];
const VIP: [u8; 4] = [10, 9, 0, 100];

fn ipv4(proto: u8, frag: u16, src: [u8; 4], dst: [u8; 4], total: u16) -> Vec<u8> {
    let mut h = vec![0x45, 0];
    h.extend_from_slice(&total.to_be_bytes());
    h.extend_from_slice(&[0, 0]);
    h.extend_from_slice(&frag.to_be_bytes());
    h.extend_from_slice(&[64, proto, 0, 0]);
    h.extend_from_slice(&src);
    h.extend_from_slice(&dst);
    h
}

fn seg(flags: u8, seq: u32, ack: u32) -> Segment {
    Segment {
        flags,
        seq,
        ack,
        payload: 0,
    }
}

/// A quoted packet that is a later fragment carries no ports: the 4 bytes
/// where ports would be are payload (chosen by whoever sent the datagram).
/// `flow` refuses later fragments; `icmp_quoted` does not, so an ICMP error
/// quoting one is looked up (and rewritten) by payload bytes taken as ports.
#[test]
fn an_icmp_error_quoting_a_later_fragment_is_not_translated() {
    // Quoted: VIP -> client, UDP, fragment offset 185 (1480 bytes), whose
    // payload at the "ports" position reads 80 -> 40000.
    let quoted = [
        ipv4(17, 185, VIP, CLIENT, 1500),
        vec![0, 80, 0x9c, 0x40, 0, 0, 0, 0],
    ]
    .concat();
    let error = [
        ipv4(1, 0, [10, 0, 0, 254], VIP, 56),
        vec![3, 4, 0, 0, 0, 0, 5, 0xdc],
        quoted,
    ]
    .concat();
    assert_eq!(icmp_quoted(&Wire(error)), None);
}

/// A UDP header is 8 bytes; `flow` accepts a datagram with only the 4 bytes
/// of ports, so pre-routing creates a session (30 s, never evicted) for a
/// packet that `rg_skb_nat` (skb_ensure_writable(thoff + 8)) then fails on
/// and drops. TCP headers are checked whole; UDP ones are not.
#[test]
fn a_udp_datagram_cut_inside_its_header_is_no_flow() {
    let p = [ipv4(17, 0, CLIENT, VIP, 24), vec![0x9c, 0x40, 0, 53]].concat();
    assert_eq!(flow(&Wire(p)), None);
}

/// After the back-end's SYN-ACK (ISN 5000), a client ACK that does not
/// acknowledge it (ack 777: a blind, spoofed-source ACK from a host that
/// never saw the SYN-ACK) must not establish the session: conntrack checks
/// the ACK against the SYN-ACK. Here any ACK does, so spoofed SYN + ACK
/// pairs make established sessions (900 s, never evicted) that fill the
/// table, and the back-end's RST answering the bad ACK (seq = 777) does not
/// fit the back-end's window, so nothing ends them.
#[test]
fn a_client_ack_that_does_not_ack_the_synack_establishes_nothing() {
    let syn = seg(SYN, 1000, 0);
    let (mut client, mut backend) = (Direction::client(&syn), Direction::backend(&syn));
    assert_eq!(
        backend.after(Stage::Syn, false, &seg(SYN | ACK, 5000, 1001)),
        Some(Stage::Syn)
    );
    assert!(backend.synack_seen());
    client.mark_synack(backend.synack_ack());
    assert_eq!(
        client.after(Stage::Syn, true, &seg(ACK, 1001, 777)),
        Some(Stage::Syn),
        "a client ACK acknowledging nothing the back-end sent"
    );
    assert_eq!(
        client.after(Stage::Syn, true, &seg(ACK, 1001, 5001)),
        Some(Stage::Established),
        "the client's ACK of the SYN-ACK"
    );
}

/// A client that gives up on a handshake and reconnects from the same port
/// (a new ISN) while the first session is still in `Syn`: the session table
/// must treat that SYN as a new connection (its back-end-side entry expects
/// the old SYN's acknowledgement, so it would never see the new handshake
/// complete); a retransmitted SYN (same ISN) is the same connection.
#[test]
fn a_new_syn_on_a_handshake_session_restarts_it() {
    let first = seg(SYN, 1000, 0);
    let client = Direction::client(&first);
    assert!(!client.restarts_handshake(&first), "a retransmitted SYN");
    assert!(
        client.restarts_handshake(&seg(SYN, 0x4000_0000, 0)),
        "a new ISN"
    );
    assert!(!client.restarts_handshake(&seg(ACK, 1001, 0)), "an ACK");
    assert!(
        !client.restarts_handshake(&seg(SYN | ACK, 0x4000_0000, 1)),
        "a SYN-ACK"
    );
}
