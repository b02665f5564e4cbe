// SPDX-License-Identifier: GPL-2.0

//! Where the session table puts a new entry: which of the `WAYS` places of
//! its two buckets it takes, or which session it evicts, or that there is
//! no room. Pure logic with no kernel dependency, so host unit tests
//! (`module/host-tests`) check the choice over bucket arrays directly; the
//! table (`sessions`) makes it with both buckets locked.
//!
//! - A free place (never used, or expired) goes first, in whichever bucket
//!   has more of them: the two choices keep buckets even ("the power of two
//!   choices"). On a tie the first bucket, which lookups try first, so most
//!   lookups take one lock.
//! - With no free place (or the table at its session limit), a session in
//!   use that carries no traffic any more is evicted, the one nearest its
//!   expiry first, as conntrack's early drop does. At the limit an expired
//!   session the sweep has not released yet counts as in use (it holds its
//!   back-end count) and goes first: its expiry is the earliest.
//! - Otherwise the new entry is refused.

/// Entries per bucket.
pub(crate) const WAYS: usize = 8;

/// What the choice needs to know of an entry already in a bucket.
pub(crate) trait Occupant {
    /// The tick at which the entry dies; 0: never used.
    fn expires(&self) -> u64;
    /// Whether its session may give its place to a new one while live (a
    /// TCP handshake not completed, a reset, or closed by both sides).
    fn evictable(&self) -> bool;
    /// Whether it holds its session's count (the client-side entry), which
    /// only the sweep or an eviction releases.
    fn counted(&self) -> bool;
}

/// Whether an entry that dies at `expires` is still alive at tick `now`.
pub(crate) fn live(expires: u64, now: u64) -> bool {
    expires > now
}

/// Where a new entry goes; places are numbered `bucket * WAYS + way`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Place {
    /// A free place.
    Free(usize),
    /// The place of a session to evict (with its other entry).
    Evict(usize),
    /// No room: the new entry is refused.
    Full,
}

/// What the table knows when it places a new entry.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Placing {
    /// The tick now.
    pub(crate) now: u64,
    /// The table holds as many sessions as it may: a new session takes an
    /// evicted one's place or none.
    pub(crate) at_limit: bool,
    /// A new session may evict (a session moved from a table being replaced
    /// may not).
    pub(crate) may_evict: bool,
}

/// Chooses the place of a new entry in its `buckets` (the second `None`
/// when both hashes name the same bucket). `spared` names entries never to
/// evict (the other half of the session being created).
pub(crate) fn place<E: Occupant>(
    buckets: [Option<&[E; WAYS]>; 2],
    placing: Placing,
    spared: impl Fn(&E) -> bool,
) -> Place {
    let now = placing.now;
    let entries = || {
        buckets.iter().enumerate().flat_map(|(n, bucket)| {
            bucket
                .iter()
                .flat_map(|bucket| bucket.iter().enumerate())
                .map(move |(way, e)| (n * WAYS + way, e))
        })
    };
    if !placing.at_limit {
        let room = |n: usize| {
            entries()
                .filter(|(at, e)| at / WAYS == n && !live(e.expires(), now))
                .count()
        };
        let n = usize::from(room(1) > room(0));
        if let Some((at, _)) = entries().find(|(at, e)| at / WAYS == n && !live(e.expires(), now)) {
            return Place::Free(at);
        }
    }
    if !placing.may_evict {
        return Place::Full;
    }
    let victim = |e: &E| {
        e.expires() != 0
            && !spared(e)
            && if live(e.expires(), now) {
                e.evictable()
            } else {
                placing.at_limit && e.counted()
            }
    };
    entries()
        .filter(|(_, e)| victim(e))
        .min_by_key(|(_, e)| e.expires())
        .map_or(Place::Full, |(at, _)| Place::Evict(at))
}
