//! The token-ring reliable messaging protocol that ringgated nodes share
//! state over, as a pure library: no sockets, no threads, no clock reads.
//!
//! This crate grows in layers. Present so far:
//! - [`auth`]: every datagram is authenticated with HMAC-SHA256 under the
//!   cluster key; nothing unauthenticated reaches the protocol.
//! - [`keyring`]: the keys a node accepts, so the cluster key can be
//!   rotated without stopping the ring.
//! - [`envelope`]: the versioned, typed envelope of the application messages
//!   the ring carries, readable by older and newer nodes alike.

pub mod auth;
pub mod envelope;
pub mod keyring;
pub mod limits;
pub mod node;
pub mod wire;
