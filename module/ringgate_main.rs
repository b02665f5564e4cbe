// SPDX-License-Identifier: GPL-2.0

//! ringgate: the data plane of the ringgate gateway cluster.
//!
//! This crate root only wires the pieces together. `glue` is the single layer
//! that touches C (and holds every `unsafe` block); the other modules are safe
//! Rust: `netns` is one network namespace's state, `hooks` decides what happens
//! to a packet, `counters` counts it, `vips` is the pool of virtual IPs and
//! `arp` enforces which of them this node answers for, `services` and
//! `sessions` with `nat` translate VIP traffic to back-ends, and `netlink`
//! answers the generic netlink family.

use kernel::prelude::*;

mod arp;
mod clock;
mod counters;
mod glue;
mod headers;
mod hooks;
mod load;
mod maglev;
mod nat;
mod netlink;
mod netns;
mod placement;
mod schedule;
mod services;
mod sessions;
mod stage;
mod tcp;
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
