// SPDX-License-Identifier: GPL-2.0

//! `snat-set` and `snat-get`.

use kernel::c_str;
use kernel::prelude::*;

use crate::glue::{uapi, RcuSection, Request, Sleepable};
use crate::netns::NetState;
use crate::snat::{Snat, SnatError};

/// `snat-set`: the whole translation (its ports optional: a node the
/// cluster left none), or nothing (off). A request with only some of the
/// attributes, or values no translation can have, changes nothing.
pub(crate) fn snat_set(net: &NetState, req: &Request<'_>, context: &mut Sleepable) -> Result {
    use uapi::*;
    let ports = match (
        req.get_u16(RINGGATE_A_SNAT_PORT_LO),
        req.get_u16(RINGGATE_A_SNAT_PORT_HI),
    ) {
        (Some(lo), Some(hi)) => Some((lo, hi)),
        (None, None) => None,
        _ => return Err(req.fail(EINVAL, c_str!("port-lo and port-hi go together"))),
    };
    let given = (
        req.get_u32(RINGGATE_A_SNAT_SOURCE),
        req.get_u8(RINGGATE_A_SNAT_PREFIX_LEN),
        req.get_u32(RINGGATE_A_SNAT_TO),
    );
    let snat = match given {
        (None, None, None) if ports.is_none() => Snat::OFF,
        (Some(source), Some(len), Some(to)) => {
            Snat::new(source, len, to, ports).map_err(|e| match e {
                SnatError::HostBits => req.fail(
                    EINVAL,
                    c_str!("the source prefix has bits set beyond its length"),
                ),
                SnatError::PrefixLength => {
                    req.fail(EINVAL, c_str!("a prefix is at most 32 bits long"))
                }
                SnatError::NoAddress => req.fail(
                    EINVAL,
                    c_str!("to is a VIP: not 0, loopback, multicast or broadcast"),
                ),
                SnatError::Range => req.fail(
                    EINVAL,
                    c_str!("port-hi must not be below port-lo, which is 1024 or more"),
                ),
            })?
        }
        _ => {
            return Err(req.fail(
                EINVAL,
                c_str!("source, prefix-len and to go together (none turns it off)"),
            ))
        }
    };
    net.set_snat(context, &snat)
}

/// `snat-get`: the translation's attributes (no ports when this node has
/// none), or none at all when it is off.
pub(crate) fn snat_get(net: &NetState, req: &Request<'_>, context: &mut Sleepable) -> Result {
    use uapi::*;
    let snat = {
        let rcu = RcuSection::read_lock(context);
        *net.snat.read(&rcu)
    };
    let mut reply = req.reply()?;
    let attrs = reply.attrs()?;
    if snat.is_on() {
        attrs.put_u32(RINGGATE_A_SNAT_SOURCE, snat.source())?;
        attrs.put_u8(RINGGATE_A_SNAT_PREFIX_LEN, snat.prefix_len())?;
        attrs.put_u32(RINGGATE_A_SNAT_TO, snat.to())?;
        if snat.has_ports() {
            attrs.put_u16(RINGGATE_A_SNAT_PORT_LO, snat.port_lo())?;
            attrs.put_u16(RINGGATE_A_SNAT_PORT_HI, snat.port_hi())?;
        }
    }
    reply.send()
}
