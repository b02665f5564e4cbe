//! Small application messages queued together travel batched in one
//! carriage packet (corosync packs several per packet too), and every
//! member still delivers each of them, in one order.

use ringgate_ring::node::{Config, Event};
use ringgate_ring::wire::Body;

use crate::net::{decode, Net};

#[test]
fn small_messages_share_carriage_packets_and_are_delivered_one_by_one() {
    let ids = [1, 2, 3];
    let mut net = Net::new(&ids, Config::default());
    net.advance_until(1000, |n| n.one_ring(&ids));
    net.capture = true;
    let sent: Vec<Vec<u8>> = (0..100)
        .map(|k| format!("small-{k}").into_bytes())
        .collect();
    for m in &sent {
        net.submit(2, m);
    }
    net.advance_until(1000, |n| {
        (0..3).all(|i| {
            n.events[i]
                .iter()
                .filter(|e| matches!(e, Event::Deliver { .. }))
                .count()
                == 100
        })
    });
    for (id, events) in ids.iter().zip(&net.events) {
        let delivered: Vec<Vec<u8>> = events
            .iter()
            .filter_map(|e| match e {
                Event::Deliver { payload, .. } => Some(payload.clone()),
                _ => None,
            })
            .collect();
        assert_eq!(delivered, sent, "node {id} delivered otherwise");
    }
    // Node 2's carriage packets, as node 1 received them.
    let key = net.key.clone();
    let packets = net
        .captured
        .iter()
        .filter(|(to, d)| {
            *to == 1 && matches!(decode(&key, d).body, Body::Data(c) if c.origin == 2)
        })
        .count();
    assert!(
        packets <= 10,
        "100 small messages took {packets} carriage packets"
    );
}
