// SPDX-License-Identifier: GPL-2.0

//! The NAT session table of one namespace.
//!
//! A session is stored twice: under the flow as the client sends it
//! (rewrite the destination to the back-end) and under the flow as the
//! back-end answers (rewrite the source back to the VIP). Each copy lives in
//! one of two buckets of `WAYS` entries chosen by two keyed hashes of its
//! flow, whichever had more room when it was inserted; each bucket is
//! guarded by its own spinlock. So work per packet is at most two locks,
//! taken one after the other, and `2 * WAYS` comparisons. With one bucket
//! per flow, a bucket overflows long before the table is full (at a third
//! of its entries in use, about one table in ten had a full bucket); the
//! choice of the emptier of two keeps buckets even, as in "the power of two
//! choices". Expired entries are free for new sessions at once; a sweep in
//! process context (`sweep`) releases the back-end counts of the expired
//! ones nobody reused. When both of a new entry's buckets are full of live
//! entries, the one nearest expiry among those not carrying traffic (a TCP
//! handshake not completed, a connection reset or closed by both sides) is
//! evicted with its other entry and counted, as conntrack's early drop does,
//! so a flood of half-open connections cannot lock clients out. Established
//! and half-closed connections and UDP flows are never evicted: then the new
//! session is refused and counted.
//!
//! The client-side entry of a session carries its count in the back-end's
//! `Load`: the session is counted from `create` until its entry is freed
//! (expired and swept or reused, purged), as active until either side
//! starts closing. Stage changes (rare: a handful per connection) are copied
//! to the session's other entry, so a reset from the back-end ends the
//! client-side entry too.

use core::sync::atomic::{AtomicU64, Ordering};

use kernel::alloc::KVVec;
use kernel::prelude::*;
use kernel::sync::Arc;

use crate::clock::Clock;
pub(crate) use crate::flow::{FlowKey, Rewrite};
use crate::glue::LockedBuckets;
use crate::load::{BackendLoads, LoadRef};
use crate::occupancy::{self, Occupancy};
pub(crate) use crate::placement::WAYS;
use crate::placement::{self, Place, Placing};
use crate::services::{Pick, TCP};
use crate::snat::Snat;
pub(crate) use crate::stage::{Stage, Timeouts};
use crate::tcp::{self, Direction, Maker, Segment};
use crate::traffic::{SlotTraffic, Traffic, Way};

mod entry;
mod filter;

use entry::{push_interval, revivable, Bucket, Entry, Push, FIN_PEER, FIN_SENT};
pub(crate) use filter::DumpFilter;

/// Sessions the table is sized for (each takes two entries).
pub(crate) const DEFAULT_MAX_SESSIONS: usize = 16384;
/// Entries the table has beyond two per session, in quarters: a quarter
/// more keeps a full table's refusals rare (a simulation of this table's
/// placement filling 1,024 sessions into 320 buckets refused 0.4 on
/// average).
const HEADROOM_QUARTERS: usize = 5;

/// One live session as the dump shows it (network byte order).
#[derive(Clone, Copy, Default, Debug)]
pub(crate) struct SessionView {
    pub(crate) client: FlowKey,
    pub(crate) backend_addr: u32,
    pub(crate) backend_port: u16,
    pub(crate) stage: Stage,
    pub(crate) expires_ms: u32,
    pub(crate) owner: u16,
    /// An outbound connection (see `snat`): `client` is the remote end's
    /// flow to the translated source, `backend_*` the host behind.
    pub(crate) outbound: bool,
}

/// A hash of `key` under `seed`: which bucket a flow goes to, and which
/// port an outbound connection tries first.
fn keyed_hash(seed: u64, key: &FlowKey) -> u64 {
    let mut h = seed ^ u64::from(key.proto);
    for word in [
        u64::from(key.saddr),
        u64::from(key.daddr),
        (u64::from(key.sport) << 16) | u64::from(key.dport),
    ] {
        h = (h ^ word).wrapping_mul(0x9E37_79B9_7F4A_7C15);
        h ^= h >> 29;
    }
    // A final mix, so the two seeds' hashes differ in every bit.
    h = (h ^ (h >> 32)).wrapping_mul(0xD6E8_FEB8_6659_FD93);
    h ^ (h >> 32)
}

/// The two entries of a session a packet of flow `key` opens: its own
/// (translated by `rewrite`, its TCP direction the opener's) and the one of
/// the answer, which puts back what `rewrite` changed. Both in the first
/// stage, counted under `load` (by whichever of them is the counted one).
#[allow(clippy::too_many_arguments)]
fn opening(
    key: FlowKey,
    rewrite: Rewrite,
    load: LoadRef,
    owner: u16,
    outbound: bool,
    first: &Segment,
    timeouts: &Timeouts,
    clock: Clock,
) -> (Entry, Entry) {
    let stage = Stage::first(key.proto == TCP);
    let opened = Entry {
        key,
        expires: clock.after_secs(timeouts.secs(stage)),
        stage,
        rewrite,
        owner,
        load,
        fins: 0,
        pushed: clock.now,
        tcp: Direction::client(first),
        outbound,
        changed: filter::stamp(clock.now),
    };
    let (addr, port) = if rewrite.source {
        (key.saddr, key.sport)
    } else {
        (key.daddr, key.dport)
    };
    let answer = Entry {
        key: opened.partner(),
        rewrite: Rewrite {
            source: !rewrite.source,
            addr,
            port,
        },
        tcp: Direction::backend(first),
        ..opened
    };
    (opened, answer)
}

/// A new entry's two buckets, both locked (the second `None` when both
/// hashes name the same bucket). Their entries are numbered
/// `bucket * WAYS + way`.
struct Pair<'a>([Option<&'a mut Bucket>; 2]);

impl Pair<'_> {
    fn entries(&self) -> impl Iterator<Item = (usize, &Entry)> {
        self.0.iter().enumerate().flat_map(|(n, bucket)| {
            bucket
                .iter()
                .flat_map(move |bucket| bucket.iter().enumerate())
                .map(move |(way, e)| (n * WAYS + way, e))
        })
    }

    fn at(&mut self, at: usize) -> Option<&mut Entry> {
        self.0
            .get_mut(at / WAYS)?
            .as_deref_mut()?
            .get_mut(at % WAYS)
    }
}

pub(crate) struct SessionTable {
    buckets: LockedBuckets<Bucket>,
    /// Which buckets may hold an entry, so that scans of the whole table
    /// skip the empty ones without locking them.
    occupied: Occupancy<KVVec<AtomicU64>>,
    /// The most sessions the table takes; its buckets have room for more,
    /// so that where flows hash rarely decides.
    max_sessions: u64,
    generation: u32,
    seed: u64,
    /// Client-side entries in use: the live sessions, plus expired ones the
    /// sweep has not freed yet (it passes every second). Kept so that
    /// `status-get` need not lock every bucket to count.
    held: AtomicU64,
    dropped: AtomicU64,
    evicted: AtomicU64,
    loads: BackendLoads,
    /// What each back-end slot carried, shared with the tables this one
    /// replaced and will be replaced by; none in the placeholder table of a
    /// namespace without NAT, which never sees a session.
    traffic: Option<Arc<Traffic>>,
}

/// A session as a packet of one direction finds it: how to rewrite the
/// packet, and the back-end slot the session's traffic counts under.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) struct Hit {
    pub(crate) rewrite: Rewrite,
    pub(crate) load: LoadRef,
    /// The node that owns the session (see `peers`).
    pub(crate) owner: u16,
}

/// What `insert_one` did.
enum Inserted {
    /// A live entry of the flow was there already.
    Found(Hit),
    /// The entry is in, perhaps in the place of an evicted session.
    New { evicted_partner: Option<Evicted> },
}

/// A session whose client- or back-end-side entry `victim` gave its place
/// to a new one: its other entry, `partner`, is still to be removed.
struct Evicted {
    partner: FlowKey,
    victim: FlowKey,
    /// Whether it was still live (not an expired one freed early).
    live: bool,
}

/// How `insert_one` treats an entry of the same flow already there.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Insert {
    /// A new session: the first CPU to create it wins; when both its
    /// buckets are full, it may evict.
    Create,
    /// A session moved from a table being replaced: merged into the copy
    /// moved before; nothing is evicted.
    Move,
    /// A session another node created: merged into the copy here if that
    /// has the same translation, and then owned by the given node; nothing
    /// is evicted.
    Import,
}

/// Why a new session was not created.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Refused {
    Full,
    /// The table holds one of the session's flows for another translation.
    Conflict,
}

/// A session another node created, as `session-import` gives it.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Imported {
    /// The client's flow to the VIP (network byte order).
    pub(crate) client: FlowKey,
    /// The back-end's address and port (network byte order).
    pub(crate) backend_addr: u32,
    pub(crate) backend_port: u16,
    pub(crate) stage: Stage,
    /// Jiffies at which it expires unless a packet refreshes it.
    pub(crate) expires: u64,
    pub(crate) owner: u16,
    /// Made here from one segment met mid-stream, sent by that end, not
    /// told by a peer (see `tcp::Direction::picked_up_blind`).
    pub(crate) blind: Option<Maker>,
    /// An outbound connection (see `SessionView::outbound`), counted under
    /// no back-end.
    pub(crate) outbound: bool,
}

impl SessionTable {
    pub(crate) fn new(
        max_sessions: usize,
        seed: u64,
        generation: u32,
        traffic: Option<Arc<Traffic>>,
    ) -> Result<SessionTable> {
        // Two entries per session and some headroom, `WAYS` per bucket.
        let entries = (max_sessions * 2).saturating_mul(HEADROOM_QUARTERS) / 4;
        let buckets = entries.div_ceil(WAYS).max(1);
        let words = occupancy::words_for(buckets);
        let mut bits = KVVec::with_capacity(words, GFP_KERNEL)?;
        for _ in 0..words {
            bits.push(AtomicU64::new(0), GFP_KERNEL)?;
        }
        Ok(SessionTable {
            buckets: LockedBuckets::new(buckets, [Entry::default(); WAYS])?,
            occupied: Occupancy::new(bits, buckets).ok_or(EINVAL)?,
            max_sessions: max_sessions as u64,
            generation,
            seed,
            held: AtomicU64::new(0),
            dropped: AtomicU64::new(0),
            evicted: AtomicU64::new(0),
            loads: BackendLoads::new()?,
            traffic,
        })
    }

    /// What back-end slot `backend` of service `service` carried.
    pub(crate) fn traffic(&self, service: usize, backend: usize) -> SlotTraffic {
        self.traffic
            .as_ref()
            .map_or(SlotTraffic::default(), |t| t.totals(service, backend))
    }

    /// The traffic counters, for the table that replaces this one.
    pub(crate) fn traffic_counters(&self) -> Option<Arc<Traffic>> {
        self.traffic.clone()
    }

    /// Counts a packet of `len` bytes of the session counted under `at`
    /// going `way`, unless its back-end has left the slot since.
    pub(crate) fn count_packet(&self, at: LoadRef, way: Way, len: u32) {
        if let Some(traffic) = &self.traffic {
            if self.loads.is_current(at) {
                traffic.count_packet(at, way, len);
            }
        }
    }

    /// A slot got a new back-end: its connection counts and traffic start
    /// anew (the sessions of the slot's previous back-end no longer count
    /// there).
    pub(crate) fn reset_slot(&self, service: usize, backend: usize) {
        self.loads.reset(service, backend);
        if let Some(traffic) = &self.traffic {
            traffic.reset(service, backend);
        }
    }

    /// The connection counts of this table's sessions.
    pub(crate) fn loads(&self) -> &BackendLoads {
        &self.loads
    }

    /// Merges into `into` what `from`, a copy of the same entry taken from
    /// the table being replaced, learnt meanwhile. Everything an entry
    /// records only ever moves one way (stage forward, expiry later, FINs
    /// and the SYN-ACK seen, sequence numbers ahead), so the merge is the
    /// later of each, whichever table a packet updated. Under `into`'s
    /// bucket's lock.
    fn merge(&self, into: &mut Entry, from: &Entry, now: u64) {
        let before = into.stage;
        into.stage = before.max(from.stage);
        if into.stage != before {
            into.changed = filter::stamp(now);
        }
        if into.counted() && before.is_active() && !into.stage.is_active() {
            self.loads.deactivate(into.load);
        }
        into.expires = into.expires.max(from.expires);
        into.fins |= from.fins;
        into.tcp.merge(&from.tcp);
    }

    /// Frees an entry that was in use, releasing its count. Under its
    /// bucket's lock.
    fn free(&self, entry: &mut Entry) {
        if entry.expires != 0 && entry.counted() {
            self.loads.close(entry.load, entry.stage.is_active());
            self.held.fetch_sub(1, Ordering::Relaxed);
        }
        entry.expires = 0;
    }

    /// Moves `entry` on to `stage` (never back), with that stage's timeout,
    /// moving its count from active to inactive if it starts closing. Under
    /// its bucket's lock; whether the stage changed.
    fn advance(&self, entry: &mut Entry, stage: Stage, clock: Clock, timeouts: &Timeouts) -> bool {
        let before = entry.stage;
        entry.stage = before.max(stage);
        entry.expires = clock.after_secs(timeouts.secs(entry.stage));
        if entry.counted() && before.is_active() && !entry.stage.is_active() {
            self.loads.deactivate(entry.load);
        }
        // Its expiry moved on: a change for a dump of recent ones (see
        // `filter`).
        entry.changed = filter::stamp(clock.now);
        entry.stage != before
    }

    /// The two buckets `key` may be in: keyed hashes, so clients cannot aim
    /// their flows at one bucket.
    fn buckets_of(&self, key: &FlowKey) -> [usize; 2] {
        let n = self.buckets.len().max(1) as u64;
        let hash = |seed: u64| (keyed_hash(seed, key) % n) as usize;
        [
            hash(self.seed),
            hash(self.seed.rotate_left(32) ^ 0xA076_1D64_78BD_642F),
        ]
    }

    /// Runs `f` on `key`'s two buckets in turn, each under its own lock, until
    /// it returns something. An entry never moves between buckets, so an
    /// entry that is in the table throughout is found.
    fn find_in<R>(&self, key: &FlowKey, mut f: impl FnMut(&mut Bucket) -> Option<R>) -> Option<R> {
        let [first, second] = self.buckets_of(key);
        self.buckets
            .with(first, &mut f)
            .or_else(|| (second != first).then(|| self.buckets.with(second, &mut f))?)
    }

    /// The rewrite of a known flow, refreshing its timeout by the packet's
    /// TCP flags.
    ///
    /// A session is one connection however its two entries are stored: it
    /// lives until its timeout after the last packet in either direction.
    /// So a packet also extends the other entry's expiry, but not on every
    /// packet (that would take a second bucket lock each time): only when
    /// the stage changes or `push_interval` has passed since this entry last
    /// did it. The other entry is then given `push_interval` beyond this
    /// one's expiry, which covers the packets until the next push: a flow
    /// whose traffic goes one way only keeps both its entries.
    pub(crate) fn touch(
        &self,
        key: &FlowKey,
        seg: &Segment,
        timeouts: &Timeouts,
        clock: Clock,
    ) -> Option<Hit> {
        const FIN: u8 = 0x01;
        let now = clock.now;
        let touched = self.find_in(key, |bucket| {
            let entry = bucket.iter_mut().find(|e| e.live(now) && e.key == *key)?;
            let reopens = entry.stage >= Stage::Closing && tcp::opens(seg.flags)
                || entry.stage == Stage::Syn && entry.tcp.restarts_handshake(seg);
            if key.proto == TCP && entry.opener() && reopens {
                // The client reuses its port for a new connection while the
                // old one lingers closed (the server closed first, so the
                // client kept no TIME_WAIT), or gives up on a handshake and
                // starts another: the old session ends and the SYN opens a
                // new one, as conntrack and IPVS do. (Its back-end-side
                // entry expects the old SYN's acknowledgement, so it would
                // never see the new handshake complete.)
                let partner = entry.partner();
                self.free(entry);
                return Some(Err(partner));
            }
            let (stage, new_synack) = if key.proto == TCP {
                let had_synack = entry.tcp.synack_seen();
                let Some(stage) = entry.tcp.after(entry.stage, entry.opener(), seg) else {
                    // A reset that does not fit the connection: passed on,
                    // but the session is left as it was.
                    return Some(Ok((entry.hit(), None)));
                };
                let new_synack = !had_synack && entry.tcp.synack_seen();
                (stage, new_synack.then(|| entry.tcp.synack_ack()))
            } else {
                (Stage::Udp, None)
            };
            let first_fin = key.proto == TCP && seg.flags & FIN != 0 && entry.fins & FIN_SENT == 0;
            if first_fin {
                entry.fins |= FIN_SENT;
            }
            let staged = self.advance(entry, stage, clock, timeouts);
            let interval = push_interval(timeouts.secs(entry.stage), clock);
            let due = clock.since(entry.pushed) >= interval;
            let changed = (staged || first_fin || new_synack.is_some() || due).then(|| {
                entry.pushed = now;
                Push {
                    partner: entry.partner(),
                    stage: entry.stage,
                    first_fin,
                    synack: new_synack,
                    expires: entry.expires.saturating_add(interval),
                }
            });
            Some(Ok((entry.hit(), changed)))
        })?;
        let (hit, changed) = match touched {
            Ok(touched) => touched,
            Err(partner) => {
                self.free_partner(&partner, key);
                return None;
            }
        };
        // One lock at a time: the partner's bucket only after this one's.
        let Some(push) = changed else {
            return Some(hit);
        };
        let partner_kept = self.find_in(&push.partner, |bucket| {
            let at = revivable(bucket, &push.partner, key, now)?;
            let entry = &mut bucket[at];
            // A push from an older stage (another CPU read this entry's
            // partner before a reset or FIN) must not stretch a later one.
            let stale = push.stage < entry.stage;
            self.advance(entry, push.stage, clock, timeouts);
            if !stale {
                entry.expires = entry.expires.max(push.expires);
            }
            if push.first_fin {
                entry.fins |= FIN_PEER;
            }
            if let Some(ack) = push.synack {
                entry.tcp.mark_synack(ack);
            }
            Some(())
        });
        if partner_kept.is_some() {
            return Some(hit);
        }
        // The other half is gone for good (its place reused, or its count
        // released): this half alone would translate one direction only.
        // Ended here, the packet is treated as a new flow.
        self.find_in(key, |bucket| {
            let entry = bucket.iter_mut().find(|e| e.live(now) && e.key == *key)?;
            self.free(entry);
            Some(())
        });
        None
    }

    /// Ends the session of client flow `key` at once, both its entries, as
    /// if it never was (a connection just opened that nobody can announce:
    /// see `nat`).
    pub(crate) fn forget(&self, key: &FlowKey, now: u64) {
        let partner = self.find_in(key, |bucket| {
            let entry = bucket
                .iter_mut()
                .find(|e| e.live(now) && e.key == *key && e.counted())?;
            let partner = entry.partner();
            self.free(entry);
            Some(partner)
        });
        if let Some(partner) = partner {
            self.free_partner(&partner, key);
        }
    }

    /// Frees the entry of `key` whose partner is `from` (a session's other
    /// half, the first one already freed).
    fn free_partner(&self, key: &FlowKey, from: &FlowKey) {
        self.find_in(key, |bucket| {
            let entry = bucket
                .iter_mut()
                .find(|e| e.expires != 0 && e.pairs(key, from))?;
            self.free(entry);
            Some(())
        });
    }

    /// A known flow's session, without refreshing it (for replies, which
    /// pre-routing refreshed already, and ICMP errors about the flow, which
    /// say nothing about the connection's life).
    pub(crate) fn peek(&self, key: &FlowKey, now: u64) -> Option<Hit> {
        self.find_in(key, |bucket| {
            bucket
                .iter()
                .find(|e| e.live(now) && e.key == *key)
                .map(Entry::hit)
        })
    }

    /// Puts one direction's entry in one of its buckets, or finds it there:
    /// when creating, a packet on another CPU got there first (its rewrite
    /// stands); when moving, the entry was moved before and what `entry`
    /// says since is merged in. Creating, when both buckets are full, they
    /// give up their most evictable entry (and that session's other entry).
    /// A client-side entry is counted under its buckets' locks, so a purge
    /// cannot come between, and only if its generation is the
    /// slot's current one: a stale one is never counted, so releasing it
    /// changes nothing.
    fn insert_one(&self, mut entry: Entry, now: u64, how: Insert) -> Result<Inserted, Refused> {
        let key = entry.key;
        let may_evict = how == Insert::Create;
        let [first, second] = self.buckets_of(&key);
        let indices = [first, second];
        // Both buckets locked at once: two CPUs creating the same session
        // must see each other's entry, wherever it went.
        let inserted = self.buckets.with_pair(first, second, |first, second| {
            let mut pair = Pair([Some(first), second]);
            let existing = pair
                .entries()
                .find(|(_, e)| e.live(now) && e.key == key)
                .map(|(at, _)| at);
            if let Some(existing) = existing.and_then(|at| pair.at(at)) {
                match how {
                    Insert::Move => {
                        self.merge(existing, &entry, now);
                        existing.changed = filter::later(existing.changed, entry.changed);
                    }
                    Insert::Import if existing.rewrite == entry.rewrite => {
                        self.merge(existing, &entry, now);
                        if existing.owner != entry.owner {
                            existing.owner = entry.owner;
                            existing.changed = filter::stamp(now);
                        }
                    }
                    Insert::Import => {}
                    // A back-end-side entry is created only when the client's
                    // side was not found live, so one already here is left
                    // over from an older connection on the same ports (or
                    // was made a moment ago, just as fresh, by another CPU
                    // creating this one): it starts over with the new
                    // connection's state. It holds no count.
                    Insert::Create if !existing.counted() && !entry.counted() => {
                        *existing = entry;
                    }
                    Insert::Create => {}
                }
                return Ok(Inserted::Found(existing.hit()));
            }
            // At the limit a new session takes an evicted one's place or
            // none. The limit is checked under these buckets' locks but
            // counted across all: CPUs creating sessions at once may each
            // pass it, so the table can exceed it by one session per CPU.
            let at_limit =
                entry.counted() && self.held.load(Ordering::Relaxed) >= self.max_sessions;
            let placing = Placing {
                now,
                at_limit,
                may_evict,
            };
            // Never the other half of the session being created.
            let place = placement::place(
                [pair.0[0].as_deref(), pair.0[1].as_deref()],
                placing,
                |e: &Entry| e.partner() == key,
            );
            let mut evicted_partner = None;
            let at = match place {
                Place::Free(at) => at,
                Place::Evict(at) => {
                    let victim = pair.at(at).ok_or(Refused::Full)?;
                    evicted_partner = Some(Evicted {
                        partner: victim.partner(),
                        victim: victim.key,
                        live: victim.live(now),
                    });
                    at
                }
                Place::Full => return Err(Refused::Full),
            };
            // Under the bucket's lock, before the entry goes in: scans see
            // the bucket from now on (see `occupancy`).
            if let Some(bucket) = indices.get(at / WAYS) {
                self.occupied.mark(*bucket);
            }
            let free = pair.at(at).ok_or(Refused::Full)?;
            self.free(free);
            let at = entry.load;
            let (service, backend) = (usize::from(at.service), usize::from(at.backend));
            if entry.counted() && self.loads.current(service, backend) == at {
                entry.load = self.loads.open(service, backend, entry.stage.is_active());
                if how == Insert::Create {
                    if let Some(traffic) = &self.traffic {
                        traffic.count_conn(entry.load);
                    }
                }
            }
            if entry.counted() {
                self.held.fetch_add(1, Ordering::Relaxed);
            }
            *free = entry;
            Ok(Inserted::New { evicted_partner })
        })?;
        // One lock at a time: the evicted session's other entry after this
        // bucket's lock is released.
        if let Inserted::New {
            evicted_partner: Some(evicted),
        } = &inserted
        {
            if evicted.live {
                self.evicted.fetch_add(1, Ordering::Relaxed);
            }
            self.free_partner(&evicted.partner, &evicted.victim);
        }
        Ok(inserted)
    }

    /// Inserts both entries of a session, or neither; the client-side
    /// entry as packets will find it (another CPU's, if it created the
    /// session first: its choice of back-end stands, and our back-end-side
    /// entry goes). The back-end-side entry first: once the client-side one
    /// is in, packets on other CPUs follow it and expect their replies
    /// translated.
    fn insert_session(
        &self,
        reply: Entry,
        client: Entry,
        now: u64,
        how: Insert,
    ) -> Result<Hit, Refused> {
        let reply_inserted = matches!(self.insert_one(reply, now, how)?, Inserted::New { .. });
        let hit = match self.insert_one(client, now, how) {
            Ok(Inserted::New { .. }) => Ok(client.hit()),
            Ok(Inserted::Found(existing)) => Ok(existing),
            Err(refused) => Err(refused),
        };
        if reply_inserted && hit.map(|h| h.rewrite) != Ok(client.rewrite) {
            self.remove_uncounted(&reply);
        }
        hit
    }

    /// Takes back the back-end-side entry `reply` that `insert_session`
    /// just inserted (such entries are never counted). It is found by its
    /// partner as well as its key: another session's expired entry with the
    /// same key (one client port reaching two VIPs served by one back-end)
    /// may sit before it in the bucket, still revivable by its own partner.
    fn remove_uncounted(&self, reply: &Entry) {
        let (key, partner) = (reply.key, reply.partner());
        self.find_in(&key, |bucket| {
            let entry = bucket
                .iter_mut()
                .find(|e| e.expires != 0 && !e.counted() && e.pairs(&key, &partner))?;
            entry.expires = 0;
            Some(())
        });
    }

    /// Creates the session of a new connection: `forward` is the client's
    /// flow to the VIP, `pick` the back-end of service slot `service` it
    /// goes to. Returns the rewrite of the first packet.
    pub(crate) fn create(
        &self,
        forward: FlowKey,
        service: usize,
        pick: Pick,
        first: &Segment,
        timeouts: &Timeouts,
        owner: u16,
        clock: Clock,
    ) -> Result<Hit, Refused> {
        let now = clock.now;
        let to_backend = Rewrite {
            source: false,
            addr: pick.addr,
            port: pick.port,
        };
        let load = self.loads.current(service, pick.slot);
        let (client, reply) = opening(
            forward, to_backend, load, owner, false, first, timeouts, clock,
        );
        self.insert_session(reply, client, now, Insert::Create)
            .inspect_err(|_| {
                self.dropped.fetch_add(1, Ordering::Relaxed);
            })
    }

    /// Creates the session of a new outbound connection (see `snat`):
    /// `opener` is the flow as the host behind the cluster sends it; it
    /// leaves from VIP `snat.to()` at the first of the range's candidate
    /// ports that no session holds towards the same destination and that
    /// is not a service's port (`is_service`, network order). The rewrite
    /// of the first packet (its source), or why not: the table's refusal,
    /// or `Conflict` when every candidate is taken. Bounded: at most
    /// `snat::CANDIDATES` lookups and one session's inserts (another tried
    /// only when a CPU took the port between the lookup and the insert).
    pub(crate) fn create_outbound(
        &self,
        opener: FlowKey,
        snat: &Snat,
        is_service: impl Fn(u16) -> bool,
        first: &Segment,
        timeouts: &Timeouts,
        owner: u16,
        clock: Clock,
    ) -> Result<Hit, Refused> {
        let now = clock.now;
        // Another CPU made it a moment ago (the same SYN twice): its port
        // stands. Made again with another port, the first packet would
        // have left from one port and the rest from another.
        if let Some(made) = self.peek(&opener, now) {
            return Ok(made);
        }
        // A hash keyed apart from the buckets': which port a connection
        // starts at says nothing about where its entries are.
        let seed = self.seed.rotate_left(17) ^ 0x5851_F42D_4C95_7F2D;
        for port in snat.candidates(keyed_hash(seed, &opener)) {
            let port = port.to_be();
            if is_service(port) {
                continue;
            }
            let to_vip = Rewrite {
                source: true,
                addr: snat.to(),
                port,
            };
            let (from_opener, to_opener) = opening(
                opener,
                to_vip,
                LoadRef::NONE,
                owner,
                true,
                first,
                timeouts,
                clock,
            );
            if self.peek(&to_opener.key, now).is_some() {
                continue;
            }
            match self.insert_session(from_opener, to_opener, now, Insert::Create) {
                Ok(hit) if hit.rewrite == to_opener.rewrite => return Ok(from_opener.hit()),
                // Another connection took the port since the lookup.
                Ok(_) => continue,
                Err(refused) => {
                    self.dropped.fetch_add(1, Ordering::Relaxed);
                    return Err(refused);
                }
            }
        }
        Err(Refused::Conflict)
    }

    /// Puts a session another node created into the table, counted under
    /// back-end `backend` of service slot `service` (the slot of its
    /// translation here), or merges it into the copy here (see
    /// `Insert::Import`). Nothing is evicted for it: a full table or a flow
    /// held for another translation refuses it, and changes nothing.
    pub(crate) fn import(
        &self,
        session: &Imported,
        service: usize,
        backend: usize,
        now: u64,
    ) -> Result<(), Refused> {
        let client = Entry {
            key: session.client,
            expires: session.expires,
            stage: session.stage,
            rewrite: Rewrite {
                source: false,
                addr: session.backend_addr,
                port: session.backend_port,
            },
            owner: session.owner,
            load: if session.outbound {
                LoadRef::NONE
            } else {
                self.loads.current(service, backend)
            },
            fins: 0,
            pushed: now,
            tcp: match session.blind {
                Some(maker) => Direction::picked_up_blind(maker),
                None => Direction::picked_up(),
            },
            outbound: session.outbound,
            changed: filter::stamp(now),
        };
        let reply = Entry {
            key: client.partner(),
            rewrite: Rewrite {
                source: true,
                addr: session.client.daddr,
                port: session.client.dport,
            },
            ..client
        };
        let reply_inserted = match self.insert_one(reply, now, Insert::Import)? {
            Inserted::New { .. } => true,
            Inserted::Found(hit) if hit.rewrite == reply.rewrite => false,
            Inserted::Found(_) => return Err(Refused::Conflict),
        };
        let outcome = match self.insert_one(client, now, Insert::Import) {
            Ok(Inserted::New { .. }) => Ok(()),
            Ok(Inserted::Found(hit)) if hit.rewrite == client.rewrite => Ok(()),
            Ok(Inserted::Found(_)) => Err(Refused::Conflict),
            Err(refused) => Err(refused),
        };
        if outcome.is_err() && reply_inserted {
            self.remove_uncounted(&reply);
        }
        outcome
    }

    /// Makes the live sessions of VIP `vip` that node `from` owns node
    /// `to`'s, both their entries (the client-side entry names the VIP as
    /// its destination, the back-end-side one as its rewrite); the number
    /// of sessions. A scan of the whole table, bucket by bucket: process
    /// context only.
    pub(crate) fn adopt_owner(&self, vip: u32, from: u16, to: u16, now: u64) -> u64 {
        let mut adopted = 0;
        for i in self.occupied_between(0, self.buckets.len()) {
            adopted += self.buckets.with(i, |bucket| {
                let mut n = 0;
                for e in bucket.iter_mut().filter(|e| e.live(now) && e.owner == from) {
                    let of_vip = if e.counted() {
                        e.key.daddr == vip
                    } else {
                        e.rewrite.addr == vip
                    };
                    if of_vip {
                        e.owner = to;
                        e.changed = filter::stamp(now);
                        n += u64::from(e.counted());
                    }
                }
                n
            });
        }
        adopted
    }

    /// Removes every session counted under `slot` (service, back-end and
    /// generation: the sessions of that one back-end of that one service),
    /// both their entries; the number of sessions removed. A scan of the
    /// whole table, bucket by bucket: process context only.
    pub(crate) fn purge_backend(&self, slot: LoadRef) -> u64 {
        let mut removed = 0;
        for i in self.occupied_between(0, self.buckets.len()) {
            removed += self.buckets.with(i, |bucket| {
                let mut n = 0;
                for e in bucket
                    .iter_mut()
                    .filter(|e| e.expires != 0 && e.load == slot)
                {
                    n += u64::from(e.counted());
                    self.free(e);
                }
                n
            });
        }
        removed
    }

    /// Frees the expired client-side entries of up to `count` buckets from `start` on,
    /// releasing their counts, and the back-end-side entries expired for
    /// `orphan_grace` ticks or more whose partner is gone; where the next
    /// sweep starts (0 after the last bucket). Process context: each bucket
    /// is locked on its own.
    ///
    /// The grace covers a partner that is briefly absent, not gone: a
    /// resize's move judges liveness once, before its pass, and inserts a
    /// session's back-end side before its client side, so a sweep of the
    /// new table can meet the back-end side of a session that has just
    /// lapsed before its partner arrives to revive it.
    pub(crate) fn sweep(&self, start: usize, count: usize, now: u64, orphan_grace: u64) -> usize {
        let end = start.saturating_add(count).min(self.buckets.len());
        for i in self.occupied_between(start, end) {
            let orphans = self.buckets.with(i, |bucket| {
                let expired = |e: &&mut Entry| e.counted() && e.expires != 0 && !e.live(now);
                for e in bucket.iter_mut().filter(expired) {
                    self.free(e);
                }
                // Back-end-side entries hold no count: an expired one stays
                // as it is while its partner may still revive it (see
                // `revivable`). Once the partner is gone nothing can, and
                // it is freed below, so an idle table's buckets empty and
                // scans skip them again (see `occupancy`).
                let mut orphans = [None; WAYS];
                for (at, e) in bucket.iter().enumerate() {
                    if e.orphan_candidate(now, orphan_grace) {
                        orphans[at] = Some((e.key, e.partner()));
                    }
                }
                self.unmark_if_empty(i, bucket);
                orphans
            });
            for (key, partner) in orphans.into_iter().flatten() {
                self.free_orphan(i, &key, &partner, now, orphan_grace);
            }
        }
        if end >= self.buckets.len() {
            0
        } else {
            end
        }
    }

    /// Frees the expired back-end-side entry `key` of bucket `i` if its
    /// partner (the client-side entry `partner`) is no longer in the table.
    /// Keys alone do not pair entries (see `revivable`): the one freed must
    /// name `partner`, or a second session's entry with the same key (one
    /// client port reaching two VIPs served by one back-end) whose partner
    /// is still here would be freed in its place.
    /// The partner is looked up with no lock held (one lock at a time);
    /// an entry freed after the check is one that was already expired and
    /// whose partner was gone: a new connection on the same ports brings
    /// its own back-end-side entry, live, which `revivable` prefers.
    fn free_orphan(&self, i: usize, key: &FlowKey, partner: &FlowKey, now: u64, grace: u64) {
        let partner_held = self
            .find_in(partner, |bucket| {
                bucket
                    .iter()
                    .any(|e| e.expires != 0 && e.pairs(partner, key))
                    .then_some(())
            })
            .is_some();
        if partner_held {
            return;
        }
        self.buckets.with(i, |bucket| {
            let orphan = |e: &&mut Entry| e.orphan_candidate(now, grace) && e.pairs(key, partner);
            if let Some(e) = bucket.iter_mut().find(orphan) {
                e.expires = 0;
            }
            self.unmark_if_empty(i, bucket);
        });
    }

    /// Clears bucket `i`'s occupancy bit if every entry in it is free.
    /// Called with the bucket's lock held, which orders the clear before
    /// any later insertion's mark (see `occupancy`).
    fn unmark_if_empty(&self, i: usize, bucket: &Bucket) {
        if bucket.iter().all(|e| e.expires == 0) {
            self.occupied.clear(i);
        }
    }

    /// Moves `old`'s live sessions into this table, both entries of each or
    /// neither; the number that did not fit (this table is smaller, or
    /// their buckets are full), counted as dropped. A session already here
    /// takes what `old` says of it since (see `merge`), so a second call
    /// after `old` stopped changing brings over everything that happened
    /// there meanwhile: new sessions, and stage changes, FINs and refreshed
    /// expiries of the ones moved before. Process context: each bucket of
    /// either table is locked on its own, one at a time.
    pub(crate) fn adopt(&self, old: &SessionTable, now: u64) -> u64 {
        let mut lost = 0;
        for i in old.occupied_between(0, old.buckets.len()) {
            let bucket = old.buckets.with(i, |bucket| *bucket);
            for entry in bucket.iter().filter(|e| e.live(now) && e.counted()) {
                let partner_key = entry.partner();
                let partner = old.find_in(&partner_key, |b| {
                    b.iter()
                        .find(|e| e.live(now) && e.key == partner_key)
                        .copied()
                });
                let Some(partner) = partner else {
                    // Half a session (its other entry was evicted): let it go.
                    continue;
                };
                // Nothing is evicted for a move.
                if self
                    .insert_session(partner, *entry, now, Insert::Move)
                    .is_err()
                {
                    lost += 1;
                }
            }
        }
        self.dropped.fetch_add(lost, Ordering::Relaxed);
        lost
    }

    /// Adds `old`'s drop and eviction counts to this table's, once `old`
    /// has stopped changing, so a resize does not reset them.
    pub(crate) fn adopt_counters(&self, old: &SessionTable) {
        self.dropped.fetch_add(old.dropped(), Ordering::Relaxed);
        self.evicted.fetch_add(old.evicted(), Ordering::Relaxed);
    }

    /// Sessions in the table: the live ones, and those expired since the
    /// sweep last passed their bucket (at most about a second ago).
    pub(crate) fn count(&self) -> u64 {
        self.held.load(Ordering::Relaxed)
    }

    pub(crate) fn buckets(&self) -> usize {
        self.buckets.len()
    }

    /// How many buckets may hold an entry (see `occupancy`).
    pub(crate) fn buckets_used(&self) -> u64 {
        self.occupied.count()
    }

    /// The first bucket from `from` on that may hold an entry (see
    /// `occupancy`), if any.
    pub(crate) fn next_occupied(&self, from: usize) -> Option<usize> {
        self.occupied.next(from)
    }

    /// The buckets from `start` up to `end` that may hold an entry, in
    /// order.
    fn occupied_between(&self, start: usize, end: usize) -> impl Iterator<Item = usize> + '_ {
        let mut from = start;
        core::iter::from_fn(move || {
            let i = self.occupied.next(from).filter(|i| *i < end)?;
            from = i + 1;
            Some(i)
        })
    }

    /// The live sessions of bucket `i` in ways `from..` (their client-side
    /// entries), copied out under the bucket's lock with the way each is
    /// in; the number written to `out`. Entries never move between ways,
    /// so a dump that resumes at a (bucket, way) cursor never repeats a
    /// session.
    pub(crate) fn snapshot(
        &self,
        i: usize,
        from: usize,
        out: &mut [(usize, SessionView); WAYS],
        clock: Clock,
        filter: &DumpFilter,
    ) -> usize {
        let now = clock.now;
        self.buckets.with(i, |bucket| {
            let mut n = 0;
            for (way, e) in bucket.iter().enumerate().skip(from) {
                if !e.live(now) || e.rewrite.source || !filter.passes(e.owner, e.changed, now) {
                    continue;
                }
                out[n] = (
                    way,
                    SessionView {
                        client: e.key,
                        backend_addr: e.rewrite.addr,
                        backend_port: e.rewrite.port,
                        stage: e.stage,
                        expires_ms: clock.ms_until(e.expires),
                        owner: e.owner,
                        outbound: e.outbound,
                    },
                );
                n += 1;
            }
            n
        })
    }

    /// Which table this is: a new one (a resize) gets a new number, so a
    /// dump whose cursor was set in another table is flagged as interrupted.
    pub(crate) fn generation(&self) -> u32 {
        self.generation
    }

    pub(crate) fn dropped(&self) -> u64 {
        self.dropped.load(Ordering::Relaxed)
    }

    /// Counts a session `session-import` did not take, with the sessions
    /// the table refused.
    pub(crate) fn count_refused_import(&self) {
        self.dropped.fetch_add(1, Ordering::Relaxed);
    }

    /// Sessions evicted to make room for new ones.
    pub(crate) fn evicted(&self) -> u64 {
        self.evicted.load(Ordering::Relaxed)
    }
}
