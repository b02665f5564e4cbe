// SPDX-License-Identifier: GPL-2.0

//! Weighted round-robin sequences and least-connection picks.

use crate::schedule::{least_connections, round_robin};

/// The back-ends the first `n` connections go to.
fn sequence(weights: &[(usize, u32)], first_turn: u32, n: u32) -> Vec<Option<usize>> {
    (0..n)
        .map(|i| round_robin(weights.iter().copied(), || first_turn.wrapping_add(i)))
        .collect()
}

#[test]
fn round_robin_follows_weights_in_order() {
    let got = sequence(&[(0, 3), (1, 1)], 0, 8);
    let want = [0, 0, 0, 1, 0, 0, 0, 1].map(Some);
    assert_eq!(got, want);
    // Indices are the back-ends' slots: gaps (ineligible slots) are skipped.
    let got = sequence(&[(2, 1), (5, 2)], 0, 6);
    assert_eq!(got, [2, 5, 5, 2, 5, 5].map(Some));
}

#[test]
fn round_robin_shares_match_weights_over_many_turns() -> Result<(), &'static str> {
    let weights = [(0, 5), (1, 2), (2, 1)];
    let mut counts = [0u32; 3];
    for pick in sequence(&weights, 12345, 800) {
        counts[pick.ok_or("no back-end picked")?] += 1;
    }
    assert_eq!(counts, [500, 200, 100]);
    Ok(())
}

#[test]
fn round_robin_with_no_eligible_backend_does_not_advance() {
    let mut advanced = false;
    assert_eq!(
        round_robin(core::iter::empty(), || {
            advanced = true;
            0
        }),
        None
    );
    assert!(!advanced, "a service without back-ends keeps its turn");
    assert_eq!(round_robin([(0, 0), (1, 0)].into_iter(), || 7), None);
}

#[test]
fn round_robin_survives_the_turn_counter_wrap() {
    let got = sequence(&[(0, 1), (1, 1)], u32::MAX - 1, 4);
    // u32::MAX - 1 and u32::MAX are even and odd, then 0 and 1.
    assert_eq!(got, [0, 1, 0, 1].map(Some));
}

#[test]
fn least_connections_weighs_load_by_weight() {
    // (index, weight, overhead): 600/3 = 200 beats 256/1.
    assert_eq!(
        least_connections([(0, 1, 256), (1, 3, 600)].into_iter()),
        Some(1)
    );
    // A tie goes to the first.
    assert_eq!(
        least_connections([(0, 2, 512), (1, 1, 256)].into_iter()),
        Some(0)
    );
    assert_eq!(least_connections(core::iter::empty()), None);
}
