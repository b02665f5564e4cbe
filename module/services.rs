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

use crate::glue::uapi;

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

#[derive(Clone, Copy, Default)]
pub(crate) struct Service {
    pub(crate) used: bool,
    pub(crate) key: ServiceKey,
    pub(crate) scheduler: u8,
    pub(crate) backends: [Backend; MAX_BACKENDS],
}

#[derive(Clone, Copy)]
pub(crate) struct ServiceTable {
    generation: u32,
    services: [Service; MAX_SERVICES],
}

/// A picked back-end: where to send, and the slots to count it under.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Pick {
    pub(crate) addr: u32,
    pub(crate) port: u16,
}

impl ServiceTable {
    /// An empty table, allocated in place: it is too large for the stack.
    pub(crate) fn new_empty() -> Result<KBox<ServiceTable>> {
        let mut table: KBox<ServiceTable> = KBox::init(kernel::init::zeroed(), GFP_KERNEL)?;
        table.generation = 1;
        Ok(table)
    }

    pub(crate) fn generation(&self) -> u32 {
        self.generation
    }

    pub(crate) fn advance_generation(&mut self) {
        self.generation = self.generation.checked_add(1).unwrap_or(1);
    }

    /// The services in use with their slots.
    pub(crate) fn services(&self) -> impl Iterator<Item = (usize, &Service)> {
        self.services.iter().enumerate().filter(|(_, s)| s.used)
    }

    /// The slot of the service `key`; a bounded scan of `MAX_SERVICES`.
    pub(crate) fn find(&self, key: &ServiceKey) -> Option<usize> {
        self.services.iter().position(|s| s.used && s.key == *key)
    }

    /// Creates the service or sets its scheduler.
    pub(crate) fn set(&mut self, key: ServiceKey, scheduler: u8) -> Result {
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
        self.services[slot].scheduler = scheduler;
        Ok(())
    }

    pub(crate) fn remove(&mut self, key: &ServiceKey) -> Result {
        let slot = self.find(key).ok_or(ENOENT)?;
        self.services[slot] = Service::default();
        Ok(())
    }

    /// Adds the back-end or changes the weight and state given.
    pub(crate) fn set_backend(
        &mut self,
        key: &ServiceKey,
        addr: u32,
        port: u16,
        weight: Option<u16>,
        up: Option<bool>,
    ) -> Result {
        let slot = self.find(key).ok_or(ENOENT)?;
        let backends = &mut self.services[slot].backends;
        let index = match backends.iter().position(|b| b.used && b.addr == addr && b.port == port) {
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
        Ok(())
    }

    pub(crate) fn remove_backend(&mut self, key: &ServiceKey, addr: u32, port: u16) -> Result {
        let slot = self.find(key).ok_or(ENOENT)?;
        let backends = &mut self.services[slot].backends;
        let index = backends
            .iter()
            .position(|b| b.used && b.addr == addr && b.port == port)
            .ok_or(ENOENT)?;
        backends[index] = Backend::default();
        Ok(())
    }

    /// Picks the back-end of a new connection to the service in `slot`, or
    /// `None` if no back-end is up. `turn` is the service's connection
    /// counter (advanced here): weighted round-robin gives each back-end
    /// `weight` of every `total weight` consecutive connections.
    pub(crate) fn pick(&self, slot: usize, turn: &AtomicU32) -> Option<Pick> {
        let service = self.services.get(slot)?;
        let eligible = || service.backends.iter().filter(|b| b.used && b.up && b.weight > 0);
        let total: u32 = eligible().map(|b| u32::from(b.weight)).sum();
        if total == 0 {
            return None;
        }
        let mut position = turn.fetch_add(1, Ordering::Relaxed) % total;
        for backend in eligible() {
            let weight = u32::from(backend.weight);
            if position < weight {
                return Some(Pick {
                    addr: backend.addr,
                    port: backend.port,
                });
            }
            position -= weight;
        }
        None
    }
}
