//! `ringgatectl cluster`, `vip move` and `node drain`: the gateway cluster
//! through the local ringgated's control socket. Changes are answered once
//! the ring agreed on them, so "ok" means every member applies the change.

use std::fmt::Write as _;
use std::net::Ipv4Addr;
use std::path::Path;

use serde_json::Value;

use crate::ring::{request, show_answer};

pub(crate) fn status(socket: &Path, json: bool) -> Result<(), String> {
    show_answer(socket, "cluster status", json, render)
}

pub(crate) fn config(socket: &Path) -> Result<(), String> {
    let config = request(socket, "cluster config")?;
    println!(
        "{}",
        serde_json::to_string_pretty(&config).unwrap_or_default()
    );
    Ok(())
}

/// The daemon reads the file itself (it checks it completely before the
/// ring sees anything); it gets an absolute path.
pub(crate) fn apply(socket: &Path, file: &Path, base: Option<u64>) -> Result<(), String> {
    let path = std::fs::canonicalize(file).map_err(|e| format!("{}: {e}", file.display()))?;
    let path = path
        .to_str()
        .filter(|p| !p.contains('\n') && !p.contains(' '))
        .ok_or_else(|| {
            format!(
                "{}: not a usable path (no spaces or newlines)",
                path.display()
            )
        })?;
    let base = base.map_or("current".to_string(), |b| b.to_string());
    request(socket, &format!("cluster apply {base} {path}"))?;
    println!("configuration applied by the cluster");
    Ok(())
}

pub(crate) fn move_vip(socket: &Path, vip: Ipv4Addr, node: u16) -> Result<(), String> {
    request(socket, &format!("cluster move {vip} {node}"))?;
    println!("VIP {vip} is moving to node {node}");
    Ok(())
}

pub(crate) fn drain(socket: &Path, node: u16, undo: bool) -> Result<(), String> {
    let step = if undo { "undrain" } else { "drain" };
    request(socket, &format!("cluster {step} {node}"))?;
    if undo {
        println!("node {node} gets VIPs again by the load rule");
    } else {
        println!("node {node} is drained: its VIPs move to the others");
    }
    Ok(())
}

/// One screen: the ring, the nodes, the VIPs, the back-ends.
fn render(s: &Value) -> String {
    let mut out = String::new();
    let ring = &s["ring"];
    let rotation = ring["token_rotation_us"]
        .as_u64()
        .map_or("-".to_string(), |us| format!("{us} us"));
    let _ = writeln!(
        out,
        "node {}  ring {}/{}  members {}  token rotation {rotation}{}",
        s["node"],
        ring["representative"],
        ring["seq"],
        ring["members"],
        if ring["operational"] == false {
            "  (forming)"
        } else {
            ""
        }
    );
    let _ = writeln!(
        out,
        "configuration version {}  {}{}",
        s["config_version"],
        if s["quorate"] == true {
            "quorate"
        } else {
            "NO QUORUM: serving nothing"
        },
        if s["awaiting_state"] == true {
            "  (waiting for the cluster's state)"
        } else {
            ""
        }
    );
    let _ = writeln!(out, "\nNODE   STATE     WEIGHT  LOAD      VIPS");
    for n in s["nodes"].as_array().into_iter().flatten() {
        let vips: Vec<&str> = n["vips"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(Value::as_str)
            .collect();
        let _ = writeln!(
            out,
            "{:<6} {:<9} {:<7} {:<9} {}",
            n["id"].to_string(),
            n["state"].as_str().unwrap_or("?"),
            n["weight"].to_string(),
            n["load"].to_string(),
            if vips.is_empty() {
                "-".to_string()
            } else {
                vips.join(",")
            }
        );
    }
    let _ = writeln!(
        out,
        "\nVIP              STATE         OWNER  FOR_S   PKT/S     CONN/S  SESSIONS  HERE"
    );
    for v in s["vips"].as_array().into_iter().flatten() {
        let owner = match (v["owner"].as_u64(), v["handing_to"].as_u64()) {
            (Some(o), Some(to)) => format!("{o}>{to}"),
            (Some(o), None) => o.to_string(),
            (None, _) => "-".to_string(),
        };
        let load = &v["load"];
        let _ = writeln!(
            out,
            "{:<16} {:<13} {:<6} {:<7} {:<9} {:<7} {:<9} {}",
            v["vip"].as_str().unwrap_or("?"),
            v["state"].as_str().unwrap_or("?"),
            owner,
            v["for_ms"].as_u64().map_or(0, |ms| ms / 1000),
            load["packets_per_sec"].to_string(),
            load["new_sessions_per_sec"].to_string(),
            load["live_sessions"].to_string(),
            if v["held_here"] == true { "yes" } else { "no" }
        );
    }
    let backends = s["backends"].as_array().cloned().unwrap_or_default();
    if !backends.is_empty() {
        let _ = writeln!(
            out,
            "\nSERVICE                  BACKEND                HEALTH"
        );
        for b in backends {
            let _ = writeln!(
                out,
                "{:<24} {:<22} {}",
                format!(
                    "{}:{}/{}",
                    b["vip"].as_str().unwrap_or("?"),
                    b["port"],
                    b["proto"].as_str().unwrap_or("?")
                ),
                b["backend"].as_str().unwrap_or("?"),
                b["health"].as_str().unwrap_or("?")
            );
        }
    }
    if s["module_errors"].as_u64().unwrap_or(0) > 0 {
        let _ = writeln!(
            out,
            "\nmodule refused {} requests; latest: {}",
            s["module_errors"],
            s["last_module_error"].as_str().unwrap_or("?")
        );
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn render_shows_ring_nodes_vips_and_backends() {
        let status = serde_json::json!({
            "node": 1, "quorate": true, "awaiting_state": false, "config_version": 3,
            "ring": { "seq": 4, "representative": 1, "members": [1, 2], "operational": true, "token_rotation_us": 900 },
            "nodes": [{ "id": 1, "state": "member", "weight": 100, "load": 12, "vips": ["10.0.0.1"] },
                      { "id": 3, "state": "absent", "weight": 100, "load": 0, "vips": [] }],
            "vips": [{ "vip": "10.0.0.1", "state": "owned", "owner": 1, "handing_to": null, "for_ms": 61000,
                       "load": { "packets_per_sec": 10, "new_sessions_per_sec": 1, "live_sessions": 4 }, "held_here": true }],
            "backends": [{ "vip": "10.0.0.1", "port": 80, "proto": "tcp", "backend": "10.8.0.2:8080", "health": "down" }],
            "module_errors": 0
        });
        let text = render(&status);
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(
            lines[0],
            "node 1  ring 1/4  members [1,2]  token rotation 900 us"
        );
        assert_eq!(lines[1], "configuration version 3  quorate");
        assert!(
            text.contains("\n1      member    100     12        10.0.0.1\n"),
            "{text}"
        );
        assert!(
            text.contains("\n3      absent    100     0         -\n"),
            "{text}"
        );
        assert!(
            text.contains(
                "10.0.0.1         owned         1      61      10        1       4         yes"
            ),
            "{text}"
        );
        assert!(
            text.contains("10.0.0.1:80/tcp          10.8.0.2:8080          down"),
            "{text}"
        );
        let lost = serde_json::json!({ "node": 2, "quorate": false, "ring": {} });
        assert!(render(&lost).contains("NO QUORUM"));
    }
}
