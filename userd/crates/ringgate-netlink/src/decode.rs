//! Reading attribute values out of a reply, with errors that name the
//! attribute by its spec name: a missing or mis-sized attribute is an error,
//! never a silent 0.

use std::net::Ipv4Addr;

use serde::Serializer;

use crate::error::Error;
use crate::names::Set;

/// Reads the attributes of one set in the reply to one request.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Decoder {
    pub op: &'static str,
    pub set: Set,
}

impl Decoder {
    pub(crate) fn malformed(self, why: String) -> Error {
        Error::Malformed { op: self.op, why }
    }

    fn sized<const N: usize>(self, kind: u16, payload: &[u8]) -> Result<[u8; N], Error> {
        payload.try_into().map_err(|_| {
            self.malformed(format!(
                "attribute {} has {} bytes, not {N}",
                self.set.name(kind),
                payload.len()
            ))
        })
    }

    pub(crate) fn u8(self, kind: u16, payload: &[u8]) -> Result<u8, Error> {
        self.sized::<1>(kind, payload).map(|b| b[0])
    }

    pub(crate) fn u16(self, kind: u16, payload: &[u8]) -> Result<u16, Error> {
        self.sized(kind, payload).map(u16::from_ne_bytes)
    }

    pub(crate) fn u32(self, kind: u16, payload: &[u8]) -> Result<u32, Error> {
        self.sized(kind, payload).map(u32::from_ne_bytes)
    }

    /// An `NLA_UINT`, which the kernel sends as 4 or 8 bytes.
    pub(crate) fn uint(self, kind: u16, payload: &[u8]) -> Result<u64, Error> {
        match payload.len() {
            4 => self.u32(kind, payload).map(u64::from),
            _ => self.sized(kind, payload).map(u64::from_ne_bytes),
        }
    }

    /// An IPv4 address, in network byte order.
    pub(crate) fn addr(self, kind: u16, payload: &[u8]) -> Result<Ipv4Addr, Error> {
        self.sized::<4>(kind, payload).map(Ipv4Addr::from)
    }

    /// A value that must have been present.
    pub(crate) fn need<T>(self, kind: u16, value: Option<T>) -> Result<T, Error> {
        value.ok_or_else(|| self.malformed(format!("no {} attribute", self.set.name(kind))))
    }
}

/// Serializes an enum value by its spec name, or by its number when this
/// build does not know it (as iproute2 prints unknown values).
pub(crate) fn name_or_number<S: Serializer>(
    name: Option<&str>,
    number: u32,
    s: S,
) -> Result<S::Ok, S::Error> {
    match name {
        Some(name) => s.serialize_str(name),
        None => s.serialize_u32(number),
    }
}

/// The spec name of value `n` in one of the header's value tables.
pub(crate) fn name_in(table: &'static [(&'static str, u32)], n: u32) -> Option<&'static str> {
    table.iter().find(|(_, v)| *v == n).map(|(name, _)| *name)
}

#[cfg(test)]
mod tests {
    use super::*;

    const D: Decoder = Decoder {
        op: "vip-get",
        set: Set::Vip,
    };

    #[test]
    fn sizes_are_checked_and_attributes_named() {
        assert_eq!(D.u32(3, &7u32.to_ne_bytes()).unwrap(), 7);
        assert_eq!(D.uint(3, &(1u64 << 40).to_ne_bytes()).unwrap(), 1 << 40);
        let err = D.u32(3, &[1, 2]).unwrap_err().to_string();
        assert_eq!(
            err,
            "malformed reply to vip-get: attribute garp-count has 2 bytes, not 4"
        );
        let err = D.need::<u8>(2, None).unwrap_err().to_string();
        assert_eq!(err, "malformed reply to vip-get: no owned attribute");
    }
}
