//! `ringgatectl backend list --stats | --rate`: what each back-end carried,
//! as `ipvsadm -L --stats` and `--rate` show it.

use std::thread::sleep;
use std::time::{Duration, Instant};

use ringgate_netlink::{Client, Service, Traffic};
use serde::Serialize;

use crate::exit::Failure;
use crate::schema::pretty;
use crate::table::Table;

/// One back-end's counters (or rates), with the service and back-end it is.
#[derive(Debug, Serialize, PartialEq)]
pub(crate) struct Line {
    pub vip: std::net::Ipv4Addr,
    pub port: u16,
    pub proto: ringgate_netlink::Proto,
    pub backend_addr: std::net::Ipv4Addr,
    pub backend_port: u16,
    #[serde(flatten)]
    pub traffic: Traffic,
}

/// Every back-end that has counters, in dump order.
fn lines(services: &[Service]) -> Vec<Line> {
    services
        .iter()
        .flat_map(|s| {
            s.backends.iter().filter_map(move |b| {
                Some(Line {
                    vip: s.key.vip,
                    port: s.key.port,
                    proto: s.key.proto,
                    backend_addr: *b.addr.ip(),
                    backend_port: b.addr.port(),
                    traffic: b.traffic?,
                })
            })
        })
        .collect()
}

/// Per-second rates between two samples `seconds` apart, back-end by
/// back-end (matched by service and address: one that came or went between
/// the samples, or whose slot restarted its counters, is left out).
pub(crate) fn rates(before: &[Line], after: &[Line], seconds: f64) -> Vec<Line> {
    let per_second = |a: u64, b: u64| ((b.saturating_sub(a)) as f64 / seconds).round() as u64;
    after
        .iter()
        .filter_map(|a| {
            let b = before.iter().find(|b| {
                (b.vip, b.port, b.proto, b.backend_addr, b.backend_port)
                    == (a.vip, a.port, a.proto, a.backend_addr, a.backend_port)
            })?;
            let (x, y) = (&b.traffic, &a.traffic);
            // Counters only grow while a back-end keeps its slot.
            let restarted = y.conns < x.conns
                || y.packets_in < x.packets_in
                || y.bytes_in < x.bytes_in
                || y.packets_out < x.packets_out
                || y.bytes_out < x.bytes_out;
            if restarted {
                return None;
            }
            Some(Line {
                traffic: Traffic {
                    conns: per_second(x.conns, y.conns),
                    packets_in: per_second(x.packets_in, y.packets_in),
                    bytes_in: per_second(x.bytes_in, y.bytes_in),
                    packets_out: per_second(x.packets_out, y.packets_out),
                    bytes_out: per_second(x.bytes_out, y.bytes_out),
                },
                ..*a
            })
        })
        .collect()
}

fn table(lines: &[Line], rate: bool) -> String {
    let counters: [&str; 5] = if rate {
        ["cps", "inpps", "outpps", "inbps", "outbps"]
    } else {
        ["conns", "inpkts", "outpkts", "inbytes", "outbytes"]
    };
    let mut header = vec!["vip", "port", "proto", "backend", "backend-port"];
    header.extend(counters);
    let mut table = Table::new(&header);
    for l in lines {
        let t = &l.traffic;
        table.row(vec![
            l.vip.to_string(),
            l.port.to_string(),
            l.proto.to_string(),
            l.backend_addr.to_string(),
            l.backend_port.to_string(),
            t.conns.to_string(),
            t.packets_in.to_string(),
            t.packets_out.to_string(),
            t.bytes_in.to_string(),
            t.bytes_out.to_string(),
        ]);
    }
    table.render()
}

/// `backend list --stats` (`rate` false) or `--rate`.
pub(crate) fn list(json: bool, rate: bool) -> Result<(), Failure> {
    let client = Client::connect()?;
    let first = lines(&client.services()?);
    let shown = if rate {
        let start = Instant::now();
        sleep(Duration::from_secs(1));
        let second = lines(&client.services()?);
        rates(&first, &second, start.elapsed().as_secs_f64())
    } else {
        first
    };
    if json {
        print!("{}", pretty(&shown));
    } else {
        print!("{}", table(&shown, rate));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::table::assert_awk_columns;
    use ringgate_netlink::Proto;
    use std::net::Ipv4Addr;

    fn line(backend: u8, conns: u64, packets: u64) -> Line {
        Line {
            vip: Ipv4Addr::new(10, 9, 0, 100),
            port: 80,
            proto: Proto::Tcp,
            backend_addr: Ipv4Addr::new(10, 8, 0, backend),
            backend_port: 8080,
            traffic: Traffic {
                conns,
                packets_in: packets,
                bytes_in: packets * 100,
                packets_out: packets * 2,
                bytes_out: packets * 1000,
            },
        }
    }

    #[test]
    fn rates_are_differences_per_second_matched_by_backend() {
        let before = [line(2, 10, 100), line(3, 0, 0)];
        // Back-end 3 listed first now; back-end 4 is new.
        let after = [line(3, 4, 40), line(2, 30, 300), line(4, 1, 1)];
        let got = rates(&before, &after, 2.0);
        assert_eq!(got.len(), 2, "the new back-end has no rate yet");
        assert_eq!(got[0].backend_addr, Ipv4Addr::new(10, 8, 0, 3));
        assert_eq!(got[0].traffic.conns, 2);
        assert_eq!(got[0].traffic.packets_in, 20);
        assert_eq!(got[1].traffic.conns, 10);
        assert_eq!(got[1].traffic.packets_out, 200);
        assert_eq!(got[1].traffic.bytes_out, 100_000);
    }

    #[test]
    fn a_restarted_slot_gets_no_rate() {
        let got = rates(&[line(2, 10, 100)], &[line(2, 1, 5)], 1.0);
        assert!(got.is_empty(), "{got:?}");
        // Restarted and already past the old packet counts: the bytes tell.
        let mut after = line(2, 10, 100);
        after.traffic.bytes_out = 5;
        let got = rates(&[line(2, 10, 100)], &[after], 1.0);
        assert!(got.is_empty(), "{got:?}");
    }

    #[test]
    fn table_columns_survive_awk() {
        let text = table(&[line(2, 1, 2), line(3, 30, 4000)], false);
        assert_eq!(assert_awk_columns(&text), 10);
        assert!(text.starts_with("vip"), "{text}");
    }
}
