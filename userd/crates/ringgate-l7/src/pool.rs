//! A service's back-ends and the choice among them: smooth weighted round
//! robin (the module's `wrr` weights mean the same here), skipping back-ends
//! that are down and those a transfer already tried. A back-end that fails a
//! connection or a transfer is held down for a while (passive health), so
//! the next request does not try it first. A back-end the cluster's health
//! checks find down is never chosen. Pure: the caller passes the time.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

#[derive(Debug, Clone)]
struct Entry {
    address: SocketAddr,
    weight: i64,
    current: i64,
    down_until: Option<Instant>,
    failures: u64,
    /// Down for the cluster (its health checks): never chosen.
    disabled: bool,
}

/// One back-end as status output shows it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct BackendView {
    pub address: SocketAddr,
    pub weight: u32,
    pub up: bool,
    /// Down for the cluster's health checks, as the configuration says.
    pub disabled: bool,
    pub failures: u64,
}

#[derive(Debug, Clone)]
pub struct Pool {
    entries: Vec<Entry>,
    hold_down: Duration,
}

impl Pool {
    pub fn new(backends: &[(SocketAddr, u32)], hold_down: Duration) -> Pool {
        let entries = backends
            .iter()
            .map(|&(address, weight)| Entry {
                address,
                weight: i64::from(weight),
                current: 0,
                down_until: None,
                failures: 0,
                disabled: false,
            })
            .collect();
        Pool { entries, hold_down }
    }

    /// A new list of back-ends (a reload): those that stay keep their
    /// place in the rotation, hold-down and failure count; `disabled` are
    /// never chosen from now on.
    pub fn update(&mut self, backends: &[(SocketAddr, u32)], disabled: &[SocketAddr]) {
        let mut old = std::mem::take(&mut self.entries);
        self.entries = backends
            .iter()
            .map(|&(address, weight)| {
                let kept = old
                    .iter()
                    .position(|entry| entry.address == address)
                    .map(|at| old.swap_remove(at));
                let mut entry = kept.unwrap_or(Entry {
                    address,
                    weight: 0,
                    current: 0,
                    down_until: None,
                    failures: 0,
                    disabled: false,
                });
                entry.weight = i64::from(weight);
                entry.disabled = disabled.contains(&address);
                entry
            })
            .collect();
    }

    /// The next back-end for a request, never one in `tried`; a back-end
    /// held down is chosen only when every untried one is.
    pub fn pick(&mut self, now: Instant, tried: &[SocketAddr]) -> Option<SocketAddr> {
        let untried = |entry: &Entry| !entry.disabled && !tried.contains(&entry.address);
        let up = |entry: &Entry| entry.down_until.is_none_or(|until| until <= now);
        let any_up = self.entries.iter().any(|entry| untried(entry) && up(entry));
        let eligible = |entry: &Entry| untried(entry) && (!any_up || up(entry));
        // Smooth weighted round robin (as nginx): every eligible back-end
        // gains its weight, the largest wins and pays the total.
        let mut total = 0;
        let mut best: Option<usize> = None;
        for index in 0..self.entries.len() {
            if !eligible(&self.entries[index]) {
                continue;
            }
            let entry = &mut self.entries[index];
            entry.current += entry.weight;
            total += entry.weight;
            if best.is_none_or(|best| self.entries[best].current < self.entries[index].current) {
                best = Some(index);
            }
        }
        let best = best?;
        self.entries[best].current -= total;
        Some(self.entries[best].address)
    }

    /// Holds a back-end down after a failed connection or transfer.
    pub fn failed(&mut self, address: SocketAddr, now: Instant) {
        if let Some(entry) = self
            .entries
            .iter_mut()
            .find(|entry| entry.address == address)
        {
            entry.down_until = Some(now + self.hold_down);
            entry.failures += 1;
        }
    }

    pub fn view(&self, now: Instant) -> Vec<BackendView> {
        self.entries
            .iter()
            .map(|entry| BackendView {
                address: entry.address,
                weight: u32::try_from(entry.weight).unwrap_or(u32::MAX),
                up: !entry.disabled && entry.down_until.is_none_or(|until| until <= now),
                disabled: entry.disabled,
                failures: entry.failures,
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn address(last: u8) -> SocketAddr {
        SocketAddr::from(([10, 0, 0, last], 80))
    }

    #[test]
    fn picks_follow_the_weights_and_interleave() {
        let mut pool = Pool::new(&[(address(1), 3), (address(2), 1)], Duration::from_secs(1));
        let now = Instant::now();
        let picks: Vec<_> = (0..8).map(|_| pool.pick(now, &[]).unwrap()).collect();
        assert_eq!(picks.iter().filter(|&&a| a == address(1)).count(), 6);
        // Smooth: the light back-end is not starved to the end of a cycle.
        assert!(picks[..4].contains(&address(2)), "{picks:?}");
    }

    #[test]
    fn a_failed_backend_is_skipped_until_its_hold_down_ends() {
        let hold = Duration::from_secs(5);
        let mut pool = Pool::new(&[(address(1), 1), (address(2), 1)], hold);
        let now = Instant::now();
        pool.failed(address(1), now);
        for _ in 0..4 {
            assert_eq!(pool.pick(now, &[]), Some(address(2)));
        }
        assert!(!pool.view(now)[0].up);
        let later = now + hold;
        let picks: Vec<_> = (0..4).map(|_| pool.pick(later, &[]).unwrap()).collect();
        assert!(picks.contains(&address(1)));
    }

    #[test]
    fn a_reload_keeps_state_of_remaining_backends_and_never_picks_disabled_ones() {
        let hold = Duration::from_secs(5);
        let mut pool = Pool::new(&[(address(1), 1), (address(2), 1)], hold);
        let now = Instant::now();
        pool.failed(address(2), now);
        pool.update(
            &[(address(2), 1), (address(3), 1), (address(4), 1)],
            &[address(3)],
        );
        let view = pool.view(now);
        let addresses: Vec<_> = view.iter().map(|b| b.address).collect();
        assert_eq!(addresses, vec![address(2), address(3), address(4)]);
        // Back-end 2's hold-down and failure survive the reload.
        assert_eq!((view[0].up, view[0].failures), (false, 1));
        assert!(view[1].disabled && !view[1].up);
        for _ in 0..4 {
            assert_eq!(pool.pick(now, &[]), Some(address(4)));
        }
        // Disabled is never a last resort, unlike a held-down back-end.
        assert_eq!(pool.pick(now, &[address(4)]), Some(address(2)));
        assert_eq!(pool.pick(now, &[address(2), address(4)]), None);
    }

    #[test]
    fn tried_backends_are_never_picked_and_down_ones_only_as_a_last_resort() {
        let mut pool = Pool::new(&[(address(1), 1), (address(2), 1)], Duration::from_secs(5));
        let now = Instant::now();
        assert_eq!(pool.pick(now, &[address(1), address(2)]), None);
        pool.failed(address(2), now);
        assert_eq!(pool.pick(now, &[address(1)]), Some(address(2)));
    }
}
