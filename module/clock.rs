// SPDX-License-Identifier: GPL-2.0

//! Time as the domain layer sees it. The layer never reads the kernel's
//! clock itself: whoever calls into it (a hook, the sweep, a netlink
//! request) reads the tick counter once and passes it down, so the logic can
//! be run on the host at any instant, the edges of the counter included.
//! Pure logic with no kernel dependency (`module/host-tests` compiles it).

/// A moment, in the kernel's ticks (64-bit jiffies), and the tick rate.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Clock {
    /// The tick counter now.
    pub(crate) now: u64,
    /// Ticks per second (`HZ`); never 0.
    pub(crate) hz: u64,
}

impl Clock {
    /// The clock at tick `now`, running at `hz` ticks a second (at least 1,
    /// so conversions never divide by zero).
    pub(crate) fn new(now: u64, hz: u64) -> Clock {
        Clock { now, hz: hz.max(1) }
    }

    /// Ticks in `secs` seconds; saturating, so no timeout wraps to a short one.
    pub(crate) fn ticks(&self, secs: u64) -> u64 {
        secs.saturating_mul(self.hz)
    }

    /// Ticks in `ms` milliseconds, rounded up so no wait is cut short.
    pub(crate) fn ticks_ms(&self, ms: u32) -> u64 {
        (u64::from(ms) * self.hz).div_ceil(1000)
    }

    /// The tick `secs` seconds from now. Saturating: an expiry past the end
    /// of the counter stays in the future instead of wrapping into the past.
    pub(crate) fn after_secs(&self, secs: u64) -> u64 {
        self.now.saturating_add(self.ticks(secs))
    }

    /// Milliseconds until `deadline` (0 if it has passed), capped at `u32::MAX`.
    /// Whole seconds and the rest apart, so nothing overflows (and no
    /// 128-bit division, which the kernel does not link).
    pub(crate) fn ms_until(&self, deadline: u64) -> u32 {
        let ticks = deadline.saturating_sub(self.now);
        let ms = (ticks / self.hz)
            .saturating_mul(1000)
            .saturating_add(ticks % self.hz * 1000 / self.hz);
        ms.min(u64::from(u32::MAX)) as u32
    }

    /// Ticks since `then`. The 64-bit counter never wraps, but a moment
    /// another CPU recorded may be a tick ahead of ours: wrapping makes
    /// such a moment read as long ago, which errs on the side of acting.
    pub(crate) fn since(&self, then: u64) -> u64 {
        self.now.wrapping_sub(then)
    }
}
