//! What a new ring does to the replicated state: failover.
//!
//! An owner keeps its VIPs only if it served them without a break: it came
//! through from the previous ring (the transitional membership) and that
//! ring was quorate. Every other VIP is reassigned at once, in address
//! order, and *fenced*: the new owner waits `takeover_fence_us` before it
//! answers ARP, the time within which the old owner has certainly released
//! (it either crashed, or it lost its ring and released when the ring
//! stayed down for `self_fence_us`, or it found itself in a non-quorate
//! ring and released at once). A member that was a fenced-out owner (it
//! rejoined, or everyone comes back from a non-quorate ring) keeps its VIPs
//! and re-takes them after the fence, so a partition that heals does not
//! reshuffle the cluster.

use super::{Holding, MoveReason, ReplicatedState};
use crate::model::NodeId;

impl ReplicatedState {
    /// Applies a ring's membership event.
    pub fn apply_membership(&mut self, members: &[NodeId], transitional: &[NodeId], primary: bool) {
        let mut members = members.to_vec();
        members.sort_unstable();
        members.dedup();
        let continuing: Vec<NodeId> = if self.serving {
            transitional.to_vec()
        } else {
            Vec::new()
        };
        self.members = members;
        self.ring_primary = primary;
        let lone_two_node = self.config.settings.two_node
            && self.config.nodes.len() == 2
            && self
                .config
                .nodes
                .iter()
                .any(|n| self.members.contains(&n.id));
        self.quorate = primary || lone_two_node;
        // A node that left missed the sessions created meanwhile; it says
        // again when it holds the table. In a minority too: should its
        // state become the cluster's (the majority's members came back
        // without theirs), the nodes it lost must not count as holders.
        let members = &self.members;
        self.table_holders.retain(|n| members.contains(n));
        if !self.quorate {
            // A minority changes nothing; its members release everything
            // (the node layer does), so the owners recorded no longer serve.
            self.serving = false;
            return;
        }
        self.generation = self.generation.saturating_add(1);
        if !self.serving {
            // Nobody knows who may still hold a VIP nobody owns here (this
            // state did not serve in the last ring): fence those too.
            for record in self.vips.values_mut() {
                if let Holding::Unowned { fenced } = &mut record.holding {
                    *fenced = true;
                }
            }
        }
        let vips: Vec<_> = self.vips.iter().map(|(v, r)| (*v, *r)).collect();
        for (vip, record) in vips {
            match record.holding {
                Holding::Owned { node, .. } if continuing.contains(&node) => {}
                // Fenced again even if it was: the fence runs from now.
                Holding::Owned { node, .. } if self.eligible(node) => {
                    self.set_holding(
                        vip,
                        Holding::Owned { node, fenced: true },
                        MoveReason::Failover,
                    );
                }
                Holding::Owned { .. } => {
                    let holding = match self.place(vip, None) {
                        Some(node) => Holding::Owned { node, fenced: true },
                        None => Holding::Unowned { fenced: true },
                    };
                    self.set_holding(vip, holding, MoveReason::Failover);
                }
                Holding::Handoff { from, to } if continuing.contains(&from) => {
                    // The release is still to come; retarget if the new
                    // owner is gone.
                    if let Some(to) = to.filter(|t| !self.eligible(*t)) {
                        let retarget = self.place(vip, Some(from)).filter(|n| *n != to);
                        self.set_holding(
                            vip,
                            Holding::Handoff { from, to: retarget },
                            MoveReason::Failover,
                        );
                    }
                }
                Holding::Handoff { .. } if record.retired => {
                    // Its owner left without releasing; nobody takes it.
                    self.vips.remove(&vip);
                }
                Holding::Handoff { to, .. } => {
                    let holding = match to.filter(|t| self.eligible(*t)) {
                        Some(node) => Holding::Owned { node, fenced: true },
                        None => Holding::Unowned { fenced: true },
                    };
                    self.set_holding(vip, holding, MoveReason::Failover);
                }
                Holding::Unowned { .. } => {}
            }
        }
        self.place_unowned();
        self.update_health();
        self.serving = true;
    }
}
