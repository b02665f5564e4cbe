// SPDX-License-Identifier: GPL-2.0

//! The life of a namespace's session table: allocated when NAT is activated,
//! replaced whole by a resize, swept for expired sessions.

use core::sync::atomic::Ordering;

use kernel::prelude::*;
use kernel::sync::Arc;

use super::NetState;
use crate::glue::{self, uapi, RcuSection, Sleepable};
use crate::services::ServiceKey;
use crate::sessions::{Imported, SessionTable};
use crate::traffic::Traffic;

/// Buckets one sweep step visits: bounded work per step, so a large table
/// never holds the CPU long.
const SWEEP_BUCKETS_PER_STEP: usize = 1024;
/// How long a back-end-side entry stays expired before the sweep may free
/// it for want of a partner (see `SessionTable::sweep`). A resize's move
/// would have to take longer than this for its race with the sweep to
/// return; at most this long after expiry, an idle table's buckets empty.
const ORPHAN_GRACE_SECS: u64 = 10;

impl NetState {
    /// A new, empty session table for `max` sessions, numbered `generation`,
    /// counting its back-ends' traffic into `traffic` (none for the
    /// placeholder of a namespace without NAT).
    pub(super) fn session_table(
        max: u32,
        generation: u32,
        traffic: Option<Arc<Traffic>>,
    ) -> Result<KBox<SessionTable>> {
        Ok(KBox::new(
            SessionTable::new(max as usize, glue::random_u64(), generation, traffic)?,
            GFP_KERNEL,
        )?)
    }

    /// A new session table that replaces `old` (see `SessionTable::generation`):
    /// it goes on counting into `old`'s traffic counters, or, replacing the
    /// placeholder, into new ones.
    fn next_session_table(max: u32, old: &SessionTable) -> Result<KBox<SessionTable>> {
        let traffic = match old.traffic_counters() {
            Some(traffic) => traffic,
            None => Arc::new(Traffic::new()?, GFP_KERNEL)?,
        };
        Self::session_table(max, old.generation().wrapping_add(1).max(1), Some(traffic))
    }

    /// Sizes the session table for `max` sessions (if that is a change).
    /// Before NAT is active only the setting changes (the table is allocated
    /// at activation). After, a new table takes over the live sessions: they
    /// are copied, the new table is published, and after a grace period,
    /// when no packet can still be using the old one, what changed there
    /// meanwhile (sessions opened during the copy) is copied too. Sessions a
    /// smaller table has no room for are dropped and counted. Sleeps.
    pub(crate) fn resize_sessions(&self, context: &mut Sleepable, max: u32) -> Result {
        self.sessions.replace_with(
            context,
            |old, _| {
                if max == self.max_sessions() {
                    return Ok(None);
                }
                let table = if self.nat_active() {
                    let table = Self::next_session_table(max, old)?;
                    table.loads().adopt_generations(old.loads());
                    table.adopt(old, self.clock().now);
                    Some(table)
                } else {
                    None
                };
                self.max_sessions.store(max, Ordering::Relaxed);
                Ok(table)
            },
            |old, new| {
                new.adopt(old, self.clock().now);
                new.adopt_counters(old);
            },
        )?;
        Ok(())
    }

    /// Sweeps the next stretch of the session table for expired entries
    /// (see `SessionTable::sweep`); the ticks until the next stretch: one
    /// while a pass is under way, a second after a pass ends.
    pub(crate) fn sweep_sessions(&self, context: &mut Sleepable) -> u64 {
        let rcu = RcuSection::read_lock(context);
        let clock = self.clock();
        let start = self.sweep_cursor.load(Ordering::Relaxed);
        let next = self.sessions.read(&rcu).sweep(
            start,
            SWEEP_BUCKETS_PER_STEP,
            clock.now,
            clock.ticks(ORPHAN_GRACE_SECS),
        );
        self.sweep_cursor.store(next, Ordering::Relaxed);
        if next == 0 {
            clock.ticks(1)
        } else {
            1
        }
    }

    /// Puts a session another node created into the table (see
    /// `SessionTable::import`), counted under its back-end here; whether it
    /// is there now. Refused if this namespace has no such service or
    /// back-end (its configuration lags the other node's), the back-end is
    /// down and the down policy drops its sessions (as it dropped those
    /// created here), or the table has no room or holds the flow for
    /// another translation; each refusal is counted with the table's
    /// dropped sessions.
    pub(crate) fn import_session(&self, context: &mut Sleepable, session: &Imported) -> bool {
        let rcu = RcuSection::read_lock(context);
        if session.outbound {
            return self.import_outbound(&rcu, session);
        }
        let key = ServiceKey {
            vip: session.client.daddr,
            port: session.client.dport,
            proto: session.client.proto,
        };
        let services = self.services.read(&rcu);
        let sessions = self.sessions.read(&rcu);
        let drops_down = self.down_policy() == uapi::RINGGATE_DOWN_POLICY_DROP;
        let slots = services
            .find(&key)
            .zip(
                services
                    .find_backend(&key, session.backend_addr, session.backend_port)
                    .flatten(),
            )
            .filter(|&(service, backend)| !drops_down || services.backend_up(service, backend));
        let imported = slots.is_some_and(|(service, backend)| {
            sessions
                .import(session, service, backend, self.clock().now)
                .is_ok()
        });
        if !imported {
            sessions.count_refused_import();
        }
        imported
    }

    /// An outbound connection another node translated (see `snat`), taken
    /// if this namespace translates the same way: from a host of its source
    /// prefix, leaving from its VIP. Refused otherwise (its configuration
    /// lags the other node's), as is a table without room; counted.
    fn import_outbound(&self, rcu: &RcuSection<'_>, session: &Imported) -> bool {
        let snat = self.snat.read(rcu);
        let sessions = self.sessions.read(rcu);
        let ours = snat.to() == session.client.daddr && snat.covers(session.backend_addr);
        let imported = ours && sessions.import(session, 0, 0, self.clock().now).is_ok();
        if !imported {
            sessions.count_refused_import();
        }
        imported
    }

    /// Makes the sessions of `vip` that node `from` created this node's
    /// (see `SessionTable::adopt_owner`); how many.
    pub(crate) fn adopt_sessions(&self, context: &mut Sleepable, vip: u32, from: u16) -> u64 {
        let me = self.node_id();
        if from == me {
            return 0;
        }
        let rcu = RcuSection::read_lock(context);
        self.sessions
            .read(&rcu)
            .adopt_owner(vip, from, me, self.clock().now)
    }

    pub(crate) fn nat_active(&self) -> bool {
        self.nat_active.load(Ordering::Relaxed)
    }

    /// Turns the NAT path on for good (sessions outlive their service),
    /// allocating the session table at its configured size: namespaces that
    /// never have a service (most, on a host with containers) keep a
    /// one-bucket table. IPv4 defragmentation is turned on with it, or a
    /// fragmented datagram's later fragments (which carry no ports) would
    /// reach the VIP untranslated. The sweep starts a second later, when
    /// there can first be something to sweep. Sleeps; called before the
    /// first service is published, so no session is lost with the
    /// placeholder.
    pub(super) fn activate_nat(&self, context: &mut Sleepable) -> Result {
        if self.nat_active() {
            return Ok(());
        }
        self.sessions.replace_with(
            context,
            |old, _| {
                if self.nat_active() {
                    return Ok(None);
                }
                let table = Self::next_session_table(self.max_sessions(), old)?;
                self.net.enable_defrag()?;
                self.nat_active.store(true, Ordering::Relaxed);
                Ok(Some(table))
            },
            |_, _| {},
        )?;
        self.net.start_sweep(self.clock().ticks(1));
        Ok(())
    }
}
