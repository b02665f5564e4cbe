// SPDX-License-Identifier: GPL-2.0

//! What a namespace reports about itself: counters and table versions.

use core::sync::atomic::Ordering;

use super::NetState;
use crate::glue::{RcuSection, Sleepable};

/// A namespace's counters and table versions at one moment (each read on
/// its own: the counters move on with the traffic).
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct Status {
    /// ARP packets dropped for VIPs this node does not own.
    pub(crate) arp_suppressed: u64,
    /// Gratuitous ARP packets sent.
    pub(crate) garp_sent: u64,
    /// Sessions held (live, or expired and not swept yet).
    pub(crate) sessions: u64,
    /// New sessions refused: the table was full.
    pub(crate) sessions_dropped: u64,
    /// Half-open or closed sessions evicted for new ones.
    pub(crate) sessions_evicted: u64,
    /// New connections refused: no back-end up.
    pub(crate) no_backend: u64,
    /// Packets of a VIP's services dropped: the VIP is not served here.
    pub(crate) not_owner: u64,
    /// Packets sent on to the node that owns their session.
    pub(crate) redirected: u64,
    /// Connections met mid-stream and given a session.
    pub(crate) picked_up: u64,
    /// Buckets of the session table that may hold an entry.
    pub(crate) session_buckets_used: u64,
    /// Outbound connections refused: no port of the range was free.
    pub(crate) snat_no_port: u64,
    pub(crate) vip_generation: u32,
    pub(crate) service_generation: u32,
}

impl NetState {
    pub(crate) fn status(&self, context: &mut Sleepable) -> Status {
        let rcu = RcuSection::read_lock(context);
        let sessions = self.sessions.read(&rcu);
        Status {
            arp_suppressed: self.arp_suppressed.load(Ordering::Relaxed),
            garp_sent: self.garp_sent.load(Ordering::Relaxed),
            sessions: sessions.count(),
            sessions_dropped: sessions.dropped(),
            sessions_evicted: sessions.evicted(),
            no_backend: self.no_backend.load(Ordering::Relaxed),
            not_owner: self.not_owner.load(Ordering::Relaxed),
            redirected: self.redirected(),
            picked_up: self.picked_up(),
            session_buckets_used: sessions.buckets_used(),
            snat_no_port: self.snat_no_port.load(Ordering::Relaxed),
            vip_generation: self.vips.read(&rcu).generation(),
            service_generation: self.services.read(&rcu).generation(),
        }
    }
}
