//! `ringgatectl status` and `ringgatectl counters reset`.

use ringgate_netlink::{Client, Hook, Status};

use crate::exit::Failure;
use crate::schema::{self, pretty};
use crate::table::Table;

pub(crate) fn show(json: bool, hook: Option<Hook>) -> Result<(), Failure> {
    let status = Client::connect()?.status(hook)?;
    if json {
        print!("{}", pretty(&schema::status(&status)));
    } else {
        print!("{}", text(&status));
    }
    Ok(())
}

pub(crate) fn reset(hook: Option<Hook>) -> Result<(), Failure> {
    Ok(Client::connect()?.reset_counters(hook)?)
}

/// The version line, the hook table, a blank line, and the namespace's
/// counters one `name value` line each (the spec's attribute names), so
/// `awk '$1 == "sessions" {print $2}'` reads one.
fn text(status: &Status) -> String {
    let mut hooks = Table::new(&["hook", "packets", "bytes"]);
    for h in &status.hooks {
        hooks.row(vec![
            h.hook.to_string(),
            h.packets.to_string(),
            h.bytes.to_string(),
        ]);
    }
    let mut out = format!("ringgate {}\n{}\n", status.version, hooks.render());
    for (name, value) in [
        ("sessions", status.sessions),
        ("sessions-evicted", status.sessions_evicted),
        ("sessions-dropped", status.sessions_dropped),
        ("no-backend", status.no_backend),
        ("not-owner", status.not_owner),
        ("redirected", status.redirected),
        ("picked-up", status.picked_up),
        ("session-buckets-used", status.session_buckets_used),
        ("snat-no-port", status.snat_no_port),
        ("arp-suppressed", status.arp_suppressed),
        ("garp-sent", status.garp_sent),
    ] {
        out.push_str(&format!("{name} {value}\n"));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::table::assert_awk_columns;
    use ringgate_netlink::HookStats;

    #[test]
    fn hooks_then_one_counter_a_line() {
        let status = Status {
            version: "9.9".into(),
            hooks: vec![
                HookStats {
                    hook: "arp-in".parse().unwrap(),
                    packets: 3,
                    bytes: 126,
                },
                HookStats {
                    hook: Hook::from_number(40),
                    packets: 0,
                    bytes: 0,
                },
            ],
            arp_suppressed: 4,
            garp_sent: 6,
            sessions: 0,
            sessions_dropped: 0,
            sessions_evicted: 5,
            no_backend: 0,
            not_owner: 0,
            redirected: 0,
            picked_up: 0,
            session_buckets_used: 0,
            snat_no_port: 0,
        };
        let text = text(&status);
        let mut sections = text.split("\n\n");
        let hooks = sections.next().unwrap();
        assert!(hooks.starts_with("ringgate 9.9\n"));
        let hook_table: String = hooks.lines().skip(1).map(|l| format!("{l}\n")).collect();
        assert_eq!(assert_awk_columns(&hook_table), 3);
        assert_eq!(
            hook_table
                .lines()
                .nth(1)
                .unwrap()
                .split_whitespace()
                .collect::<Vec<_>>(),
            ["arp-in", "3", "126"]
        );
        let counters = sections.next().unwrap();
        assert!(
            counters.lines().all(|l| l.split_whitespace().count() == 2),
            "{counters}"
        );
        assert!(counters.lines().any(|l| l == "sessions-evicted 5"));
        assert!(counters.lines().any(|l| l == "arp-suppressed 4"));
    }
}
