//! `ringgatectl monitor`: the module's notifications (the `events`
//! multicast group) as they come, one line each, as `ip monitor` prints
//! rtnetlink's. When the kernel drops notifications for want of room in the
//! socket's buffer, the loss is said in a line of its own and the state the
//! notifications describe is dumped again, so a reader never acts on a
//! picture with a silent gap in it.

use std::io::Write;

use ringgate_netlink::{Client, Error, Event, Vip};
use serde_json::json;

use crate::exit::Failure;

/// What a re-dump after a loss reads: the state the events report on.
pub(crate) struct Resync {
    pub vips: Vec<Vip>,
    pub sessions_dropped: u64,
}

pub(crate) fn run(json: bool) -> Result<(), Failure> {
    let client = Client::connect()?;
    let events = client.events()?;
    // Said on stderr, so that stdout holds only events and a script can
    // wait for this line before making the changes it watches for.
    eprintln!("ringgatectl: monitoring the events group");
    let redump = || {
        Ok(Resync {
            vips: client.vip_list()?,
            sessions_dropped: client.status(None)?.sessions_dropped,
        })
    };
    watch(events, redump, json, &mut std::io::stdout().lock())
}

/// Prints each event of `events` to `out`, answering a loss with a re-dump,
/// until the events end (never, from the kernel) or fail.
pub(crate) fn watch(
    events: impl IntoIterator<Item = Result<Event, Error>>,
    mut redump: impl FnMut() -> Result<Resync, Error>,
    json: bool,
    out: &mut impl Write,
) -> Result<(), Failure> {
    for event in events {
        let event = event?;
        write_line(out, &line(&event, json))?;
        if event == Event::Lost {
            for text in resync_lines(&redump()?, json) {
                write_line(out, &text)?;
            }
        }
    }
    Ok(())
}

/// Writes one line and flushes it, so a script reading a pipe sees each
/// event when it happens.
fn write_line(out: &mut impl Write, text: &str) -> Result<(), Failure> {
    writeln!(out, "{text}")
        .and_then(|()| out.flush())
        .map_err(|e| Failure::other(format!("writing events: {e}")))
}

/// The line of one event: words, or a JSON object.
fn line(event: &Event, json: bool) -> String {
    let (text, value) = match event {
        Event::VipOwner { addr, owned } => (
            format!("vip-owner {addr} {}", ownership(*owned)),
            json!({"event": "vip-owner", "addr": addr, "owned": owned}),
        ),
        Event::SessionsFull { dropped } => (
            format!("sessions-full {dropped}"),
            json!({"event": "sessions-full", "sessions_dropped": dropped}),
        ),
        Event::SessionNew(s) => (
            format!(
                "session-new {} {} {} {} owner {}",
                s.proto, s.client, s.vip, s.backend, s.owner
            ),
            json!({"event": "session-new", "session": s}),
        ),
        Event::Unknown { cmd } => (
            format!("unknown-event {cmd}"),
            json!({"event": "unknown", "cmd": cmd}),
        ),
        Event::Lost => (
            "lost notifications were dropped (socket buffer full); the current state follows"
                .to_string(),
            json!({"event": "lost"}),
        ),
    };
    if json {
        value.to_string()
    } else {
        text
    }
}

/// The state after a loss: each VIP's ownership and the refused-session
/// counter, named apart from the events (`vip-state`, not `vip-owner`) so a
/// reader can tell a change from a re-read.
fn resync_lines(state: &Resync, json: bool) -> Vec<String> {
    let mut lines: Vec<String> = state
        .vips
        .iter()
        .map(|vip| {
            if json {
                json!({"event": "vip-state", "addr": vip.addr, "owned": vip.owned}).to_string()
            } else {
                format!("vip-state {} {}", vip.addr, ownership(vip.owned))
            }
        })
        .collect();
    lines.push(if json {
        json!({"event": "sessions-dropped", "sessions_dropped": state.sessions_dropped}).to_string()
    } else {
        format!("sessions-dropped {}", state.sessions_dropped)
    });
    lines
}

fn ownership(owned: bool) -> &'static str {
    if owned {
        "owned"
    } else {
        "released"
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::Ipv4Addr;

    const VIP: Ipv4Addr = Ipv4Addr::new(10, 9, 0, 100);

    fn run_watch(events: Vec<Result<Event, Error>>, json: bool) -> (String, usize) {
        let mut redumps = 0;
        let mut out = Vec::new();
        let redump = || {
            redumps += 1;
            Ok(Resync {
                vips: vec![Vip {
                    addr: VIP,
                    owned: true,
                    garp_count: 3,
                    owner_node: 0,
                }],
                sessions_dropped: 12,
            })
        };
        watch(events, redump, json, &mut out).unwrap();
        (String::from_utf8(out).unwrap(), redumps)
    }

    #[test]
    fn each_event_is_one_line() {
        let (text, redumps) = run_watch(
            vec![
                Ok(Event::VipOwner {
                    addr: VIP,
                    owned: false,
                }),
                Ok(Event::SessionsFull { dropped: 9 }),
                Ok(Event::Unknown { cmd: 40 }),
            ],
            false,
        );
        assert_eq!(
            text,
            "vip-owner 10.9.0.100 released\nsessions-full 9\nunknown-event 40\n"
        );
        assert_eq!(redumps, 0);
    }

    /// A loss is said, then the state is read again and printed.
    #[test]
    fn a_loss_is_said_and_answered_by_a_redump() {
        let (text, redumps) = run_watch(
            vec![
                Ok(Event::Lost),
                Ok(Event::VipOwner {
                    addr: VIP,
                    owned: false,
                }),
            ],
            false,
        );
        assert_eq!(redumps, 1);
        let lines: Vec<&str> = text.lines().collect();
        assert!(lines[0].starts_with("lost "), "{text}");
        assert_eq!(
            &lines[1..],
            [
                "vip-state 10.9.0.100 owned",
                "sessions-dropped 12",
                "vip-owner 10.9.0.100 released"
            ]
        );
    }

    #[test]
    fn json_is_one_object_a_line() {
        let (text, _) = run_watch(
            vec![
                Ok(Event::VipOwner {
                    addr: VIP,
                    owned: true,
                }),
                Ok(Event::Lost),
            ],
            true,
        );
        let values: Vec<serde_json::Value> = text
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        assert_eq!(
            values,
            [
                json!({"event": "vip-owner", "addr": "10.9.0.100", "owned": true}),
                json!({"event": "lost"}),
                json!({"event": "vip-state", "addr": "10.9.0.100", "owned": true}),
                json!({"event": "sessions-dropped", "sessions_dropped": 12}),
            ]
        );
    }

    /// A receive error ends the monitor with the client's words.
    #[test]
    fn a_receive_error_ends_it() {
        let mut out = Vec::new();
        let failure = watch(
            vec![Err(Error::Socket("receiving events: boom".into()))],
            || unreachable!("no loss, no re-dump"),
            false,
            &mut out,
        )
        .unwrap_err();
        assert_eq!(failure.message, "netlink socket: receiving events: boom");
    }
}
