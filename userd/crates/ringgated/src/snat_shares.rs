//! The outbound translation this node's module runs, and the ports of its
//! peers: the cluster's translation (agreed configuration) with the port
//! range shared out among the ring's members (see
//! `ringgate_cluster::config::SnatConfig::shares`). Every member computes
//! the same shares at the same membership change, so each translates with
//! ports no other member uses, and a reply that reaches another node than
//! the one that translated it is sent there by its port (the peer table).

use std::collections::BTreeMap;

use ringgate_cluster::config::SnatConfig;
use ringgate_netlink::{PortRange, Snat};

/// What the module and the peer table should hold.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SnatPlan {
    /// This node's translation; `None`: off (none configured).
    pub module: Option<Snat>,
    /// Every member's ports, this node's included.
    pub ports: BTreeMap<u16, PortRange>,
}

/// The plan for node `me` of a ring of `members`, in a configuration that
/// lists `configured` nodes. The shares go to the configured nodes and the
/// members together: with every node listed in the configuration, shares
/// never move when a node dies or comes back (a connection one node opened
/// a moment before a change keeps a port of its share, which replies are
/// sent on by); only a member the configuration does not list moves them.
/// A node that gets no share (fewer ports than nodes) still has the
/// translation, without ports: it opens no outbound connection, but takes
/// the others' sessions and sends replies on by port.
pub fn plan(snat: Option<&SnatConfig>, configured: &[u16], members: &[u16], me: u16) -> SnatPlan {
    let Some(snat) = snat else {
        return SnatPlan {
            module: None,
            ports: BTreeMap::new(),
        };
    };
    let nodes: Vec<u16> = configured.iter().chain(members).copied().collect();
    let ports: BTreeMap<u16, PortRange> = snat
        .shares(&nodes)
        .into_iter()
        .map(|s| {
            let range = PortRange {
                first: s.first,
                last: s.last,
            };
            (s.node, range)
        })
        .collect();
    let module = Some(Snat {
        source: snat.source,
        prefix_len: snat.prefix_len,
        to: snat.to,
        ports: ports.get(&me).copied(),
    });
    SnatPlan { module, ports }
}

/// The ring's members and what the module was last given.
#[derive(Debug, Default)]
pub struct SnatShares {
    members: Vec<u16>,
    /// `None`: not given yet, or the module refused it (given again at the
    /// next chance).
    given: Option<Option<Snat>>,
}

impl SnatShares {
    pub fn membership(&mut self, members: &[u16]) {
        self.members = members.to_vec();
    }

    /// The plan now, and whether the module needs to be given its part.
    pub fn due(&self, snat: Option<&SnatConfig>, configured: &[u16], me: u16) -> (SnatPlan, bool) {
        let plan = plan(snat, configured, &self.members, me);
        let due = self.given.as_ref() != Some(&plan.module);
        (plan, due)
    }

    /// The module took (`true`) or refused `module`.
    pub fn given(&mut self, module: Option<Snat>, taken: bool) {
        self.given = taken.then_some(module);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::Ipv4Addr;

    fn config() -> SnatConfig {
        SnatConfig {
            source: Ipv4Addr::new(10, 8, 0, 0),
            prefix_len: 24,
            to: Ipv4Addr::new(10, 9, 0, 100),
            first_port: 20000,
            last_port: 20999,
        }
    }

    fn span(plan: &SnatPlan) -> Option<(u16, u16)> {
        plan.module.and_then(|m| m.ports).map(|p| (p.first, p.last))
    }

    #[test]
    fn each_member_translates_with_its_own_share() {
        let config = config();
        let p2 = plan(Some(&config), &[], &[3, 1, 2], 2);
        let module = p2.module.unwrap();
        assert_eq!(
            (module.source, module.prefix_len, module.to),
            (config.source, 24, config.to)
        );
        assert_eq!(span(&p2), Some((20334, 20666)));
        assert_eq!(p2.ports.len(), 3);
        // Every member's plan agrees on everyone's ports.
        for me in [1, 3] {
            assert_eq!(plan(Some(&config), &[], &[1, 2, 3], me).ports, p2.ports);
        }
        // A node without a share keeps the translation, without ports.
        let outside = plan(Some(&config), &[], &[1, 3], 2);
        assert_eq!(
            outside.module.map(|m| (m.to, m.ports)),
            Some((config.to, None))
        );
        // No translation configured: nothing anywhere.
        assert_eq!(plan(None, &[], &[1, 2, 3], 2), plan(None, &[], &[], 2));
        assert!(plan(None, &[1, 2], &[1, 2, 3], 2).ports.is_empty());
    }

    #[test]
    fn configured_nodes_keep_their_shares_whoever_is_in_the_ring() {
        let config = config();
        let all = plan(Some(&config), &[1, 2, 3], &[1, 2, 3], 1);
        // Node 2 dies: nobody's share moves.
        let after = plan(Some(&config), &[1, 2, 3], &[1, 3], 1);
        assert_eq!(after.ports, all.ports);
        assert_eq!(span(&after), span(&all));
        // An unlisted member joining takes a share of its own.
        let joined = plan(Some(&config), &[1, 2, 3], &[1, 2, 3, 9], 9);
        assert_eq!(joined.ports.len(), 4);
        assert!(span(&joined).is_some());
    }

    #[test]
    fn the_module_is_given_its_part_once_and_again_after_a_refusal_or_a_change() {
        let config = config();
        let mut shares = SnatShares::default();
        // Before the ring forms: the translation without ports, given once.
        let (plan, due) = shares.due(Some(&config), &[], 1);
        assert!(due && span(&plan).is_none() && plan.module.is_some());
        shares.given(plan.module, true);
        assert!(!shares.due(Some(&config), &[], 1).1);
        shares.membership(&[1, 2]);
        let (plan, due) = shares.due(Some(&config), &[], 1);
        assert!(due && span(&plan).is_some());
        shares.given(plan.module, false);
        assert!(shares.due(Some(&config), &[], 1).1, "refused: given again");
        shares.given(plan.module, true);
        assert!(!shares.due(Some(&config), &[], 1).1);
        // A member leaves: this node's share grows.
        shares.membership(&[1]);
        let (plan, due) = shares.due(Some(&config), &[], 1);
        assert!(due);
        assert_eq!(span(&plan), Some((20000, 20999)));
        // The translation removed from the configuration: off.
        let (plan, due) = shares.due(None, &[], 1);
        assert!(due && plan.module.is_none());
    }
}
