// SPDX-License-Identifier: GPL-2.0

//! What each back-end of each service carried: packets and bytes each way
//! and connections opened, as `ipvsadm -L --stats` shows them, and what the
//! cluster's load reports are made of.
//!
//! The counters are indexed by back-end slot, kept per CPU (a packet adds
//! to its own CPU's copy: no locked instruction, no shared cache line), and
//! restart from zero when a slot gets a new back-end. A packet counts only
//! under the slot generation its session was created in, so the sessions a
//! removed back-end still has (down policy "keep") never count toward the
//! back-end that took its slot.

use kernel::prelude::*;

use crate::glue::PerCpuArray;
use crate::load::LoadRef;
use crate::services::{MAX_BACKENDS, MAX_SERVICES};

const SLOTS: usize = MAX_SERVICES * MAX_BACKENDS;

// One per-CPU allocation serves at most 32 KiB (PCPU_MIN_UNIT_SIZE); the
// largest here is two counters a slot.
const _: () = assert!(2 * SLOTS * core::mem::size_of::<u64>() <= 32 * 1024);

/// One back-end's totals.
#[derive(Clone, Copy, Default, PartialEq, Eq, Debug)]
pub(crate) struct SlotTraffic {
    /// Connections (sessions) opened to it.
    pub(crate) conns: u64,
    /// Client to back-end.
    pub(crate) packets_in: u64,
    pub(crate) bytes_in: u64,
    /// Back-end to client.
    pub(crate) packets_out: u64,
    pub(crate) bytes_out: u64,
}

/// Which way a counted packet went.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Way {
    ToBackend,
    ToClient,
}

/// The counters of a namespace's back-end slots, shared by its session
/// tables (a resize hands them on, so they never go back nor count twice).
/// Three allocations, because one per-CPU allocation is at most 32 KiB
/// (4096 counters).
pub(crate) struct Traffic {
    /// Packets and bytes per slot, client to back-end.
    to_backend: PerCpuArray,
    /// Packets and bytes per slot, back-end to client.
    to_client: PerCpuArray,
    conns: PerCpuArray,
}

fn slot(service: usize, backend: usize) -> Option<usize> {
    (service < MAX_SERVICES && backend < MAX_BACKENDS).then(|| service * MAX_BACKENDS + backend)
}

fn slot_of(at: LoadRef) -> Option<usize> {
    slot(usize::from(at.service), usize::from(at.backend))
}

impl Traffic {
    pub(crate) fn new() -> Result<Traffic> {
        Ok(Traffic {
            to_backend: PerCpuArray::new(2 * SLOTS)?,
            to_client: PerCpuArray::new(2 * SLOTS)?,
            conns: PerCpuArray::new(SLOTS)?,
        })
    }

    /// Counts a packet of `len` bytes of a session counted under `at`. The
    /// caller checks `at` is the slot's current generation.
    pub(crate) fn count_packet(&self, at: LoadRef, way: Way, len: u32) {
        let Some(i) = slot_of(at) else { return };
        let counters = match way {
            Way::ToBackend => &self.to_backend,
            Way::ToClient => &self.to_client,
        };
        counters.add_pair(2 * i, 1, u64::from(len));
    }

    /// Counts a connection opened to the back-end of `at`.
    pub(crate) fn count_conn(&self, at: LoadRef) {
        if let Some(i) = slot_of(at) {
            self.conns.add(i, 1);
        }
    }

    /// The totals of slot `backend` of service `service`.
    pub(crate) fn totals(&self, service: usize, backend: usize) -> SlotTraffic {
        let Some(i) = slot(service, backend) else {
            return SlotTraffic::default();
        };
        SlotTraffic {
            conns: self.conns.sum(i),
            packets_in: self.to_backend.sum(2 * i),
            bytes_in: self.to_backend.sum(2 * i + 1),
            packets_out: self.to_client.sum(2 * i),
            bytes_out: self.to_client.sum(2 * i + 1),
        }
    }

    /// The slot has a new back-end: its counters start from zero.
    pub(crate) fn reset(&self, service: usize, backend: usize) {
        if let Some(i) = slot(service, backend) {
            self.to_backend.reset(2 * i, 2);
            self.to_client.reset(2 * i, 2);
            self.conns.reset(i, 1);
        }
    }
}
