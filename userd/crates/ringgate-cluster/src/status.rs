//! The view `ringgatectl cluster status` prints: the ring, each node, each
//! VIP, each back-end's agreed health and the configuration version, as one
//! node sees them. Plain data; the daemon serializes it.

use crate::model::{BackendId, Micros, NodeId, Vip, VipLoad};
use crate::node::ClusterNode;
use crate::state::Holding;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Status {
    pub node: NodeId,
    pub ring: Option<ringgate_ring::wire::RingId>,
    pub members: Vec<NodeId>,
    pub quorate: bool,
    pub awaiting_snapshot: bool,
    pub config_version: u64,
    pub nodes: Vec<NodeStatus>,
    pub vips: Vec<VipStatus>,
    pub backends: Vec<BackendStatus>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NodeStatus {
    pub id: NodeId,
    pub member: bool,
    pub drained: bool,
    /// Whether the cluster lists it as holding the session table.
    pub holds_table: bool,
    /// Whether it may be given a VIP now (see
    /// `ReplicatedState::may_receive`).
    pub may_receive: bool,
    pub weight: u32,
    /// Sum of the load scores of the VIPs it owns.
    pub load: u64,
    pub vips: Vec<Vip>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VipStatus {
    pub vip: Vip,
    pub holding: Holding,
    /// Agreed time of its last change of owner.
    pub since: Micros,
    pub load: VipLoad,
    /// Whether this node's module holds it.
    pub held_here: bool,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BackendStatus {
    pub backend: BackendId,
    pub up: bool,
}

impl ClusterNode {
    pub fn status(&self) -> Status {
        let state = self.state();
        let mut ids: Vec<NodeId> = state.config.nodes.iter().map(|n| n.id).collect();
        ids.extend(state.members.iter().copied());
        ids.sort_unstable();
        ids.dedup();
        let nodes = ids
            .into_iter()
            .map(|id| {
                let owned: Vec<(Vip, u64)> = state
                    .vips
                    .iter()
                    .filter(|(_, r)| matches!(r.holding, Holding::Owned { node, .. } if node == id))
                    .map(|(v, r)| (*v, r.load.score()))
                    .collect();
                NodeStatus {
                    id,
                    member: state.members.contains(&id),
                    drained: state.drained.contains(&id),
                    holds_table: state.table_holders.contains(&id),
                    may_receive: state.may_receive(id),
                    weight: state.config.weight(id),
                    load: owned.iter().map(|(_, l)| *l).sum(),
                    vips: owned.into_iter().map(|(v, _)| v).collect(),
                }
            })
            .collect();
        Status {
            node: self.id(),
            ring: self.ring_id(),
            members: state.members.clone(),
            quorate: state.quorate,
            awaiting_snapshot: self.awaiting_snapshot(),
            config_version: state.config.version,
            nodes,
            vips: state
                .vips
                .iter()
                .map(|(vip, r)| VipStatus {
                    vip: *vip,
                    holding: r.holding,
                    since: r.moved_at,
                    load: r.load,
                    held_here: self.held().contains(vip),
                })
                .collect(),
            backends: state
                .config
                .backends()
                .map(|backend| BackendStatus {
                    backend,
                    up: !state.down.contains(&backend),
                })
                .collect(),
        }
    }
}
