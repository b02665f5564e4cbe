//! Whether this node's module holds the cluster's session table: since the
//! ring last changed, every other member's latest full announcement (see
//! `session_sync`) was imported here whole. Until the cluster agrees that
//! it does, it gives this node no VIP: a VIP moved to a node without its
//! sessions would have its established connections reset there.
//!
//! Counting restarts at every membership change, because every member
//! announces everything again then, and a node that was cut off missed the
//! changes made meanwhile. Inputs carry the membership generation they
//! were delivered in, so a batch delivered before a change never counts
//! after it. A member whose announcement never completes (its daemon
//! cannot read its module, or this node keeps dropping its batches) would
//! keep this node out of every VIP for good: after `TABLE_WAIT` this node
//! stops waiting, and the daemon logs which tables it lacks.

use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant};

/// How long a node waits for its peers' tables before it says it holds
/// the table anyway. A table of the module's largest size (1,048,576
/// sessions, 27 MB on the ring) takes seconds.
pub const TABLE_WAIT: Duration = Duration::from_secs(30);

/// Where the wait stands.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TableState {
    /// Still missing the tables of these members.
    Waiting(Vec<u16>),
    /// Every member's table arrived.
    Held,
    /// `TABLE_WAIT` ran out without the tables of these members.
    GaveUp(Vec<u16>),
}

#[derive(Debug)]
pub struct TableWait {
    generation: u64,
    since: Instant,
    /// For each origin, the full announcement being received and how many
    /// of its batches were imported.
    receiving: BTreeMap<u16, (u32, u32)>,
    /// Origins whose whole table arrived in this generation.
    complete: BTreeSet<u16>,
    /// Set once the table was held (or the wait gave up) in this
    /// generation; it stays so until the next one.
    settled: Option<TableState>,
}

impl TableWait {
    pub fn new(now: Instant) -> TableWait {
        TableWait {
            generation: 0,
            since: now,
            receiving: BTreeMap::new(),
            complete: BTreeSet::new(),
            settled: None,
        }
    }

    /// The generation counted now.
    pub fn generation(&self) -> u64 {
        self.generation
    }

    /// When counting for this generation began.
    pub fn since(&self) -> Instant {
        self.since
    }

    /// Takes `generation` as current if it is newer (counting restarts);
    /// false for an input of an older one, which counts for nothing.
    fn current(&mut self, generation: u64, now: Instant) -> bool {
        if generation > self.generation {
            *self = TableWait::new(now);
            self.generation = generation;
        }
        generation == self.generation
    }

    /// The ring's membership changed: `generation` counts the changes.
    pub fn ring(&mut self, generation: u64, now: Instant) {
        self.current(generation, now);
    }

    /// A batch of `origin`'s full announcement `full`, delivered in
    /// `generation`, was imported.
    pub fn imported(&mut self, generation: u64, origin: u16, full: u32, now: Instant) {
        if !self.current(generation, now) {
            return;
        }
        let entry = self.receiving.entry(origin).or_insert((full, 0));
        if entry.0 != full {
            *entry = (full, 0);
        }
        entry.1 = entry.1.saturating_add(1);
    }

    /// `origin`'s full announcement `full`, of `batches` batches, ended
    /// (the marker was delivered in `generation`, after its batches).
    pub fn ended(&mut self, generation: u64, origin: u16, full: u32, batches: u16, now: Instant) {
        if !self.current(generation, now) {
            return;
        }
        let received = self.receiving.remove(&origin);
        if batches == 0 || received == Some((full, u32::from(batches))) {
            self.complete.insert(origin);
        }
    }

    /// Where the wait stands for `me` in a ring of `members`; once held or
    /// given up, it stays so for this generation.
    pub fn state(&mut self, me: u16, members: &[u16], now: Instant) -> TableState {
        if let Some(settled) = &self.settled {
            return settled.clone();
        }
        let missing: Vec<u16> = members
            .iter()
            .copied()
            .filter(|n| *n != me && !self.complete.contains(n))
            .collect();
        let state = if missing.is_empty() {
            TableState::Held
        } else if now.duration_since(self.since) >= TABLE_WAIT {
            TableState::GaveUp(missing)
        } else {
            return TableState::Waiting(missing);
        };
        self.settled = Some(state.clone());
        state
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn held_once_every_other_member_announced_everything() {
        let t0 = Instant::now();
        let mut wait = TableWait::new(t0);
        wait.ring(1, t0);
        assert_eq!(
            wait.state(3, &[1, 2, 3], t0),
            TableState::Waiting(vec![1, 2])
        );
        // Node 1: two batches, then the end marker.
        wait.imported(1, 1, 7, t0);
        wait.imported(1, 1, 7, t0);
        wait.ended(1, 1, 7, 2, t0);
        // Node 2 has no session: its marker alone.
        assert_eq!(wait.state(3, &[1, 2, 3], t0), TableState::Waiting(vec![2]));
        wait.ended(1, 2, 4, 0, t0);
        assert_eq!(wait.state(3, &[1, 2, 3], t0), TableState::Held);
    }

    #[test]
    fn a_missing_batch_leaves_the_announcement_incomplete() {
        let t0 = Instant::now();
        let mut wait = TableWait::new(t0);
        wait.ring(1, t0);
        // One of node 1's three batches was dropped here.
        wait.imported(1, 1, 7, t0);
        wait.imported(1, 1, 7, t0);
        wait.ended(1, 1, 7, 3, t0);
        assert_eq!(wait.state(2, &[1, 2], t0), TableState::Waiting(vec![1]));
        // Batches of an earlier announcement do not count for a later one.
        wait.imported(1, 1, 8, t0);
        wait.imported(1, 1, 9, t0);
        wait.ended(1, 1, 9, 2, t0);
        assert_eq!(wait.state(2, &[1, 2], t0), TableState::Waiting(vec![1]));
        // The next full announcement, whole: held.
        wait.imported(1, 1, 10, t0);
        wait.ended(1, 1, 10, 1, t0);
        assert_eq!(wait.state(2, &[1, 2], t0), TableState::Held);
    }

    #[test]
    fn a_membership_change_counts_again_and_older_inputs_count_for_nothing() {
        let t0 = Instant::now();
        let mut wait = TableWait::new(t0);
        wait.ring(1, t0);
        wait.imported(1, 1, 7, t0);
        // A new member, before node 1's marker.
        wait.ring(2, t0);
        wait.ended(1, 1, 7, 1, t0);
        assert_eq!(
            wait.state(2, &[1, 2, 3], t0),
            TableState::Waiting(vec![1, 3])
        );
        // A batch delivered after the change may reach the worker before
        // the change itself: it starts the new count.
        wait.imported(3, 1, 8, t0);
        wait.ended(3, 1, 8, 1, t0);
        wait.ended(3, 3, 1, 0, t0);
        wait.ring(3, t0);
        assert_eq!(wait.state(2, &[1, 2, 3], t0), TableState::Held);
        // Held stays held until the next change.
        wait.ended(3, 1, 9, 5, t0);
        assert_eq!(wait.state(2, &[1, 2, 3], t0), TableState::Held);
        wait.ring(4, t0);
        assert_eq!(wait.state(2, &[1, 2], t0), TableState::Waiting(vec![1]));
    }

    #[test]
    fn the_wait_gives_up_after_table_wait() {
        let t0 = Instant::now();
        let mut wait = TableWait::new(t0);
        wait.ring(1, t0);
        let later = t0 + TABLE_WAIT;
        assert_eq!(wait.state(2, &[1, 2], later), TableState::GaveUp(vec![1]));
        // Settled for this generation: a marker now changes nothing.
        wait.ended(1, 1, 3, 0, later);
        assert_eq!(wait.state(2, &[1, 2], later), TableState::GaveUp(vec![1]));
    }
}
