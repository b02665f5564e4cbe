//! A token is taken only from the predecessor. A captured token replayed to
//! another member carried a hop count above that member's, so it was taken
//! as new: two tokens circulated and two members gave the same sequence
//! number to different messages. The widened simulator found this with its
//! replay fault class. Replayed datagrams are now refused as such, so the
//! test forges a fresh one, as a key holder could.

use std::cell::RefCell;
use std::rc::Rc;

use ringgate_ring::node::Config;
use ringgate_ring::wire::{Body, NodeId, Packet};

use crate::net::Net;

#[test]
fn a_token_replayed_to_a_member_other_than_its_successor_is_refused() {
    let ids = [1, 2, 3, 4];
    let config = Config {
        token_hold_us: 1_000_000,
        token_loss_us: 2_000_000,
        ..Config::default()
    };
    let mut net = Net::new(&ids, config);
    net.advance_until(1000, |n| n.one_ring(&ids));
    let tokens: Rc<RefCell<Vec<(NodeId, Packet)>>> = Rc::default();
    let capture = Rc::clone(&tokens);
    net.drop_rule = Some(Box::new(move |to, packet, _| {
        if matches!(packet.body, Body::Token(_)) {
            capture.borrow_mut().push((to, packet.clone()));
        }
        false
    }));
    net.submit(1, b"msg-A");
    net.run_network();

    // The last token node 3 passed to node 4 is, by its hop count, newer
    // than the last one node 2 saw.
    let (_, token) = tokens
        .borrow()
        .iter()
        .rev()
        .find(|(to, _)| *to == 4)
        .cloned()
        .expect("node 4 got a token");
    net.forge(2, &token);
    net.submit(2, b"msg-B");
    net.submit(1, b"msg-C");
    net.advance_until(100, |n| {
        ids.iter()
            .all(|id| n.delivered_in_current_ring(*id).len() == 3)
    });
    let reference = net.delivered_in_current_ring(1);
    for id in ids {
        assert_eq!(net.delivered_in_current_ring(id), reference, "node {id}");
    }
    assert!(net.one_ring(&ids));
    assert_eq!(net.node(2).stats().misdirected_tokens, 1);
}
