//! `ringgate-l7d`'s TOML configuration, checked completely before anything
//! starts; every error names its field.
//!
//! ```toml
//! status_socket = "/run/ringgate-l7.sock"
//! worker_threads = 2        # the proxy's own threads, apart from ringgated's
//! nice = 10                 # the proxy yields the CPU to the ring's daemon
//! max_connections = 1024    # client connections served at once; more wait in the backlog
//! max_resumes = 3           # resume requests per response
//! max_header_bytes = 16384  # a client's request head, larger is answered 431
//! http2_max_streams = 32    # requests at once on one HTTP/2 client connection
//!
//! [timeouts]                # milliseconds; these are the defaults
//! connect_ms = 1000         # to a back-end
//! response_ms = 10000       # a back-end's response head
//! stall_ms = 2000           # no body bytes from a back-end: it counts as failed
//! client_stall_ms = 30000   # a client that reads nothing is let go
//! header_read_ms = 10000    # a client's request head (slow clients are cut off)
//! hold_down_ms = 5000       # a failed back-end is not chosen first
//!
//! [[services]]
//! listen = "10.9.0.100:80"
//! backends = [ { address = "10.9.1.1:80", weight = 1 }, { address = "10.9.1.2:80", up = false } ]
//! ```
//!
//! `up = false` marks a back-end the cluster's health checks find down: it
//! is never chosen. `SIGHUP` reloads the services and their back-ends (the
//! other settings take effect at a restart).

use std::collections::HashSet;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct File {
    status_socket: PathBuf,
    #[serde(default = "default_worker_threads")]
    worker_threads: usize,
    #[serde(default = "default_nice")]
    nice: i32,
    #[serde(default = "default_max_connections")]
    max_connections: usize,
    #[serde(default = "default_max_resumes")]
    max_resumes: u32,
    #[serde(default = "default_max_header_bytes")]
    max_header_bytes: usize,
    #[serde(default = "default_http2_max_streams")]
    http2_max_streams: u32,
    #[serde(default)]
    timeouts: Timeouts,
    services: Vec<ServiceFile>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
struct Timeouts {
    connect_ms: u64,
    response_ms: u64,
    stall_ms: u64,
    client_stall_ms: u64,
    header_read_ms: u64,
    hold_down_ms: u64,
}

impl Default for Timeouts {
    fn default() -> Self {
        Timeouts {
            connect_ms: 1000,
            response_ms: 10_000,
            stall_ms: 2000,
            client_stall_ms: 30_000,
            header_read_ms: 10_000,
            hold_down_ms: 5000,
        }
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ServiceFile {
    listen: SocketAddr,
    backends: Vec<BackendFile>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct BackendFile {
    address: SocketAddr,
    #[serde(default = "default_weight")]
    weight: u32,
    #[serde(default = "default_up")]
    up: bool,
}

fn default_worker_threads() -> usize {
    2
}
fn default_nice() -> i32 {
    10
}
fn default_max_connections() -> usize {
    1024
}
fn default_max_resumes() -> u32 {
    3
}
fn default_max_header_bytes() -> usize {
    16 * 1024
}
fn default_http2_max_streams() -> u32 {
    32
}
fn default_weight() -> u32 {
    1
}
fn default_up() -> bool {
    true
}

/// Limits and timeouts every service shares.
#[derive(Debug, Clone)]
pub struct Settings {
    pub max_connections: usize,
    pub max_resumes: u32,
    pub max_header_bytes: usize,
    /// Streams at once on one HTTP/2 client connection: with
    /// `max_connections`, it bounds the transfers in flight.
    pub http2_max_streams: u32,
    pub connect: Duration,
    pub response: Duration,
    pub stall: Duration,
    pub client_stall: Duration,
    pub header_read: Duration,
    pub hold_down: Duration,
}

#[derive(Debug, Clone)]
pub struct Service {
    pub listen: SocketAddr,
    pub backends: Vec<(SocketAddr, u32)>,
    /// Back-ends down for the cluster (`up = false`).
    pub down: Vec<SocketAddr>,
}

#[derive(Debug, Clone)]
pub struct Config {
    pub status_socket: PathBuf,
    pub worker_threads: usize,
    pub nice: i32,
    pub settings: Settings,
    pub services: Vec<Service>,
}

/// Weights as the module takes them for `wrr`.
const MAX_WEIGHT: u32 = 65_535;
/// hyper refuses buffers under 8 KiB.
const MIN_HEADER_BYTES: usize = 8192;

impl Config {
    pub fn load(path: &Path) -> Result<Config, String> {
        let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
        Config::parse(&text).map_err(|e| format!("{}: {e}", path.display()))
    }

    pub fn parse(text: &str) -> Result<Config, String> {
        let file: File = toml::from_str(text).map_err(|e| e.to_string())?;
        if !(1..=64).contains(&file.worker_threads) {
            return Err("worker_threads: must be 1 to 64".into());
        }
        if !(-20..=19).contains(&file.nice) {
            return Err("nice: must be -20 to 19".into());
        }
        if file.max_connections == 0 {
            return Err("max_connections: must be at least 1".into());
        }
        if file.max_resumes > 16 {
            return Err("max_resumes: at most 16".into());
        }
        if !(MIN_HEADER_BYTES..=1 << 20).contains(&file.max_header_bytes) {
            return Err(format!(
                "max_header_bytes: must be {MIN_HEADER_BYTES} to 1048576"
            ));
        }
        if !(1..=1000).contains(&file.http2_max_streams) {
            return Err("http2_max_streams: must be 1 to 1000".into());
        }
        let t = &file.timeouts;
        for (name, value) in [
            ("timeouts.connect_ms", t.connect_ms),
            ("timeouts.response_ms", t.response_ms),
            ("timeouts.stall_ms", t.stall_ms),
            ("timeouts.client_stall_ms", t.client_stall_ms),
            ("timeouts.header_read_ms", t.header_read_ms),
            ("timeouts.hold_down_ms", t.hold_down_ms),
        ] {
            if !(1..=3_600_000).contains(&value) {
                return Err(format!("{name}: must be 1 to 3600000"));
            }
        }
        if file.services.is_empty() {
            return Err("services: at least one is needed".into());
        }
        let mut listens = HashSet::new();
        let mut services = Vec::new();
        for (index, service) in file.services.iter().enumerate() {
            if !listens.insert(service.listen) {
                return Err(format!(
                    "services[{index}].listen: {} appears twice",
                    service.listen
                ));
            }
            if service.backends.is_empty() {
                return Err(format!(
                    "services[{index}].backends: at least one is needed"
                ));
            }
            let mut seen = HashSet::new();
            for (b, backend) in service.backends.iter().enumerate() {
                if !seen.insert(backend.address) {
                    return Err(format!(
                        "services[{index}].backends[{b}].address: {} appears twice",
                        backend.address
                    ));
                }
                if !(1..=MAX_WEIGHT).contains(&backend.weight) {
                    return Err(format!(
                        "services[{index}].backends[{b}].weight: must be 1 to {MAX_WEIGHT}"
                    ));
                }
            }
            services.push(Service {
                listen: service.listen,
                backends: service
                    .backends
                    .iter()
                    .map(|b| (b.address, b.weight))
                    .collect(),
                down: service
                    .backends
                    .iter()
                    .filter(|b| !b.up)
                    .map(|b| b.address)
                    .collect(),
            });
        }
        let ms = Duration::from_millis;
        Ok(Config {
            status_socket: file.status_socket,
            worker_threads: file.worker_threads,
            nice: file.nice,
            settings: Settings {
                max_connections: file.max_connections,
                max_resumes: file.max_resumes,
                max_header_bytes: file.max_header_bytes,
                http2_max_streams: file.http2_max_streams,
                connect: ms(t.connect_ms),
                response: ms(t.response_ms),
                stall: ms(t.stall_ms),
                client_stall: ms(t.client_stall_ms),
                header_read: ms(t.header_read_ms),
                hold_down: ms(t.hold_down_ms),
            },
            services,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const GOOD: &str = r#"
        status_socket = "/run/l7.sock"
        [[services]]
        listen = "10.9.0.100:80"
        backends = [ { address = "10.9.1.1:80", weight = 2 }, { address = "10.9.1.2:80" } ]
    "#;

    #[test]
    fn a_minimal_file_gets_the_documented_defaults() {
        let config = Config::parse(GOOD).unwrap();
        assert_eq!(config.worker_threads, 2);
        assert_eq!(config.nice, 10);
        assert_eq!(config.settings.stall, Duration::from_secs(2));
        assert_eq!(config.settings.max_resumes, 3);
        assert_eq!(config.services[0].backends[1].1, 1);
    }

    #[test]
    fn every_error_names_its_field() {
        let cases = [
            (
                GOOD.replace("weight = 2", "weight = 0"),
                "services[0].backends[0].weight",
            ),
            (
                GOOD.replace("10.9.1.2:80", "10.9.1.1:80"),
                "services[0].backends[1].address",
            ),
            (
                format!("worker_threads = 0\n{GOOD}"),
                "worker_threads: must",
            ),
            (
                format!("{GOOD}\n[timeouts]\nstall_ms = 0"),
                "timeouts.stall_ms",
            ),
            (
                format!("max_header_bytes = 100\n{GOOD}"),
                "max_header_bytes: must",
            ),
            (GOOD.replace("listen", "lsten"), "lsten"),
            (
                "status_socket = \"/x\"\nservices = []".to_owned(),
                "services",
            ),
        ];
        for (text, field) in cases {
            let error = Config::parse(&text).unwrap_err();
            assert!(error.contains(field), "{field}: {error}");
        }
    }
}
