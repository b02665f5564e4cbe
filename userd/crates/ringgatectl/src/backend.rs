//! `ringgatectl service` and `ringgatectl backend`: where VIP traffic goes.

use std::net::SocketAddrV4;

use ringgate_netlink::{Client, Scheduler, Service, ServiceKey};

use crate::cli::ServiceArgs;
use crate::exit::Failure;
use crate::schema::{pretty, ServiceJson};
use crate::table::Table;

pub(crate) fn key(args: &ServiceArgs) -> ServiceKey {
    ServiceKey {
        vip: args.vip,
        port: args.port,
        proto: args.proto.0,
    }
}

pub(crate) fn service_add(key: ServiceKey, scheduler: Option<Scheduler>) -> Result<(), Failure> {
    Ok(Client::connect()?.service_add(key, scheduler)?)
}

pub(crate) fn service_set(key: ServiceKey, scheduler: Scheduler) -> Result<(), Failure> {
    Ok(Client::connect()?.service_set(key, scheduler)?)
}

pub(crate) fn service_del(key: ServiceKey) -> Result<(), Failure> {
    Ok(Client::connect()?.service_del(key)?)
}

/// Adds a back-end, creating its service (wrr) if needed; an existing
/// service is left as it is, and two of these racing to create one both
/// succeed. A back-end already there is refused by the kernel and left as
/// it is (a drained one stays down).
pub(crate) fn add(
    key: ServiceKey,
    backend: SocketAddrV4,
    weight: Option<u32>,
    up: Option<bool>,
) -> Result<(), Failure> {
    let client = Client::connect()?;
    client.service_ensure(key)?;
    Ok(client.backend_add(key, backend, weight, up)?)
}

/// Changes a back-end: the kernel refuses one that is not there, so `set`
/// never creates one by accident (and no dump races the change).
pub(crate) fn set(
    key: ServiceKey,
    backend: SocketAddrV4,
    weight: Option<u32>,
    up: Option<bool>,
) -> Result<(), Failure> {
    Ok(Client::connect()?.backend_set(key, backend, weight, up)?)
}

pub(crate) fn del(key: ServiceKey, backend: SocketAddrV4) -> Result<(), Failure> {
    Ok(Client::connect()?.backend_del(key, backend)?)
}

pub(crate) fn list(json: bool) -> Result<(), Failure> {
    let services = Client::connect()?.services()?;
    if json {
        let services: Vec<ServiceJson> = services.iter().map(ServiceJson::from).collect();
        print!("{}", pretty(&services));
    } else {
        print!("{}", table(&services));
    }
    Ok(())
}

/// `backend list`: the plain listing, or with `--stats`/`--rate` the
/// traffic counters.
pub(crate) fn list_traffic(json: bool, stats: bool, rate: bool) -> Result<(), Failure> {
    if stats || rate {
        crate::traffic::list(json, rate)
    } else {
        list(json)
    }
}

/// One back-end a line, with its service's columns repeated (as `ss` and
/// `conntrack -L` do), so every line stands alone for `grep` and `awk`; a
/// service without back-ends is one line with `-` in the back-end columns.
fn table(services: &[Service]) -> String {
    let mut table = Table::new(&[
        "vip",
        "port",
        "proto",
        "scheduler",
        "backend",
        "backend-port",
        "weight",
        "state",
        "active",
        "inactive",
    ]);
    for service in services {
        let key = [
            service.key.vip.to_string(),
            service.key.port.to_string(),
            service.key.proto.to_string(),
            service.scheduler.to_string(),
        ];
        if service.backends.is_empty() {
            let mut row = key.to_vec();
            row.extend(std::iter::repeat_n("-".to_string(), 6));
            table.row(row);
        }
        for b in &service.backends {
            let mut row = key.to_vec();
            row.extend([
                b.addr.ip().to_string(),
                b.addr.port().to_string(),
                b.weight.to_string(),
                if b.up { "up" } else { "down" }.to_string(),
                b.active_conns.to_string(),
                b.inactive_conns.to_string(),
            ]);
            table.row(row);
        }
    }
    table.render()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::table::assert_awk_columns;
    use ringgate_netlink::{Backend, Proto};
    use std::net::Ipv4Addr;

    #[test]
    fn one_line_per_backend_with_the_same_fields() {
        let services = [
            Service {
                key: ServiceKey {
                    vip: Ipv4Addr::new(10, 0, 0, 100),
                    port: 80,
                    proto: Proto::Tcp,
                },
                scheduler: Scheduler::Wrr,
                backends: vec![
                    Backend {
                        addr: "10.1.0.2:8080".parse().unwrap(),
                        weight: 3,
                        up: true,
                        active_conns: 12,
                        inactive_conns: 4,
                        traffic: None,
                    },
                    Backend {
                        addr: "10.1.0.3:8080".parse().unwrap(),
                        weight: 1,
                        up: false,
                        active_conns: 0,
                        inactive_conns: 0,
                        traffic: None,
                    },
                ],
            },
            Service {
                key: ServiceKey {
                    vip: Ipv4Addr::new(10, 0, 0, 100),
                    port: 53,
                    proto: Proto::Unknown(132),
                },
                scheduler: Scheduler::Unknown(9),
                backends: vec![],
            },
        ];
        let text = table(&services);
        assert_eq!(assert_awk_columns(&text), 10);
        let rows: Vec<Vec<&str>> = text
            .lines()
            .map(|l| l.split_whitespace().collect())
            .collect();
        assert_eq!(
            rows[1],
            [
                "10.0.0.100",
                "80",
                "tcp",
                "wrr",
                "10.1.0.2",
                "8080",
                "3",
                "up",
                "12",
                "4"
            ]
        );
        assert_eq!(rows[2][7], "down");
        assert_eq!(
            rows[3],
            ["10.0.0.100", "53", "132", "9", "-", "-", "-", "-", "-", "-"]
        );
    }
}
