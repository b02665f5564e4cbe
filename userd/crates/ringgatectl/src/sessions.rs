//! `ringgatectl sessions` and `ringgatectl config`.

use std::fmt::Write as _;

use ringgate_netlink::{Client, ConfigChange, DownPolicy, Error, Proto, Session};

pub(crate) fn show(json: bool) -> Result<(), Error> {
    let sessions = Client::connect()?.sessions()?;
    if json {
        println!(
            "{}",
            serde_json::to_string_pretty(&sessions).expect("sessions serialize")
        );
    } else {
        print!("{}", table(&sessions));
    }
    Ok(())
}

fn table(sessions: &[Session]) -> String {
    let mut out = format!(
        "{:<6}{:<22}{:<22}{:<22}{:<12}{:>10}{:>7}\n",
        "proto", "client", "vip", "backend", "stage", "expires", "owner"
    );
    for s in sessions {
        let proto = if s.proto == Proto::Tcp { "tcp" } else { "udp" };
        let _ = writeln!(
            out,
            "{proto:<6}{:<22}{:<22}{:<22}{:<12}{:>9.1}s{:>7}",
            s.client.to_string(),
            s.vip.to_string(),
            s.backend.to_string(),
            s.stage,
            f64::from(s.expires_ms) / 1000.0,
            s.owner
        );
    }
    out
}

pub(crate) fn config_show(json: bool) -> Result<(), Error> {
    let c = Client::connect()?.config()?;
    if json {
        println!(
            "{}",
            serde_json::to_string_pretty(&c).expect("config serializes")
        );
    } else {
        println!("node id {}", c.node_id);
        println!("max sessions {}", c.max_sessions);
        println!(
            "timeouts: syn {} s, established {} s, closing {} s, udp {} s",
            c.timeout_syn, c.timeout_established, c.timeout_closing, c.timeout_udp
        );
        let policy = match c.down_policy {
            DownPolicy::Keep => "keep",
            DownPolicy::Drop => "drop",
        };
        println!("down policy {policy}");
    }
    Ok(())
}

pub(crate) fn config_set(change: &ConfigChange) -> Result<(), Error> {
    Client::connect()?.config_set(change)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_shows_each_session() {
        let sessions = [Session {
            proto: Proto::Udp,
            client: "10.9.0.1:40000".parse().unwrap(),
            vip: "10.9.0.100:9000".parse().unwrap(),
            backend: "10.8.0.2:9000".parse().unwrap(),
            stage: "udp",
            expires_ms: 1500,
            owner: 7,
        }];
        let row: Vec<String> = table(&sessions)
            .lines()
            .nth(1)
            .unwrap()
            .split_whitespace()
            .map(String::from)
            .collect();
        assert_eq!(
            row,
            [
                "udp",
                "10.9.0.1:40000",
                "10.9.0.100:9000",
                "10.8.0.2:9000",
                "udp",
                "1.5s",
                "7"
            ]
        );
    }
}
