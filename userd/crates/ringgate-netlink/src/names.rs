//! The spec's attribute sets, by name, and the naming of the attribute an
//! extended ack points at, as the kernel's YNL client does: the kernel gives
//! an offset into the request (or a nest and a missing type), and the spec's
//! name tables turn that into `backend.weight`.

use ringgate_uapi as uapi;

use crate::wire::{align, GENL_HDRLEN, NLA_HDRLEN, NLMSG_HDRLEN};

/// An attribute set of the spec, with what the spec says of each of its
/// attributes (generated from the YAML spec by `ringgate-uapi`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Set(&'static uapi::AttrSet);

impl Set {
    pub(crate) const STATUS: Set = Set(&uapi::RINGGATE_SET_STATUS);
    pub(crate) const HOOK_STATS: Set = Set(&uapi::RINGGATE_SET_HOOK_STATS);
    pub(crate) const VIP: Set = Set(&uapi::RINGGATE_SET_VIP);
    pub(crate) const SERVICE: Set = Set(&uapi::RINGGATE_SET_SERVICE);
    pub(crate) const BACKEND: Set = Set(&uapi::RINGGATE_SET_BACKEND);
    pub(crate) const CONFIG: Set = Set(&uapi::RINGGATE_SET_CONFIG);
    pub(crate) const SESSION: Set = Set(&uapi::RINGGATE_SET_SESSION);
    pub(crate) const SESSION_BATCH: Set = Set(&uapi::RINGGATE_SET_SESSION_BATCH);
    pub(crate) const SNAT: Set = Set(&uapi::RINGGATE_SET_SNAT);

    /// The set a command's attributes belong to (the spec's
    /// `attribute-set` of the operation).
    pub(crate) fn of_cmd(cmd: u8) -> Option<Set> {
        uapi::op(cmd).map(|op| Set(op.set))
    }

    /// What the spec says of attribute `kind`; `None` for an attribute of
    /// a newer module.
    pub(crate) fn spec(self, kind: u16) -> Option<&'static uapi::AttrSpec> {
        self.0.attr(kind)
    }

    /// The spec name of attribute `kind`, or its number when the spec (as
    /// this build knows it) has none, so a newer module's attribute is still
    /// named somehow.
    pub(crate) fn name(self, kind: u16) -> String {
        self.spec(kind)
            .map_or_else(|| kind.to_string(), |attr| attr.name.to_string())
    }

    /// The set of the attributes nested in attribute `kind`, if it is a nest
    /// (the spec's `nested-attributes`).
    pub(crate) fn nested(self, kind: u16) -> Option<Set> {
        self.spec(kind)?.nested.map(Set)
    }
}

/// Where an offset of an extended ack lands in a request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Located {
    /// The dotted path of attribute names, e.g. `backend.weight`.
    pub path: String,
    /// The set of the attributes nested in the last one, if it is a nest.
    pub inner: Option<Set>,
}

/// The attribute starting at `offset` bytes from the start of `request` (a
/// whole generic netlink message, as sent), named through the spec's
/// tables from `set` down. `None` if no attribute starts there.
pub(crate) fn locate(request: &[u8], set: Set, offset: usize) -> Option<Located> {
    let start = NLMSG_HDRLEN + GENL_HDRLEN;
    let end = request.len();
    locate_in(request, start, end, set, offset, String::new())
}

fn locate_in(
    request: &[u8],
    mut pos: usize,
    end: usize,
    set: Set,
    offset: usize,
    prefix: String,
) -> Option<Located> {
    while pos + NLA_HDRLEN <= end {
        let len = usize::from(u16::from_ne_bytes(request[pos..pos + 2].try_into().ok()?));
        let kind = u16::from_ne_bytes(request[pos + 2..pos + 4].try_into().ok()?) & 0x3fff;
        if len < NLA_HDRLEN || pos + len > end {
            return None;
        }
        let path = format!("{prefix}{}", set.name(kind));
        let inner = set.nested(kind);
        if offset == pos {
            return Some(Located { path, inner });
        }
        if offset > pos && offset < pos + len {
            // Inside this attribute: it must be a nest for the offset to
            // point at an attribute of its own.
            return locate_in(
                request,
                pos + NLA_HDRLEN,
                pos + len,
                inner?,
                offset,
                path + ".",
            );
        }
        pos += align(len);
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::Builder;

    fn backend_set_request() -> Vec<u8> {
        let mut b = Builder::genl(0x20, 0, uapi::RINGGATE_CMD_BACKEND_SET, 1);
        b.put(uapi::RINGGATE_A_SERVICE_VIP, &[10, 0, 0, 1])
            .put_u16(uapi::RINGGATE_A_SERVICE_PORT, 80)
            .nest(uapi::RINGGATE_A_SERVICE_BACKEND, |n| {
                n.put(uapi::RINGGATE_A_BACKEND_ADDR, &[10, 1, 0, 2])
                    .put_u32(uapi::RINGGATE_A_BACKEND_WEIGHT, 0);
            });
        b.finish(1, 1)
    }

    #[test]
    fn offsets_name_top_level_and_nested_attributes() {
        let req = backend_set_request();
        // Offsets counted by hand: 16 (nlmsghdr) + 4 (genlmsghdr), then
        // vip (8 bytes), port (8), the nest's header (4), addr (8), weight.
        let vip = locate(&req, Set::SERVICE, 20).unwrap();
        assert_eq!(vip.path, "vip");
        let port = locate(&req, Set::SERVICE, 28).unwrap();
        assert_eq!(port.path, "port");
        let nest = locate(&req, Set::SERVICE, 36).unwrap();
        assert_eq!(
            nest,
            Located {
                path: "backend".into(),
                inner: Some(Set::BACKEND)
            }
        );
        assert_eq!(
            locate(&req, Set::SERVICE, 48).unwrap().path,
            "backend.weight"
        );
        assert_eq!(locate(&req, Set::SERVICE, 50), None);
        assert_eq!(locate(&req, Set::SERVICE, 4000), None);
    }

    #[test]
    fn unknown_attribute_types_are_named_by_number() {
        assert_eq!(Set::VIP.name(42), "42");
        assert_eq!(Set::VIP.name(uapi::RINGGATE_A_VIP_GARP_COUNT), "garp-count");
    }
}
