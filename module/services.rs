// SPDX-License-Identifier: GPL-2.0

//! The services of one namespace (each a `service::Service`).
//!
//! Like the VIP pool, the table is read-copy-update: packets read it without
//! a lock. Services keep their slot for life (removal only marks the slot
//! free), so per-slot counters outside the table stay meaningful across
//! copies.

use core::sync::atomic::AtomicU32;

use kernel::init::InPlaceInit;
use kernel::prelude::*;

use crate::backend_index::{BackendIndex, IndexEntry, MAX_INDEXED, MAX_INDEXED_SERVICES};
use crate::glue::{uapi, Versioned};
use crate::load::BackendLoads;
pub(crate) use crate::service::{
    Pick, Service, ServiceError, ServiceKey, MAX_BACKENDS, SCHEDULER_HASH, SCHEDULER_LC,
    SCHEDULER_WRR, TCP, UDP,
};

pub(crate) const MAX_SERVICES: usize = uapi::RINGGATE_MAX_SERVICES as usize;

// The pure logic's numbers are the UAPI header's.
const _: () = assert!(MAX_INDEXED_SERVICES == MAX_SERVICES);
// Every change copies the table into a fresh kmalloc'd block (`RcuBox`):
// within 32 KiB that is an order-3 allocation, which the allocator works
// hard to find; above it, order 4, which a fragmented host may refuse.
const _: () = assert!(core::mem::size_of::<ServiceTable>() <= 32 * 1024);
const _: () = assert!(MAX_BACKENDS == uapi::RINGGATE_MAX_BACKENDS as usize);
const _: () = assert!(SCHEDULER_WRR as u32 == uapi::RINGGATE_SCHEDULER_WRR);
const _: () = assert!(SCHEDULER_HASH as u32 == uapi::RINGGATE_SCHEDULER_HASH);
const _: () = assert!(SCHEDULER_LC as u32 == uapi::RINGGATE_SCHEDULER_LC);

/// The error a refused change to a service's back-ends fails with.
fn errno(err: ServiceError) -> Error {
    match err {
        ServiceError::Full => ENOSPC,
        ServiceError::Missing => ENOENT,
    }
}

/// Too large to build on the stack: allocated by `new_empty` in place.
#[derive(Clone, Copy, PartialEq)]
pub(crate) struct ServiceTable {
    generation: u32,
    services: [Service; MAX_SERVICES],
    /// The back-ends of `services` by address, rebuilt with every version.
    index: BackendIndex,
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
                index <- kernel::try_init!(BackendIndex {
                    len: 0,
                    entries <- kernel::init::init_array_from_fn::<_, MAX_INDEXED, _, Error>(
                        |_| IndexEntry::default()
                    ),
                }? Error),
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
                self.services[free] = Service::new(key);
                free
            }
        };
        self.services[slot].set_scheduler(scheduler);
        Ok(())
    }

    pub(crate) fn remove(&mut self, key: &ServiceKey) -> Result {
        let slot = self.find(key).ok_or(ENOENT)?;
        self.services[slot] = Service::default();
        Ok(())
    }

    /// Whether `addr`:`port` (`proto`) is a back-end of any service: its
    /// packets from that port are replies, however many VIPs it serves.
    /// One binary search.
    pub(crate) fn is_backend(&self, addr: u32, port: u16, proto: u8) -> bool {
        self.index.serves(addr, port, proto)
    }

    /// The VIP a packet from `addr`:`port` (`proto`) comes from a back-end
    /// of, if the back-end serves one VIP's services: one binary search.
    pub(crate) fn vip_served_by(&self, addr: u32, port: u16, proto: u8) -> Option<u32> {
        let slot = self.index.slot_served_by(addr, port, proto)?;
        self.services.get(slot).map(|s| s.key.vip)
    }

    /// The slot and key of the service a packet from `addr`:`port`
    /// (`proto`) comes from a back-end of, if the back-end serves that one
    /// service only: one binary search.
    pub(crate) fn only_service_served_by(
        &self,
        addr: u32,
        port: u16,
        proto: u8,
    ) -> Option<(usize, ServiceKey)> {
        let slot = self.index.only_slot_served_by(addr, port, proto)?;
        self.services.get(slot).map(|s| (slot, s.key))
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
        Some(self.services[slot].find_backend(addr, port))
    }

    /// Whether back-end `backend` of the service in `slot` is up.
    pub(crate) fn backend_up(&self, slot: usize, backend: usize) -> bool {
        self.services
            .get(slot)
            .and_then(|s| s.backends.get(backend))
            .is_some_and(|b| b.used && b.up)
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
        let (backend, new) = self.services[slot]
            .set_backend(addr, port, weight, up)
            .map_err(errno)?;
        Ok(BackendSlot {
            service: slot,
            backend,
            new,
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
        let backend = self.services[slot]
            .remove_backend(addr, port)
            .map_err(errno)?;
        Ok(BackendSlot {
            service: slot,
            backend,
            new: false,
        })
    }

    /// Whether the service in `slot` picks back-ends by hashing the client
    /// (maglev): every node with the same back-ends picks the same one for a
    /// client, so a connection's back-end is known without its session.
    pub(crate) fn hashes(&self, slot: usize) -> bool {
        self.services
            .get(slot)
            .is_some_and(|s| s.scheduler == crate::service::SCHEDULER_HASH)
    }

    /// Picks the back-end of a new connection from `client` to the service
    /// in `slot` (see `Service::pick`), with the connection counts of
    /// `loads`.
    pub(crate) fn pick(
        &self,
        slot: usize,
        turn: &AtomicU32,
        client: u32,
        loads: &BackendLoads,
    ) -> Option<Pick> {
        let service = self.services.get(slot)?;
        service.pick(turn, client, |index| loads.load(slot, index).overhead())
    }
}

impl Versioned for ServiceTable {
    /// Marks this copy as the next version (wrapping past zero would read
    /// as "unset" to netlink) and indexes its back-ends, as every version
    /// the packet path reads comes through here.
    fn advance_generation(&mut self) {
        self.generation = self.generation.checked_add(1).unwrap_or(1);
        self.index.rebuild(&self.services);
    }

    /// A change that takes a back-end out of scheduling (removed, or set
    /// down) or removes a service waits for the readers of the old table:
    /// the down policy then purges the back-end's sessions, and a packet
    /// still scheduling from the old table must not create one after that.
    /// Additions and weight or scheduler changes publish at once.
    fn withdraws(old: &ServiceTable, new: &ServiceTable) -> bool {
        old.services
            .iter()
            .zip(new.services.iter())
            .any(|(was, now)| {
                was.used
                    && (!now.used
                        || now.key != was.key
                        || was.backends.iter().zip(now.backends.iter()).any(|(b, n)| {
                            b.used
                                && b.up
                                && !(n.used && n.up && n.addr == b.addr && n.port == b.port)
                        }))
            })
    }
}
