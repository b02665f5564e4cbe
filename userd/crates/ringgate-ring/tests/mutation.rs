//! A bounded, deterministic mutation fuzz of everything a datagram reaches:
//! valid packets with bytes flipped, cut, or extended are decoded, and are fed
//! to a node *authenticated* (so they get past the tag and into the parser and
//! the state machine). Nothing may panic, and a refused packet changes nothing.

use ringgate_ring::auth::ClusterKey;
use ringgate_ring::node::{frame, Config, Node};
use ringgate_ring::wire::{Body, Carriage, Join, Packet, RingId, Token};

fn next(state: &mut u64) -> u64 {
    *state ^= *state << 13;
    *state ^= *state >> 7;
    *state ^= *state << 17;
    *state
}

#[test]
fn mutated_packets_never_panic_and_refusals_change_nothing() {
    let key = ClusterKey::from_bytes(&[3; 32]).unwrap();
    let ring = RingId {
        seq: 1,
        rep: 1,
        epoch: 0,
    };
    let seeds = [
        Packet {
            sender: 1,
            ring,
            body: Body::Token(Token {
                token_seq: 2,
                seq: 3,
                aru: 1,
                aru_id: Some(1),
                rtr: vec![2, 3],
            }),
        },
        Packet {
            sender: 1,
            ring,
            body: Body::TokenAck { token_seq: 5 },
        },
        Packet {
            sender: 1,
            ring,
            body: Body::Data(Carriage {
                seq: 1,
                first: 1,
                index: 0,
                count: 1,
                origin: 1,
                payload: vec![9; 40],
            }),
        },
        Packet {
            sender: 1,
            ring,
            body: Body::Join(Join {
                proc_set: vec![1, 2, 3],
                fail_set: vec![],
                ring_seq: 0,
                members: vec![1, 3],
            }),
        },
        Packet {
            sender: 1,
            ring: RingId {
                seq: 2,
                rep: 1,
                epoch: 0,
            },
            body: Body::Commit {
                members: vec![1, 2, 3],
                epochs: vec![1, 0, 1],
            },
        },
        Packet {
            sender: 1,
            ring: RingId::default(),
            body: Body::StaleEpoch {
                refused: 0,
                seen: 7,
            },
        },
        Packet {
            sender: 2,
            ring,
            body: Body::HoldCancel,
        },
    ];
    // The node under test is in ring 1 (from node 1's Commit), so mutated
    // tokens and carriage packets reach the ring's logic, not just the
    // wrong-ring check.
    let commit = |key: &ClusterKey| {
        let datagram = Packet {
            sender: 1,
            ring,
            body: Body::Commit {
                members: vec![1, 2, 3],
                epochs: vec![1, 0, 1],
            },
        }
        .encode();
        let mut datagram = frame(1, 1, &datagram);
        key.seal(&mut datagram);
        datagram
    };
    let mut state = 0x1234_5678_9ABC_DEF0u64;
    for round in 0..20_000 {
        let mut bytes = seeds[round % seeds.len()].encode();
        for _ in 0..1 + next(&mut state) % 4 {
            let at = (next(&mut state) as usize) % bytes.len();
            match next(&mut state) % 3 {
                0 => bytes[at] ^= 1 << (next(&mut state) % 8),
                1 => bytes.truncate(at),
                _ => bytes.insert(at, next(&mut state) as u8),
            }
            if bytes.is_empty() {
                bytes.push(0);
            }
        }
        let decoded = Packet::decode(&bytes);

        let mut node = Node::new(2, &[1, 2, 3], key.clone(), Config::default(), 0).unwrap();
        node.handle_datagram(0, &commit(&key));
        assert_eq!(node.members(), &[1, 2, 3]);
        while node.poll_transmit().is_some() {}
        let before = node.stats().clone();
        let mut datagram = frame(1, 2, &bytes);
        key.seal(&mut datagram);
        node.handle_datagram(1, &datagram);
        if decoded.is_err() {
            assert_eq!(
                node.stats().malformed,
                before.malformed + 1,
                "round {round}"
            );
            assert!(
                node.poll_transmit().is_none() && node.poll_event().is_none(),
                "round {round}"
            );
        }
    }
}

#[test]
fn oversized_datagrams_are_counted_and_change_nothing() {
    let key = ClusterKey::from_bytes(&[3; 32]).unwrap();
    let mut node = Node::new(2, &[1, 2, 3], key.clone(), Config::default(), 0).unwrap();
    while node.poll_transmit().is_some() {}
    let mut datagram = vec![0u8; ringgate_ring::limits::MAX_DATAGRAM];
    key.seal(&mut datagram);
    node.handle_datagram(1, &datagram);
    assert_eq!(node.stats().oversized, 1);
    assert_eq!(
        node.stats().unauthenticated,
        0,
        "refused before the tag is checked"
    );
    assert!(node.poll_transmit().is_none() && node.poll_event().is_none());
}

/// Inputs the cargo-fuzz target once crashed on, kept as regression tests.
#[test]
fn fuzz_findings_stay_fixed() {
    // A Join whose ring number is u64::MAX made the representative's next
    // ring number overflow.
    let join_at_the_top = [
        0x52, 0x47, 0x01, 0x04, 0x00, 0x01, 0x00, 0x00, 0x00, 0x00, 0x42, 0x25, 0x20, 0x00, 0x05,
        0x00, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x00, 0x01, 0x00, 0x02, 0x00, 0x00,
    ];
    let key = ClusterKey::from_bytes(&[9; 32]).unwrap();
    let mut node = Node::new(2, &[1, 2, 3], key.clone(), Config::default(), 0).unwrap();
    let mut datagram = frame(1, 1, &join_at_the_top);
    key.seal(&mut datagram);
    node.handle_datagram(1, &datagram);
    node.handle_timeout(10_000_000);
    while node.poll_transmit().is_some() {}
}
