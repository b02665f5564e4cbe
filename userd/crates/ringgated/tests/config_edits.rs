//! `cluster edit` (what `ringgatectl vip|service|backend` sends on a
//! gateway) on three real daemons on loopback, without the module. Found by
//! review 13 when edits were checked against the asking node's copy of the
//! configuration: a node without quorum answered "not in the cluster's
//! configuration" for what the cluster had, and one operator alternating
//! nodes got refusals because the second node had not yet applied the
//! first change. Edits are now agreed as edits and applied in ring order.

mod support;

use std::io::{BufRead, BufReader, Write};
use std::os::unix::net::UnixStream;
use std::path::Path;
use std::time::Duration;

use serde_json::Value;
use support::{start_configured, wait_for, Daemon, KEY};

const SECTION: &str = "[cluster]\nversion = 1\n[cluster.settings]\nhold_ms = 600000\n\
takeover_fence_ms = 220\n[[cluster.vips]]\naddr = \"10.9.0.1\"\n[[cluster.vips.services]]\n\
proto = \"tcp\"\nport = 80\nbackends = [{ addr = \"10.8.0.2:8080\" }]\n";

fn gateway(dir: &Path, id: u16, port: u16) -> Daemon {
    start_configured(dir, id, port, &[1, 2, 3], &[], KEY, None, SECTION)
}

/// One request, waiting as long as the daemon may take to agree.
fn ask(socket: &Path, line: &str) -> Value {
    let mut stream = UnixStream::connect(socket).expect("connect");
    stream
        .set_read_timeout(Some(Duration::from_secs(15)))
        .unwrap();
    writeln!(stream, "{line}").unwrap();
    let mut answer = String::new();
    BufReader::new(stream).read_line(&mut answer).unwrap();
    serde_json::from_str(&answer).unwrap()
}

fn version(d: &Daemon) -> u64 {
    ask(&d.socket, "cluster config")["version"]
        .as_u64()
        .unwrap()
}

fn ring_of_three(nodes: &[Daemon]) {
    wait_for("a quorate ring of three", || {
        nodes.iter().all(|d| {
            let s = support::ask(&d.socket, "cluster status").unwrap_or_default();
            s["quorate"] == true
                && s["ring"]["members"]
                    .as_array()
                    .is_some_and(|m| m.len() == 3)
        })
    });
}

#[test]
fn one_operator_alternating_nodes_is_never_refused() {
    let dir = support::scratch("edits-alternating");
    let port = 30000 + ((std::process::id() + 11) % 20000) as u16;
    let nodes: Vec<Daemon> = [1, 2, 3]
        .iter()
        .map(|id| gateway(&dir, *id, port))
        .collect();
    ring_of_three(&nodes);
    let steps = [
        (0, "vip add 10.9.4.1"),
        (2, "service add 10.9.4.1 tcp 80"),
        (0, "service del 10.9.4.1 tcp 80"),
        (2, "vip del 10.9.4.1"),
    ];
    for round in 0..30 {
        for (node, edit) in steps {
            let a = ask(&nodes[node].socket, &format!("cluster edit {edit}"));
            assert_eq!(
                a["ok"],
                true,
                "round {round}, node {}: {edit}: {a}",
                node + 1
            );
        }
    }
}

#[test]
fn a_node_without_quorum_never_says_not_found_for_what_the_cluster_has() {
    let dir = support::scratch("edits-stale");
    let port = 30000 + ((std::process::id() + 13) % 20000) as u16;
    let mut nodes: Vec<Daemon> = [1, 2, 3]
        .iter()
        .map(|id| gateway(&dir, *id, port))
        .collect();
    ring_of_three(&nodes);
    // Node 3 misses two edits, then comes back alone, without quorum.
    drop(nodes.pop());
    for e in [
        "vip add 10.9.2.1",
        "backend add 10.9.2.1 tcp 80 10.8.0.9:80",
    ] {
        let a = ask(&nodes[0].socket, &format!("cluster edit {e}"));
        assert_eq!(a["ok"], true, "{e}: {a}");
    }
    nodes.clear();
    let lone = gateway(&dir, 3, port);
    wait_for("node 3's control socket", || {
        support::ask(&lone.socket, "cluster status").is_some()
    });
    let before = version(&lone);
    for edit in [
        "backend del 10.9.2.1 tcp 80 10.8.0.9:80",
        "vip add 10.9.3.1",
    ] {
        let answer = ask(&lone.socket, &format!("cluster edit {edit}"));
        let e = answer["error"].as_str().unwrap_or("");
        assert!(
            !e.contains("is not in the cluster's configuration") && !e.is_empty(),
            "{edit}: a node without quorum must refuse without judging: {answer}"
        );
    }
    assert_eq!(
        version(&lone),
        before,
        "a refused edit changed the configuration"
    );
}
