//! A node restarted with a lower epoch than its peers last took from it (its
//! state file lost and its clock stepped back, so ringgated seeded the epoch
//! from the clock) was refused by every peer as a replay of its earlier
//! process, forever and silently. The refusing peers now count it and tell
//! the node (`Body::StaleEpoch`), which moves its epoch above the one they
//! saw; a replayed datagram still changes nothing.

use ringgate_ring::node::Config;
use ringgate_ring::wire::Body;

use crate::net::{decode, Net};

#[test]
fn a_node_restarted_below_its_old_epoch_rejoins() {
    let mut net = Net::new(&[1, 2, 3], Config::default());
    net.restart(3, 5000, Config::default());
    net.advance_until(1000, |n| n.one_ring(&[1, 2, 3]));
    net.crash(3);
    net.advance_until(1000, |n| n.one_ring(&[1, 2]));
    net.restart(3, 4000, Config::default());
    net.advance_until(5000, |n| n.one_ring(&[1, 2, 3]));
    assert!(
        net.node(1).stats().stale_epochs > 0,
        "the refusal is counted"
    );
    assert_eq!(net.node(3).stats().epoch_raises, 1);
    assert_eq!(net.node(3).epoch(), 5001, "just above what the peers saw");
}

#[test]
fn old_datagrams_replayed_after_such_a_restart_change_nothing() {
    let mut net = Net::new(&[1, 2, 3], Config::default());
    net.restart(3, 5000, Config::default());
    net.capture = true;
    net.advance_until(1000, |n| n.one_ring(&[1, 2, 3]));
    net.capture = false;
    let key = net.key.clone();
    let old_joins: Vec<Vec<u8>> = net
        .captured
        .iter()
        .filter(|(to, d)| {
            let packet = decode(&key, d);
            *to == 1 && packet.sender == 3 && matches!(packet.body, Body::Join(_))
        })
        .map(|(_, d)| d.clone())
        .collect();
    assert!(
        !old_joins.is_empty(),
        "node 3 sent node 1 Joins at epoch 5000"
    );
    net.crash(3);
    net.advance_until(1000, |n| n.one_ring(&[1, 2]));
    net.restart(3, 4000, Config::default());
    net.advance_until(5000, |n| n.one_ring(&[1, 2, 3]));

    // The live process runs at 5001 now; the Joins of epoch 5000 are
    // refused, and the notices they provoke (one, however many copies come
    // at once) name an epoch node 3 no longer has, so it ignores them.
    let rings = [1, 2, 3].map(|id| net.node(id).stats().rings_installed);
    let before = net.node(1).stats().clone();
    for join in &old_joins {
        net.replay(1, join.clone());
    }
    net.run_network();
    net.advance_until(1000, |n| n.one_ring(&[1, 2, 3]));
    let after = net.node(1).stats().clone();
    assert_eq!(
        after.stale_epochs - before.stale_epochs,
        old_joins.len() as u64
    );
    assert_eq!(after.stale_epoch_notices - before.stale_epoch_notices, 1);
    assert_eq!(
        rings,
        [1, 2, 3].map(|id| net.node(id).stats().rings_installed)
    );
    assert_eq!(net.node(3).epoch(), 5001);
    assert_eq!(net.node(3).stats().epoch_raises, 1);
}
