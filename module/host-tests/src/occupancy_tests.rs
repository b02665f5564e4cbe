// SPDX-License-Identifier: GPL-2.0

//! The session table's occupancy bits: what a scan visits is exactly the
//! buckets marked and not cleared since, across word boundaries and a
//! bucket count that is not a multiple of 64.

use crate::occupancy::{words_for, Occupancy};
use std::sync::atomic::AtomicU64;

fn bits(buckets: usize) -> Occupancy<Vec<AtomicU64>> {
    let words = (0..words_for(buckets))
        .map(|_| AtomicU64::new(u64::MAX))
        .collect();
    // `new` refuses only fewer than `words_for(buckets)` words, and that
    // many were made just above: this cannot fail. (Host tests only: the
    // module's table maps a refusal to EINVAL.)
    Occupancy::new(words, buckets).expect("enough words")
}

fn visited(occupancy: &Occupancy<Vec<AtomicU64>>) -> Vec<usize> {
    let mut out = Vec::new();
    let mut from = 0;
    while let Some(i) = occupancy.next(from) {
        out.push(i);
        from = i + 1;
    }
    out
}

#[test]
fn a_new_table_has_nothing_to_visit() {
    // The words started all ones: `new` clears them.
    assert_eq!(visited(&bits(1000)), Vec::<usize>::new());
}

#[test]
fn a_scan_visits_exactly_the_marked_buckets() {
    let o = bits(200);
    for i in [0, 63, 64, 65, 127, 128, 199] {
        o.mark(i);
    }
    assert_eq!(visited(&o), vec![0, 63, 64, 65, 127, 128, 199]);
    o.clear(64);
    o.clear(0);
    assert_eq!(visited(&o), vec![63, 65, 127, 128, 199]);
    // A scan may start anywhere, mid-word included.
    assert_eq!(o.next(66), Some(127));
    assert_eq!(o.next(128), Some(128));
    assert_eq!(o.next(129), Some(199));
    assert_eq!(o.next(200), None);
    assert_eq!(o.next(usize::MAX), None);
}

#[test]
fn marks_past_the_last_bucket_are_ignored() {
    // 70 buckets take two words; bits 70..127 of the second are not buckets.
    let o = bits(70);
    o.mark(70);
    o.mark(127);
    o.mark(1 << 20);
    assert_eq!(visited(&o), Vec::<usize>::new());
    o.mark(69);
    assert_eq!(visited(&o), vec![69]);
}

#[test]
fn too_few_words_are_refused() {
    let words: Vec<AtomicU64> = (0..1).map(|_| AtomicU64::new(0)).collect();
    assert!(Occupancy::new(words, 65).is_none());
}

#[test]
fn the_count_is_the_buckets_marked() {
    let o = bits(130);
    assert_eq!(o.count(), 0);
    for i in [0, 64, 129, 129] {
        o.mark(i);
    }
    assert_eq!(o.count(), 3);
    o.clear(64);
    assert_eq!(o.count(), 2);
}
