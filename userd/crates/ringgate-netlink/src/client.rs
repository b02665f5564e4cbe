//! The connection to the module's family: one request at a time, each read
//! to its end in a plain receive loop on the caller's thread.

use std::sync::{Mutex, PoisonError};

use ringgate_uapi as uapi;

use crate::error::Error;
use crate::names::Set;
use crate::receive::{Exchange, Step};
use crate::transport::{NetlinkSocket, Transport};
use crate::wire::{
    attrs, Builder, CTRL_ATTR_FAMILY_ID, CTRL_ATTR_FAMILY_NAME, CTRL_ATTR_MCAST_GROUPS,
    CTRL_ATTR_MCAST_GRP_ID, CTRL_ATTR_MCAST_GRP_NAME, CTRL_CMD_GETFAMILY, GENL_ID_CTRL, NLM_F_ACK,
    NLM_F_DUMP,
};

/// How often a dump the kernel flags as raced by a change is tried before
/// giving up. Each try is a full read, so a busy table costs a few dumps at
/// most.
pub(crate) const DUMP_ATTEMPTS: u32 = 5;

const ENOENT: i32 = 2;

/// A connection to the module's family in the caller's network namespace.
pub struct Client {
    /// Held for a whole exchange, so that two threads sharing a client
    /// never read each other's answers.
    conn: Mutex<Conn>,
    pub(crate) family: u16,
    /// The id of the `events` multicast group, if the module has one.
    pub(crate) events_group: Option<u32>,
    /// The id of the `sessions` multicast group, if the module has one.
    pub(crate) sessions_group: Option<u32>,
}

/// A socket and the sequence number of its last request: each request gets
/// the next one, so the answers of an abandoned request are told apart.
pub(crate) struct Conn {
    pub(crate) io: Box<dyn Transport>,
    pub(crate) seq: u32,
}

impl Conn {
    /// Sends `request` and reads its answer to the end, handing each data
    /// message's attributes to `on_data`; returns whether the kernel flagged
    /// the answer (a dump) as raced by a change.
    pub(crate) fn exchange(
        &mut self,
        op: &'static str,
        request: &Builder,
        set: Option<Set>,
        on_data: &mut dyn FnMut(&[u8]) -> Result<(), Error>,
    ) -> Result<bool, Error> {
        self.seq = self.seq.wrapping_add(1);
        let bytes = request.finish(self.seq, self.io.port());
        self.io
            .send(&bytes)
            .map_err(|e| Error::Socket(format!("sending {op}: {e}")))?;
        let mut exchange = Exchange::new(op, &bytes, set);
        loop {
            let datagram = self
                .io
                .recv()
                .map_err(|e| Error::Socket(format!("receiving the answer to {op}: {e}")))?;
            if let Step::Finished { interrupted } = exchange.feed(&datagram, on_data)? {
                return Ok(interrupted);
            }
        }
    }
}

impl Client {
    /// The family's id and the `sessions` group's, as resolved when the
    /// client connected: a module loaded again gets new ones.
    pub fn sessions_ids(&self) -> (u16, Option<u32>) {
        (self.family, self.sessions_group)
    }

    /// Opens a generic netlink socket and resolves the `ringgate` family.
    pub fn connect() -> Result<Self, Error> {
        let socket = NetlinkSocket::open().map_err(|e| Error::Socket(e.to_string()))?;
        Client::over(Box::new(socket))
    }

    /// A client over `io`, after resolving the family through it.
    pub(crate) fn over(io: Box<dyn Transport>) -> Result<Self, Error> {
        let mut conn = Conn { io, seq: 0 };
        let mut name = uapi::RINGGATE_FAMILY_NAME.as_bytes().to_vec();
        name.push(0);
        let mut request = Builder::genl(GENL_ID_CTRL, NLM_F_ACK, CTRL_CMD_GETFAMILY, 1);
        request.put(CTRL_ATTR_FAMILY_NAME, &name);
        let (mut family, mut events_group, mut sessions_group) = (None, None, None);
        conn.exchange("getfamily", &request, None, &mut |payload| {
            for attr in attrs(payload) {
                match attr.kind {
                    CTRL_ATTR_FAMILY_ID => {
                        family = attr.payload.try_into().ok().map(u16::from_ne_bytes)
                    }
                    CTRL_ATTR_MCAST_GROUPS => {
                        events_group = group_id(attr.payload, uapi::RINGGATE_MCGRP_EVENTS);
                        sessions_group = group_id(attr.payload, uapi::RINGGATE_MCGRP_SESSIONS);
                    }
                    _ => {}
                }
            }
            Ok(())
        })
        .map_err(|e| match e {
            // The controller answers ENOENT for a family nobody registered.
            Error::Kernel(k) if k.errno == ENOENT => Error::ModuleNotLoaded,
            other => other,
        })?;
        let family = family.ok_or_else(|| Error::Malformed {
            op: "getfamily",
            why: "no family id".into(),
        })?;
        Ok(Client {
            conn: Mutex::new(conn),
            family,
            events_group,
            sessions_group,
        })
    }

    fn request(&self, cmd: u8, dump: bool) -> Builder {
        let flags = if dump {
            NLM_F_DUMP | NLM_F_ACK
        } else {
            NLM_F_ACK
        };
        Builder::genl(self.family, flags, cmd, uapi::RINGGATE_FAMILY_VERSION)
    }

    /// Sends one command with the attributes `fill` adds, handing the
    /// attributes of each reply message to `on_data`.
    pub(crate) fn call(
        &self,
        cmd: u8,
        fill: impl FnOnce(&mut Builder),
        on_data: &mut dyn FnMut(&[u8]) -> Result<(), Error>,
    ) -> Result<(), Error> {
        let mut request = self.request(cmd, false);
        fill(&mut request);
        self.conn
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .exchange(op_name(cmd), &request, Set::of_cmd(cmd), on_data)
            .map(|_| ())
    }

    /// Sends one command and decodes its single reply message.
    pub(crate) fn get<T>(
        &self,
        cmd: u8,
        fill: impl FnOnce(&mut Builder),
        decode: impl Fn(&[u8]) -> Result<T, Error>,
    ) -> Result<T, Error> {
        let mut reply = None;
        self.call(cmd, fill, &mut |payload| {
            if reply.is_none() {
                reply = Some(decode(payload)?);
            }
            Ok(())
        })?;
        reply.ok_or_else(|| Error::Malformed {
            op: op_name(cmd),
            why: "no reply message".into(),
        })
    }

    /// Dumps `cmd` once, handing each entry's attributes to `on_data` as it
    /// arrives; returns whether the kernel flagged the dump as raced by a
    /// change (it is read to its end either way).
    pub(crate) fn dump_each(
        &self,
        cmd: u8,
        on_data: &mut dyn FnMut(&[u8]) -> Result<(), Error>,
    ) -> Result<bool, Error> {
        self.dump_each_with(cmd, &|_| {}, on_data)
    }

    /// `dump_each` with request attributes that `fill` adds (a filter).
    pub(crate) fn dump_each_with(
        &self,
        cmd: u8,
        fill: &dyn Fn(&mut Builder),
        on_data: &mut dyn FnMut(&[u8]) -> Result<(), Error>,
    ) -> Result<bool, Error> {
        let mut request = self.request(cmd, true);
        fill(&mut request);
        self.conn
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .exchange(op_name(cmd), &request, Set::of_cmd(cmd), on_data)
    }

    /// Dumps `cmd` into a list, trying again while the kernel flags the dump
    /// as raced by a change to `what` (the object dumped, for the error).
    pub(crate) fn dump_consistent<T>(
        &self,
        cmd: u8,
        what: &'static str,
        decode: impl Fn(&[u8]) -> Result<T, Error>,
    ) -> Result<Vec<T>, Error> {
        self.dump_consistent_with(cmd, &|_| {}, what, decode)
    }

    /// `dump_consistent` with request attributes that `fill` adds.
    pub(crate) fn dump_consistent_with<T>(
        &self,
        cmd: u8,
        fill: &dyn Fn(&mut Builder),
        what: &'static str,
        decode: impl Fn(&[u8]) -> Result<T, Error>,
    ) -> Result<Vec<T>, Error> {
        for _ in 0..DUMP_ATTEMPTS {
            let mut entries = Vec::new();
            let interrupted = self.dump_each_with(cmd, fill, &mut |payload| {
                entries.push(decode(payload)?);
                Ok(())
            })?;
            if !interrupted {
                return Ok(entries);
            }
        }
        Err(Error::DumpInterrupted {
            what,
            attempts: DUMP_ATTEMPTS,
        })
    }
}

/// The spec name of command `cmd` (`vip-add`), for errors: every command
/// this crate sends is in the spec it was built from.
pub(crate) fn op_name(cmd: u8) -> &'static str {
    uapi::op(cmd).map_or("an unknown command", |op| op.name)
}

/// The id of multicast group `name` in the controller's list of a family's
/// groups (one nest per group, with its name and id).
fn group_id(groups: &[u8], name: &str) -> Option<u32> {
    attrs(groups).find_map(|group| {
        let mut id = None;
        let mut found = false;
        for attr in attrs(group.payload) {
            match attr.kind {
                CTRL_ATTR_MCAST_GRP_NAME => {
                    found = attr.payload.split(|b| *b == 0).next() == Some(name.as_bytes())
                }
                CTRL_ATTR_MCAST_GRP_ID => id = attr.payload.try_into().ok().map(u32::from_ne_bytes),
                _ => {}
            }
        }
        id.filter(|_| found)
    })
}
