//! The token ring measured the way corosync's users measure corosync: one
//! `ringgated` process per node, a client submitting through each daemon's
//! control socket, deliveries counted at every node. `make bench-ring`
//! runs it beside corosync (see userd/bench/bench-ring.sh); alone:
//!
//!     proc_bench --ringgated PATH --nodes N --size BYTES --seconds S MODE
//!
//! MODE is `--max` (every node's client submits as fast as its daemon
//! takes messages), `--rate R` (each node submits R messages a second, on
//! a fixed schedule) or `--death` (a trickle of messages; node N is killed
//! and the time until every survivor delivers in the new ring is taken).
//! It prints one `key=value` line for the script to read.
//!
//!     proc_bench --jitter --seconds S
//!
//! measures the host instead, with no cluster: how late a thread that
//! sleeps 500 µs at a time wakes. Every hop of a message (client, daemon,
//! token, reader) waits for such a wake-up, so this bounds from below the
//! latency tail any system can show on the host (see `jitter`).

mod cluster;
mod load;

use std::path::PathBuf;
use std::thread;
use std::time::{Duration, Instant};

use cluster::{delivered, micros};
use load::Rate;

enum Mode {
    Max,
    Rate(f64),
    Death,
}

/// The sleep `jitter` repeats.
const JITTER_SLEEP: Duration = Duration::from_micros(500);

/// `--jitter`: sleeps `JITTER_SLEEP` again and again for `seconds` and
/// prints how late the wake-ups came (median, 99th percentile, maximum,
/// and how many were 2 ms late or more: the latency target of issue 10).
fn jitter(seconds: f64) -> String {
    let until = Instant::now() + Duration::from_secs_f64(seconds);
    let mut late = Vec::new();
    while Instant::now() < until {
        let asleep = Instant::now();
        thread::sleep(JITTER_SLEEP);
        late.push(asleep.elapsed().saturating_sub(JITTER_SLEEP).as_micros() as u64);
    }
    late.sort_unstable();
    format!(
        "system=host mode=jitter sleep_us={} wakeups={} late_p50_us={} late_p99_us={} late_max_us={} late_2ms={}",
        JITTER_SLEEP.as_micros(),
        late.len(),
        percentile(&late, 0.5),
        percentile(&late, 0.99),
        late.last().copied().unwrap_or(0),
        late.iter().filter(|us| **us >= 2_000).count()
    )
}

struct Args {
    ringgated: PathBuf,
    nodes: u16,
    size: usize,
    seconds: f64,
    mode: Mode,
}

fn parse() -> Result<Args, String> {
    let mut args = std::env::args().skip(1);
    let (mut ringgated, mut nodes, mut size, mut seconds, mut mode) =
        (None, None, 1024, 10.0, None);
    let number = |v: Option<String>, what: &str| -> Result<f64, String> {
        v.as_deref()
            .and_then(|v| v.parse().ok())
            .ok_or(format!("{what} needs a number"))
    };
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--ringgated" => ringgated = args.next().map(PathBuf::from),
            "--nodes" => nodes = Some(number(args.next(), "--nodes")? as u16),
            "--size" => size = number(args.next(), "--size")? as usize,
            "--seconds" => seconds = number(args.next(), "--seconds")?,
            "--max" => mode = Some(Mode::Max),
            "--rate" => mode = Some(Mode::Rate(number(args.next(), "--rate")?)),
            "--death" => mode = Some(Mode::Death),
            other => return Err(format!("unknown argument {other:?}")),
        }
    }
    let nodes = nodes
        .filter(|n| (2..=32).contains(n))
        .ok_or("--nodes 2..32 is required")?;
    if !(16..=60_000).contains(&size) {
        return Err("--size is 16 to 60000 bytes".into());
    }
    Ok(Args {
        ringgated: ringgated.ok_or("--ringgated PATH is required")?,
        nodes,
        size,
        seconds,
        mode: mode.ok_or("one of --max, --rate R, --death is required")?,
    })
}

/// The seconds of `--jitter --seconds S`, the only arguments it takes.
fn parse_jitter(argv: &[String]) -> Result<f64, String> {
    let usage = || "usage: proc_bench --jitter --seconds S".to_string();
    let mut seconds = None;
    let mut args = argv.iter();
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--jitter" => {}
            "--seconds" => {
                seconds = args
                    .next()
                    .and_then(|s| s.parse::<f64>().ok())
                    .filter(|s| *s > 0.0)
            }
            _ => return Err(usage()),
        }
    }
    seconds.ok_or_else(usage)
}

fn percentile(sorted: &[u64], p: f64) -> u64 {
    sorted
        .get(((sorted.len().max(1) - 1) as f64 * p).round() as usize)
        .copied()
        .unwrap_or(0)
}

fn run(args: &Args) -> Result<String, String> {
    let epoch = Instant::now();
    let dir = std::env::temp_dir().join(format!("proc-bench-{}", std::process::id()));
    let port = 47000 + (std::process::id() % 2000) as u16;
    let mut nodes = cluster::start(&args.ringgated, &dir, args.nodes, port, epoch)?;
    let label = format!("system=ringgate nodes={} size={}", args.nodes, args.size);
    let result = match args.mode {
        Mode::Max | Mode::Rate(_) => {
            let rate = match args.mode {
                Mode::Rate(r) => Rate::Fixed(r),
                _ => Rate::Max { outstanding: 256 },
            };
            // One second of warm-up, then the measured window.
            let from = micros(epoch);
            let window = (
                from + 1_000_000,
                from + 1_000_000 + (args.seconds * 1e6) as u64,
            );
            let mut clients = Vec::new();
            for node in &nodes {
                clients.push(load::run(
                    &node.socket,
                    args.size,
                    rate,
                    epoch,
                    from,
                    window.1,
                )?);
            }
            thread::sleep(Duration::from_micros(
                window.0.saturating_sub(micros(epoch)),
            ));
            let before: Vec<Option<u64>> = nodes.iter().map(|n| delivered(&n.socket)).collect();
            let started = Instant::now();
            thread::sleep(Duration::from_micros(
                window.1.saturating_sub(micros(epoch)),
            ));
            let after: Vec<Option<u64>> = nodes.iter().map(|n| delivered(&n.socket)).collect();
            let elapsed = started.elapsed().as_secs_f64();
            // Late deliveries of the window's messages still count for latency.
            thread::sleep(Duration::from_millis(500));
            let rates: Vec<f64> = before
                .iter()
                .zip(&after)
                .map(|(b, a)| match (b, a) {
                    (Some(b), Some(a)) => (a - b) as f64 / elapsed,
                    _ => 0.0,
                })
                .collect();
            let slowest = rates.iter().copied().fold(f64::INFINITY, f64::min);
            let mut latencies: Vec<u64> = nodes
                .iter()
                .flat_map(|n| {
                    let seen = n.seen.lock().unwrap();
                    seen.deliveries
                        .iter()
                        .filter(|(_, intended)| (window.0..window.1).contains(intended))
                        .map(|(at, intended)| at.saturating_sub(*intended))
                        .collect::<Vec<_>>()
                })
                .collect();
            latencies.sort_unstable();
            let refused: u64 = clients
                .iter()
                .map(|(c, _)| c.refused.load(std::sync::atomic::Ordering::Relaxed))
                .sum();
            for (_, writer) in clients {
                let _ = writer.join();
            }
            format!(
                "{label} mode={} msgs_per_s={slowest:.0} p50_us={} p99_us={} max_us={} samples={} refused={refused}",
                match args.mode { Mode::Max => "max".to_string(), Mode::Rate(r) => format!("rate{r}"), Mode::Death => unreachable!() },
                percentile(&latencies, 0.5),
                percentile(&latencies, 0.99),
                latencies.last().copied().unwrap_or(0),
                latencies.len()
            )
        }
        Mode::Death => {
            let from = micros(epoch);
            let until = from + 10_000_000;
            let mut clients = Vec::new();
            for node in &nodes {
                clients.push(load::run(
                    &node.socket,
                    args.size,
                    Rate::Fixed(100.0),
                    epoch,
                    from,
                    until,
                )?);
            }
            thread::sleep(Duration::from_secs(2));
            let victim = args.nodes;
            let killed_at = micros(epoch);
            nodes.last_mut().ok_or("no nodes")?.kill();
            thread::sleep(Duration::from_secs(5));
            // Per survivor: the first delivery after the first ring without
            // the victim.
            let times: Vec<Option<u64>> = nodes[..nodes.len() - 1]
                .iter()
                .map(|n| {
                    let seen = n.seen.lock().unwrap();
                    let ring_at = seen
                        .memberships
                        .iter()
                        .find(|(at, members)| *at >= killed_at && !members.contains(&victim))?
                        .0;
                    let delivered_at = seen.deliveries.iter().find(|(at, _)| *at >= ring_at)?.0;
                    Some(delivered_at - killed_at)
                })
                .collect();
            let worst = times
                .iter()
                .copied()
                .collect::<Option<Vec<u64>>>()
                .and_then(|t| t.into_iter().max());
            drop(clients);
            format!(
                "{label} mode=death new_ring_delivering_ms={}",
                worst.map_or("none".into(), |us| format!("{:.1}", us as f64 / 1000.0))
            )
        }
    };
    drop(nodes);
    let _ = std::fs::remove_dir_all(&dir);
    Ok(result)
}

fn main() -> std::process::ExitCode {
    let argv: Vec<String> = std::env::args().skip(1).collect();
    let outcome = if argv.iter().any(|a| a == "--jitter") {
        parse_jitter(&argv).map(jitter)
    } else {
        parse().and_then(|args| run(&args))
    };
    match outcome {
        Ok(line) => {
            println!("{line}");
            std::process::ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("proc_bench: {e}");
            std::process::ExitCode::FAILURE
        }
    }
}
