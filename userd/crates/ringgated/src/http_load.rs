//! The load of the HTTP-mode services, for the cluster's balancing. The
//! module never counts their traffic (the proxy terminates it, there is no
//! NAT), so without this a VIP busy with HTTP downloads would look idle and
//! be given more. `ringgate-l7d`'s counters stand in for the module's:
//! bytes sent to clients, client connections accepted, bodies in flight.
//!
//! A thread of its own reads the proxy's status socket once a second, with
//! short timeouts, and keeps the latest reading: a busy or stuck proxy (it
//! runs at a lower priority) never holds up the ring's thread, which only
//! takes that reading. A proxy that is not running reads as no load; one
//! that restarted counts from zero again, which `load_meter::rates` takes
//! as an interval without a rate, as for a reloaded module.

use std::collections::BTreeMap;
use std::io::Read;
use std::net::SocketAddrV4;
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::thread::JoinHandle;
use std::time::Duration;

use ringgate_cluster::model::Vip;
use serde_json::Value;

use crate::load_meter::Totals;

/// How often the proxy's counters are read.
const READ_EVERY: Duration = Duration::from_secs(1);

/// How long one reading may take before it is given up.
const READ_TIMEOUT: Duration = Duration::from_millis(500);

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

/// Adds `more` to `into`, VIP by VIP.
pub fn add(into: &mut BTreeMap<Vip, Totals>, more: &BTreeMap<Vip, Totals>) {
    for (vip, m) in more {
        let t = into.entry(*vip).or_default();
        t.packets = t.packets.saturating_add(m.packets);
        t.bytes = t.bytes.saturating_add(m.bytes);
        t.conns = t.conns.saturating_add(m.conns);
        t.live = t.live.saturating_add(m.live);
    }
}

fn read_status(socket: &Path) -> Option<Value> {
    let stream = UnixStream::connect(socket).ok()?;
    stream.set_read_timeout(Some(READ_TIMEOUT)).ok()?;
    let mut text = Vec::new();
    stream.take(MAX_STATUS_BYTES).read_to_end(&mut text).ok()?;
    serde_json::from_slice(&text).ok()
}

/// The reading thread and its latest reading.
pub struct HttpLoad {
    latest: Arc<Mutex<BTreeMap<Vip, Totals>>>,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl HttpLoad {
    /// Starts reading the status socket at `socket`.
    pub fn start(socket: PathBuf) -> std::io::Result<HttpLoad> {
        let latest = Arc::new(Mutex::new(BTreeMap::new()));
        let stop = Arc::new(AtomicBool::new(false));
        let (into, stopped) = (latest.clone(), stop.clone());
        let thread = std::thread::Builder::new()
            .name("http-load".into())
            .spawn(move || {
                while !stopped.load(Ordering::Relaxed) {
                    let reading = read_status(&socket)
                        .map(|status| totals_of(&status))
                        .unwrap_or_default();
                    *into.lock().unwrap_or_else(PoisonError::into_inner) = reading;
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

    /// The latest reading (empty while the proxy does not answer).
    pub fn latest(&self) -> BTreeMap<Vip, Totals> {
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

    #[test]
    fn http_totals_add_to_the_modules() {
        let mut module = BTreeMap::from([(
            VIP,
            Totals {
                packets: 10,
                bytes: 100,
                conns: 1,
                live: 2,
            },
        )]);
        add(&mut module, &totals_of(&status()));
        assert_eq!(
            module[&VIP],
            Totals {
                packets: 10,
                bytes: 1600,
                conns: 6,
                live: 3
            }
        );
        assert_eq!(module.len(), 2);
    }

    #[test]
    fn the_thread_keeps_the_latest_reading_and_none_without_a_proxy() {
        let dir = std::env::temp_dir().join(format!("rg-http-load-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let socket = dir.join("l7d.sock");
        let listener = UnixListener::bind(&socket).unwrap();
        let document = status().to_string();
        let server = std::thread::spawn(move || {
            // Answers two readings, then goes (a proxy that stopped).
            for _ in 0..2 {
                let (mut stream, _) = listener.accept().unwrap();
                std::io::Write::write_all(&mut stream, document.as_bytes()).unwrap();
            }
        });
        let load = HttpLoad::start(socket.clone()).unwrap();
        let wait = |what: &str, done: &dyn Fn(&BTreeMap<Vip, Totals>) -> bool| {
            for _ in 0..100 {
                if done(&load.latest()) {
                    return;
                }
                std::thread::sleep(Duration::from_millis(50));
            }
            panic!("{what}: {:?}", load.latest());
        };
        wait("the proxy's counters", &|l| {
            l.get(&VIP).map(|t| t.bytes) == Some(1500)
        });
        server.join().unwrap();
        std::fs::remove_file(&socket).unwrap();
        wait("no load once the proxy is gone", &|l| l.is_empty());
        drop(load);
        let _ = std::fs::remove_dir_all(&dir);
    }
}
