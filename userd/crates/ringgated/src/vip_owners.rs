//! The daemon's side of the module's `owner-node`: which node the cluster
//! says owns each VIP.
//!
//! A node that does not own a VIP sends a back-end's packet it has no
//! session for to the VIP's owner, as recorded here (see the module's
//! `nat::reply_without_session`): the back-end's first reply to a
//! connection the owner just opened, which reaches the node holding the
//! back-ends' gateway address before the owner announced the session.
//! Without it, that reply goes to the client untranslated, the client
//! answers it with a reset, and the connection opens only at its next SYN.
//!
//! Pure: the gateway gives it the replicated state and the module's
//! answers; it says what to send.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use ringgate_cluster::model::{NodeId, Vip};
use ringgate_cluster::state::{Holding, ReplicatedState};

/// How long a VIP the module refused waits before it is sent again (the
/// module may not have it yet: its configuration comes in the same turn).
pub const RETRY_AFTER: Duration = Duration::from_secs(1);

/// The node whose sessions a VIP's new connections are, 0 for none: its
/// owner, or during a hand-over the node handing it over (it creates the
/// VIP's sessions until it has released it).
pub fn serving_node(holding: &Holding) -> NodeId {
    match *holding {
        Holding::Owned { node, .. } => node,
        Holding::Handoff { from, .. } => from,
        Holding::Unowned { .. } => 0,
    }
}

/// What the module was told, and what it refused.
#[derive(Debug, Default)]
pub struct VipOwners {
    /// Whether the module's pool is the cluster's: nothing is told before
    /// the cluster's configuration was first applied, which adds the VIPs.
    pool_ready: bool,
    given: BTreeMap<Vip, NodeId>,
    refused_at: BTreeMap<Vip, Instant>,
}

impl VipOwners {
    pub fn new() -> VipOwners {
        VipOwners::default()
    }

    /// The VIPs whose owner the module must be told, with the owner: those
    /// whose owner changed since the module was last told, leaving out
    /// those it refused within `RETRY_AFTER`.
    pub fn to_give(&self, state: &ReplicatedState, now: Instant) -> Vec<(Vip, NodeId)> {
        if !self.pool_ready {
            return Vec::new();
        }
        // A VIP removed from the configuration stays in the state until its
        // owner released it, but the module's pool lost it already.
        state
            .vips
            .iter()
            .filter(|(_, record)| !record.retired)
            .map(|(vip, record)| (*vip, serving_node(&record.holding)))
            .filter(|(vip, node)| self.given.get(vip) != Some(node))
            .filter(|(vip, _)| {
                self.refused_at
                    .get(vip)
                    .is_none_or(|at| now.duration_since(*at) >= RETRY_AFTER)
            })
            .collect()
    }

    /// The module's answer to being told `vip`'s owner is `node`
    /// (`accepted`: it took it, or it has no such VIP, which the next
    /// configuration applied would bring and `pool_applied` tell again).
    pub fn given(&mut self, vip: Vip, node: NodeId, accepted: bool, now: Instant) {
        if accepted {
            self.given.insert(vip, node);
            self.refused_at.remove(&vip);
        } else {
            self.given.remove(&vip);
            self.refused_at.insert(vip, now);
        }
    }

    /// Whether the module refused `vip` last time.
    pub fn refused(&self, vip: Vip) -> bool {
        self.refused_at.contains_key(&vip)
    }

    /// A configuration was applied to the module: its pool is the
    /// cluster's now, and may have been rebuilt (a VIP removed and added
    /// again starts with no owner there), so every VIP is told again.
    pub fn pool_applied(&mut self) {
        self.pool_ready = true;
        self.given.clear();
        self.refused_at.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ringgate_cluster::config::{ClusterConfig, VipConfig};
    use std::net::Ipv4Addr;

    const A: Vip = Ipv4Addr::new(10, 9, 0, 100);
    const B: Vip = Ipv4Addr::new(10, 9, 0, 101);

    /// A state with VIPs A and B, held as given.
    fn state(a: Holding, b: Holding) -> ReplicatedState {
        let mut config = ClusterConfig::empty();
        for addr in [A, B] {
            config.vips.push(VipConfig {
                addr,
                services: Vec::new(),
            });
        }
        let mut state = ReplicatedState::new(config);
        for (vip, holding) in [(A, a), (B, b)] {
            state.vips.get_mut(&vip).expect("configured").holding = holding;
        }
        state
    }

    fn owned(node: NodeId) -> Holding {
        Holding::Owned {
            node,
            fenced: false,
        }
    }

    #[test]
    fn each_vip_is_told_once_and_again_when_its_owner_changes() {
        let now = Instant::now();
        let mut owners = VipOwners::new();
        let s = state(owned(1), Holding::Unowned { fenced: false });
        // Not before the module has the cluster's pool.
        assert_eq!(owners.to_give(&s, now), vec![]);
        owners.pool_applied();
        assert_eq!(owners.to_give(&s, now), vec![(A, 1), (B, 0)]);
        owners.given(A, 1, true, now);
        owners.given(B, 0, true, now);
        assert_eq!(owners.to_give(&s, now), vec![]);
        // A hand-over names the node handing over: its new connections'
        // replies still need it until it released the VIP.
        let s = state(
            Holding::Handoff {
                from: 1,
                to: Some(2),
            },
            owned(3),
        );
        assert_eq!(owners.to_give(&s, now), vec![(B, 3)]);
        owners.given(B, 3, true, now);
        let s = state(owned(2), owned(3));
        assert_eq!(owners.to_give(&s, now), vec![(A, 2)]);
    }

    #[test]
    fn a_refused_vip_waits_and_a_new_configuration_tells_every_vip_again() {
        let now = Instant::now();
        let mut owners = VipOwners::new();
        owners.pool_applied();
        let s = state(owned(1), owned(2));
        owners.given(A, 1, false, now);
        owners.given(B, 2, true, now);
        assert!(owners.refused(A));
        assert_eq!(owners.to_give(&s, now), vec![]);
        let later = now + RETRY_AFTER;
        assert_eq!(owners.to_give(&s, later), vec![(A, 1)]);
        owners.given(A, 1, true, later);
        assert!(!owners.refused(A));
        assert_eq!(owners.to_give(&s, later), vec![]);
        owners.pool_applied();
        assert_eq!(owners.to_give(&s, later), vec![(A, 1), (B, 2)]);
    }

    #[test]
    fn a_vip_removed_from_the_configuration_is_not_told() {
        let now = Instant::now();
        let mut owners = VipOwners::new();
        owners.pool_applied();
        let mut s = state(owned(1), Holding::Handoff { from: 2, to: None });
        s.vips.get_mut(&B).expect("configured").retired = true;
        assert_eq!(owners.to_give(&s, now), vec![(A, 1)]);
    }
}
