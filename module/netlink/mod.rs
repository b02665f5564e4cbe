// SPDX-License-Identifier: GPL-2.0

//! Handlers of the `ringgate` generic netlink family.
//!
//! Each handler only translates: request attributes into a call on the
//! namespace's state (`NetState`), and its results or refusal into reply
//! attributes or an extended ack. The policy tables generated from the YAML
//! spec have already refused unknown, mistyped and out-of-range attributes
//! before a handler runs. `status` holds the counters' commands, `vip` the
//! pool's, `service` the services' and back-ends', `config` the settings',
//! `session` the session dump.

mod config;
mod service;
mod session;
mod status;
mod vip;

use kernel::prelude::*;

use crate::glue::Request;
use crate::netns::Refusal;

pub(crate) use config::{config_get, config_set};
pub(crate) use service::{backend_del, backend_set, service_del, service_dump, service_set};
pub(crate) use session::session_dump;
pub(crate) use status::{counters_reset, status_get};
pub(crate) use vip::{vip_add, vip_del, vip_dump, vip_get, vip_set};

/// The error a refusal fails the request with, its reason (if any) in the
/// extended ack.
fn refused(req: &Request<'_>, refusal: Refusal) -> Error {
    match refusal.why {
        Some(why) => req.fail(refusal.err, why),
        None => refusal.err,
    }
}
