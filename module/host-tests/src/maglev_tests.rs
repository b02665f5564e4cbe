// SPDX-License-Identifier: GPL-2.0

//! Weighted Maglev: shares follow weights, every slot is filled, and a
//! change of back-ends moves few slots.

use crate::maglev::{fill, slot_of, HASH_SLOTS, NO_BACKEND};

fn table<const N: usize>(ids: [u64; N], weights: [u64; N]) -> [u8; HASH_SLOTS] {
    let mut lookup = [0; HASH_SLOTS];
    fill(&mut lookup, &ids, &weights);
    lookup
}

fn shares<const N: usize>(lookup: &[u8; HASH_SLOTS]) -> [usize; N] {
    let mut shares = [0; N];
    for &slot in lookup {
        shares[usize::from(slot)] += 1;
    }
    shares
}

/// Back-end ids as the module forms them (address << 16 | port).
fn id(n: u64) -> u64 {
    ((0x0a08_0000 + n) << 16) | 8080
}

#[test]
fn shares_follow_unequal_weights() {
    for (w1, w2) in [
        (200, 100),
        (2, 1),
        (1000, 1),
        (300, 100),
        (251, 250),
        (7, 3),
    ] {
        let lookup = table([id(1), id(2)], [w1, w2]);
        let got = shares::<2>(&lookup);
        let want1 = HASH_SLOTS as f64 * w1 as f64 / (w1 + w2) as f64;
        assert!(
            (got[0] as f64 - want1).abs() <= 1.0,
            "weights {w1}:{w2} gave {got:?}, want {want1:.1} for the first"
        );
        assert_eq!(got[0] + got[1], HASH_SLOTS);
    }
}

#[test]
fn a_heavy_backend_never_takes_every_slot() {
    // Exact shares 249.3, 0.8, 0.8: each light back-end gets its slot.
    let got = shares::<3>(&table([id(1), id(2), id(3)], [300, 1, 1]));
    assert_eq!(got, [249, 1, 1]);
}

#[test]
fn many_backends_share_by_weight() {
    let ids: [u64; 32] = core::array::from_fn(|i| id(i as u64));
    let weights: [u64; 32] = core::array::from_fn(|i| 1 + (i as u64 % 4));
    let got = shares::<32>(&table(ids, weights));
    let total: u64 = weights.iter().sum();
    for i in 0..32 {
        let want = HASH_SLOTS as f64 * weights[i] as f64 / total as f64;
        assert!(
            (got[i] as f64 - want).abs() <= 1.0,
            "back-end {i}: {} slots, want {want:.1}",
            got[i]
        );
    }
}

#[test]
fn ineligible_backends_get_nothing_and_none_leaves_the_table_empty() {
    let got = shares::<3>(&table([id(1), id(2), id(3)], [1, 0, 1]));
    assert_eq!(got[1], 0);
    let empty = table([id(1), id(2)], [0, 0]);
    assert!(empty.iter().all(|&s| s == NO_BACKEND));
}

#[test]
fn removing_one_backend_moves_little_else() {
    let ids: [u64; 8] = core::array::from_fn(|i| id(i as u64));
    let before = table(ids, [1; 8]);
    let mut weights = [1; 8];
    weights[3] = 0;
    let after = table(ids, weights);
    let moved = before
        .iter()
        .zip(after.iter())
        .filter(|(b, a)| **b != 3 && b != a)
        .count();
    // Consistent hashing: only back-end 3's slots must move; a few others
    // may (Maglev is near-minimal, not minimal).
    assert!(
        moved <= HASH_SLOTS / 8,
        "{moved} slots of other back-ends moved"
    );
}

#[test]
fn clients_spread_over_the_slots() {
    let mut hit = [false; HASH_SLOTS];
    for client in 0..20_000u32 {
        hit[slot_of(client.to_be())] = true;
    }
    assert!(hit.iter().all(|h| *h));
}
