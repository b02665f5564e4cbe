//! The constants and attribute descriptions of the ringgate generic netlink
//! family.
//!
//! Everything here is generated at build time from the family's YAML spec,
//! `include/netlink/ringgate.yaml`, the file the kernel's ynl-gen-c also
//! generates the C header (which the module builds with) from. The spec says
//! more than the header does: each attribute's type, byte order, nesting,
//! value enum and bounds, which [`AttrSpec`] carries.

#![allow(missing_docs)]

mod types;

pub use types::{AttrSet, AttrSpec, AttrType, ByteOrder, OpSpec};

include!(concat!(env!("OUT_DIR"), "/uapi.rs"));

/// The operation with command number `cmd`, if this build knows it.
pub fn op(cmd: u8) -> Option<&'static OpSpec> {
    OPS.iter().find(|op| op.cmd == cmd)
}

// The generator build.rs runs, compiled again here so its unit tests run.
#[cfg(test)]
mod render;
#[cfg(test)]
mod spec;

// A reader of the C header, to check the two generators agree.
#[cfg(test)]
mod header;

#[cfg(test)]
mod tests;
