// SPDX-License-Identifier: GPL-2.0

//! `status-get` and `counters-reset`.

use kernel::prelude::*;

use crate::glue::{uapi, Attrs, Hook, Request, Sleepable};
use crate::netns::NetState;

/// The hooks a request names: the one in `attr`, or all of them.
fn selected_hooks(req: &Request<'_>, attr: u32) -> Result<impl Iterator<Item = Hook>> {
    let only = match req.get_u32(attr) {
        Some(raw) => Some(Hook::from_uapi(raw).ok_or(EINVAL)?),
        None => None,
    };
    Ok(Hook::ALL
        .into_iter()
        .filter(move |hook| only.map_or(true, |only| only == *hook)))
}

/// `status-get`: module version, per-hook counters and ARP counters of this
/// namespace.
pub(crate) fn status_get(net: &NetState, req: &Request<'_>, context: &mut Sleepable) -> Result {
    let hooks = selected_hooks(req, uapi::RINGGATE_A_STATUS_HOOK)?;
    let mut reply = req.reply()?;
    let attrs = reply.attrs()?;
    attrs.put_str(uapi::RINGGATE_A_STATUS_VERSION, crate::VERSION)?;
    for hook in hooks {
        let totals = net.counters.totals(hook);
        attrs.nest(uapi::RINGGATE_A_STATUS_HOOKS, |stats: &mut Attrs<'_>| {
            stats.put_u32(uapi::RINGGATE_A_HOOK_STATS_HOOK, hook.uapi())?;
            stats.put_uint(uapi::RINGGATE_A_HOOK_STATS_PACKETS, totals.packets)?;
            stats.put_uint(uapi::RINGGATE_A_HOOK_STATS_BYTES, totals.bytes)
        })?;
    }
    let status = net.status(context);
    attrs.put_uint(
        uapi::RINGGATE_A_STATUS_ARP_SUPPRESSED,
        status.arp_suppressed,
    )?;
    attrs.put_uint(uapi::RINGGATE_A_STATUS_GARP_SENT, status.garp_sent)?;
    attrs.put_uint(uapi::RINGGATE_A_STATUS_SESSIONS, status.sessions)?;
    attrs.put_uint(
        uapi::RINGGATE_A_STATUS_SESSIONS_DROPPED,
        status.sessions_dropped,
    )?;
    attrs.put_uint(
        uapi::RINGGATE_A_STATUS_SESSIONS_EVICTED,
        status.sessions_evicted,
    )?;
    attrs.put_uint(uapi::RINGGATE_A_STATUS_NO_BACKEND, status.no_backend)?;
    attrs.put_uint(uapi::RINGGATE_A_STATUS_NOT_OWNER, status.not_owner)?;
    attrs.put_uint(uapi::RINGGATE_A_STATUS_REDIRECTED, status.redirected)?;
    attrs.put_uint(uapi::RINGGATE_A_STATUS_PICKED_UP, status.picked_up)?;
    attrs.put_uint(
        uapi::RINGGATE_A_STATUS_SESSION_BUCKETS_USED,
        status.session_buckets_used,
    )?;
    attrs.put_uint(uapi::RINGGATE_A_STATUS_SNAT_NO_PORT, status.snat_no_port)?;
    attrs.put_u32(
        uapi::RINGGATE_A_STATUS_VIP_GENERATION,
        status.vip_generation,
    )?;
    attrs.put_u32(
        uapi::RINGGATE_A_STATUS_SERVICE_GENERATION,
        status.service_generation,
    )?;
    reply.send()
}

/// `counters-reset`: zeroes the named hook's counters, or all of them.
pub(crate) fn counters_reset(
    net: &NetState,
    req: &Request<'_>,
    _context: &mut Sleepable,
) -> Result {
    for hook in selected_hooks(req, uapi::RINGGATE_A_STATUS_HOOK)? {
        net.counters.reset(hook);
    }
    Ok(())
}
