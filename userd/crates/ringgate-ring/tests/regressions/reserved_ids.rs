//! Node ids 0 and 65535 mean something on the wire (no representative, no
//! aru holder). A node with such an id once reported itself operational
//! while never delivering again; now no node can be set up with one, and the
//! ids next to them work like any other.

use ringgate_ring::auth::ClusterKey;
use ringgate_ring::node::{Config, Node, SetupError};
use ringgate_ring::wire::NodeId;

use crate::net::{carries, Net};

fn setup(id: NodeId, universe: &[NodeId]) -> Result<Node, SetupError> {
    let key = ClusterKey::from_bytes(&[1; 32]).unwrap();
    Node::new(id, universe, key, Config::default(), 0)
}

#[test]
fn reserved_node_ids_are_refused_for_the_node_and_its_peers() {
    assert_eq!(
        setup(65535, &[1, 65535]).err(),
        Some(SetupError::Reserved(65535))
    );
    assert_eq!(
        setup(1, &[1, 65535]).err(),
        Some(SetupError::Reserved(65535))
    );
    assert_eq!(setup(0, &[0, 1]).err(), Some(SetupError::Reserved(0)));
    assert_eq!(setup(1, &[0, 1]).err(), Some(SetupError::Reserved(0)));
}

#[test]
fn edge_ids_next_to_the_reserved_ones_recover_a_lost_packet() {
    let ids = [1, 65534];
    let mut net = Net::new(&ids, Config::default());
    net.advance_until(1000, |n| n.one_ring(&ids));
    // Node 65534 loses the first copy of A, so it holds the aru down until a
    // retransmission arrives.
    net.drop_rule = Some(Box::new(|to, packet, repeats| {
        to == 65534 && carries(packet, b"msg-A") && repeats == 0
    }));
    net.submit(1, b"msg-A");
    net.submit(65534, b"msg-B");
    net.advance_until(100, |n| {
        [1, 65534]
            .iter()
            .all(|id| n.delivered_in_current_ring(*id).len() == 2)
    });
    assert_eq!(
        net.delivered_in_current_ring(1),
        net.delivered_in_current_ring(65534)
    );
    assert!(net.one_ring(&ids));
    assert!(
        net.node(1).stats().data_retransmits > 0,
        "the scenario did not run as intended: nothing was retransmitted"
    );
}
