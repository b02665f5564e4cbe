//! The replicated state: what every member computes identically from the
//! same membership events and agreed messages, with no leader.
//!
//! Nothing here reads a clock. Times ("agreed time") come from the agreed
//! messages themselves: each carries a stamp, and the state's clock is the
//! largest stamp delivered so far, so every member sees the same time at
//! the same point of the order. A sender stamps the agreed time it last saw
//! plus how long ago it saw it on its own monotonic clock (see `node`), so
//! agreed time advances at the pace of real time without any clock being
//! comparable across nodes.
//!
//! Ownership of each VIP is a `Holding`:
//! - `Owned { node, fenced }`: `node` holds it; if `fenced`, the previous
//!   owner left without an agreed release, so `node` waits the takeover
//!   fence before answering ARP for it;
//! - `Handoff { from, to }`: `from` must release it; once its `Released`
//!   message is delivered, `to` owns it. This is the release-before-take
//!   order: the new owner acts on a message the old owner sent only after
//!   its module had let go.
//! - `Unowned`: nobody is eligible (or a removed VIP's release is awaited).
//!
//! Split brain: only a quorate ring (the ring's primary component, or a lone
//! node of a two-node cluster when `two_node` is set) changes anything. A
//! non-quorate ring freezes the state and its members serve nothing; when a
//! quorate ring forms after one that was not, or with members from
//! elsewhere, every owner that did not serve continuously through the
//! change is fenced (see `membership`).

mod commands;
mod membership;
mod snapshot;

use std::collections::{BTreeMap, BTreeSet};

use crate::config::ClusterConfig;
use crate::health;
use crate::model::{BackendId, Micros, NodeId, Vip, VipLoad};
use crate::placement::{self, Candidate};

pub use commands::{CommandError, Outcome};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Holding {
    Unowned { fenced: bool },
    Owned { node: NodeId, fenced: bool },
    Handoff { from: NodeId, to: Option<NodeId> },
}

impl Holding {
    /// The node that owns the VIP or will own it once the hand-over ends.
    pub fn target(&self) -> Option<NodeId> {
        match *self {
            Holding::Owned { node, .. } => Some(node),
            Holding::Handoff { to, .. } => to,
            Holding::Unowned { .. } => None,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct VipRecord {
    pub holding: Holding,
    /// Grows with every change of `holding`; a `Released` names it, so a
    /// late release of an earlier hand-over changes nothing.
    pub epoch: u64,
    /// Agreed time of the last change of owner.
    pub moved_at: Micros,
    /// Agreed time until which the balancer leaves it (a manual move).
    pub pinned_until: Micros,
    /// Removed from the configuration; kept until its owner released it.
    pub retired: bool,
    /// The load its owner reported last.
    pub load: VipLoad,
}

/// Why a VIP changed owner, for the daemon's log and the tests' checkers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MoveReason {
    Placement,
    Failover,
    Balance,
    Manual,
    Drain,
    Removed,
    /// The old owner's release arrived and the new owner now owns it.
    HandoffDone,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct VipMove {
    pub vip: Vip,
    pub from: Option<NodeId>,
    pub to: Option<NodeId>,
    pub at: Micros,
    pub reason: MoveReason,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReplicatedState {
    pub config: ClusterConfig,
    /// The members of the ring, ascending.
    pub members: Vec<NodeId>,
    /// Whether this ring may change anything and serve (see the module doc).
    pub quorate: bool,
    /// Whether the owners recorded were serving in the last ring: false
    /// after a non-quorate ring, a restore from disk, or a cold start.
    pub(crate) serving: bool,
    /// The ring's own primary flag of the last membership event.
    ring_primary: bool,
    /// How many quorate membership events this state went through: the
    /// length of its history, by which offered states are compared (see
    /// `adopt`).
    generation: u64,
    pub vips: BTreeMap<Vip, VipRecord>,
    pub drained: BTreeSet<NodeId>,
    /// The members whose modules hold the cluster's session table (their
    /// `SessionTableHeld` was delivered and they stayed members since).
    pub table_holders: BTreeSet<NodeId>,
    pub agreed_now: Micros,
    /// For each back-end, the members whose latest report says it fails.
    failing: BTreeMap<BackendId, BTreeSet<NodeId>>,
    /// Back-ends the cluster agrees are down.
    pub down: BTreeSet<BackendId>,
    /// The balancer looks again at this agreed time.
    next_balance_at: Micros,
    /// Agreed times of the balancing moves within the last period.
    recent_moves: Vec<Micros>,
    next_epoch: u64,
    /// Moves made since the caller last took them (not replicated).
    moves: Vec<VipMove>,
}

impl ReplicatedState {
    /// The state of a node that knows only `config` (from its file or its
    /// disk): no members, nothing served, every VIP unowned.
    pub fn new(config: ClusterConfig) -> Self {
        let mut state = ReplicatedState {
            config: ClusterConfig::empty(),
            members: Vec::new(),
            quorate: false,
            serving: false,
            ring_primary: false,
            generation: 0,
            vips: BTreeMap::new(),
            drained: BTreeSet::new(),
            table_holders: BTreeSet::new(),
            agreed_now: 0,
            failing: BTreeMap::new(),
            down: BTreeSet::new(),
            next_balance_at: 0,
            recent_moves: Vec::new(),
            next_epoch: 1,
            moves: Vec::new(),
        };
        state.install_config(config);
        state.moves.clear();
        state
    }

    /// How many quorate rings this state's history went through.
    pub fn generation(&self) -> u64 {
        self.generation
    }

    /// Replaces this state with `offered`, a state of a longer history that
    /// a member brought into the ring (the ring's state transfer picks the
    /// largest group's state, which may be a stale one). Every member does
    /// this at the same point of the agreed order. Nobody's ownership in
    /// either history counts as served without a break, so every owner is
    /// fenced, and the current ring's membership is applied to it again.
    pub fn adopt(&mut self, mut offered: ReplicatedState) {
        let members = self.members.clone();
        offered.agreed_now = offered.agreed_now.max(self.agreed_now);
        offered.serving = false;
        offered.moves.clear();
        offered.apply_membership(&members, &[], self.ring_primary);
        *self = offered;
    }

    /// The moves made since the last call.
    pub fn take_moves(&mut self) -> Vec<VipMove> {
        std::mem::take(&mut self.moves)
    }

    /// Whether `node` may be given VIPs: a member, not drained, weight > 0.
    pub fn eligible(&self, node: NodeId) -> bool {
        self.members.contains(&node)
            && !self.drained.contains(&node)
            && self.config.weight(node) > 0
    }

    /// Whether `node` may be given a VIP now: it is eligible and its module
    /// holds the cluster's session table. A node that just joined has none
    /// of its peers' sessions yet; a VIP moved to it would have its
    /// established connections reset there (the new owner would neither
    /// translate their packets nor send them on to their owner). If no
    /// eligible member holds the table (a cold start, or every holder
    /// left), every eligible member may: a VIP must go somewhere.
    pub fn may_receive(&self, node: NodeId) -> bool {
        self.eligible(node)
            && (self.table_holders.contains(&node)
                || !self.table_holders.iter().any(|n| self.eligible(*n)))
    }

    /// The VIPs `node` owns or is about to own, with their total load.
    fn carried(&self, node: NodeId) -> (u64, u64) {
        self.vips
            .values()
            .filter(|r| r.holding.target() == Some(node))
            .fold((0, 0), |(load, count), r| {
                (load.saturating_add(r.load.score()), count + 1)
            })
    }

    /// The eligible node that should take `vip` (other than `except`).
    fn place(&self, vip: Vip, except: Option<NodeId>) -> Option<NodeId> {
        let candidates: Vec<Candidate> = self
            .members
            .iter()
            .copied()
            .filter(|n| self.may_receive(*n) && Some(*n) != except)
            .map(|id| {
                let (load, count) = self.carried(id);
                Candidate {
                    id,
                    weight: self.config.weight(id),
                    load,
                    count,
                }
            })
            .collect();
        let vip_load = self.vips.get(&vip).map_or(0, |r| r.load.score());
        placement::choose_owner(&candidates, vip_load)
    }

    /// Changes a VIP's holding, with a new epoch, and records the move.
    fn set_holding(&mut self, vip: Vip, holding: Holding, reason: MoveReason) {
        let epoch = self.next_epoch;
        let at = self.agreed_now;
        let Some(record) = self.vips.get_mut(&vip) else {
            return;
        };
        let from = record.holding.target();
        record.holding = holding;
        record.epoch = epoch;
        self.next_epoch = self.next_epoch.wrapping_add(1);
        if from != holding.target() {
            record.moved_at = at;
            self.moves.push(VipMove {
                vip,
                from,
                to: holding.target(),
                at,
                reason,
            });
        }
    }

    /// Starts moving a VIP to `to` the safe way: a live owner hands it
    /// over (release first); an unowned VIP is given at once.
    fn start_move(&mut self, vip: Vip, to: NodeId, reason: MoveReason) {
        let Some(record) = self.vips.get(&vip) else {
            return;
        };
        let holding = match record.holding {
            Holding::Owned { node, .. } if node == to => return,
            Holding::Owned { node, .. } => Holding::Handoff {
                from: node,
                to: Some(to),
            },
            Holding::Handoff { from, .. } => Holding::Handoff { from, to: Some(to) },
            Holding::Unowned { fenced } => Holding::Owned { node: to, fenced },
        };
        self.set_holding(vip, holding, reason);
    }

    /// Gives every unowned VIP to an eligible node, in address order.
    fn place_unowned(&mut self) {
        let unowned: Vec<(Vip, bool)> = self
            .vips
            .iter()
            .filter_map(|(vip, r)| match r.holding {
                Holding::Unowned { fenced } if !r.retired => Some((*vip, fenced)),
                _ => None,
            })
            .collect();
        for (vip, fenced) in unowned {
            let reason = if fenced {
                MoveReason::Failover
            } else {
                MoveReason::Placement
            };
            if let Some(node) = self.place(vip, None) {
                self.set_holding(vip, Holding::Owned { node, fenced }, reason);
            }
        }
    }

    /// Recomputes which back-ends are down from the members' reports.
    fn update_health(&mut self) {
        let members = &self.members;
        for voters in self.failing.values_mut() {
            voters.retain(|n| members.contains(n));
        }
        self.failing.retain(|_, voters| !voters.is_empty());
        self.down = self
            .failing
            .iter()
            .filter(|(_, voters)| health::agreed_down(voters, &self.members))
            .map(|(b, _)| *b)
            .collect();
    }

    /// Installs a configuration: VIPs that disappear are released by their
    /// owners (and forgotten once released), new ones are placed when the
    /// ring is quorate, reports about back-ends that are gone are dropped.
    fn install_config(&mut self, config: ClusterConfig) {
        let wanted: BTreeSet<Vip> = config.vips.iter().map(|v| v.addr).collect();
        self.config = config;
        let listed: Vec<Vip> = self.vips.keys().copied().collect();
        for vip in listed {
            let Some(record) = self.vips.get(&vip).copied() else {
                continue;
            };
            match (wanted.contains(&vip), record.retired, record.holding) {
                (false, false, Holding::Unowned { .. }) => {
                    self.vips.remove(&vip);
                }
                (false, false, Holding::Owned { node: from, .. })
                | (false, false, Holding::Handoff { from, .. }) => {
                    self.set_holding(
                        vip,
                        Holding::Handoff { from, to: None },
                        MoveReason::Removed,
                    );
                    if let Some(r) = self.vips.get_mut(&vip) {
                        r.retired = true;
                    }
                }
                // Back while its old owner is still releasing it: the old
                // owner keeps it, which needs no hand-over at all.
                (true, true, Holding::Handoff { from, .. }) => {
                    if let Some(r) = self.vips.get_mut(&vip) {
                        r.retired = false;
                    }
                    let holding = if self.members.contains(&from) {
                        Holding::Owned {
                            node: from,
                            fenced: false,
                        }
                    } else {
                        Holding::Unowned { fenced: true }
                    };
                    self.set_holding(vip, holding, MoveReason::Placement);
                }
                _ => {}
            }
        }
        for vip in &wanted {
            self.vips.entry(*vip).or_insert(VipRecord {
                holding: Holding::Unowned { fenced: false },
                epoch: 0,
                moved_at: self.agreed_now,
                pinned_until: 0,
                retired: false,
                load: VipLoad::default(),
            });
        }
        let backends: BTreeSet<BackendId> = self.config.backends().collect();
        self.failing.retain(|b, _| backends.contains(b));
        self.update_health();
        if self.quorate {
            self.place_unowned();
        }
    }
}
