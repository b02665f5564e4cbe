//! The pieces of the `ringgated` daemon, as a library so that the benchmark
//! (examples/ring_bench.rs) drives exactly the daemon's I/O code.

pub mod config;
pub mod control;
pub mod epoch;
pub mod health;
pub mod health_file;
pub mod output;
pub mod ring_handle;
pub mod runtime;
