// SPDX-License-Identifier: GPL-2.0

//! Which VIP a back-end serves, looked up by a packet's source.
//!
//! The back-end's first reply to a connection the VIP's owner just opened
//! can reach another node (the one holding the back-ends' gateway address)
//! before the session does: the owner's daemon announces new sessions a
//! few hundred milliseconds later. That node finds here the VIP whose
//! service the packet's source is a back-end of, and sends the packet to
//! the VIP's owner (see `nat`). The index is rebuilt with every version of
//! the service table, so a packet costs one binary search. Pure logic with
//! no kernel dependency (`module/host-tests` compiles it).

use crate::service::{Service, MAX_BACKENDS};

/// Entries the index holds: every back-end of every service. The services
/// table checks at build time that its size is `MAX_INDEXED_SERVICES`.
pub(crate) const MAX_INDEXED_SERVICES: usize = 32;
pub(crate) const MAX_INDEXED: usize = MAX_INDEXED_SERVICES * MAX_BACKENDS;

/// One back-end: address and port in network byte order, as in packets.
#[derive(Clone, Copy, Default, PartialEq, Eq, Debug)]
pub(crate) struct IndexEntry {
    pub(crate) addr: u32,
    pub(crate) port: u16,
    pub(crate) proto: u8,
    /// The VIP of the services it is a back-end of; 0 if it serves
    /// services of more than one VIP, whose owners may differ.
    pub(crate) vip: u32,
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
    /// Makes the index that of `services` (those in use). Bounded by
    /// `MAX_INDEXED` back-ends; any beyond are left out (none can be: the
    /// table's sizes are checked against it). Each back-end goes in by
    /// binary search and a shift, no sort: core's sort brings panic paths
    /// objtool cannot follow into the module.
    pub(crate) fn rebuild<'a>(&mut self, services: impl Iterator<Item = &'a Service>) {
        for stale in self.entries.iter_mut().take(self.len) {
            *stale = IndexEntry::default();
        }
        self.len = 0;
        for service in services.filter(|s| s.used) {
            for backend in service.backends.iter().filter(|b| b.used) {
                self.insert(IndexEntry {
                    addr: backend.addr,
                    port: backend.port,
                    proto: service.key.proto,
                    vip: service.key.vip,
                });
            }
        }
    }

    /// Adds one back-end of a service of `entry.vip`. A back-end already
    /// there for another VIP names neither VIP any more (its packets' VIP,
    /// hence their owner, cannot be told apart).
    fn insert(&mut self, entry: IndexEntry) {
        let len = self.len;
        let Some(filled) = self.entries.get_mut(..len) else {
            return;
        };
        match filled.binary_search_by_key(&entry.key(), IndexEntry::key) {
            Ok(i) => {
                if let Some(there) = filled.get_mut(i) {
                    if there.vip != entry.vip {
                        there.vip = 0;
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

    /// The VIP whose services have back-end `addr`:`port` (`proto`), if it
    /// is one VIP's.
    pub(crate) fn vip_served_by(&self, addr: u32, port: u16, proto: u8) -> Option<u32> {
        let entries = self.entries.get(..self.len)?;
        let i = entries
            .binary_search_by_key(&(addr, port, proto), IndexEntry::key)
            .ok()?;
        let vip = entries.get(i)?.vip;
        (vip != 0).then_some(vip)
    }
}
