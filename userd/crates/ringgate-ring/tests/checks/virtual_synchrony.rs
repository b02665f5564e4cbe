//! Checks of the membership events against every node's history, apart
//! from the protocol code (the simulator feeds them what nodes delivered).
//!
//! - Transitional membership: a node names as transitional exactly the
//!   members that installed the same ring coming from the same previous
//!   ring as itself (after a start: itself only).
//! - Nobody is left behind by a ring announced without it: when a node
//!   announces a ring, every member holds what was recovered in it. A
//!   member that came from the same previous ring but never completed the
//!   new one (it failed during recovery) and went on to a later ring must
//!   have delivered, of their common previous ring, everything the
//!   announcing node delivered of it.

use std::collections::{HashMap, HashSet};

use ringgate_ring::wire::{NodeId, RingId};

/// What one incarnation of a node handed its application, in order.
pub enum Step<'a> {
    Membership {
        ring: RingId,
        members: &'a [NodeId],
        transitional: &'a [NodeId],
    },
    Deliver(&'a str),
}

/// One ring installation of one incarnation.
struct Install<'a> {
    incarnation: usize,
    node: NodeId,
    members: &'a [NodeId],
    transitional: &'a [NodeId],
    previous: Option<RingId>,
}

/// Checks every incarnation's history (`(node id, steps)`).
pub fn check(histories: &[(NodeId, Vec<Step<'_>>)]) -> Result<(), String> {
    let mut installs: HashMap<RingId, Vec<Install<'_>>> = HashMap::new();
    // What each incarnation delivered in each ring it installed.
    let mut delivered: HashMap<(usize, RingId), HashSet<&str>> = HashMap::new();
    for (incarnation, (node, steps)) in histories.iter().enumerate() {
        let mut previous: Option<RingId> = None;
        let mut rings = Vec::new();
        for step in steps {
            match step {
                Step::Membership {
                    ring,
                    members,
                    transitional,
                } => {
                    if !transitional.contains(node)
                        || transitional.iter().any(|t| !members.contains(t))
                    {
                        return Err(format!(
                            "node {node} installed {ring:?} with transitional {transitional:?} not within members {members:?} or without itself"
                        ));
                    }
                    rings.push((*ring, *members, *transitional, previous));
                    previous = Some(*ring);
                }
                Step::Deliver(tag) => {
                    if let Some(ring) = previous {
                        delivered
                            .entry((incarnation, ring))
                            .or_default()
                            .insert(tag);
                    }
                }
            }
        }
        for (ring, members, transitional, previous) in &rings {
            installs.entry(*ring).or_default().push(Install {
                incarnation,
                node: *node,
                members,
                transitional,
                previous: *previous,
            });
        }
    }
    let empty = HashSet::new();
    for (ring, all) in &installs {
        for a in all {
            for b in all {
                let same_past = a.incarnation == b.incarnation
                    || (a.previous.is_some() && a.previous == b.previous);
                if a.transitional.contains(&b.node) != same_past {
                    return Err(format!(
                        "node {} installed {ring:?} from {:?} naming transitional {:?}, but node {} came from {:?}",
                        a.node, a.previous, a.transitional, b.node, b.previous
                    ));
                }
            }
            let Some(previous) = a.previous else {
                continue;
            };
            let announced = delivered.get(&(a.incarnation, previous)).unwrap_or(&empty);
            // Members that came from the same ring, skipped this one, and
            // installed another later.
            let skipped = installs.values().flatten().filter(|b| {
                b.previous == Some(previous)
                    && b.node != a.node
                    && a.members.contains(&b.node)
                    && !all.iter().any(|x| x.incarnation == b.incarnation)
            });
            for b in skipped {
                let theirs = delivered.get(&(b.incarnation, previous)).unwrap_or(&empty);
                if let Some(missing) = announced.iter().find(|t| !theirs.contains(*t)) {
                    return Err(format!(
                        "node {} announced {ring:?} naming node {}, which never completed it, went from {previous:?} to another ring and never delivered {missing} that node {} delivered in {previous:?}",
                        a.node, b.node, a.node
                    ));
                }
            }
        }
    }
    Ok(())
}
