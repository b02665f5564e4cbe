// SPDX-License-Identifier: GPL-2.0

//! Generic netlink: requests, their attributes, replies and dump parts, for
//! the `Namespace` that answers them (see `registration`).

use core::marker::PhantomData;
use core::ptr::NonNull;

use kernel::error::to_result;
use kernel::ffi::{c_int, c_uint};
use kernel::prelude::*;
use kernel::str::CStr;

use super::bindings;

/// Entries of a parsed backend nest: one per attribute type, 0 included.
const BACKEND_SLOTS: usize = bindings::RINGGATE_A_BACKEND_MAX as usize + 1;
/// Entries of a parsed session-entry nest.
const SESSION_SLOTS: usize = bindings::RINGGATE_A_SESSION_MAX as usize + 1;
/// Entries of a parsed peer nest.
const PEER_SLOTS: usize = bindings::RINGGATE_A_PEER_MAX as usize + 1;

/// A nest of a request parsed by its policy: its attributes, each read
/// without parsing the nest again.
pub(crate) struct Nest<'a, const SLOTS: usize> {
    request: &'a Request<'a>,
    /// The nest itself, which an extack naming a missing attribute points at.
    nest: *mut bindings::nlattr,
    /// The nest's attributes by type (null where absent), inside the
    /// request, which outlives `'a`.
    attrs: [*mut bindings::nlattr; SLOTS],
}

/// A back-end nest of a service request.
pub(crate) type BackendNest<'a> = Nest<'a, BACKEND_SLOTS>;
/// A session nest of a `session-import` request.
pub(crate) type SessionNest<'a> = Nest<'a, SESSION_SLOTS>;
/// A peer nest of a `peer-set` request.
pub(crate) type PeerNest<'a> = Nest<'a, PEER_SLOTS>;

impl<const SLOTS: usize> Nest<'_, SLOTS> {
    /// An integer attribute of the nest, if present.
    fn get<T: Copy + Default>(&self, inner: u32) -> Option<T> {
        let attr = *self.attrs.get(inner as usize)?;
        let mut value = T::default();
        let size = core::mem::size_of::<T>() as c_uint;
        // `attr` is null or an attribute of the request, valid while the request is.
        // SAFETY: As just said; and the glue writes at most `size` bytes to `value`.
        let present = unsafe { bindings::rg_nla_copy(attr, size, (&mut value as *mut T).cast()) };
        (present == 1).then_some(value)
    }

    /// Whether attribute `inner` is in the nest, whatever its value.
    pub(crate) fn has(&self, inner: u32) -> bool {
        self.attrs
            .get(inner as usize)
            .is_some_and(|attr| !attr.is_null())
    }

    pub(crate) fn u32(&self, inner: u32) -> Option<u32> {
        self.get(inner)
    }

    pub(crate) fn u16(&self, inner: u32) -> Option<u16> {
        self.get(inner)
    }

    pub(crate) fn u8(&self, inner: u32) -> Option<u8> {
        self.get(inner)
    }

    /// A hardware address (the policy checked its length).
    pub(crate) fn mac(&self, inner: u32) -> Option<[u8; 6]> {
        self.get(inner)
    }

    /// Fails with `EINVAL`, telling the requester through extack that
    /// attribute `inner` of this nest is missing.
    pub(crate) fn missing(&self, inner: u32) -> Error {
        // SAFETY: `info` is valid for the request's lifetime, and `nest` is an attribute of it.
        Error::from_errno(unsafe {
            bindings::rg_genl_missing_in(self.request.info.as_ptr(), self.nest, inner)
        })
    }
}

/// A generic netlink request, borrowed for the duration of the doit call.
pub(crate) struct Request<'a> {
    info: NonNull<bindings::genl_info>,
    _call: PhantomData<&'a bindings::genl_info>,
}

impl Request<'_> {
    /// The request of a doit call.
    ///
    /// # Safety
    ///
    /// `info` is the request of a doit callback whose op ran the family's
    /// pre_doit, valid for the lifetime of the value.
    pub(super) unsafe fn from_raw(info: NonNull<bindings::genl_info>) -> Self {
        Request {
            info,
            _call: PhantomData,
        }
    }

    /// A u32 attribute of the request, if present (the policy has validated it).
    pub(crate) fn get_u32(&self, attr: u32) -> Option<u32> {
        let mut value: c_uint = 0;
        // SAFETY: `info` is valid for the lifetime of `self`; the glue bounds-checks `attr`.
        let present = unsafe { bindings::rg_genl_get_u32(self.info.as_ptr(), attr, &mut value) };
        (present == 1).then_some(value)
    }

    /// A u8 attribute of the request, if present (the policy has validated it).
    pub(crate) fn get_u8(&self, attr: u32) -> Option<u8> {
        let mut value: u8 = 0;
        // SAFETY: `info` is valid for the lifetime of `self`; the glue bounds-checks `attr`.
        let present = unsafe { bindings::rg_genl_get_u8(self.info.as_ptr(), attr, &mut value) };
        (present == 1).then_some(value)
    }

    /// The nest `outer` (backend policy), parsed once for all the fields
    /// read from it; `None` if the request has none.
    pub(crate) fn backend_nest(&self, outer: u32) -> Result<Option<BackendNest<'_>>> {
        let mut attrs = [core::ptr::null_mut(); BACKEND_SLOTS];
        let mut nest = core::ptr::null_mut();
        // The glue writes at most `BACKEND_SLOTS` pointers to `attrs`, and checks the count.
        // SAFETY: As just said; and `info` is valid for the lifetime of `self`.
        let parsed = unsafe {
            bindings::rg_genl_backend_nest(
                self.info.as_ptr(),
                outer,
                attrs.as_mut_ptr(),
                BACKEND_SLOTS as c_uint,
                &mut nest,
            )
        };
        to_result(parsed.min(0))?;
        Ok((parsed == 1).then_some(BackendNest {
            request: self,
            nest,
            attrs,
        }))
    }

    /// The next nest of type `outer` (session-entry policy; a multi-attr)
    /// at or after `offset`, a byte position in the request's attributes
    /// that this moves past it; `None` once none is left. Start at 0.
    pub(crate) fn next_session(
        &self,
        outer: u32,
        offset: &mut c_uint,
    ) -> Result<Option<SessionNest<'_>>> {
        self.next_nest(outer, bindings::RG_NEST_SESSION, offset)
    }

    /// The next nest of type `outer` (peer policy), as `next_session`.
    pub(crate) fn next_peer(
        &self,
        outer: u32,
        offset: &mut c_uint,
    ) -> Result<Option<PeerNest<'_>>> {
        self.next_nest(outer, bindings::RG_NEST_PEER, offset)
    }

    /// The next nest of type `outer`, parsed by the policy of `kind`, whose
    /// attribute count must be `SLOTS` (the glue checks it).
    fn next_nest<const SLOTS: usize>(
        &self,
        outer: u32,
        kind: bindings::rg_nest_kind,
        offset: &mut c_uint,
    ) -> Result<Option<Nest<'_, SLOTS>>> {
        let mut attrs = [core::ptr::null_mut(); SLOTS];
        let mut nest = core::ptr::null_mut();
        // The glue writes at most `SLOTS` pointers to `attrs`, and checks the count.
        // SAFETY: As just said; and `info` is valid for the lifetime of `self`.
        let parsed = unsafe {
            bindings::rg_genl_next_nest(
                self.info.as_ptr(),
                outer,
                kind,
                offset,
                attrs.as_mut_ptr(),
                SLOTS as c_uint,
                &mut nest,
            )
        };
        to_result(parsed.min(0))?;
        Ok((parsed == 1).then_some(Nest {
            request: self,
            nest,
            attrs,
        }))
    }

    /// A u16 attribute of the request, if present.
    pub(crate) fn get_u16(&self, attr: u32) -> Option<u16> {
        let mut value: u32 = 0;
        // u16 attributes are read through the u32 reader's bounds check; the
        // policy guarantees 2 bytes, so read them as such.
        // SAFETY: `info` is valid for the lifetime of `self`.
        let present = unsafe { bindings::rg_genl_get_u16(self.info.as_ptr(), attr, &mut value) };
        (present == 1).then_some(value as u16)
    }

    /// Fails with `EINVAL`, telling the requester through extack which
    /// attribute is missing.
    pub(crate) fn missing(&self, attr: u32) -> Error {
        // SAFETY: `info` is valid for the lifetime of `self`.
        Error::from_errno(unsafe { bindings::rg_genl_missing(self.info.as_ptr(), attr) })
    }

    /// A u32 attribute the request must carry.
    pub(crate) fn require_u32(&self, attr: u32) -> Result<u32> {
        self.get_u32(attr).ok_or_else(|| self.missing(attr))
    }

    /// A u8 attribute the request must carry.
    pub(crate) fn require_u8(&self, attr: u32) -> Result<u8> {
        self.get_u8(attr).ok_or_else(|| self.missing(attr))
    }

    /// Fails with `err`, explaining why in the extack message.
    pub(crate) fn fail(&self, err: Error, why: &'static CStr) -> Error {
        // SAFETY: `info` is valid; `why` is static, as extack keeps the pointer.
        unsafe { bindings::rg_genl_set_err_msg(self.info.as_ptr(), why.as_char_ptr()) };
        err
    }

    /// Starts the reply to this request.
    pub(crate) fn reply(&self) -> Result<Reply<'_>> {
        // SAFETY: `info` is valid for the lifetime of `self`.
        let msg = unsafe { bindings::rg_reply_new(self.info.as_ptr()) };
        let msg = NonNull::new(msg).ok_or(ENOMEM)?;
        Ok(Reply {
            attrs: Some(Attrs {
                skb: msg,
                _message: PhantomData,
            }),
            info: self.info,
        })
    }
}

/// Writes attributes into a netlink message under construction.
pub(crate) struct Attrs<'a> {
    skb: NonNull<bindings::sk_buff>,
    _message: PhantomData<&'a mut bindings::sk_buff>,
}

impl Attrs<'_> {
    pub(super) fn new(skb: NonNull<bindings::sk_buff>) -> Self {
        Attrs {
            skb,
            _message: PhantomData,
        }
    }

    pub(super) fn skb(&self) -> *mut bindings::sk_buff {
        self.skb.as_ptr()
    }

    /// Appends a u32 attribute.
    pub(crate) fn put_u32(&mut self, attr: u32, value: u32) -> Result {
        // SAFETY: `skb` is a message under construction that `self` borrows.
        to_result(unsafe { bindings::rg_put_u32(self.skb.as_ptr(), attr, value) })
    }

    /// Appends a u16 attribute.
    pub(crate) fn put_u16(&mut self, attr: u32, value: u16) -> Result {
        // SAFETY: `skb` is a message under construction that `self` borrows.
        to_result(unsafe { bindings::rg_put_u16(self.skb.as_ptr(), attr, value) })
    }

    /// Appends a u8 attribute.
    pub(crate) fn put_u8(&mut self, attr: u32, value: u8) -> Result {
        // SAFETY: `skb` is a message under construction that `self` borrows.
        to_result(unsafe { bindings::rg_put_u8(self.skb.as_ptr(), attr, value) })
    }

    /// Appends a variable-width unsigned attribute (`NLA_UINT`).
    pub(crate) fn put_uint(&mut self, attr: u32, value: u64) -> Result {
        // SAFETY: `skb` is a message under construction that `self` borrows.
        to_result(unsafe { bindings::rg_put_uint(self.skb.as_ptr(), attr, value) })
    }

    /// Appends a NUL-terminated string attribute.
    pub(crate) fn put_str(&mut self, attr: u32, value: &str) -> Result {
        let len = u32::try_from(value.len()).map_err(|_| EINVAL)?;
        // The glue copies exactly `len` bytes from `value`.
        // SAFETY: `skb` is a message under construction; `value` has `len` bytes.
        to_result(unsafe { bindings::rg_put_string(self.skb.as_ptr(), attr, value.as_ptr(), len) })
    }

    /// Appends a nested attribute whose content `fill` writes; on error the
    /// nest is removed again so the message stays well-formed.
    pub(crate) fn nest(&mut self, attr: u32, fill: impl FnOnce(&mut Self) -> Result) -> Result {
        let skb = self.skb.as_ptr();
        let mut nest = core::ptr::null_mut();
        // SAFETY: `skb` is a message under construction that `self` borrows.
        to_result(unsafe { bindings::rg_nest_start(skb, attr, &mut nest) })?;
        let filled = fill(self);
        // SAFETY: `nest` was opened on `skb` above and nothing after it was closed.
        unsafe {
            if filled.is_ok() {
                bindings::rg_nest_end(skb, nest)
            } else {
                bindings::rg_nest_cancel(skb, nest)
            }
        };
        filled
    }
}

/// A reply message under construction; freed unless sent.
pub(crate) struct Reply<'a> {
    attrs: Option<Attrs<'a>>,
    info: NonNull<bindings::genl_info>,
}

impl<'a> Reply<'a> {
    /// The reply's attribute writer.
    pub(crate) fn attrs(&mut self) -> Result<&mut Attrs<'a>> {
        self.attrs.as_mut().ok_or(EINVAL)
    }

    /// Sends the reply to the requester.
    pub(crate) fn send(mut self) -> Result {
        let attrs = self.attrs.take().ok_or(EINVAL)?;
        // SAFETY: `skb` is an unsent reply to `info`; the glue consumes it.
        to_result(unsafe { bindings::rg_reply_send(attrs.skb.as_ptr(), self.info.as_ptr()) })
    }
}

impl Drop for Reply<'_> {
    fn drop(&mut self) {
        if let Some(attrs) = self.attrs.take() {
            // SAFETY: The reply was never sent, so `self` still owns it.
            unsafe { bindings::rg_reply_free(attrs.skb.as_ptr()) }
        }
    }
}

/// One part of a dump: the message buffer to fill and the cursor that says
/// where the previous part stopped.
pub(crate) struct Dump<'a> {
    skb: NonNull<bindings::sk_buff>,
    cb: NonNull<bindings::netlink_callback>,
    _call: PhantomData<&'a bindings::netlink_callback>,
}

impl Dump<'_> {
    /// One part of a dump.
    ///
    /// # Safety
    ///
    /// `skb` and `cb` are a dumpit callback's arguments, valid for the
    /// lifetime of the value.
    pub(super) unsafe fn from_raw(
        skb: NonNull<bindings::sk_buff>,
        cb: NonNull<bindings::netlink_callback>,
    ) -> Self {
        Dump {
            skb,
            cb,
            _call: PhantomData,
        }
    }

    /// A u32 attribute of the dump's request, if present (validated by the
    /// op's policy when the dump started).
    pub(crate) fn get_u32(&self, attr: u32) -> Option<u32> {
        let mut value: u32 = 0;
        // The glue writes `value` only during the call, through a pointer
        // to this local.
        // SAFETY: `cb` is valid for the lifetime of `self`; `value` is live.
        let present = unsafe { bindings::rg_dump_get_u32(self.cb.as_ptr(), attr, &mut value) };
        (present == 1).then_some(value)
    }

    /// A u16 attribute of the dump's request, if present.
    pub(crate) fn get_u16(&self, attr: u32) -> Option<u16> {
        let mut value: u32 = 0;
        // The glue writes `value` only during the call, through a pointer
        // to this local.
        // SAFETY: `cb` is valid for the lifetime of `self`; `value` is live.
        let present = unsafe { bindings::rg_dump_get_u16(self.cb.as_ptr(), attr, &mut value) };
        // The glue read two bytes: the value fits.
        (present == 1).then_some(value as u16)
    }

    /// Where the previous part stopped (0 at the start).
    pub(crate) fn cursor(&self) -> usize {
        // SAFETY: `cb` is valid for the lifetime of `self`.
        unsafe { bindings::rg_dump_cursor(self.cb.as_ptr()) as usize }
    }

    pub(crate) fn set_cursor(&mut self, cursor: usize) {
        // SAFETY: `cb` is valid for the lifetime of `self`.
        unsafe { bindings::rg_dump_set_cursor(self.cb.as_ptr(), cursor as _) }
    }

    /// Names the version of the table this part dumps (see the glue).
    pub(crate) fn set_generation(&mut self, generation: u32) {
        // SAFETY: `cb` is valid for the lifetime of `self`.
        unsafe { bindings::rg_dump_set_generation(self.cb.as_ptr(), generation) }
    }

    /// Adds one message that `fill` writes. `Ok(false)`: this part is full
    /// and the message was left out, to go into the next part.
    pub(crate) fn entry(&mut self, fill: impl FnOnce(&mut Attrs<'_>) -> Result) -> Result<bool> {
        let (skb, cb) = (self.skb.as_ptr(), self.cb.as_ptr());
        // SAFETY: `skb` and `cb` are this dump part's, valid for `self`'s lifetime.
        let hdr = unsafe { bindings::rg_dump_entry_start(skb, cb) };
        if hdr.is_null() {
            return Ok(false);
        }
        let mut attrs = Attrs {
            skb: self.skb,
            _message: PhantomData,
        };
        match fill(&mut attrs) {
            Ok(()) => {
                // SAFETY: `hdr` was opened on `skb` above.
                unsafe { bindings::rg_dump_entry_end(skb, hdr) };
                Ok(true)
            }
            Err(err) => {
                // SAFETY: `hdr` was opened on `skb` above.
                unsafe { bindings::rg_dump_entry_cancel(skb, hdr) };
                // SAFETY: Returns a constant.
                let full = err.to_errno() == unsafe { bindings::rg_err_msgsize() };
                if full {
                    Ok(false)
                } else {
                    Err(err)
                }
            }
        }
    }

    /// What a dumpit callback returns after this part: the bytes written
    /// (more parts follow while that is not 0).
    pub(super) fn written(&self) -> c_int {
        // SAFETY: `skb` is valid for the lifetime of `self`.
        unsafe { bindings::rg_skb_len(self.skb.as_ptr()) as c_int }
    }
}
