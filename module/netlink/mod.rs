// SPDX-License-Identifier: GPL-2.0

//! Handlers of the `ringgate` generic netlink family.
//!
//! Each handler translates request attributes into calls on the namespace's
//! state and the results into reply attributes; the policy tables generated
//! from the YAML spec have already refused unknown, mistyped and out-of-range
//! attributes before a handler runs. `status` holds the counters' commands,
//! `vip` the pool's, `service` the services' and back-ends'.

mod config;
mod service;
mod session;
mod status;
mod vip;

pub(crate) use config::{config_get, config_set};
pub(crate) use service::{backend_del, backend_set, service_del, service_dump, service_set};
pub(crate) use session::session_dump;
pub(crate) use status::{counters_reset, status_get};
pub(crate) use vip::{vip_add, vip_del, vip_dump, vip_get, vip_set};
