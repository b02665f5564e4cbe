//! Three `ringgated` processes in gateway mode (a `[cluster]` section) on
//! loopback, without the kernel module (`kernel_module = "optional"`): the
//! cluster layer as real daemons run it. They must agree on one owner per
//! VIP, spread the VIPs, move a killed node's VIPs to the survivors, carry
//! a configuration change and a manual move to every member, and give a
//! restarted node the cluster's configuration. The VM tests add the module
//! and real traffic.

mod support;

use std::collections::BTreeMap;
use std::path::Path;

use serde_json::Value;
use support::{ask, start_configured, wait_for, Daemon, KEY};

const VIPS: [&str; 6] = [
    "10.9.0.1", "10.9.0.2", "10.9.0.3", "10.9.0.4", "10.9.0.5", "10.9.0.6",
];

fn cluster_section(vips: &[&str], version: u64) -> String {
    let mut s = format!(
        "[cluster]\nversion = {version}\n[cluster.settings]\nhold_ms = 600000\ntakeover_fence_ms = 220\n"
    );
    for vip in vips {
        s.push_str(&format!(
            "[[cluster.vips]]\naddr = \"{vip}\"\n[[cluster.vips.services]]\nproto = \"tcp\"\nport = 80\nbackends = [{{ addr = \"10.8.0.2:8080\" }}]\n"
        ));
    }
    s
}

fn start_gateway(dir: &Path, id: u16, port: u16) -> Daemon {
    start_configured(
        dir,
        id,
        port,
        &[1, 2, 3],
        &[],
        KEY,
        None,
        &cluster_section(&VIPS, 1),
    )
}

fn status(d: &Daemon) -> Option<Value> {
    ask(&d.socket, "cluster status").filter(|v| v.get("error").is_none())
}

/// VIP → owner, for the VIPs that are owned (not moving).
fn owners(status: &Value) -> BTreeMap<String, u64> {
    status["vips"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|v| v["state"] == "owned" || v["state"] == "taking over")
        .map(|v| {
            (
                v["vip"].as_str().unwrap_or("").to_string(),
                v["owner"].as_u64().unwrap_or(0),
            )
        })
        .collect()
}

/// Whether every daemon agrees that all `vips` are owned, by members
/// only, with the same owners, and each VIP is held by exactly its owner.
fn settled(daemons: &[&Daemon], members: &[u64], vips: usize) -> Option<BTreeMap<String, u64>> {
    let statuses: Vec<Value> = daemons.iter().map(|d| status(d)).collect::<Option<_>>()?;
    let first = owners(&statuses[0]);
    if first.len() != vips || !first.values().all(|o| members.contains(o)) {
        return None;
    }
    for s in &statuses {
        if owners(s) != first || s["quorate"] != true {
            return None;
        }
        let me = s["node"].as_u64()?;
        for v in s["vips"].as_array()? {
            let mine = first.get(v["vip"].as_str()?) == Some(&me);
            if v["held_here"].as_bool()? != mine {
                return None;
            }
        }
    }
    Some(first)
}

#[test]
fn three_gateways_share_vips_fail_over_and_carry_changes() {
    let dir = support::scratch("gateway");
    let port = 30000 + (std::process::id() % 20000) as u16;
    let mut nodes: Vec<Daemon> = [1, 2, 3]
        .iter()
        .map(|id| start_gateway(&dir, *id, port))
        .collect();

    // All three agree, and the VIPs are spread: with equal weights, each
    // node gets two of the six.
    let mut spread = BTreeMap::new();
    wait_for("three gateways to agree on the VIPs", || {
        let refs: Vec<&Daemon> = nodes.iter().collect();
        settled(&refs, &[1, 2, 3], VIPS.len()).is_some_and(|o| {
            spread = o;
            true
        })
    });
    for id in 1..=3 {
        let count = spread.values().filter(|o| **o == id).count();
        assert_eq!(count, 2, "node {id} owns {count} VIPs: {spread:?}");
    }

    // Kill node 3 (SIGKILL: no goodbye). Its VIPs go to the survivors, and
    // nobody else's move.
    let dead = nodes.pop().unwrap();
    drop(dead);
    let mut after = BTreeMap::new();
    wait_for("the survivors to take node 3's VIPs", || {
        let refs: Vec<&Daemon> = nodes.iter().collect();
        settled(&refs, &[1, 2], VIPS.len()).is_some_and(|o| {
            after = o;
            true
        })
    });
    for (vip, owner) in &spread {
        if *owner != 3 {
            assert_eq!(after[vip], *owner, "{vip} moved although its owner lives");
        }
    }

    // A manual move, asked on node 1, is agreed by both.
    let vip = spread.iter().find(|(_, o)| **o == 1).unwrap().0.clone();
    let answer = ask(&nodes[0].socket, &format!("cluster move {vip} 2")).unwrap();
    assert_eq!(answer["ok"], true, "{answer}");
    wait_for("the moved VIP to be node 2's everywhere", || {
        let refs: Vec<&Daemon> = nodes.iter().collect();
        settled(&refs, &[1, 2], VIPS.len()).is_some_and(|o| o[&vip] == 2)
    });

    // A configuration change on node 2 (a seventh VIP) reaches node 1. A
    // change made against an old version is refused the same way.
    let file = dir.join("seven.toml");
    let mut seven = VIPS.to_vec();
    seven.push("10.9.0.7");
    std::fs::write(
        &file,
        cluster_section(&seven, 1)
            .replace("[cluster]\n", "")
            .replace("cluster.", ""),
    )
    .unwrap();
    let answer = ask(
        &nodes[1].socket,
        &format!("cluster apply current {}", file.display()),
    )
    .unwrap();
    assert_eq!(answer["ok"], true, "{answer}");
    let stale = ask(
        &nodes[0].socket,
        &format!("cluster apply 1 {}", file.display()),
    )
    .unwrap();
    assert!(
        stale["error"].as_str().is_some_and(|e| e.contains('1')),
        "a change against version 1 was not refused: {stale}"
    );
    wait_for("both to own seven VIPs", || {
        let refs: Vec<&Daemon> = nodes.iter().collect();
        settled(&refs, &[1, 2], 7).is_some()
    });
    let version = status(&nodes[0]).unwrap()["config_version"]
        .as_u64()
        .unwrap();
    assert!(version >= 2, "version {version}");

    // Node 3 restarts with its old state file and its file's version 1: it
    // gets the cluster's newer configuration, and then VIPs by the rules.
    nodes.push(start_gateway(&dir, 3, port));
    wait_for("node 3 to rejoin with the cluster's configuration", || {
        status(&nodes[2]).is_some_and(|s| {
            s["config_version"].as_u64() == Some(version)
                && s["ring"]["members"]
                    .as_array()
                    .is_some_and(|m| m.len() == 3)
        })
    });
    wait_for("three gateways to agree again", || {
        let refs: Vec<&Daemon> = nodes.iter().collect();
        settled(&refs, &[1, 2, 3], 7).is_some()
    });

    // A move to the restarted node, asked through its own daemon (in the
    // VM, one such move was answered but never happened).
    let spread = settled(&nodes.iter().collect::<Vec<_>>(), &[1, 2, 3], 7).unwrap();
    let (vip, _) = spread
        .iter()
        .find(|(_, owner)| **owner != 3)
        .map(|(v, o)| (v.clone(), *o))
        .unwrap();
    let answer = ask(&nodes[2].socket, &format!("cluster move {vip} 3")).unwrap();
    assert_eq!(answer["ok"], true, "{answer}");
    wait_for(
        "the VIP moved to the restarted node to be node 3's everywhere",
        || {
            let refs: Vec<&Daemon> = nodes.iter().collect();
            settled(&refs, &[1, 2, 3], 7).is_some_and(|o| o[&vip] == 3)
        },
    );

    // One change at a time (what `ringgatectl vip|service|backend` sends on
    // a gateway): made on node 1 to the configuration in force, agreed,
    // applied by all. Edits that do not fit are refused with the reason and
    // change nothing.
    for edit in [
        "vip add 10.9.0.8",
        "backend add 10.9.0.8 udp 53 10.8.0.3:53 4",
        "service set 10.9.0.8 udp 53 hash",
    ] {
        let answer = ask(&nodes[0].socket, &format!("cluster edit {edit}")).unwrap();
        assert_eq!(answer["ok"], true, "{edit}: {answer}");
    }
    wait_for("the eighth VIP to be owned everywhere", || {
        let refs: Vec<&Daemon> = nodes.iter().collect();
        settled(&refs, &[1, 2, 3], 8).is_some()
    });
    let config = ask(&nodes[2].socket, "cluster config").unwrap();
    let added = config["vips"]
        .as_array()
        .unwrap()
        .iter()
        .find(|v| v["addr"] == "10.9.0.8")
        .unwrap_or_else(|| panic!("node 3's configuration lacks the edit: {config}"));
    assert_eq!(added["services"][0]["scheduler"], "hash", "{added}");
    assert_eq!(added["services"][0]["backends"][0]["weight"], 4, "{added}");
    let edited = status(&nodes[2]).unwrap()["config_version"]
        .as_u64()
        .unwrap();
    assert_eq!(edited, version + 3, "three edits, three versions");
    for (edit, reason) in [
        ("vip add 10.9.0.8", "already"),
        ("vip del 10.9.0.8", "still has 1 service"),
        (
            "backend del 10.9.0.8 tcp 53 10.8.0.3:53",
            "is not in the cluster's configuration",
        ),
        ("backend add 10.9.0.8 udp 53 10.8.0.3:53 0", "weight"),
        ("vip own 10.9.0.8", "unknown edit"),
    ] {
        let answer = ask(&nodes[1].socket, &format!("cluster edit {edit}")).unwrap();
        assert!(
            answer["error"].as_str().is_some_and(|e| e.contains(reason)),
            "{edit}: {answer}"
        );
    }
    let unchanged = status(&nodes[0]).unwrap()["config_version"]
        .as_u64()
        .unwrap();
    assert_eq!(unchanged, edited, "a refused edit changed the version");

    // A planned drain (`ringgatectl node drain 2`, asked on node 1): node 2
    // hands every VIP to the others and holds nothing; undone, it is
    // eligible again, and the load rule (pinned by hold_ms here) leaves
    // the VIPs where they are.
    let answer = ask(&nodes[0].socket, "cluster drain 2").unwrap();
    assert_eq!(answer["ok"], true, "{answer}");
    wait_for("node 2's VIPs to move to nodes 1 and 3", || {
        let refs: Vec<&Daemon> = nodes.iter().collect();
        settled(&refs, &[1, 3], 8).is_some()
    });
    let drained = status(&nodes[1]).unwrap();
    assert!(
        drained["nodes"]
            .as_array()
            .unwrap()
            .iter()
            .any(|n| n["id"] == 2 && n["state"] == "drained"),
        "{drained}"
    );
    let answer = ask(&nodes[2].socket, "cluster undrain 2").unwrap();
    assert_eq!(answer["ok"], true, "{answer}");
    wait_for("node 2 to be a member again", || {
        status(&nodes[0]).is_some_and(|s| {
            s["nodes"]
                .as_array()
                .is_some_and(|n| n.iter().any(|n| n["id"] == 2 && n["state"] == "member"))
        })
    });

    // Requests that make no sense are refused with a reason, not sent.
    let bad = ask(&nodes[0].socket, "cluster move 10.9.0.1 0").unwrap();
    assert!(bad["error"].as_str().unwrap().contains("node id"), "{bad}");
    let bad = ask(&nodes[0].socket, "cluster move 10.99.0.1 2").unwrap();
    assert!(bad["error"].is_string(), "{bad}");
    let bad = ask(&nodes[0].socket, "cluster apply current relative.toml").unwrap();
    assert!(bad["error"].as_str().unwrap().contains("absolute"), "{bad}");
}
