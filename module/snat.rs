// SPDX-License-Identifier: GPL-2.0

//! Outbound translation (SNAT): connections that hosts behind the cluster
//! (the back-ends, one prefix) open to the outside leave from a VIP, with a
//! source port from the range the cluster gave this node. Pure logic with no
//! kernel dependency (`module/host-tests` compiles it).
//!
//! Every node has its own range, so two nodes translating at once never
//! pick the same port towards the same destination, and a reply is known by
//! its port alone: it reaches the VIP's owner, which may not be the node
//! that translated (the back-ends' gateway address and the VIP can be on
//! different nodes), and is sent on to the node whose range holds its port
//! (`peers`) even before that node's announcement of the session arrives.

/// Ports tried for one new connection: the first free one is taken. A
/// bound on the work of one packet; a range this full of one destination's
/// connections refuses the next one (counted), which its sender retries.
pub(crate) const CANDIDATES: u32 = 16;

/// The outbound translation of a namespace. Addresses in network byte
/// order, ports in host order; no ports (0 and 0) when the cluster left
/// this node none: it then opens no outbound connection, but still knows
/// the translation's sessions (it imports them, adopts them, translates
/// their packets) and sends replies on to the node whose range holds their
/// port.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct Snat {
    source: u32,
    prefix_len: u8,
    to: u32,
    port_lo: u16,
    port_hi: u16,
}

/// Why a translation was refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum SnatError {
    /// The prefix's address has bits set beyond its length.
    HostBits,
    /// A prefix longer than 32 bits.
    PrefixLength,
    /// The range's last port is below its first, or the range starts
    /// below 1024 (ports a host's own services use).
    Range,
    /// The VIP is no address a VIP can be (0, loopback, multicast or
    /// broadcast).
    NoAddress,
}

/// The first port a range may start at.
pub(crate) const FIRST_PORT: u16 = 1024;

/// The mask of a prefix of `len` bits, in host order.
fn mask(len: u8) -> u32 {
    match len {
        0 => 0,
        len => u32::MAX << (32 - u32::from(len.min(32))),
    }
}

impl Snat {
    /// No translation.
    pub(crate) const OFF: Snat = Snat {
        source: 0,
        prefix_len: 0,
        to: 0,
        port_lo: 0,
        port_hi: 0,
    };

    /// A translation of prefix `source`/`prefix_len` to VIP `to`, with
    /// ports `first` to `last` (both included) or none, or why not.
    pub(crate) fn new(
        source: u32,
        prefix_len: u8,
        to: u32,
        ports: Option<(u16, u16)>,
    ) -> Result<Snat, SnatError> {
        if prefix_len > 32 {
            return Err(SnatError::PrefixLength);
        }
        if u32::from_be(source) & !mask(prefix_len) != 0 {
            return Err(SnatError::HostBits);
        }
        if !crate::vips::usable(to) {
            return Err(SnatError::NoAddress);
        }
        let (port_lo, port_hi) = match ports {
            Some((first, last)) if first < FIRST_PORT || last < first => {
                return Err(SnatError::Range)
            }
            Some(range) => range,
            None => (0, 0),
        };
        Ok(Snat {
            source,
            prefix_len,
            to,
            port_lo,
            port_hi,
        })
    }

    pub(crate) fn is_on(&self) -> bool {
        self.to != 0
    }

    /// Whether this node has ports to open outbound connections with.
    pub(crate) fn has_ports(&self) -> bool {
        self.port_lo != 0
    }

    /// Whether packets from `addr` (network order) are translated.
    pub(crate) fn covers(&self, addr: u32) -> bool {
        self.is_on()
            && (u32::from_be(addr) ^ u32::from_be(self.source)) & mask(self.prefix_len) == 0
    }

    /// The VIP translated connections leave from (network order).
    pub(crate) fn to(&self) -> u32 {
        self.to
    }

    pub(crate) fn source(&self) -> u32 {
        self.source
    }

    pub(crate) fn prefix_len(&self) -> u8 {
        self.prefix_len
    }

    pub(crate) fn port_lo(&self) -> u16 {
        self.port_lo
    }

    pub(crate) fn port_hi(&self) -> u16 {
        self.port_hi
    }

    /// The ports (host order) a new connection whose flow hashes to `hash`
    /// tries, in order: at most `CANDIDATES` consecutive ones of the range
    /// from a point the hash picks, wrapping at its end. Different
    /// connections start at different points, so a busy range does not make
    /// every new connection walk past the same used ports.
    pub(crate) fn candidates(&self, hash: u64) -> impl Iterator<Item = u16> {
        let (lo, hi) = (u32::from(self.port_lo), u32::from(self.port_hi));
        let size = if self.has_ports() { hi - lo + 1 } else { 0 };
        let start = if size == 0 {
            0
        } else {
            (hash % u64::from(size)) as u32
        };
        (0..CANDIDATES.min(size)).map(move |i| (lo + (start + i) % size) as u16)
    }
}
