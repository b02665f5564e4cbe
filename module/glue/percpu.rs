// SPDX-License-Identifier: GPL-2.0

//! Arrays of 64-bit counters kept per CPU.

use core::ptr::NonNull;
use core::sync::atomic::{AtomicU64, Ordering};

use kernel::ffi::{c_uint, c_void};
use kernel::prelude::*;

use super::bindings;

/// `len` counters, each kept per CPU (see `rg_pcpu_new`): adding never
/// contends with another CPU nor takes a locked instruction; reading sums
/// the CPUs' copies. Counters are added in pairs (packets and bytes, say),
/// the usual unit of a statistic.
///
/// A reset never writes another CPU's copy: that CPU may be in the middle
/// of its unlocked add, which would write back its whole old value over
/// the zero. Instead the sum at the reset becomes the counter's base, and
/// reading subtracts it.
pub(crate) struct PerCpuArray {
    counters: NonNull<c_void>,
    len: usize,
    base: KVec<AtomicU64>,
}

// SAFETY: The per-CPU memory may be added to from any CPU (each adds to its
// own copy) and read or freed from any thread.
unsafe impl Send for PerCpuArray {}
// SAFETY: As above; every access goes through the glue's per-CPU operations.
unsafe impl Sync for PerCpuArray {}

impl PerCpuArray {
    /// `len` zeroed counters; ENOMEM also when `len` is more than the percpu
    /// allocator serves in one piece (4096 counters).
    pub(crate) fn new(len: usize) -> Result<PerCpuArray> {
        let count = c_uint::try_from(len).map_err(|_| EINVAL)?;
        let mut base = KVec::with_capacity(len, GFP_KERNEL)?;
        for _ in 0..len {
            base.push(AtomicU64::new(0), GFP_KERNEL)?;
        }
        // SAFETY: No preconditions; `Drop` frees what this allocates.
        let counters = NonNull::new(unsafe { bindings::rg_pcpu_new(count) }).ok_or(ENOMEM)?;
        Ok(PerCpuArray {
            counters,
            len,
            base,
        })
    }

    /// Adds `value` to counter `index` on this CPU. Out of range: nothing.
    pub(crate) fn add(&self, index: usize, value: u64) {
        if index < self.len {
            // SAFETY: Allocated by `new` with `len` counters; `index` is below it.
            unsafe { bindings::rg_pcpu_add(self.counters.as_ptr(), index as c_uint, value) }
        }
    }

    /// Adds `first` to counter `index` and `second` to the one after it, on
    /// this CPU. Out of range: nothing.
    pub(crate) fn add_pair(&self, index: usize, first: u64, second: u64) {
        if index.checked_add(1).is_some_and(|last| last < self.len) {
            // Both `index` and `index + 1` are below `len`, checked above.
            // SAFETY: Allocated by `new` with `len` counters, and as just said.
            unsafe {
                bindings::rg_pcpu_add2(self.counters.as_ptr(), index as c_uint, first, second)
            }
        }
    }

    /// Counter `index` over all CPUs since its last reset (0 out of range).
    pub(crate) fn sum(&self, index: usize) -> u64 {
        let Some(base) = self.base.get(index) else {
            return 0;
        };
        self.raw_sum(index)
            .wrapping_sub(base.load(Ordering::Relaxed))
    }

    /// Counter `index` over all CPUs since allocation; `index` in range.
    fn raw_sum(&self, index: usize) -> u64 {
        // SAFETY: Allocated by `new`; callers check `index` against its length.
        unsafe { bindings::rg_pcpu_sum(self.counters.as_ptr(), index as c_uint) }
    }

    /// Starts counters `index..index + count` (what is in range of them)
    /// from zero. An add racing the reset on another CPU may count before
    /// or after it; nothing else is lost or brought back.
    pub(crate) fn reset(&self, index: usize, count: usize) {
        let end = index.saturating_add(count).min(self.len);
        for i in index..end {
            self.base[i].store(self.raw_sum(i), Ordering::Relaxed);
        }
    }
}

impl Drop for PerCpuArray {
    fn drop(&mut self) {
        // Whoever owns the array outlives everything that counts into it
        // (the namespace's hooks, a session table's grace period).
        // SAFETY: Allocated by `new`, and nothing counts into it any more.
        unsafe { bindings::rg_pcpu_free(self.counters.as_ptr()) }
    }
}
