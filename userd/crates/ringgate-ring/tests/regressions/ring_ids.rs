//! Ring ids came from a floor the daemon took from the wall clock (or the
//! stored epoch plus one): a representative that formed several rings and
//! restarted with a floor just above the old one, as after a clock stepped
//! back, numbered its next ring like one it had formed before, and stale
//! packets of that ring would pass as current. A ring id now carries the
//! representative's epoch, an incarnation counter that grows by one per
//! restart, so no id comes back.

use std::collections::HashSet;

use ringgate_ring::node::{Config, Event};
use ringgate_ring::wire::RingId;

use crate::net::Net;

fn rings_announced(net: &Net, index: usize) -> Vec<RingId> {
    net.events[index]
        .iter()
        .filter_map(|e| match e {
            Event::Membership { ring, .. } => Some(*ring),
            _ => None,
        })
        .collect()
}

#[test]
fn a_restarted_representative_never_reuses_a_ring_id() {
    let config = Config::default();
    let mut net = Net::new(&[1, 2], config.clone());
    net.restart(1, 1000, config.clone());
    net.restart(2, 1000, config.clone());
    let mut seen: HashSet<RingId> = HashSet::new();
    // Node 1 forms rings as representative: with node 2, and alone while
    // node 2 restarts, several times over.
    for epoch in 1001..1004 {
        net.advance_until(1000, |n| n.one_ring(&[1, 2]));
        net.crash(2);
        net.advance_until(1000, |n| n.one_ring(&[1]));
        net.restart(2, epoch, config.clone());
    }
    net.advance_until(1000, |n| n.one_ring(&[1, 2]));
    seen.extend(rings_announced(&net, 0));
    assert!(seen.len() >= 7, "{seen:?}");

    // Both restart; node 1 with the next epoch (its counter grew by one).
    net.crash(1);
    net.crash(2);
    net.restart(1, 1001, config.clone());
    net.advance_until(1000, |n| n.node(1).is_operational());
    for ring in rings_announced(&net, 0) {
        assert!(
            !seen.contains(&ring),
            "the restarted representative reused ring id {ring:?}"
        );
    }
}
