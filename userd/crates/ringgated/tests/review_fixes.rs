//! Defects an adversarial review of the cluster wiring found, each shown
//! by a test that failed before its fix.

use std::path::PathBuf;

use ringgate_cluster::config::{ClusterConfig, Settings};
use ringgate_cluster::ClusterNode;
use ringgate_ring::auth::ClusterKey;
use ringgate_ring::keyring::Keyring;
use ringgated::cluster_file::{ClusterFile, ClusterOptions};
use ringgated::gateway::Gateway;
use ringgated::state_file;

fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("ringgated-review-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// Removing one back-end took its counts out of the VIP's total, which was
/// read as a counter restart: the remaining lifetime total was reported as
/// one second's rate, and the balancer could move the VIP for it.
#[test]
fn removing_a_back_end_does_not_report_a_load_spike() {
    use ringgate_netlink::{Backend, Proto, Scheduler, Service, ServiceKey, Traffic};
    use ringgated::load_meter::{rates, totals};
    use std::net::{Ipv4Addr, SocketAddrV4};
    use std::time::Duration;
    let backend = |last: u8, packets: u64| Backend {
        addr: SocketAddrV4::new(Ipv4Addr::new(10, 1, 0, last), 80),
        weight: 1,
        up: true,
        active_conns: 0,
        inactive_conns: 0,
        traffic: Some(Traffic {
            conns: 0,
            packets_in: packets,
            bytes_in: 0,
            packets_out: 0,
            bytes_out: 0,
        }),
    };
    let service = |backends: Vec<Backend>| Service {
        key: ServiceKey {
            vip: Ipv4Addr::new(10, 0, 0, 100),
            port: 80,
            proto: Proto::Tcp,
        },
        scheduler: Scheduler::default(),
        backends,
    };
    // Two back-ends that carried a billion packets each, then one of them
    // is removed while the other carries 1000 more in the next second.
    let before = totals(&[service(vec![
        backend(2, 1_000_000_000),
        backend(3, 1_000_000_000),
    ])]);
    let after = totals(&[service(vec![backend(2, 1_000_001_000)])]);
    let load = rates(&before, &after, Duration::from_secs(1));
    assert!(
        load[0].1.packets_per_sec <= 1000,
        "reported {} packets/s for 1000 packets in a second",
        load[0].1.packets_per_sec
    );
}

/// A lease shorter than four turns of the daemon's loop runs out between
/// renewals: the node would go dark and re-take its VIPs over and over.
#[test]
fn an_ownership_lease_shorter_than_the_loop_turn_is_refused() {
    let dir = scratch("short-lease");
    for ms in [1, 10, 40] {
        let file: ClusterFile =
            toml::from_str(&format!("[settings]\nowner_lease_ms = {ms}\n")).unwrap();
        assert!(
            file.into_options(&dir, dir.join("x")).is_err(),
            "owner_lease_ms = {ms} accepted"
        );
    }
}

fn keys(byte: u8) -> Keyring {
    Keyring::new(ClusterKey::from_bytes(&[byte; 32]).unwrap())
}

/// Was DEFECT: the rule "owner_lease_ms must not exceed the takeover
/// fence" was checked only against the fence of the daemon's own file,
/// while the fence in force is the replicated configuration's (restored
/// from the state file, or changed by `cluster apply` or a peer's newer
/// configuration). Fixed by making the lease an agreed setting: every
/// daemon runs the lease in force, which validation keeps within the fence
/// in force.
#[test]
fn the_lease_in_force_is_the_agreed_one_within_the_agreed_fence() {
    let dir = scratch("fence");
    let text = "[settings]\nowner_lease_ms = 200\ntakeover_fence_ms = 320\n";
    let file: ClusterFile = toml::from_str(text).unwrap();
    let options: ClusterOptions = file
        .into_options(&dir, dir.join("cluster.state"))
        .expect("a 200 ms lease and the 100 ms self fence within a 320 ms fence");
    // What the cluster agreed meanwhile: a 180 ms takeover fence, which
    // only a lease of at most 100 ms passes.
    let mut agreed = ClusterConfig::empty();
    agreed.version = 2;
    agreed.settings = Settings {
        takeover_fence_us: 180_000,
        self_fence_us: 60_000,
        owner_lease_us: 200_000,
        ..Settings::default()
    };
    assert!(
        agreed.validate().is_err(),
        "a 200 ms lease under a 180 ms fence"
    );
    agreed.settings.owner_lease_us = 100_000;
    agreed.validate().unwrap();
    let node = ClusterNode::new(1, agreed);
    std::fs::write(
        &options.state_file,
        state_file::seal(&keys(1), &node.persist()),
    )
    .unwrap();
    let gateway = Gateway::start(1, options, None, keys(1)).unwrap();
    let settings = &gateway.node().state().config.settings;
    assert_eq!(settings.takeover_fence_us, 180_000);
    assert_eq!(
        u64::from(gateway.lease_ms()) * 1000,
        settings.owner_lease_us
    );
    assert_eq!(gateway.lease_ms(), 100);
}

/// Was DEFECT: a state file from another cluster (a lab, a cloned image)
/// was restored without any check of whose it was, and its longer history
/// then replaced the cluster's configuration on every member (shown at the
/// cluster level in ringgate-cluster's review11.rs). The file is now sealed
/// with the cluster key, and one sealed under another key is refused.
#[test]
fn a_state_file_from_another_cluster_is_refused() {
    let dir = scratch("foreign");
    let options = toml::from_str::<ClusterFile>("")
        .unwrap()
        .into_options(&dir, dir.join("cluster.state"))
        .unwrap();
    let mut theirs = ClusterConfig::empty();
    theirs.version = 40;
    let foreign = ClusterNode::new(1, theirs).persist();
    std::fs::write(&options.state_file, state_file::seal(&keys(2), &foreign)).unwrap();
    let err = Gateway::start(1, options.clone(), None, keys(1))
        .err()
        .expect("a foreign state file was restored");
    assert!(err.contains("another cluster"), "{err}");
    // An unsealed state (what ringgated wrote before, or any other file).
    std::fs::write(&options.state_file, &foreign).unwrap();
    let err = Gateway::start(1, options.clone(), None, keys(1))
        .err()
        .expect("an unsealed state file was restored");
    assert!(err.contains("not a ringgate state file"), "{err}");
    // The cluster's own file starts.
    std::fs::write(&options.state_file, state_file::seal(&keys(1), &foreign)).unwrap();
    let gateway = Gateway::start(1, options, None, keys(1)).unwrap();
    assert_eq!(gateway.node().state().config.version, 40);
}

/// Was DEFECT: `cluster apply` checked the applied file's own
/// `owner_lease_ms`, which nothing used. The lease is now agreed: a file
/// whose fence is shorter than the (default) lease is refused.
#[test]
fn cluster_apply_refuses_a_fence_shorter_than_the_default_lease() {
    let dir = scratch("apply");
    let text = "[settings]\ntakeover_fence_ms = 100\nself_fence_ms = 60\n";
    let file: ClusterFile = toml::from_str(text).unwrap();
    let err = file.into_options(&dir, dir.join("x")).unwrap_err();
    assert!(err.contains("takeover_fence_ms: 100 is less than"), "{err}");
}

/// Was DEFECT (capacity), fixed by sizing the pool to the configuration
/// (health/checker.rs `workers_needed`): every probe ran on 4 threads, and
/// nothing bounded the work a valid configuration asks of them
/// (sum of timeout/interval over the back-ends may far exceed 4). Sixteen
/// back-ends that accept and never answer an HTTP check (interval 200 ms,
/// timeout 150 ms: valid) keep all four workers busy, and a back-end whose
/// port is closed, which fails in microseconds, is probed only every
/// ~600 ms once the silent ones are due as often: its rise=2 verdict, due
/// ~200-400 ms after it recovers, takes several times that. Nothing logs that checks run late.
#[test]
fn hung_back_ends_do_not_delay_the_verdict_of_another_one() {
    use ringgate_cluster::config::{CheckKind, HealthCheck};
    use ringgate_cluster::model::BackendId;
    use ringgated::health::Checker;
    use std::net::{Ipv4Addr, TcpListener};
    use std::time::{Duration, Instant};
    let id = |port: u16| BackendId {
        vip: Ipv4Addr::new(10, 0, 0, 1),
        proto: 6,
        port: 80,
        addr: Ipv4Addr::LOCALHOST,
        backend_port: port,
    };
    let check = HealthCheck {
        kind: CheckKind::Http {
            path: "/".into(),
            expect_status: 200,
        },
        interval_ms: 200,
        timeout_ms: 150,
        rise: 2,
        fall: 2,
    };
    // Listeners that never accept: connect succeeds (backlog), no answer.
    let silent: Vec<TcpListener> = (0..16)
        .map(|_| TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).unwrap())
        .collect();
    // A port that was open and is closed now: refused at once.
    let dead_port = {
        let l = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).unwrap();
        l.local_addr().unwrap().port()
    };
    let mut targets: Vec<_> = silent
        .iter()
        .map(|l| (id(l.local_addr().unwrap().port()), check.clone()))
        .collect();
    targets.push((id(dead_port), check.clone()));
    let start = Instant::now();
    let checker = Checker::spawn(targets);
    let down = loop {
        let verdicts = checker.verdicts();
        if verdicts
            .iter()
            .any(|(b, up)| b.backend_port == dead_port && !up)
        {
            break start.elapsed();
        }
        assert!(start.elapsed() < Duration::from_secs(20), "never down");
        std::thread::sleep(Duration::from_millis(5));
    };
    eprintln!("down after {down:?}");
    // In the steady state (every silent back-end due every 200 ms), the
    // back-end comes back: rise 2 at a 200 ms interval should see it up
    // within ~200-400 ms.
    std::thread::sleep(Duration::from_secs(2));
    let server = TcpListener::bind((Ipv4Addr::LOCALHOST, dead_port)).unwrap();
    std::thread::spawn(move || {
        use std::io::{Read, Write};
        for stream in server.incoming() {
            let Ok(mut s) = stream else { continue };
            let mut buf = [0u8; 512];
            let _ = s.read(&mut buf);
            let _ = s.write_all(b"HTTP/1.0 200 OK\r\n\r\n");
        }
    });
    let back = Instant::now();
    let up = loop {
        let verdicts = checker.verdicts();
        if verdicts
            .iter()
            .any(|(b, up)| b.backend_port == dead_port && *up)
        {
            break back.elapsed();
        }
        assert!(back.elapsed() < Duration::from_secs(20), "never up");
        std::thread::sleep(Duration::from_millis(5));
    };
    // Allow twice the configured detection time for a loaded machine.
    assert!(
        up <= Duration::from_millis(2 * 2 * 200),
        "the back-end came up after {up:?}, configured for ~200-400 ms"
    );
}
