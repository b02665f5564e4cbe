//! The load rule: when one node carries clearly more than another, move one
//! VIP from the busiest to the least busy node.
//!
//! Loads are weighted (a node's load divided by its weight), compared
//! exactly in integers. A move is made only when
//! - the busiest node's weighted load exceeds the least busy one's by
//!   `imbalance_threshold_pct` percent and by `min_imbalance`, and
//! - the move shrinks the gap between the two by at least `hysteresis_pct`
//!   percent; of the VIPs that qualify, the one leaving the smallest gap.
//!
//! Why this converges: with loads `L` and weights `w`, the potential
//! `sum(L_i^2 / w_i)` falls strictly whenever a load `l` moves from `b` to
//! `s` and leaves a smaller gap (the change is `l * (2 * (new gap) - ...)`,
//! negative for any `|new gap| < gap`), so while loads stand still only
//! finitely many moves can follow each other. A move back would restore the
//! old gap, which is never smaller, so no VIP ping-pongs. The hold time and
//! the bound on moves per period (in `state`) limit the rate further while
//! loads change.

use crate::model::{NodeId, Vip};
use crate::placement::cmp_weighted;

/// A node the balancer may move VIPs between.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NodeLoad {
    pub id: NodeId,
    pub weight: u32,
    /// Sum of the load scores of the VIPs it owns.
    pub load: u64,
}

/// A VIP on some node, whether the hold time lets it move, and its load.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct VipOnNode {
    pub vip: Vip,
    pub owner: NodeId,
    pub load: u64,
    pub movable: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rule {
    pub threshold_pct: u32,
    pub min_imbalance: u64,
    pub hysteresis_pct: u32,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Move {
    pub vip: Vip,
    pub from: NodeId,
    pub to: NodeId,
}

/// A node's load scaled to weight 100, for differences and thresholds.
fn scaled(load: u64, weight: u32) -> u128 {
    u128::from(load) * 100 / u128::from(weight.max(1))
}

/// The move the rule makes now, if any.
pub fn pick_move(nodes: &[NodeLoad], vips: &[VipOnNode], rule: Rule) -> Option<Move> {
    let nodes: Vec<&NodeLoad> = nodes.iter().filter(|n| n.weight > 0).collect();
    let busiest = nodes.iter().copied().max_by(|a, b| {
        cmp_weighted(a.load, a.weight, b.load, b.weight).then_with(|| b.id.cmp(&a.id))
    })?;
    let least = nodes
        .iter()
        .copied()
        .filter(|n| n.id != busiest.id)
        .min_by(|a, b| {
            cmp_weighted(a.load, a.weight, b.load, b.weight).then_with(|| a.id.cmp(&b.id))
        })?;
    let (high, low) = (
        scaled(busiest.load, busiest.weight),
        scaled(least.load, least.weight),
    );
    let gap = high.saturating_sub(low);
    let over_threshold = high * 100 > low * (100 + u128::from(rule.threshold_pct));
    if gap < u128::from(rule.min_imbalance) || !over_threshold {
        return None;
    }
    vips.iter()
        .filter(|v| v.owner == busiest.id && v.movable && v.load > 0)
        .filter_map(|v| {
            let new_high = scaled(busiest.load.saturating_sub(v.load), busiest.weight);
            let new_low = scaled(least.load.saturating_add(v.load), least.weight);
            let new_gap = new_high.abs_diff(new_low);
            (new_gap * 100 < gap * u128::from(100 - rule.hysteresis_pct.min(99)))
                .then_some((new_gap, v.vip))
        })
        .min()
        .map(|(_, vip)| Move {
            vip,
            from: busiest.id,
            to: least.id,
        })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::Ipv4Addr;

    const RULE: Rule = Rule {
        threshold_pct: 25,
        min_imbalance: 100,
        hysteresis_pct: 10,
    };

    fn vip(n: u8, owner: NodeId, load: u64) -> VipOnNode {
        VipOnNode {
            vip: Ipv4Addr::new(10, 0, 0, n),
            owner,
            load,
            movable: true,
        }
    }

    fn loads(vips: &[VipOnNode], weights: &[(NodeId, u32)]) -> Vec<NodeLoad> {
        weights
            .iter()
            .map(|&(id, weight)| NodeLoad {
                id,
                weight,
                load: vips.iter().filter(|v| v.owner == id).map(|v| v.load).sum(),
            })
            .collect()
    }

    /// Applies the rule until it stops; the moves made.
    fn settle(vips: &mut [VipOnNode], weights: &[(NodeId, u32)]) -> Vec<Move> {
        let mut moves = Vec::new();
        while let Some(m) = pick_move(&loads(vips, weights), vips, RULE) {
            assert!(moves.len() < 100, "no convergence: {moves:?}");
            if let Some(v) = vips.iter_mut().find(|v| v.vip == m.vip) {
                v.owner = m.to;
            }
            moves.push(m);
        }
        moves
    }

    #[test]
    fn the_busiest_gives_the_vip_that_best_closes_the_gap() {
        let vips = [vip(1, 1, 300), vip(2, 1, 500), vip(3, 2, 100)];
        let m = pick_move(&loads(&vips, &[(1, 100), (2, 100)]), &vips, RULE);
        // Moving .1 leaves 500 vs 400 (gap 100); moving .2 leaves 300 vs 600.
        assert_eq!(
            m,
            Some(Move {
                vip: Ipv4Addr::new(10, 0, 0, 1),
                from: 1,
                to: 2
            })
        );
    }

    #[test]
    fn unequal_weights_are_balanced_by_weighted_load() {
        // Node 2 has three times the capacity: 600 on it is like 200 on node 1.
        let vips = [vip(1, 2, 300), vip(2, 2, 300), vip(3, 1, 200)];
        assert_eq!(
            pick_move(&loads(&vips, &[(1, 100), (2, 300)]), &vips, RULE),
            None
        );
        // Equal weights would move a VIP.
        assert!(pick_move(&loads(&vips, &[(1, 100), (2, 100)]), &vips, RULE).is_some());
        // From a start with everything on the small node, the rule settles
        // with the big node carrying most of the load.
        let mut vips: Vec<_> = (1..=8).map(|n| vip(n, 1, 100)).collect();
        settle(&mut vips, &[(1, 100), (2, 300)]);
        let on_big = vips.iter().filter(|v| v.owner == 2).count();
        assert_eq!(on_big, 6, "{vips:?}");
    }

    #[test]
    fn small_or_relative_imbalances_do_not_move_anything() {
        // 20% apart: under the 25% threshold.
        let vips = [vip(1, 1, 1200), vip(2, 2, 1000)];
        assert_eq!(
            pick_move(&loads(&vips, &[(1, 100), (2, 100)]), &vips, RULE),
            None
        );
        // 3x apart but only 60 in absolute terms: noise.
        let vips = [vip(1, 1, 90), vip(2, 2, 30)];
        assert_eq!(
            pick_move(&loads(&vips, &[(1, 100), (2, 100)]), &vips, RULE),
            None
        );
    }

    /// One big VIP against an idle node: moving it would only swap the roles
    /// (the same gap the other way), so the hysteresis refuses it. Without
    /// that rule it would move back and forth forever.
    #[test]
    fn a_move_that_only_swaps_the_imbalance_is_refused() {
        let vips = [vip(1, 1, 1000)];
        assert_eq!(
            pick_move(&loads(&vips, &[(1, 100), (2, 100)]), &vips, RULE),
            None
        );
    }

    #[test]
    fn held_vips_stay() {
        let mut vips = [vip(1, 1, 500), vip(2, 1, 500)];
        for v in &mut vips {
            v.movable = false;
        }
        assert_eq!(
            pick_move(&loads(&vips, &[(1, 100), (2, 100)]), &vips, RULE),
            None
        );
    }

    /// Random loads and weights: the rule always stops, and never moves the
    /// same VIP back to where it just came from.
    #[test]
    fn random_loads_converge_without_ping_pong() {
        let mut seed = 0x1234_5678_u64;
        let mut next = |n: u64| {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed % n
        };
        for _ in 0..300 {
            let weights: Vec<(NodeId, u32)> = (1..=1 + next(5) as NodeId)
                .map(|id| (id, 50 + next(300) as u32))
                .collect();
            let mut vips: Vec<_> = (1..=1 + next(20) as u8)
                .map(|n| {
                    vip(
                        n,
                        weights[next(weights.len() as u64) as usize].0,
                        next(5000),
                    )
                })
                .collect();
            let moves = settle(&mut vips, &weights);
            for pair in moves.windows(2) {
                assert!(
                    !(pair[0].vip == pair[1].vip && pair[0].from == pair[1].to),
                    "{moves:?}"
                );
            }
        }
    }
}
