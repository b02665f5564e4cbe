//! Recovery ended when a node had delivered every member's end-of-recovery
//! marker, whether or not the others held them. Here node 3 lacks a message
//! of the old ring that node 2 sent (every copy to it is lost), so it cannot
//! deliver past it in recovery; nodes 1 and 2 went operational anyway and
//! announced a ring naming node 3, which never completed it. Node 2 then
//! died: node 1 recovered that ring, node 3 the one before, from different
//! packets, and they delivered different messages of the old ring. Recovery
//! now ends only once the markers are held by every member (the token's
//! aru covered them at two visits, as corosync waits for), and each
//! membership event names the members that came from this node's previous
//! ring (the transitional membership).

use ringgate_ring::node::{Config, Event};
use ringgate_ring::wire::{NodeId, RingId};

use crate::net::{carries, Net};

/// The rings a node announced, with their transitional members.
fn announced(net: &Net, id: NodeId) -> Vec<(RingId, Vec<NodeId>)> {
    let i = net.ids.iter().position(|x| *x == id).unwrap();
    net.events[i]
        .iter()
        .filter_map(|e| match e {
            Event::Membership {
                ring, transitional, ..
            } => Some((*ring, transitional.clone())),
            _ => None,
        })
        .collect()
}

#[test]
fn a_ring_is_announced_only_once_every_member_holds_its_recovery() {
    let ids = [1, 2, 3, 4];
    let mut net = Net::new(&ids, Config::default());
    net.advance_until(1000, |n| n.one_ring(&ids));

    // Node 3 never gets msg-X, in the old ring or recovered in the new one.
    net.drop_rule = Some(Box::new(|to, packet, _| {
        to == 3 && carries(packet, b"msg-X")
    }));
    net.submit(2, b"msg-X");
    // Node 3 asks for msg-X at every visit: the network never goes quiet.
    net.run_network_at_most(1_000);
    net.crash(4);
    // The survivors form a ring and start recovering; node 3 cannot finish,
    // and asks for msg-X again and again (time passes between bursts).
    for _ in 0..1000 {
        if [1, 2, 3]
            .iter()
            .all(|id| net.node(*id).members() == [1, 2, 3])
        {
            break;
        }
        net.advance_at_most(10_000);
    }
    assert_eq!(
        net.node(3).members(),
        [1, 2, 3],
        "the survivors formed no ring"
    );
    for _ in 0..20 {
        net.advance_at_most(10_000);
    }
    assert!(
        !net.node(1).is_operational() && !net.node(2).is_operational(),
        "nodes 1 and 2 went operational while node 3 lacked recovery messages"
    );

    // Node 2 dies; nodes 1 and 3 recover the old ring together.
    net.crash(2);
    net.drop_rule = None;
    net.advance_until(1000, |n| n.one_ring(&[1, 3]));
    assert_eq!(
        announced(&net, 1)
            .iter()
            .map(|(r, _)| *r)
            .collect::<Vec<_>>(),
        announced(&net, 3)
            .iter()
            .map(|(r, _)| *r)
            .collect::<Vec<_>>(),
        "nodes 1 and 3 announced different rings"
    );
    let at_1 = net.delivered_in_previous_ring(1);
    assert!(at_1.contains(&b"msg-X".to_vec()));
    assert_eq!(at_1, net.delivered_in_previous_ring(3));
    // Both came from the ring of four: each names the other as transitional.
    assert_eq!(announced(&net, 1).last().unwrap().1, vec![1, 3]);
    assert_eq!(announced(&net, 3).last().unwrap().1, vec![1, 3]);
}
