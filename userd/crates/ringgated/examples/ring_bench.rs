//! Benchmark of the token ring over loopback UDP: one thread per node, each
//! running the daemon's own `UdpRing` on its own 127.0.0.x address. Prints
//! numbers; it asserts nothing.
//!
//!     cargo run --release -p ringgated --example ring_bench [-- --quick]
//!     ... ring_bench -- --diag NODES SIZE SECONDS   (one saturated run, counters)
//!     ... ring_bench -- --death NODES TRIALS        (one line per trial)
//!
//! For 3, 5 and 8 nodes and 64 B, 1 KB and 8 KB messages: the delivered
//! message rate at the slowest node when every node sends as fast as the ring
//! takes messages; then delivery latency (submit to delivery, at every node)
//! p50/p99 at half that rate; the idle token rotation time; and the time
//! from one node's death (its thread stops answering) to the survivors'
//! new ring delivering a message, over several trials.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU16, AtomicU64, Ordering};
use std::sync::{Arc, Barrier};
use std::thread;
use std::time::{Duration, Instant};

use ringgate_ring::auth::ClusterKey;
use ringgate_ring::node::{Config as RingConfig, Event, Stats};
use ringgated::config::{Config, KernelModule, Peer};
use ringgated::runtime::UdpRing;

static NEXT_PORT: AtomicU16 = AtomicU16::new(0);

fn addr(id: u16, port: u16) -> SocketAddr {
    format!("127.0.0.{id}:{port}").parse().unwrap()
}

fn ring_configs(n: u16) -> Vec<Config> {
    let port =
        41000 + (std::process::id() % 1000) as u16 * 10 + NEXT_PORT.fetch_add(1, Ordering::Relaxed);
    let key = ClusterKey::from_bytes(&[0x42; 32]).unwrap();
    (1..=n)
        .map(|id| Config {
            node_id: id,
            listen: addr(id, port),
            key: key.clone(),
            control_socket: PathBuf::new(),
            // Each bench run is a fresh cluster with counters of its own.
            state_file: std::env::temp_dir().join(format!(
                "ring-bench-{}-{port}-{id}.epoch",
                std::process::id()
            )),
            kernel_module: KernelModule::Optional,
            ring_nice: 0,
            peers: (1..=n)
                .filter(|p| *p != id)
                .map(|p| Peer {
                    id: p,
                    address: addr(p, port),
                })
                .collect(),
            ring: RingConfig::default(),
            cluster: None,
        })
        .collect()
}

struct NodeResult {
    delivered: u64,
    latencies_us: Vec<u64>,
    visits: u64,
    stats: Stats,
    /// Longest gap between two turns of this node's loop, in microseconds:
    /// how long the host left the thread unscheduled (or busy).
    max_gap_us: u64,
}

/// Runs a ring for `duration`; each node submits `rate` messages/s of `size`
/// bytes (None: as many as the ring accepts). Latencies are sampled after a
/// warm-up of a quarter of the run.
fn run(n: u16, size: usize, rate: Option<f64>, duration: Duration) -> Vec<NodeResult> {
    let barrier = Arc::new(Barrier::new(n as usize));
    let epoch = Instant::now();
    let handles: Vec<_> = ring_configs(n)
        .into_iter()
        .map(|config| {
            let barrier = Arc::clone(&barrier);
            thread::spawn(move || {
                let mut ring = UdpRing::bind(&config).expect("bind");
                barrier.wait();
                let start = Instant::now();
                let warm = duration / 4;
                let visits_before = ring.node().stats().token_visits;
                let (mut sent, mut delivered, mut latencies_us) = (0u64, 0u64, Vec::new());
                let mut last_turn = Instant::now();
                let mut max_gap_us = 0u64;
                while start.elapsed() < duration {
                    max_gap_us = max_gap_us.max(last_turn.elapsed().as_micros() as u64);
                    last_turn = Instant::now();
                    let due = match rate {
                        Some(r) => (r * start.elapsed().as_secs_f64()) as u64,
                        None => sent + 16,
                    };
                    while sent < due {
                        let mut payload = vec![0u8; size.max(8)];
                        payload[..8]
                            .copy_from_slice(&(epoch.elapsed().as_micros() as u64).to_be_bytes());
                        let now = ring.now();
                        if ring.node().submit(now, payload).is_err() {
                            break;
                        }
                        sent += 1;
                    }
                    ring.flush();
                    while let Some(event) = ring.node().poll_event() {
                        if let Event::Deliver { payload, .. } = event {
                            delivered += 1;
                            if start.elapsed() > warm {
                                let sent_at = u64::from_be_bytes(payload[..8].try_into().unwrap());
                                latencies_us.push(epoch.elapsed().as_micros() as u64 - sent_at);
                            }
                        }
                    }
                    ring.wait(Duration::from_millis(1)).expect("ring");
                }
                let visits = ring.node().stats().token_visits - visits_before;
                NodeResult {
                    delivered,
                    latencies_us,
                    visits,
                    stats: ring.node().stats().clone(),
                    max_gap_us,
                }
            })
        })
        .collect();
    handles.into_iter().map(|h| h.join().unwrap()).collect()
}

/// Kills node `n` of an `n`-node ring after it has run a while and returns,
/// for each survivor, the microseconds from the death to the first message
/// it delivers in the new ring (None if that did not happen within 3 s).
fn death(n: u16) -> Vec<Option<u64>> {
    let barrier = Arc::new(Barrier::new(n as usize));
    let epoch = Instant::now();
    let killed_at_us = Arc::new(AtomicU64::new(u64::MAX));
    let handles: Vec<_> = ring_configs(n)
        .into_iter()
        .map(|config| {
            let barrier = Arc::clone(&barrier);
            let killed_at_us = Arc::clone(&killed_at_us);
            thread::spawn(move || {
                let victim = config.node_id == n;
                let mut ring = UdpRing::bind(&config).expect("bind");
                barrier.wait();
                let start = Instant::now();
                let mut sent = 0u64;
                let mut new_ring = false;
                while start.elapsed() < Duration::from_secs(4) {
                    if victim && start.elapsed() > Duration::from_millis(500) {
                        killed_at_us.store(epoch.elapsed().as_micros() as u64, Ordering::SeqCst);
                        return None; // The socket closes: the node is gone.
                    }
                    // A steady trickle, so the new ring has something to deliver.
                    let due = (2000.0 * start.elapsed().as_secs_f64()) as u64;
                    while sent < due {
                        let now = ring.now();
                        if ring.node().submit(now, vec![0u8; 64]).is_err() {
                            break;
                        }
                        sent += 1;
                    }
                    ring.flush();
                    while let Some(event) = ring.node().poll_event() {
                        let killed = killed_at_us.load(Ordering::SeqCst);
                        match event {
                            Event::Membership { members, .. } if killed != u64::MAX => {
                                new_ring = members.len() == usize::from(n) - 1;
                            }
                            Event::Deliver { .. } if new_ring => {
                                return Some(epoch.elapsed().as_micros() as u64 - killed);
                            }
                            _ => {}
                        }
                    }
                    ring.wait(Duration::from_millis(1)).expect("ring");
                }
                None
            })
        })
        .collect();
    let mut results: Vec<Option<u64>> = handles.into_iter().map(|h| h.join().unwrap()).collect();
    results.pop(); // The victim's own.
    results
}

fn percentile(sorted: &[u64], p: f64) -> u64 {
    if sorted.is_empty() {
        return 0;
    }
    sorted[((sorted.len() - 1) as f64 * p).round() as usize]
}

/// `--diag N SIZE SECS`: one saturated run, with every node's counters.
fn diagnose(args: &[String]) {
    let n: u16 = args[0].parse().expect("nodes");
    let size: usize = args[1].parse().expect("size");
    let secs: f64 = args[2].parse().expect("seconds");
    let results = run(n, size, None, Duration::from_secs_f64(secs));
    for (i, r) in results.iter().enumerate() {
        let s = &r.stats;
        println!(
            "node {}: delivered {} ({:.0}/s) visits {} max_gap_us {} token_retx {} dup_tokens {} data_retx {} out_of_window {} replayed {} token_losses {} rings {}",
            i + 1,
            r.delivered,
            r.delivered as f64 / secs,
            r.visits,
            r.max_gap_us,
            s.token_retransmits,
            s.duplicate_tokens,
            s.data_retransmits,
            s.out_of_window,
            s.replayed,
            s.token_losses,
            s.rings_installed
        );
    }
}

/// `--death N TRIALS`: node death to the survivors' new ring delivering.
fn deaths(args: &[String]) {
    let n: u16 = args[0].parse().expect("nodes");
    let trials: usize = args[1].parse().expect("trials");
    for _ in 0..trials {
        let times: Vec<String> = death(n)
            .iter()
            .map(|t| t.map_or("none".into(), |us| format!("{}", us / 1000)))
            .collect();
        println!(
            "{n} nodes: survivors' new ring delivering after [{}] ms",
            times.join(" ")
        );
    }
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args.first().map(String::as_str) {
        Some("--diag") => return diagnose(&args[1..]),
        Some("--death") => return deaths(&args[1..]),
        _ => {}
    }
    let quick = std::env::args().any(|a| a == "--quick");
    let secs = if quick { 0.5 } else { 2.0 };
    let duration = Duration::from_secs_f64(secs);
    println!("token ring over loopback UDP, {secs} s per figure, default timeouts");
    println!(
        "{:>5} {:>7} {:>14} {:>14} {:>10} {:>10}",
        "nodes", "size", "max msg/s", "half-load/s", "p50 us", "p99 us"
    );
    for n in [3u16, 5, 8] {
        for size in [64usize, 1024, 8192] {
            let max = run(n, size, None, duration);
            let max_rate = max.iter().map(|r| r.delivered).min().unwrap_or(0) as f64 / secs;
            let half = run(n, size, Some(max_rate / 2.0 / f64::from(n)), duration);
            let half_rate = half.iter().map(|r| r.delivered).min().unwrap_or(0) as f64 / secs;
            let mut lat: Vec<u64> = half
                .iter()
                .flat_map(|r| r.latencies_us.iter().copied())
                .collect();
            lat.sort_unstable();
            println!(
                "{n:>5} {size:>7} {max_rate:>14.0} {half_rate:>14.0} {:>10} {:>10}",
                percentile(&lat, 0.5),
                percentile(&lat, 0.99)
            );
        }
        let idle = run(n, 64, Some(0.0), duration);
        let visits = idle.first().map_or(0, |r| r.visits);
        let rotation_us = if visits > 0 {
            secs * 1e6 / visits as f64
        } else {
            f64::NAN
        };
        println!(
            "{n:>5} nodes idle: token rotation {rotation_us:.0} us (token_hold_us {})",
            RingConfig::default().token_hold_us
        );
    }
    let d = RingConfig::default();
    println!(
        "node death -> survivors' new ring delivering (token loss {} us + {} us/member, settle {} us), {} trials:",
        d.token_loss_us,
        d.token_loss_per_member_us,
        d.gather_settle_us,
        if quick { 3 } else { 10 }
    );
    for n in [3u16, 5, 8] {
        let mut worst: Vec<u64> = Vec::new();
        let mut failed = 0;
        for _ in 0..if quick { 3 } else { 10 } {
            let survivors = death(n);
            match survivors.iter().copied().collect::<Option<Vec<u64>>>() {
                Some(times) => worst.push(times.into_iter().max().unwrap_or(0)),
                None => failed += 1,
            }
        }
        worst.sort_unstable();
        println!(
            "{n:>5} nodes: slowest survivor p50 {} us, max {} us{}",
            percentile(&worst, 0.5),
            worst.last().copied().unwrap_or(0),
            if failed > 0 {
                format!(", {failed} trials without a new ring in 3 s")
            } else {
                String::new()
            }
        );
    }
}
