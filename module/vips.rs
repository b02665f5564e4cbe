// SPDX-License-Identifier: GPL-2.0

//! The pool of virtual IPs of one network namespace.
//!
//! Packets read the pool on every ARP packet and netlink changes it now and
//! then, so it is read-copy-update: readers see an immutable table without
//! taking a lock, and a writer changes a private copy and publishes it (see
//! `glue::RcuBox`). The table is a sorted array of bounded size, so a lookup
//! is a binary search over at most `MAX_VIPS` entries. Pure logic with no
//! kernel dependency (`module/host-tests` compiles it).

/// The most VIPs a pool holds (`RINGGATE_MAX_VIPS` of the UAPI header,
/// which `netns` checks it equals at build time).
pub(crate) const MAX_VIPS: usize = 256;
/// Gratuitous ARP pairs sent on taking a VIP when none was configured.
pub(crate) const DEFAULT_GARP_COUNT: u8 = 3;

/// Whether `addr` (network byte order) can be a VIP: a unicast address,
/// not 0, loopback, multicast or broadcast.
pub(crate) fn usable(addr: u32) -> bool {
    // Network byte order: the first octet is the lowest byte in memory.
    let first_octet = addr.to_ne_bytes()[0];
    !(addr == 0 || addr == u32::MAX || first_octet == 127 || first_octet >= 224)
}

/// One VIP of the pool.
#[derive(Clone, Copy, Default, PartialEq, Eq, Debug)]
pub(crate) struct Vip {
    /// The IPv4 address in network byte order, as it appears in packets.
    pub(crate) addr: u32,
    /// Whether this node owns the VIP: answers ARP for it and announces it.
    pub(crate) owned: bool,
    /// Gratuitous ARP pairs sent when this node takes the VIP.
    pub(crate) garp_count: u8,
    /// The node the cluster says owns the VIP, 0 if not known: where a
    /// node that does not own it sends the first replies of the owner's
    /// new connections (see `nat::reply_without_session`).
    pub(crate) owner_node: u16,
    /// Jiffies at which this node last took the VIP (0: never). A
    /// back-end's segment with no session is picked up only shortly after
    /// (see `nat::pick_up_reply`).
    pub(crate) taken: u64,
}

/// One immutable version of the pool.
#[derive(Clone, Copy, PartialEq)]
pub(crate) struct VipTable {
    /// Grows with every published change; dumps use it to notice changes
    /// between their parts. Starts at 1 (netlink reads 0 as "unset").
    generation: u32,
    len: usize,
    /// Sorted by `addr`; only the first `len` entries are used.
    vips: [Vip; MAX_VIPS],
}

/// Why the pool refused a change.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) enum PoolError {
    /// The pool holds `MAX_VIPS` already.
    Full,
    /// The VIP is not in the pool.
    Missing,
}

/// What a change to a VIP did, so the caller knows what to announce.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) enum Change {
    Unchanged,
    Changed,
}

impl VipTable {
    /// An empty pool.
    pub(crate) const EMPTY: VipTable = VipTable {
        generation: 1,
        len: 0,
        vips: [Vip {
            addr: 0,
            owned: false,
            garp_count: 0,
            owner_node: 0,
            taken: 0,
        }; MAX_VIPS],
    };

    /// Every VIP, sorted by address.
    pub(crate) fn entries(&self) -> &[Vip] {
        &self.vips[..self.len]
    }

    pub(crate) fn generation(&self) -> u32 {
        self.generation
    }

    /// The VIP with address `addr` (network byte order).
    pub(crate) fn find(&self, addr: u32) -> Option<&Vip> {
        let entries = self.entries();
        entries
            .binary_search_by_key(&addr, |vip| vip.addr)
            .ok()
            .and_then(|i| entries.get(i))
    }

    /// Adds `addr` (not owned). An address already present keeps its state
    /// and takes `garp_count` if one is given.
    pub(crate) fn add(&mut self, addr: u32, garp_count: Option<u8>) -> Result<Change, PoolError> {
        match self.entries().binary_search_by_key(&addr, |vip| vip.addr) {
            Ok(i) => {
                let vip = &mut self.vips[i];
                match garp_count {
                    Some(count) if count != vip.garp_count => {
                        vip.garp_count = count;
                        Ok(Change::Changed)
                    }
                    _ => Ok(Change::Unchanged),
                }
            }
            Err(i) => {
                if self.len == MAX_VIPS {
                    return Err(PoolError::Full);
                }
                self.vips.copy_within(i..self.len, i + 1);
                self.vips[i] = Vip {
                    addr,
                    owned: false,
                    garp_count: garp_count.unwrap_or(DEFAULT_GARP_COUNT),
                    owner_node: 0,
                    taken: 0,
                };
                self.len += 1;
                Ok(Change::Changed)
            }
        }
    }

    /// Where `addr` is in the sorted entries.
    fn index_of(&self, addr: u32) -> Result<usize, PoolError> {
        self.entries()
            .binary_search_by_key(&addr, |vip| vip.addr)
            .map_err(|_| PoolError::Missing)
    }

    /// Removes `addr`.
    pub(crate) fn remove(&mut self, addr: u32) -> Result<(), PoolError> {
        let i = self.index_of(addr)?;
        self.vips.copy_within(i + 1..self.len, i);
        self.len -= 1;
        Ok(())
    }

    /// Takes or releases `addr`.
    pub(crate) fn set_owned(&mut self, addr: u32, owned: bool) -> Result<Change, PoolError> {
        self.set_field(addr, |vip| &mut vip.owned, owned)
    }

    /// Makes `addr` owned, recording `now` as when it was taken if it was
    /// not owned before.
    pub(crate) fn take(&mut self, addr: u32, now: u64) -> Result<Change, PoolError> {
        let change = self.set_owned(addr, true)?;
        if change == Change::Changed {
            let i = self.index_of(addr)?;
            if let Some(vip) = self.vips.get_mut(i) {
                vip.taken = now;
            }
        }
        Ok(change)
    }

    /// Records `node` as the cluster's owner of `addr` (0: not known).
    pub(crate) fn set_owner_node(&mut self, addr: u32, node: u16) -> Result<Change, PoolError> {
        self.set_field(addr, |vip| &mut vip.owner_node, node)
    }

    /// Sets the field `field` picks of `addr`'s entry to `value`, saying
    /// whether that changed it.
    fn set_field<T: PartialEq>(
        &mut self,
        addr: u32,
        field: impl FnOnce(&mut Vip) -> &mut T,
        value: T,
    ) -> Result<Change, PoolError> {
        let i = self.index_of(addr)?;
        let slot = field(self.vips.get_mut(i).ok_or(PoolError::Missing)?);
        if *slot == value {
            return Ok(Change::Unchanged);
        }
        *slot = value;
        Ok(Change::Changed)
    }
}

impl VipTable {
    /// Marks this copy as the next version. Wrapping past zero would read
    /// as "unset" to netlink.
    pub(crate) fn next_generation(&mut self) {
        self.generation = self.generation.checked_add(1).unwrap_or(1);
    }
}
