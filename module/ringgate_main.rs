// SPDX-License-Identifier: GPL-2.0

//! ringgate: the data plane of the ringgate gateway cluster.
//!
//! This crate root only wires the pieces together, in layers that each call
//! only those below them:
//!
//! - `glue`, the wrapper layer: the single layer that touches C and holds
//!   every `unsafe` block. Like the kernel's own abstractions it names no
//!   type of this module: C calls up only through its `Namespace` trait,
//!   which `netns::NetState` implements and `glue::Registration` registers.
//! - `netns`, one network namespace's state and every operation on it;
//!   `netlink`, whose handlers translate requests into those operations.
//! - `hooks`, `nat`: what happens to a packet at each hook.
//! - `sessions`, `services`, `load`, `counters`: the tables, over the glue's
//!   locks, RCU and per-CPU memory.
//! - Pure logic with no kernel dependency, also tested on the host
//!   (`module/host-tests`): `clock`, `flow`, `headers` (packet parsing),
//!   `placement`, `schedule`, `stage`, `tcp`, `maglev`, `service`, `vips`,
//!   `arp`, `upsert`.
//!
//! The domain logic never reads the clock: the hook, the sweep or the
//! request that calls it passes the moment down.

use kernel::prelude::*;

mod arp;
mod backend_index;
mod clock;
mod counters;
mod flow;
mod glue;
mod headers;
mod hooks;
mod lease;
mod load;
mod maglev;
mod nat;
mod netlink;
mod netns;
mod occupancy;
mod peers;
mod placement;
mod schedule;
mod service;
mod services;
mod sessions;
mod snat;
mod stage;
mod tcp;
mod traffic;
mod upsert;
mod vips;
mod wire;

module! {
    type: Ringgate,
    name: "ringgate",
    author: "ringgate developers",
    description: "ringgate gateway cluster data plane",
    license: "GPL",
}

/// The version reported by the status command.
pub(crate) const VERSION: &str = "0.1.0";

struct Ringgate {
    _registration: glue::Registration<netns::NetState>,
}

impl kernel::Module for Ringgate {
    fn init(_module: &'static ThisModule) -> Result<Self> {
        let registration = glue::Registration::<netns::NetState>::new()?;
        pr_info!("ringgate {} loaded\n", VERSION);
        Ok(Ringgate {
            _registration: registration,
        })
    }
}

impl Drop for Ringgate {
    fn drop(&mut self) {
        pr_info!("ringgate {} unloading\n", VERSION);
    }
}
