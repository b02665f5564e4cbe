//! The small value types every part of the cluster layer shares.

use std::net::Ipv4Addr;

use crate::codec::{DecodeError, Reader, Writer};

pub use ringgate_ring::node::Micros;
pub use ringgate_ring::wire::NodeId;

/// A virtual IP address the cluster serves.
pub type Vip = Ipv4Addr;

/// One node's measured load for one VIP, as rates over the last report
/// interval (live sessions is a gauge).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct VipLoad {
    pub packets_per_sec: u64,
    pub bytes_per_sec: u64,
    pub new_sessions_per_sec: u64,
    pub live_sessions: u64,
}

impl VipLoad {
    /// One number to balance on. Packets dominate the gateway's cost; bytes
    /// count as the packets of full-size frames; a new session costs about
    /// as much as ten forwarded packets (lookup, placement, NAT setup); a
    /// live session costs memory and timer work, a hundredth of a packet per
    /// second. Saturating integer arithmetic keeps every node's result
    /// identical and free of overflow.
    pub fn score(&self) -> u64 {
        self.packets_per_sec
            .saturating_add(self.bytes_per_sec / 1500)
            .saturating_add(self.new_sessions_per_sec.saturating_mul(10))
            .saturating_add(self.live_sessions / 100)
    }

    pub(crate) fn encode(&self, w: &mut Writer) {
        w.u64(self.packets_per_sec)
            .u64(self.bytes_per_sec)
            .u64(self.new_sessions_per_sec)
            .u64(self.live_sessions);
    }

    pub(crate) const ENCODED_LEN: usize = 32;

    pub(crate) fn decode(r: &mut Reader) -> Result<Self, DecodeError> {
        Ok(VipLoad {
            packets_per_sec: r.u64()?,
            bytes_per_sec: r.u64()?,
            new_sessions_per_sec: r.u64()?,
            live_sessions: r.u64()?,
        })
    }
}

/// A back-end of one service of one VIP: what a health check result and a
/// module back-end state refer to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct BackendId {
    pub vip: Vip,
    /// IP protocol number of the service (6 TCP, 17 UDP).
    pub proto: u8,
    pub port: u16,
    pub addr: Ipv4Addr,
    pub backend_port: u16,
}

impl BackendId {
    pub(crate) const ENCODED_LEN: usize = 4 + 1 + 2 + 4 + 2;

    pub(crate) fn encode(&self, w: &mut Writer) {
        w.ip(self.vip)
            .u8(self.proto)
            .u16(self.port)
            .ip(self.addr)
            .u16(self.backend_port);
    }

    pub(crate) fn decode(r: &mut Reader) -> Result<Self, DecodeError> {
        Ok(BackendId {
            vip: r.ip()?,
            proto: r.u8()?,
            port: r.u16()?,
            addr: r.ip()?,
            backend_port: r.u16()?,
        })
    }
}
