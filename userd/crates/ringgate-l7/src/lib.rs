//! ringgate's HTTP mode: a reverse proxy for the HTTP services of the VIPs a
//! gateway owns, which finishes a download from another back-end when the
//! one serving it dies (`resume`). It runs as its own process
//! (`ringgate-l7d`), at a lower priority than `ringgated`, so its load never
//! delays the ring's token.

pub mod client;
pub mod config;
pub mod listener;
pub mod metrics;
pub mod pool;
pub mod proxy;
pub mod range;
pub mod resume;
pub mod services;
pub mod status;
pub mod upload;
pub mod upstream;
pub mod workers;
