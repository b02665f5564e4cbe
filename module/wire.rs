// SPDX-License-Identifier: GPL-2.0

//! A packet at a hook, as the parsers in `headers` read it: through the
//! wrapper layer's one bounded copy.

use crate::glue::Packet;
use crate::headers::Bytes;

impl Bytes for Packet<'_> {
    fn copy(&self, offset: u32, buf: &mut [u8]) -> Option<()> {
        self.copy_bits(offset, buf).ok()
    }

    fn len(&self) -> u32 {
        Packet::len(self)
    }

    fn network_offset(&self) -> Option<u32> {
        u32::try_from(Packet::network_offset(self)).ok()
    }
}
