// SPDX-License-Identifier: GPL-2.0

//! The module's pure logic, compiled on the host from the module's own source
//! files (not copies), so `cargo test` can exercise it with inputs a VM test
//! cannot aim precisely: sequence numbers across the 2^32 wrap, exact
//! Maglev shares, every stage transition. Only files without kernel
//! dependencies are included; the crate paths they use (`crate::stage`)
//! resolve to the same files here.
#![allow(dead_code)]

#[path = "../../maglev.rs"]
pub mod maglev;
#[path = "../../stage.rs"]
pub mod stage;
#[path = "../../tcp.rs"]
pub mod tcp;

#[cfg(test)]
mod maglev_tests;
#[cfg(test)]
mod tcp_tests;
