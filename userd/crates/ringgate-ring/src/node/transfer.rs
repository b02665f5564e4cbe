//! State transfer: a node that joins a ring without the state the others
//! built (it comes from no ring, or from another partition) receives a
//! snapshot from a survivor before it sees any message of the new ring.
//!
//! Every member knows, from the recovery markers, which old ring each
//! member came from. The members that came from the largest group (ties:
//! the group holding the lowest id) keep their state; among them the
//! lowest id is the donor. Every other member is a receiver, unless no
//! member came from any ring (a cluster starting: nobody has state). The
//! donor's application is asked (`Event::SnapshotRequested`, right after the
//! membership event) for a snapshot of its state as of that event, before
//! it handles anything after it, and passes it to `Node::submit_snapshot`;
//! it travels in order like any message. A receiver holds back every
//! delivery and safety notice of the new ring until the snapshot arrives,
//! hands over `Event::Snapshot`, then what it held back, in order. If the
//! ring ends first, the receiver hands over what it held back and counts as
//! a node without state in the next ring, where it is a receiver again.

use std::collections::BTreeMap;

use crate::wire::{NodeId, RingId};

/// The donor and the receivers of a new ring, if any member needs a
/// snapshot, from the old ring of each member that has its state (absent,
/// or `RingId::default()`: none).
pub(super) fn plan(
    members: &[NodeId],
    old_rings: &BTreeMap<NodeId, RingId>,
) -> Option<(NodeId, Vec<NodeId>)> {
    let mut groups: BTreeMap<RingId, Vec<NodeId>> = BTreeMap::new();
    for m in members {
        match old_rings.get(m) {
            Some(ring) if *ring != RingId::default() => groups.entry(*ring).or_default().push(*m),
            _ => {}
        }
    }
    let keep = groups
        .values()
        .max_by_key(|g| (g.len(), std::cmp::Reverse(g.iter().min().copied())))?;
    let receivers: Vec<NodeId> = members
        .iter()
        .copied()
        .filter(|m| !keep.contains(m))
        .collect();
    let donor = keep.iter().min().copied()?;
    (!receivers.is_empty()).then_some((donor, receivers))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ring(seq: u64) -> RingId {
        RingId {
            seq,
            rep: 1,
            epoch: 0,
        }
    }

    #[test]
    fn the_largest_group_gives_and_the_others_receive() {
        let none = RingId::default();
        let old: BTreeMap<NodeId, RingId> =
            [(1, ring(5)), (2, ring(5)), (3, ring(7)), (4, none)].into();
        assert_eq!(plan(&[1, 2, 3, 4], &old), Some((1, vec![3, 4])));
        // A tie goes to the group with the lowest id.
        let old: BTreeMap<NodeId, RingId> = [(1, ring(7)), (2, ring(5))].into();
        assert_eq!(plan(&[1, 2], &old), Some((1, vec![2])));
        // Everyone from one ring, or nobody from any: no transfer.
        let old: BTreeMap<NodeId, RingId> = [(1, ring(5)), (2, ring(5))].into();
        assert_eq!(plan(&[1, 2], &old), None);
        let old: BTreeMap<NodeId, RingId> = [(1, none), (2, none)].into();
        assert_eq!(plan(&[1, 2], &old), None);
    }
}
