// SPDX-License-Identifier: GPL-2.0

//! Per-hook packet and byte counters of one network namespace.
//!
//! Every CPU has its own cache-line-aligned slot, so counting a packet never
//! contends with another CPU. The slots hold atomics rather than plain
//! integers because a LOCAL_OUT hook may run preemptible and migrate between
//! reading its CPU id and adding; the relaxed add on a CPU-local line costs
//! about what a plain add does.

use core::sync::atomic::{AtomicU64, Ordering};

use kernel::prelude::*;

use crate::hooks::{Hook, HOOK_COUNT};

#[repr(C, align(64))]
struct CpuSlot {
    packets: [AtomicU64; HOOK_COUNT],
    bytes: [AtomicU64; HOOK_COUNT],
}

impl CpuSlot {
    fn new() -> Self {
        const ZERO: AtomicU64 = AtomicU64::new(0);
        CpuSlot {
            packets: [ZERO; HOOK_COUNT],
            bytes: [ZERO; HOOK_COUNT],
        }
    }
}

/// Totals of one hook across all CPUs.
#[derive(Clone, Copy, Default, PartialEq, Eq, Debug)]
pub(crate) struct HookTotals {
    pub(crate) packets: u64,
    pub(crate) bytes: u64,
}

/// The counters of one namespace, one slot per possible CPU id.
pub(crate) struct HookCounters {
    slots: KVec<CpuSlot>,
}

impl HookCounters {
    /// Allocates zeroed counters for CPU ids `0..nr_cpu_ids`.
    pub(crate) fn new(nr_cpu_ids: usize) -> Result<Self> {
        let mut slots = KVec::with_capacity(nr_cpu_ids, GFP_KERNEL)?;
        for _ in 0..nr_cpu_ids {
            slots.push(CpuSlot::new(), GFP_KERNEL)?;
        }
        Ok(HookCounters { slots })
    }

    /// Counts one packet of `len` bytes seen by `hook` on CPU `cpu`.
    pub(crate) fn count(&self, cpu: usize, hook: Hook, len: u32) {
        // A CPU id is always below nr_cpu_ids; the checked lookups keep a
        // violated assumption from ever becoming a panic in softirq context.
        let Some(slot) = self.slots.get(cpu) else {
            return;
        };
        if let (Some(packets), Some(bytes)) =
            (slot.packets.get(hook.index()), slot.bytes.get(hook.index()))
        {
            packets.fetch_add(1, Ordering::Relaxed);
            bytes.fetch_add(u64::from(len), Ordering::Relaxed);
        }
    }

    /// Sums one hook's counters over all CPUs.
    pub(crate) fn totals(&self, hook: Hook) -> HookTotals {
        let mut totals = HookTotals::default();
        for slot in self.slots.iter() {
            if let (Some(packets), Some(bytes)) =
                (slot.packets.get(hook.index()), slot.bytes.get(hook.index()))
            {
                totals.packets = totals.packets.wrapping_add(packets.load(Ordering::Relaxed));
                totals.bytes = totals.bytes.wrapping_add(bytes.load(Ordering::Relaxed));
            }
        }
        totals
    }

    /// Zeroes one hook's counters. A packet counted concurrently on another
    /// CPU may survive the reset or vanish with it; nothing else is affected.
    pub(crate) fn reset(&self, hook: Hook) {
        for slot in self.slots.iter() {
            if let (Some(packets), Some(bytes)) =
                (slot.packets.get(hook.index()), slot.bytes.get(hook.index()))
            {
                packets.store(0, Ordering::Relaxed);
                bytes.store(0, Ordering::Relaxed);
            }
        }
    }
}
