// SPDX-License-Identifier: GPL-2.0

//! ARP suppression: only the owner of a VIP speaks or answers for it.

use crate::arp::{suppressed, TargetHw, Way, ANNOUNCEMENT};
use crate::headers::{Arp, ARP_REPLY, ARP_REQUEST};
use crate::vips::{Change, VipTable};

const OWNED: u32 = u32::from_ne_bytes([10, 9, 0, 100]);
const NOT_OWNED: u32 = u32::from_ne_bytes([10, 9, 0, 101]);
const OTHER: u32 = u32::from_ne_bytes([10, 9, 0, 1]);

fn pool() -> VipTable {
    let mut pool = VipTable::EMPTY;
    assert_eq!(pool.add(OWNED, None), Ok(Change::Changed));
    assert_eq!(pool.add(NOT_OWNED, None), Ok(Change::Changed));
    assert_eq!(pool.set_owned(OWNED, true), Ok(Change::Changed));
    pool
}

fn arp(op: u32, sender_ip: u32, target_ip: u32) -> Arp {
    Arp {
        op,
        sender_ip,
        target_ip,
    }
}

#[test]
fn requests_for_a_vip_not_owned_are_not_answered() {
    let pool = pool();
    assert!(suppressed(
        &pool,
        true,
        Way::In,
        &arp(ARP_REQUEST, OTHER, NOT_OWNED)
    ));
    assert!(!suppressed(
        &pool,
        true,
        Way::In,
        &arp(ARP_REQUEST, OTHER, OWNED)
    ));
    // Another node's gratuitous ARP for a shared VIP: not answered either.
    assert!(suppressed(
        &pool,
        true,
        Way::In,
        &arp(ARP_REQUEST, NOT_OWNED, NOT_OWNED)
    ));
    // Replies arriving are left to the kernel, and so is any other address.
    assert!(!suppressed(
        &pool,
        true,
        Way::In,
        &arp(ARP_REPLY, OTHER, NOT_OWNED)
    ));
    assert!(!suppressed(
        &pool,
        true,
        Way::In,
        &arp(ARP_REQUEST, OTHER, OTHER)
    ));
}

#[test]
fn nothing_leaves_speaking_for_a_vip_not_owned() {
    let pool = pool();
    assert!(suppressed(
        &pool,
        true,
        Way::Out,
        &arp(ARP_REQUEST, NOT_OWNED, OTHER)
    ));
    assert!(suppressed(
        &pool,
        true,
        Way::Out,
        &arp(ARP_REPLY, NOT_OWNED, OTHER)
    ));
    assert!(!suppressed(
        &pool,
        true,
        Way::Out,
        &arp(ARP_REPLY, OWNED, OTHER)
    ));
    assert!(!suppressed(
        &pool,
        true,
        Way::Out,
        &arp(ARP_REQUEST, OTHER, NOT_OWNED)
    ));
}

#[test]
fn an_announcement_is_a_request_and_a_reply() {
    assert_eq!(
        ANNOUNCEMENT,
        [(ARP_REQUEST, TargetHw::Unknown), (ARP_REPLY, TargetHw::Own)]
    );
}

/// When the ownership lease has run out, the node speaks and answers for no
/// VIP, owned or not, and leaves addresses outside the pool alone.
#[test]
fn without_a_running_lease_no_vip_is_answered() {
    let pool = pool();
    assert!(suppressed(
        &pool,
        false,
        Way::In,
        &arp(ARP_REQUEST, OTHER, OWNED)
    ));
    assert!(suppressed(
        &pool,
        false,
        Way::Out,
        &arp(ARP_REPLY, OWNED, OTHER)
    ));
    assert!(!suppressed(
        &pool,
        false,
        Way::In,
        &arp(ARP_REQUEST, OWNED, OTHER)
    ));
    assert!(!suppressed(
        &pool,
        false,
        Way::Out,
        &arp(ARP_REPLY, OTHER, OWNED)
    ));
}
