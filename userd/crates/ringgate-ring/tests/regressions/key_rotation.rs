//! Rotating the cluster key: each node accepts both keys during a rollover,
//! so the ring goes on while nodes are updated one at a time, and once the
//! old key is retired, a datagram under it is refused and changes nothing.

use ringgate_ring::auth::ClusterKey;
use ringgate_ring::node::Config;
use ringgate_ring::wire::{Body, Join, Packet};

use crate::net::Net;

#[test]
fn a_rollover_keeps_the_ring_and_a_retired_key_changes_nothing() {
    let ids = [1, 2, 3];
    let mut net = Net::new(&ids, Config::default());
    net.advance_until(1000, |n| n.one_ring(&ids));
    let ring = net.node(1).ring();
    let new_key = ClusterKey::from_bytes(&[0x5a; 32]).unwrap();

    // Step by step, one node at a time, with messages in between.
    let steps: [fn(&mut ringgate_ring::node::Node, &ClusterKey); 3] = [
        |n, k| n.add_key(k.clone()).unwrap(),
        |n, _| n.use_newest_key().unwrap(),
        |n, _| n.retire_key().unwrap(),
    ];
    for (s, step) in steps.iter().enumerate() {
        for id in ids {
            step(net.node(id), &new_key);
            net.submit(id, format!("step{s}-node{id}").as_bytes());
            net.advance_until(1000, |n| {
                ids.iter().all(|i| {
                    n.delivered_in_current_ring(*i)
                        .contains(&format!("step{s}-node{id}").into_bytes())
                })
            });
        }
    }
    for id in ids {
        assert_eq!(net.node(id).ring(), ring, "the rollover re-formed the ring");
        assert_eq!(net.node(id).stats().unauthenticated, 0);
        assert_eq!(net.node(id).key_status().accepted, 1);
    }

    // A key holder of the old key forges a Join of a new node: refused.
    let join = Packet {
        sender: 3,
        ring: Default::default(),
        body: Body::Join(Join {
            proc_set: vec![1, 2, 3],
            ..Join::default()
        }),
    };
    let events_before = net.events[0].len();
    let stats_before = net.node(1).stats().clone();
    net.forge(1, &join);
    net.run_network();
    let stats = net.node(1).stats().clone();
    assert_eq!(stats.unauthenticated, stats_before.unauthenticated + 1);
    assert_eq!(
        ringgate_ring::node::Stats {
            unauthenticated: stats_before.unauthenticated,
            ..stats
        },
        stats_before,
        "the refused datagram changed a counter besides unauthenticated"
    );
    assert_eq!(net.events[0].len(), events_before);
    assert_eq!(net.node(1).ring(), ring);
    assert!(net.node(1).is_operational());
    // Refused steps change nothing either.
    assert!(net.node(1).use_newest_key().is_err());
    assert!(net.node(1).retire_key().is_err());
    assert_eq!(net.node(1).key_status().accepted, 1);
}
