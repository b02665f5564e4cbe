//! `ringgatectl status` and `ringgatectl counters reset`.

use std::fmt::Write as _;

use ringgate_netlink::{Client, Error, Hook, Status};

pub(crate) fn show(json: bool, hook: Option<Hook>) -> Result<(), Error> {
    let status = Client::connect()?.status(hook)?;
    if json {
        println!(
            "{}",
            serde_json::to_string_pretty(&status).expect("Status serializes")
        );
    } else {
        print!("{}", table(&status));
    }
    Ok(())
}

pub(crate) fn reset(hook: Option<Hook>) -> Result<(), Error> {
    Client::connect()?.reset_counters(hook)
}

fn table(status: &Status) -> String {
    let mut out = format!(
        "ringgate {}\n{:<14}{:>14}{:>18}\n",
        status.version, "hook", "packets", "bytes"
    );
    for h in &status.hooks {
        let _ = writeln!(out, "{:<14}{:>14}{:>18}", h.hook, h.packets, h.bytes);
    }
    let _ = writeln!(
        out,
        "sessions {}, evicted {}, dropped (table full) {}, dropped (no back-end) {}",
        status.sessions, status.sessions_evicted, status.sessions_dropped, status.no_backend
    );
    let _ = writeln!(
        out,
        "arp suppressed {}, gratuitous arp sent {}",
        status.arp_suppressed, status.garp_sent
    );
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use ringgate_netlink::HookStats;

    #[test]
    fn table_lists_every_hook_with_its_numbers() {
        let status = Status {
            version: "9.9".into(),
            hooks: vec![HookStats {
                hook: "arp-in".parse().unwrap(),
                packets: 3,
                bytes: 126,
            }],
            arp_suppressed: 4,
            garp_sent: 6,
            sessions: 0,
            sessions_dropped: 0,
            sessions_evicted: 0,
            no_backend: 0,
        };
        let text = table(&status);
        assert!(text.starts_with("ringgate 9.9\n"));
        let row = text.lines().nth(2).unwrap();
        assert_eq!(
            row.split_whitespace().collect::<Vec<_>>(),
            ["arp-in", "3", "126"]
        );
        assert_eq!(
            text.lines().nth(4),
            Some("arp suppressed 4, gratuitous arp sent 6")
        );
    }
}
