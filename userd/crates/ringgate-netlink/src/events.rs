//! The module's notifications (the spec's `events` multicast group), read
//! on a socket of their own so that they never mix with the answers to
//! requests.

use std::collections::VecDeque;
use std::net::Ipv4Addr;

use ringgate_uapi as uapi;

use crate::decode::Decoder;
use crate::names::Set;
use crate::transport::{NetlinkSocket, Transport};
use crate::wire::{attrs, messages, GENL_HDRLEN};
use crate::{Client, Error, Session};

/// `ENOBUFS`: the kernel had notifications for the socket and no room in
/// its receive buffer, so some were dropped.
const ENOBUFS: i32 = 105;

/// One notification.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    /// A VIP of this namespace was taken (`owned`) or released.
    VipOwner { addr: Ipv4Addr, owned: bool },
    /// New connections were refused for lack of room in the session table;
    /// `dropped` counts them since the module was loaded.
    SessionsFull { dropped: u64 },
    /// A session this node's module created (the `sessions` group).
    SessionNew(Session),
    /// A notification of a newer module, by its command number.
    Unknown { cmd: u8 },
    /// Notifications were lost (the socket's buffer overflowed): state may
    /// have changed unseen, so whoever mirrors it must dump it again.
    Lost,
}

/// A subscription to the `events` group.
pub struct Events {
    io: Box<dyn Transport>,
    family: u16,
    pending: VecDeque<Event>,
}

/// A socket's receive buffer for the `sessions` group: room for thousands
/// of notifications (each takes about 1 KB of buffer), so that a burst of
/// new connections while the reader waits for the CPU is not lost. A loss
/// is reported (`Event::Lost`) all the same.
const SESSIONS_RECEIVE_BUFFER: usize = 4 << 20;

impl Client {
    /// Subscribes to the module's notifications, on a socket of their own.
    pub fn events(&self) -> Result<Events, Error> {
        let socket = NetlinkSocket::open().map_err(|e| Error::Socket(e.to_string()))?;
        self.events_over(Box::new(socket))
    }

    pub(crate) fn events_over(&self, io: Box<dyn Transport>) -> Result<Events, Error> {
        self.subscribe(io, self.events_group, uapi::RINGGATE_MCGRP_EVENTS)
    }

    /// Subscribes to the sessions this node's module creates, on a socket
    /// of their own. While a lease runs, the module opens new connections
    /// only while someone holds such a subscription (see `owner-lease` in
    /// the spec): the daemon that announces them.
    pub fn session_events(&self) -> Result<Events, Error> {
        let socket = NetlinkSocket::open().map_err(|e| Error::Socket(e.to_string()))?;
        socket
            .set_receive_buffer(SESSIONS_RECEIVE_BUFFER)
            .map_err(|e| Error::Socket(format!("sizing the sessions socket's buffer: {e}")))?;
        // Without it the kernel reports a notification this socket had no
        // room for as if nobody listened (-ESRCH), and the module would
        // take a full buffer for a dead daemon and refuse new connections.
        socket
            .set_broadcast_error()
            .map_err(|e| Error::Socket(format!("asking for broadcast errors: {e}")))?;
        self.session_events_over(Box::new(socket))
    }

    pub(crate) fn session_events_over(&self, io: Box<dyn Transport>) -> Result<Events, Error> {
        self.subscribe(io, self.sessions_group, uapi::RINGGATE_MCGRP_SESSIONS)
    }

    fn subscribe(
        &self,
        mut io: Box<dyn Transport>,
        group: Option<u32>,
        name: &str,
    ) -> Result<Events, Error> {
        let group = group.ok_or_else(|| Error::Malformed {
            op: "getfamily",
            why: format!("the family has no {name:?} multicast group"),
        })?;
        io.join(group)
            .map_err(|e| Error::Socket(format!("joining the {name} group: {e}")))?;
        Ok(Events {
            io,
            family: self.family,
            pending: VecDeque::new(),
        })
    }
}

impl Events {
    /// Whether a notification is pending or comes within `timeout`.
    pub fn wait(&mut self, timeout: std::time::Duration) -> Result<bool, Error> {
        if !self.pending.is_empty() {
            return Ok(true);
        }
        self.io
            .wait_readable(timeout)
            .map_err(|e| Error::Socket(format!("waiting for events: {e}")))
    }

    /// The next notification, waiting for one if none is pending.
    pub fn next_event(&mut self) -> Result<Event, Error> {
        loop {
            if let Some(event) = self.pending.pop_front() {
                return Ok(event);
            }
            match self.io.recv() {
                Ok(datagram) => self.pending.extend(decode(self.family, &datagram)?),
                Err(e) if e.raw_os_error() == Some(ENOBUFS) => return Ok(Event::Lost),
                Err(e) => return Err(Error::Socket(format!("receiving events: {e}"))),
            }
        }
    }
}

impl Iterator for Events {
    type Item = Result<Event, Error>;

    fn next(&mut self) -> Option<Self::Item> {
        Some(self.next_event())
    }
}

/// The notifications of one datagram; messages of other families are not
/// notifications of this module and are skipped.
pub(crate) fn decode(family: u16, datagram: &[u8]) -> Result<Vec<Event>, Error> {
    let mut events = Vec::new();
    for message in messages(datagram) {
        let message = message.map_err(|t| Error::Malformed {
            op: "events",
            why: t.0,
        })?;
        if message.kind != family || message.payload.len() < GENL_HDRLEN {
            continue;
        }
        let cmd = message.payload[0];
        let payload = &message.payload[GENL_HDRLEN..];
        events.push(match cmd {
            uapi::RINGGATE_CMD_VIP_OWNER_NTF => vip_owner(payload)?,
            uapi::RINGGATE_CMD_SESSIONS_FULL_NTF => sessions_full(payload)?,
            uapi::RINGGATE_CMD_SESSION_NEW_NTF => Event::SessionNew(Session::decode(payload)?),
            cmd => Event::Unknown { cmd },
        });
    }
    Ok(events)
}

fn vip_owner(payload: &[u8]) -> Result<Event, Error> {
    let d = Decoder {
        op: "vip-owner-ntf",
        set: Set::VIP,
    };
    let (mut addr, mut owned) = (None, None);
    for attr in attrs(payload) {
        match attr.kind {
            uapi::RINGGATE_A_VIP_ADDR => addr = Some(d.addr(attr.kind, attr.payload)?),
            uapi::RINGGATE_A_VIP_OWNED => owned = Some(d.u8(attr.kind, attr.payload)? == 1),
            _ => {}
        }
    }
    Ok(Event::VipOwner {
        addr: d.need(uapi::RINGGATE_A_VIP_ADDR, addr)?,
        owned: d.need(uapi::RINGGATE_A_VIP_OWNED, owned)?,
    })
}

fn sessions_full(payload: &[u8]) -> Result<Event, Error> {
    let d = Decoder {
        op: "sessions-full-ntf",
        set: Set::STATUS,
    };
    let kind = uapi::RINGGATE_A_STATUS_SESSIONS_DROPPED;
    let dropped = attrs(payload)
        .find(|a| a.kind == kind)
        .map(|a| d.uint(kind, a.payload))
        .transpose()?;
    Ok(Event::SessionsFull {
        dropped: d.need(kind, dropped)?,
    })
}
