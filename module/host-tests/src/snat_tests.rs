// SPDX-License-Identifier: GPL-2.0

//! Host tests of `snat.rs`: never built into the module.

use crate::snat::{Snat, SnatError, CANDIDATES, FIRST_PORT};

/// An address in network byte order, as packets and the module keep it.
fn addr(a: u8, b: u8, c: u8, d: u8) -> u32 {
    u32::from_be_bytes([a, b, c, d]).to_be()
}

fn backends() -> Result<Snat, SnatError> {
    Snat::new(
        addr(10, 8, 0, 0),
        24,
        addr(10, 9, 0, 100),
        Some((20000, 29999)),
    )
}

#[test]
fn the_prefix_covers_its_hosts_only() {
    // A refusal fails the assertion; the fallback after it is never used.
    let snat = backends();
    assert!(snat.is_ok(), "refused: {snat:?}");
    let snat = snat.unwrap_or(Snat::OFF);
    assert!(snat.covers(addr(10, 8, 0, 2)));
    assert!(snat.covers(addr(10, 8, 0, 255)));
    assert!(!snat.covers(addr(10, 8, 1, 2)));
    assert!(!snat.covers(addr(10, 9, 0, 2)));
    // Network order matters: the reversed bytes of a covered host are not.
    assert!(!snat.covers(u32::from_be_bytes([10, 8, 0, 2])));
    assert!(!Snat::OFF.covers(addr(10, 8, 0, 2)));
    assert!(!Snat::OFF.is_on());
    let everyone = Snat::new(0, 0, addr(10, 9, 0, 100), Some((20000, 20000)));
    assert!(everyone.is_ok_and(|s| s.covers(addr(192, 0, 2, 1))));
    let one = Snat::new(
        addr(10, 8, 0, 7),
        32,
        addr(10, 9, 0, 100),
        Some((20000, 20000)),
    );
    assert!(one.is_ok_and(|s| s.covers(addr(10, 8, 0, 7)) && !s.covers(addr(10, 8, 0, 6))));
}

#[test]
fn a_malformed_translation_is_refused() {
    let vip = addr(10, 9, 0, 100);
    assert_eq!(
        Snat::new(addr(10, 8, 0, 1), 24, vip, Some((20000, 20001))),
        Err(SnatError::HostBits)
    );
    assert_eq!(
        Snat::new(addr(10, 8, 0, 0), 33, vip, Some((20000, 20001))),
        Err(SnatError::PrefixLength)
    );
    for to in [
        0,
        addr(255, 255, 255, 255),
        addr(127, 0, 0, 1),
        addr(224, 0, 0, 1),
    ] {
        assert_eq!(
            Snat::new(addr(10, 8, 0, 0), 24, to, Some((20000, 20001))),
            Err(SnatError::NoAddress)
        );
    }
    assert_eq!(
        Snat::new(addr(10, 8, 0, 0), 24, vip, Some((20001, 20000))),
        Err(SnatError::Range)
    );
    assert_eq!(
        Snat::new(addr(10, 8, 0, 0), 24, vip, Some((FIRST_PORT - 1, 20000))),
        Err(SnatError::Range)
    );
    assert!(Snat::new(addr(10, 8, 0, 0), 24, vip, Some((FIRST_PORT, 65535))).is_ok());
}

#[test]
fn candidates_stay_in_the_range_and_wrap_at_its_end() {
    // A refusal fails the assertion; the fallback after it is never used.
    let snat = Snat::new(
        addr(10, 8, 0, 0),
        24,
        addr(10, 9, 0, 100),
        Some((40000, 40009)),
    );
    assert!(snat.is_ok(), "refused: {snat:?}");
    let snat = snat.unwrap_or(Snat::OFF);
    // Ten ports: every one once, from where the hash points.
    let all: Vec<u16> = snat.candidates(7).collect();
    assert_eq!(
        all,
        [40007, 40008, 40009, 40000, 40001, 40002, 40003, 40004, 40005, 40006]
    );
    // A refusal fails the assertion; the fallback after it is never used.
    let wide = Snat::new(
        addr(10, 8, 0, 0),
        24,
        addr(10, 9, 0, 100),
        Some((1024, 65535)),
    );
    assert!(wide.is_ok(), "refused: {wide:?}");
    let wide = wide.unwrap_or(Snat::OFF);
    for hash in [0, 1, 64511, 64512, u64::MAX] {
        let ports: Vec<u16> = wide.candidates(hash).collect();
        assert_eq!(ports.len() as u32, CANDIDATES);
        assert!(ports.iter().all(|&p| p >= 1024));
        let distinct: std::collections::BTreeSet<u16> = ports.iter().copied().collect();
        assert_eq!(distinct.len(), ports.len());
    }
    // The last port of the range wraps to its first.
    let at_end: Vec<u16> = wide.candidates(64511).take(2).collect();
    assert_eq!(at_end, [65535, 1024]);
    assert_eq!(Snat::OFF.candidates(5).count(), 0);
}

#[test]
fn a_node_without_ports_knows_the_translation_and_opens_nothing() {
    // A refusal fails the assertion; the fallback after it is never used.
    let none = Snat::new(addr(10, 8, 0, 0), 24, addr(10, 9, 0, 100), None);
    assert!(none.is_ok(), "refused: {none:?}");
    let none = none.unwrap_or(Snat::OFF);
    assert!(none.is_on() && !none.has_ports());
    assert!(none.covers(addr(10, 8, 0, 2)));
    assert_eq!(none.to(), addr(10, 9, 0, 100));
    assert_eq!(none.candidates(7).count(), 0);
    assert_eq!((none.port_lo(), none.port_hi()), (0, 0));
    // A VIP is still required, and ports when given are checked.
    assert_eq!(
        Snat::new(addr(10, 8, 0, 0), 24, 0, None),
        Err(SnatError::NoAddress)
    );
    assert_eq!(
        Snat::new(addr(10, 8, 0, 0), 24, addr(10, 9, 0, 100), Some((0, 0))),
        Err(SnatError::Range)
    );
}
