//! The agreed health of a back-end. Every node checks the back-ends itself
//! and shares its results over the ring; a back-end is down for the whole
//! cluster when a strict majority of the current members report it
//! failing. One node with a broken route to a back-end cannot take it out
//! of service, and a back-end every node can reach is never marked down.

use std::collections::BTreeSet;

use crate::model::NodeId;

/// Whether the members in `failing` (reports of non-members do not count)
/// are a strict majority of `members`.
pub fn agreed_down(failing: &BTreeSet<NodeId>, members: &[NodeId]) -> bool {
    let votes = members.iter().filter(|m| failing.contains(m)).count();
    !members.is_empty() && votes * 2 > members.len()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn down_needs_a_strict_majority_of_members() {
        let members = [1, 2, 3];
        assert!(!agreed_down(&[1].into(), &members));
        assert!(agreed_down(&[1, 3].into(), &members));
        // Reports of nodes that left do not count.
        assert!(!agreed_down(&[1, 9].into(), &members));
        // Half is not a majority.
        assert!(!agreed_down(&[1].into(), &[1, 2]));
        assert!(!agreed_down(&BTreeSet::new(), &[]));
    }
}
