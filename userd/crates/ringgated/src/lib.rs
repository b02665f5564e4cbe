//! The pieces of the `ringgated` daemon, as a library so that the benchmark
//! (examples/ring_bench.rs) drives exactly the daemon's I/O code.

pub mod cluster_file;
pub mod cluster_outbox;
pub mod config;
pub mod config_edit;
pub mod control;
pub mod epoch;
pub mod gateway;
pub mod health;
pub mod health_file;
pub mod http_load;
pub mod http_proxy;
pub mod links;
pub mod load_meter;
pub mod module_sync;
pub mod output;
pub mod peer_links;
pub mod persister;
pub mod priority;
pub mod release_gate;
pub mod ring_handle;
pub mod runtime;
pub mod session_events;
pub mod session_sync;
pub mod session_worker;
pub mod snat_shares;
pub mod state_file;
pub mod status_json;
pub mod submissions;
pub mod table_wait;
pub mod turn_phases;
pub mod vip_owners;
