//! The JSON answers of the control socket's cluster requests: the status
//! view of `ringgatectl cluster status` (the ring, each node, each VIP,
//! each back-end's agreed health, the configuration version) and the
//! configuration itself.

use ringgate_cluster::config::{CheckKind, ClusterConfig, HealthCheck};
use ringgate_cluster::state::Holding;
use ringgate_cluster::ClusterNode;
use serde_json::{json, Value};

use crate::runtime::RingStatus;
use crate::session_worker::SessionCounters;

fn proto_name(proto: u8) -> Value {
    match proto {
        6 => json!("tcp"),
        17 => json!("udp"),
        n => json!(n),
    }
}

/// The whole status view as this node sees it.
pub fn cluster_status(
    node: &ClusterNode,
    ring: &RingStatus,
    module_errors: (u64, Option<&str>),
    sessions: Option<&SessionCounters>,
) -> Value {
    let status = node.status();
    let agreed_now = node.state().agreed_now;
    let vips: Vec<Value> = status
        .vips
        .iter()
        .map(|v| {
            // A fenced owner took the VIP over from a node that left
            // without releasing it: it answers once the takeover fence has
            // passed (`held_here` on the owner says whether it does yet).
            let (state, owner, to, fenced) = match v.holding {
                Holding::Owned { node, fenced } => ("owned", Some(node), None, fenced),
                Holding::Unowned { fenced } => ("unowned", None, None, fenced),
                Holding::Handoff { from, to } => ("handing over", Some(from), to, false),
            };
            json!({
                "vip": v.vip,
                "state": state,
                "owner": owner,
                "handing_to": to,
                "fenced": fenced,
                "for_ms": agreed_now.saturating_sub(v.since) / 1000,
                "load": {
                    "packets_per_sec": v.load.packets_per_sec,
                    "bytes_per_sec": v.load.bytes_per_sec,
                    "new_sessions_per_sec": v.load.new_sessions_per_sec,
                    "live_sessions": v.load.live_sessions,
                    "score": v.load.score(),
                },
                "held_here": v.held_here,
            })
        })
        .collect();
    let nodes: Vec<Value> = status
        .nodes
        .iter()
        .map(|n| {
            json!({
                "id": n.id,
                // "joining": a member that is given no VIP until its
                // module holds the session table.
                "state": if !n.member {
                    "absent"
                } else if n.drained {
                    "drained"
                } else if n.weight > 0 && !n.may_receive {
                    "joining"
                } else {
                    "member"
                },
                "holds_session_table": n.holds_table,
                "weight": n.weight,
                "load": n.load,
                "vips": n.vips,
            })
        })
        .collect();
    let backends: Vec<Value> = status
        .backends
        .iter()
        .map(|b| {
            json!({
                "vip": b.backend.vip,
                "proto": proto_name(b.backend.proto),
                "port": b.backend.port,
                "backend": format!("{}:{}", b.backend.addr, b.backend.backend_port),
                "health": if b.up { "up" } else { "down" },
            })
        })
        .collect();
    json!({
        "node": status.node,
        "ring": {
            "seq": ring.ring_seq,
            "representative": ring.ring_rep,
            "members": ring.members,
            "operational": ring.operational,
            "token_rotation_us": ring.token_rotation_us,
            "message_rate": ring.message_rate,
        },
        "quorate": status.quorate,
        "awaiting_state": status.awaiting_snapshot,
        "config_version": status.config_version,
        "nodes": nodes,
        "vips": vips,
        "backends": backends,
        "module_errors": module_errors.0,
        "last_module_error": module_errors.1,
        "session_sync": sessions.map(SessionCounters::to_json),
        // The network namespace whose module this daemon drives: the
        // control socket is a path every namespace can see, and ringgatectl
        // sends a change through the daemon only if it is its own.
        "netns": own_netns(),
    })
}

/// This process's network namespace, as /proc names it ("net:[N]").
pub fn own_netns() -> Option<String> {
    std::fs::read_link("/proc/self/ns/net")
        .ok()
        .map(|p| p.display().to_string())
}

/// A health check in the configuration file's words (`health_file`).
fn health(check: &HealthCheck) -> Value {
    let mut out = json!({
        "check": "tcp",
        "interval_ms": check.interval_ms,
        "timeout_ms": check.timeout_ms,
        "rise": check.rise,
        "fall": check.fall,
    });
    if let CheckKind::Http {
        path,
        expect_status,
    } = &check.kind
    {
        out["check"] = json!("http");
        out["path"] = json!(path);
        out["expect_status"] = json!(expect_status);
    }
    out
}

/// The cluster configuration, in the shape of the file's `[cluster]`
/// section (without this node's own options).
pub fn config(config: &ClusterConfig) -> Value {
    let s = &config.settings;
    let mut shown = json!({
        "version": config.version,
        "nodes": config.nodes.iter().map(|n| json!({ "id": n.id, "weight": n.weight })).collect::<Vec<_>>(),
        "settings": {
            "load_report_interval_ms": s.load_report_interval_us / 1000,
            "balance_interval_ms": s.balance_interval_us / 1000,
            "imbalance_threshold_pct": s.imbalance_threshold_pct,
            "min_imbalance": s.min_imbalance,
            "hysteresis_pct": s.hysteresis_pct,
            "hold_ms": s.hold_us / 1000,
            "max_moves_per_period": s.max_moves_per_period,
            "move_period_ms": s.move_period_us / 1000,
            "two_node": s.two_node,
            "takeover_fence_ms": s.takeover_fence_us / 1000,
            "self_fence_ms": s.self_fence_us / 1000,
            "owner_lease_ms": s.owner_lease_us / 1000,
        },
        "vips": config.vips.iter().map(|v| json!({
            "addr": v.addr,
            "services": v.services.iter().map(|s| {
                let mut service = json!({
                    "proto": proto_name(s.proto),
                    "port": s.port,
                    "scheduler": s.scheduler,
                    "mode": s.mode.name(),
                    "backends": s.backends.iter().map(|b| json!({
                        "addr": format!("{}:{}", b.addr, b.port),
                        "weight": b.weight,
                    })).collect::<Vec<_>>(),
                });
                // As the file has it: no key for a service without a check.
                if let Some(check) = &s.health {
                    service["health"] = health(check);
                }
                service
            }).collect::<Vec<_>>(),
        })).collect::<Vec<_>>(),
    });
    // As the file has it: no key without a translation.
    if let Some(t) = &config.snat {
        shown["snat"] = json!({
            "source": format!("{}/{}", t.source, t.prefix_len),
            "to": t.to,
            "ports": format!("{}-{}", t.first_port, t.last_port),
        });
    }
    shown
}

#[cfg(test)]
mod tests {
    use super::*;
    use ringgate_cluster::config::{Service, ServiceMode, VipConfig};

    #[test]
    fn the_configuration_shows_each_services_mode_and_check_as_the_file_has_them() {
        let mut c = ClusterConfig::empty();
        let service = |port, mode, health| Service {
            proto: 6,
            port,
            scheduler: "wrr".into(),
            backends: Vec::new(),
            health,
            mode,
        };
        let check = HealthCheck {
            kind: CheckKind::Http {
                path: "/up".into(),
                expect_status: 204,
            },
            interval_ms: 1000,
            timeout_ms: 500,
            rise: 2,
            fall: 3,
        };
        c.vips.push(VipConfig {
            addr: "10.0.0.1".parse().unwrap(),
            services: vec![
                service(80, ServiceMode::Http, Some(check)),
                service(81, ServiceMode::Nat, None),
            ],
        });
        let shown = config(&c);
        let services = &shown["vips"][0]["services"];
        assert_eq!(services[0]["mode"], "http");
        assert_eq!(services[0]["health"]["check"], "http");
        assert_eq!(services[0]["health"]["path"], "/up");
        assert_eq!(services[0]["health"]["expect_status"], 204);
        assert_eq!(services[1]["mode"], "nat");
        assert!(services[1].get("health").is_none());
        assert!(shown.get("snat").is_none());
        c.snat = Some(ringgate_cluster::config::SnatConfig {
            source: "10.1.0.0".parse().unwrap(),
            prefix_len: 24,
            to: "10.0.0.1".parse().unwrap(),
            first_port: 20000,
            last_port: 29999,
        });
        assert_eq!(
            config(&c)["snat"],
            json!({"source": "10.1.0.0/24", "to": "10.0.0.1", "ports": "20000-29999"})
        );
    }
}
