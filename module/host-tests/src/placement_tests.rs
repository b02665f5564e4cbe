// SPDX-License-Identifier: GPL-2.0

//! Where the session table puts a new entry, and what it evicts, over
//! hand-made bucket pairs.

use crate::placement::{place, Occupant, Place, Placing, WAYS};

#[derive(Clone, Copy, Debug, Default, PartialEq)]
struct E {
    expires: u64,
    evictable: bool,
    counted: bool,
    /// Stands for "the other half of the session being created".
    partner: bool,
}

impl Occupant for E {
    fn expires(&self) -> u64 {
        self.expires
    }
    fn evictable(&self) -> bool {
        self.evictable
    }
    fn counted(&self) -> bool {
        self.counted
    }
}

const NOW: u64 = 10_000;
const NEVER_USED: E = E {
    expires: 0,
    evictable: false,
    counted: false,
    partner: false,
};

/// A live session that carries traffic (established TCP or UDP).
fn busy(expires: u64) -> E {
    E {
        expires,
        counted: true,
        ..NEVER_USED
    }
}

/// A live session that may be evicted (half-open, reset, closed).
fn idle(expires: u64) -> E {
    E {
        expires,
        evictable: true,
        counted: true,
        ..NEVER_USED
    }
}

fn full_of_busy() -> [E; WAYS] {
    core::array::from_fn(|i| busy(NOW + 100 + i as u64))
}

fn placing(at_limit: bool, may_evict: bool) -> Placing {
    Placing {
        now: NOW,
        at_limit,
        may_evict,
    }
}

fn choose(a: &[E; WAYS], b: Option<&[E; WAYS]>, placing: Placing) -> Place {
    place([Some(a), b], placing, |e: &E| e.partner)
}

#[test]
fn a_free_place_goes_to_the_emptier_bucket() {
    let mut a = full_of_busy();
    let mut b = full_of_busy();
    a[3] = NEVER_USED;
    b[1] = NEVER_USED;
    b[6] = busy(NOW - 1); // expired: free too
    assert_eq!(
        choose(&a, Some(&b), placing(false, true)),
        Place::Free(WAYS + 1)
    );
    // On a tie the first bucket, which lookups try first.
    b[6] = busy(NOW + 1);
    assert_eq!(choose(&a, Some(&b), placing(false, true)), Place::Free(3));
    // One bucket (both hashes alike): its first free place.
    assert_eq!(choose(&a, None, placing(false, true)), Place::Free(3));
}

#[test]
fn full_buckets_evict_the_evictable_session_nearest_expiry() {
    let mut a = full_of_busy();
    let mut b = full_of_busy();
    a[2] = idle(NOW + 50);
    b[5] = idle(NOW + 20);
    b[7] = idle(NOW + 20); // as near, but later in order: the first goes
    assert_eq!(
        choose(&a, Some(&b), placing(false, true)),
        Place::Evict(WAYS + 5)
    );
}

#[test]
fn busy_sessions_are_never_evicted() {
    let (a, b) = (full_of_busy(), full_of_busy());
    assert_eq!(choose(&a, Some(&b), placing(false, true)), Place::Full);
    assert_eq!(choose(&a, Some(&b), placing(true, true)), Place::Full);
}

#[test]
fn the_other_half_of_the_new_session_is_spared() {
    let mut a = full_of_busy();
    let b = full_of_busy();
    a[0] = E {
        partner: true,
        ..idle(NOW + 1)
    };
    a[4] = idle(NOW + 90);
    assert_eq!(choose(&a, Some(&b), placing(false, true)), Place::Evict(4));
    a[4] = busy(NOW + 90);
    assert_eq!(choose(&a, Some(&b), placing(false, true)), Place::Full);
}

#[test]
fn at_the_limit_an_expired_unswept_session_goes_first() {
    let mut a = full_of_busy();
    let mut b = full_of_busy();
    a[1] = NEVER_USED; // free, but the limit forbids a new place
    a[6] = idle(NOW + 5);
    b[2] = busy(NOW - 300); // expired, still counted: the sweep has not passed
    b[3] = E {
        counted: false,
        ..busy(NOW - 400)
    }; // expired back-end-side entry: frees no count
    assert_eq!(
        choose(&a, Some(&b), placing(true, true)),
        Place::Evict(WAYS + 2)
    );
    // Below the limit the same expired entries are simply free places.
    assert_eq!(
        choose(&a, Some(&b), placing(false, true)),
        Place::Free(WAYS + 2)
    );
}

#[test]
fn never_used_places_are_never_victims() {
    // A place never used reads as a counted, evictable entry (the defaults
    // of the table's entries): at the limit it must still not be taken for
    // a session in use, or the limit would let a new session in for free.
    let never: [E; WAYS] = core::array::from_fn(|_| E {
        evictable: true,
        counted: true,
        ..NEVER_USED
    });
    let mut b = full_of_busy();
    assert_eq!(choose(&never, Some(&b), placing(true, true)), Place::Full);
    b[3] = idle(NOW + 5);
    assert_eq!(
        choose(&never, Some(&b), placing(true, true)),
        Place::Evict(WAYS + 3)
    );
}

#[test]
fn a_move_never_evicts() {
    let mut a = full_of_busy();
    a[0] = idle(NOW + 1);
    assert_eq!(choose(&a, None, placing(false, false)), Place::Full);
    a[5] = NEVER_USED;
    assert_eq!(choose(&a, None, placing(false, false)), Place::Free(5));
}
