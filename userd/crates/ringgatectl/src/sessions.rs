//! `ringgatectl sessions` and `ringgatectl config`.

use std::io::Write as _;

use ringgate_netlink::{Client, ConfigChange, Error, Session};

/// Prints each session as its dump part arrives: a table of a million
/// sessions is never held whole, neither as sessions nor as text.
pub(crate) fn show(json: bool) -> Result<(), Error> {
    let client = Client::connect()?;
    let mut out = std::io::BufWriter::new(std::io::stdout().lock());
    let mut first = true;
    if json {
        write_out(&mut out, "[")?;
    } else {
        write_out(&mut out, &header())?;
    }
    client.for_each_session(|session| {
        let text = if json {
            let item = serde_json::to_string_pretty(&session).expect("sessions serialize");
            format!("{}\n{item}", if first { "" } else { "," })
        } else {
            row(&session)
        };
        first = false;
        write_out(&mut out, &text)
    })?;
    if json {
        write_out(&mut out, if first { "]\n" } else { "\n]\n" })?;
    }
    out.flush()
        .map_err(|e| Error::Socket(format!("writing the sessions: {e}")))
}

fn write_out(out: &mut impl std::io::Write, text: &str) -> Result<(), Error> {
    out.write_all(text.as_bytes())
        .map_err(|e| Error::Socket(format!("writing the sessions: {e}")))
}

fn header() -> String {
    format!(
        "{:<6}{:<22}{:<22}{:<22}{:<12}{:>10}{:>7}\n",
        "proto", "client", "vip", "backend", "stage", "expires", "owner"
    )
}

fn row(s: &Session) -> String {
    format!(
        "{:<6}{:<22}{:<22}{:<22}{:<12}{:>9.1}s{:>7}\n",
        s.proto,
        s.client.to_string(),
        s.vip.to_string(),
        s.backend.to_string(),
        s.stage,
        f64::from(s.expires_ms) / 1000.0,
        s.owner
    )
}

#[cfg(test)]
fn table(sessions: &[Session]) -> String {
    let mut out = header();
    for s in sessions {
        out.push_str(&row(s));
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
        println!("down policy {}", c.down_policy);
    }
    Ok(())
}

pub(crate) fn config_set(change: &ConfigChange) -> Result<(), Error> {
    Client::connect()?.config_set(change)
}

#[cfg(test)]
mod tests {
    use super::*;
    use ringgate_netlink::{Proto, Stage};

    #[test]
    fn table_shows_each_session() {
        let sessions = [Session {
            proto: Proto::Udp,
            client: "10.9.0.1:40000".parse().unwrap(),
            vip: "10.9.0.100:9000".parse().unwrap(),
            backend: "10.8.0.2:9000".parse().unwrap(),
            stage: Stage(0),
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
