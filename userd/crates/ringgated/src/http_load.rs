//! The load of the HTTP-mode services, for the cluster's balancing. The
//! module never counts their traffic (the proxy terminates it, there is no
//! NAT), so without this a VIP busy with HTTP downloads would look idle and
//! be given more. `ringgate-l7d`'s counters stand in for the module's:
//! bytes sent to clients, client connections accepted, bodies in flight.
//!
//! A thread of its own reads the proxy's status socket once a second, with
//! short timeouts, and keeps the latest good reading with the time it was
//! taken: a busy or stuck proxy (it runs at a lower priority) never holds
//! up the ring's thread, which only takes that reading. Rates are computed
//! between two readings over the time between them (`HttpRates`), not over
//! the gateway's own measuring interval, whose phase drifts against the
//! thread's: an interval without a new reading repeats the last rates, and
//! a failed reading neither reads as a drop to zero nor makes the next one
//! count the proxy's whole lifetime. A proxy that gives no reading for
//! `STALE_AFTER` counts as no load; one that restarted counts from zero
//! again, which `load_meter::rates` takes as an interval without a rate.

use std::collections::BTreeMap;
use std::io::Read;
use std::net::SocketAddrV4;
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use ringgate_cluster::model::{Vip, VipLoad};
use serde_json::Value;

use crate::load_meter::{self, Totals};

/// How often the proxy's counters are read.
const READ_EVERY: Duration = Duration::from_secs(1);

/// How long one reading may take before it is given up.
const READ_TIMEOUT: Duration = Duration::from_millis(500);

/// A proxy without a reading for this long counts as no load.
pub const STALE_AFTER: Duration = Duration::from_secs(3);

/// A status document larger than this is not read (the proxy's is a few
/// kilobytes per service).
const MAX_STATUS_BYTES: u64 = 4 << 20;

/// Per-VIP totals of the proxy's counters in one status document. Services
/// that are not IPv4 or whose counters are missing are left out.
pub fn totals_of(status: &Value) -> BTreeMap<Vip, Totals> {
    let mut out: BTreeMap<Vip, Totals> = BTreeMap::new();
    let Some(services) = status["services"].as_array() else {
        return out;
    };
    for service in services {
        let Some(listen) = service["listen"]
            .as_str()
            .and_then(|s| s.parse::<SocketAddrV4>().ok())
        else {
            continue;
        };
        let counters = &service["counters"];
        let counter = |name: &str| counters[name].as_u64().unwrap_or(0);
        let t = out.entry(*listen.ip()).or_default();
        t.bytes = t.bytes.saturating_add(counter("bytes_to_clients"));
        t.conns = t.conns.saturating_add(counter("connections"));
        t.live = t.live.saturating_add(counter("active_transfers"));
    }
    out
}

/// The proxy's counters at one moment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reading {
    pub at: Instant,
    pub totals: BTreeMap<Vip, Totals>,
}

/// The proxy's rates, from the readings the gateway has seen.
#[derive(Debug, Default)]
pub struct HttpRates {
    seen: Option<Reading>,
    rates: Vec<(Vip, VipLoad)>,
}

impl HttpRates {
    /// The rates as of `latest` (the thread's latest good reading) at `now`.
    pub fn update(&mut self, latest: Option<Reading>, now: Instant) -> &[(Vip, VipLoad)] {
        let Some(latest) = latest else {
            self.rates.clear();
            return &self.rates;
        };
        if now.saturating_duration_since(latest.at) >= STALE_AFTER {
            self.rates.clear();
        } else if self.seen.as_ref().is_none_or(|seen| seen.at != latest.at) {
            self.rates = match &self.seen {
                Some(seen) => load_meter::rates(
                    &seen.totals,
                    &latest.totals,
                    latest.at.saturating_duration_since(seen.at),
                ),
                // The first reading only sets where counting starts.
                None => Vec::new(),
            };
        }
        self.seen = Some(latest);
        &self.rates
    }
}

/// `module`'s loads with the HTTP ones added, VIP by VIP.
pub fn merge(module: Vec<(Vip, VipLoad)>, http: &[(Vip, VipLoad)]) -> Vec<(Vip, VipLoad)> {
    let mut by_vip: BTreeMap<Vip, VipLoad> = module.into_iter().collect();
    for (vip, h) in http {
        let l = by_vip.entry(*vip).or_default();
        l.packets_per_sec = l.packets_per_sec.saturating_add(h.packets_per_sec);
        l.bytes_per_sec = l.bytes_per_sec.saturating_add(h.bytes_per_sec);
        l.new_sessions_per_sec = l
            .new_sessions_per_sec
            .saturating_add(h.new_sessions_per_sec);
        l.live_sessions = l.live_sessions.saturating_add(h.live_sessions);
    }
    by_vip.into_iter().collect()
}

/// Connects without waiting: a proxy that stopped accepting fills its
/// backlog, and a blocking connect would then wait for good (the reading
/// goes stale instead, and the thread still stops when told).
fn connect(socket: &Path) -> std::io::Result<UnixStream> {
    use rustix::net::{AddressFamily, SocketAddrUnix, SocketFlags, SocketType};
    let fd = rustix::net::socket_with(
        AddressFamily::UNIX,
        SocketType::STREAM,
        SocketFlags::NONBLOCK | SocketFlags::CLOEXEC,
        None,
    )?;
    rustix::net::connect_unix(&fd, &SocketAddrUnix::new(socket)?)?;
    let stream = UnixStream::from(fd);
    stream.set_nonblocking(false)?;
    Ok(stream)
}

fn read_status(socket: &Path) -> Option<Value> {
    let stream = connect(socket).ok()?;
    stream.set_read_timeout(Some(READ_TIMEOUT)).ok()?;
    let mut text = Vec::new();
    stream.take(MAX_STATUS_BYTES).read_to_end(&mut text).ok()?;
    serde_json::from_slice(&text).ok()
}

/// The reading thread and its latest reading.
pub struct HttpLoad {
    latest: Arc<Mutex<Option<Reading>>>,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl HttpLoad {
    /// Starts reading the status socket at `socket`.
    pub fn start(socket: PathBuf) -> std::io::Result<HttpLoad> {
        let latest = Arc::new(Mutex::new(None));
        let stop = Arc::new(AtomicBool::new(false));
        let (into, stopped) = (latest.clone(), stop.clone());
        let thread = std::thread::Builder::new()
            .name("http-load".into())
            .spawn(move || {
                while !stopped.load(Ordering::Relaxed) {
                    // A failed reading keeps the last good one, which
                    // goes stale (see `HttpRates`).
                    if let Some(status) = read_status(&socket) {
                        let reading = Reading {
                            at: Instant::now(),
                            totals: totals_of(&status),
                        };
                        *into.lock().unwrap_or_else(PoisonError::into_inner) = Some(reading);
                    }
                    // Short steps, so that stopping is quick.
                    for _ in 0..10 {
                        if stopped.load(Ordering::Relaxed) {
                            return;
                        }
                        std::thread::sleep(READ_EVERY / 10);
                    }
                }
            })?;
        Ok(HttpLoad {
            latest,
            stop,
            thread: Some(thread),
        })
    }

    /// The latest good reading, if there was one.
    pub fn latest(&self) -> Option<Reading> {
        self.latest
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }
}

impl Drop for HttpLoad {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;
    use std::net::Ipv4Addr;
    use std::os::unix::net::UnixListener;

    const VIP: Ipv4Addr = Ipv4Addr::new(10, 9, 0, 100);

    fn status() -> Value {
        let counters = |bytes: u64, conns: u64, active: u64| json!({"bytes_to_clients": bytes, "connections": conns, "active_transfers": active, "requests": 99});
        json!({"services": [
            {"listen": "10.9.0.100:80", "backends": [], "counters": counters(1000, 3, 1)},
            {"listen": "10.9.0.100:8080", "backends": [], "counters": counters(500, 2, 0)},
            {"listen": "10.9.0.101:80", "backends": [], "counters": counters(7, 1, 1)},
            {"listen": "[::1]:80", "backends": [], "counters": counters(5, 5, 5)},
            {"listen": "garbage", "counters": counters(5, 5, 5)},
        ]})
    }

    #[test]
    fn a_vips_services_are_summed_and_what_is_not_a_vip_left_out() {
        let totals = totals_of(&status());
        assert_eq!(totals.len(), 2);
        assert_eq!(
            totals[&VIP],
            Totals {
                packets: 0,
                bytes: 1500,
                conns: 5,
                live: 1
            }
        );
        assert_eq!(totals[&Ipv4Addr::new(10, 9, 0, 101)].bytes, 7);
        assert!(totals_of(&json!({"no": "services"})).is_empty());
    }

    fn reading(at: Instant, bytes: u64) -> Option<Reading> {
        let totals = BTreeMap::from([(
            VIP,
            Totals {
                bytes,
                conns: bytes / 100,
                live: 2,
                ..Totals::default()
            },
        )]);
        Some(Reading { at, totals })
    }

    fn bytes_per_sec(rates: &[(Vip, VipLoad)]) -> Option<u64> {
        rates
            .iter()
            .find(|(vip, _)| *vip == VIP)
            .map(|(_, l)| l.bytes_per_sec)
    }

    #[test]
    fn rates_run_between_readings_whatever_the_gateways_rhythm() {
        let t0 = Instant::now();
        let s = Duration::from_secs(1);
        let mut rates = HttpRates::default();
        // The first reading only sets where counting starts.
        assert!(rates.update(reading(t0, 1_000), t0).is_empty());
        // A second, 1.5 s later: 3000 bytes over 1.5 s.
        let r = rates.update(reading(t0 + s * 3 / 2, 4_000), t0 + s * 2);
        assert_eq!(bytes_per_sec(r), Some(2_000));
        // The gateway measures again before a new reading: the same rate,
        // not none (nor double at the next).
        let r = rates.update(reading(t0 + s * 3 / 2, 4_000), t0 + s * 5 / 2);
        assert_eq!(bytes_per_sec(r), Some(2_000));
        let r = rates.update(reading(t0 + s * 3, 7_000), t0 + s * 3);
        assert_eq!(bytes_per_sec(r), Some(2_000));
        // Readings failed for a while (the thread kept the last good one):
        // no load once it is stale, and the next good reading counts its
        // bytes over the whole gap, not the proxy's lifetime.
        assert!(rates
            .update(reading(t0 + s * 3, 7_000), t0 + s * 3 + STALE_AFTER)
            .is_empty());
        let r = rates.update(reading(t0 + s * 8, 17_000), t0 + s * 8);
        assert_eq!(bytes_per_sec(r), Some(2_000));
        // A restarted proxy counts from zero: that interval has no rate.
        let r = rates.update(reading(t0 + s * 9, 500), t0 + s * 9);
        assert_eq!(bytes_per_sec(r), Some(0));
        assert!(rates.update(None, t0 + s * 10).is_empty());
    }

    #[test]
    fn http_loads_add_to_the_modules() {
        let module = vec![(
            VIP,
            VipLoad {
                packets_per_sec: 10,
                bytes_per_sec: 100,
                new_sessions_per_sec: 1,
                live_sessions: 2,
            },
        )];
        let other = Ipv4Addr::new(10, 9, 0, 101);
        let http = [
            (
                VIP,
                VipLoad {
                    packets_per_sec: 0,
                    bytes_per_sec: 1_000,
                    new_sessions_per_sec: 3,
                    live_sessions: 1,
                },
            ),
            (
                other,
                VipLoad {
                    bytes_per_sec: 7,
                    ..VipLoad::default()
                },
            ),
        ];
        let merged = merge(module, &http);
        assert_eq!(
            merged,
            vec![
                (
                    VIP,
                    VipLoad {
                        packets_per_sec: 10,
                        bytes_per_sec: 1_100,
                        new_sessions_per_sec: 4,
                        live_sessions: 3,
                    }
                ),
                (
                    other,
                    VipLoad {
                        bytes_per_sec: 7,
                        ..VipLoad::default()
                    }
                ),
            ]
        );
    }

    #[test]
    fn a_proxy_that_stopped_accepting_never_blocks_a_reading() {
        let dir = std::env::temp_dir().join(format!("rg-http-load-b-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let socket = dir.join("l7d.sock");
        // Bound and listening, but never accepting: its backlog fills.
        let _listener = UnixListener::bind(&socket).unwrap();
        let started = Instant::now();
        let mut held = Vec::new();
        let refused = loop {
            match connect(&socket) {
                Ok(stream) => held.push(stream),
                Err(e) => break e,
            }
            assert!(held.len() < 100_000, "the backlog never filled");
        };
        assert_eq!(refused.kind(), std::io::ErrorKind::WouldBlock);
        assert!(read_status(&socket).is_none());
        assert!(started.elapsed() < Duration::from_secs(5));
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn the_thread_keeps_the_latest_good_reading() {
        let dir = std::env::temp_dir().join(format!("rg-http-load-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let socket = dir.join("l7d.sock");
        let listener = UnixListener::bind(&socket).unwrap();
        let document = status().to_string();
        let server = std::thread::spawn(move || {
            // Answers one reading, then half a document (a reading that
            // fails), then goes (a proxy that stopped).
            let (mut stream, _) = listener.accept().unwrap();
            std::io::Write::write_all(&mut stream, document.as_bytes()).unwrap();
            drop(stream);
            let (mut stream, _) = listener.accept().unwrap();
            std::io::Write::write_all(&mut stream, &document.as_bytes()[..20]).unwrap();
        });
        let load = HttpLoad::start(socket.clone()).unwrap();
        let mut first = None;
        for _ in 0..100 {
            first = load.latest();
            if first.is_some() {
                break;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let first = first.expect("a reading of the proxy's counters");
        assert_eq!(first.totals[&VIP].bytes, 1500);
        server.join().unwrap();
        std::fs::remove_file(&socket).unwrap();
        // The failed and the missing readings leave the good one in place.
        std::thread::sleep(Duration::from_millis(2500));
        assert_eq!(load.latest(), Some(first));
        drop(load);
        let _ = std::fs::remove_dir_all(&dir);
    }
}
