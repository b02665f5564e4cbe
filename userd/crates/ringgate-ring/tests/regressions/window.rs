//! A sender may broadcast up to `WINDOW` packets above the token's aru, and
//! every receiver must take all of it. Receivers once refused anything more
//! than two windows above their trailing `stable`, a sender's own packets
//! too: a lossless ring of 17 nodes refused hundreds of packets, and one of
//! 32 (MAX_NODES) stopped delivering for good while its token circulated.

use ringgate_ring::limits::MAX_NODES;
use ringgate_ring::node::{Config, Event};
use ringgate_ring::wire::NodeId;

use crate::net::Net;

const MESSAGES_PER_NODE: usize = 200;

/// Forms a lossless ring of `nodes`, has each submit its messages at once,
/// checks that every node delivers all of them, and returns the refusals.
fn saturate(nodes: usize) -> u64 {
    let ids: Vec<NodeId> = (1..=nodes as NodeId).collect();
    let mut net = Net::new(&ids, Config::default());
    net.advance_until(1000, |n| n.one_ring(&ids));
    for id in &ids {
        for k in 0..MESSAGES_PER_NODE {
            net.submit(*id, format!("{id}/{k}").as_bytes());
        }
    }
    let total = nodes * MESSAGES_PER_NODE;
    let delivered = |n: &Net, i: usize| {
        n.events[i]
            .iter()
            .filter(|e| matches!(e, Event::Deliver { .. }))
            .count()
    };
    net.advance_until(1000, |n| (0..nodes).all(|i| delivered(n, i) == total));
    assert!(
        net.one_ring(&ids),
        "the ring re-formed on a lossless network"
    );
    let reference: Vec<_> = net.events[0]
        .iter()
        .filter(|e| matches!(e, Event::Deliver { .. }))
        .collect();
    for (id, events) in ids.iter().zip(&net.events).skip(1) {
        let here: Vec<_> = events
            .iter()
            .filter(|e| matches!(e, Event::Deliver { .. }))
            .collect();
        assert_eq!(here, reference, "node {id} delivered another order");
    }
    ids.iter()
        .map(|id| net.node(*id).stats().out_of_window)
        .sum()
}

#[test]
fn a_full_ring_saturated_to_the_window_delivers_everything() {
    assert_eq!(saturate(MAX_NODES), 0, "packets refused as out of window");
}

#[test]
fn rings_of_17_and_24_nodes_refuse_nothing() {
    assert_eq!(saturate(17), 0, "17 nodes: packets refused");
    assert_eq!(saturate(24), 0, "24 nodes: packets refused");
}
