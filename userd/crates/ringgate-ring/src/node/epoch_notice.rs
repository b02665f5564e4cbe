//! Stale epochs: what happens when a node restarts with an epoch lower than
//! the one its peers last took from it.
//!
//! That is what a node does when it loses its state file and its clock was
//! stepped back (ringgated then seeds the epoch from the clock). Its peers'
//! replay guards cannot tell its datagrams from replays of its earlier
//! process, and they must keep refusing them: taking them would let anyone
//! who captured the earlier process's Joins replay them. But a refusal that
//! nobody hears locks the node out of the cluster forever.
//!
//! So a refusal is answered. A node that refuses a datagram for its older
//! epoch sends the sender, at most once per `join_interval_us` and sender,
//! an authenticated `StaleEpoch { refused, seen }` notice, and counts the
//! refusal (`Stats::stale_epochs`) for operators. A node that receives a
//! notice naming its own current epoch as refused takes an epoch above
//! `seen` and forms a new ring under it; its peers take that epoch as a
//! restart.
//!
//! Why this keeps replay protection: the notice is sealed with the cluster
//! key, so only a member can send one, and the refusal itself is unchanged,
//! so a replayed datagram still changes nothing at its receiver. A replayed
//! or forged-by-member notice can only make a node raise its epoch, which
//! is always allowed (epochs need only grow), and only when the notice
//! names the node's current epoch as refused: a notice about an earlier
//! process's epoch is ignored, so replaying old datagrams at a peer (which
//! then sends notices about their old epoch) does not disturb the live
//! node. The rate limit keeps such a replay flood from turning a peer into
//! an amplifier.
//!
//! The alternatives were weaker. Refusing loudly but forever leaves the
//! operator to notice and fix a node by hand; having the daemon refuse to
//! start without its state file cannot know what epoch the peers saw.

use std::collections::BTreeMap;

use super::{Destination, Micros, Node};
use crate::wire::{Body, NodeId, RingId};

/// When this node last told each sender that its epoch is stale.
#[derive(Default)]
pub(super) struct NoticeLimiter {
    last: BTreeMap<NodeId, Micros>,
}

impl Node {
    /// Counts a datagram refused because its epoch is below `seen`, and
    /// tells its sender, unless it was told within the last join interval.
    pub(super) fn refuse_older_epoch(
        &mut self,
        sender: NodeId,
        refused: u64,
        seen: u64,
        now: Micros,
    ) {
        self.stats.stale_epochs += 1;
        let due = self
            .notices
            .last
            .get(&sender)
            .is_none_or(|at| now >= at.saturating_add(self.config.join_interval_us));
        if !due {
            return;
        }
        self.notices.last.insert(sender, now);
        self.stats.stale_epoch_notices += 1;
        self.send(
            RingId::default(),
            Destination::Node(sender),
            Body::StaleEpoch { refused, seen },
        );
    }

    /// A peer refuses datagrams of epoch `refused` from this node, having
    /// taken epoch `seen` from it before. If `refused` is this process's
    /// epoch, this process restarted below its predecessor: it moves above
    /// `seen` and forms a ring again, since any ring it is in named the
    /// old epoch for it.
    pub(super) fn receive_stale_epoch(&mut self, refused: u64, seen: u64, now: Micros) {
        if refused != self.epoch || seen < self.epoch {
            return;
        }
        let Some(raised) = seen.checked_add(1) else {
            return;
        };
        self.epoch = raised;
        self.stats.epoch_raises += 1;
        self.start_gather(now);
    }
}
