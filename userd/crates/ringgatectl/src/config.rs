//! `ringgatectl config`: the data plane's settings.

use ringgate_netlink::{Client, Config, ConfigChange};

use crate::cli::ConfigArgs;
use crate::exit::Failure;
use crate::schema::{self, pretty};

pub(crate) fn show(json: bool) -> Result<(), Failure> {
    let config = Client::connect()?.config()?;
    if json {
        print!("{}", pretty(&schema::config(&config)));
    } else {
        print!("{}", text(&config));
    }
    Ok(())
}

pub(crate) fn set(args: &ConfigArgs) -> Result<(), Failure> {
    Ok(Client::connect()?.config_set(&change(args))?)
}

pub(crate) fn change(args: &ConfigArgs) -> ConfigChange {
    ConfigChange {
        node_id: args.node_id,
        max_sessions: args.max_sessions,
        timeout_syn: args.timeout_syn,
        timeout_established: args.timeout_established,
        timeout_closing: args.timeout_closing,
        timeout_udp: args.timeout_udp,
        down_policy: args.down_policy.map(|p| p.0),
        conntrack: args.conntrack.map(|m| m.0),
    }
}

/// Each setting with its value, named as `config set`'s options are.
pub(crate) fn settings(c: &Config) -> [(&'static str, String); 8] {
    [
        ("node-id", c.node_id.to_string()),
        ("max-sessions", c.max_sessions.to_string()),
        ("timeout-syn", c.timeout_syn.to_string()),
        ("timeout-established", c.timeout_established.to_string()),
        ("timeout-closing", c.timeout_closing.to_string()),
        ("timeout-udp", c.timeout_udp.to_string()),
        ("down-policy", c.down_policy.to_string()),
        ("conntrack", c.conntrack.to_string()),
    ]
}

/// One `name value` line per setting (timeouts in seconds).
fn text(c: &Config) -> String {
    settings(c)
        .iter()
        .map(|(name, value)| format!("{name} {value}\n"))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use ringgate_netlink::{ConntrackMode, DownPolicy};

    #[test]
    fn one_setting_a_line_named_as_the_option() {
        let config = Config {
            node_id: 7,
            max_sessions: 64,
            timeout_syn: 30,
            timeout_established: 900,
            timeout_closing: 60,
            timeout_udp: 8,
            down_policy: DownPolicy::Drop,
            conntrack: ConntrackMode::Untracked,
        };
        let text = text(&config);
        assert!(
            text.lines().all(|l| l.split_whitespace().count() == 2),
            "{text}"
        );
        assert_eq!(text.lines().next(), Some("node-id 7"));
        assert_eq!(text.lines().last(), Some("conntrack untracked"));
    }
}
