// SPDX-License-Identifier: GPL-2.0

//! The NAT session table of one namespace.
//!
//! A session is stored twice: under the flow as the client sends it
//! (rewrite the destination to the back-end) and under the flow as the
//! back-end answers (rewrite the source back to the VIP). Each copy lives in
//! a bucket of `WAYS` entries chosen by a keyed hash of its flow, guarded by
//! that bucket's own spinlock, so work per packet is one lock and at most
//! `WAYS` comparisons. Expired entries are free; there is no garbage
//! collector to run. A new session whose bucket is full of live sessions is
//! refused and counted, never evicting a live one.

use core::sync::atomic::{AtomicU64, Ordering};

use kernel::prelude::*;

use crate::glue::{self, End, LockedBuckets};

/// Entries per bucket.
pub(crate) const WAYS: usize = 8;
/// Sessions the table is sized for (each takes two entries).
pub(crate) const DEFAULT_MAX_SESSIONS: usize = 16384;

/// A flow as seen in one direction (network byte order).
#[derive(Clone, Copy, Default, PartialEq, Eq, Debug)]
pub(crate) struct FlowKey {
    pub(crate) proto: u8,
    pub(crate) saddr: u32,
    pub(crate) sport: u16,
    pub(crate) daddr: u32,
    pub(crate) dport: u16,
}

/// Where a connection is in its life; each stage has its timeout.
#[derive(Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Debug)]
pub(crate) enum Stage {
    #[default]
    Udp,
    Syn,
    Established,
    Closing,
    Reset,
}

/// Idle timeouts in seconds, per stage: short while a TCP connection opens
/// or closes, long while it is established (as IPVS and conntrack do).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Timeouts {
    pub(crate) syn: u32,
    pub(crate) established: u32,
    pub(crate) closing: u32,
    pub(crate) udp: u32,
}

impl Timeouts {
    pub(crate) const DEFAULT: Timeouts = Timeouts {
        syn: 30,
        established: 900,
        closing: 60,
        udp: 30,
    };

    /// Seconds a session in `stage` lives idle. A reset connection is gone
    /// for both ends; its entry only lingers for stray packets.
    fn secs(&self, stage: Stage) -> u64 {
        u64::from(match stage {
            Stage::Udp => self.udp,
            Stage::Syn => self.syn,
            Stage::Established => self.established,
            Stage::Closing => self.closing,
            Stage::Reset => self.closing.min(5),
        })
    }
}

impl Stage {
    /// The number `enum ringgate_session_stage` gives this stage.
    pub(crate) fn uapi(self) -> u32 {
        self as u32
    }

    /// The stage after a packet with TCP flags `flags` (0 for UDP).
    fn after(self, proto: u8, flags: u8) -> Stage {
        const FIN: u8 = 0x01;
        const SYN: u8 = 0x02;
        const RST: u8 = 0x04;
        if proto != crate::services::TCP {
            return Stage::Udp;
        }
        let seen = if flags & RST != 0 {
            Stage::Reset
        } else if flags & FIN != 0 {
            Stage::Closing
        } else if flags & SYN != 0 {
            Stage::Syn
        } else {
            Stage::Established
        };
        // A connection never goes back to an earlier stage.
        self.max(seen)
    }
}

/// What to do to a packet of a known flow.
#[derive(Clone, Copy, Default, PartialEq, Eq, Debug)]
pub(crate) struct Rewrite {
    pub(crate) source: bool,
    pub(crate) addr: u32,
    pub(crate) port: u16,
}

impl Rewrite {
    pub(crate) fn end(&self) -> End {
        if self.source {
            End::Source
        } else {
            End::Destination
        }
    }
}

#[derive(Clone, Copy, Default)]
struct Entry {
    key: FlowKey,
    /// Jiffies at which the entry dies; 0: never used.
    expires: u64,
    stage: Stage,
    rewrite: Rewrite,
    /// The node that owns the session.
    owner: u16,
}

/// One live session as the dump shows it (network byte order).
#[derive(Clone, Copy, Default, Debug)]
pub(crate) struct SessionView {
    pub(crate) client: FlowKey,
    pub(crate) backend_addr: u32,
    pub(crate) backend_port: u16,
    pub(crate) stage: Stage,
    pub(crate) expires_ms: u32,
    pub(crate) owner: u16,
}

impl Entry {
    fn live(&self, now: u64) -> bool {
        self.expires > now
    }
}

type Bucket = [Entry; WAYS];

pub(crate) struct SessionTable {
    buckets: LockedBuckets<Bucket>,
    seed: u64,
    dropped: AtomicU64,
}

/// Why a new session was not created.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Refused {
    Full,
}

impl SessionTable {
    pub(crate) fn new(max_sessions: usize, seed: u64) -> Result<SessionTable> {
        // Two entries per session, `WAYS` per bucket.
        let buckets = (max_sessions * 2).div_ceil(WAYS).max(1);
        Ok(SessionTable {
            buckets: LockedBuckets::new(buckets, [Entry::default(); WAYS])?,
            seed,
            dropped: AtomicU64::new(0),
        })
    }

    /// A keyed hash, so clients cannot aim their flows at one bucket.
    fn bucket_of(&self, key: &FlowKey) -> usize {
        let mut h = self.seed ^ u64::from(key.proto);
        for word in [
            u64::from(key.saddr),
            u64::from(key.daddr),
            (u64::from(key.sport) << 16) | u64::from(key.dport),
        ] {
            h = (h ^ word).wrapping_mul(0x9E37_79B9_7F4A_7C15);
            h ^= h >> 29;
        }
        (h % self.buckets.len().max(1) as u64) as usize
    }

    /// The rewrite of a known flow, refreshing its timeout by the packet's
    /// TCP flags.
    pub(crate) fn touch(&self, key: &FlowKey, flags: u8, timeouts: &Timeouts) -> Option<Rewrite> {
        let now = glue::jiffies();
        let hz = glue::hz();
        self.buckets.with(self.bucket_of(key), |bucket| {
            let entry = bucket.iter_mut().find(|e| e.live(now) && e.key == *key)?;
            entry.stage = entry.stage.after(key.proto, flags);
            entry.expires = now + timeouts.secs(entry.stage) * hz;
            Some(entry.rewrite)
        })
    }

    /// The rewrite of a known flow, without refreshing it (for ICMP errors
    /// about the flow, which say nothing about the connection's life).
    pub(crate) fn peek(&self, key: &FlowKey) -> Option<Rewrite> {
        let now = glue::jiffies();
        self.buckets.with(self.bucket_of(key), |bucket| {
            bucket.iter().find(|e| e.live(now) && e.key == *key).map(|e| e.rewrite)
        })
    }

    /// Puts one direction's entry in its bucket (or finds it there, if a
    /// packet on another CPU got there first).
    fn insert_one(&self, entry: Entry, now: u64) -> Result<(), Refused> {
        let key = entry.key;
        self.buckets.with(self.bucket_of(&key), |bucket| {
            if bucket.iter().any(|e| e.live(now) && e.key == key) {
                return Ok(());
            }
            let free = bucket.iter_mut().find(|e| !e.live(now)).ok_or(Refused::Full)?;
            *free = entry;
            Ok(())
        })
    }

    fn remove_one(&self, key: &FlowKey) {
        self.buckets.with(self.bucket_of(key), |bucket| {
            if let Some(entry) = bucket.iter_mut().find(|e| e.key == *key) {
                entry.expires = 0;
            }
        })
    }

    /// Creates the session of a new connection: `forward` is the client's
    /// flow to the VIP, `backend` where it goes. Returns the rewrite of the
    /// first packet.
    pub(crate) fn create(
        &self,
        forward: FlowKey,
        backend_addr: u32,
        backend_port: u16,
        flags: u8,
        timeouts: &Timeouts,
        owner: u16,
    ) -> Result<Rewrite, Refused> {
        let now = glue::jiffies();
        let stage = Stage::default().after(forward.proto, flags);
        let expires = now + timeouts.secs(stage) * glue::hz();
        let entry = |key, rewrite| Entry {
            key,
            expires,
            stage,
            rewrite,
            owner,
        };
        let to_backend = Rewrite {
            source: false,
            addr: backend_addr,
            port: backend_port,
        };
        let reply = FlowKey {
            proto: forward.proto,
            saddr: backend_addr,
            sport: backend_port,
            daddr: forward.saddr,
            dport: forward.sport,
        };
        let to_client = Rewrite {
            source: true,
            addr: forward.daddr,
            port: forward.dport,
        };
        let created = self
            .insert_one(entry(forward, to_backend), now)
            .and_then(|()| {
                self.insert_one(entry(reply, to_client), now)
                    .inspect_err(|_| self.remove_one(&forward))
            });
        if created.is_err() {
            self.dropped.fetch_add(1, Ordering::Relaxed);
        }
        created.map(|()| to_backend)
    }

    /// Removes every session to the back-end at `addr`:`port` (network
    /// byte order), both its entries; the number of sessions removed. A
    /// scan of the whole table, bucket by bucket: process context only.
    pub(crate) fn purge_backend(&self, addr: u32, port: u16) -> u64 {
        let mut removed = 0;
        for i in 0..self.buckets.len() {
            removed += self.buckets.with(i, |bucket| {
                let mut n = 0;
                for e in bucket.iter_mut() {
                    let to_backend = !e.rewrite.source && e.rewrite.addr == addr && e.rewrite.port == port;
                    let from_backend = e.rewrite.source && e.key.saddr == addr && e.key.sport == port;
                    if e.expires != 0 && (to_backend || from_backend) {
                        n += u64::from(to_backend);
                        e.expires = 0;
                    }
                }
                n
            });
        }
        removed
    }

    /// Live sessions (client-side entries), by a scan of every bucket.
    pub(crate) fn count(&self) -> u64 {
        let now = glue::jiffies();
        (0..self.buckets.len())
            .map(|i| {
                self.buckets
                    .with(i, |b| b.iter().filter(|e| e.live(now) && !e.rewrite.source).count() as u64)
            })
            .sum()
    }

    pub(crate) fn buckets(&self) -> usize {
        self.buckets.len()
    }

    /// The live sessions of bucket `i` (their client-side entries), copied
    /// out under the bucket's lock; the number written to `out`.
    pub(crate) fn snapshot(&self, i: usize, out: &mut [SessionView; WAYS]) -> usize {
        let now = glue::jiffies();
        let hz = glue::hz().max(1);
        self.buckets.with(i, |bucket| {
            let mut n = 0;
            for e in bucket.iter().filter(|e| e.live(now) && !e.rewrite.source) {
                out[n] = SessionView {
                    client: e.key,
                    backend_addr: e.rewrite.addr,
                    backend_port: e.rewrite.port,
                    stage: e.stage,
                    expires_ms: ((e.expires - now) * 1000 / hz).min(u64::from(u32::MAX)) as u32,
                    owner: e.owner,
                };
                n += 1;
            }
            n
        })
    }

    pub(crate) fn dropped(&self) -> u64 {
        self.dropped.load(Ordering::Relaxed)
    }
}
