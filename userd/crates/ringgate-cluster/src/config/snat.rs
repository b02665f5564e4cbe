//! Outbound translation, cluster-wide: connections that hosts behind the
//! cluster (the back-ends) open to the outside leave from one VIP, and each
//! member of the ring translates them with its own share of one port range.
//! The shares follow from the agreed configuration and the ring's
//! membership alone, so every member computes the same ones at the same
//! membership change; a reply that reaches another node than the one that
//! translated it is known by its port (see the module's `snat.rs`).

use std::net::Ipv4Addr;

use crate::codec::{DecodeError, Reader, Writer};
use crate::config::VipConfig;
use crate::model::{NodeId, Vip};

/// The first port a range may start at: below it are the ports a host's
/// own services listen on.
pub const FIRST_SNAT_PORT: u16 = 1024;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SnatConfig {
    /// The hosts translated: `source/prefix_len`.
    pub source: Ipv4Addr,
    pub prefix_len: u8,
    /// The VIP their connections leave from (one of the configuration's).
    pub to: Vip,
    /// The ports the members share, both included.
    pub first_port: u16,
    pub last_port: u16,
}

/// What is wrong with an outbound translation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum SnatProblem {
    #[error("prefix length {0} is more than 32")]
    PrefixLength(u8),
    #[error("{0}/{1} has bits set beyond its length")]
    HostBits(Ipv4Addr, u8),
    #[error(
        "ports {0}-{1}: the first must be {FIRST_SNAT_PORT} or more and the last not below it"
    )]
    Range(u16, u16),
    #[error("to = {0} is not a VIP of the configuration")]
    NotAVip(Vip),
    #[error("port {0} of the range is a service's port of the VIP {1}")]
    ServicePort(u16, Vip),
}

/// A member's share of the ports, both ends included.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PortShare {
    pub node: NodeId,
    pub first: u16,
    pub last: u16,
}

impl SnatConfig {
    /// Checks what the modules would refuse (the translation on its own).
    pub fn check(&self) -> Result<(), SnatProblem> {
        if self.prefix_len > 32 {
            return Err(SnatProblem::PrefixLength(self.prefix_len));
        }
        let mask = u32::MAX
            .checked_shl(32 - u32::from(self.prefix_len))
            .unwrap_or(0);
        if u32::from(self.source) & !mask != 0 {
            return Err(SnatProblem::HostBits(self.source, self.prefix_len));
        }
        if self.first_port < FIRST_SNAT_PORT || self.last_port < self.first_port {
            return Err(SnatProblem::Range(self.first_port, self.last_port));
        }
        Ok(())
    }

    /// Checks the translation against the configuration's VIPs: `to` is
    /// one of them, and none of its services (of either protocol and mode)
    /// listens on a port of the range, which the modules give the
    /// translation (a packet to such a port with no session is sent to the
    /// node whose share holds it).
    pub fn check_against(&self, vips: &[VipConfig]) -> Result<(), SnatProblem> {
        self.check()?;
        let vip = vips
            .iter()
            .find(|v| v.addr == self.to)
            .ok_or(SnatProblem::NotAVip(self.to))?;
        match vip
            .services
            .iter()
            .find(|s| (self.first_port..=self.last_port).contains(&s.port))
        {
            Some(s) => Err(SnatProblem::ServicePort(s.port, self.to)),
            None => Ok(()),
        }
    }

    /// Each of `members`' share of the ports: the members in the order of
    /// their ids, each given the next consecutive share, all shares equal
    /// but for the first ones, a port larger, that take what does not
    /// divide evenly. With fewer ports than members the last members get
    /// none (and translate nothing). Duplicates in `members` count once.
    pub fn shares(&self, members: &[NodeId]) -> Vec<PortShare> {
        let mut nodes = members.to_vec();
        nodes.sort_unstable();
        nodes.dedup();
        // A configuration that was never checked (a damaged state file)
        // shares nothing rather than overflow.
        if self.last_port < self.first_port {
            return Vec::new();
        }
        let ports = u32::from(self.last_port) - u32::from(self.first_port) + 1;
        let Ok(count) = u32::try_from(nodes.len()) else {
            return Vec::new();
        };
        if count == 0 {
            return Vec::new();
        }
        let (each, extra) = (ports / count, ports % count);
        let mut next = u32::from(self.first_port);
        let mut shares = Vec::with_capacity(nodes.len());
        for (i, node) in (0u32..).zip(nodes) {
            let size = each + u32::from(i < extra);
            if size == 0 {
                break;
            }
            // Within `first_port..=last_port`, so within u16.
            shares.push(PortShare {
                node,
                first: next as u16,
                last: (next + size - 1) as u16,
            });
            next += size;
        }
        shares
    }

    pub(crate) fn encode(&self, w: &mut Writer) {
        w.ip(self.source)
            .u8(self.prefix_len)
            .ip(self.to)
            .u16(self.first_port)
            .u16(self.last_port);
    }

    pub(crate) fn decode(r: &mut Reader) -> Result<SnatConfig, DecodeError> {
        Ok(SnatConfig {
            source: r.ip()?,
            prefix_len: r.u8()?,
            to: r.ip()?,
            first_port: r.u16()?,
            last_port: r.u16()?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn snat(first_port: u16, last_port: u16) -> SnatConfig {
        SnatConfig {
            source: Ipv4Addr::new(10, 8, 0, 0),
            prefix_len: 24,
            to: Ipv4Addr::new(10, 9, 0, 100),
            first_port,
            last_port,
        }
    }

    fn spans(shares: &[PortShare]) -> Vec<(NodeId, u16, u16)> {
        shares.iter().map(|s| (s.node, s.first, s.last)).collect()
    }

    #[test]
    fn members_share_the_range_in_the_order_of_their_ids() {
        let s = snat(20000, 29999);
        assert_eq!(
            spans(&s.shares(&[3, 1, 2])),
            [(1, 20000, 23333), (2, 23334, 26666), (3, 26667, 29999)]
        );
        // The same membership in any order, with a repeat, gives the same.
        assert_eq!(s.shares(&[2, 3, 1, 3]), s.shares(&[1, 2, 3]));
        // One member has it all; nobody, nothing.
        assert_eq!(spans(&s.shares(&[7])), [(7, 20000, 29999)]);
        assert!(s.shares(&[]).is_empty());
        // The whole port space, split in two.
        assert_eq!(
            spans(&snat(1024, 65535).shares(&[1, 2])),
            [(1, 1024, 33279), (2, 33280, 65535)]
        );
    }

    #[test]
    fn with_fewer_ports_than_members_the_last_members_get_none() {
        assert_eq!(
            spans(&snat(40000, 40001).shares(&[5, 6, 7])),
            [(5, 40000, 40000), (6, 40001, 40001)]
        );
    }

    #[test]
    fn shares_never_overlap_and_cover_the_range() {
        for (first, last) in [(1024, 65535), (20000, 20006), (30000, 30000)] {
            for n in 1..=40u16 {
                let members: Vec<NodeId> = (1..=n).map(|i| i * 3).collect();
                let shares = snat(first, last).shares(&members);
                let mut next = u32::from(first);
                for s in &shares {
                    assert_eq!(u32::from(s.first), next, "{first}-{last}, {n} members");
                    assert!(s.first <= s.last);
                    next = u32::from(s.last) + 1;
                }
                assert_eq!(next, u32::from(last) + 1);
            }
        }
    }

    fn vips(service_port: u16) -> Vec<VipConfig> {
        vec![VipConfig {
            addr: Ipv4Addr::new(10, 9, 0, 100),
            services: vec![crate::config::Service {
                proto: 17,
                port: service_port,
                scheduler: "wrr".into(),
                backends: Vec::new(),
                health: None,
                mode: crate::config::ServiceMode::Nat,
            }],
        }]
    }

    #[test]
    fn a_backwards_range_shares_nothing_rather_than_overflow() {
        assert!(snat(3000, 2999).shares(&[1, 2]).is_empty());
    }

    #[test]
    fn the_range_must_not_hold_a_service_port_of_the_vip() {
        assert_eq!(snat(20000, 29999).check_against(&vips(80)), Ok(()));
        assert_eq!(
            snat(20000, 29999).check_against(&vips(20000)),
            Err(SnatProblem::ServicePort(
                20000,
                Ipv4Addr::new(10, 9, 0, 100)
            ))
        );
        assert_eq!(
            snat(20000, 29999).check_against(&vips(29999)),
            Err(SnatProblem::ServicePort(
                29999,
                Ipv4Addr::new(10, 9, 0, 100)
            ))
        );
        assert_eq!(snat(20000, 29999).check_against(&vips(30000)), Ok(()));
    }

    #[test]
    fn a_translation_the_modules_would_refuse_is_refused() {
        let vips = || vips(80);
        assert_eq!(snat(20000, 29999).check_against(&vips()), Ok(()));
        let host_bits = SnatConfig {
            source: Ipv4Addr::new(10, 8, 0, 1),
            ..snat(20000, 29999)
        };
        assert!(matches!(
            host_bits.check_against(&vips()),
            Err(SnatProblem::HostBits(..))
        ));
        let long = SnatConfig {
            prefix_len: 33,
            ..snat(20000, 29999)
        };
        assert_eq!(
            long.check_against(&vips()),
            Err(SnatProblem::PrefixLength(33))
        );
        let everyone = SnatConfig {
            source: Ipv4Addr::UNSPECIFIED,
            prefix_len: 0,
            ..snat(20000, 29999)
        };
        assert_eq!(everyone.check_against(&vips()), Ok(()));
        assert_eq!(
            snat(1023, 2000).check_against(&vips()),
            Err(SnatProblem::Range(1023, 2000))
        );
        assert_eq!(
            snat(3000, 2999).check_against(&vips()),
            Err(SnatProblem::Range(3000, 2999))
        );
        let elsewhere = SnatConfig {
            to: Ipv4Addr::new(10, 9, 0, 101),
            ..snat(20000, 29999)
        };
        assert_eq!(
            elsewhere.check_against(&vips()),
            Err(SnatProblem::NotAVip(Ipv4Addr::new(10, 9, 0, 101)))
        );
    }
}
