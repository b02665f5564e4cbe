// SPDX-License-Identifier: GPL-2.0

//! Host tests of `sessions/filter.rs`: never built into the module.

use crate::session_filter::{later, stamp, DumpFilter};

/// A dump of node `owner`'s sessions changed within `within` jiffies.
fn recent(owner: u16, within: u64) -> DumpFilter {
    DumpFilter {
        owner: Some(owner),
        changed_within: Some(within),
    }
}

#[test]
fn the_default_filter_takes_every_session() {
    let all = DumpFilter::default();
    assert!(all.passes(1, 0, 0));
    assert!(all.passes(7, 123, u64::MAX));
}

#[test]
fn an_owner_filter_takes_that_owner_only() {
    let of_two = DumpFilter {
        owner: Some(2),
        changed_within: None,
    };
    assert!(of_two.passes(2, 0, 1_000_000));
    assert!(!of_two.passes(1, 0, 1_000_000));
    assert!(!of_two.passes(0, 0, 1_000_000));
}

#[test]
fn a_window_takes_changes_at_its_edge_and_not_beyond() {
    let now = 10_000;
    let f = recent(1, 500);
    assert!(f.passes(1, stamp(now), now));
    assert!(f.passes(1, stamp(now - 500), now));
    assert!(!f.passes(1, stamp(now - 501), now));
    // The owner still counts.
    assert!(!f.passes(2, stamp(now), now));
}

#[test]
fn a_window_reaches_across_the_stamps_wrap() {
    // The clock's low 32 bits wrapped between the change and now.
    let changed_at = (1u64 << 32) - 100;
    let now = (1u64 << 32) + 100;
    assert!(recent(1, 200).passes(1, stamp(changed_at), now));
    assert!(!recent(1, 199).passes(1, stamp(changed_at), now));
    // And past the 64-bit counter's 32-bit boundaries further on.
    let now = (5u64 << 32) + 3;
    assert!(recent(1, 10).passes(1, stamp(now - 7), now));
}

#[test]
fn a_stamp_ahead_of_now_is_no_recent_change() {
    // A stamp written on another CPU after `now` was read: seen as the far
    // past, beyond any window the spec allows, never as a change that
    // would make every dump list it.
    let now = 10_000;
    assert!(!recent(1, 3_600_000).passes(1, stamp(now + 5), now));
}

#[test]
fn a_window_wider_than_half_the_stamps_range_is_capped() {
    // 2^31 jiffies and more would take stamps ahead of now for changes.
    let now = 1u64 << 40;
    assert!(!recent(1, u64::MAX).passes(1, stamp(now + 5), now));
    assert!(recent(1, u64::MAX).passes(1, stamp(now - 5), now));
}

#[test]
fn the_later_stamp_is_the_one_after_the_other_wrap_or_not() {
    assert_eq!(later(5, 9), 9);
    assert_eq!(later(9, 5), 9);
    assert_eq!(later(7, 7), 7);
    // Across the wrap: 3 comes after u32::MAX - 3.
    assert_eq!(later(u32::MAX - 3, 3), 3);
    assert_eq!(later(3, u32::MAX - 3), 3);
}
