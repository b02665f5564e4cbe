// SPDX-License-Identifier: GPL-2.0

//! Host tests of `peers.rs`: never built into the module. No `unwrap`: a
//! refused entry fails its assertion and names what was refused.

use crate::peers::{Peer, PeerError, PeerTable, MAX_PEERS};

const CLIENT: [u8; 6] = [0x02, 0, 0, 0, 0, 0x99];

fn mac(n: u8) -> [u8; 6] {
    [0x02, 0, 0, 0, 1, n]
}

fn peer(node: u16, ifindex: u32) -> Peer {
    Peer {
        node,
        ifindex,
        mac: mac(node as u8 * 10 + ifindex as u8),
        port_lo: 0,
        port_hi: 0,
    }
}

/// `peer(node, ifindex)` with the outbound port range `lo..=hi`.
fn ranged(node: u16, ifindex: u32, lo: u16, hi: u16) -> Peer {
    Peer {
        port_lo: lo,
        port_hi: hi,
        ..peer(node, ifindex)
    }
}

/// Node 1's table: nodes 2 and 3 on devices 4 (clients) and 5 (back-ends).
fn table() -> PeerTable {
    let mut t = PeerTable::EMPTY;
    for node in [2, 3] {
        for ifindex in [4, 5] {
            assert_eq!(t.push(peer(node, ifindex)), Ok(()));
        }
    }
    t
}

#[test]
fn a_packet_of_another_nodes_session_goes_to_that_node_on_the_device_it_came_in_on() {
    let t = table();
    assert_eq!(t.redirect(1, 2, 4, Some(CLIENT)), Some(peer(2, 4)));
    assert_eq!(t.redirect(1, 3, 5, Some(CLIENT)), Some(peer(3, 5)));
}

#[test]
fn own_sessions_and_sessions_without_an_owner_stay_here() {
    let t = table();
    assert_eq!(t.redirect(1, 1, 4, Some(CLIENT)), None);
    assert_eq!(t.redirect(2, 2, 4, Some(CLIENT)), None);
    assert_eq!(t.redirect(1, 0, 4, Some(CLIENT)), None);
}

#[test]
fn an_owner_not_in_the_table_for_that_device_is_served_here() {
    let t = table();
    // Node 4 left the ring (or never announced where it is).
    assert_eq!(t.redirect(1, 4, 4, Some(CLIENT)), None);
    // Node 2 is not known on device 6.
    assert_eq!(t.redirect(1, 2, 6, Some(CLIENT)), None);
}

#[test]
fn a_packet_that_came_from_a_peer_is_never_sent_on_again() {
    let t = table();
    // Node 3 sent it here thinking node 1 owned it; node 1 thinks node 2
    // does: it is handled here, not bounced on.
    assert_eq!(t.redirect(1, 2, 4, Some(peer(3, 4).mac)), None);
    assert_eq!(t.redirect(1, 2, 4, Some(peer(2, 4).mac)), None);
    // The same address on another device is not a peer there.
    assert_eq!(t.redirect(1, 2, 5, Some(peer(3, 4).mac)), Some(peer(2, 5)));
}

#[test]
fn a_packet_without_an_ethernet_source_is_served_here() {
    assert_eq!(table().redirect(1, 2, 4, None), None);
}

#[test]
fn a_bad_entry_is_refused_and_changes_nothing() {
    let mut t = table();
    assert_eq!(t.push(peer(2, 4)), Err(PeerError::Duplicate));
    let multicast = Peer {
        mac: [0x01, 0, 0x5e, 0, 0, 1],
        ..peer(6, 4)
    };
    assert_eq!(t.push(multicast), Err(PeerError::NotUnicast));
    let zero = Peer {
        mac: [0; 6],
        ..peer(6, 4)
    };
    assert_eq!(t.push(zero), Err(PeerError::NotUnicast));
    assert_eq!(t.push(peer(0, 4)), Err(PeerError::NoSuchNode));
    assert_eq!(t.push(peer(6, 0)), Err(PeerError::NoSuchNode));
    assert_eq!(t.entries(), table().entries());
}

#[test]
fn the_table_holds_max_peers_and_refuses_one_more() {
    let mut t = PeerTable::EMPTY;
    for n in 0..MAX_PEERS {
        let fits = t.push(Peer {
            node: 1 + n as u16,
            ifindex: 1,
            mac: mac(n as u8),
            port_lo: 0,
            port_hi: 0,
        });
        assert_eq!(fits, Ok(()));
    }
    let more = Peer {
        node: 1000,
        ifindex: 1,
        mac: mac(1),
        port_lo: 0,
        port_hi: 0,
    };
    assert_eq!(t.push(more), Err(PeerError::TooMany));
    assert_eq!(t.entries().len(), MAX_PEERS);
}

#[test]
fn tables_with_the_same_entries_are_equal_whatever_was_refused_on_the_way() {
    // The module publishes a table only when it differs from the current
    // one (`RcuBox::update`): equal entries must compare equal.
    let mut other = PeerTable::EMPTY;
    for node in [2, 3] {
        for ifindex in [4, 5] {
            assert_eq!(other.push(peer(node, ifindex)), Ok(()));
            assert!(other.push(peer(node, ifindex)).is_err());
        }
    }
    assert_eq!(other, table());
    assert_eq!(other.push(peer(6, 4)), Ok(()));
    assert_ne!(other, table());
}

/// Node 1's table with ranges: node 2 has 20000-29999 and node 3
/// 30000-39999, on both devices.
fn ranged_table() -> PeerTable {
    let mut t = PeerTable::EMPTY;
    for (node, lo, hi) in [(2, 20000, 29999), (3, 30000, 39999)] {
        for ifindex in [4, 5] {
            assert_eq!(t.push(ranged(node, ifindex, lo, hi)), Ok(()));
        }
    }
    t
}

#[test]
fn a_port_belongs_to_the_node_whose_range_holds_it() {
    let t = ranged_table();
    assert_eq!(t.node_of_port(20000), Some(2));
    assert_eq!(t.node_of_port(29999), Some(2));
    assert_eq!(t.node_of_port(30000), Some(3));
    assert_eq!(t.node_of_port(39999), Some(3));
    assert_eq!(t.node_of_port(19999), None);
    assert_eq!(t.node_of_port(40000), None);
    // Entries without a range own no port, not even 0.
    assert_eq!(table().node_of_port(0), None);
    assert_eq!(table().node_of_port(20000), None);
}

#[test]
fn overlapping_or_malformed_ranges_are_refused_and_change_nothing() {
    let mut t = ranged_table();
    // Another node overlapping either end of node 3's range.
    assert_eq!(
        t.push(ranged(6, 4, 39999, 45000)),
        Err(PeerError::PortRange)
    );
    assert_eq!(
        t.push(ranged(6, 4, 15000, 20000)),
        Err(PeerError::PortRange)
    );
    // A range inside another, and one around it.
    assert_eq!(
        t.push(ranged(6, 4, 25000, 25001)),
        Err(PeerError::PortRange)
    );
    assert_eq!(
        t.push(ranged(6, 4, 10000, 50000)),
        Err(PeerError::PortRange)
    );
    // The same node with another range on a third device.
    assert_eq!(
        t.push(ranged(2, 7, 20000, 20001)),
        Err(PeerError::PortRange)
    );
    // Backwards, or only one end.
    assert_eq!(
        t.push(ranged(6, 4, 41000, 40000)),
        Err(PeerError::PortRange)
    );
    assert_eq!(t.push(ranged(6, 4, 0, 40000)), Err(PeerError::PortRange));
    assert_eq!(t.push(ranged(6, 4, 40000, 0)), Err(PeerError::PortRange));
    assert_eq!(t, ranged_table());
    // Adjacent ranges, the same node's range on a third device, and a node
    // without a range all fit.
    assert_eq!(t.push(ranged(6, 4, 40000, 40000)), Ok(()));
    assert_eq!(t.push(ranged(2, 7, 20000, 29999)), Ok(()));
    assert_eq!(t.push(peer(7, 4)), Ok(()));
    assert_eq!(t.node_of_port(40000), Some(6));
}
