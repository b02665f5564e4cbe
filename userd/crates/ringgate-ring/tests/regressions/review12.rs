//! review12: defects reproduced on the public `Node` API (ignored until
//! fixed; each fails when run).

use ringgate_ring::node::{Config, Event};

use crate::net::Net;

/// Was DEFECT, fixed by naming the ring in `submit_snapshot` (the
/// application passes the request's ring): `submit_snapshot` tagged its
/// snapshot with the *oldest unanswered*
/// request (`snapshot_requests` FIFO), not with the request it answers.
/// If the application ever skips one request (the daemon does exactly
/// that when `submit_snapshot` is refused with `Backlog(Control)`: it logs
/// "state transfer not sent" and moves on, and `ClusterNode` never asks
/// again; or it is refused as `TooLarge`), the FIFO stays one ring behind
/// for good: every later answer names the previous request's ring, every
/// receiver drops it, and each receiver of this donor waits for a state
/// transfer (serving nothing) until a ring with a different donor forms.
/// Trigger: donor 1 gets a request for ring R1 and does not answer; the
/// ring ends; a new ring R2 asks again and node 1 answers R2's request at
/// once. Node 3 (the receiver in R2) never gets a snapshot.
#[test]
fn a_skipped_snapshot_request_does_not_misname_every_later_snapshot() {
    let ids = [1, 2, 3];
    let config = Config::default();
    let mut net = Net::new(&ids, config.clone());
    net.crash(3);
    net.advance_until(1000, |n| n.one_ring(&[1, 2]));
    net.restart(3, 1, config.clone());
    let requests = |n: &Net| -> Vec<Event> {
        n.events[0]
            .iter()
            .filter(|e| matches!(e, Event::SnapshotRequested { .. }))
            .cloned()
            .collect()
    };
    net.advance_until(1000, |n| requests(n).len() == 1);
    // Node 1's application could not answer (say the control queue was
    // full); the ring of three ends and node 3 comes back without state.
    net.crash(3);
    net.advance_until(1000, |n| n.one_ring(&[1, 2]));
    net.restart(3, 2, config);
    net.advance_until(1000, |n| requests(n).len() == 2);
    // Node 1 answers the current request at once.
    let now = net.now;
    let ring = crate::state_transfer::requested(&net, 0, 1);
    net.node(1)
        .submit_snapshot(now, ring, b"state as of this ring".to_vec())
        .unwrap();
    let snapshots = |n: &Net| crate::state_transfer::snapshots_taken(n, 2);
    for _ in 0..300 {
        if !snapshots(&net).is_empty() {
            break;
        }
        net.advance();
    }
    assert_eq!(
        snapshots(&net),
        vec![b"state as of this ring".to_vec()],
        "node 3 never got the snapshot answering its ring's request"
    );
}
