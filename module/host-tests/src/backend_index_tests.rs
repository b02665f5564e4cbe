// SPDX-License-Identifier: GPL-2.0

//! The back-end index: which VIP a packet's source serves.

use crate::backend_index::{BackendIndex, IndexEntry, MAX_INDEXED, MAX_INDEXED_SERVICES};

/// The index with the services it was built from, asked for a VIP as the
/// services table asks it.
struct Indexed {
    index: BackendIndex,
    services: Vec<Service>,
}

impl Indexed {
    fn vip_served_by(&self, addr: u32, port: u16, proto: u8) -> Option<u32> {
        let slot = self.index.slot_served_by(addr, port, proto)?;
        self.services.get(slot).map(|s| s.key.vip)
    }
}
use crate::service::{Service, ServiceKey, MAX_BACKENDS, TCP, UDP};

fn ip(d: u8) -> u32 {
    u32::from_ne_bytes([10, 8, 0, d])
}

fn vip(d: u8) -> u32 {
    u32::from_ne_bytes([10, 9, 0, d])
}

fn service(vip: u32, port: u16, proto: u8, backends: &[(u32, u16)]) -> Service {
    let mut s = Service::new(ServiceKey {
        vip,
        port: port.to_be(),
        proto,
    });
    for (addr, port) in backends {
        assert!(
            s.set_backend(*addr, port.to_be(), None, None).is_ok(),
            "adding back-end {addr:#x}:{port}"
        );
    }
    s
}

fn empty() -> BackendIndex {
    BackendIndex {
        len: 0,
        entries: [IndexEntry::default(); MAX_INDEXED],
    }
}

fn built(services: &[Service]) -> Indexed {
    let mut index = empty();
    index.rebuild(services);
    Indexed {
        index,
        services: services.to_vec(),
    }
}

#[test]
fn a_backend_names_the_vip_of_its_services() {
    let index = built(&[
        service(vip(100), 80, TCP, &[(ip(2), 80), (ip(3), 8080)]),
        service(vip(101), 53, UDP, &[(ip(2), 53)]),
    ]);
    assert_eq!(
        index.vip_served_by(ip(2), 80u16.to_be(), TCP),
        Some(vip(100))
    );
    assert_eq!(
        index.vip_served_by(ip(3), 8080u16.to_be(), TCP),
        Some(vip(100))
    );
    assert_eq!(
        index.vip_served_by(ip(2), 53u16.to_be(), UDP),
        Some(vip(101))
    );
    // Same address and port, other protocol or port: not a back-end.
    assert_eq!(index.vip_served_by(ip(2), 53u16.to_be(), TCP), None);
    assert_eq!(index.vip_served_by(ip(2), 81u16.to_be(), TCP), None);
    assert_eq!(index.vip_served_by(ip(9), 80u16.to_be(), TCP), None);
}

#[test]
fn a_backend_of_two_services_of_one_vip_names_it_and_of_two_vips_names_none() {
    let index = built(&[
        service(vip(100), 80, TCP, &[(ip(2), 80)]),
        service(vip(100), 8080, TCP, &[(ip(2), 80)]),
        service(vip(100), 443, TCP, &[(ip(4), 443)]),
        service(vip(101), 443, TCP, &[(ip(4), 443)]),
    ]);
    assert_eq!(
        index.vip_served_by(ip(2), 80u16.to_be(), TCP),
        Some(vip(100))
    );
    assert_eq!(index.vip_served_by(ip(4), 443u16.to_be(), TCP), None);
    // One entry per back-end: two, whatever the services.
    assert_eq!(index.index.len, 2);
    // Both serve, whichever VIPs: their packets from those ports are
    // replies (outbound translation leaves them alone).
    assert!(index.index.serves(ip(2), 80u16.to_be(), TCP));
    assert!(index.index.serves(ip(4), 443u16.to_be(), TCP));
    assert!(!index.index.serves(ip(4), 443u16.to_be(), UDP));
    assert!(!index.index.serves(ip(4), 444u16.to_be(), TCP));
    assert!(!index.index.serves(ip(3), 443u16.to_be(), TCP));
    assert!(!empty().serves(ip(2), 80u16.to_be(), TCP));
}

#[test]
fn only_a_backend_of_one_service_names_that_service() {
    let services = [
        service(vip(100), 80, TCP, &[(ip(2), 80), (ip(3), 80)]),
        service(vip(100), 8080, TCP, &[(ip(2), 80)]),
        service(vip(100), 8081, TCP, &[(ip(2), 80)]),
        service(vip(100), 443, TCP, &[(ip(4), 443)]),
        service(vip(101), 443, TCP, &[(ip(4), 443)]),
    ];
    let index = built(&services);
    let only = |addr, port: u16| index.index.only_slot_served_by(addr, port.to_be(), TCP);
    assert_eq!(only(ip(3), 80), Some(0));
    // A reply from ip(2):80 could answer any of three services: no slot,
    // though the VIP is known, however many services of it there are.
    assert_eq!(only(ip(2), 80), None);
    assert_eq!(
        index.vip_served_by(ip(2), 80u16.to_be(), TCP),
        Some(vip(100))
    );
    // Services of two VIPs: neither.
    assert_eq!(only(ip(4), 443), None);
    assert_eq!(index.vip_served_by(ip(4), 443u16.to_be(), TCP), None);
    assert_eq!(only(ip(9), 80), None);
    // The marks do not depend on the order the services come in.
    let mut reversed = services.to_vec();
    reversed.reverse();
    let reversed = built(&reversed);
    let only = |addr, port: u16| reversed.index.only_slot_served_by(addr, port.to_be(), TCP);
    assert_eq!(only(ip(3), 80), Some(4));
    assert_eq!(only(ip(2), 80), None);
    assert_eq!(only(ip(4), 443), None);
    assert_eq!(
        reversed.vip_served_by(ip(2), 80u16.to_be(), TCP),
        Some(vip(100))
    );
}

#[test]
fn unused_services_and_backends_are_left_out_and_a_rebuild_forgets_them() {
    let mut removed = service(vip(100), 80, TCP, &[(ip(2), 80), (ip(3), 80)]);
    assert!(removed.remove_backend(ip(3), 80u16.to_be()).is_ok());
    let mut unused = service(vip(102), 80, TCP, &[(ip(5), 80)]);
    unused.used = false;
    let mut index = built(&[removed, unused]);
    assert_eq!(
        index.vip_served_by(ip(2), 80u16.to_be(), TCP),
        Some(vip(100))
    );
    assert_eq!(index.vip_served_by(ip(3), 80u16.to_be(), TCP), None);
    assert_eq!(index.vip_served_by(ip(5), 80u16.to_be(), TCP), None);
    // Rebuilt from nothing, it equals a new empty index (slots past len
    // are zero again, so equal tables compare equal).
    index.index.rebuild(&[]);
    assert_eq!(index.index, empty());
}

#[test]
fn a_full_table_is_indexed_whole_and_found_by_binary_search() {
    let services: Vec<Service> = (0..MAX_INDEXED_SERVICES)
        .map(|s| {
            let backends: Vec<(u32, u16)> = (0..MAX_BACKENDS)
                .map(|b| (u32::from_ne_bytes([10, 8, s as u8, b as u8]), 80))
                .collect();
            // Back-ends added in descending order of address.
            let backends: Vec<(u32, u16)> = backends.into_iter().rev().collect();
            service(vip(s as u8 + 1), 80, TCP, &backends)
        })
        .collect();
    let index = built(&services);
    assert_eq!(index.index.len, MAX_INDEXED);
    for s in 0..MAX_INDEXED_SERVICES {
        for b in 0..MAX_BACKENDS {
            let addr = u32::from_ne_bytes([10, 8, s as u8, b as u8]);
            assert_eq!(
                index.vip_served_by(addr, 80u16.to_be(), TCP),
                Some(vip(s as u8 + 1)),
                "back-end 10.8.{s}.{b}"
            );
        }
    }
}
