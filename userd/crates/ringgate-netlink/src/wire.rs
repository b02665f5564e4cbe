//! The netlink wire format: message headers, attributes, and the building of
//! requests. Nothing here touches a socket, so every byte layout is
//! unit-tested against the values of `linux/netlink.h` and
//! `linux/genetlink.h`.

/// `sizeof(struct nlmsghdr)`.
pub(crate) const NLMSG_HDRLEN: usize = 16;
/// `GENL_HDRLEN`: `sizeof(struct genlmsghdr)`.
pub(crate) const GENL_HDRLEN: usize = 4;
/// `NLA_HDRLEN`: `sizeof(struct nlattr)`.
pub(crate) const NLA_HDRLEN: usize = 4;

/// Message types the netlink core itself sends (`NLMSG_*`).
pub(crate) const NLMSG_NOOP: u16 = 1;
pub(crate) const NLMSG_ERROR: u16 = 2;
pub(crate) const NLMSG_DONE: u16 = 3;
pub(crate) const NLMSG_OVERRUN: u16 = 4;

/// Request flags (`NLM_F_*`).
pub(crate) const NLM_F_REQUEST: u16 = 0x01;
pub(crate) const NLM_F_ACK: u16 = 0x04;
pub(crate) const NLM_F_DUMP: u16 = 0x300;
/// Set on a dump part (and on its `NLMSG_DONE`) when the dumped object
/// changed while the dump ran.
pub(crate) const NLM_F_DUMP_INTR: u16 = 0x10;
/// Flags of an `NLMSG_ERROR` or `NLMSG_DONE`: the request was not echoed
/// whole, and extended-ack attributes follow.
pub(crate) const NLM_F_CAPPED: u16 = 0x100;
pub(crate) const NLM_F_ACK_TLVS: u16 = 0x200;

/// The attribute flags that are not part of the type (`NLA_F_*`).
const NLA_F_NESTED: u16 = 1 << 15;
const NLA_TYPE_MASK: u16 = !(NLA_F_NESTED | (1 << 14));

/// The generic netlink controller and the parts of it used here
/// (`linux/genetlink.h`).
pub(crate) const GENL_ID_CTRL: u16 = 0x10;
pub(crate) const CTRL_CMD_GETFAMILY: u8 = 3;
pub(crate) const CTRL_ATTR_FAMILY_ID: u16 = 1;
pub(crate) const CTRL_ATTR_FAMILY_NAME: u16 = 2;
pub(crate) const CTRL_ATTR_MCAST_GROUPS: u16 = 7;
pub(crate) const CTRL_ATTR_MCAST_GRP_NAME: u16 = 1;
pub(crate) const CTRL_ATTR_MCAST_GRP_ID: u16 = 2;

/// Rounds up to the 4-byte alignment of messages and attributes.
pub(crate) fn align(len: usize) -> usize {
    (len + 3) & !3
}

/// One netlink message of a datagram, borrowed from it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Message<'a> {
    pub kind: u16,
    pub flags: u16,
    pub seq: u32,
    pub port: u32,
    /// What follows the header, up to the header's length.
    pub payload: &'a [u8],
}

/// A datagram that does not parse as netlink messages.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Truncated(pub String);

/// The messages of one datagram, in order.
pub(crate) fn messages(
    mut datagram: &[u8],
) -> impl Iterator<Item = Result<Message<'_>, Truncated>> {
    std::iter::from_fn(move || {
        if datagram.is_empty() {
            return None;
        }
        let Some(header) = datagram.get(..NLMSG_HDRLEN) else {
            let why = format!("{} bytes left, less than a message header", datagram.len());
            datagram = &[];
            return Some(Err(Truncated(why)));
        };
        let len = u32::from_ne_bytes(header[0..4].try_into().expect("4 bytes")) as usize;
        if len < NLMSG_HDRLEN || len > datagram.len() {
            let why = format!("a message of {len} bytes in {} bytes", datagram.len());
            datagram = &[];
            return Some(Err(Truncated(why)));
        }
        let message = Message {
            kind: u16::from_ne_bytes(header[4..6].try_into().expect("2 bytes")),
            flags: u16::from_ne_bytes(header[6..8].try_into().expect("2 bytes")),
            seq: u32::from_ne_bytes(header[8..12].try_into().expect("4 bytes")),
            port: u32::from_ne_bytes(header[12..16].try_into().expect("4 bytes")),
            payload: &datagram[NLMSG_HDRLEN..len],
        };
        datagram = &datagram[align(len).min(datagram.len())..];
        Some(Ok(message))
    })
}

/// One attribute, borrowed from its message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Attr<'a> {
    /// The type, without the nested and byte-order flags.
    pub kind: u16,
    pub payload: &'a [u8],
}

/// The attributes of a buffer of attributes, in order. A truncated last
/// attribute ends the iteration: the kernel never sends one, and skipping
/// beats misreading.
pub(crate) fn attrs(mut buf: &[u8]) -> impl Iterator<Item = Attr<'_>> {
    std::iter::from_fn(move || {
        let header = buf.get(..NLA_HDRLEN)?;
        let len = usize::from(u16::from_ne_bytes(
            header[0..2].try_into().expect("2 bytes"),
        ));
        let kind = u16::from_ne_bytes(header[2..4].try_into().expect("2 bytes")) & NLA_TYPE_MASK;
        if len < NLA_HDRLEN || len > buf.len() {
            buf = &[];
            return None;
        }
        let attr = Attr {
            kind,
            payload: &buf[NLA_HDRLEN..len],
        };
        buf = &buf[align(len).min(buf.len())..];
        Some(attr)
    })
}

/// A request under construction: the header is filled in by [`Builder::finish`].
#[derive(Debug, Clone)]
pub(crate) struct Builder {
    buf: Vec<u8>,
}

impl Builder {
    /// A generic netlink request of `family` carrying command `cmd`.
    pub(crate) fn genl(family: u16, flags: u16, cmd: u8, version: u8) -> Builder {
        let mut buf = vec![0; NLMSG_HDRLEN];
        buf[4..6].copy_from_slice(&family.to_ne_bytes());
        buf[6..8].copy_from_slice(&(flags | NLM_F_REQUEST).to_ne_bytes());
        buf.extend_from_slice(&[cmd, version, 0, 0]);
        Builder { buf }
    }

    /// Appends an attribute.
    pub(crate) fn put(&mut self, kind: u16, payload: &[u8]) -> &mut Builder {
        let len = u16::try_from(NLA_HDRLEN + payload.len()).expect("attributes stay small");
        self.buf.extend_from_slice(&len.to_ne_bytes());
        self.buf.extend_from_slice(&kind.to_ne_bytes());
        self.buf.extend_from_slice(payload);
        self.buf.resize(align(self.buf.len()), 0);
        self
    }

    pub(crate) fn put_u8(&mut self, kind: u16, value: u8) -> &mut Builder {
        self.put(kind, &[value])
    }

    pub(crate) fn put_u16(&mut self, kind: u16, value: u16) -> &mut Builder {
        self.put(kind, &value.to_ne_bytes())
    }

    pub(crate) fn put_u32(&mut self, kind: u16, value: u32) -> &mut Builder {
        self.put(kind, &value.to_ne_bytes())
    }

    /// Appends a nest whose attributes `fill` appends.
    pub(crate) fn nest(&mut self, kind: u16, fill: impl FnOnce(&mut Builder)) -> &mut Builder {
        let start = self.buf.len();
        self.put(kind | NLA_F_NESTED, &[]);
        fill(self);
        let len = u16::try_from(self.buf.len() - start).expect("nests stay small");
        self.buf[start..start + 2].copy_from_slice(&len.to_ne_bytes());
        self
    }

    /// The request's bytes, with its length, sequence number and port.
    pub(crate) fn finish(&self, seq: u32, port: u32) -> Vec<u8> {
        let mut buf = self.buf.clone();
        let len = u32::try_from(buf.len()).expect("requests stay small");
        buf[0..4].copy_from_slice(&len.to_ne_bytes());
        buf[8..12].copy_from_slice(&seq.to_ne_bytes());
        buf[12..16].copy_from_slice(&port.to_ne_bytes());
        buf
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_request_is_laid_out_as_nlmsghdr_genlmsghdr_and_aligned_attributes() {
        let mut b = Builder::genl(0x1234, NLM_F_ACK, 7, 1);
        b.put_u8(3, 6).nest(5, |n| {
            n.put_u16(2, 80);
        });
        let bytes = b.finish(42, 99);
        let mut want = Vec::new();
        want.extend_from_slice(&40u32.to_ne_bytes()); // 16 + 4 + 8 + 12
        want.extend_from_slice(&0x1234u16.to_ne_bytes());
        want.extend_from_slice(&(0x01u16 | 0x04).to_ne_bytes()); // NLM_F_REQUEST | NLM_F_ACK
        want.extend_from_slice(&42u32.to_ne_bytes());
        want.extend_from_slice(&99u32.to_ne_bytes());
        want.extend_from_slice(&[7, 1, 0, 0]);
        want.extend_from_slice(&5u16.to_ne_bytes());
        want.extend_from_slice(&3u16.to_ne_bytes());
        want.extend_from_slice(&[6, 0, 0, 0]);
        // A nest's length covers its attributes' padding, as nla_nest_end's.
        want.extend_from_slice(&12u16.to_ne_bytes());
        want.extend_from_slice(&(5u16 | 0x8000).to_ne_bytes()); // NLA_F_NESTED
        want.extend_from_slice(&6u16.to_ne_bytes());
        want.extend_from_slice(&2u16.to_ne_bytes());
        want.extend_from_slice(&80u16.to_ne_bytes());
        want.extend_from_slice(&[0, 0]);
        assert_eq!(bytes, want);
    }

    #[test]
    fn messages_and_attributes_parse_back() {
        let mut b = Builder::genl(0x20, 0, 1, 1);
        b.put(9, b"abc").put_u32(2, 5);
        let one = b.finish(1, 2);
        let datagram = [one.clone(), one].concat();
        let parsed: Vec<_> = messages(&datagram).collect::<Result<_, _>>().unwrap();
        assert_eq!(parsed.len(), 2);
        assert_eq!(
            (parsed[1].kind, parsed[1].seq, parsed[1].port),
            (0x20, 1, 2)
        );
        let got: Vec<_> = attrs(&parsed[0].payload[GENL_HDRLEN..]).collect();
        assert_eq!(
            got[0],
            Attr {
                kind: 9,
                payload: b"abc"
            }
        );
        assert_eq!(got[1].payload, 5u32.to_ne_bytes());
    }

    #[test]
    fn a_truncated_message_is_an_error_not_a_panic() {
        let mut bytes = Builder::genl(0x20, 0, 1, 1).finish(1, 2);
        bytes[0..4].copy_from_slice(&64u32.to_ne_bytes());
        assert!(messages(&bytes).next().unwrap().is_err());
        assert!(messages(&bytes[..10]).next().unwrap().is_err());
    }
}
