// SPDX-License-Identifier: GPL-2.0

//! The VIP pool: sorted, bounded, and changes that change nothing say so.

use crate::vips::{usable, Change, PoolError, VipTable, DEFAULT_GARP_COUNT, MAX_VIPS};

fn addr(n: u32) -> u32 {
    u32::from_ne_bytes([10, 9, (n >> 8) as u8, n as u8])
}

#[test]
fn the_pool_stays_sorted_and_finds_every_vip() {
    let mut pool = VipTable::EMPTY;
    for n in [7, 3, 9, 1] {
        assert_eq!(pool.add(addr(n), None), Ok(Change::Changed));
    }
    let addrs: Vec<u32> = pool.entries().iter().map(|v| v.addr).collect();
    let mut sorted = addrs.clone();
    sorted.sort();
    assert_eq!(addrs, sorted);
    for n in [7, 3, 9, 1] {
        assert_eq!(
            pool.find(addr(n)).map(|vip| (vip.owned, vip.garp_count)),
            Some((false, DEFAULT_GARP_COUNT))
        );
    }
    assert!(pool.find(addr(2)).is_none());
}

#[test]
fn taking_a_vip_records_when_only_if_it_was_not_owned() {
    let mut pool = VipTable::EMPTY;
    assert_eq!(pool.add(addr(1), None), Ok(Change::Changed));
    assert_eq!(pool.find(addr(1)).map(|v| v.taken), Some(0));
    assert_eq!(pool.take(addr(1), 1000), Ok(Change::Changed));
    // Taken again while owned: the first take's moment stays, or a
    // daemon's repeated take would keep a pick-up window open for ever.
    assert_eq!(pool.take(addr(1), 2000), Ok(Change::Unchanged));
    assert_eq!(
        pool.find(addr(1)).map(|v| (v.owned, v.taken)),
        Some((true, 1000))
    );
    assert_eq!(pool.set_owned(addr(1), false), Ok(Change::Changed));
    assert_eq!(pool.take(addr(1), 3000), Ok(Change::Changed));
    assert_eq!(pool.find(addr(1)).map(|v| v.taken), Some(3000));
    assert_eq!(pool.take(addr(2), 3000), Err(PoolError::Missing));
}

#[test]
fn repeating_a_change_changes_nothing() {
    let mut pool = VipTable::EMPTY;
    assert_eq!(pool.add(addr(1), Some(5)), Ok(Change::Changed));
    assert_eq!(pool.add(addr(1), None), Ok(Change::Unchanged));
    assert_eq!(pool.add(addr(1), Some(5)), Ok(Change::Unchanged));
    assert_eq!(pool.add(addr(1), Some(6)), Ok(Change::Changed));
    assert_eq!(pool.set_owned(addr(1), true), Ok(Change::Changed));
    assert_eq!(pool.set_owned(addr(1), true), Ok(Change::Unchanged));
    assert_eq!(
        pool.find(addr(1)).map(|v| (v.owned, v.garp_count)),
        Some((true, 6))
    );
}

#[test]
fn the_clusters_owner_is_recorded_apart_from_this_nodes_ownership() {
    let mut pool = VipTable::EMPTY;
    assert_eq!(pool.add(addr(1), None), Ok(Change::Changed));
    assert_eq!(pool.find(addr(1)).map(|v| v.owner_node), Some(0));
    assert_eq!(pool.set_owner_node(addr(1), 2), Ok(Change::Changed));
    assert_eq!(pool.set_owner_node(addr(1), 2), Ok(Change::Unchanged));
    assert_eq!(
        pool.find(addr(1)).map(|v| (v.owned, v.owner_node)),
        Some((false, 2))
    );
    // Re-adding keeps it; a VIP not in the pool is refused.
    assert_eq!(pool.add(addr(1), None), Ok(Change::Unchanged));
    assert_eq!(pool.find(addr(1)).map(|v| v.owner_node), Some(2));
    assert_eq!(pool.set_owner_node(addr(2), 3), Err(PoolError::Missing));
}

#[test]
fn the_pool_is_bounded_and_refuses_what_it_lacks() {
    let mut pool = VipTable::EMPTY;
    for n in 0..MAX_VIPS as u32 {
        assert_eq!(pool.add(addr(n + 1), None), Ok(Change::Changed));
    }
    assert_eq!(pool.add(addr(5000), None), Err(PoolError::Full));
    // One already there is still changed.
    assert_eq!(pool.add(addr(1), Some(9)), Ok(Change::Changed));
    assert_eq!(pool.remove(addr(5000)), Err(PoolError::Missing));
    assert_eq!(pool.set_owned(addr(5000), true), Err(PoolError::Missing));
    assert_eq!(pool.remove(addr(1)), Ok(()));
    assert_eq!(pool.entries().len(), MAX_VIPS - 1);
}

#[test]
fn generations_never_read_as_unset() {
    let mut pool = VipTable::EMPTY;
    assert_eq!(pool.generation(), 1);
    pool.next_generation();
    assert_eq!(pool.generation(), 2);
}

#[test]
fn only_unicast_addresses_can_be_vips() {
    assert!(usable(u32::from_ne_bytes([10, 9, 0, 100])));
    for bad in [
        [0, 0, 0, 0],
        [255, 255, 255, 255],
        [127, 0, 0, 1],
        [224, 0, 0, 5],
        [240, 1, 2, 3],
    ] {
        assert!(!usable(u32::from_ne_bytes(bad)), "{bad:?}");
    }
}
