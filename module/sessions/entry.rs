// SPDX-License-Identifier: GPL-2.0

//! One of the two entries a session is stored as, and what a packet of one
//! entry hands on to the other.

use super::{Clock, FlowKey, Hit, LoadRef, Rewrite, Stage, WAYS};
use crate::placement::{self, Occupant};
use crate::tcp::Direction;

/// A session as one direction's packets find it: the flow they carry, how
/// to rewrite them, and the session's state as this direction keeps it.
#[derive(Clone, Copy, Default)]
pub(super) struct Entry {
    pub(super) key: FlowKey,
    /// Jiffies at which the entry dies; 0: never used.
    pub(super) expires: u64,
    pub(super) stage: Stage,
    pub(super) rewrite: Rewrite,
    /// The node that owns the session.
    pub(super) owner: u16,
    /// The back-end slot the session is counted under (in both entries;
    /// only the client-side one holds the count).
    pub(super) load: LoadRef,
    /// `FIN_SENT`: this entry's direction sent a FIN; `FIN_PEER`: the other
    /// direction did. A connection with only one is half-closed: the other
    /// side may still be sending.
    pub(super) fins: u8,
    /// Jiffies at which this entry last extended its partner's expiry (see
    /// `SessionTable::touch`).
    pub(super) pushed: u64,
    /// TCP: what this direction's segments said (see `tcp`).
    pub(super) tcp: Direction,
    /// A connection a host behind the cluster opened to the outside (see
    /// `snat`), in both entries: its opener is the side whose packets get
    /// a new source, not the client of a service.
    pub(super) outbound: bool,
    /// When the session was made, last given a packet of this direction (or
    /// a push from the other) or another owner (see `filter::stamp`): what
    /// a dump of recent changes goes by.
    pub(super) changed: u32,
}

/// `Entry::fins`: this entry's direction sent a FIN.
pub(super) const FIN_SENT: u8 = 1;
/// `Entry::fins`: the other direction sent a FIN.
pub(super) const FIN_PEER: u8 = 2;

impl Entry {
    pub(super) fn live(&self, now: u64) -> bool {
        placement::live(self.expires, now)
    }

    /// Whether a full bucket may give this entry's place to a new session.
    /// A handshake not completed, a reset connection, or one both sides
    /// closed: never a connection that may still carry data, half-closed
    /// ones included (an upload ends with the client's FIN and waits for
    /// the answer).
    pub(super) fn evictable(&self) -> bool {
        match self.stage {
            Stage::Syn | Stage::Reset => true,
            Stage::Closing => self.fins == FIN_SENT | FIN_PEER,
            Stage::Udp | Stage::Established => false,
        }
    }

    /// How a packet of this entry's flow is rewritten, and where its
    /// session's traffic counts.
    pub(super) fn hit(&self) -> Hit {
        Hit {
            rewrite: self.rewrite,
            load: self.load,
            owner: self.owner,
        }
    }

    /// Whether this is the client-side entry (which holds the count).
    pub(super) fn counted(&self) -> bool {
        !self.rewrite.source
    }

    /// Whether this entry's packets come from the side that opened the
    /// connection, which TCP tracking calls the client: the client of a
    /// service (the entry that rewrites the destination), or the host
    /// behind the cluster of an outbound connection (the one that rewrites
    /// the source).
    pub(super) fn opener(&self) -> bool {
        self.counted() != self.outbound
    }

    /// Whether this is the entry of `key` in the session whose other entry
    /// is `partner`: keys alone do not pair entries (see `revivable`).
    pub(super) fn pairs(&self, key: &FlowKey, partner: &FlowKey) -> bool {
        self.key == *key && self.partner() == *partner
    }

    /// Whether this is a back-end-side entry (it holds no count) that has
    /// been expired for `grace` ticks or more: one the sweep frees once
    /// its partner is gone.
    pub(super) fn orphan_candidate(&self, now: u64, grace: u64) -> bool {
        !self.counted() && self.expires != 0 && self.expires.saturating_add(grace) <= now
    }

    /// The key of the session's other entry: the answer to a packet of
    /// this flow as translated (client -> VIP goes to the back-end, which
    /// answers back-end -> client; back-end -> client leaves as VIP ->
    /// client, answered client -> VIP).
    pub(super) fn partner(&self) -> FlowKey {
        self.rewrite.applied_to(&self.key).reversed()
    }
}

impl Occupant for Entry {
    fn expires(&self) -> u64 {
        self.expires
    }

    fn evictable(&self) -> bool {
        Entry::evictable(self)
    }

    fn counted(&self) -> bool {
        Entry::counted(self)
    }
}

/// What a packet of one entry hands on to its session's other entry.
pub(super) struct Push {
    pub(super) partner: FlowKey,
    pub(super) stage: Stage,
    pub(super) first_fin: bool,
    /// The back-end's SYN-ACK passed just now: the acknowledgement of it
    /// that completes the handshake.
    pub(super) synack: Option<u32>,
    /// The other entry lives at least until then.
    pub(super) expires: u64,
}

/// How often (jiffies) a flow's packets extend its other entry's expiry: an
/// eighth of the timeout, so a session outlives its last packet by at most
/// that much more than its timeout.
pub(super) fn push_interval(timeout_secs: u64, clock: Clock) -> u64 {
    (clock.ticks(timeout_secs) / 8).max(1)
}

/// A bucket of the table: `WAYS` entries.
pub(super) type Bucket = [Entry; WAYS];

/// Where in `bucket` the entry of `key` is that a packet of its session's
/// other direction (the entry of `from`) may keep alive: the live one, or
/// else one that expired but still holds the session (its place not reused
/// and, for a client-side entry, its count not released; expiry is checked
/// only at lookups, so an entry given a little less slack than its partner
/// can lapse first). An entry freed on purpose (its `expires` zeroed by a
/// purge, an eviction or its partner's end) is never revived: a push
/// computed before a purge must not bring the purged back-end's replies
/// back. (The sweep zeroes client-side entries as they expire, which it
/// must to release their counts, and back-end-side ones only once their
/// partner is gone, when nothing could revive them.) Either way it must
/// name `from` as its own partner: keys alone do not pair entries, since a
/// client reusing its port makes a new session whose client-side key is the
/// partner key of an old session's back-end-side entry still alive.
pub(super) fn revivable(bucket: &Bucket, key: &FlowKey, from: &FlowKey, now: u64) -> Option<usize> {
    let ours = |e: &Entry| e.pairs(key, from);
    bucket
        .iter()
        .position(|e| e.live(now) && ours(e))
        .or_else(|| bucket.iter().position(|e| ours(e) && e.expires != 0))
}
