// SPDX-License-Identifier: GPL-2.0

//! Changes to a namespace's VIP pool, as the netlink handlers ask for them.

use kernel::c_str;
use kernel::prelude::*;

use core::sync::atomic::Ordering;

use super::{NetState, Refusal};
use crate::arp::{self, TargetHw};
use crate::glue::{self, uapi, ArpTargetHw, RcuSection, Sleepable, Versioned};
use crate::lease::LeaseEnd;
use crate::upsert::Upsert;
use crate::vips::{Change, PoolError, Vip, VipTable, MAX_VIPS};

// The pool holds as many VIPs as the UAPI header says.
const _: () = assert!(MAX_VIPS == uapi::RINGGATE_MAX_VIPS as usize);

impl Versioned for VipTable {
    fn advance_generation(&mut self) {
        self.next_generation();
    }

    /// A release (or the removal of an owned VIP) must be over when the
    /// request is answered: the daemon then tells a peer to take the VIP,
    /// and a packet path still reading the old table must not answer ARP
    /// for it after that. Adding a VIP or taking one may show a moment late.
    fn withdraws(old: &VipTable, new: &VipTable) -> bool {
        old.entries()
            .iter()
            .filter(|vip| vip.owned)
            .any(|vip| !new.find(vip.addr).is_some_and(|now| now.owned))
    }
}

/// What a `vip-set` changes of one VIP: each `None` stays as it is.
#[derive(Clone, Copy)]
pub(crate) struct VipChange {
    pub(crate) owned: Option<bool>,
    pub(crate) garp_count: Option<u8>,
    pub(crate) owner_node: Option<u16>,
}

/// The error a refused pool change fails with.
fn errno(err: PoolError) -> Error {
    match err {
        PoolError::Full => ENOSPC,
        PoolError::Missing => ENOENT,
    }
}

/// The VIPs a lease's end released, for the notifications sent once the
/// pool's lock is dropped.
struct Released {
    addrs: [u32; MAX_VIPS],
    count: usize,
}

impl Released {
    fn none() -> Released {
        Released {
            addrs: [0; MAX_VIPS],
            count: 0,
        }
    }
}

/// Sets every owned VIP of `table` not owned.
fn release_owned(table: &mut VipTable) -> Result<Released> {
    let mut released = Released::none();
    let owned = table.entries().iter().filter(|vip| vip.owned);
    for (slot, vip) in released.addrs.iter_mut().zip(owned) {
        *slot = vip.addr;
        released.count += 1;
    }
    for addr in &released.addrs[..released.count] {
        table.set_owned(*addr, false).map_err(errno)?;
    }
    Ok(released)
}

const POOL_FULL: Refusal = Refusal::new(ENOSPC, c_str!("the VIP pool is full (RINGGATE_MAX_VIPS)"));
const NOT_IN_POOL: Refusal = Refusal::new(ENOENT, c_str!("no such VIP in this namespace's pool"));
fn not_configured() -> Refusal {
    Refusal::new(
        glue::eaddrnotavail(),
        c_str!("the VIP is not configured on any interface of this namespace"),
    )
}

impl NetState {
    /// The VIP `addr`, if it is in the pool.
    pub(crate) fn vip(&self, context: &mut Sleepable, addr: u32) -> Option<Vip> {
        let rcu = RcuSection::read_lock(context);
        self.vips.read(&rcu).find(addr).copied()
    }

    /// Adds `addr` to the pool (not owned, `garp_count` defaulting to
    /// `DEFAULT_GARP_COUNT`) or, for one already there, sets the GARP
    /// count if one is given; `upsert` says which of the two it may do.
    pub(crate) fn set_vip(
        &self,
        context: &mut Sleepable,
        addr: u32,
        garp_count: Option<u8>,
        upsert: Upsert,
    ) -> Result<(), Refusal> {
        self.vips
            .update(context, |table, _| {
                match upsert.action(table.find(addr).is_some()) {
                    Ok(_) => table.add(addr, garp_count).map(|_| Ok(())).map_err(errno),
                    Err(conflict) => Ok(Err(conflict)),
                }
            })
            .map_err(|err| POOL_FULL.or(err))?
            .map_err(|conflict| {
                Refusal::conflict(
                    conflict,
                    c_str!("the VIP is already in this namespace's pool"),
                    c_str!("no such VIP in this namespace's pool"),
                )
            })
    }

    /// Removes `addr` from the pool.
    pub(crate) fn remove_vip(&self, context: &mut Sleepable, addr: u32) -> Result<(), Refusal> {
        self.vips
            .update(context, |table, _| table.remove(addr).map_err(errno))
            .map_err(|err| NOT_IN_POOL.or(err))
    }

    /// Changes what `change` gives of `addr`; a change of nothing is
    /// refused. Everything that can refuse is checked before anything
    /// changes: a VIP in the pool, and for taking it, an interface holding
    /// it.
    pub(crate) fn change_vip(
        &self,
        context: &mut Sleepable,
        addr: u32,
        change: VipChange,
    ) -> Result<(), Refusal> {
        let VipChange {
            owned,
            garp_count,
            owner_node,
        } = change;
        if owned.is_none() && garp_count.is_none() && owner_node.is_none() {
            return Err(Refusal::new(
                EINVAL,
                c_str!("vip-set needs owned, garp-count or owner-node: nothing to change"),
            ));
        }
        if self.vip(context, addr).is_none() {
            return Err(NOT_IN_POOL);
        }
        if owned == Some(true) && self.net.device_holding(addr).is_none() {
            return Err(not_configured());
        }
        if garp_count.is_some() {
            self.set_vip(context, addr, garp_count, Upsert::CHANGE)?;
        }
        if let Some(node) = owner_node {
            self.vips
                .update(context, |table, _| {
                    table.set_owner_node(addr, node).map_err(errno)
                })
                .map_err(|err| NOT_IN_POOL.or(err))?;
        }
        match owned {
            Some(owned) => self.set_vip_owned(context, addr, owned),
            None => Ok(()),
        }
    }

    /// Takes or releases `addr`. Taking it announces it with gratuitous ARP
    /// once the pool says it is owned, so the announcements are not
    /// themselves suppressed; a change is notified to listeners.
    pub(crate) fn set_vip_owned(
        &self,
        context: &mut Sleepable,
        addr: u32,
        owned: bool,
    ) -> Result<(), Refusal> {
        if self.vip(context, addr).is_none() {
            return Err(NOT_IN_POOL);
        }
        let not_configured = not_configured();
        // Refuse before changing anything if no interface here holds it.
        if owned && self.net.device_holding(addr).is_none() {
            return Err(not_configured);
        }
        let (change, garp_count) = self
            .vips
            .update(context, |table, _| {
                let change = if owned {
                    table.take(addr, self.clock().now)
                } else {
                    table.set_owned(addr, false)
                }
                .map_err(errno)?;
                let garp_count = table.find(addr).map_or(0, |vip| vip.garp_count);
                Ok((change, garp_count))
            })
            .map_err(|err| NOT_IN_POOL.or(err))?;
        if change == Change::Changed {
            self.notify_owner(addr, owned);
            if owned {
                self.announce(addr, garp_count)
                    .map_err(|err| not_configured.or(err))?;
            }
        }
        Ok(())
    }

    /// Starts or renews the ownership lease for `ms` milliseconds from now
    /// (0 ends it). A lease that had run out is recorded as the release it
    /// was, so a late renewal cannot bring back VIPs whose peers may have
    /// taken them over meanwhile.
    pub(crate) fn renew_lease(&self, context: &mut Sleepable, ms: u32) -> Result<(), Refusal> {
        // Whoever renews is there to announce sessions (see
        // `announcer_missing`); if it does not listen, the next new
        // connection finds out.
        self.announcer_gone.store(false, Ordering::Relaxed);
        // Under the writers' lock, so that no expiry runs between reading
        // the old end and storing the new one.
        let (released, ran_out) = self.vips.update(context, |table, _| {
            let old = LeaseEnd(self.lease_end.load(Ordering::Relaxed));
            if old.running(self.clock().now.saturating_add(1)) {
                // A tick or more left: no packet has seen it run out, and the
                // store follows at once. (Only a preemption of more than a
                // tick right here could let a packet see the end pass before
                // the new one lands.)
                let end = LeaseEnd::after(self.clock(), ms);
                self.lease_end.store(end.0, Ordering::SeqCst);
                return Ok((Released::none(), false));
            }
            // Run out, or about to: recorded as the release it was. The new
            // lease starts below, once this release has been published and
            // waited for (see `withdraws`): a packet still reading the old
            // table must not find its VIPs owned under the new lease.
            Ok((release_owned(table)?, true))
        })?;
        if ran_out {
            let end = LeaseEnd::after(self.clock(), ms);
            self.lease_end.store(end.0, Ordering::SeqCst);
        }
        self.notify_released(released);
        Ok(())
    }

    /// If the ownership lease has run out, releases every owned VIP in the
    /// pool (the packet path already treats them as released) and ends the
    /// lease, notifying listeners of each release. Every request calls it
    /// first, so what a request sees or changes is the pool as it is now.
    pub(crate) fn expire_lease(&self, context: &mut Sleepable) -> Result<(), Refusal> {
        let end = self.lease_end.load(Ordering::Relaxed);
        if !LeaseEnd(end).expired(self.clock().now) {
            return Ok(());
        }
        let released = self.vips.update(context, |table, _| {
            let released = release_owned(table)?;
            // Ended under the writers' lock, and only if no renewal came
            // meanwhile (renewals store their end under the same lock).
            let _ = self.lease_end.compare_exchange(
                end,
                LeaseEnd::NONE.0,
                Ordering::Relaxed,
                Ordering::Relaxed,
            );
            Ok(released)
        });
        self.notify_released(released.map_err(Refusal::from)?);
        Ok(())
    }

    fn notify_released(&self, released: Released) {
        for addr in &released.addrs[..released.count] {
            self.notify_owner(*addr, false);
        }
    }

    /// Sends `pairs` announcements of `addr` (see `arp::ANNOUNCEMENT`) from
    /// the interface holding it, counting the packets.
    fn announce(&self, addr: u32, pairs: u8) -> Result {
        let device = self
            .net
            .device_holding(addr)
            .ok_or_else(glue::eaddrnotavail)?;
        for _ in 0..pairs {
            for (op, target_hw) in arp::ANNOUNCEMENT {
                let target_hw = match target_hw {
                    TargetHw::Unknown => ArpTargetHw::Unknown,
                    TargetHw::Own => ArpTargetHw::Own,
                };
                device.send_arp(op, addr, target_hw);
            }
        }
        self.count_garp_sent(u32::from(pairs) * arp::ANNOUNCEMENT.len() as u32);
        Ok(())
    }
}
