// SPDX-License-Identifier: GPL-2.0

//! Flows as the session table keys them, and the rewrite a session applies
//! to a flow's packets. Pure logic with no kernel dependency
//! (`module/host-tests` compiles it).

/// A flow as seen in one direction (network byte order).
#[derive(Clone, Copy, Default, PartialEq, Eq, Debug)]
pub(crate) struct FlowKey {
    pub(crate) proto: u8,
    pub(crate) saddr: u32,
    pub(crate) sport: u16,
    pub(crate) daddr: u32,
    pub(crate) dport: u16,
}

impl FlowKey {
    /// The flow in the other direction.
    pub(crate) fn reversed(&self) -> FlowKey {
        FlowKey {
            proto: self.proto,
            saddr: self.daddr,
            sport: self.dport,
            daddr: self.saddr,
            dport: self.sport,
        }
    }
}

/// What to do to a packet of a known flow: the end it changes (`source`:
/// its source, else its destination) and the address and port it gets
/// there (network byte order).
#[derive(Clone, Copy, Default, PartialEq, Eq, Debug)]
pub(crate) struct Rewrite {
    pub(crate) source: bool,
    pub(crate) addr: u32,
    pub(crate) port: u16,
}

impl Rewrite {
    /// `key` as this rewrite leaves it.
    pub(crate) fn applied_to(&self, key: &FlowKey) -> FlowKey {
        let mut key = *key;
        if self.source {
            (key.saddr, key.sport) = (self.addr, self.port);
        } else {
            (key.daddr, key.dport) = (self.addr, self.port);
        }
        key
    }
}
