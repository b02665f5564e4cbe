// SPDX-License-Identifier: GPL-2.0

//! The peer table: where the other nodes of the cluster are on this node's
//! segments, and which packets go to them.
//!
//! Every session has one owner, the node that created it (or adopted it when
//! its creator left the cluster). The other nodes hold a synced copy. When a
//! packet of a session reaches a node that is not its owner (the VIP moved
//! to this node while the owner lives, or the back-ends' replies come back
//! through the node holding their gateway address), this node sends it on,
//! unchanged, to the owner at layer 2, out the device it came in on: so both
//! directions of every session pass one node, and a stateful firewall or
//! conntrack there sees the whole conversation. The daemon fills the table
//! from the ring: only nodes in the ring are in it, so a dead owner's
//! sessions are served here from their copies.
//!
//! A packet that came from a peer is never sent on again: nodes that
//! disagree for a moment about a session's owner (one adopted it, the other
//! has not heard yet) cannot bounce its packets between them.

/// The most entries; the UAPI's `RINGGATE_MAX_PEERS` (checked where the
/// bindings are).
pub(crate) const MAX_PEERS: usize = 64;

/// One other node on one segment.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct Peer {
    pub(crate) node: u16,
    /// This node's device on the segment the two share.
    pub(crate) ifindex: u32,
    /// The peer's hardware address on that segment.
    pub(crate) mac: [u8; 6],
    /// The ports (host order, both included) of the peer's outbound
    /// translation range (see `snat`); 0 and 0 when it has none. A packet
    /// to the outbound VIP at one of them that has no session here is the
    /// peer's.
    pub(crate) port_lo: u16,
    pub(crate) port_hi: u16,
}

impl Peer {
    fn has_range(&self) -> bool {
        self.port_lo != 0
    }

    /// No range, or a range with both ends in order.
    fn range_valid(&self) -> bool {
        match (self.port_lo, self.port_hi) {
            (0, 0) => true,
            (0, _) | (_, 0) => false,
            (lo, hi) => lo <= hi,
        }
    }
}

/// Why a table was refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum PeerError {
    /// More than `MAX_PEERS` entries.
    TooMany,
    /// Two entries for one node and device.
    Duplicate,
    /// A multicast, broadcast or all-zero hardware address.
    NotUnicast,
    /// Node id 0, which names no node, or device index 0.
    NoSuchNode,
    /// A port range whose last port is below its first, one given only one
    /// end, or one that overlaps another node's (or differs from the same
    /// node's range on another device).
    PortRange,
}

/// The peers, at most `MAX_PEERS`, in the order given. Slots past `len`
/// stay zero, so two tables with the same entries compare equal.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct PeerTable {
    peers: [Peer; MAX_PEERS],
    len: usize,
}

impl PeerTable {
    pub(crate) const EMPTY: PeerTable = PeerTable {
        peers: [Peer {
            node: 0,
            ifindex: 0,
            mac: [0; 6],
            port_lo: 0,
            port_hi: 0,
        }; MAX_PEERS],
        len: 0,
    };

    /// Adds an entry, or says why not (and changes nothing).
    pub(crate) fn push(&mut self, peer: Peer) -> Result<(), PeerError> {
        if peer.node == 0 || peer.ifindex == 0 {
            return Err(PeerError::NoSuchNode);
        }
        if peer.mac == [0; 6] || peer.mac[0] & 1 != 0 {
            return Err(PeerError::NotUnicast);
        }
        if self
            .entries()
            .iter()
            .any(|p| p.node == peer.node && p.ifindex == peer.ifindex)
        {
            return Err(PeerError::Duplicate);
        }
        if !peer.range_valid() {
            return Err(PeerError::PortRange);
        }
        let clashes = |p: &Peer| {
            if p.node == peer.node {
                (p.port_lo, p.port_hi) != (peer.port_lo, peer.port_hi)
            } else {
                p.has_range()
                    && peer.has_range()
                    && p.port_lo <= peer.port_hi
                    && peer.port_lo <= p.port_hi
            }
        };
        if self.entries().iter().any(clashes) {
            return Err(PeerError::PortRange);
        }
        let slot = self.peers.get_mut(self.len).ok_or(PeerError::TooMany)?;
        *slot = peer;
        self.len += 1;
        Ok(())
    }

    pub(crate) fn entries(&self) -> &[Peer] {
        self.peers.get(..self.len).unwrap_or(&[])
    }

    /// The node whose outbound translation range holds `port` (host
    /// order), if a peer's does. Bounded: one scan of `MAX_PEERS` entries.
    pub(crate) fn node_of_port(&self, port: u16) -> Option<u16> {
        self.entries()
            .iter()
            .find(|p| p.has_range() && p.port_lo <= port && port <= p.port_hi)
            .map(|p| p.node)
    }

    /// Where a packet of a session `owner` owns goes, at node `me`, when it
    /// came in on device `ifindex` from hardware address `source` (`None`:
    /// not from an Ethernet device): the owner's entry for that device, or
    /// `None` to handle it here (this node owns it, the owner is not in the
    /// table for that device, or the packet came from a peer). Bounded: at
    /// most two scans of `MAX_PEERS` entries, and none for this node's own
    /// sessions.
    pub(crate) fn redirect(
        &self,
        me: u16,
        owner: u16,
        ifindex: u32,
        source: Option<[u8; 6]>,
    ) -> Option<Peer> {
        if owner == me || owner == 0 {
            return None;
        }
        let source = source?;
        let peers = self.entries();
        let target = peers
            .iter()
            .find(|p| p.node == owner && p.ifindex == ifindex)?;
        if peers
            .iter()
            .any(|p| p.ifindex == ifindex && p.mac == source)
        {
            return None;
        }
        Some(*target)
    }
}
