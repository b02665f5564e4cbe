//! A one-way link: node 1's datagrams never reach node 3, while every other
//! direction works. Any Join from a node outside the ring used to restart
//! formation, and `Join.fail_set` was never read, so with the 1->3 direction
//! cut for 5 s the nodes formed 258 rings and node 3 was never operational.
//! Formation now agrees only on nodes that hear each other both ways, and an
//! outsider that brings no new reachability is not let in again and again,
//! so the nodes settle in a stable ring of those that hear each other.

use ringgate_ring::node::Config;
use ringgate_ring::wire::NodeId;

use crate::net::Net;

/// Runs the network until the clock reaches `until`.
fn run_until(net: &mut Net, until: u64) {
    while net.now < until {
        net.advance();
    }
}

fn rings_installed(net: &mut Net, ids: &[NodeId]) -> u64 {
    ids.iter()
        .map(|id| net.node(*id).stats().rings_installed)
        .sum()
}

#[test]
fn a_one_way_link_yields_a_stable_ring_of_the_nodes_that_hear_each_other() {
    let ids = [1, 2, 3];
    let mut net = Net::new(&ids, Config::default());
    net.drop_rule = Some(Box::new(|to, packet, _| packet.sender == 1 && to == 3));
    run_until(&mut net, 1_000_000);
    let settled = rings_installed(&mut net, &ids);
    // Formation takes a few rings at most: the three nodes' first attempts.
    assert!(
        settled <= 6,
        "{settled} rings installed in the first second of the cut"
    );
    // Nodes 1 and 3 cannot both be in one ring; node 2 hears both.
    let ring_of = |net: &mut Net, id: NodeId| net.node(id).members().to_vec();
    let pair = ring_of(&mut net, 2);
    assert!(
        pair == [1, 2] || pair == [2, 3],
        "node 2 is in a ring of {pair:?}"
    );
    for id in &pair {
        assert!(net.node(*id).is_operational(), "node {id} not operational");
        assert_eq!(ring_of(&mut net, *id), pair);
    }

    // Four more seconds of the cut: the ring stays as it is and delivers.
    run_until(&mut net, 5_000_000);
    let after = rings_installed(&mut net, &ids);
    assert_eq!(
        after, settled,
        "rings kept forming while the link stayed cut ({settled} after 1 s, {after} after 5 s)"
    );
    net.submit(pair[0], b"during-the-cut");
    run_until(&mut net, 5_100_000);
    for id in &pair {
        assert_eq!(
            net.delivered_in_current_ring(*id),
            vec![b"during-the-cut".to_vec()]
        );
    }

    // The link heals: all three come together.
    net.drop_rule = None;
    net.advance_until(10_000, |n| n.one_ring(&ids));
}
