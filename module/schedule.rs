// SPDX-License-Identifier: GPL-2.0

//! Which back-end a new connection goes to, for the schedulers that choose
//! by weight (weighted round-robin) and by load (weighted least
//! connections); consistent hashing is `maglev`. Pure logic with no kernel
//! dependency (`module/host-tests` compiles it). The back-ends are given as
//! `(index, weight, ...)` of those eligible (used, up, weight above 0), in
//! index order.

/// Weighted round-robin: of every `total weight` connections, each back-end
/// gets `weight`, in index order (weights 3:1 give 0, 0, 0, 1, 0, 0, 0, 1,
/// ...). `next_turn` yields the service's connection number and is called
/// only if some back-end is eligible, so a service with none does not
/// advance. Bounded: two passes over the back-ends.
pub(crate) fn round_robin<I>(eligible: I, next_turn: impl FnOnce() -> u32) -> Option<usize>
where
    I: Iterator<Item = (usize, u32)> + Clone,
{
    let total = eligible
        .clone()
        .fold(0u32, |sum, (_, w)| sum.saturating_add(w));
    if total == 0 {
        return None;
    }
    let mut position = next_turn() % total;
    for (index, weight) in eligible {
        if position < weight {
            return Some(index);
        }
        position -= weight;
    }
    None
}

/// Weighted least connections: the back-end with the least `overhead` (see
/// `Load::overhead`) per unit of weight, the first such on a tie, as IPVS's
/// wlc. Items are `(index, weight, overhead)`.
pub(crate) fn least_connections(
    eligible: impl Iterator<Item = (usize, u64, u64)>,
) -> Option<usize> {
    let mut best: Option<(usize, u64, u64)> = None;
    for (index, weight, overhead) in eligible {
        // overhead / weight < best overhead / best weight, without division
        // (both products stay far below 2^64: overheads below 2^33, weights
        // below 2^16).
        if best.is_none_or(|(_, w, o)| overhead.saturating_mul(w) < o.saturating_mul(weight)) {
            best = Some((index, weight, overhead));
        }
    }
    best.map(|(index, _, _)| index)
}
