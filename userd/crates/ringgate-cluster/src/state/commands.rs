//! The agreed messages and what each does to the replicated state. Every
//! check here reads only the state and the message, so every member accepts
//! or refuses a message alike; a refused request gets a reason its sender
//! reports to the operator.

use super::{Holding, MoveReason, ReplicatedState};
use crate::balance::{self, NodeLoad, Rule, VipOnNode};
use crate::config::{ClusterConfig, ConfigEdit, ConfigError, EditError};
use crate::message::{Message, Stamped};
use crate::model::{NodeId, Vip};

/// Why an operator's request was refused, the same way on every node.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CommandError {
    #[error("this side of the cluster has no quorum; nothing can change")]
    NoQuorum,
    #[error("the cluster has not agreed on a configuration yet (its members are still offering theirs); retry in a moment")]
    NoConfiguration,
    #[error("the configuration changed meanwhile: the change was made against version {base}, the cluster is at {current}; re-read and retry")]
    VersionConflict { base: u64, current: u64 },
    #[error("invalid configuration: {0}")]
    InvalidConfig(#[from] ConfigError),
    #[error("{0}")]
    Edit(#[from] EditError),
    #[error("no VIP {0} in the configuration")]
    UnknownVip(Vip),
    #[error("node {0} cannot take VIPs (not a member, drained, or of weight 0)")]
    NotEligible(NodeId),
    #[error("node {0} is still receiving the cluster's session table: a VIP moved to it now would reset its established connections; retry when `ringgatectl cluster status` lists it as holding the table")]
    NoSessionTable(NodeId),
    #[error("node {0} is neither configured nor a member")]
    UnknownNode(NodeId),
    #[error("VIP {0} is being handed over; retry when that is done")]
    HandoffInProgress(Vip),
    #[error("this node is receiving the cluster's state; retry in a moment or ask another node")]
    Joining,
    #[error("the request reached the cluster while this node was receiving the cluster's state, so its outcome is unknown here; check `ringgatectl cluster status`")]
    OutcomeUnknown,
}

/// What an agreed message did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    Applied,
    /// Not a request, and nothing to do (stale, from a non-member, frozen).
    Ignored,
    Refused(CommandError),
}

impl ReplicatedState {
    /// Applies one agreed message from `origin`.
    pub fn apply_message(&mut self, origin: NodeId, stamped: &Stamped) -> Outcome {
        self.agreed_now = self.agreed_now.max(stamped.at);
        let is_request = matches!(
            stamped.message,
            Message::ConfigChange { .. }
                | Message::ConfigEdit { .. }
                | Message::MoveVip { .. }
                | Message::Drain { .. }
        );
        if !self.quorate || !self.members.contains(&origin) {
            return if is_request {
                Outcome::Refused(CommandError::NoQuorum)
            } else {
                Outcome::Ignored
            };
        }
        let result = match &stamped.message {
            Message::Load { loads } => {
                for (vip, load) in loads {
                    if let Some(r) = self.vips.get_mut(vip) {
                        // Only the owner's view of a VIP's traffic counts:
                        // a node that just gave it away still sees a tail.
                        if matches!(r.holding, Holding::Owned { node, .. } if node == origin) {
                            r.load = *load;
                        }
                    }
                }
                self.balance();
                return Outcome::Applied;
            }
            Message::Health { results } => {
                let known: std::collections::BTreeSet<_> = self.config.backends().collect();
                for (backend, up) in results.iter().filter(|(b, _)| known.contains(b)) {
                    let voters = self.failing.entry(*backend).or_default();
                    if *up {
                        voters.remove(&origin);
                    } else {
                        voters.insert(origin);
                    }
                }
                self.update_health();
                return Outcome::Applied;
            }
            Message::Released { vip, epoch } => {
                self.complete_handoff(origin, *vip, *epoch);
                return Outcome::Applied;
            }
            Message::SessionTableHeld => {
                self.table_holders.insert(origin);
                // Holders of the table may be the first eligible ones.
                self.place_unowned();
                return Outcome::Applied;
            }
            // Handled by the node, which replaces its whole state.
            Message::StateOffer { .. } => return Outcome::Ignored,
            Message::ConfigOffer { config } => {
                if config.version > self.config.version && config.validate().is_ok() {
                    self.install_config(config.clone());
                }
                return Outcome::Applied;
            }
            Message::ConfigChange {
                base_version,
                config,
                ..
            } => self.change_config(*base_version, config),
            Message::ConfigEdit { edit, .. } => self.edit_config(edit),
            Message::MoveVip { vip, to, .. } => self.move_by_hand(*vip, *to),
            Message::Drain { node, drained, .. } => self.drain(*node, *drained),
        };
        match result {
            Ok(()) => Outcome::Applied,
            Err(e) => Outcome::Refused(e),
        }
    }

    /// Compare-and-set: of two changes made against the same version, the
    /// first in the agreed order wins and the second is refused everywhere.
    fn change_config(&mut self, base: u64, config: &ClusterConfig) -> Result<(), CommandError> {
        self.has_configuration()?;
        if base != self.config.version {
            return Err(CommandError::VersionConflict {
                base,
                current: self.config.version,
            });
        }
        config.validate()?;
        let mut config = config.clone();
        config.version = base.saturating_add(1);
        self.install_config(config);
        Ok(())
    }

    /// A change needs a configuration to change. A ring that starts cold
    /// has none until its members' offers are delivered; a change agreed
    /// before them became version 1 on its own, and the offers, also
    /// version 1 and so not newer, were ignored: an edit that added a VIP
    /// removed all the others.
    fn has_configuration(&self) -> Result<(), CommandError> {
        if self.config.version == 0 {
            return Err(CommandError::NoConfiguration);
        }
        Ok(())
    }

    /// An edit is made to the configuration in force, in agreed order, so
    /// every member decides the same way whether its object exists.
    fn edit_config(&mut self, edit: &ConfigEdit) -> Result<(), CommandError> {
        self.has_configuration()?;
        let mut config = edit.apply(&self.config)?;
        config.version = self.config.version.saturating_add(1);
        self.install_config(config);
        Ok(())
    }

    fn move_by_hand(&mut self, vip: Vip, to: NodeId) -> Result<(), CommandError> {
        let record = match self.vips.get(&vip) {
            Some(r) if !r.retired => *r,
            _ => return Err(CommandError::UnknownVip(vip)),
        };
        if !self.eligible(to) {
            return Err(CommandError::NotEligible(to));
        }
        if !self.may_receive(to) {
            return Err(CommandError::NoSessionTable(to));
        }
        if matches!(record.holding, Holding::Handoff { .. }) {
            return Err(CommandError::HandoffInProgress(vip));
        }
        self.start_move(vip, to, MoveReason::Manual);
        let until = self.agreed_now.saturating_add(self.config.settings.hold_us);
        if let Some(r) = self.vips.get_mut(&vip) {
            r.pinned_until = until;
        }
        Ok(())
    }

    /// A drained node hands each of its VIPs over to the node placement
    /// picks; it keeps a VIP only when no other node can take it.
    fn drain(&mut self, node: NodeId, drained: bool) -> Result<(), CommandError> {
        if !self.members.contains(&node) && !self.config.nodes.iter().any(|n| n.id == node) {
            return Err(CommandError::UnknownNode(node));
        }
        if !drained {
            self.drained.remove(&node);
            return Ok(());
        }
        self.drained.insert(node);
        let owned: Vec<Vip> = self
            .vips
            .iter()
            .filter(|(_, r)| !r.retired && r.holding.target() == Some(node))
            .map(|(v, _)| *v)
            .collect();
        for vip in owned {
            if let Some(to) = self.place(vip, Some(node)) {
                self.start_move(vip, to, MoveReason::Drain);
            }
        }
        Ok(())
    }

    /// The old owner's release is agreed: the new owner may take the VIP.
    fn complete_handoff(&mut self, origin: NodeId, vip: Vip, epoch: u64) {
        let Some(record) = self.vips.get(&vip).copied() else {
            return;
        };
        let Holding::Handoff { from, to } = record.holding else {
            return;
        };
        if from != origin || record.epoch != epoch {
            return; // A release of an earlier hand-over, or not the owner's.
        }
        if record.retired {
            self.vips.remove(&vip);
            return;
        }
        let to = to
            .filter(|t| self.eligible(*t))
            .or_else(|| self.place(vip, Some(from)));
        let holding = match to {
            Some(node) => Holding::Owned {
                node,
                fenced: false,
            },
            None => Holding::Unowned { fenced: false },
        };
        self.set_holding(vip, holding, MoveReason::HandoffDone);
        self.place_unowned();
    }

    /// Runs the load rule (see `balance`) at most once per balance interval
    /// and within the bound on moves per period; held VIPs stay.
    fn balance(&mut self) {
        let s = self.config.settings;
        if self.agreed_now < self.next_balance_at {
            return;
        }
        self.next_balance_at = self.agreed_now.saturating_add(s.balance_interval_us);
        let since = self.agreed_now.saturating_sub(s.move_period_us);
        self.recent_moves.retain(|t| *t > since);
        if self.recent_moves.len() >= s.max_moves_per_period as usize {
            return;
        }
        // A node still receiving the session table is left out, as a
        // giver too: it is one only in the moment after a cold start.
        let nodes: Vec<NodeLoad> = self
            .members
            .iter()
            .filter(|n| self.may_receive(**n))
            .map(|&id| NodeLoad {
                id,
                weight: self.config.weight(id),
                load: self.carried(id).0,
            })
            .collect();
        let now = self.agreed_now;
        let vips: Vec<VipOnNode> = self
            .vips
            .iter()
            .filter_map(|(vip, r)| match r.holding {
                Holding::Owned { node, .. } if !r.retired => Some(VipOnNode {
                    vip: *vip,
                    owner: node,
                    load: r.load.score(),
                    movable: now >= r.moved_at.saturating_add(s.hold_us) && now >= r.pinned_until,
                }),
                _ => None,
            })
            .collect();
        let rule = Rule {
            threshold_pct: s.imbalance_threshold_pct,
            min_imbalance: s.min_imbalance,
            hysteresis_pct: s.hysteresis_pct,
        };
        if let Some(m) = balance::pick_move(&nodes, &vips, rule) {
            self.start_move(m.vip, m.to, MoveReason::Balance);
            self.recent_moves.push(now);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{NodeConfig, VipConfig};
    use crate::model::Micros;
    use std::net::Ipv4Addr;

    fn offered(vips: &[u8]) -> ClusterConfig {
        let mut config = ClusterConfig::empty();
        config.version = 1;
        config.nodes = vec![
            NodeConfig { id: 1, weight: 100 },
            NodeConfig { id: 2, weight: 100 },
        ];
        config.vips = vips
            .iter()
            .map(|n| VipConfig {
                addr: Ipv4Addr::new(10, 0, 0, *n),
                services: Vec::new(),
            })
            .collect();
        config
    }

    fn agreed(state: &mut ReplicatedState, at: Micros, message: Message) -> Outcome {
        state.apply_message(1, &Stamped { at, message })
    }

    /// Seed 458 of the cluster simulation: an edit queued before the first
    /// ring was delivered ahead of the members' configuration offers, made
    /// version 1 out of nothing but the added VIP, and the offers (version
    /// 1, not newer) were ignored. It is refused instead, and the offers
    /// install the configuration.
    #[test]
    fn a_change_before_the_configuration_is_agreed_is_refused_and_loses_nothing() {
        let mut state = ReplicatedState::new(ClusterConfig::empty());
        state.apply_membership(&[1, 2], &[], true);
        let add = ConfigEdit::AddVip(Ipv4Addr::new(10, 0, 2, 1));
        let edit = Message::ConfigEdit {
            request: 7,
            edit: add.clone(),
        };
        assert_eq!(
            agreed(&mut state, 1, edit.clone()),
            Outcome::Refused(CommandError::NoConfiguration)
        );
        let change = Message::ConfigChange {
            request: 8,
            base_version: 0,
            config: offered(&[9]),
        };
        assert_eq!(
            agreed(&mut state, 2, change),
            Outcome::Refused(CommandError::NoConfiguration)
        );
        assert_eq!(state.config.version, 0);

        let offer = Message::ConfigOffer {
            config: offered(&[1, 2]),
        };
        assert_eq!(agreed(&mut state, 3, offer), Outcome::Applied);
        assert_eq!(state.config.vips.len(), 2);
        // Once there is a configuration, the same edit adds to it.
        assert_eq!(agreed(&mut state, 4, edit), Outcome::Applied);
        assert_eq!(state.config.version, 2);
        assert_eq!(state.config.vips.len(), 3);
    }
}
