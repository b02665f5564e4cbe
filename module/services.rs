// SPDX-License-Identifier: GPL-2.0

//! Services: a VIP, port and protocol whose new connections go to one of
//! its back-ends, picked by the service's scheduler.
//!
//! Like the VIP pool, the table is read-copy-update: packets read it without
//! a lock. Services and back-ends keep their slot for life (removal only
//! marks the slot free), so per-slot counters outside the table stay
//! meaningful across copies.

use core::sync::atomic::{AtomicU32, Ordering};

use kernel::init::InPlaceInit;
use kernel::prelude::*;

use crate::glue::{uapi, Versioned};
use crate::load::BackendLoads;
use crate::maglev::{self, HASH_SLOTS, NO_BACKEND};
use crate::schedule;

pub(crate) const MAX_SERVICES: usize = uapi::RINGGATE_MAX_SERVICES as usize;
pub(crate) const MAX_BACKENDS: usize = uapi::RINGGATE_MAX_BACKENDS as usize;
pub(crate) const TCP: u8 = 6;
pub(crate) const UDP: u8 = 17;

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
/// plain number, so an all-zero table is valid).
pub(crate) const SCHEDULER_WRR: u8 = uapi::RINGGATE_SCHEDULER_WRR as u8;
pub(crate) const SCHEDULER_HASH: u8 = uapi::RINGGATE_SCHEDULER_HASH as u8;
pub(crate) const SCHEDULER_LC: u8 = uapi::RINGGATE_SCHEDULER_LC as u8;

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

/// Too large to build on the stack: allocated by `new_empty` in place.
#[derive(Clone, Copy, PartialEq)]
pub(crate) struct ServiceTable {
    generation: u32,
    services: [Service; MAX_SERVICES],
}

/// A picked back-end: where to send, and its slot in the service.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Pick {
    pub(crate) addr: u32,
    pub(crate) port: u16,
    pub(crate) slot: usize,
}

/// Where `set_backend` put a back-end.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct BackendSlot {
    pub(crate) service: usize,
    pub(crate) backend: usize,
    /// The back-end was not there before (its slot's counts start anew).
    pub(crate) new: bool,
}

impl ServiceTable {
    /// An empty table, allocated in place: it is too large for the stack.
    pub(crate) fn new_empty() -> Result<KBox<ServiceTable>> {
        // Initialised in place, one service at a time: no unsafe code and no
        // table-sized value on the stack.
        KBox::init(
            kernel::try_init!(ServiceTable {
                generation: 1,
                services <- kernel::init::init_array_from_fn::<_, MAX_SERVICES, _, Error>(|_| {
                    Service::default()
                }),
            }? Error),
            GFP_KERNEL,
        )
    }

    pub(crate) fn generation(&self) -> u32 {
        self.generation
    }

    /// The services in use with their slots.
    pub(crate) fn services(&self) -> impl Iterator<Item = (usize, &Service)> {
        self.services.iter().enumerate().filter(|(_, s)| s.used)
    }

    /// The slot of the service `key`; a bounded scan of `MAX_SERVICES`.
    pub(crate) fn find(&self, key: &ServiceKey) -> Option<usize> {
        self.services.iter().position(|s| s.used && s.key == *key)
    }

    /// Creates the service (scheduler wrr unless `scheduler` says
    /// otherwise) or sets its scheduler, if given.
    pub(crate) fn set(&mut self, key: ServiceKey, scheduler: Option<u8>) -> Result {
        let slot = match self.find(&key) {
            Some(slot) => slot,
            None => {
                let free = self.services.iter().position(|s| !s.used).ok_or(ENOSPC)?;
                self.services[free] = Service {
                    used: true,
                    key,
                    ..Service::default()
                };
                free
            }
        };
        if let Some(scheduler) = scheduler {
            self.services[slot].scheduler = scheduler;
        }
        self.services[slot].rebuild_lookup();
        Ok(())
    }

    pub(crate) fn remove(&mut self, key: &ServiceKey) -> Result {
        let slot = self.find(key).ok_or(ENOENT)?;
        self.services[slot] = Service::default();
        Ok(())
    }

    /// Where back-end `addr`:`port` is in the service `key`: `None` if the
    /// service does not exist, `Some(None)` if the back-end does not.
    pub(crate) fn find_backend(
        &self,
        key: &ServiceKey,
        addr: u32,
        port: u16,
    ) -> Option<Option<usize>> {
        let slot = self.find(key)?;
        Some(
            self.services[slot]
                .backends
                .iter()
                .position(|b| b.used && b.addr == addr && b.port == port),
        )
    }

    /// Adds the back-end (weight 1, up) or changes the weight and state given.
    pub(crate) fn set_backend(
        &mut self,
        key: &ServiceKey,
        addr: u32,
        port: u16,
        weight: Option<u16>,
        up: Option<bool>,
    ) -> Result<BackendSlot> {
        let slot = self.find(key).ok_or(ENOENT)?;
        let backends = &mut self.services[slot].backends;
        let existing = backends
            .iter()
            .position(|b| b.used && b.addr == addr && b.port == port);
        let index = match existing {
            Some(index) => index,
            None => {
                let free = backends.iter().position(|b| !b.used).ok_or(ENOSPC)?;
                backends[free] = Backend {
                    used: true,
                    addr,
                    port,
                    weight: 1,
                    up: true,
                };
                free
            }
        };
        let backend = &mut backends[index];
        if let Some(weight) = weight {
            backend.weight = weight;
        }
        if let Some(up) = up {
            backend.up = up;
        }
        self.services[slot].rebuild_lookup();
        Ok(BackendSlot {
            service: slot,
            backend: index,
            new: existing.is_none(),
        })
    }

    /// Removes the back-end; the slot it had.
    pub(crate) fn remove_backend(
        &mut self,
        key: &ServiceKey,
        addr: u32,
        port: u16,
    ) -> Result<BackendSlot> {
        let slot = self.find(key).ok_or(ENOENT)?;
        let backends = &mut self.services[slot].backends;
        let index = backends
            .iter()
            .position(|b| b.used && b.addr == addr && b.port == port)
            .ok_or(ENOENT)?;
        backends[index] = Backend::default();
        self.services[slot].rebuild_lookup();
        Ok(BackendSlot {
            service: slot,
            backend: index,
            new: false,
        })
    }

    /// Picks the back-end of a new connection from `client` to the service
    /// in `slot`, or `None` if no back-end is up. Bounded: one pass over the
    /// service's `MAX_BACKENDS` slots at most.
    ///
    /// - wrr: `turn`, the service's connection counter (advanced here), gives
    ///   each back-end `weight` of every `total weight` connections;
    /// - hash: the client's address looked up in the service's table;
    /// - lc: the back-end with the least connections per unit of weight
    ///   (active ones weighing 256 inactive ones, as IPVS's wlc), the first
    ///   such on a tie.
    pub(crate) fn pick(
        &self,
        slot: usize,
        turn: &AtomicU32,
        client: u32,
        loads: &BackendLoads,
    ) -> Option<Pick> {
        let service = self.services.get(slot)?;
        let picked = |index: usize| {
            service.backends.get(index).map(|b| Pick {
                addr: b.addr,
                port: b.port,
                slot: index,
            })
        };
        let eligible = || {
            service
                .backends
                .iter()
                .enumerate()
                .filter(|(_, b)| b.used && b.up && b.weight > 0)
        };
        match service.scheduler {
            SCHEDULER_HASH => {
                let index = service.lookup[maglev::slot_of(client)];
                picked(usize::from(index))
            }
            SCHEDULER_LC => {
                let candidates = eligible().map(|(index, backend)| {
                    let overhead = loads.load(slot, index).overhead();
                    (index, u64::from(backend.weight), overhead)
                });
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
}

impl Versioned for ServiceTable {
    /// Marks this copy as the next version. Wrapping past zero would read
    /// as "unset" to netlink.
    fn advance_generation(&mut self) {
        self.generation = self.generation.checked_add(1).unwrap_or(1);
    }
}
