//! Reading attribute values out of a reply, with errors that name the
//! attribute by its spec name: a missing or mis-sized attribute is an error,
//! never a silent 0.

use std::net::Ipv4Addr;

use ringgate_uapi::{AttrType, ByteOrder};
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

    /// An integer attribute, read as wide and in the byte order the spec
    /// gives it (a `uint` is 4 or 8 bytes, as the sender chose), so no
    /// decoder states a width of its own.
    pub(crate) fn int(self, kind: u16, payload: &[u8]) -> Result<u64, Error> {
        let name = self.set.name(kind);
        let spec = self
            .set
            .spec(kind)
            .ok_or_else(|| self.malformed(format!("attribute {name} is not in the spec")))?;
        let width = match spec.ty {
            AttrType::U8 => 1,
            AttrType::U16 => 2,
            AttrType::U32 => 4,
            AttrType::U64 => 8,
            AttrType::Uint if payload.len() == 4 => 4,
            AttrType::Uint => 8,
            other => {
                let kind = match other {
                    AttrType::String => "string",
                    AttrType::Nest => "nest",
                    AttrType::Flag => "flag",
                    _ => "binary",
                };
                return Err(self.malformed(format!("attribute {name} is a {kind}, not a number")));
            }
        };
        if payload.len() != width {
            return Err(self.malformed(format!(
                "attribute {name} has {} bytes, not {width}",
                payload.len()
            )));
        }
        let mut bytes = [0u8; 8];
        Ok(match spec.byte_order {
            ByteOrder::BigEndian => {
                bytes[8 - width..].copy_from_slice(payload);
                u64::from_be_bytes(bytes)
            }
            ByteOrder::Host if cfg!(target_endian = "big") => {
                bytes[8 - width..].copy_from_slice(payload);
                u64::from_be_bytes(bytes)
            }
            ByteOrder::Host => {
                bytes[..width].copy_from_slice(payload);
                u64::from_le_bytes(bytes)
            }
        })
    }

    /// An integer attribute narrowed to the field that holds it; a spec
    /// wider than the field is a mismatch between the spec and this crate.
    fn narrow<T: TryFrom<u64>>(self, kind: u16, payload: &[u8]) -> Result<T, Error> {
        let value = self.int(kind, payload)?;
        T::try_from(value).map_err(|_| {
            self.malformed(format!(
                "attribute {} holds {value}, too large for this build",
                self.set.name(kind)
            ))
        })
    }

    pub(crate) fn u8(self, kind: u16, payload: &[u8]) -> Result<u8, Error> {
        self.narrow(kind, payload)
    }

    pub(crate) fn u16(self, kind: u16, payload: &[u8]) -> Result<u16, Error> {
        self.narrow(kind, payload)
    }

    pub(crate) fn u32(self, kind: u16, payload: &[u8]) -> Result<u32, Error> {
        self.narrow(kind, payload)
    }

    /// A counter of any width the spec gives it.
    pub(crate) fn uint(self, kind: u16, payload: &[u8]) -> Result<u64, Error> {
        self.int(kind, payload)
    }

    /// An IPv4 address: an attribute the spec hints as `ipv4`, big-endian.
    pub(crate) fn addr(self, kind: u16, payload: &[u8]) -> Result<Ipv4Addr, Error> {
        if !self.set.spec(kind).is_some_and(|spec| spec.ipv4) {
            return Err(self.malformed(format!(
                "attribute {} is not an IPv4 address in the spec",
                self.set.name(kind)
            )));
        }
        self.narrow::<u32>(kind, payload).map(Ipv4Addr::from)
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

/// The names of a spec value table, for an error listing them all.
pub(crate) fn spec_names(table: &'static [(&'static str, u32)]) -> String {
    table
        .iter()
        .map(|(name, _)| *name)
        .collect::<Vec<_>>()
        .join(", ")
}

/// The spec name of value `n` in one of the generated value tables.
pub(crate) fn name_in(table: &'static [(&'static str, u32)], n: u32) -> Option<&'static str> {
    table.iter().find(|(_, v)| *v == n).map(|(name, _)| *name)
}

#[cfg(test)]
mod tests {
    use super::*;

    const D: Decoder = Decoder {
        op: "vip-get",
        set: Set::VIP,
    };

    #[test]
    fn sizes_are_checked_and_attributes_named() {
        assert_eq!(D.u32(3, &7u32.to_ne_bytes()).unwrap(), 7);
        let err = D.u32(3, &[1, 2]).unwrap_err().to_string();
        assert_eq!(
            err,
            "malformed reply to vip-get: attribute garp-count has 2 bytes, not 4"
        );
        let err = D.need::<u8>(2, None).unwrap_err().to_string();
        assert_eq!(err, "malformed reply to vip-get: no owned attribute");
    }

    /// The spec, not the caller, decides width and byte order: a `uint`
    /// counter comes as 4 or 8 bytes, an address is big-endian, and a
    /// `u8` cannot be read as an address.
    #[test]
    fn widths_and_byte_order_come_from_the_spec() {
        let status = Decoder {
            op: "status-get",
            set: Set::STATUS,
        };
        let sessions = ringgate_uapi::RINGGATE_A_STATUS_SESSIONS;
        assert_eq!(
            status.uint(sessions, &(1u64 << 40).to_ne_bytes()).unwrap(),
            1 << 40
        );
        assert_eq!(status.uint(sessions, &5u32.to_ne_bytes()).unwrap(), 5);
        let addr = D
            .addr(ringgate_uapi::RINGGATE_A_VIP_ADDR, &[10, 0, 0, 1])
            .unwrap();
        assert_eq!(addr, Ipv4Addr::new(10, 0, 0, 1));
        let err = D
            .addr(ringgate_uapi::RINGGATE_A_VIP_OWNED, &[1])
            .unwrap_err();
        assert!(err.to_string().contains("not an IPv4 address"), "{err}");
        let err = D
            .u8(ringgate_uapi::RINGGATE_A_VIP_OWNED, &[1, 0])
            .unwrap_err();
        assert!(err.to_string().contains("has 2 bytes, not 1"), "{err}");
    }
}
