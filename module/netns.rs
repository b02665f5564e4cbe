// SPDX-License-Identifier: GPL-2.0

//! The state ringgate keeps for one network namespace.

use core::sync::atomic::{AtomicU64, Ordering};

use kernel::prelude::*;

use crate::counters::HookCounters;
use crate::glue::{self, RcuBox};
use crate::vips::VipTable;

/// Everything one namespace owns. Created before the namespace's hooks are
/// registered and dropped only after they are gone (see `glue`).
pub(crate) struct NetState {
    pub(crate) counters: HookCounters,
    pub(crate) vips: RcuBox<VipTable>,
    /// ARP packets dropped for VIPs this node does not own. Only such
    /// packets touch it, so one shared counter costs the fast path nothing.
    arp_suppressed: AtomicU64,
    garp_sent: AtomicU64,
}

impl NetState {
    /// Allocates the state of a new namespace.
    pub(crate) fn new() -> Result<KBox<NetState>> {
        let counters = HookCounters::new(glue::nr_cpu_ids())?;
        let vips = RcuBox::new(KBox::new(VipTable::EMPTY, GFP_KERNEL)?);
        Ok(KBox::new(
            NetState {
                counters,
                vips,
                arp_suppressed: AtomicU64::new(0),
                garp_sent: AtomicU64::new(0),
            },
            GFP_KERNEL,
        )?)
    }

    pub(crate) fn count_arp_suppressed(&self) {
        self.arp_suppressed.fetch_add(1, Ordering::Relaxed);
    }

    pub(crate) fn count_garp_sent(&self, packets: u32) {
        self.garp_sent.fetch_add(u64::from(packets), Ordering::Relaxed);
    }

    pub(crate) fn arp_suppressed(&self) -> u64 {
        self.arp_suppressed.load(Ordering::Relaxed)
    }

    pub(crate) fn garp_sent(&self) -> u64 {
        self.garp_sent.load(Ordering::Relaxed)
    }
}
