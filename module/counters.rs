// SPDX-License-Identifier: GPL-2.0

//! Per-hook packet and byte counters of one network namespace.
//!
//! Every CPU counts into its own copy (`glue::PerCpuArray`), so counting a
//! packet never contends with another CPU; reading sums the copies.

use kernel::prelude::*;

use crate::glue::{Hook, PerCpuArray, HOOK_COUNT};

/// Totals of one hook across all CPUs.
#[derive(Clone, Copy, Default, PartialEq, Eq, Debug)]
pub(crate) struct HookTotals {
    pub(crate) packets: u64,
    pub(crate) bytes: u64,
}

/// The counters of one namespace: a packet and a byte counter per hook.
pub(crate) struct HookCounters {
    per_cpu: PerCpuArray,
}

impl HookCounters {
    /// Zeroed counters.
    pub(crate) fn new() -> Result<Self> {
        Ok(HookCounters {
            per_cpu: PerCpuArray::new(2 * HOOK_COUNT)?,
        })
    }

    /// Counts one packet of `len` bytes seen by `hook` on this CPU.
    pub(crate) fn count(&self, hook: Hook, len: u32) {
        self.per_cpu.add_pair(2 * hook.index(), 1, u64::from(len));
    }

    /// Sums one hook's counters over all CPUs.
    pub(crate) fn totals(&self, hook: Hook) -> HookTotals {
        HookTotals {
            packets: self.per_cpu.sum(2 * hook.index()),
            bytes: self.per_cpu.sum(2 * hook.index() + 1),
        }
    }

    /// Starts one hook's counters from zero. A packet counted concurrently
    /// on another CPU may count before or after the reset; nothing else is
    /// affected.
    pub(crate) fn reset(&self, hook: Hook) {
        self.per_cpu.reset(2 * hook.index(), 2);
    }
}
