//! State transfer for the cluster layer: a node that joins a ring without
//! the others' state gets a snapshot from a survivor (the donor) before it
//! sees any message of the new ring.

use ringgate_ring::node::{Config, Event};
use ringgate_ring::wire::RingId;

use crate::net::Net;

/// The snapshots node `index` was handed, in order.
pub fn snapshots_taken(net: &Net, index: usize) -> Vec<Vec<u8>> {
    net.events[index]
        .iter()
        .filter_map(|e| match e {
            Event::Snapshot { data, .. } => Some(data.clone()),
            _ => None,
        })
        .collect()
}

/// The ring of node `index`'s `nth` snapshot request.
pub fn requested(net: &Net, index: usize, nth: usize) -> RingId {
    net.events[index]
        .iter()
        .filter_map(|e| match e {
            Event::SnapshotRequested { ring, .. } => Some(*ring),
            _ => None,
        })
        .nth(nth)
        .expect("a snapshot request")
}

#[test]
fn a_joining_node_gets_the_snapshot_before_any_new_message() {
    let ids = [1, 2, 3];
    let config = Config::default();
    let mut net = Net::new(&ids, config.clone());
    net.crash(3);
    net.advance_until(1000, |n| n.one_ring(&[1, 2]));
    net.submit(1, b"before-join");
    net.advance_until(1000, |n| n.delivered_in_current_ring(2).len() == 1);

    // Node 3 starts; the merged ring asks node 1, the lowest of the nodes
    // with state, for a snapshot.
    net.restart(3, 1, config);
    net.advance_until(1000, |n| {
        n.events[0]
            .iter()
            .any(|e| matches!(e, Event::SnapshotRequested { receivers, .. } if receivers == &[3]))
    });
    assert!(
        net.events[1]
            .iter()
            .all(|e| !matches!(e, Event::SnapshotRequested { .. })),
        "only the donor is asked"
    );
    // Node 2 sends before the snapshot is taken: node 3 holds it back.
    net.submit(2, b"after-join");
    net.advance_until(1000, |n| n.delivered_in_current_ring(1).len() == 1);
    let node3 = |n: &Net| n.events[2].clone();
    assert!(
        !node3(&net)
            .iter()
            .any(|e| matches!(e, Event::Deliver { .. })),
        "node 3 delivered before its snapshot: {:?}",
        node3(&net)
    );
    let membership = node3(&net)
        .into_iter()
        .find_map(|e| match e {
            Event::Membership {
                members,
                snapshot_from,
                ..
            } if members == [1, 2, 3] => Some(snapshot_from),
            _ => None,
        })
        .expect("node 3 announced the ring of three");
    assert_eq!(membership, Some(1));

    let now = net.now;
    let ring = requested(&net, 0, 0);
    net.node(1)
        .submit_snapshot(now, ring, b"state after before-join".to_vec())
        .unwrap();
    net.advance_until(1000, |n| {
        n.events[2]
            .iter()
            .any(|e| matches!(e, Event::Deliver { .. }))
    });
    let after: Vec<Event> = node3(&net)
        .into_iter()
        .skip_while(|e| !matches!(e, Event::Snapshot { .. }))
        .filter(|e| !matches!(e, Event::Safe { .. }))
        .collect();
    assert_eq!(
        after[0],
        Event::Snapshot {
            origin: 1,
            data: b"state after before-join".to_vec()
        }
    );
    assert!(
        matches!(&after[1], Event::Deliver { payload, .. } if payload == b"after-join"),
        "{after:?}"
    );
    // The others never see the snapshot as a message.
    assert_eq!(
        net.delivered_in_current_ring(1),
        vec![b"after-join".to_vec()]
    );
}

/// A snapshot answers the request of one ring. The donor's application
/// answered a request late, after that ring had ended (here while the next
/// one was forming): the snapshot went out in the next ring like any queued
/// message, and a receiver of that ring took it as the state as of its own
/// start, which it was not (the cluster simulator caught members of one
/// ring disagreeing after a state transfer). Each snapshot now names the
/// ring it answers.
#[test]
fn a_snapshot_for_an_ended_ring_is_not_taken_in_the_next() {
    let ids = [1, 2, 3];
    let config = Config::default();
    let mut net = Net::new(&ids, config.clone());
    net.crash(3);
    net.advance_until(1000, |n| n.one_ring(&[1, 2]));
    net.restart(3, 1, config.clone());
    let requests = |n: &Net| {
        n.events[0]
            .iter()
            .filter(|e| matches!(e, Event::SnapshotRequested { .. }))
            .count()
    };
    net.advance_until(1000, |n| requests(n) == 1);
    // The ring of three ends before node 1 answers; node 1 answers while
    // the next ring forms, and node 3 restarts without state again.
    net.crash(3);
    net.advance_until(1000, |n| !n.node(1).is_operational());
    let now = net.now;
    let ended = requested(&net, 0, 0);
    net.node(1)
        .submit_snapshot(now, ended, b"state as of the ended ring".to_vec())
        .unwrap();
    net.restart(3, 2, config);
    net.advance_until(1000, |n| requests(n) == 2);
    let snapshots = |n: &Net| snapshots_taken(n, 2);
    for _ in 0..200 {
        net.advance();
        if !snapshots(&net).is_empty() {
            break;
        }
    }
    assert!(
        snapshots(&net).is_empty(),
        "node 3 took the ended ring's snapshot: {:?}",
        snapshots(&net)
    );
    let now = net.now;
    let ring = requested(&net, 0, 1);
    net.node(1)
        .submit_snapshot(now, ring, b"state as of this ring".to_vec())
        .unwrap();
    net.advance_until(1000, |n| !snapshots(n).is_empty());
    assert_eq!(snapshots(&net), vec![b"state as of this ring".to_vec()]);
}
