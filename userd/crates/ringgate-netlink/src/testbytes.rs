//! Netlink datagrams built by hand for the tests, from the values of
//! `linux/netlink.h` and `linux/genetlink.h` written out here, so that the
//! tests do not build their input with the code they test.

use ringgate_uapi as uapi;

/// `NLMSG_ERROR`, `NLMSG_DONE`.
pub const NLMSG_ERROR: u16 = 2;
pub const NLMSG_DONE: u16 = 3;
/// `NLM_F_MULTI`, `NLM_F_DUMP_INTR`, `NLM_F_CAPPED`, `NLM_F_ACK_TLVS`.
pub const NLM_F_MULTI: u16 = 0x02;
pub const NLM_F_DUMP_INTR: u16 = 0x10;
pub const NLM_F_CAPPED: u16 = 0x100;
pub const NLM_F_ACK_TLVS: u16 = 0x200;
/// `NLMSGERR_ATTR_MSG`, `NLMSGERR_ATTR_OFFS`, `NLMSGERR_ATTR_MISS_TYPE`,
/// `NLMSGERR_ATTR_MISS_NEST`.
pub const NLMSGERR_ATTR_MSG: u16 = 1;
pub const NLMSGERR_ATTR_OFFS: u16 = 2;
pub const NLMSGERR_ATTR_MISS_TYPE: u16 = 5;
pub const NLMSGERR_ATTR_MISS_NEST: u16 = 6;

fn pad(v: &mut Vec<u8>) {
    v.resize((v.len() + 3) & !3, 0);
}

/// A `struct nlmsghdr` and its payload, padded to 4 bytes.
pub fn nlmsg(kind: u16, flags: u16, seq: u32, port: u32, payload: &[u8]) -> Vec<u8> {
    let mut v = ((16 + payload.len()) as u32).to_ne_bytes().to_vec();
    v.extend_from_slice(&kind.to_ne_bytes());
    v.extend_from_slice(&flags.to_ne_bytes());
    v.extend_from_slice(&seq.to_ne_bytes());
    v.extend_from_slice(&port.to_ne_bytes());
    v.extend_from_slice(payload);
    pad(&mut v);
    v
}

/// A `struct nlattr` and its payload, padded to 4 bytes.
pub fn nla(kind: u16, payload: &[u8]) -> Vec<u8> {
    let mut v = ((4 + payload.len()) as u16).to_ne_bytes().to_vec();
    v.extend_from_slice(&kind.to_ne_bytes());
    v.extend_from_slice(payload);
    pad(&mut v);
    v
}

/// A nest (`NLA_F_NESTED`, bit 15) of attributes.
pub fn nest(kind: u16, inner: &[Vec<u8>]) -> Vec<u8> {
    nla(kind | 0x8000, &inner.concat())
}

/// A generic netlink data message: `struct genlmsghdr` (cmd, version 1),
/// then attributes.
pub fn genl(family: u16, flags: u16, seq: u32, port: u32, cmd: u8, attrs: &[Vec<u8>]) -> Vec<u8> {
    let mut payload = vec![cmd, 1, 0, 0];
    payload.extend(attrs.concat());
    nlmsg(family, flags, seq, port, &payload)
}

/// An `NLMSG_DONE` ending a dump: the dump's error code, then extack.
pub fn done(flags: u16, seq: u32, port: u32, code: i32, extack: &[Vec<u8>]) -> Vec<u8> {
    let mut payload = code.to_ne_bytes().to_vec();
    payload.extend(extack.concat());
    let tlvs = if extack.is_empty() { 0 } else { NLM_F_ACK_TLVS };
    nlmsg(NLMSG_DONE, NLM_F_MULTI | flags | tlvs, seq, port, &payload)
}

/// An `NLMSG_ERROR` (an ack when `code` is 0) with the request's header
/// echoed alone (`NLM_F_CAPPED`), then extack.
pub fn error(seq: u32, port: u32, code: i32, extack: &[Vec<u8>]) -> Vec<u8> {
    let mut payload = code.to_ne_bytes().to_vec();
    payload.extend(nlmsg(0x20, 0x05, seq, port, &[])); // the echoed header
    payload.extend(extack.concat());
    let tlvs = if extack.is_empty() { 0 } else { NLM_F_ACK_TLVS };
    nlmsg(NLMSG_ERROR, NLM_F_CAPPED | tlvs, seq, port, &payload)
}

/// The attributes of one session as the module gives them (a dump part or
/// a notification): UDP 10.9.0.1:40000 to 10.9.0.100:9000, back-end
/// 10.8.0.2:9000, `stage`, 1500 ms left, and `owner` if given.
pub fn session_attrs(stage: u32, owner: Option<u16>) -> Vec<Vec<u8>> {
    let mut attrs = vec![
        nla(uapi::RINGGATE_A_SESSION_PROTO, &[17]),
        nla(uapi::RINGGATE_A_SESSION_CLIENT_ADDR, &[10, 9, 0, 1]),
        nla(
            uapi::RINGGATE_A_SESSION_CLIENT_PORT,
            &40000u16.to_ne_bytes(),
        ),
        nla(uapi::RINGGATE_A_SESSION_VIP, &[10, 9, 0, 100]),
        nla(uapi::RINGGATE_A_SESSION_VIP_PORT, &9000u16.to_ne_bytes()),
        nla(uapi::RINGGATE_A_SESSION_BACKEND_ADDR, &[10, 8, 0, 2]),
        nla(
            uapi::RINGGATE_A_SESSION_BACKEND_PORT,
            &9000u16.to_ne_bytes(),
        ),
        nla(uapi::RINGGATE_A_SESSION_STAGE, &stage.to_ne_bytes()),
        nla(uapi::RINGGATE_A_SESSION_EXPIRES_MS, &1500u32.to_ne_bytes()),
    ];
    if let Some(owner) = owner {
        attrs.push(nla(uapi::RINGGATE_A_SESSION_OWNER, &owner.to_ne_bytes()));
    }
    attrs
}
