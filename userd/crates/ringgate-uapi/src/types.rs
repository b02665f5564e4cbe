//! The shapes of the tables build.rs generates from the YAML spec: what each
//! attribute of each set is on the wire, so that decoders read an attribute
//! by what the spec says it is rather than by a width typed again by hand.

/// An attribute's wire type (the spec's `type:`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AttrType {
    U8,
    U16,
    U32,
    U64,
    /// `NLA_UINT`: 4 or 8 bytes, whichever the sender needed.
    Uint,
    String,
    Nest,
    Flag,
    Binary,
}

/// How an integer attribute's bytes are ordered (the spec's `byte-order:`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ByteOrder {
    Host,
    BigEndian,
}

/// One attribute of a set, as the spec describes it.
#[derive(Debug, PartialEq, Eq)]
pub struct AttrSpec {
    /// The spec name, e.g. `garp-count`.
    pub name: &'static str,
    /// The attribute type number on the wire.
    pub value: u16,
    pub ty: AttrType,
    pub byte_order: ByteOrder,
    /// The spec's `display-hint: ipv4`: a 4-byte IPv4 address.
    pub ipv4: bool,
    /// Whether the attribute may appear more than once in a message.
    pub multi_attr: bool,
    /// The set of the attributes inside, for a nest.
    pub nested: Option<&'static AttrSet>,
    /// The value names of the spec enum the attribute takes its values from.
    pub enumeration: Option<&'static [(&'static str, u32)]>,
    /// The smallest value the kernel's policy accepts, if it checks one.
    pub min: Option<i64>,
    /// The largest value the kernel's policy accepts, if it checks one.
    pub max: Option<i64>,
}

/// An attribute set of the spec.
#[derive(Debug, PartialEq, Eq)]
pub struct AttrSet {
    /// The spec name, e.g. `vip`.
    pub name: &'static str,
    pub attrs: &'static [AttrSpec],
}

impl AttrSet {
    /// The attribute with type number `value`, if this build knows it.
    pub fn attr(&self, value: u16) -> Option<&'static AttrSpec> {
        self.attrs.iter().find(|a| a.value == value)
    }
}

/// An operation (command or notification) of the spec.
#[derive(Debug, PartialEq, Eq)]
pub struct OpSpec {
    /// The spec name, e.g. `vip-add`.
    pub name: &'static str,
    /// The generic netlink command number.
    pub cmd: u8,
    /// The set its attributes belong to.
    pub set: &'static AttrSet,
    /// The multicast group it is sent to, for a notification.
    pub mcgrp: Option<&'static str>,
}
