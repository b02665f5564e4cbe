// SPDX-License-Identifier: GPL-2.0

//! Handlers of the `ringgate` generic netlink family.
//!
//! Each handler only translates: request attributes into a call on the
//! namespace's state (`NetState`), and its results or refusal into reply
//! attributes or an extended ack. The policy tables generated from the YAML
//! spec have already refused unknown, mistyped and out-of-range attributes
//! before a handler runs. `status` holds the counters' commands, `vip` the
//! pool's, `service` the services' and back-ends', `config` the settings',
//! `session` the session dump and import, `peer` the peer table, `snat` the
//! outbound translation.

mod config;
mod peer;
mod service;
mod session;
mod snat;
mod status;
mod vip;

use kernel::prelude::*;

use crate::glue::{uapi, Dump, Request, Sleepable};
use crate::netns::{NetState, Refusal};

pub(crate) use session::put_session;

/// Answers a request of command `cmd` in the namespace of `net`.
pub(crate) fn request(
    net: &NetState,
    cmd: u32,
    req: &Request<'_>,
    context: &mut Sleepable,
) -> Result {
    let handler = match cmd {
        uapi::RINGGATE_CMD_STATUS_GET => status::status_get,
        uapi::RINGGATE_CMD_COUNTERS_RESET => status::counters_reset,
        uapi::RINGGATE_CMD_VIP_ADD => vip::vip_add,
        uapi::RINGGATE_CMD_VIP_DEL => vip::vip_del,
        uapi::RINGGATE_CMD_VIP_SET => vip::vip_set,
        uapi::RINGGATE_CMD_VIP_GET => vip::vip_get,
        uapi::RINGGATE_CMD_SERVICE_ADD => service::service_add,
        uapi::RINGGATE_CMD_SERVICE_SET => service::service_set,
        uapi::RINGGATE_CMD_SERVICE_DEL => service::service_del,
        uapi::RINGGATE_CMD_BACKEND_ADD => service::backend_add,
        uapi::RINGGATE_CMD_BACKEND_SET => service::backend_set,
        uapi::RINGGATE_CMD_BACKEND_DEL => service::backend_del,
        uapi::RINGGATE_CMD_CONFIG_SET => config::config_set,
        uapi::RINGGATE_CMD_CONFIG_GET => config::config_get,
        uapi::RINGGATE_CMD_OWNER_LEASE => config::owner_lease,
        uapi::RINGGATE_CMD_SESSION_IMPORT => session::session_import,
        uapi::RINGGATE_CMD_SESSION_ADOPT => session::session_adopt,
        uapi::RINGGATE_CMD_PEER_SET => peer::peer_set,
        uapi::RINGGATE_CMD_SNAT_SET => snat::snat_set,
        uapi::RINGGATE_CMD_SNAT_GET => snat::snat_get,
        // The ops table has no other command.
        _ => return Err(EINVAL),
    };
    // A lease that ran out is recorded first, so every request sees and
    // changes the pool as the packet path already treats it.
    net.expire_lease(context)
        .map_err(|refusal| refused(req, refusal))?;
    handler(net, req, context)
}

/// Fills one part of a dump of command `cmd` in the namespace of `net`.
pub(crate) fn dump(
    net: &NetState,
    cmd: u32,
    dump: &mut Dump<'_>,
    context: &mut Sleepable,
) -> Result {
    net.expire_lease(context).map_err(|refusal| refusal.err)?;
    match cmd {
        uapi::RINGGATE_CMD_VIP_GET => vip::vip_dump(net, dump, context),
        uapi::RINGGATE_CMD_SERVICE_GET => service::service_dump(net, dump, context),
        uapi::RINGGATE_CMD_SESSION_GET => session::session_dump(net, dump, context),
        _ => Err(EINVAL),
    }
}

/// The error a refusal fails the request with, its reason (if any) in the
/// extended ack.
fn refused(req: &Request<'_>, refusal: Refusal) -> Error {
    match refusal.why {
        Some(why) => req.fail(refusal.err, why),
        None => refusal.err,
    }
}
