//! Join and Commit are fenced by no ring id: replaying one captured Join of
//! an absent node five times re-formed the ring five times. Every datagram
//! now carries its sender's epoch and counter, and a copy is refused.

use ringgate_ring::node::Config;
use ringgate_ring::wire::Body;

use crate::net::{decode, Net};

#[test]
fn a_replayed_join_of_an_absent_node_changes_nothing() {
    let mut net = Net::new(&[1, 2, 3], Config::default());
    net.capture = true;
    net.advance_until(1000, |n| n.one_ring(&[1, 2, 3]));
    net.capture = false;
    net.crash(3);
    net.advance_until(1000, |n| n.one_ring(&[1, 2]));

    let key = net.key.clone();
    let join = net
        .captured
        .iter()
        .find(|(to, d)| {
            let packet = decode(&key, d);
            *to == 1 && packet.sender == 3 && matches!(packet.body, Body::Join(_))
        })
        .map(|(_, d)| d.clone())
        .expect("node 3 sent node 1 a Join");
    let rings_before = net.node(1).stats().rings_installed;
    for _ in 0..5 {
        net.replay(1, join.clone());
        net.advance();
    }
    net.advance_until(1000, |n| n.one_ring(&[1, 2]));
    assert_eq!(net.node(1).stats().rings_installed, rings_before);
    assert_eq!(net.node(1).stats().replayed, 5);
}
