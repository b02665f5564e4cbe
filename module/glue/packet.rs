// SPDX-License-Identifier: GPL-2.0

//! Packets at netfilter hooks: which hook, what to do with the packet, and
//! the few operations on it that must be C (rewrites with their checksums,
//! conntrack).

use core::marker::PhantomData;
use core::ptr::NonNull;

use kernel::error::to_result;
use kernel::ffi::c_int;
use kernel::prelude::*;

use super::bindings;

/// A packet at a netfilter hook, borrowed for the duration of the hook call.
pub(crate) struct Packet<'a> {
    skb: NonNull<bindings::sk_buff>,
    _hook_call: PhantomData<&'a bindings::sk_buff>,
}

impl Packet<'_> {
    /// The packet of a hook call.
    ///
    /// # Safety
    ///
    /// `skb` is the packet a netfilter hook is processing, valid and ours
    /// for the lifetime of the value.
    pub(super) unsafe fn from_raw(skb: NonNull<bindings::sk_buff>) -> Self {
        Packet {
            skb,
            _hook_call: PhantomData,
        }
    }
}

/// The fields of an Ethernet/IPv4 ARP packet that ringgate decides on.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Arp {
    /// `ARP_REQUEST`, a reply (2), or another opcode.
    pub(crate) op: u32,
    /// Sender and target protocol addresses, network byte order.
    pub(crate) sender_ip: u32,
    pub(crate) target_ip: u32,
}

/// The ARP request opcode (`ARPOP_REQUEST`).
pub(crate) const ARP_REQUEST: u32 = 1;
/// The ARP reply opcode (`ARPOP_REPLY`).
pub(crate) const ARP_REPLY: u32 = 2;

/// The addresses and ports of an IPv4 TCP/UDP packet (network byte order).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Flow {
    pub(crate) saddr: u32,
    pub(crate) daddr: u32,
    pub(crate) sport: u16,
    pub(crate) dport: u16,
    pub(crate) proto: u8,
    pub(crate) tcp_flags: u8,
    /// TCP only (host order): sequence and acknowledgement numbers and the
    /// payload length in bytes; 0 otherwise.
    pub(crate) seq: u32,
    pub(crate) ack: u32,
    pub(crate) payload: u32,
}

/// Which end of a packet a NAT rewrite changes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum End {
    Source,
    Destination,
}

impl Packet<'_> {
    /// Runs a glue reader that fills an `rg_flow` from the packet.
    fn read_flow(
        &self,
        read: unsafe extern "C" fn(*const bindings::sk_buff, *mut bindings::rg_flow) -> c_int,
    ) -> Option<Flow> {
        let mut raw = bindings::rg_flow {
            saddr: 0,
            daddr: 0,
            sport: 0,
            dport: 0,
            proto: 0,
            tcp_flags: 0,
            seq: 0,
            ack: 0,
            payload: 0,
        };
        // The glue reads headers with `skb_header_pointer`, within the packet.
        // SAFETY: `skb` is valid for the lifetime of `self`; `raw` is ours.
        let ok = unsafe { read(self.skb.as_ptr(), &mut raw) };
        (ok == 1).then_some(Flow {
            saddr: raw.saddr,
            daddr: raw.daddr,
            sport: raw.sport,
            dport: raw.dport,
            proto: raw.proto,
            tcp_flags: raw.tcp_flags,
            seq: raw.seq,
            ack: raw.ack,
            payload: raw.payload,
        })
    }

    /// The packet's IPv4 TCP/UDP addresses and ports, if it has them.
    pub(crate) fn flow(&self) -> Option<Flow> {
        self.read_flow(bindings::rg_skb_flow)
    }

    /// The flow an ICMP error quotes, if the packet is one quoting TCP/UDP.
    pub(crate) fn icmp_quoted(&self) -> Option<Flow> {
        self.read_flow(bindings::rg_skb_icmp_quoted)
    }

    /// Rewrites one end of the packet an ICMP error quotes (network byte
    /// order), fixing the checksums; with `outer`, the error's own address
    /// at the other end becomes `addr` too. Only for a packet `icmp_quoted`
    /// parsed.
    pub(crate) fn nat_quoted(&mut self, end: End, addr: u32, port: u16, outer: bool) -> Result {
        let source = i32::from(end == End::Source);
        // The glue makes the headers writable before changing them.
        // SAFETY: `skb` is valid and exclusively ours for the hook call.
        to_result(unsafe {
            bindings::rg_skb_icmp_nat_quoted(
                self.skb.as_ptr(),
                source,
                addr,
                port,
                i32::from(outer),
            )
        })
    }

    /// Keeps conntrack from tracking the packet (after a NAT rewrite).
    pub(crate) fn untrack(&mut self) {
        // SAFETY: `skb` is valid and exclusively ours for the hook call.
        unsafe { bindings::rg_skb_untrack(self.skb.as_ptr()) }
    }

    /// Rewrites one end's address and port (network byte order), fixing
    /// the checksums. Only for a packet `flow` parsed.
    pub(crate) fn nat(&mut self, end: End, addr: u32, port: u16) -> Result {
        let source = i32::from(end == End::Source);
        // The glue makes the headers writable before changing them.
        // SAFETY: `skb` is valid and exclusively ours for the hook call.
        to_result(unsafe { bindings::rg_skb_nat(self.skb.as_ptr(), source, addr, port) })
    }
    /// Length of the packet's data (`skb->len`).
    pub(crate) fn len(&self) -> u32 {
        // SAFETY: `skb` is valid for the lifetime of `self` (see `Adapter::hook`).
        unsafe { bindings::rg_skb_len(self.skb.as_ptr()) }
    }

    /// The packet as Ethernet/IPv4 ARP, if it is one (at the ARP hooks).
    pub(crate) fn arp(&self) -> Option<Arp> {
        let mut raw = bindings::rg_arp {
            op: 0,
            sip: 0,
            tip: 0,
        };
        // The glue reads the header with `skb_header_pointer`, within the packet.
        // SAFETY: `skb` is valid for the lifetime of `self`; `raw` is ours.
        let is_arp = unsafe { bindings::rg_skb_arp(self.skb.as_ptr(), &mut raw) };
        (is_arp == 1).then_some(Arp {
            op: raw.op,
            sender_ip: raw.sip,
            target_ip: raw.tip,
        })
    }
}
