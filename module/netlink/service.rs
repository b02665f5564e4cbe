// SPDX-License-Identifier: GPL-2.0

//! `service-set`, `service-del`, `backend-set`, `backend-del` and the
//! `service-get` dump.

use kernel::c_str;
use kernel::prelude::*;

use super::refused;
use crate::glue::{uapi, Attrs, BackendNest, Dump, RcuSection, Request, Sleepable};
use crate::netns::NetState;
use crate::services::{Service, ServiceKey, TCP, UDP};
use crate::sessions::SessionTable;
use crate::upsert::Upsert;

/// The back-end nest of a service request.
const BACKEND: u32 = uapi::RINGGATE_A_SERVICE_BACKEND;

/// The service a request names; its VIP must be in the pool.
fn service_key(req: &Request<'_>) -> Result<ServiceKey> {
    let vip = req.require_u32(uapi::RINGGATE_A_SERVICE_VIP)?;
    let port = req
        .get_u16(uapi::RINGGATE_A_SERVICE_PORT)
        .ok_or_else(|| req.missing(uapi::RINGGATE_A_SERVICE_PORT))?;
    let proto = req.require_u8(uapi::RINGGATE_A_SERVICE_PROTO)?;
    if proto != TCP && proto != UDP {
        return Err(req.fail(EINVAL, c_str!("proto must be 6 (TCP) or 17 (UDP)")));
    }
    Ok(ServiceKey {
        vip,
        port: port.to_be(),
        proto,
    })
}

/// `service-add`: creates the service.
pub(crate) fn service_add(net: &NetState, req: &Request<'_>, context: &mut Sleepable) -> Result {
    set_service(net, req, context, Upsert::ADD)
}

/// `service-set`: sets an existing service's scheduler.
pub(crate) fn service_set(net: &NetState, req: &Request<'_>, context: &mut Sleepable) -> Result {
    set_service(net, req, context, Upsert::CHANGE)
}

fn set_service(
    net: &NetState,
    req: &Request<'_>,
    context: &mut Sleepable,
    upsert: Upsert,
) -> Result {
    let key = service_key(req)?;
    let scheduler = req
        .get_u32(uapi::RINGGATE_A_SERVICE_SCHEDULER)
        .map(|s| s as u8);
    net.set_service(context, key, scheduler, upsert)
        .map_err(|refusal| refused(req, refusal))
}

/// `service-del`: removes the service.
pub(crate) fn service_del(net: &NetState, req: &Request<'_>, context: &mut Sleepable) -> Result {
    let key = service_key(req)?;
    net.remove_service(context, &key)
        .map_err(|refusal| refused(req, refusal))
}

/// The back-end nest of a request, which must have one.
fn backend_nest<'a>(req: &'a Request<'a>) -> Result<BackendNest<'a>> {
    req.backend_nest(BACKEND)?
        .ok_or_else(|| req.missing(BACKEND))
}

/// The back-end a nest names (address, port in network byte order).
fn backend_of(nest: &BackendNest<'_>) -> Result<(u32, u16)> {
    let addr = nest
        .u32(uapi::RINGGATE_A_BACKEND_ADDR)
        .ok_or_else(|| nest.missing(uapi::RINGGATE_A_BACKEND_ADDR))?;
    let port = nest
        .u16(uapi::RINGGATE_A_BACKEND_PORT)
        .ok_or_else(|| nest.missing(uapi::RINGGATE_A_BACKEND_PORT))?;
    Ok((addr, port.to_be()))
}

/// `backend-add`: adds a back-end to a service.
pub(crate) fn backend_add(net: &NetState, req: &Request<'_>, context: &mut Sleepable) -> Result {
    set_backend(net, req, context, Upsert::ADD)
}

/// `backend-set`: changes a back-end's weight and state.
pub(crate) fn backend_set(net: &NetState, req: &Request<'_>, context: &mut Sleepable) -> Result {
    set_backend(net, req, context, Upsert::CHANGE)
}

fn set_backend(
    net: &NetState,
    req: &Request<'_>,
    context: &mut Sleepable,
    upsert: Upsert,
) -> Result {
    let key = service_key(req)?;
    let nest = backend_nest(req)?;
    let (addr, port) = backend_of(&nest)?;
    let read_only = [
        uapi::RINGGATE_A_BACKEND_ACTIVE_CONNS,
        uapi::RINGGATE_A_BACKEND_INACTIVE_CONNS,
        uapi::RINGGATE_A_BACKEND_CONNS,
        uapi::RINGGATE_A_BACKEND_PACKETS_IN,
        uapi::RINGGATE_A_BACKEND_BYTES_IN,
        uapi::RINGGATE_A_BACKEND_PACKETS_OUT,
        uapi::RINGGATE_A_BACKEND_BYTES_OUT,
    ];
    if read_only.iter().any(|&attr| nest.has(attr)) {
        return Err(req.fail(
            EINVAL,
            c_str!("the connection and traffic counts are read-only"),
        ));
    }
    // The policy bounds the weight to 1..=1000.
    let weight = nest
        .u32(uapi::RINGGATE_A_BACKEND_WEIGHT)
        .map(|w| w.min(u32::from(u16::MAX)) as u16);
    let up = nest.u8(uapi::RINGGATE_A_BACKEND_UP).map(|u| u == 1);
    net.set_backend(context, &key, addr, port, weight, up, upsert)
        .map_err(|refusal| refused(req, refusal))
}

/// `backend-del`: removes the back-end.
pub(crate) fn backend_del(net: &NetState, req: &Request<'_>, context: &mut Sleepable) -> Result {
    let key = service_key(req)?;
    let (addr, port) = backend_of(&backend_nest(req)?)?;
    net.remove_backend(context, &key, addr, port)
        .map_err(|refusal| refused(req, refusal))
}

fn put_service(
    attrs: &mut Attrs<'_>,
    slot: usize,
    service: &Service,
    sessions: &SessionTable,
) -> Result {
    attrs.put_u32(uapi::RINGGATE_A_SERVICE_VIP, service.key.vip)?;
    attrs.put_u16(
        uapi::RINGGATE_A_SERVICE_PORT,
        u16::from_be(service.key.port),
    )?;
    attrs.put_u8(uapi::RINGGATE_A_SERVICE_PROTO, service.key.proto)?;
    attrs.put_u32(
        uapi::RINGGATE_A_SERVICE_SCHEDULER,
        u32::from(service.scheduler),
    )?;
    for (index, backend) in service.backends.iter().enumerate().filter(|(_, b)| b.used) {
        attrs.nest(uapi::RINGGATE_A_SERVICE_BACKENDS, |b: &mut Attrs<'_>| {
            b.put_u32(uapi::RINGGATE_A_BACKEND_ADDR, backend.addr)?;
            b.put_u16(uapi::RINGGATE_A_BACKEND_PORT, u16::from_be(backend.port))?;
            b.put_u32(uapi::RINGGATE_A_BACKEND_WEIGHT, u32::from(backend.weight))?;
            b.put_u8(uapi::RINGGATE_A_BACKEND_UP, u8::from(backend.up))?;
            let load = sessions.loads().load(slot, index);
            b.put_u32(uapi::RINGGATE_A_BACKEND_ACTIVE_CONNS, load.active)?;
            b.put_u32(uapi::RINGGATE_A_BACKEND_INACTIVE_CONNS, load.inactive)?;
            let traffic = sessions.traffic(slot, index);
            b.put_uint(uapi::RINGGATE_A_BACKEND_CONNS, traffic.conns)?;
            b.put_uint(uapi::RINGGATE_A_BACKEND_PACKETS_IN, traffic.packets_in)?;
            b.put_uint(uapi::RINGGATE_A_BACKEND_BYTES_IN, traffic.bytes_in)?;
            b.put_uint(uapi::RINGGATE_A_BACKEND_PACKETS_OUT, traffic.packets_out)?;
            b.put_uint(uapi::RINGGATE_A_BACKEND_BYTES_OUT, traffic.bytes_out)
        })?;
    }
    Ok(())
}

/// `service-get` (dump): every service; the cursor is a service slot.
pub(crate) fn service_dump(net: &NetState, dump: &mut Dump<'_>, context: &mut Sleepable) -> Result {
    let rcu = RcuSection::read_lock(context);
    let table = net.services.read(&rcu);
    let sessions = net.sessions.read(&rcu);
    dump.set_generation(table.generation());
    let start = dump.cursor();
    let mut cursor = start;
    for (slot, service) in table.services().filter(|(slot, _)| *slot >= start) {
        if !dump.entry(|attrs| put_service(attrs, slot, service, sessions))? {
            break;
        }
        cursor = slot + 1;
    }
    dump.set_cursor(cursor);
    Ok(())
}
