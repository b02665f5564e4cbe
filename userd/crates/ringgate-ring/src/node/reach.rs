//! Reachability: which nodes this node hears, which of them hear it, and
//! when a node outside its ring may be let in.
//!
//! Every Join a node sends, while forming a ring or as a merge probe from an
//! installed one, states who the sender hears (`proc_set`: itself, its
//! ring's members and every node whose Join reached it lately), its fail
//! set (`fail_set`, as in Totem: the nodes it knows of, from the others'
//! proc sets, but has no two-way contact with, because it does not hear
//! them or because what they state lately does not name it), and, for a
//! probe, its ring's members. Forming nodes agree only on members that name
//! each other in their proc sets, so a one-way link cannot put its two ends
//! in one ring.
//!
//! A node in a ring starts a new formation for a node outside only when the
//! merged ring could hold everyone: the outsider hears every member and
//! fails none, and this node hears every member of the outsider's ring and
//! fails none. Every member of a ring that lacks configured nodes probes
//! them, so an outsider learns which members hear it. Otherwise a one-way
//! link would have the outsider pull the ring apart with every Join, only
//! to be left out again.

use std::collections::{BTreeMap, BTreeSet};

use super::Micros;
use crate::wire::{Join, NodeId};

/// What a node stated in its latest Join that reached this node.
struct Heard {
    at: Micros,
    proc_set: Vec<NodeId>,
}

#[derive(Default)]
pub(super) struct Reach {
    heard: BTreeMap<NodeId, Heard>,
}

/// Whether `join` says its sender hears every node of `nodes` and fails
/// none of them.
fn hears_all(join: &Join, nodes: &[NodeId]) -> bool {
    nodes
        .iter()
        .all(|n| join.proc_set.contains(n) && !join.fail_set.contains(n))
}

/// Whether a merge of this node's ring (`members`, this node stating
/// `mine`) with the node outside that sent `join` could hold everyone, as
/// far as the two statements tell. Every member judges for itself, so a
/// merge starts only if some member finds it could hold and, on the
/// outsider's side, the outsider fails none of the members.
pub(super) fn merge_could_hold(members: &[NodeId], mine: &Join, from: NodeId, join: &Join) -> bool {
    let theirs: Vec<NodeId> = join.members.iter().copied().chain([from]).collect();
    hears_all(join, members) && hears_all(mine, &theirs)
}

impl Reach {
    /// Records a Join from `from` (authenticated, fresh, configured).
    pub(super) fn record(&mut self, from: NodeId, join: &Join, now: Micros) {
        self.heard.insert(
            from,
            Heard {
                at: now,
                proc_set: join.proc_set.clone(),
            },
        );
    }

    /// This node's proc and fail sets. Members of its installed ring count
    /// as heard both ways: the token reaches them.
    pub(super) fn view(
        &self,
        me: NodeId,
        members: &[NodeId],
        universe: &[NodeId],
        now: Micros,
        horizon: Micros,
    ) -> (Vec<NodeId>, Vec<NodeId>) {
        let mut hears: BTreeSet<NodeId> = members.iter().copied().collect();
        hears.insert(me);
        let mut known = BTreeSet::new();
        let mut deaf_to_me = BTreeSet::new();
        let fresh = self
            .heard
            .iter()
            .filter(|(_, h)| h.at.saturating_add(horizon) >= now);
        for (node, heard) in fresh {
            hears.insert(*node);
            known.extend(heard.proc_set.iter().filter(|n| universe.contains(n)));
            if !heard.proc_set.contains(&me) && !members.contains(node) {
                deaf_to_me.insert(*node);
            }
        }
        let fail = known
            .difference(&hears)
            .copied()
            .chain(deaf_to_me)
            .collect::<BTreeSet<_>>()
            .into_iter()
            .collect();
        (hears.into_iter().collect(), fail)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn join(proc_set: &[NodeId], fail_set: &[NodeId], members: &[NodeId]) -> Join {
        Join {
            proc_set: proc_set.to_vec(),
            fail_set: fail_set.to_vec(),
            ring_seq: 0,
            members: members.to_vec(),
        }
    }

    #[test]
    fn nodes_not_heard_and_nodes_that_do_not_hear_are_failed() {
        let universe = [1, 2, 3];
        // Node 1 hears 2 and 3; 3 does not hear 1.
        let mut reach = Reach::default();
        reach.record(2, &join(&[1, 2, 3], &[], &[]), 0);
        reach.record(3, &join(&[2, 3], &[1], &[]), 0);
        assert_eq!(
            reach.view(1, &[], &universe, 10, 100),
            (vec![1, 2, 3], vec![3])
        );
        // Node 3 hears 2 only, and knows of 1 through 2.
        let mut reach = Reach::default();
        reach.record(2, &join(&[1, 2, 3], &[], &[]), 0);
        assert_eq!(
            reach.view(3, &[], &universe, 10, 100),
            (vec![2, 3], vec![1])
        );
        // Past the horizon, nothing is heard any more.
        assert_eq!(reach.view(3, &[], &universe, 101, 100), (vec![3], vec![]));
    }

    #[test]
    fn a_merge_needs_two_way_contact_between_everyone() {
        // Node 2 in ring {1, 2}; node 3 does not hear 1.
        let mine = join(&[1, 2, 3], &[], &[1, 2]);
        let three = join(&[2, 3], &[1], &[3]);
        assert!(!merge_could_hold(&[1, 2], &mine, 3, &three));
        // Node 3 alone; node 2's ring holds 1, which 3 does not hear.
        let alone = join(&[2, 3], &[1], &[3]);
        let two = join(&[1, 2, 3], &[], &[1, 2]);
        assert!(!merge_could_hold(&[3], &alone, 2, &two));
        // Node 3 hears everyone, but 1's probes tell it 1 does not hear it.
        let failing_one = join(&[1, 2, 3], &[1], &[3]);
        assert!(!merge_could_hold(&[1, 2], &mine, 3, &failing_one));
        // Everyone hears everyone: merge.
        let all = join(&[1, 2, 3], &[], &[3]);
        assert!(merge_could_hold(&[1, 2], &mine, 3, &all));
    }
}
