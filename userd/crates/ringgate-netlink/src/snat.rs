//! Outbound translation: `snat-set` and `snat-get` (see the module's
//! `snat.rs`).

use std::net::Ipv4Addr;

use ringgate_uapi as uapi;
use serde::Serialize;

use crate::decode::Decoder;
use crate::names::Set;
use crate::peer::PortRange;
use crate::wire::attrs;
use crate::{Client, Error};

/// Connections that hosts of `source/prefix_len` open through this node to
/// addresses outside the pool leave from VIP `to`, with a port of `ports`.
/// Without ports (a node the cluster left none) the node opens no outbound
/// connection but knows the translation's sessions and sends replies on to
/// the node whose range holds their port.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
pub struct Snat {
    pub source: Ipv4Addr,
    pub prefix_len: u8,
    pub to: Ipv4Addr,
    pub ports: Option<PortRange>,
}

impl Snat {
    /// The reply of `snat-get`: `None` when translation is off.
    pub(crate) fn decode(payload: &[u8]) -> Result<Option<Snat>, Error> {
        use uapi::*;
        let d = Decoder {
            op: "snat-get",
            set: Set::SNAT,
        };
        let (mut source, mut len, mut to, mut lo, mut hi) = (None, None, None, None, None);
        for attr in attrs(payload) {
            let (k, p) = (attr.kind, attr.payload);
            match k {
                RINGGATE_A_SNAT_SOURCE => source = Some(d.addr(k, p)?),
                RINGGATE_A_SNAT_PREFIX_LEN => len = Some(d.u8(k, p)?),
                RINGGATE_A_SNAT_TO => to = Some(d.addr(k, p)?),
                RINGGATE_A_SNAT_PORT_LO => lo = Some(d.u16(k, p)?),
                RINGGATE_A_SNAT_PORT_HI => hi = Some(d.u16(k, p)?),
                _ => {}
            }
        }
        if source.is_none() {
            return Ok(None);
        }
        Ok(Some(Snat {
            source: d.need(RINGGATE_A_SNAT_SOURCE, source)?,
            prefix_len: d.need(RINGGATE_A_SNAT_PREFIX_LEN, len)?,
            to: d.need(RINGGATE_A_SNAT_TO, to)?,
            ports: match (lo, hi) {
                (None, None) => None,
                _ => Some(PortRange {
                    first: d.need(RINGGATE_A_SNAT_PORT_LO, lo)?,
                    last: d.need(RINGGATE_A_SNAT_PORT_HI, hi)?,
                }),
            },
        }))
    }
}

impl Client {
    /// Sets the outbound translation (`None`: turns it off). The module
    /// refuses a prefix with bits beyond its length, a range starting below
    /// 1024 or ending before it starts, and changes nothing.
    pub fn snat_set(&self, snat: Option<&Snat>) -> Result<(), Error> {
        use uapi::*;
        self.call(
            RINGGATE_CMD_SNAT_SET,
            |r| {
                if let Some(s) = snat {
                    r.put(RINGGATE_A_SNAT_SOURCE, &s.source.octets())
                        .put_u8(RINGGATE_A_SNAT_PREFIX_LEN, s.prefix_len)
                        .put(RINGGATE_A_SNAT_TO, &s.to.octets());
                    if let Some(ports) = s.ports {
                        r.put_u16(RINGGATE_A_SNAT_PORT_LO, ports.first)
                            .put_u16(RINGGATE_A_SNAT_PORT_HI, ports.last);
                    }
                }
            },
            &mut |_| Ok(()),
        )
    }

    /// The outbound translation, `None` when it is off.
    pub fn snat(&self) -> Result<Option<Snat>, Error> {
        self.get(uapi::RINGGATE_CMD_SNAT_GET, |_| {}, Snat::decode)
    }
}
