//! The cluster state machine of ringgated, as a pure library: no sockets,
//! no threads, no clock reads (time is an argument).
//!
//! Every gateway node runs one [`ClusterNode`]. The daemon feeds it what its
//! ring node delivers (agreed messages, membership events, state-transfer
//! snapshots), what the node observes locally (per-VIP load, back-end
//! health checks), the operator's commands and the passage of time; it
//! drains [`Output`]s: actions for the local module, messages to broadcast
//! and results of commands, in an order that matters (see [`Output`]).
//!
//! - [`state`]: the replicated state and the rules every member applies
//!   identically (assignment, failover, split brain, configuration, drain,
//!   health), from agreed input only.
//! - [`placement`] and [`balance`]: the pure assignment and load rules.
//! - [`health`]: when the cluster agrees a back-end is down.
//! - [`node`]: one node's view: what its module must hold now, the fences,
//!   and what it reports.
//! - [`message`], [`config`] and [`codec`]: the explicit, versioned
//!   encoding of everything that crosses the wire or goes to disk.

pub mod balance;
pub mod codec;
pub mod config;
pub mod health;
pub mod message;
pub mod model;
pub mod node;
pub mod placement;
pub mod state;
pub mod status;

pub use node::{ClusterNode, Command, ModuleAction, Output};
