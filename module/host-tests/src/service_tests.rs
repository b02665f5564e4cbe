// SPDX-License-Identifier: GPL-2.0

//! One service's back-ends, and the back-end each scheduler picks.

use core::sync::atomic::{AtomicU32, Ordering};

use crate::service::{
    Service, ServiceError, ServiceKey, MAX_BACKENDS, SCHEDULER_HASH, SCHEDULER_LC,
};

fn service() -> Service {
    Service::new(ServiceKey {
        vip: u32::from_ne_bytes([10, 9, 0, 100]),
        port: 80u16.to_be(),
        proto: 6,
    })
}

fn be(n: u8) -> u32 {
    u32::from_ne_bytes([10, 8, 0, n])
}

#[test]
fn a_new_backend_is_up_with_weight_one_and_a_change_keeps_what_it_leaves_out() {
    let mut s = service();
    assert_eq!(s.set_backend(be(2), 8080, None, None), Ok((0, true)));
    let b = s.backends[0];
    assert_eq!((b.used, b.weight, b.up), (true, 1, true));
    assert_eq!(s.set_backend(be(2), 8080, Some(5), None), Ok((0, false)));
    assert_eq!(
        s.set_backend(be(2), 8080, None, Some(false)),
        Ok((0, false))
    );
    assert_eq!((s.backends[0].weight, s.backends[0].up), (5, false));
}

#[test]
fn backends_keep_their_slots_and_a_freed_slot_is_reused() {
    let mut s = service();
    for n in 0..MAX_BACKENDS as u8 {
        assert_eq!(
            s.set_backend(be(n), 80, None, None),
            Ok((usize::from(n), true))
        );
    }
    assert_eq!(
        s.set_backend(be(200), 80, None, None),
        Err(ServiceError::Full)
    );
    assert_eq!(s.remove_backend(be(3), 80), Ok(3));
    assert_eq!(s.remove_backend(be(3), 80), Err(ServiceError::Missing));
    assert_eq!(s.find_backend(be(4), 80), Some(4));
    assert_eq!(s.set_backend(be(200), 80, None, None), Ok((3, true)));
}

#[test]
fn round_robin_picks_by_weight_and_skips_backends_that_are_down() {
    let mut s = service();
    assert_eq!(s.set_backend(be(1), 80, Some(3), None), Ok((0, true)));
    assert_eq!(s.set_backend(be(2), 80, Some(1), None), Ok((1, true)));
    assert_eq!(
        s.set_backend(be(3), 80, Some(9), Some(false)),
        Ok((2, true))
    );
    let turn = AtomicU32::new(0);
    let picks: Vec<Option<usize>> = (0..8)
        .map(|_| s.pick(&turn, 0, |_| 0).map(|pick| pick.slot))
        .collect();
    assert_eq!(picks, [0, 0, 0, 1, 0, 0, 0, 1].map(Some));
    assert_eq!(turn.load(Ordering::Relaxed), 8);
}

#[test]
fn no_backend_up_picks_none_and_keeps_the_turn() {
    let mut s = service();
    assert_eq!(s.set_backend(be(1), 80, None, Some(false)), Ok((0, true)));
    let turn = AtomicU32::new(5);
    assert!(s.pick(&turn, 0, |_| 0).is_none());
    assert_eq!(turn.load(Ordering::Relaxed), 5);
    s.set_scheduler(Some(SCHEDULER_HASH));
    assert!(s.pick(&turn, 0, |_| 0).is_none());
}

#[test]
fn hashing_sends_a_client_to_the_same_backend_and_only_to_backends_up() {
    let mut s = service();
    s.set_scheduler(Some(SCHEDULER_HASH));
    for n in 1..=4 {
        assert!(s.set_backend(be(n), 80, None, None).is_ok(), "back-end {n}");
    }
    assert!(s.set_backend(be(2), 80, None, Some(false)).is_ok());
    let turn = AtomicU32::new(0);
    for client in 0..500u32 {
        let first = s.pick(&turn, client, |_| 0);
        assert!(first.is_some(), "client {client} got no back-end");
        assert_ne!(
            first.map(|pick| pick.addr),
            Some(be(2)),
            "a back-end that is down"
        );
        assert_eq!(s.pick(&turn, client, |_| 0), first);
    }
}

#[test]
fn least_connections_uses_the_loads_it_is_given() {
    let mut s = service();
    s.set_scheduler(Some(SCHEDULER_LC));
    assert_eq!(s.set_backend(be(1), 80, Some(1), None), Ok((0, true)));
    assert_eq!(s.set_backend(be(2), 80, Some(2), None), Ok((1, true)));
    let turn = AtomicU32::new(0);
    // 1000 per unit of weight against 600: the second.
    let load = |slot: usize| [1000, 1200][slot];
    assert_eq!(s.pick(&turn, 0, load).map(|p| p.slot), Some(1));
    let load = |slot: usize| [100, 1200][slot];
    assert_eq!(s.pick(&turn, 0, load).map(|p| p.slot), Some(0));
    // A setting that leaves the scheduler out keeps it.
    s.set_scheduler(None);
    assert_eq!(s.scheduler, SCHEDULER_LC);
}
