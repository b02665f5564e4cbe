// SPDX-License-Identifier: GPL-2.0

//! Which service a back-end serves, looked up by a packet's source.
//!
//! The back-end's first reply to a connection the VIP's owner just opened
//! can reach another node (the one holding the back-ends' gateway address)
//! before the session does: the owner's daemon announces new sessions a
//! few hundred milliseconds later. That node finds here a service the
//! packet's source is a back-end of, hence its VIP, and sends the packet to
//! the VIP's owner (see `nat`). The index is rebuilt with every version of
//! the service table, so a packet costs one binary search. Pure logic with
//! no kernel dependency (`module/host-tests` compiles it).

use crate::service::{Service, MAX_BACKENDS};

/// Entries the index holds: every back-end of every service. The services
/// table checks at build time that it has `MAX_INDEXED_SERVICES` slots.
pub(crate) const MAX_INDEXED_SERVICES: usize = 32;
pub(crate) const MAX_INDEXED: usize = MAX_INDEXED_SERVICES * MAX_BACKENDS;
/// The slot of a back-end that serves services of more than one VIP,
/// whose owners may differ: its packets do not say which VIP they answer.
pub(crate) const SEVERAL_VIPS: u8 = u8::MAX;
/// Set in the slot of a back-end that serves several services of one VIP:
/// its packets say which VIP they answer, but not which service (a reply
/// carries the back-end's port, not the service's), so no session can be
/// made from one (see `nat::pick_up_reply`).
pub(crate) const SEVERAL_SERVICES: u8 = 0x80;
const _: () = assert!(MAX_INDEXED_SERVICES <= SEVERAL_SERVICES as usize);

/// One back-end: address and port in network byte order, as in packets.
/// Eight bytes, so that the index keeps the services table within one
/// 32 KiB allocation.
#[derive(Clone, Copy, Default, PartialEq, Eq, Debug)]
pub(crate) struct IndexEntry {
    pub(crate) addr: u32,
    pub(crate) port: u16,
    pub(crate) proto: u8,
    /// A service slot it is a back-end of, or `SEVERAL_VIPS`.
    pub(crate) slot: u8,
}

impl IndexEntry {
    fn key(&self) -> (u32, u16, u8) {
        (self.addr, self.port, self.proto)
    }
}

/// Sorted by (address, port, protocol), one entry per back-end; slots
/// past `len` stay zero, so two indexes of the same services compare equal.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) struct BackendIndex {
    pub(crate) len: usize,
    pub(crate) entries: [IndexEntry; MAX_INDEXED],
}

impl BackendIndex {
    /// Makes the index that of `services` (a table's slots, those in use).
    /// Bounded by `MAX_INDEXED` back-ends; any beyond are left out (none
    /// can be: the table's sizes are checked against it). Each back-end
    /// goes in by binary search and a shift, no sort: core's sort brings
    /// panic paths objtool cannot follow into the module.
    pub(crate) fn rebuild(&mut self, services: &[Service]) {
        for stale in self.entries.iter_mut().take(self.len) {
            *stale = IndexEntry::default();
        }
        self.len = 0;
        for (slot, service) in services.iter().enumerate().filter(|(_, s)| s.used) {
            let Ok(slot) = u8::try_from(slot) else {
                break;
            };
            for backend in service.backends.iter().filter(|b| b.used) {
                let entry = IndexEntry {
                    addr: backend.addr,
                    port: backend.port,
                    proto: service.key.proto,
                    slot,
                };
                self.insert(entry, services);
            }
        }
    }

    /// Adds one back-end of the service in `entry.slot`. A back-end already
    /// there for a service of another VIP names no slot any more; one there
    /// for another service of the same VIP is marked `SEVERAL_SERVICES`.
    fn insert(&mut self, entry: IndexEntry, services: &[Service]) {
        let vip_of = |slot: u8| {
            services
                .get(usize::from(slot & !SEVERAL_SERVICES))
                .map(|s| s.key.vip)
        };
        let len = self.len;
        let Some(filled) = self.entries.get_mut(..len) else {
            return;
        };
        match filled.binary_search_by_key(&entry.key(), IndexEntry::key) {
            Ok(i) => {
                if let Some(there) = filled.get_mut(i) {
                    if there.slot != SEVERAL_VIPS {
                        there.slot = if vip_of(there.slot) == vip_of(entry.slot) {
                            there.slot | SEVERAL_SERVICES
                        } else {
                            SEVERAL_VIPS
                        };
                    }
                }
            }
            Err(i) => {
                if len >= MAX_INDEXED {
                    return;
                }
                self.entries.copy_within(i..len, i + 1);
                if let Some(slot) = self.entries.get_mut(i) {
                    *slot = entry;
                    self.len += 1;
                }
            }
        }
    }

    /// Whether `addr`:`port` (`proto`) is a back-end of any service, of one
    /// VIP's or of several.
    pub(crate) fn serves(&self, addr: u32, port: u16, proto: u8) -> bool {
        self.entries.get(..self.len).is_some_and(|e| {
            e.binary_search_by_key(&(addr, port, proto), IndexEntry::key)
                .is_ok()
        })
    }

    /// A slot of a service whose back-end is `addr`:`port` (`proto`), if
    /// the back-end serves one VIP's services.
    pub(crate) fn slot_served_by(&self, addr: u32, port: u16, proto: u8) -> Option<usize> {
        let slot = self.entry_of(addr, port, proto)?;
        (slot != SEVERAL_VIPS).then_some(usize::from(slot & !SEVERAL_SERVICES))
    }

    /// The slot of the service whose back-end is `addr`:`port` (`proto`),
    /// if the back-end serves that one service only.
    pub(crate) fn only_slot_served_by(&self, addr: u32, port: u16, proto: u8) -> Option<usize> {
        let slot = self.entry_of(addr, port, proto)?;
        (slot & SEVERAL_SERVICES == 0).then_some(usize::from(slot))
    }

    fn entry_of(&self, addr: u32, port: u16, proto: u8) -> Option<u8> {
        let entries = self.entries.get(..self.len)?;
        let i = entries
            .binary_search_by_key(&(addr, port, proto), IndexEntry::key)
            .ok()?;
        Some(entries.get(i)?.slot)
    }
}
