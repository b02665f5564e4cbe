//! `ringgatectl service` and `ringgatectl backend`: where VIP traffic goes.

use std::fmt::Write as _;
use std::net::{Ipv4Addr, SocketAddrV4};

use ringgate_netlink::{Client, Error, Proto, Scheduler, Service, ServiceKey};

pub(crate) fn key(vip: Ipv4Addr, port: u16, proto: Proto) -> ServiceKey {
    ServiceKey { vip, port, proto }
}

pub(crate) fn service_add(key: ServiceKey, scheduler: Scheduler) -> Result<(), Error> {
    Client::connect()?.service_add(key, Some(scheduler))
}

pub(crate) fn service_del(key: ServiceKey) -> Result<(), Error> {
    Client::connect()?.service_del(key)
}

/// Adds a back-end, creating its service (wrr) if needed. A back-end
/// already there is refused by the kernel and left as it is (a drained one
/// stays down).
pub(crate) fn add(
    key: ServiceKey,
    backend: SocketAddrV4,
    weight: Option<u32>,
) -> Result<(), Error> {
    let client = Client::connect()?;
    if !client.services()?.iter().any(|s| s.key == key) {
        client.service_add(key, None)?;
    }
    client.backend_add(key, backend, weight)
}

/// Changes a back-end: the kernel refuses one that is not there, so `set`
/// never creates one by accident (and no dump races the change).
pub(crate) fn set(
    key: ServiceKey,
    backend: SocketAddrV4,
    weight: Option<u32>,
    up: Option<bool>,
) -> Result<(), Error> {
    Client::connect()?.backend_set(key, backend, weight, up)
}

pub(crate) fn del(key: ServiceKey, backend: SocketAddrV4) -> Result<(), Error> {
    Client::connect()?.backend_del(key, backend)
}

pub(crate) fn list(json: bool) -> Result<(), Error> {
    let services = Client::connect()?.services()?;
    if json {
        println!(
            "{}",
            serde_json::to_string_pretty(&services).expect("services serialize")
        );
    } else {
        print!("{}", table(&services));
    }
    Ok(())
}

fn table(services: &[Service]) -> String {
    let mut out = String::new();
    for service in services {
        let _ = writeln!(out, "{}  {}", service.key, service.scheduler);
        for b in &service.backends {
            let state = if b.up { "up" } else { "down" };
            let _ = writeln!(
                out,
                "  -> {:<22} weight {:<5} {state:<5} active {:<6} inactive {}",
                b.addr.to_string(),
                b.weight,
                b.active_conns,
                b.inactive_conns
            );
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use ringgate_netlink::Backend;

    #[test]
    fn table_lists_services_and_their_backends() {
        let services = [Service {
            key: key(Ipv4Addr::new(10, 0, 0, 100), 80, Proto::Tcp),
            scheduler: Scheduler::Wrr,
            backends: vec![
                Backend {
                    addr: "10.1.0.2:8080".parse().unwrap(),
                    weight: 3,
                    up: true,
                    active_conns: 12,
                    inactive_conns: 4,
                },
                Backend {
                    addr: "10.1.0.3:8080".parse().unwrap(),
                    weight: 1,
                    up: false,
                    active_conns: 0,
                    inactive_conns: 0,
                },
            ],
        }];
        let text = table(&services);
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines[0], "10.0.0.100:80/tcp  wrr");
        assert_eq!(
            lines[1].split_whitespace().collect::<Vec<_>>(),
            [
                "->",
                "10.1.0.2:8080",
                "weight",
                "3",
                "up",
                "active",
                "12",
                "inactive",
                "4"
            ]
        );
        assert_eq!(lines[2].split_whitespace().nth(4), Some("down"));
    }
}
