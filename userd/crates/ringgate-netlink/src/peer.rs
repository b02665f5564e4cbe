//! `peer-set`: where the other nodes of the cluster are, so that the module
//! sends packets of their sessions to them (see the module's `peers.rs`).

use ringgate_uapi as uapi;
use serde::Serialize;

use crate::{Client, Error};

/// One other node on one segment: its hardware address as seen from this
/// node's device `ifindex`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
pub struct Peer {
    pub node: u16,
    pub ifindex: u32,
    pub mac: [u8; 6],
    /// The node's outbound translation ports (see `snat_set`), if it has
    /// a range: a reply to one of them that reaches this node without a
    /// session here is sent to the node.
    pub ports: Option<PortRange>,
}

/// Ports `first..=last` of outbound translation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
pub struct PortRange {
    pub first: u16,
    pub last: u16,
}

impl Client {
    /// Replaces the module's peer table with `peers` (empty: no packet is
    /// sent to another node). The module refuses the whole table, changing
    /// nothing, if an entry is malformed, two name one node and device, or
    /// there are more than `RINGGATE_MAX_PEERS`, or port ranges of two
    /// nodes overlap.
    pub fn peer_set(&self, peers: &[Peer]) -> Result<(), Error> {
        use uapi::*;
        self.call(
            RINGGATE_CMD_PEER_SET,
            |r| {
                for p in peers {
                    r.nest(RINGGATE_A_PEER_TABLE_PEER, |n| {
                        n.put_u16(RINGGATE_A_PEER_NODE_ID, p.node)
                            .put_u32(RINGGATE_A_PEER_IFINDEX, p.ifindex)
                            .put(RINGGATE_A_PEER_MAC, &p.mac);
                        if let Some(ports) = p.ports {
                            n.put_u16(RINGGATE_A_PEER_PORT_LO, ports.first)
                                .put_u16(RINGGATE_A_PEER_PORT_HI, ports.last);
                        }
                    });
                }
            },
            &mut |_| Ok(()),
        )
    }
}
