//! Freshness: every datagram a node sends starts, inside the authenticated
//! part, with the node's incarnation epoch and a counter that grows with
//! every datagram. Receivers remember, per sender, the latest epoch and
//! which of the last `REPLAY_WINDOW` counters they took, and refuse a copy
//! of anything taken before or older than that: a captured packet replayed
//! later (a Join or Commit, which no ring id fences, or a merge probe)
//! changes nothing.
//!
//! The epoch is the node's incarnation number, which the caller makes grow
//! across restarts, so a restarted sender's packets supersede all of its
//! earlier ones. When a restart fails to make it grow (a lost state file
//! and a clock stepped back), the receiver cannot tell the new process from
//! a replay of the old one; `Verdict::OlderEpoch` tells the node so, and it
//! answers with a `StaleEpoch` notice (see `epoch_notice`) instead of
//! refusing silently forever.

use std::collections::BTreeMap;

use crate::limits::{FRESHNESS_LEN, REPLAY_WINDOW};
use crate::wire::NodeId;

/// Frames a packet as `Node` does before sealing it: epoch, counter, packet.
pub fn frame(epoch: u64, counter: u64, packet: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(FRESHNESS_LEN + packet.len());
    out.extend_from_slice(&epoch.to_be_bytes());
    out.extend_from_slice(&counter.to_be_bytes());
    out.extend_from_slice(packet);
    out
}

/// Splits an opened datagram into epoch, counter and packet bytes.
pub(super) fn unframe(bytes: &[u8]) -> Option<(u64, u64, &[u8])> {
    if bytes.len() < FRESHNESS_LEN {
        return None;
    }
    let (epoch, rest) = bytes.split_at(8);
    let (counter, packet) = rest.split_at(8);
    Some((
        u64::from_be_bytes(epoch.try_into().ok()?),
        u64::from_be_bytes(counter.try_into().ok()?),
        packet,
    ))
}

const WORDS: usize = (REPLAY_WINDOW / 64) as usize;

/// What a receiver remembers of one sender.
struct Seen {
    epoch: u64,
    highest: u64,
    /// Bit `c % REPLAY_WINDOW` is set when counter `c` (within the window
    /// below `highest`) was taken.
    taken: [u64; WORDS],
}

impl Seen {
    fn new(epoch: u64, counter: u64) -> Seen {
        let mut seen = Seen {
            epoch,
            highest: counter,
            taken: [0; WORDS],
        };
        seen.mark(counter);
        seen
    }

    fn bit(counter: u64) -> (usize, u64) {
        let slot = counter % REPLAY_WINDOW;
        ((slot / 64) as usize, 1 << (slot % 64))
    }

    fn mark(&mut self, counter: u64) {
        let (word, mask) = Seen::bit(counter);
        self.taken[word] |= mask;
    }

    fn is_marked(&self, counter: u64) -> bool {
        let (word, mask) = Seen::bit(counter);
        self.taken[word] & mask != 0
    }
}

/// What the guard makes of a datagram.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Verdict {
    /// Not seen before: take it.
    Fresh,
    /// A copy of a datagram taken before, or older than the window.
    Replayed,
    /// Of an epoch below `seen`, the sender's latest: a replay of an earlier
    /// process, or a process restarted with an epoch that did not grow.
    OlderEpoch { seen: u64 },
}

/// Per-sender replay windows.
#[derive(Default)]
pub(super) struct ReplayGuard {
    senders: BTreeMap<NodeId, Seen>,
}

impl ReplayGuard {
    /// Whether a datagram from `sender` is fresh; records it if so. Call only
    /// for authenticated datagrams of configured senders.
    pub(super) fn take(&mut self, sender: NodeId, epoch: u64, counter: u64) -> Verdict {
        let Some(seen) = self.senders.get_mut(&sender) else {
            self.senders.insert(sender, Seen::new(epoch, counter));
            return Verdict::Fresh;
        };
        if epoch != seen.epoch {
            // A restarted sender starts a new epoch; an older one is a replay.
            if epoch < seen.epoch {
                return Verdict::OlderEpoch { seen: seen.epoch };
            }
            *seen = Seen::new(epoch, counter);
            return Verdict::Fresh;
        }
        if counter > seen.highest {
            // Forget the counters the window slides past.
            if counter - seen.highest >= REPLAY_WINDOW {
                seen.taken = [0; WORDS];
            } else {
                for c in seen.highest + 1..counter {
                    let (word, mask) = Seen::bit(c);
                    seen.taken[word] &= !mask;
                }
            }
            seen.highest = counter;
            seen.mark(counter);
            return Verdict::Fresh;
        }
        if seen.highest - counter >= REPLAY_WINDOW || seen.is_marked(counter) {
            return Verdict::Replayed;
        }
        seen.mark(counter);
        Verdict::Fresh
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn copies_old_counters_and_old_epochs_are_refused() {
        let mut guard = ReplayGuard::default();
        let fresh = |v: Verdict| v == Verdict::Fresh;
        assert!(fresh(guard.take(1, 5, 10)));
        assert_eq!(guard.take(1, 5, 10), Verdict::Replayed, "a copy");
        assert!(fresh(guard.take(1, 5, 8)), "late but new");
        assert_eq!(guard.take(1, 5, 8), Verdict::Replayed);
        assert!(fresh(guard.take(1, 5, 10 + REPLAY_WINDOW - 1)));
        assert_eq!(
            guard.take(1, 5, 9),
            Verdict::Replayed,
            "older than the window"
        );
        assert!(fresh(guard.take(1, 5, 11 + REPLAY_WINDOW)), "slid past 11");
        assert!(fresh(guard.take(2, 5, 10)), "senders are apart");
        assert_eq!(
            guard.take(1, 4, 1_000_000),
            Verdict::OlderEpoch { seen: 5 },
            "an older epoch"
        );
        assert!(fresh(guard.take(1, 6, 0)), "a restart");
        assert_eq!(guard.take(1, 5, 1_000_000), Verdict::OlderEpoch { seen: 6 });
        assert!(fresh(guard.take(1, 6, 3 * REPLAY_WINDOW)));
        assert!(fresh(guard.take(1, 6, 3 * REPLAY_WINDOW - 1)));
    }

    #[test]
    fn frames_round_trip() {
        let framed = frame(7, 9, b"packet");
        assert_eq!(unframe(&framed), Some((7, 9, &b"packet"[..])));
        assert_eq!(unframe(&framed[..FRESHNESS_LEN - 1]), None);
    }
}
