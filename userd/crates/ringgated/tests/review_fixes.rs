//! Defects an adversarial review of the cluster wiring found, each shown
//! by a test that failed before its fix.

use std::path::PathBuf;

use ringgated::cluster_file::ClusterFile;

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
        let file: ClusterFile = toml::from_str(&format!("owner_lease_ms = {ms}\n")).unwrap();
        assert!(
            file.into_options(&dir, dir.join("x")).is_err(),
            "owner_lease_ms = {ms} accepted"
        );
    }
}
