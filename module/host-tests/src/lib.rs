// SPDX-License-Identifier: GPL-2.0

//! The module's pure logic, compiled on the host from the module's own source
//! files (not copies), so `cargo test` can exercise it with inputs a VM test
//! cannot aim precisely: sequence numbers across the 2^32 wrap, the tick
//! counter at its edges, exact Maglev shares, every stage transition, the
//! session table's placement and eviction choice over hand-made buckets,
//! round-robin sequences, malformed headers, the VIP pool and ARP
//! suppression. Only files without kernel
//! dependencies are included; the crate paths they use (`crate::stage`)
//! resolve to the same files here.
#![allow(dead_code)]

#[path = "../../arp.rs"]
pub mod arp;
#[path = "../../backend_index.rs"]
pub mod backend_index;
#[path = "../../clock.rs"]
pub mod clock;
#[path = "../../flow.rs"]
pub mod flow;
#[path = "../../headers.rs"]
pub mod headers;
#[path = "../../lease.rs"]
pub mod lease;
#[path = "../../maglev.rs"]
pub mod maglev;
#[path = "../../occupancy.rs"]
pub mod occupancy;
#[path = "../../peers.rs"]
pub mod peers;
#[path = "../../placement.rs"]
pub mod placement;
#[path = "../../schedule.rs"]
pub mod schedule;
#[path = "../../service.rs"]
pub mod service;
#[path = "../../sessions/filter.rs"]
pub mod session_filter;
#[path = "../../snat.rs"]
pub mod snat;
#[path = "../../stage.rs"]
pub mod stage;
#[path = "../../tcp.rs"]
pub mod tcp;
#[path = "../../upsert.rs"]
pub mod upsert;
#[path = "../../vips.rs"]
pub mod vips;

#[cfg(test)]
mod arp_tests;
#[cfg(test)]
mod backend_index_tests;
#[cfg(test)]
mod clock_tests;
#[cfg(test)]
mod flow_tests;
#[cfg(test)]
mod headers_tests;
#[cfg(test)]
mod lease_tests;
#[cfg(test)]
mod maglev_tests;
#[cfg(test)]
mod occupancy_tests;
#[cfg(test)]
mod peers_tests;
#[cfg(test)]
mod placement_tests;
#[cfg(test)]
mod review_tests;
#[cfg(test)]
mod schedule_tests;
#[cfg(test)]
mod service_tests;
#[cfg(test)]
mod session_filter_tests;
#[cfg(test)]
mod snat_tests;
#[cfg(test)]
mod stage_tests;
#[cfg(test)]
mod tcp_tests;
#[cfg(test)]
mod upsert_tests;
#[cfg(test)]
mod vips_tests;
