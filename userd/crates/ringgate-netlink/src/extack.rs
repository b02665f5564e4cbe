//! The kernel's answers that end a request, `NLMSG_ERROR` (an ack or a
//! refusal) and `NLMSG_DONE` (the end of a dump, with the dump's own error
//! code), and the extended ack (extack) attributes either may carry.

use crate::error::Culprit;
use crate::names::{locate, Set};
use crate::wire::{align, attrs, Truncated, NLMSG_HDRLEN, NLM_F_ACK_TLVS, NLM_F_CAPPED};

/// `NLMSGERR_ATTR_*` of `linux/netlink.h`.
const NLMSGERR_ATTR_MSG: u16 = 1;
const NLMSGERR_ATTR_OFFS: u16 = 2;
const NLMSGERR_ATTR_MISS_TYPE: u16 = 5;
const NLMSGERR_ATTR_MISS_NEST: u16 = 6;

/// What an extended ack says, as far as this client uses it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct ExtAck {
    /// The human-readable explanation.
    pub message: Option<String>,
    /// The offset of the offending attribute from the request's start.
    pub bad_offset: Option<usize>,
    /// The type of a missing attribute ...
    pub missing_type: Option<u16>,
    /// ... and the offset of the nest it is missing from (none: top level).
    pub missing_nest: Option<usize>,
}

/// An ack, a refusal or a dump's end: the error code (0 or a negative
/// errno, as the kernel writes it) and the extack.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Ack {
    pub code: i32,
    pub ext: ExtAck,
}

fn u32_at(p: &[u8]) -> Option<u32> {
    Some(u32::from_ne_bytes(p.try_into().ok()?))
}

fn parse_tlvs(buf: &[u8]) -> ExtAck {
    let mut ext = ExtAck::default();
    for attr in attrs(buf) {
        match attr.kind {
            NLMSGERR_ATTR_MSG => {
                let raw = attr.payload;
                let text = raw.split(|b| *b == 0).next().unwrap_or_default();
                ext.message = Some(String::from_utf8_lossy(text).into_owned());
            }
            NLMSGERR_ATTR_OFFS => ext.bad_offset = u32_at(attr.payload).map(|o| o as usize),
            NLMSGERR_ATTR_MISS_TYPE => {
                ext.missing_type = u32_at(attr.payload).and_then(|t| u16::try_from(t).ok())
            }
            NLMSGERR_ATTR_MISS_NEST => ext.missing_nest = u32_at(attr.payload).map(|o| o as usize),
            _ => {}
        }
    }
    ext
}

/// Parses the payload of an `NLMSG_ERROR`: the error code, the echoed
/// request (its header only when `NLM_F_CAPPED`), then the extack
/// attributes when `NLM_F_ACK_TLVS`.
pub(crate) fn parse_error(flags: u16, payload: &[u8]) -> Result<Ack, Truncated> {
    let short = || Truncated(format!("an error message of {} bytes", payload.len()));
    let code = u32_at(payload.get(..4).ok_or_else(short)?).ok_or_else(short)? as i32;
    let echoed = payload.get(4..4 + NLMSG_HDRLEN).ok_or_else(short)?;
    let echoed_len = if flags & NLM_F_CAPPED != 0 {
        NLMSG_HDRLEN
    } else {
        u32_at(&echoed[..4]).ok_or_else(short)? as usize
    };
    let ext = if flags & NLM_F_ACK_TLVS != 0 {
        parse_tlvs(payload.get(4 + align(echoed_len)..).unwrap_or_default())
    } else {
        ExtAck::default()
    };
    Ok(Ack { code, ext })
}

/// Parses the payload of an `NLMSG_DONE`: the dump's error code, then the
/// extack attributes when `NLM_F_ACK_TLVS`.
pub(crate) fn parse_done(flags: u16, payload: &[u8]) -> Ack {
    // Kernels before 4.x sent an empty DONE; that reads as success.
    let code = payload.get(..4).and_then(u32_at).unwrap_or(0) as i32;
    let ext = if flags & NLM_F_ACK_TLVS != 0 {
        parse_tlvs(payload.get(4..).unwrap_or_default())
    } else {
        ExtAck::default()
    };
    Ack { code, ext }
}

impl ExtAck {
    /// The attribute the kernel pointed at, named through the spec from the
    /// request's attribute set `set` down.
    pub(crate) fn culprit(&self, request: &[u8], set: Option<Set>) -> Option<Culprit> {
        let set = set?;
        if let Some(kind) = self.missing_type {
            return Some(Culprit::Missing(match self.missing_nest {
                None => set.name(kind),
                Some(offset) => match locate(request, set, offset) {
                    Some(nest) => match nest.inner {
                        Some(inner) => format!("{}.{}", nest.path, inner.name(kind)),
                        None => format!("{}.{kind}", nest.path),
                    },
                    None => kind.to_string(),
                },
            }));
        }
        let offset = self.bad_offset?;
        locate(request, set, offset).map(|found| Culprit::Bad(found.path))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ringgate_uapi as uapi;

    use crate::wire::Builder;

    /// An extack attribute, laid out by hand (struct nlattr, then payload).
    fn tlv(kind: u16, payload: &[u8]) -> Vec<u8> {
        let mut out = ((4 + payload.len()) as u16).to_ne_bytes().to_vec();
        out.extend_from_slice(&kind.to_ne_bytes());
        out.extend_from_slice(payload);
        out.resize((out.len() + 3) & !3, 0);
        out
    }

    #[test]
    fn a_capped_error_yields_code_message_and_offset() {
        let mut payload = (-22i32).to_ne_bytes().to_vec();
        // The echoed request header: 16 bytes, its length says 40.
        payload.extend_from_slice(&40u32.to_ne_bytes());
        payload.extend_from_slice(&[0; 12]);
        payload.extend(tlv(1, b"weight out of range\0"));
        payload.extend(tlv(2, &48u32.to_ne_bytes()));
        let ack = parse_error(0x100 | 0x200, &payload).unwrap();
        assert_eq!(ack.code, -22);
        assert_eq!(ack.ext.message.as_deref(), Some("weight out of range"));
        assert_eq!(ack.ext.bad_offset, Some(48));
    }

    #[test]
    fn an_uncapped_error_skips_the_whole_echoed_request() {
        let request = Builder::genl(0x20, 0, 1, 1).finish(1, 1); // 20 bytes
        let mut payload = (-1i32).to_ne_bytes().to_vec();
        payload.extend_from_slice(&request);
        payload.extend(tlv(5, &3u32.to_ne_bytes()));
        let ack = parse_error(0x200, &payload).unwrap();
        assert_eq!((ack.code, ack.ext.missing_type), (-1, Some(3)));
    }

    #[test]
    fn a_missing_attribute_is_named_in_its_nest() {
        let mut b = Builder::genl(0x20, 0, uapi::RINGGATE_CMD_BACKEND_SET, 1);
        b.put(uapi::RINGGATE_A_SERVICE_VIP, &[10, 0, 0, 1]).nest(
            uapi::RINGGATE_A_SERVICE_BACKEND,
            |n| {
                n.put(uapi::RINGGATE_A_BACKEND_ADDR, &[10, 1, 0, 2]);
            },
        );
        let request = b.finish(1, 1);
        let top = ExtAck {
            missing_type: Some(uapi::RINGGATE_A_SERVICE_PORT),
            ..ExtAck::default()
        };
        assert_eq!(
            top.culprit(&request, Some(Set::SERVICE)),
            Some(Culprit::Missing("port".into()))
        );
        let nested = ExtAck {
            missing_type: Some(uapi::RINGGATE_A_BACKEND_PORT),
            missing_nest: Some(28), // 16 + 4 + the vip's 8 bytes
            ..ExtAck::default()
        };
        assert_eq!(
            nested.culprit(&request, Some(Set::SERVICE)),
            Some(Culprit::Missing("backend.port".into()))
        );
        let bad = ExtAck {
            bad_offset: Some(32), // the nest's first attribute
            ..ExtAck::default()
        };
        assert_eq!(
            bad.culprit(&request, Some(Set::SERVICE)),
            Some(Culprit::Bad("backend.addr".into()))
        );
    }

    #[test]
    fn a_done_carries_the_dumps_error_and_message() {
        let mut payload = (-105i32).to_ne_bytes().to_vec();
        payload.extend(tlv(1, b"no buffer space\0"));
        let ack = parse_done(0x02 | 0x200, &payload);
        assert_eq!(ack.code, -105);
        assert_eq!(ack.ext.message.as_deref(), Some("no buffer space"));
        assert_eq!(parse_done(0x02, &0i32.to_ne_bytes()).code, 0);
    }
}
