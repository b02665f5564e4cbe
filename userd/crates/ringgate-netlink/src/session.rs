//! NAT sessions: the `session-get` dump, streamed, and its decoding.

use std::fmt;
use std::net::SocketAddrV4;

use ringgate_uapi as uapi;
use serde::Serialize;

use crate::decode::{name_in, name_or_number, Decoder};
use crate::names::Set;
use crate::wire::{attrs, Builder};
use crate::{Client, Error, Proto};

/// What a raced session dump names in its error.
const SESSION_TABLE: &str = "session table";

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
    /// A connection a host behind the cluster opened to the outside (the
    /// module's outbound translation): `client` is then the remote end,
    /// `vip` the translated source and `backend` the host.
    pub outbound: bool,
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
        let mut outbound = false;
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
                RINGGATE_A_SESSION_OUTBOUND => outbound = d.u8(k, p)? == 1,
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
            outbound,
        })
    }
}

/// Sessions per `session-import` request: about 90 bytes each, so a
/// request stays near 11 KB, well inside a netlink socket's buffers.
pub const IMPORT_BATCH: usize = 128;

/// What `session_import` did with the sessions it was given.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Imported {
    /// Sessions now in the table as given.
    pub imported: u64,
    /// Sessions the module did not take (no such service or back-end, no
    /// room, or the flow held for another back-end), counted there with
    /// the table's dropped sessions.
    pub refused: u64,
}

/// One session as a `session-batch.session` nest.
fn put_session(request: &mut Builder, s: &Session) {
    use uapi::*;
    request.nest(RINGGATE_A_SESSION_BATCH_SESSION, |n| {
        n.put_u8(RINGGATE_A_SESSION_PROTO, s.proto.number())
            .put(RINGGATE_A_SESSION_CLIENT_ADDR, &s.client.ip().octets())
            .put_u16(RINGGATE_A_SESSION_CLIENT_PORT, s.client.port())
            .put(RINGGATE_A_SESSION_VIP, &s.vip.ip().octets())
            .put_u16(RINGGATE_A_SESSION_VIP_PORT, s.vip.port())
            .put(RINGGATE_A_SESSION_BACKEND_ADDR, &s.backend.ip().octets())
            .put_u16(RINGGATE_A_SESSION_BACKEND_PORT, s.backend.port())
            .put_u32(RINGGATE_A_SESSION_STAGE, s.stage.0)
            // A session about to expire still lives a millisecond (the
            // module refuses 0).
            .put_u32(RINGGATE_A_SESSION_EXPIRES_MS, s.expires_ms.max(1))
            .put_u16(RINGGATE_A_SESSION_OWNER, s.owner);
        if s.outbound {
            n.put_u8(RINGGATE_A_SESSION_OUTBOUND, 1);
        }
    });
}

impl Client {
    /// Gives the module sessions other nodes created (as their dumps show
    /// them), so that their packets are translated here as there, in
    /// requests of `IMPORT_BATCH`. A malformed session (a protocol or
    /// stage the module has no such session of) fails its whole request,
    /// and the requests after it are not sent: the module changes nothing
    /// for a request it refuses, and what earlier requests imported stays.
    pub fn session_import(&self, sessions: &[Session]) -> Result<Imported, Error> {
        let mut total = Imported::default();
        for batch in sessions.chunks(IMPORT_BATCH) {
            let (imported, refused) = self.get(
                uapi::RINGGATE_CMD_SESSION_IMPORT,
                |r| {
                    for s in batch {
                        put_session(r, s);
                    }
                },
                |payload| {
                    let d = Decoder {
                        op: "session-import",
                        set: Set::SESSION_BATCH,
                    };
                    let (mut imported, mut refused) = (None, None);
                    for attr in attrs(payload) {
                        let (k, p) = (attr.kind, attr.payload);
                        if k == uapi::RINGGATE_A_SESSION_BATCH_IMPORTED {
                            imported = Some(d.u32(k, p)?);
                        } else if k == uapi::RINGGATE_A_SESSION_BATCH_REFUSED {
                            refused = Some(d.u32(k, p)?);
                        }
                    }
                    Ok((
                        d.need(uapi::RINGGATE_A_SESSION_BATCH_IMPORTED, imported)?,
                        d.need(uapi::RINGGATE_A_SESSION_BATCH_REFUSED, refused)?,
                    ))
                },
            )?;
            total.imported += u64::from(imported);
            total.refused += u64::from(refused);
        }
        Ok(total)
    }

    /// Makes the sessions of `vip` that node `owner` created this node's
    /// (the node took the VIP over from a node that left); how many.
    pub fn session_adopt(&self, vip: std::net::Ipv4Addr, owner: u16) -> Result<u64, Error> {
        self.get(
            uapi::RINGGATE_CMD_SESSION_ADOPT,
            |r| {
                r.put(uapi::RINGGATE_A_SESSION_BATCH_VIP, &vip.octets())
                    .put_u16(uapi::RINGGATE_A_SESSION_BATCH_OWNER, owner);
            },
            |payload| {
                let d = Decoder {
                    op: "session-adopt",
                    set: Set::SESSION_BATCH,
                };
                let mut adopted = None;
                for attr in attrs(payload) {
                    if attr.kind == uapi::RINGGATE_A_SESSION_BATCH_ADOPTED {
                        adopted = Some(d.u32(attr.kind, attr.payload)?);
                    }
                }
                Ok(u64::from(
                    d.need(uapi::RINGGATE_A_SESSION_BATCH_ADOPTED, adopted)?,
                ))
            },
        )
    }

    /// Hands each live NAT session to `each` as its dump part arrives, so a
    /// table of a million sessions is never held in memory. The dump is a
    /// sample (sessions come and go meanwhile), but a session that lives
    /// through it is handed over exactly once, unless the table was resized
    /// meanwhile: then sessions may have been missed or handed over twice,
    /// and the error says so once the dump is read to its end (what was
    /// handed over cannot be taken back, so it is not retried). The first
    /// error `each` returns ends the handing over; the rest of the dump is
    /// still read, then that error is returned.
    pub fn for_each_session(
        &self,
        mut each: impl FnMut(Session) -> Result<(), Error>,
    ) -> Result<(), Error> {
        let interrupted = self.dump_each(uapi::RINGGATE_CMD_SESSION_GET, &mut |payload| {
            each(Session::decode(payload)?)
        })?;
        if interrupted {
            return Err(Error::ListingInterrupted {
                what: SESSION_TABLE,
            });
        }
        Ok(())
    }

    /// Every live NAT session (a sample: sessions come and go meanwhile),
    /// read again while a resize races the dump, so a session that lives
    /// through the read is in the list exactly once.
    pub fn sessions(&self) -> Result<Vec<Session>, Error> {
        self.dump_consistent(
            uapi::RINGGATE_CMD_SESSION_GET,
            SESSION_TABLE,
            Session::decode,
        )
    }

    /// The live sessions `filter` chooses, read as `sessions` reads them.
    /// A module from before the filter (its dump had no policy) ignores it
    /// and gives every session: a caller that needs the narrowing checks
    /// each session itself.
    pub fn sessions_where(&self, filter: SessionFilter) -> Result<Vec<Session>, Error> {
        self.dump_consistent_with(
            uapi::RINGGATE_CMD_SESSION_GET,
            &|request| filter.fill(request),
            SESSION_TABLE,
            Session::decode,
        )
    }
}

/// Which sessions a read asks the module for (`session-get`'s request).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SessionFilter {
    /// Only this node's sessions.
    pub owner: Option<u16>,
    /// Only sessions made, moved to another stage or given another owner
    /// within the last this many milliseconds (1 to 3,600,000; beyond is
    /// refused by the module). An expiry that only moved later is not a
    /// change.
    pub changed_within_ms: Option<u32>,
}

impl SessionFilter {
    fn fill(&self, request: &mut Builder) {
        if let Some(owner) = self.owner {
            request.put_u16(uapi::RINGGATE_A_SESSION_OWNER, owner);
        }
        if let Some(ms) = self.changed_within_ms {
            request.put_u32(uapi::RINGGATE_A_SESSION_CHANGED_WITHIN_MS, ms);
        }
    }
}
