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

/// Which end of a packet a NAT rewrite changes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum End {
    Source,
    Destination,
}

impl Packet<'_> {
    /// Copies `buf.len()` bytes from `offset` (from the start of the
    /// packet's data) into `buf`; `EFAULT` if the packet is shorter. The
    /// one way Rust reads a packet: bounded, and never outside it.
    pub(crate) fn copy_bits(&self, offset: u32, buf: &mut [u8]) -> Result {
        let len = u32::try_from(buf.len()).map_err(|_| EINVAL)?;
        let offset = c_int::try_from(offset).map_err(|_| EFAULT)?;
        // The glue copies at most `len` bytes, and only from within the packet.
        // SAFETY: `skb` is valid for the lifetime of `self`; `buf` has `len` bytes.
        to_result(unsafe {
            bindings::rg_skb_copy_bits(self.skb.as_ptr(), offset, buf.as_mut_ptr().cast(), len)
        })
    }

    /// Where the network header starts, from the start of the data.
    pub(crate) fn network_offset(&self) -> i32 {
        // SAFETY: `skb` is valid for the lifetime of `self`.
        unsafe { bindings::rg_skb_network_offset(self.skb.as_ptr()) }
    }

    /// Rewrites one end of the packet an ICMP error quotes, whose IPv4
    /// header starts at `quoted` (address and port in network byte order),
    /// fixing the checksums; with `outer`, the error's own address at the
    /// other end becomes `addr` too.
    pub(crate) fn nat_quoted(
        &mut self,
        quoted: u32,
        end: End,
        addr: u32,
        port: u16,
        outer: bool,
    ) -> Result {
        let source = i32::from(end == End::Source);
        // The glue makes the headers writable before changing them.
        // SAFETY: `skb` is valid and exclusively ours for the hook call.
        to_result(unsafe {
            bindings::rg_skb_icmp_nat_quoted(
                self.skb.as_ptr(),
                quoted,
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
    /// Whether the packet came in on a loopback device (this host sent it
    /// to one of its own addresses).
    pub(crate) fn from_loopback(&self) -> bool {
        // SAFETY: `skb` is valid for the lifetime of `self` (see `Adapter::hook`).
        unsafe { bindings::rg_skb_from_loopback(self.skb.as_ptr()) != 0 }
    }

    /// Whether the packet could leave by the device it came in on as it is
    /// (a reassembled datagram may be larger than the device's MTU).
    pub(crate) fn fits_ingress_mtu(&self) -> bool {
        // SAFETY: `skb` is valid for the lifetime of `self` (see `Adapter::hook`).
        unsafe { bindings::rg_skb_fits_ingress_mtu(self.skb.as_ptr()) != 0 }
    }

    /// The index of the device the packet came in on (0: none).
    pub(crate) fn ingress_ifindex(&self) -> u32 {
        // SAFETY: `skb` is valid for the lifetime of `self` (see `Adapter::hook`).
        let index = unsafe { bindings::rg_skb_iif(self.skb.as_ptr()) };
        u32::try_from(index).unwrap_or(0)
    }

    /// The Ethernet source address the packet came with, if it came in on
    /// an Ethernet device.
    pub(crate) fn ethernet_source(&self) -> Option<[u8; 6]> {
        let mut mac = [0u8; 6];
        // The glue writes at most 6 bytes to `mac`.
        // SAFETY: As just said; and `skb` is valid for the lifetime of `self`.
        let found = unsafe { bindings::rg_skb_eth_source(self.skb.as_ptr(), mac.as_mut_ptr()) };
        (found == 1).then_some(mac)
    }

    /// Length of the packet's data (`skb->len`).
    pub(crate) fn len(&self) -> u32 {
        // SAFETY: `skb` is valid for the lifetime of `self` (see `Adapter::hook`).
        unsafe { bindings::rg_skb_len(self.skb.as_ptr()) }
    }
}
