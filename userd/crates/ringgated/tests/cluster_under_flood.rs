//! The cluster layer shares the ring's queues with local applications. An
//! application flooding its daemon with `send-control` lines keeps the
//! control queue full, and a cluster message that found it full was
//! dropped: an operator's command was never agreed. Cluster messages now
//! wait for room, ahead of the applications' waiting lines.

mod support;

use std::fs;
use std::time::Duration;

use support::{ask, start_configured, wait_for, Daemon, KEY};

fn cluster_section() -> String {
    "[cluster]\nversion = 1\n[cluster.settings]\nhold_ms = 600000\ntakeover_fence_ms = 220\n\
     [[cluster.vips]]\naddr = \"10.9.0.1\"\n[[cluster.vips.services]]\nproto = \"tcp\"\nport = 80\n\
     backends = [{ addr = \"10.8.0.2:8080\" }]\n"
        .to_string()
}

#[test]
fn a_cluster_command_is_agreed_while_an_application_floods_the_control_queue() {
    let dir = support::scratch("cluster-flood");
    let port = 42000 + (std::process::id() % 15000) as u16;
    let members = [1, 2];
    let nodes: Vec<Daemon> = members
        .iter()
        .map(|id| {
            start_configured(
                &dir,
                *id,
                port,
                &members,
                &[],
                KEY,
                None,
                &cluster_section(),
            )
        })
        .collect();
    wait_for("two gateways in one quorate ring", || {
        nodes
            .iter()
            .all(|d| ask(&d.socket, "cluster status").is_some_and(|s| s["quorate"] == true))
    });

    // Four clients keep node 1's control queue full: each line they send
    // waits for room, and they always have more.
    let flood = support::Flood::start(
        &nodes[0].socket,
        4,
        &format!("send-control {}", "x".repeat(512)),
    );
    std::thread::sleep(Duration::from_millis(500));

    let mut answers = Vec::new();
    for step in ["drain 2", "undrain 2", "drain 2", "undrain 2"] {
        let answer = ask(&nodes[0].socket, &format!("cluster {step}"));
        answers.push((step, answer));
    }
    flood.stop();
    for (step, answer) in &answers {
        assert!(
            answer.as_ref().is_some_and(|a| a["ok"] == true),
            "cluster {step} under the flood: {answer:?} (no answer: never agreed)"
        );
    }
    drop(nodes);
    let _ = fs::remove_dir_all(&dir);
}
