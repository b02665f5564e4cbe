//! A daemon alone in its ring (the rest of the cluster unreachable, or a
//! ring of one) delivers a message as soon as it takes it. Its ring thread
//! used to take every control request there was in one turn, and clients
//! answered at once sent more, so one turn went on for hundreds of
//! milliseconds and held every delivery of it in memory: 1.2 GB under four
//! flooding clients. A turn now takes a bounded number of requests.

mod support;

use std::fs;
use std::process::Stdio;
use std::time::Duration;

use support::{ask, counter, Daemon, KEY};

/// The daemon's peak resident memory, from /proc.
fn peak_rss_kib(daemon: &Daemon) -> u64 {
    let status = fs::read_to_string(format!("/proc/{}/status", daemon.child.id())).unwrap();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .expect("VmHWM in /proc/PID/status")
}

/// What the daemon may hold by design: stdout's queue (16 MiB), the ring's
/// queues (4,352 messages of 1 KiB here), one batch of 256 lines per
/// client, and the program itself, with room to spare. Taking every request
/// in one turn went far beyond it.
const BOUND_KIB: u64 = 128 * 1024;

#[test]
fn a_flood_on_a_daemon_alone_stays_within_its_bounds() {
    let dir = support::scratch("flooded-alone");
    let port = 43000 + (std::process::id() % 15000) as u16;
    // Peers 2 and 3 are configured but never start: node 1 is alone.
    let daemon = support::start_with(&dir, 1, port, &[1, 2, 3], &[], KEY, Some(Stdio::null()));
    support::wait_for("the daemon alone in a ring", || {
        ask(&daemon.socket, "status").is_some_and(|s| s["operational"] == true)
    });
    let flood = support::Flood::start(&daemon.socket, 4, &format!("send {}", "x".repeat(1024)));
    std::thread::sleep(Duration::from_secs(4));
    flood.stop();
    let delivered = counter(&daemon.socket, "delivered_messages").unwrap();
    let peak = peak_rss_kib(&daemon);
    eprintln!("delivered {delivered} messages of 1 KiB; peak resident memory {peak} KiB");
    assert!(
        delivered > 10_000,
        "the flood delivered only {delivered} messages"
    );
    assert!(
        peak < BOUND_KIB,
        "the daemon grew to {peak} KiB under the flood (bound {BOUND_KIB} KiB)"
    );
    drop(daemon);
    let _ = fs::remove_dir_all(&dir);
}
