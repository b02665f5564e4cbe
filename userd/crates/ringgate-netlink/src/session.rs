//! NAT sessions: the `session-get` dump, streamed, and its decoding.

use std::fmt;
use std::net::SocketAddrV4;

use ringgate_uapi as uapi;
use serde::Serialize;

use crate::decode::{name_in, name_or_number, Decoder};
use crate::names::Set;
use crate::wire::attrs;
use crate::{Client, Error, Proto};

/// Where a NAT session is in its life (the spec's `session-stage`), kept by
/// number so that a stage of a newer module is shown, not refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Stage(pub u32);

impl Stage {
    /// The spec name (`established`); `None` for a stage of a newer module.
    pub fn name(self) -> Option<&'static str> {
        name_in(uapi::RINGGATE_SESSION_STAGE_NAMES, self.0)
    }
}

/// The name, or the number of a stage without one here.
impl fmt::Display for Stage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.name() {
            Some(name) => f.pad(name),
            None => f.pad(&self.0.to_string()),
        }
    }
}

impl Serialize for Stage {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        name_or_number(self.name(), self.0, s)
    }
}

/// One NAT session.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Session {
    pub proto: Proto,
    pub client: SocketAddrV4,
    pub vip: SocketAddrV4,
    pub backend: SocketAddrV4,
    pub stage: Stage,
    pub expires_ms: u32,
    pub owner: u16,
}

impl Session {
    pub(crate) fn decode(payload: &[u8]) -> Result<Session, Error> {
        use uapi::*;
        let d = Decoder {
            op: "session-get",
            set: Set::SESSION,
        };
        let mut proto = None;
        let (mut ca, mut cp, mut va, mut vp, mut ba, mut bp) = (None, None, None, None, None, None);
        let (mut stage, mut expires_ms, mut owner) = (None, None, None);
        for attr in attrs(payload) {
            let (k, p) = (attr.kind, attr.payload);
            match k {
                RINGGATE_A_SESSION_PROTO => proto = Some(Proto::from_number(d.u8(k, p)?)),
                RINGGATE_A_SESSION_CLIENT_ADDR => ca = Some(d.addr(k, p)?),
                RINGGATE_A_SESSION_CLIENT_PORT => cp = Some(d.u16(k, p)?),
                RINGGATE_A_SESSION_VIP => va = Some(d.addr(k, p)?),
                RINGGATE_A_SESSION_VIP_PORT => vp = Some(d.u16(k, p)?),
                RINGGATE_A_SESSION_BACKEND_ADDR => ba = Some(d.addr(k, p)?),
                RINGGATE_A_SESSION_BACKEND_PORT => bp = Some(d.u16(k, p)?),
                RINGGATE_A_SESSION_STAGE => stage = Some(Stage(d.u32(k, p)?)),
                RINGGATE_A_SESSION_EXPIRES_MS => expires_ms = Some(d.u32(k, p)?),
                RINGGATE_A_SESSION_OWNER => owner = Some(d.u16(k, p)?),
                _ => {}
            }
        }
        let pair = |a, ak, p, pk| Ok::<_, Error>(SocketAddrV4::new(d.need(ak, a)?, d.need(pk, p)?));
        Ok(Session {
            proto: d.need(RINGGATE_A_SESSION_PROTO, proto)?,
            client: pair(
                ca,
                RINGGATE_A_SESSION_CLIENT_ADDR,
                cp,
                RINGGATE_A_SESSION_CLIENT_PORT,
            )?,
            vip: pair(va, RINGGATE_A_SESSION_VIP, vp, RINGGATE_A_SESSION_VIP_PORT)?,
            backend: pair(
                ba,
                RINGGATE_A_SESSION_BACKEND_ADDR,
                bp,
                RINGGATE_A_SESSION_BACKEND_PORT,
            )?,
            stage: d.need(RINGGATE_A_SESSION_STAGE, stage)?,
            expires_ms: d.need(RINGGATE_A_SESSION_EXPIRES_MS, expires_ms)?,
            owner: d.need(RINGGATE_A_SESSION_OWNER, owner)?,
        })
    }
}

impl Client {
    /// Hands each live NAT session to `each` as its dump part arrives, so a
    /// table of a million sessions is never held in memory. The dump is a
    /// sample (sessions come and go meanwhile), so it is not retried. The
    /// first error `each` returns ends the handing over; the rest of the
    /// dump is still read, then that error is returned.
    pub fn for_each_session(
        &self,
        mut each: impl FnMut(Session) -> Result<(), Error>,
    ) -> Result<(), Error> {
        self.dump_each(uapi::RINGGATE_CMD_SESSION_GET, &mut |payload| {
            each(Session::decode(payload)?)
        })
        .map(|_interrupted| ())
    }

    /// Every live NAT session (a sample: sessions come and go meanwhile).
    pub fn sessions(&self) -> Result<Vec<Session>, Error> {
        let mut sessions = Vec::new();
        self.for_each_session(|s| {
            sessions.push(s);
            Ok(())
        })?;
        Ok(sessions)
    }
}
