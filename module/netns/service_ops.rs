// SPDX-License-Identifier: GPL-2.0

//! Changes to a namespace's services and back-ends, as the netlink handlers
//! ask for them, with what they entail for the sessions: the first service
//! activates NAT, a slot given to a new back-end starts its counts anew, and
//! a back-end taken down or removed loses its sessions under the `drop`
//! down policy.

use kernel::c_str;
use kernel::prelude::*;

use super::{NetState, Refusal};
use crate::glue::{uapi, RcuSection};
use crate::services::{BackendSlot, ServiceKey, SCHEDULER_WRR};

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
    /// Creates the service `key` or sets its scheduler (`None`: wrr).
    pub(crate) fn set_service(
        &self,
        key: ServiceKey,
        scheduler: Option<u8>,
    ) -> Result<(), Refusal> {
        let in_pool = {
            let rcu = RcuSection::read_lock();
            self.vips.read(&rcu).find(key.vip).is_some()
        };
        if !in_pool {
            return Err(Refusal::new(
                ENOENT,
                c_str!("the service's VIP is not in this namespace's pool"),
            ));
        }
        let scheduler = scheduler.unwrap_or(SCHEDULER_WRR);
        // Before the service exists: its first packets need the sized table.
        self.activate_nat()?;
        self.services
            .update(|table| table.set(key, scheduler))
            .map_err(|err| refusal(err, NO_SERVICE))
    }

    /// Removes the service `key`.
    pub(crate) fn remove_service(&self, key: &ServiceKey) -> Result<(), Refusal> {
        self.services
            .update(|table| table.remove(key))
            .map_err(|err| refusal(err, NO_SERVICE))
    }

    /// Adds the back-end `addr`:`port` (network byte order) to service
    /// `key`, or changes the weight and state given.
    pub(crate) fn set_backend(
        &self,
        key: &ServiceKey,
        addr: u32,
        port: u16,
        weight: Option<u16>,
        up: Option<bool>,
    ) -> Result<(), Refusal> {
        let slot = self
            .services
            .update(|table| {
                let slot = table.set_backend(key, addr, port, weight, up)?;
                // Before the table is published: no packet can pick the new
                // back-end and be counted under the slot's previous one.
                self.backend_placed(slot);
                Ok(slot)
            })
            .map_err(|err| refusal(err, NO_SERVICE))?;
        if up == Some(false) {
            self.backend_gone(slot);
        }
        Ok(())
    }

    /// Removes the back-end `addr`:`port` from service `key`.
    pub(crate) fn remove_backend(
        &self,
        key: &ServiceKey,
        addr: u32,
        port: u16,
    ) -> Result<(), Refusal> {
        let slot = self
            .services
            .update(|table| table.remove_backend(key, addr, port))
            .map_err(|err| refusal(err, NO_BACKEND))?;
        self.backend_gone(slot);
        Ok(())
    }

    /// Applies the down policy to a back-end just taken down or removed
    /// from its slot.
    fn backend_gone(&self, slot: BackendSlot) {
        if self.down_policy() == uapi::RINGGATE_DOWN_POLICY_DROP {
            let rcu = RcuSection::read_lock();
            let sessions = self.sessions.read(&rcu);
            sessions.purge_backend(sessions.loads().current(slot.service, slot.backend));
        }
    }

    /// A slot got a new back-end: its connection counts start anew (the
    /// sessions of the slot's previous back-end no longer count there).
    fn backend_placed(&self, slot: BackendSlot) {
        if slot.new {
            let rcu = RcuSection::read_lock();
            self.sessions
                .read(&rcu)
                .loads()
                .reset(slot.service, slot.backend);
        }
    }
}
