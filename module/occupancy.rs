// SPDX-License-Identifier: GPL-2.0

//! Which buckets of the session table may hold an entry: one bit a bucket.
//!
//! Whole-table scans (the dump a daemon reads up to five times a second,
//! the sweep, purges, adoptions, a resize) used to lock every bucket, tens
//! of thousands of locks a scan, however empty the table. Measured in a TCG
//! guest with lockdep, an idle three-node cluster's session dumps took about
//! a sixth of the guest's CPU. With these bits a scan reads one word per 64
//! buckets and locks only the buckets whose bit is set.
//!
//! A bucket's bit is set under the bucket's lock before an entry goes in
//! (`mark`) and cleared under it only when no entry there is in use
//! (`clear`, by the sweep). Both are read-modify-writes of one word, and a
//! bucket's lock orders a clear before any later mark of that bucket, so a
//! bucket that holds an entry always has its bit set. A scan reads the bits
//! without the lock: a bit read clear while an entry is going in means the
//! scan misses a session created at that moment, as it would had the
//! session come a moment later.

use core::ops::Deref;
use core::sync::atomic::{AtomicU64, Ordering};

const BITS: usize = u64::BITS as usize;

/// The bits of `buckets` buckets, kept in `words` (any storage of atomic
/// words: the module's allocation, a host test's vector).
pub(crate) struct Occupancy<W> {
    words: W,
    buckets: usize,
}

/// Words needed for `buckets` bits.
pub(crate) fn words_for(buckets: usize) -> usize {
    buckets.div_ceil(BITS)
}

impl<W: Deref<Target = [AtomicU64]>> Occupancy<W> {
    /// Bits for `buckets` buckets, all clear; `None` if `words` has fewer
    /// than `words_for(buckets)` words.
    pub(crate) fn new(words: W, buckets: usize) -> Option<Self> {
        if words.len() < words_for(buckets) {
            return None;
        }
        for word in words.iter() {
            word.store(0, Ordering::Relaxed);
        }
        Some(Occupancy { words, buckets })
    }

    /// Bucket `i` may hold an entry from now on. Call under its lock.
    pub(crate) fn mark(&self, i: usize) {
        if let Some(word) = self.words.get(i / BITS).filter(|_| i < self.buckets) {
            word.fetch_or(1 << (i % BITS), Ordering::Relaxed);
        }
    }

    /// Bucket `i` holds no entry. Call under its lock, having checked.
    pub(crate) fn clear(&self, i: usize) {
        if let Some(word) = self.words.get(i / BITS) {
            word.fetch_and(!(1 << (i % BITS)), Ordering::Relaxed);
        }
    }

    /// How many buckets' bits are set (each word read on its own).
    pub(crate) fn count(&self) -> u64 {
        self.words
            .iter()
            .map(|word| u64::from(word.load(Ordering::Relaxed).count_ones()))
            .sum()
    }

    /// The first bucket from `from` on whose bit is set, if any.
    pub(crate) fn next(&self, from: usize) -> Option<usize> {
        if from >= self.buckets {
            return None;
        }
        let mut index = from / BITS;
        // The first word's bits below `from` do not count.
        let mut word = self.words.get(index)?.load(Ordering::Relaxed) & (u64::MAX << (from % BITS));
        loop {
            if word != 0 {
                let bucket = index * BITS + word.trailing_zeros() as usize;
                return (bucket < self.buckets).then_some(bucket);
            }
            index += 1;
            word = self.words.get(index)?.load(Ordering::Relaxed);
        }
    }
}
