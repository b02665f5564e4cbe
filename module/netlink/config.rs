// SPDX-License-Identifier: GPL-2.0

//! `config-set` and `config-get`.

use kernel::prelude::*;

use super::refused;
use crate::glue::{uapi, Request, Sleepable};
use crate::netns::NetState;
use crate::netns::Settings;

/// `config-set`: changes the settings given (the policy bounds them).
pub(crate) fn config_set(net: &NetState, req: &Request<'_>, context: &mut Sleepable) -> Result {
    let settings = Settings {
        node_id: req.get_u16(uapi::RINGGATE_A_CONFIG_NODE_ID),
        max_sessions: req.get_u32(uapi::RINGGATE_A_CONFIG_MAX_SESSIONS),
        down_policy: req.get_u32(uapi::RINGGATE_A_CONFIG_DOWN_POLICY),
        conntrack: req.get_u32(uapi::RINGGATE_A_CONFIG_CONNTRACK),
        timeout_syn: req.get_u32(uapi::RINGGATE_A_CONFIG_TIMEOUT_SYN),
        timeout_established: req.get_u32(uapi::RINGGATE_A_CONFIG_TIMEOUT_ESTABLISHED),
        timeout_closing: req.get_u32(uapi::RINGGATE_A_CONFIG_TIMEOUT_CLOSING),
        timeout_udp: req.get_u32(uapi::RINGGATE_A_CONFIG_TIMEOUT_UDP),
    };
    net.configure(context, &settings)
        .map_err(|refusal| refused(req, refusal))
}

/// `config-get`: every setting.
pub(crate) fn config_get(net: &NetState, req: &Request<'_>, _context: &mut Sleepable) -> Result {
    let t = net.timeouts();
    let mut reply = req.reply()?;
    let attrs = reply.attrs()?;
    attrs.put_u16(uapi::RINGGATE_A_CONFIG_NODE_ID, net.node_id())?;
    attrs.put_u32(uapi::RINGGATE_A_CONFIG_MAX_SESSIONS, net.max_sessions())?;
    attrs.put_u32(uapi::RINGGATE_A_CONFIG_TIMEOUT_SYN, t.syn)?;
    attrs.put_u32(uapi::RINGGATE_A_CONFIG_TIMEOUT_ESTABLISHED, t.established)?;
    attrs.put_u32(uapi::RINGGATE_A_CONFIG_TIMEOUT_CLOSING, t.closing)?;
    attrs.put_u32(uapi::RINGGATE_A_CONFIG_TIMEOUT_UDP, t.udp)?;
    attrs.put_u32(uapi::RINGGATE_A_CONFIG_DOWN_POLICY, net.down_policy())?;
    attrs.put_u32(uapi::RINGGATE_A_CONFIG_CONNTRACK, net.conntrack_mode())?;
    reply.send()
}

/// `owner-lease`: starts, renews or (with 0) ends the VIP ownership lease.
pub(crate) fn owner_lease(net: &NetState, req: &Request<'_>, context: &mut Sleepable) -> Result {
    let ms = req.require_u32(uapi::RINGGATE_A_CONFIG_OWNER_LEASE_MS)?;
    net.renew_lease(context, ms)
        .map_err(|refusal| refused(req, refusal))
}
