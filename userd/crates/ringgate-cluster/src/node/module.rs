//! What this node's module must hold, derived from the replicated state
//! after every input, and the order in which it changes:
//! 1. releases (a VIP this node must no longer answer for), then the
//!    `Released` broadcast of each hand-over this node is the old owner of;
//! 2. takes, each only when allowed: this node owns the VIP in the agreed
//!    state, its ring is quorate and up (or down for less than the self
//!    fence), it is not waiting for a snapshot, and a fenced take waits the
//!    takeover fence.
//!
//! The takeover fence counts from when this node noticed that its previous
//! ring was lost, if the fenced owner was in that ring with it (else from
//! when this node first saw the fenced ownership). The owner's last token
//! came before that, or at most a message's flight after it (once this node
//! declares the token lost it sends Joins, and a node that hears one stops
//! using the ring's token), and the owner released within the self fence of
//! its last token (see `ClusterNode::observe_token`); a dead daemon's module
//! released when its lease ran out, which started before the owner's last
//! token. So the fence must exceed the self fence, and the lease plus a
//! tick, with margins for scheduling and flight; neither the token-loss
//! timeout nor the time the ring took to form again is waited for.

use std::collections::BTreeSet;

use ringgate_ring::node::Priority;

use super::{ClusterNode, ModuleAction, Output};
use crate::message::Message;
use crate::model::{Micros, Vip};
use crate::state::Holding;

impl ClusterNode {
    /// Brings outputs up to date with the state after an input.
    pub(super) fn after_change(&mut self, now: Micros) {
        self.last_now = self.last_now.max(now);
        self.check_self_fence(now);
        if self.agreed_seen.map(|(agreed, _)| agreed) != Some(self.state.agreed_now) {
            self.agreed_seen = Some((self.state.agreed_now, self.last_now));
        }
        for m in self.state.take_moves() {
            self.outputs.push_back(Output::Moved(m));
        }
        if !self.awaiting_snapshot && self.applied_config != Some(self.state.config.version) {
            self.applied_config = Some(self.state.config.version);
            self.outputs
                .push_back(Output::Module(ModuleAction::ApplyConfig(
                    self.state.config.clone(),
                )));
        }
        if !self.awaiting_snapshot && self.applied_down != self.state.down {
            let before = std::mem::replace(&mut self.applied_down, self.state.down.clone());
            for backend in before.symmetric_difference(&self.state.down) {
                let up = !self.state.down.contains(backend);
                self.outputs
                    .push_back(Output::Module(ModuleAction::SetBackend {
                        backend: *backend,
                        up,
                    }));
            }
        }
        self.reconcile(now);
    }

    /// Whether this node may serve at all right now.
    /// (The self fence's latch is set by `check_self_fence` before this is
    /// asked.)
    fn may_serve(&self) -> bool {
        let ring_ok = !self.self_fenced;
        !self.fresh && !self.awaiting_snapshot && self.state.quorate && ring_ok
    }

    /// The VIPs the module should hold now.
    fn desired(&mut self, now: Micros) -> BTreeSet<Vip> {
        let mut desired = BTreeSet::new();
        if !self.may_serve() {
            return desired;
        }
        let fence = self.state.config.settings.takeover_fence_us;
        let mut live_fences = BTreeSet::new();
        for (vip, record) in &self.state.vips {
            let Holding::Owned { node, fenced } = record.holding else {
                continue;
            };
            if node != self.me {
                continue;
            }
            if !fenced || self.held.contains(vip) {
                desired.insert(*vip);
                continue;
            }
            let key = (*vip, record.epoch);
            live_fences.insert(key);
            let base = self.fence_base.unwrap_or(now).min(now);
            let until = *self
                .fence_until
                .entry(key)
                .or_insert(base.saturating_add(fence));
            if now >= until {
                desired.insert(*vip);
            }
        }
        self.fence_until
            .retain(|k, until| live_fences.contains(k) && now < *until);
        desired
    }

    fn reconcile(&mut self, now: Micros) {
        let desired = self.desired(now);
        let releases: Vec<Vip> = self.held.difference(&desired).copied().collect();
        for vip in releases {
            self.held.remove(&vip);
            self.outputs
                .push_back(Output::Module(ModuleAction::ReleaseVip(vip)));
        }
        let handed: Vec<(Vip, u64)> = self
            .state
            .vips
            .iter()
            .filter(|(_, r)| matches!(r.holding, Holding::Handoff { from, .. } if from == self.me))
            .map(|(v, r)| (*v, r.epoch))
            .collect();
        for (vip, epoch) in handed {
            if self.released_sent.insert((vip, epoch)) {
                self.broadcast(Priority::Control, Message::Released { vip, epoch });
            }
        }
        let takes: Vec<Vip> = desired.difference(&self.held).copied().collect();
        for vip in takes {
            self.held.insert(vip);
            self.outputs
                .push_back(Output::Module(ModuleAction::TakeVip(vip)));
        }
    }
}
