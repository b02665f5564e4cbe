// SPDX-License-Identifier: GPL-2.0

//! `peer-set`.

use kernel::c_str;
use kernel::prelude::*;

use crate::glue::{uapi, PeerNest, Request, Sleepable};
use crate::netns::NetState;
use crate::peers::{Peer, PeerError, PeerTable};

/// An attribute of a peer nest that must be there.
fn need<T>(nest: &PeerNest<'_>, inner: u32, value: Option<T>) -> Result<T> {
    value.ok_or_else(|| nest.missing(inner))
}

/// `peer-set`: builds the whole new table first, so a request with one bad
/// entry changes nothing.
pub(crate) fn peer_set(net: &NetState, req: &Request<'_>, context: &mut Sleepable) -> Result {
    use uapi::*;
    let mut table = KBox::new(PeerTable::EMPTY, GFP_KERNEL)?;
    let mut offset = 0;
    while let Some(nest) = req.next_peer(RINGGATE_A_PEER_TABLE_PEER, &mut offset)? {
        let peer = Peer {
            node: need(
                &nest,
                RINGGATE_A_PEER_NODE_ID,
                nest.u16(RINGGATE_A_PEER_NODE_ID),
            )?,
            ifindex: need(
                &nest,
                RINGGATE_A_PEER_IFINDEX,
                nest.u32(RINGGATE_A_PEER_IFINDEX),
            )?,
            mac: need(&nest, RINGGATE_A_PEER_MAC, nest.mac(RINGGATE_A_PEER_MAC))?,
            port_lo: nest.u16(RINGGATE_A_PEER_PORT_LO).unwrap_or(0),
            port_hi: nest.u16(RINGGATE_A_PEER_PORT_HI).unwrap_or(0),
        };
        table.push(peer).map_err(|e| match e {
            PeerError::TooMany => req.fail(E2BIG, c_str!("more than max-peers peers")),
            PeerError::Duplicate => {
                req.fail(EINVAL, c_str!("two peer entries for one node and device"))
            }
            PeerError::NotUnicast => req.fail(
                EINVAL,
                c_str!("a peer's hardware address must be unicast and not zero"),
            ),
            PeerError::NoSuchNode => {
                req.fail(EINVAL, c_str!("a peer's node id and ifindex are not 0"))
            }
            PeerError::PortRange => req.fail(
                EINVAL,
                c_str!("a peer's port range has both ends in order, is its node's on every device, and overlaps no other node's"),
            ),
        })?;
    }
    net.set_peers(context, &table)
}
