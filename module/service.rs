// SPDX-License-Identifier: GPL-2.0

//! One service: a VIP, port and protocol whose new connections go to one of
//! its back-ends, picked by the service's scheduler. Back-ends keep their
//! slot for life (removal only marks the slot free), so per-slot counters
//! outside the service stay meaningful. Pure logic with no kernel
//! dependency (`module/host-tests` compiles it); `services` keeps the table
//! of them.

use core::sync::atomic::{AtomicU32, Ordering};

use crate::maglev::{self, HASH_SLOTS, NO_BACKEND};
use crate::schedule;

/// Back-ends a service holds (`RINGGATE_MAX_BACKENDS` of the UAPI header,
/// which `services` checks it equals at build time).
pub(crate) const MAX_BACKENDS: usize = 32;
pub(crate) const TCP: u8 = 6;
pub(crate) const UDP: u8 = 17;

/// Why a service refused a change to its back-ends.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum ServiceError {
    /// Every back-end slot is in use.
    Full,
    /// No such back-end.
    Missing,
}

/// One back-end server. Address and port in network byte order.
#[derive(Clone, Copy, Default, PartialEq, Eq, Debug)]
pub(crate) struct Backend {
    pub(crate) used: bool,
    pub(crate) addr: u32,
    pub(crate) port: u16,
    pub(crate) weight: u16,
    pub(crate) up: bool,
}

/// What identifies a service. Address and port in network byte order.
#[derive(Clone, Copy, Default, PartialEq, Eq, Debug)]
pub(crate) struct ServiceKey {
    pub(crate) vip: u32,
    pub(crate) port: u16,
    pub(crate) proto: u8,
}

/// The scheduler of a service, as `enum ringgate_scheduler` numbers it (a
/// plain number, as netlink carries it; unknown numbers schedule as wrr).
pub(crate) const SCHEDULER_WRR: u8 = 0;
pub(crate) const SCHEDULER_HASH: u8 = 1;
pub(crate) const SCHEDULER_LC: u8 = 2;

/// One service and its back-ends.
#[derive(Clone, Copy, PartialEq)]
pub(crate) struct Service {
    pub(crate) used: bool,
    pub(crate) key: ServiceKey,
    pub(crate) scheduler: u8,
    pub(crate) backends: [Backend; MAX_BACKENDS],
    /// For `SCHEDULER_HASH`: each slot names a back-end index (or
    /// `NO_BACKEND`); rebuilt whenever the back-ends change.
    lookup: [u8; HASH_SLOTS],
}

impl Default for Service {
    fn default() -> Self {
        Service {
            used: false,
            key: ServiceKey::default(),
            scheduler: SCHEDULER_WRR,
            backends: [Backend::default(); MAX_BACKENDS],
            lookup: [NO_BACKEND; HASH_SLOTS],
        }
    }
}

impl Service {
    /// A new service `key` with the default scheduler and no back-ends.
    pub(crate) fn new(key: ServiceKey) -> Service {
        Service {
            used: true,
            key,
            ..Service::default()
        }
    }

    /// Sets the scheduler, if one is given.
    pub(crate) fn set_scheduler(&mut self, scheduler: Option<u8>) {
        if let Some(scheduler) = scheduler {
            self.scheduler = scheduler;
        }
        self.rebuild_lookup();
    }

    /// The slot of back-end `addr`:`port`, if the service has it.
    pub(crate) fn find_backend(&self, addr: u32, port: u16) -> Option<usize> {
        self.backends
            .iter()
            .position(|b| b.used && b.addr == addr && b.port == port)
    }

    /// Adds back-end `addr`:`port` (weight 1, up) or changes the weight and
    /// state given; its slot, and whether it is new there.
    pub(crate) fn set_backend(
        &mut self,
        addr: u32,
        port: u16,
        weight: Option<u16>,
        up: Option<bool>,
    ) -> Result<(usize, bool), ServiceError> {
        let existing = self.find_backend(addr, port);
        let index = match existing {
            Some(index) => index,
            None => {
                let free = self
                    .backends
                    .iter()
                    .position(|b| !b.used)
                    .ok_or(ServiceError::Full)?;
                self.backends[free] = Backend {
                    used: true,
                    addr,
                    port,
                    weight: 1,
                    up: true,
                };
                free
            }
        };
        let backend = &mut self.backends[index];
        if let Some(weight) = weight {
            backend.weight = weight;
        }
        if let Some(up) = up {
            backend.up = up;
        }
        self.rebuild_lookup();
        Ok((index, existing.is_none()))
    }

    /// Removes back-end `addr`:`port`; the slot it had.
    pub(crate) fn remove_backend(&mut self, addr: u32, port: u16) -> Result<usize, ServiceError> {
        let index = self.find_backend(addr, port).ok_or(ServiceError::Missing)?;
        self.backends[index] = Backend::default();
        self.rebuild_lookup();
        Ok(index)
    }

    /// Picks the back-end of a new connection from `client`, or `None` if
    /// no back-end is up. `turn` is the service's connection counter
    /// (advanced by round-robin), `overhead` a back-end slot's load (see
    /// `Load::overhead`). Bounded: two passes over the `MAX_BACKENDS`
    /// slots at most.
    ///
    /// - wrr: each back-end gets `weight` of every `total weight`
    ///   connections (`schedule::round_robin`);
    /// - hash: the client's address looked up in the service's table;
    /// - lc: the back-end with the least connections per unit of weight
    ///   (`schedule::least_connections`).
    pub(crate) fn pick(
        &self,
        turn: &AtomicU32,
        client: u32,
        overhead: impl Fn(usize) -> u64,
    ) -> Option<Pick> {
        let picked = |index: usize| {
            self.backends.get(index).map(|b| Pick {
                addr: b.addr,
                port: b.port,
                slot: index,
            })
        };
        let eligible = || {
            self.backends
                .iter()
                .enumerate()
                .filter(|(_, b)| b.used && b.up && b.weight > 0)
        };
        match self.scheduler {
            SCHEDULER_HASH => {
                let index = self.lookup[maglev::slot_of(client)];
                picked(usize::from(index))
            }
            SCHEDULER_LC => {
                let candidates =
                    eligible().map(|(index, b)| (index, u64::from(b.weight), overhead(index)));
                picked(schedule::least_connections(candidates)?)
            }
            _ => {
                let weights = eligible().map(|(index, b)| (index, u32::from(b.weight)));
                let index =
                    schedule::round_robin(weights, || turn.fetch_add(1, Ordering::Relaxed))?;
                picked(index)
            }
        }
    }

    /// Rebuilds the consistent-hash lookup table (see `maglev`) from the
    /// back-ends that are up.
    fn rebuild_lookup(&mut self) {
        let ids: [u64; MAX_BACKENDS] = core::array::from_fn(|i| {
            let b = &self.backends[i];
            (u64::from(b.addr) << 16) | u64::from(b.port)
        });
        let weights: [u64; MAX_BACKENDS] = core::array::from_fn(|i| {
            let b = &self.backends[i];
            if b.used && b.up {
                u64::from(b.weight)
            } else {
                0
            }
        });
        maglev::fill(&mut self.lookup, &ids, &weights);
    }
}

/// A picked back-end: where to send, and its slot in the service.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Pick {
    pub(crate) addr: u32,
    pub(crate) port: u16,
    pub(crate) slot: usize,
}
