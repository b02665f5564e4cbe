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

#[test]
fn every_datagram_a_member_took_is_refused_when_replayed() {
    let ids = [1, 2, 3];
    let mut net = Net::new(&ids, Config::default());
    net.capture = true;
    net.advance_until(1000, |n| n.one_ring(&ids));
    for id in ids {
        net.submit(id, format!("before-{id}").as_bytes());
    }
    net.advance_until(1000, |n| n.delivered_in_current_ring(3).len() == 3);
    net.capture = false;
    let to_3: Vec<Vec<u8>> = net
        .captured
        .iter()
        .filter(|(to, _)| *to == 3)
        .map(|(_, d)| d.clone())
        .collect();
    let before = net.node(3).stats().clone();
    let events = net.events[2].len();
    for datagram in &to_3 {
        net.replay(3, datagram.clone());
    }
    net.run_network();
    let after = net.node(3).stats().clone();
    assert_eq!(after.replayed - before.replayed, to_3.len() as u64);
    assert_eq!(after.rings_installed, before.rings_installed);
    assert_eq!(net.events[2].len(), events);
}

/// A restarted receiver has an empty replay guard, so it takes captured
/// datagrams of a dead node's earlier session as fresh: they must still not
/// re-form its ring (a merge needs the absent node to answer).
#[test]
fn joins_replayed_to_a_restarted_receiver_change_nothing() {
    let mut net = Net::new(&[1, 2, 3], Config::default());
    net.capture = true;
    net.advance_until(1000, |n| n.one_ring(&[1, 2, 3]));
    net.capture = false;
    net.crash(3);
    net.advance_until(1000, |n| n.one_ring(&[1, 2]));
    let key = net.key.clone();
    let joins: Vec<Vec<u8>> = net
        .captured
        .iter()
        .filter(|(to, d)| {
            let packet = decode(&key, d);
            *to == 1 && packet.sender == 3 && matches!(packet.body, Body::Join(_))
        })
        .map(|(_, d)| d.clone())
        .collect();
    assert!(!joins.is_empty(), "node 3 sent node 1 Joins");
    net.restart(1, 1, Config::default());
    net.advance_until(1000, |n| n.one_ring(&[1, 2]));
    let before = net.node(1).stats().rings_installed;
    for join in &joins {
        net.replay(1, join.clone());
        net.advance();
    }
    net.advance_until(1000, |n| n.one_ring(&[1, 2]));
    assert_eq!(net.node(1).stats().rings_installed, before);
}
