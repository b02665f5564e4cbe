//! Forming new rings.
//!
//! A node that loses the token, hears a Join from a member that left its
//! ring, or hears from a node outside its ring that could join it (see
//! `reach.rs`) starts to gather: it repeats a Join (whom it hears, whom it
//! fails, the last ring it installed) to every configured node and keeps
//! the latest Join of every forming node it hears. Once that set has not
//! changed for the settle time, the lowest node it has two-way contact
//! with is the representative: it commits a ring of the forming nodes that
//! name each other in their Joins (two ends of a one-way link never
//! together), numbered above every member's last ring, naming the
//! incarnation of each member that agreed; each member installs the ring
//! on receipt. Nodes that stopped repeating their Join are forgotten, and a
//! representative that never commits within the consensus timeout is
//! passed over.
//!
//! A new ring then recovers the old ones' messages (`recovery.rs`).

use std::collections::{BTreeMap, BTreeSet};

use super::reach::merge_could_hold;
use super::{Destination, Micros, Node, Phase};
use crate::wire::{Body, Join, NodeId, RingId, Token};

/// A Join heard in this round, when, and the sender's incarnation.
pub(super) struct Joined {
    join: Join,
    at: Micros,
    epoch: u64,
}

/// State while forming a ring.
pub(super) struct Gather {
    /// The latest Join of every forming node heard from in this round
    /// (merge probes of nodes in a ring are not: they accept no Commit).
    heard: BTreeMap<NodeId, Joined>,
    /// Nodes given up on as representative in this round: they agreed to
    /// nothing within the consensus timeout. They may still be members.
    passed_over: BTreeSet<NodeId>,
    /// When the set of nodes heard has been unchanged long enough to decide.
    pub(super) settle_at: Micros,
    /// When a node that is not the representative stops waiting for it.
    pub(super) consensus_at: Micros,
    pub(super) resend_at: Micros,
}

/// Whether two forming nodes hear each other both ways, by their latest
/// Joins. Their fail sets may rest on older Joins of the other (one sent
/// before it heard this one), so the proc sets, both current, decide.
fn mutual(a: NodeId, a_join: &Join, b: NodeId, b_join: &Join) -> bool {
    a_join.proc_set.contains(&b) && b_join.proc_set.contains(&a)
}

impl Gather {
    /// When this node next decides something: commits as representative,
    /// or gives up waiting for the representative.
    pub(super) fn decide_at(&self, me: NodeId) -> Micros {
        if self.representative(me) == me {
            self.settle_at
        } else {
            self.consensus_at
        }
    }

    /// The nodes heard whose latest Join says they hear this node: those
    /// this node has two-way contact with.
    fn connected(&self, me: NodeId) -> impl Iterator<Item = (NodeId, &Join)> {
        self.heard
            .iter()
            .filter(move |(_, j)| j.join.proc_set.contains(&me))
            .map(|(n, j)| (*n, &j.join))
    }

    /// Who is expected to commit the ring: the lowest node this one has
    /// two-way contact with (or this one) that has not been passed over.
    fn representative(&self, me: NodeId) -> NodeId {
        self.connected(me)
            .map(|(n, _)| n)
            .chain([me])
            .filter(|n| !self.passed_over.contains(n))
            .min()
            .unwrap_or(me)
    }

    /// The ring this node would commit: itself and, in ascending order,
    /// every node it has two-way contact with that also has two-way contact
    /// with each one taken before (by their Joins). Nodes on the two ends of
    /// a one-way link are never both taken; with no such link, every node
    /// heard that hears this one is.
    fn members(&self, me: NodeId) -> Vec<NodeId> {
        let mut taken: Vec<(NodeId, &Join)> = Vec::new();
        for (node, join) in self.connected(me) {
            if taken.iter().all(|(m, j)| mutual(node, join, *m, j)) {
                taken.push((node, join));
            }
        }
        let mut members: Vec<NodeId> = taken.iter().map(|(n, _)| *n).chain([me]).collect();
        members.sort_unstable();
        members
    }

    /// Forgets nodes that stopped repeating their Join (they installed a
    /// ring elsewhere, or died): waiting for them, or naming them in a
    /// Commit, would only form a ring that never runs.
    fn forget_silent(&mut self, now: Micros, silence: Micros) {
        self.heard
            .retain(|_, j| j.at.saturating_add(silence) >= now);
    }
}

impl Node {
    /// Leaves the installed ring, keeping it for recovery if it was
    /// operational. A ring that failed during its own recovery holds nothing
    /// of value: the ring before it is still the one to recover.
    fn leave_ring(&mut self) {
        if let Some(ring) = self.ring.take() {
            if matches!(self.phase, Phase::Operational) {
                self.old = Some(ring);
            }
        }
        self.token_since = None;
        self.probe_at = None;
        self.recovery_queue.clear();
    }

    /// Starts forming a new ring: from now on the node repeats a Join that
    /// names every node it hears from, and the representative decides once
    /// that set has settled.
    pub(super) fn start_gather(&mut self, now: Micros) {
        self.leave_ring();
        let (settle, consensus) = (self.settle_us(), self.consensus_us());
        self.phase = Phase::Gather(Gather {
            heard: BTreeMap::new(),
            passed_over: BTreeSet::new(),
            settle_at: now + settle,
            consensus_at: now + settle + consensus,
            resend_at: now,
        });
        self.send_join(now);
        self.commit_if_complete(now);
    }

    /// Commits at once, without waiting for the set of nodes heard to settle,
    /// when it cannot grow: this node is the representative, it has heard
    /// every configured node, and each names it.
    fn commit_if_complete(&mut self, now: Micros) {
        let Phase::Gather(g) = &self.phase else {
            return;
        };
        let complete = g.representative(self.id) == self.id
            && g.heard.len() + 1 == self.universe.len()
            && g.members(self.id).len() == self.universe.len();
        if complete {
            self.commit(now);
        }
    }

    fn send_join(&mut self, now: Micros) {
        let Phase::Gather(g) = &mut self.phase else {
            return;
        };
        g.resend_at = now + self.config.join_interval_us;
        let join = self.my_join(now);
        let ring = self.ring();
        self.send(ring, Destination::AllOthers, Body::Join(join));
    }

    /// The Join this node states now: whom it hears, whom it has no
    /// two-way contact with, and its last ring.
    fn my_join(&self, now: Micros) -> Join {
        let (proc_set, fail_set) = self.reach.view(
            self.id,
            self.members(),
            &self.universe,
            now,
            self.reach_horizon(),
        );
        Join {
            proc_set,
            fail_set,
            ring_seq: self.installed_seq,
            members: self.members().to_vec(),
        }
    }

    /// How long a forming node may stay silent before it is forgotten: the
    /// consensus timeout, and at least three Join intervals, so a lost Join
    /// or two forgets nobody.
    fn silence_us(&self) -> Micros {
        self.consensus_us().max(3 * self.config.join_interval_us)
    }

    /// The settle time, longer while hosts are slow (see `pace`): a Join
    /// that waits for its sender to be scheduled must not look like a
    /// node that is gone.
    fn settle_us(&self) -> Micros {
        self.config.gather_settle_us + self.pace.exchange_slack()
    }

    /// The consensus timeout, longer while hosts are slow (see `pace`).
    fn consensus_us(&self) -> Micros {
        self.config.consensus_us + self.pace.exchange_slack()
    }

    /// How long a node's Join counts as heard: a few merge probe intervals,
    /// so a lost probe or two changes nobody's view.
    fn reach_horizon(&self) -> Micros {
        3 * self
            .config
            .merge_probe_us
            .max(self.config.gather_settle_us + self.config.consensus_us)
    }

    pub(super) fn gather_timeout(&mut self, now: Micros) {
        let me = self.id;
        let (silence, consensus) = (self.silence_us(), self.consensus_us());
        let Phase::Gather(g) = &mut self.phase else {
            return;
        };
        if now >= g.settle_at {
            g.forget_silent(now, silence);
            let rep = g.representative(me);
            if rep == me {
                self.commit(now);
                return;
            }
            if now >= g.consensus_at {
                // The expected representative committed nothing that
                // reached this node: try the next one.
                g.passed_over.insert(rep);
                g.settle_at = now;
                g.consensus_at = now + consensus;
                if g.representative(me) == me {
                    self.commit(now);
                    return;
                }
            }
        }
        let Phase::Gather(g) = &mut self.phase else {
            return;
        };
        if now >= g.resend_at {
            self.send_join(now);
        }
    }

    pub(super) fn receive_join(
        &mut self,
        from: NodeId,
        sender_ring: RingId,
        epoch: u64,
        join: Join,
        now: Micros,
    ) {
        self.reach.record(from, &join, now);
        if let Some(ring) = &self.ring {
            if ring.members.contains(&from) {
                if join.ring_seq < ring.id.seq {
                    // Sent before this ring formed (a member that restarted
                    // shows up as token loss instead).
                    return;
                }
                // A member left this ring.
                self.start_gather(now);
            } else if !join.proc_set.contains(&self.id) {
                // A node outside the ring that does not hear this one: no
                // ring could hold both yet. Tell it at once that this node
                // hears it; if it hears that, its next Join names this node.
                self.stats.merges_declined += 1;
                let probe = self.my_join(now);
                let ring = self.ring();
                self.send(ring, Destination::Node(from), Body::Join(probe));
                return;
            } else {
                let members = ring.members.clone();
                let mine = self.my_join(now);
                if !merge_could_hold(&members, &mine, from, &join) {
                    // A new formation would leave someone out again: the
                    // ring stays as it is until reachability changes.
                    self.stats.merges_declined += 1;
                    return;
                }
                // A node outside the ring wants in, and all could hear
                // each other.
                self.start_gather(now);
            }
        }
        // A merge probe tells who hears whom; only forming nodes take part
        // in forming (a node in a ring accepts no Commit).
        if sender_ring.rep != 0 {
            return;
        }
        let (settle, consensus) = (self.settle_us(), self.consensus_us());
        let Phase::Gather(g) = &mut self.phase else {
            return;
        };
        let new = g
            .heard
            .insert(
                from,
                Joined {
                    join,
                    at: now,
                    epoch,
                },
            )
            .is_none();
        if new {
            // One more node to wait for: let the set settle again, and tell
            // the newcomer at once that this node hears it.
            g.settle_at = now + settle;
            g.consensus_at = g.settle_at + consensus;
            self.send_join(now);
        }
        self.commit_if_complete(now);
    }

    /// As representative: installs the ring of the forming nodes heard that
    /// hear each other both ways, and tells them.
    fn commit(&mut self, now: Micros) {
        let silence = self.silence_us();
        let Phase::Gather(g) = &mut self.phase else {
            return;
        };
        g.forget_silent(now, silence);
        let members = g.members(self.id);
        let epochs = members
            .iter()
            .map(|m| g.heard.get(m).map_or(self.epoch, |j| j.epoch))
            .collect();
        let seq = members
            .iter()
            .filter_map(|m| g.heard.get(m))
            .map(|j| j.join.ring_seq)
            .fold(self.installed_seq, u64::max);
        // Ring numbers come from the wire; a number at the top of the range
        // (only a key holder could send one) must not wrap around.
        let id = RingId {
            seq: seq.saturating_add(1),
            rep: self.id,
            epoch: self.epoch,
        };
        self.install(id, members, epochs, now);
    }

    pub(super) fn receive_commit(
        &mut self,
        from: NodeId,
        id: RingId,
        members: Vec<NodeId>,
        epochs: Vec<u64>,
        now: Micros,
    ) {
        if self.ring.as_ref().is_some_and(|r| r.id == id) {
            return; // A repeat of the Commit of the installed ring.
        }
        // Only a forming node accepts a ring: one that is in a ring already
        // would break it, and the new ring's token loss brings its members
        // back to forming, with this node among those they hear.
        let valid = matches!(self.phase, Phase::Gather(_))
            && id.seq > self.installed_seq
            && members.first() == Some(&id.rep)
            && members.contains(&self.id)
            && members.contains(&from)
            && members.iter().all(|m| self.universe.contains(m))
            // This process agreed to the ring, not an earlier one of this
            // node (whose Commit a member may still be repeating).
            && members
                .iter()
                .position(|m| *m == self.id)
                .and_then(|i| epochs.get(i))
                == Some(&self.epoch);
        if !valid {
            self.stats.other_ring += 1;
            return;
        }
        self.install(id, members, epochs, now);
    }

    /// Installs a new ring and starts recovering the previous one.
    fn install(&mut self, id: RingId, members: Vec<NodeId>, epochs: Vec<u64>, now: Micros) {
        self.leave_ring();
        self.installed_seq = id.seq;
        self.stats.rings_installed += 1;
        let recovery = self.queue_recovery();
        self.ring = Some(super::RingState::new(
            id,
            members.clone(),
            epochs.clone(),
            self.id,
        ));
        self.phase = Phase::Recovery(recovery);
        let first_token = Token {
            token_seq: 1,
            ..Token::default()
        };
        if members.len() == 1 {
            // Alone, this node already holds all that survived.
            self.recovery_queue.clear();
            self.finish_recovery(now);
            self.visit(first_token, now);
            return;
        }
        self.token_since = Some(now);
        self.last_token = Some(now);
        if id.rep == self.id {
            let me = self.id;
            for member in members.iter().filter(|m| **m != me) {
                let body = Body::Commit {
                    members: members.clone(),
                    epochs: epochs.clone(),
                };
                self.send(id, Destination::Node(*member), body);
            }
            if let Some(ring) = self.ring.as_mut() {
                ring.last_token_seq = 1;
            }
            self.visit(first_token, now);
        }
    }

    /// Each member of a ring that lacks configured nodes asks them, now and
    /// then, to merge: after a partition heals or a node restarts, this is
    /// what brings the rings together. The probe states whom this node
    /// hears, so the others can tell whether a merge could hold them all.
    pub(super) fn probe_timeout(&mut self, now: Micros) {
        if self.probe_at.is_none_or(|at| now < at) {
            return;
        }
        self.probe_at = Some(now + self.config.merge_probe_us);
        let members = self.members().to_vec();
        let probe = self.my_join(now);
        let ring = self.ring();
        for node in self.universe.clone() {
            if !members.contains(&node) {
                self.send(ring, Destination::Node(node), Body::Join(probe.clone()));
            }
        }
    }
}
