//! A perfect agreed-order bus for rule tests: no ring, no loss. Each group
//! of nodes forms a "ring"; what a member broadcasts is delivered to every
//! member of its group in one order; membership events and state transfer
//! follow the ring's API and rules (the largest group from one previous
//! ring keeps its state, its lowest member is the donor). The module of each
//! node is recorded so tests can read what it holds and in which order its
//! outputs came.

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::net::Ipv4Addr;

use ringgate_cluster::config::{ClusterConfig, NodeConfig, Settings, VipConfig};
use ringgate_cluster::model::{Micros, NodeId};
use ringgate_cluster::{ClusterNode, ModuleAction, Output};
use ringgate_ring::node::Event;
use ringgate_ring::wire::RingId;

pub fn vip(n: u8) -> Ipv4Addr {
    Ipv4Addr::new(10, 0, 0, n)
}

/// A configuration of `nodes` (id, weight) and VIPs 10.0.0.1..=vips.
pub fn config(nodes: &[(NodeId, u32)], vips: u8, settings: Settings) -> ClusterConfig {
    ClusterConfig {
        version: 1,
        nodes: nodes
            .iter()
            .map(|&(id, weight)| NodeConfig { id, weight })
            .collect(),
        vips: (1..=vips)
            .map(|n| VipConfig {
                addr: vip(n),
                services: Vec::new(),
            })
            .collect(),
        settings,
        snat: None,
    }
}

/// The membership event of ring `seq` (represented by `rep`) for a node
/// that came with `transitional` from its previous ring: the other members
/// joined, nobody is reported as left. Primary when a majority of three.
pub fn membership(
    seq: u64,
    rep: NodeId,
    members: &[NodeId],
    transitional: &[NodeId],
    snapshot_from: Option<NodeId>,
) -> Event {
    Event::Membership {
        ring: RingId { seq, rep, epoch: 0 },
        members: members.to_vec(),
        transitional: transitional.to_vec(),
        joined: members
            .iter()
            .copied()
            .filter(|m| !transitional.contains(m))
            .collect(),
        left: Vec::new(),
        primary: members.len() * 2 > 3,
        snapshot_from,
    }
}

pub struct Bus {
    pub nodes: BTreeMap<NodeId, ClusterNode>,
    /// The ring each node is in, and its members.
    ring_of: BTreeMap<NodeId, (RingId, Vec<NodeId>)>,
    /// Nodes that have been in a ring (the ring's notion of having state).
    has_state: BTreeSet<NodeId>,
    queue: VecDeque<(NodeId, Vec<u8>)>,
    pub now: Micros,
    next_ring: u64,
    /// Every output of every node, in order.
    pub outputs: BTreeMap<NodeId, Vec<Output>>,
    pub universe: usize,
}

impl Bus {
    pub fn new(config: &ClusterConfig) -> Bus {
        let nodes = config
            .nodes
            .iter()
            .map(|n| (n.id, ClusterNode::new(n.id, config.clone())))
            .collect();
        Bus {
            nodes,
            ring_of: BTreeMap::new(),
            has_state: BTreeSet::new(),
            queue: VecDeque::new(),
            now: 1_000,
            next_ring: 1,
            outputs: BTreeMap::new(),
            universe: config.nodes.len(),
        }
    }

    pub fn node(&mut self, id: NodeId) -> &mut ClusterNode {
        self.nodes.get_mut(&id).expect("configured node")
    }

    /// The node crashes: its module lets everything go, its state is lost.
    pub fn crash(&mut self, id: NodeId, config: &ClusterConfig) {
        self.nodes.insert(id, ClusterNode::new(id, config.clone()));
        self.ring_of.remove(&id);
        self.has_state.remove(&id);
    }

    /// The groups form rings, as the ring protocol would after a partition,
    /// heal, crash or join.
    pub fn form(&mut self, groups: &[&[NodeId]]) {
        self.settle();
        for group in groups {
            let mut members = group.to_vec();
            members.sort_unstable();
            let ring = RingId {
                seq: self.next_ring,
                rep: members[0],
                epoch: 0,
            };
            self.next_ring += 1;
            // Group members by the ring they come from, as the ring's
            // state transfer plan does.
            let mut by_old: BTreeMap<RingId, Vec<NodeId>> = BTreeMap::new();
            for m in &members {
                if let (true, Some((old, _))) = (self.has_state.contains(m), self.ring_of.get(m)) {
                    by_old.entry(*old).or_default().push(*m);
                }
            }
            let keep = by_old
                .values()
                .max_by_key(|g| (g.len(), std::cmp::Reverse(g[0])))
                .cloned()
                .unwrap_or_default();
            let donor = keep.first().copied();
            let receivers: Vec<NodeId> = match donor {
                Some(_) => members
                    .iter()
                    .copied()
                    .filter(|m| !keep.contains(m))
                    .collect(),
                None => Vec::new(),
            };
            let primary = members.len() * 2 > self.universe;
            for m in &members {
                let old = self
                    .ring_of
                    .get(m)
                    .map(|(_, ms)| ms.clone())
                    .unwrap_or_default();
                // As the ring has it: the members that come from the same
                // old ring (by its id, not by who was in it).
                let old_id = self.ring_of.get(m).map(|(id, _)| *id);
                let transitional: Vec<NodeId> = if old.is_empty() {
                    vec![*m]
                } else {
                    members
                        .iter()
                        .copied()
                        .filter(|x| x == m || self.ring_of.get(x).map(|(id, _)| *id) == old_id)
                        .collect()
                };
                let joined = members
                    .iter()
                    .copied()
                    .filter(|x| !transitional.contains(x))
                    .collect();
                let left = old
                    .iter()
                    .copied()
                    .filter(|x| !members.contains(x))
                    .collect();
                let event = Event::Membership {
                    ring,
                    members: members.clone(),
                    transitional,
                    joined,
                    left,
                    primary,
                    snapshot_from: if receivers.contains(m) { donor } else { None },
                };
                let now = self.now;
                self.node(*m).handle_ring_event(now, event);
                if Some(*m) == donor {
                    let now = self.now;
                    self.node(*m).handle_ring_event(
                        now,
                        Event::SnapshotRequested {
                            ring,
                            receivers: receivers.clone(),
                        },
                    );
                }
            }
            for m in &members {
                self.ring_of.insert(*m, (ring, members.clone()));
                self.has_state.insert(*m);
            }
        }
        self.settle();
    }

    /// Collects every output; queues broadcasts and snapshots in one
    /// agreed order and delivers them to the sender's ring.
    pub fn settle(&mut self) {
        for _ in 0..10_000 {
            let ids: Vec<NodeId> = self.nodes.keys().copied().collect();
            for id in ids {
                while let Some(out) = self.node(id).poll_output() {
                    match &out {
                        Output::Broadcast { payload, .. } => {
                            self.queue.push_back((id, payload.clone()))
                        }
                        Output::Snapshot { data, .. } => {
                            let mut tagged = vec![0xff];
                            tagged.extend_from_slice(data);
                            self.queue.push_back((id, tagged));
                        }
                        _ => {}
                    }
                    self.outputs.entry(id).or_default().push(out);
                }
            }
            let Some((from, payload)) = self.queue.pop_front() else {
                return;
            };
            let Some((ring, members)) = self.ring_of.get(&from).cloned() else {
                continue; // The sender crashed or is in no ring.
            };
            let now = self.now;
            for m in members {
                if self.ring_of.get(&m).map(|(r, _)| *r) != Some(ring) {
                    continue;
                }
                let event = match payload.split_first() {
                    Some((0xff, data)) if self.node(m).awaiting_snapshot() => Event::Snapshot {
                        origin: from,
                        data: data.to_vec(),
                    },
                    Some((0xff, _)) => continue,
                    _ => Event::Deliver {
                        first: 0,
                        last: 0,
                        index: 0,
                        origin: from,
                        payload: payload.clone(),
                    },
                };
                self.node(m).handle_ring_event(now, event);
            }
        }
        panic!("the bus never went quiet");
    }

    /// Lets time pass for every node (their rings stay operational unless
    /// listed in `down`), then settles.
    pub fn advance(&mut self, by: Micros, down: &[NodeId]) {
        self.now += by;
        let now = self.now;
        for (id, node) in self.nodes.iter_mut() {
            node.tick(now, !down.contains(id));
        }
        self.settle();
    }

    /// The node's daemon says its module holds the session table.
    pub fn report_table_held(&mut self, id: NodeId) {
        let now = self.now;
        self.node(id).report_table_held(now);
        self.settle();
    }

    /// Which node's module holds each VIP (every holder listed).
    pub fn holders(&self) -> BTreeMap<Ipv4Addr, Vec<NodeId>> {
        let mut out: BTreeMap<Ipv4Addr, Vec<NodeId>> = BTreeMap::new();
        for (id, node) in &self.nodes {
            for v in node.held() {
                out.entry(*v).or_default().push(*id);
            }
        }
        out
    }

    /// The module actions of a node, in order.
    pub fn actions(&self, id: NodeId) -> Vec<ModuleAction> {
        self.outputs
            .get(&id)
            .into_iter()
            .flatten()
            .filter_map(|o| match o {
                Output::Module(a) => Some(a.clone()),
                _ => None,
            })
            .collect()
    }
}
