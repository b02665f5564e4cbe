// SPDX-License-Identifier: GPL-2.0

//! Connection counts per back-end slot, for the least-connections scheduler
//! and the back-end dump.
//!
//! Each (service slot, back-end slot) has one 64-bit word: a generation and
//! two counts, active connections (opening, established, UDP) and inactive
//! ones (closing or reset but not yet expired), as `ipvsadm -L` shows them.
//! A session remembers the generation it was counted under; when a slot gets
//! a new back-end its generation moves on and its counts start from zero, so
//! sessions of the slot's previous back-end can no longer change them.
//! Packets update the words with single atomic operations: no lock.

use core::sync::atomic::{AtomicU16, AtomicU64, Ordering};

use kernel::alloc::KVec;
use kernel::prelude::*;

use crate::services::{MAX_BACKENDS, MAX_SERVICES};

/// Bits of each count. A table holds at most 2^21 entries (1048576 sessions,
/// two entries each), so a count, bounded by its entries, never carries into
/// its neighbour.
const COUNT_BITS: u32 = 24;
const COUNT_MASK: u64 = (1 << COUNT_BITS) - 1;
const ACTIVE_SHIFT: u32 = COUNT_BITS;
const GENERATION_SHIFT: u32 = 2 * COUNT_BITS;

/// The slot a session is counted under, and the slot's generation then.
#[derive(Clone, Copy, Default, PartialEq, Eq, Debug)]
pub(crate) struct LoadRef {
    pub(crate) service: u8,
    pub(crate) backend: u8,
    pub(crate) generation: u16,
}

impl LoadRef {
    /// No slot: an outbound connection (see `snat`), which is no back-end's
    /// to count. Out of every table's range, so counting under it changes
    /// nothing.
    pub(crate) const NONE: LoadRef = LoadRef {
        service: u8::MAX,
        backend: u8::MAX,
        generation: 0,
    };
}

const _: () = assert!(MAX_SERVICES < u8::MAX as usize && MAX_BACKENDS < u8::MAX as usize);

/// One back-end's connections.
#[derive(Clone, Copy, Default, PartialEq, Eq, Debug)]
pub(crate) struct Load {
    pub(crate) active: u32,
    pub(crate) inactive: u32,
}

impl Load {
    /// How busy the back-end is, as IPVS's least-connection schedulers weigh
    /// it: an active connection costs 256 times an inactive one.
    pub(crate) fn overhead(&self) -> u64 {
        (u64::from(self.active) << 8) + u64::from(self.inactive)
    }
}

fn generation_of(word: u64) -> u16 {
    (word >> GENERATION_SHIFT) as u16
}

fn load_of(word: u64) -> Load {
    Load {
        active: ((word >> ACTIVE_SHIFT) & COUNT_MASK) as u32,
        inactive: (word & COUNT_MASK) as u32,
    }
}

fn one(active: bool) -> u64 {
    if active {
        1 << ACTIVE_SHIFT
    } else {
        1
    }
}

pub(crate) struct BackendLoads {
    words: KVec<AtomicU64>,
    /// Each slot's generation again, written only when a slot gets a new
    /// back-end: the packet path checks a session's slot against it (see
    /// `is_current`) without reading `words`, whose cache lines every CPU
    /// writes as sessions open and close.
    generations: KVec<AtomicU16>,
}

impl BackendLoads {
    pub(crate) fn new() -> Result<BackendLoads> {
        let mut words = KVec::with_capacity(MAX_SERVICES * MAX_BACKENDS, GFP_KERNEL)?;
        for _ in 0..MAX_SERVICES * MAX_BACKENDS {
            words.push(AtomicU64::new(0), GFP_KERNEL)?;
        }
        let mut generations = KVec::with_capacity(MAX_SERVICES * MAX_BACKENDS, GFP_KERNEL)?;
        for _ in 0..MAX_SERVICES * MAX_BACKENDS {
            generations.push(AtomicU16::new(0), GFP_KERNEL)?;
        }
        Ok(BackendLoads { words, generations })
    }

    fn word(&self, service: usize, backend: usize) -> Option<&AtomicU64> {
        if backend >= MAX_BACKENDS {
            return None;
        }
        self.words.get(service * MAX_BACKENDS + backend)
    }

    /// The connections of the back-end in slot `backend` of service `service`.
    pub(crate) fn load(&self, service: usize, backend: usize) -> Load {
        self.word(service, backend)
            .map_or(Load::default(), |w| load_of(w.load(Ordering::Relaxed)))
    }

    /// Counts a new connection; the reference to release it with.
    pub(crate) fn open(&self, service: usize, backend: usize, active: bool) -> LoadRef {
        let generation = self.word(service, backend).map_or(0, |w| {
            generation_of(w.fetch_add(one(active), Ordering::Relaxed))
        });
        LoadRef {
            service: service as u8,
            backend: backend as u8,
            generation,
        }
    }

    /// Changes the word of `at` by `change` if it is still of `at`'s
    /// generation; `change` refuses (None) to take a count below zero.
    fn change(&self, at: LoadRef, change: impl Fn(u64) -> Option<u64>) {
        if let Some(word) = self.word(usize::from(at.service), usize::from(at.backend)) {
            let _ = word.fetch_update(Ordering::Relaxed, Ordering::Relaxed, |w| {
                if generation_of(w) != at.generation {
                    return None;
                }
                change(w)
            });
        }
    }

    /// A connection counted by `open` is gone.
    pub(crate) fn close(&self, at: LoadRef, active: bool) {
        let shift = if active { ACTIVE_SHIFT } else { 0 };
        self.change(at, |w| {
            ((w >> shift) & COUNT_MASK != 0).then(|| w - one(active))
        });
    }

    /// An active connection started to close.
    pub(crate) fn deactivate(&self, at: LoadRef) {
        self.change(at, |w| {
            ((w >> ACTIVE_SHIFT) & COUNT_MASK != 0).then(|| w - one(true) + one(false))
        });
    }

    /// The slot has a new back-end: a new generation, no connections.
    pub(crate) fn reset(&self, service: usize, backend: usize) {
        if let Some(word) = self.word(service, backend) {
            let old = word.fetch_update(Ordering::Relaxed, Ordering::Relaxed, |w| {
                Some(u64::from(generation_of(w).wrapping_add(1)) << GENERATION_SHIFT)
            });
            let generation = generation_of(old.unwrap_or_else(|w| w)).wrapping_add(1);
            if let Some(mirror) = self.generations.get(service * MAX_BACKENDS + backend) {
                mirror.store(generation, Ordering::Relaxed);
            }
        }
    }

    /// Takes over `other`'s generations, with no connections counted: for a
    /// table about to take over `other`'s sessions (which count again as
    /// they move in).
    pub(crate) fn adopt_generations(&self, other: &BackendLoads) {
        for (mine, theirs) in self.words.iter().zip(other.words.iter()) {
            let generation = generation_of(theirs.load(Ordering::Relaxed));
            mine.store(u64::from(generation) << GENERATION_SHIFT, Ordering::Relaxed);
        }
        for (mine, theirs) in self.generations.iter().zip(other.generations.iter()) {
            mine.store(theirs.load(Ordering::Relaxed), Ordering::Relaxed);
        }
    }

    /// Whether `at` is its slot's current generation (the session's
    /// back-end still holds the slot). Reads only the read-mostly mirror:
    /// one check per packet must not pull in a line other CPUs write.
    pub(crate) fn is_current(&self, at: LoadRef) -> bool {
        let i = usize::from(at.service) * MAX_BACKENDS + usize::from(at.backend);
        usize::from(at.backend) < MAX_BACKENDS
            && self
                .generations
                .get(i)
                .is_some_and(|g| g.load(Ordering::Relaxed) == at.generation)
    }

    /// The slot as connections to it are counted now (its current
    /// generation).
    pub(crate) fn current(&self, service: usize, backend: usize) -> LoadRef {
        LoadRef {
            service: service as u8,
            backend: backend as u8,
            generation: self
                .word(service, backend)
                .map_or(0, |w| generation_of(w.load(Ordering::Relaxed))),
        }
    }
}
