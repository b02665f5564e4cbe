//! Why a request failed, worded for an operator: every text here is meant
//! to be printed as is (none is a `Debug` dump).

use std::fmt;
use std::net::{Ipv4Addr, SocketAddrV4};

use ringgate_uapi as uapi;

use crate::ServiceKey;

/// Why a request failed.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error(
        "the ringgate kernel module is not loaded (load it with `modprobe ringgate` or `insmod ringgate.ko`)"
    )]
    ModuleNotLoaded,
    #[error("permission denied: {0} needs CAP_NET_ADMIN in this network namespace")]
    PermissionDenied(&'static str),
    #[error("no such VIP {0} in this network namespace's pool")]
    NoSuchVip(Ipv4Addr),
    #[error("VIP {0} is not configured on any interface of this network namespace (add it with `ip addr add {0}/32 dev <interface>` first)")]
    VipNotConfigured(Ipv4Addr),
    #[error("the VIP pool is full ({max} VIPs per network namespace)", max = uapi::RINGGATE_MAX_VIPS)]
    PoolFull,
    #[error("{0} cannot be a VIP: a VIP is a unicast IPv4 address (not 0, loopback, multicast or broadcast)")]
    NotUnicast(Ipv4Addr),
    /// The kernel refused a request; its own explanation is kept.
    #[error("{0}")]
    Kernel(KernelError),
    #[error("no such service {0}")]
    NoSuchService(ServiceKey),
    #[error("no back-end {1} in service {0}")]
    NoSuchBackend(ServiceKey, SocketAddrV4),
    #[error("VIP {0} is not in this network namespace's pool (add it with `ringgatectl vip add {0}` first)")]
    VipNotInPool(Ipv4Addr),
    #[error("the table is full ({services} services, {backends} back-ends each, per network namespace)", services = uapi::RINGGATE_MAX_SERVICES, backends = uapi::RINGGATE_MAX_BACKENDS)]
    ServiceTableFull,
    /// A dump was flagged as interrupted by a change every time it was tried.
    #[error("the {what} kept changing while it was being listed ({attempts} attempts); try again")]
    DumpInterrupted { what: &'static str, attempts: u32 },
    /// A listing handed over as it arrived was raced by a change that may
    /// have skipped or repeated entries (a resize of the session table).
    #[error("the {what} changed shape while it was being listed: entries may be missing or listed twice; list again")]
    ListingInterrupted { what: &'static str },
    #[error("netlink socket: {0}")]
    Socket(String),
    #[error("malformed reply to {op}: {why}")]
    Malformed { op: &'static str, why: String },
}

impl Error {
    /// Turns a refusal into the typed error `typed` gives for its errno,
    /// where the request's errno has that one cause. A refusal that points
    /// at an attribute is about the request's form, never about the state,
    /// so it keeps the kernel's own words.
    pub(crate) fn refine(self, typed: impl FnOnce(i32) -> Option<Error>) -> Error {
        match self {
            Error::Kernel(k) if k.culprit.is_none() => match typed(k.errno) {
                Some(e) => e,
                None => Error::Kernel(k),
            },
            other => other,
        }
    }
}

/// The attribute a refusal is about, as the kernel pointed at it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Culprit {
    /// The attribute at this path (e.g. `backend.weight`) was refused.
    Bad(String),
    /// An attribute the request needed is missing (e.g. `backend.port`).
    Missing(String),
}

impl fmt::Display for Culprit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Culprit::Bad(path) => write!(f, "bad attribute {path}"),
            Culprit::Missing(path) => write!(f, "missing attribute {path}"),
        }
    }
}

/// A refusal by the kernel: the errno, the kernel's own explanation
/// (extack) when it gave one, and the attribute it pointed at.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KernelError {
    /// The request, by its spec name (`vip-add`).
    pub op: &'static str,
    /// The positive errno.
    pub errno: i32,
    /// The kernel's extack message, if any.
    pub message: Option<String>,
    pub culprit: Option<Culprit>,
}

impl fmt::Display for KernelError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "the kernel refused {}: ", self.op)?;
        match &self.message {
            Some(message) => f.write_str(message)?,
            None => f.write_str(&strerror(self.errno))?,
        }
        if let Some(culprit) = &self.culprit {
            write!(f, " ({culprit})")?;
        }
        write!(f, " (errno {})", self.errno)
    }
}

/// The C library's text for an errno, without Rust's "(os error N)" suffix.
fn strerror(errno: i32) -> String {
    let text = std::io::Error::from_raw_os_error(errno).to_string();
    match text.rfind(" (os error") {
        Some(end) => text[..end].to_string(),
        None => text,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_refusal_shows_the_kernels_text_and_the_attribute() {
        let e = KernelError {
            op: "backend-set",
            errno: 22,
            message: Some("required attribute missing".into()),
            culprit: Some(Culprit::Missing("backend".into())),
        };
        assert_eq!(
            e.to_string(),
            "the kernel refused backend-set: required attribute missing (missing attribute backend) (errno 22)"
        );
        let bare = KernelError {
            op: "vip-add",
            errno: 22,
            message: None,
            culprit: None,
        };
        assert_eq!(
            bare.to_string(),
            "the kernel refused vip-add: Invalid argument (errno 22)"
        );
    }
}
