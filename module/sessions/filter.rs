// SPDX-License-Identifier: GPL-2.0

//! Which sessions a dump gives: every one, or only one node's, or only
//! those that changed lately.
//!
//! A daemon reads its module's table every 200 ms to announce what changed
//! to its peers. Whole, a table of a few thousand sessions took 67 ms a
//! read in the bench VM, on every node, for the few sessions that were new
//! or had moved on since the read before (most were closed connections
//! waiting out their timeout); and a node reads its peers' sessions too,
//! which it never announces. So a read can ask for one owner's sessions
//! that changed within the last so many milliseconds (`session-get`'s
//! `owner` and `changed-within-ms`): made, given a packet (which moves its
//! expiry, and maybe its stage, on), or given to that owner. A packet is a
//! change because the peers' copies live only as long as the expiry last
//! announced: a session refreshed after a quiet spell must reach them
//! again before that.

/// A dump's choice of sessions; the default takes every one.
#[derive(Clone, Copy, Default)]
pub(crate) struct DumpFilter {
    /// Only the sessions of this node.
    pub(crate) owner: Option<u16>,
    /// Only the sessions that changed in the last this many jiffies (at
    /// most `MAX_WITHIN`).
    pub(crate) changed_within: Option<u64>,
}

/// The longest window `changed_within` may name: half the range of an
/// entry's stamp, so that a stamp behind the clock is never taken for one
/// ahead of it. (The spec caps `changed-within-ms` far below it.)
const MAX_WITHIN: u64 = (u32::MAX / 2) as u64;

impl DumpFilter {
    /// Whether a session of `owner`, last changed at stamp `changed`, is
    /// in the dump at `now`. (Values, not the entry, so that the host
    /// tests can build this file alone.)
    pub(crate) fn passes(&self, owner: u16, changed: u32, now: u64) -> bool {
        self.owner.is_none_or(|wanted| owner == wanted)
            && self.changed_within.is_none_or(|within| {
                u64::from(stamp(now).wrapping_sub(changed)) <= within.min(MAX_WITHIN)
            })
    }
}

/// What an entry keeps of the jiffies at which it last changed: their low
/// 32 bits, four bytes in every entry of the table rather than eight. Seen
/// through `wrapping_sub`, a stamp stays right for 2^31 jiffies (24 days at
/// HZ=1000); an entry unchanged for longer may be taken for a changed one,
/// and a dump gives it once more, which costs a peer a merge.
pub(crate) fn stamp(now: u64) -> u32 {
    // Truncation is the point: the low bits are kept.
    now as u32
}

/// The later of two stamps, compared as serial numbers (RFC 1982): right
/// while they are less than 2^31 jiffies apart, whatever `now` is (a stamp
/// made while a resize runs may be later than the time the resize read).
pub(crate) fn later(a: u32, b: u32) -> u32 {
    // The difference read as signed: positive when `a` is after `b`.
    if a.wrapping_sub(b) as i32 > 0 {
        a
    } else {
        b
    }
}
