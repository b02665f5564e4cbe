// SPDX-License-Identifier: GPL-2.0

//! Per-CPU packet and byte counters, one pair per hook.

use core::ptr::NonNull;

use kernel::ffi::{c_uint, c_void};
use kernel::prelude::*;

use super::bindings;

/// Packet and byte counters for each of `RG_HOOK_COUNT` hooks, kept per CPU
/// (see `rg_counters_new`): counting never contends with another CPU nor
/// takes a locked instruction.
pub(crate) struct PerCpuCounters(NonNull<c_void>);

// SAFETY: The per-CPU memory may be added to from any CPU (each adds to its
// own copy) and read or freed from any thread.
unsafe impl Send for PerCpuCounters {}
// SAFETY: As above; every access goes through the glue's per-CPU operations.
unsafe impl Sync for PerCpuCounters {}

impl PerCpuCounters {
    pub(crate) fn new() -> Result<PerCpuCounters> {
        // SAFETY: No preconditions; `Drop` frees what this allocates.
        let counters = NonNull::new(unsafe { bindings::rg_counters_new() }).ok_or(ENOMEM)?;
        Ok(PerCpuCounters(counters))
    }

    /// Counts one packet of `len` bytes at hook `index`.
    pub(crate) fn add(&self, index: usize, len: u32) {
        // SAFETY: Allocated by `new`; the glue ignores an index out of range.
        unsafe { bindings::rg_counters_add(self.0.as_ptr(), index as c_uint, len) }
    }

    /// Packets and bytes counted at hook `index`, over all CPUs.
    pub(crate) fn sum(&self, index: usize) -> (u64, u64) {
        let (mut packets, mut bytes) = (0, 0);
        // SAFETY: Allocated by `new`; the glue writes both outputs.
        unsafe {
            bindings::rg_counters_read(self.0.as_ptr(), index as c_uint, &mut packets, &mut bytes)
        };
        (packets, bytes)
    }

    /// Zeroes hook `index`'s counters on every CPU.
    pub(crate) fn reset(&self, index: usize) {
        // SAFETY: Allocated by `new`; the glue ignores an index out of range.
        unsafe { bindings::rg_counters_reset(self.0.as_ptr(), index as c_uint) }
    }
}

impl Drop for PerCpuCounters {
    fn drop(&mut self) {
        // The namespace's hooks are gone before its state is dropped.
        // SAFETY: Allocated by `new`, and so nothing counts into it any more.
        unsafe { bindings::rg_counters_free(self.0.as_ptr()) }
    }
}
