// SPDX-License-Identifier: GPL-2.0

//! Changes to a namespace's services and back-ends, as the netlink handlers
//! ask for them, with what they entail for the sessions: the first service
//! activates NAT, a slot given to a new back-end starts its counts anew, and
//! a back-end taken down or removed loses its sessions under the `drop`
//! down policy.

use kernel::c_str;
use kernel::prelude::*;

use super::{NetState, Refusal};
use crate::glue::{uapi, RcuSection, Sleepable};
use crate::load::LoadRef;
use crate::services::{BackendSlot, ServiceKey};
use crate::upsert::Upsert;

const NO_SERVICE: Refusal = Refusal::new(ENOENT, c_str!("no such service"));
const NO_BACKEND: Refusal = Refusal::new(ENOENT, c_str!("no such service or back-end"));
const TABLE_FULL: Refusal = Refusal::new(
    ENOSPC,
    c_str!("the table is full (RINGGATE_MAX_SERVICES / RINGGATE_MAX_BACKENDS)"),
);

/// `err` explained: `missing` for `ENOENT`, a full table for `ENOSPC`.
fn refusal(err: Error, missing: Refusal) -> Refusal {
    if err == TABLE_FULL.err {
        TABLE_FULL
    } else {
        missing.or(err)
    }
}

impl NetState {
    /// Creates the service `key` (scheduler wrr unless `scheduler` says
    /// otherwise) or sets the scheduler of the existing one, if given;
    /// `upsert` says which of the two it may do.
    pub(crate) fn set_service(
        &self,
        context: &mut Sleepable,
        key: ServiceKey,
        scheduler: Option<u8>,
        upsert: Upsert,
    ) -> Result<(), Refusal> {
        let in_pool = {
            let rcu = RcuSection::read_lock(context);
            self.vips.read(&rcu).find(key.vip).is_some()
        };
        if !in_pool {
            return Err(Refusal::new(
                ENOENT,
                c_str!("the service's VIP is not in this namespace's pool"),
            ));
        }
        // Before the service exists: its first packets need the sized
        // table. A request that may not create needs none: the service it
        // may change exists, so NAT is active.
        if upsert.create {
            self.activate_nat(context)?;
        }
        self.services
            .update(context, |table, _| {
                match upsert.action(table.find(&key).is_some()) {
                    Ok(_) => table.set(key, scheduler).map(Ok),
                    Err(conflict) => Ok(Err(conflict)),
                }
            })
            .map_err(|err| refusal(err, NO_SERVICE))?
            .map_err(|conflict| {
                Refusal::conflict(
                    conflict,
                    c_str!("the service already exists"),
                    c_str!("no such service"),
                )
            })
    }

    /// Removes the service `key`.
    pub(crate) fn remove_service(
        &self,
        context: &mut Sleepable,
        key: &ServiceKey,
    ) -> Result<(), Refusal> {
        self.services
            .update(context, |table, _| table.remove(key))
            .map_err(|err| refusal(err, NO_SERVICE))
    }

    /// Adds the back-end `addr`:`port` (network byte order) to service
    /// `key` (weight 1 and up unless `weight` and `up` say otherwise), or
    /// changes the weight and state given of the existing one; `upsert`
    /// says which of the two it may do. The service must exist either way.
    pub(crate) fn set_backend(
        &self,
        context: &mut Sleepable,
        key: &ServiceKey,
        addr: u32,
        port: u16,
        weight: Option<u16>,
        up: Option<bool>,
        upsert: Upsert,
    ) -> Result<(), Refusal> {
        let gone = self
            .services
            .update(context, |table, context| {
                let exists = table.find_backend(key, addr, port).ok_or(ENOENT)?.is_some();
                if let Err(conflict) = upsert.action(exists) {
                    return Ok(Err(conflict));
                }
                let slot = table.set_backend(key, addr, port, weight, up)?;
                // Before the table is published: no packet can pick the new
                // back-end and be counted under the slot's previous one.
                self.backend_placed(context, slot);
                // Which back-end went down, read under the configuration
                // mutex: once it is released, another request may put a new
                // back-end in the slot.
                let gone = (up == Some(false)).then(|| self.load_of(context, slot));
                Ok(Ok(gone))
            })
            .map_err(|err| refusal(err, NO_SERVICE))?
            .map_err(|conflict| {
                Refusal::conflict(
                    conflict,
                    c_str!("the back-end is already in this service"),
                    c_str!("no such back-end in this service"),
                )
            })?;
        if let Some(gone) = gone {
            self.backend_gone(context, gone);
        }
        Ok(())
    }

    /// Removes the back-end `addr`:`port` from service `key`.
    pub(crate) fn remove_backend(
        &self,
        context: &mut Sleepable,
        key: &ServiceKey,
        addr: u32,
        port: u16,
    ) -> Result<(), Refusal> {
        let gone = self
            .services
            .update(context, |table, context| {
                let slot = table.remove_backend(key, addr, port)?;
                Ok(self.load_of(context, slot))
            })
            .map_err(|err| refusal(err, NO_BACKEND))?;
        self.backend_gone(context, gone);
        Ok(())
    }

    /// The back-end in `slot` now, as its sessions record it (service,
    /// back-end and generation).
    fn load_of(&self, context: &mut Sleepable, slot: BackendSlot) -> LoadRef {
        let rcu = RcuSection::read_lock(context);
        self.sessions
            .read(&rcu)
            .loads()
            .current(slot.service, slot.backend)
    }

    /// Applies the down policy to `gone`, a back-end just taken down or
    /// removed from its slot.
    fn backend_gone(&self, context: &mut Sleepable, gone: LoadRef) {
        if self.down_policy() == uapi::RINGGATE_DOWN_POLICY_DROP {
            let rcu = RcuSection::read_lock(context);
            self.sessions.read(&rcu).purge_backend(gone);
        }
    }

    /// A slot got a new back-end: its connection counts and traffic start
    /// anew (the sessions of the slot's previous back-end no longer count
    /// there).
    fn backend_placed(&self, context: &mut Sleepable, slot: BackendSlot) {
        if slot.new {
            let rcu = RcuSection::read_lock(context);
            self.sessions
                .read(&rcu)
                .reset_slot(slot.service, slot.backend);
        }
    }
}
