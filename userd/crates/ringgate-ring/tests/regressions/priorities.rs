//! Priority classes and backpressure for the cluster layer: a control
//! message (a VIP move) submitted while bulk messages (session sync) fill
//! the window is delivered within about a rotation, not after the bulk
//! backlog; a full queue refuses a submit at once and the ring goes on.

use ringgate_ring::node::{Config, Event, Priority, SubmitError};

use crate::net::Net;

/// The position of the first delivery at node `index` whose payload is
/// `payload`, counting deliveries only.
fn position(net: &Net, index: usize, payload: &[u8]) -> Option<usize> {
    net.events[index]
        .iter()
        .filter(|e| matches!(e, Event::Deliver { .. }))
        .position(|e| matches!(e, Event::Deliver { payload: p, .. } if p == payload))
}

#[test]
fn a_control_message_never_waits_behind_bulk_and_full_queues_push_back() {
    let ids = [1, 2, 3];
    let mut net = Net::new(&ids, Config::default());
    net.advance_until(1000, |n| n.one_ring(&ids));

    // Nodes 2 and 3 queue far more bulk than the window holds.
    let bulk = vec![7u8; 1000];
    let mut queued = 0;
    loop {
        let now = net.now;
        let result = net.node(2).submit(now, bulk.clone());
        if result == Err(SubmitError::Backlog(Priority::Bulk)) {
            break;
        }
        result.unwrap();
        net.node(3).submit(now, bulk.clone()).unwrap();
        queued += 1;
    }
    assert_eq!(queued, ringgate_ring::limits::MAX_PENDING);
    // The window fills with bulk.
    net.run_network_at_most(4_000);
    let before = net.events[0]
        .iter()
        .filter(|e| matches!(e, Event::Deliver { .. }))
        .count();
    assert!(before < 2 * queued, "the bulk was all delivered already");

    // Node 3 sends a VIP move behind its own 4096 queued bulk messages and
    // a window full of node 2's.
    let now = net.now;
    net.node(3)
        .submit_with(now, Priority::Control, b"vip-move".to_vec())
        .unwrap();
    net.advance_until(100_000, |n| position(n, 0, b"vip-move").is_some());
    let at = position(&net, 0, b"vip-move").unwrap();
    let waited = at - before;
    eprintln!("control message delivered after {waited} bulk messages");
    assert!(
        waited <= 200,
        "the control message waited behind {waited} bulk messages"
    );
    // Everything else is delivered too, in the same order everywhere.
    net.advance_until(100_000, |n| {
        n.events[0]
            .iter()
            .filter(|e| matches!(e, Event::Deliver { .. }))
            .count()
            == 2 * queued + 1
    });
    let order = |n: &Net, i: usize| {
        n.events[i]
            .iter()
            .filter_map(|e| match e {
                Event::Deliver { first, .. } => Some(*first),
                _ => None,
            })
            .collect::<Vec<_>>()
    };
    assert_eq!(order(&net, 0), order(&net, 1));
    assert_eq!(order(&net, 0), order(&net, 2));
}
