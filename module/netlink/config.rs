// SPDX-License-Identifier: GPL-2.0

//! `config-set` and `config-get`.

use kernel::prelude::*;

use crate::glue::{uapi, Request};

/// `config-set`: changes the settings given (the policy bounds them).
pub(crate) fn config_set(req: &Request<'_>) -> Result {
    let net = req.net();
    // The only step that can fail goes first, so a refused request changes nothing.
    if let Some(max) = req.get_u32(uapi::RINGGATE_A_CONFIG_MAX_SESSIONS) {
        net.resize_sessions(max)?;
    }
    if let Some(id) = req.get_u16(uapi::RINGGATE_A_CONFIG_NODE_ID) {
        net.set_node_id(id);
    }
    if let Some(policy) = req.get_u32(uapi::RINGGATE_A_CONFIG_DOWN_POLICY) {
        net.set_down_policy(policy);
    }
    net.set_timeouts(
        req.get_u32(uapi::RINGGATE_A_CONFIG_TIMEOUT_SYN),
        req.get_u32(uapi::RINGGATE_A_CONFIG_TIMEOUT_ESTABLISHED),
        req.get_u32(uapi::RINGGATE_A_CONFIG_TIMEOUT_CLOSING),
        req.get_u32(uapi::RINGGATE_A_CONFIG_TIMEOUT_UDP),
    );
    Ok(())
}

/// `config-get`: every setting.
pub(crate) fn config_get(req: &Request<'_>) -> Result {
    let net = req.net();
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
    reply.send()
}
