// SPDX-License-Identifier: GPL-2.0

//! The ownership lease: when it runs, and the edges of the tick counter.

use crate::clock::Clock;
use crate::lease::LeaseEnd;

#[test]
fn no_lease_never_expires() {
    assert!(LeaseEnd::NONE.running(0));
    assert!(LeaseEnd::NONE.running(u64::MAX));
    assert!(!LeaseEnd::NONE.expired(u64::MAX));
    assert_eq!(LeaseEnd::after(Clock::new(5, 250), 0), LeaseEnd::NONE);
}

#[test]
fn a_lease_runs_for_its_length_rounded_up_to_a_tick_plus_one() {
    // 100 ms at 250 Hz is 25 ticks, plus the tick already under way.
    let end = LeaseEnd::after(Clock::new(1000, 250), 100);
    assert_eq!(end, LeaseEnd(1026));
    assert!(end.running(1025));
    assert!(end.expired(1026));
    // 1 ms is less than a tick (4 ms): it lasts past the next tick.
    assert_eq!(LeaseEnd::after(Clock::new(1000, 250), 1), LeaseEnd(1002));
}

#[test]
fn a_lease_at_the_counter_edges_is_still_a_lease() {
    // Starting at tick 0 with a lease shorter than a tick still ends at a
    // tick other than the "no lease" value.
    let end = LeaseEnd::after(Clock::new(0, 1), 1);
    assert_ne!(end, LeaseEnd::NONE);
    assert!(end.running(0));
    // Near the end of the counter the end saturates instead of wrapping
    // into the past (which would release at once).
    let end = LeaseEnd::after(Clock::new(u64::MAX - 1, 1000), 60_000);
    assert_eq!(end, LeaseEnd(u64::MAX));
    assert!(end.running(u64::MAX - 1));
}

/// Was DEFECT (review11): the tick counter is read floored, so a lease asked at
/// the very end of tick `t` ends at `t + ticks(ms)`, up to a tick short of
/// `ms` (191 ms of a 200 ms lease at HZ=100). ringgated decides whether the
/// module released its VIPs by its own clock (gateway.rs `keep_lease`:
/// `stalled >= lease`), measured from before its previous renewal: a stall
/// just under the lease (by up to a tick plus the netlink round trip) finds
/// the VIPs released by the module while the daemon believes the lease
/// held, so it never takes them back and, as the cluster thinks this node
/// holds them, nobody answers for them until they move.
/// The lease should last at least `ms` (end one tick later), or the renewal
/// should tell the daemon that it found the lease expired.
#[test]
fn a_lease_lasts_at_least_its_length_wherever_in_a_tick_it_starts() {
    // Asked at tick 1000 (really at 1000.99, a jiffy is 10 ms at 100 Hz).
    let end = LeaseEnd::after(Clock::new(1000, 100), 200);
    // At tick 1020 only 19.01 ticks (190.1 ms) of real time have passed.
    assert!(end.running(1020), "a 200 ms lease ended after 190.1 ms");
}
