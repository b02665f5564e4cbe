//! A client of the `ringgate` generic netlink family, for the CLI and the daemon.
//!
//! Requests act on the network namespace of the calling process, as the
//! kernel module keeps its state per namespace.
//!
//! The socket is read in a plain loop on the caller's thread (no router
//! thread): each request is read to its ack, refusal or `NLMSG_DONE`, so the
//! DONE's error code and the extended ack are seen, and nothing of one
//! request's answer is left for the next.

mod client;
mod config;
pub mod ctnetlink;
mod decode;
mod error;
mod events;
mod extack;
mod hook;
mod names;
mod peer;
mod receive;
mod service;
mod session;
mod snat;
mod spec_enum;
mod status;
mod transport;
mod vip;
mod wire;

#[cfg(test)]
mod client_tests;
#[cfg(test)]
mod events_tests;
#[cfg(test)]
mod live_tests;
#[cfg(test)]
mod scripted;
#[cfg(test)]
mod testbytes;

/// The generated constants and attribute descriptions of the family, for
/// callers that check values before sending them (as a restore does).
pub use ringgate_uapi as uapi;

pub use client::Client;
pub use config::{Config, ConfigChange, ConntrackMode, DownPolicy};
pub use error::{Culprit, Error, KernelError};
pub use events::{Event, Events};
pub use hook::{Hook, UnknownHook};
pub use peer::{Peer, PortRange};
pub use service::{Backend, Proto, Scheduler, Service, ServiceKey, Traffic};
pub use session::{Imported, Session, SessionFilter, Stage, IMPORT_BATCH};
pub use snat::Snat;
pub use status::{HookStats, Status};
pub use vip::{check_vip_addr, Vip};
