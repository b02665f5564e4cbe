//! Where a VIP goes when it must go somewhere: at first placement, when its
//! owner leaves or is drained, and when a removed VIP's owner is gone. The
//! rule is a pure function of agreed data, so every node picks the same.

use std::cmp::Ordering;

use crate::model::NodeId;

/// A node that may receive a VIP, with what it already carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Candidate {
    pub id: NodeId,
    /// Greater than zero: the caller leaves out nodes of weight 0.
    pub weight: u32,
    /// Sum of the load scores of the VIPs it owns.
    pub load: u64,
    /// How many VIPs it owns.
    pub count: u64,
}

/// Compares `a / wa` with `b / wb` exactly, without division or floats.
pub fn cmp_weighted(a: u64, wa: u32, b: u64, wb: u32) -> Ordering {
    (u128::from(a) * u128::from(wb)).cmp(&(u128::from(b) * u128::from(wa)))
}

/// The candidate that would carry the least weighted load with this VIP
/// added; among equals (an idle cluster, where every load is zero), the one
/// with the fewest VIPs per unit of weight, so VIPs spread in proportion to
/// the weights; then the lowest id, so the choice never depends on order.
pub fn choose_owner(candidates: &[Candidate], vip_load: u64) -> Option<NodeId> {
    candidates
        .iter()
        .filter(|c| c.weight > 0)
        .min_by(|a, b| {
            cmp_weighted(
                a.load.saturating_add(vip_load),
                a.weight,
                b.load.saturating_add(vip_load),
                b.weight,
            )
            .then_with(|| cmp_weighted(a.count + 1, a.weight, b.count + 1, b.weight))
            .then_with(|| a.id.cmp(&b.id))
        })
        .map(|c| c.id)
}

/// Places `vips` VIPs of zero load one after the other, as a fresh cluster
/// does; how many each candidate gets.
pub fn spread(candidates: &[Candidate], vips: usize) -> Vec<(NodeId, u64)> {
    let mut pool = candidates.to_vec();
    for _ in 0..vips {
        let Some(id) = choose_owner(&pool, 0) else {
            break;
        };
        if let Some(c) = pool.iter_mut().find(|c| c.id == id) {
            c.count += 1;
        }
    }
    pool.iter().map(|c| (c.id, c.count)).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn node(id: NodeId, weight: u32) -> Candidate {
        Candidate {
            id,
            weight,
            load: 0,
            count: 0,
        }
    }

    #[test]
    fn idle_vips_spread_in_proportion_to_weight() {
        let nodes = [node(1, 100), node(2, 200), node(3, 100)];
        assert_eq!(spread(&nodes, 8), vec![(1, 2), (2, 4), (3, 2)]);
        // A weight-0 node never gets one.
        let nodes = [node(1, 0), node(2, 100)];
        assert_eq!(spread(&nodes, 3), vec![(1, 0), (2, 3)]);
        assert_eq!(choose_owner(&[node(1, 0)], 0), None);
    }

    #[test]
    fn a_loaded_vip_goes_where_weighted_load_is_least() {
        let busy_big = Candidate {
            id: 1,
            weight: 300,
            load: 600,
            count: 3,
        };
        let idle_small = Candidate {
            id: 2,
            weight: 100,
            load: 150,
            count: 1,
        };
        // 600+100 over 300 is 2.33; 150+100 over 100 is 2.5: the big node.
        assert_eq!(choose_owner(&[busy_big, idle_small], 100), Some(1));
        // Ties go to the lowest id, whatever the order given.
        assert_eq!(choose_owner(&[node(7, 100), node(4, 100)], 0), Some(4));
    }
}
