// SPDX-License-Identifier: GPL-2.0

//! The VIP ownership lease. A daemon that decides ownership for a cluster
//! renews it; if the daemon dies or hangs, the node stops answering for its
//! VIPs when the lease runs out, so the peers that take them over never
//! share a VIP with a node nobody controls. Without a lease (the default,
//! and what an operator driving the module by hand gets), ownership lasts
//! until it is changed.
//! Pure logic with no kernel dependency (`module/host-tests` compiles it).

use crate::clock::Clock;

/// The end of a lease, in ticks; `NONE` when no lease runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct LeaseEnd(pub(crate) u64);

impl LeaseEnd {
    /// No lease: owned VIPs stay owned.
    pub(crate) const NONE: LeaseEnd = LeaseEnd(0);

    /// The end of a lease of `ms` milliseconds starting now; `ms` 0 means no
    /// lease. The end is never the tick that means "none".
    ///
    /// The tick counter reads the start of the current tick, which may be
    /// almost a tick ago: one tick more makes the lease last at least `ms`
    /// wherever in a tick it starts. The daemon relies on that (it judges a
    /// late renewal by its own clock); the node's peers are not hurt by the
    /// extra tick, as they only count their takeover fence once they have
    /// noticed the token is lost, which takes longer than a tick.
    pub(crate) fn after(clock: Clock, ms: u32) -> LeaseEnd {
        if ms == 0 {
            return LeaseEnd::NONE;
        }
        let ticks = clock.ticks_ms(ms).saturating_add(1);
        LeaseEnd(clock.now.saturating_add(ticks).max(1))
    }

    /// Whether owned VIPs are still owned at `now`.
    pub(crate) fn running(self, now: u64) -> bool {
        self == LeaseEnd::NONE || now < self.0
    }

    /// Whether a lease ran and has run out at `now`.
    pub(crate) fn expired(self, now: u64) -> bool {
        !self.running(now)
    }
}
