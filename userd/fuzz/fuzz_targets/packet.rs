//! Fuzzes everything a datagram reaches once it is authenticated: the
//! decoder must never panic, must round-trip what it accepts, and a node in
//! a ring must survive any packet, counting the ones it refuses.
#![no_main]

use libfuzzer_sys::fuzz_target;
use ringgate_ring::auth::ClusterKey;
use ringgate_ring::node::{frame, Config, Node};
use ringgate_ring::wire::{Body, Packet, RingId};

fuzz_target!(|data: &[u8]| {
    let decoded = Packet::decode(data);
    if let Ok(packet) = &decoded {
        assert_eq!(Packet::decode(&packet.encode()).as_ref(), Ok(packet));
    }

    let Ok(key) = ClusterKey::from_bytes(&[9; 32]) else {
        return;
    };
    let Ok(mut node) = Node::new(2, &[1, 2, 3], key.clone(), Config::default(), 0) else {
        return;
    };
    // Put the node in ring 1 so tokens and data reach the ring's logic.
    let commit = Packet {
        sender: 1,
        ring: RingId {
            seq: 1,
            rep: 1,
            epoch: 1,
        },
        body: Body::Commit {
            members: vec![1, 2, 3],
            epochs: vec![1, 0, 1],
        },
    }
    .encode();
    let mut commit = frame(1, 1, &commit);
    key.seal(&mut commit);
    node.handle_datagram(0, &commit);
    let malformed_before = node.stats().malformed;

    let mut datagram = frame(1, 2, data);
    key.seal(&mut datagram);
    node.handle_datagram(1, &datagram);
    node.handle_timeout(1_000_000);
    while node.poll_transmit().is_some() {}
    while node.poll_event().is_some() {}
    if decoded.is_err()
        && data.len() + 32 + ringgate_ring::limits::FRESHNESS_LEN
            <= ringgate_ring::limits::MAX_DATAGRAM
    {
        assert_eq!(node.stats().malformed, malformed_before + 1);
    }
});
