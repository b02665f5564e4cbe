// SPDX-License-Identifier: GPL-2.0

//! The state ringgate keeps for one network namespace.

use core::sync::atomic::{AtomicU32, AtomicU64, Ordering};

use kernel::prelude::*;

use crate::counters::HookCounters;
use crate::glue::{self, RcuBox};
use crate::services::{ServiceTable, MAX_SERVICES};
use crate::sessions::{SessionTable, DEFAULT_MAX_SESSIONS};
use crate::vips::VipTable;

/// Everything one namespace owns. Created before the namespace's hooks are
/// registered and dropped only after they are gone (see `glue`).
pub(crate) struct NetState {
    pub(crate) counters: HookCounters,
    pub(crate) vips: RcuBox<VipTable>,
    pub(crate) services: RcuBox<ServiceTable>,
    pub(crate) sessions: SessionTable,
    /// Each service slot's connection counter, for its scheduler.
    turns: [AtomicU32; MAX_SERVICES],
    no_backend: AtomicU64,
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
        let services = RcuBox::new(ServiceTable::new_empty()?);
        let sessions = SessionTable::new(DEFAULT_MAX_SESSIONS, glue::random_u64())?;
        Ok(KBox::new(
            NetState {
                counters,
                vips,
                services,
                sessions,
                turns: [const { AtomicU32::new(0) }; MAX_SERVICES],
                no_backend: AtomicU64::new(0),
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

    /// The connection counter of service slot `slot`.
    pub(crate) fn turn(&self, slot: usize) -> &AtomicU32 {
        &self.turns[slot % MAX_SERVICES]
    }

    pub(crate) fn count_no_backend(&self) {
        self.no_backend.fetch_add(1, Ordering::Relaxed);
    }

    pub(crate) fn no_backend(&self) -> u64 {
        self.no_backend.load(Ordering::Relaxed)
    }

    pub(crate) fn arp_suppressed(&self) -> u64 {
        self.arp_suppressed.load(Ordering::Relaxed)
    }

    pub(crate) fn garp_sent(&self) -> u64 {
        self.garp_sent.load(Ordering::Relaxed)
    }
}
