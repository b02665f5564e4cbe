//! A reload (what `SIGHUP` does in ringgate-l7d): services added, changed
//! and removed while running, a back-end the cluster finds down never
//! chosen, and a service that cannot be bound left out without holding
//! back the others.

mod common;

use std::net::SocketAddr;
use std::time::Duration;

use common::{free_port, get, named};
use ringgate_l7::config::Config;
use ringgate_l7::services::Services;
use ringgate_l7::workers::Workers;

/// The configuration text for `services`: (listen port, [(back-end, up)]).
fn config(services: &[(u16, Vec<(SocketAddr, bool)>)]) -> Config {
    let mut text = String::from("status_socket = \"/unused\"\n");
    for (port, backends) in services {
        let backends: Vec<String> = backends
            .iter()
            .map(|(address, up)| format!("{{ address = \"{address}\", up = {up} }}"))
            .collect();
        text += &format!(
            "[[services]]\nlisten = \"127.0.0.1:{port}\"\nbackends = [ {} ]\n",
            backends.join(", ")
        );
    }
    Config::parse(&text).unwrap()
}

fn listens(services: &Services) -> Vec<String> {
    let served = services.served();
    let served = served.lock().unwrap();
    served.iter().map(|s| s.listen.to_string()).collect()
}

#[tokio::test]
async fn a_reload_adds_changes_and_removes_services() {
    let (a, b, c) = (named("a").await, named("b").await, named("c").await);
    let (first, second) = (free_port(), free_port());
    let mut services = Services::new(64, Workers::start(2).unwrap());
    services.apply(config(&[(first, vec![(a, true)])]));
    assert_eq!(get(first).await.as_deref(), Some("a"));

    // Back-end a is down for the cluster, b joins; a second service starts.
    let done = services
        .apply(config(&[
            (first, vec![(a, false), (b, true)]),
            (second, vec![(c, true)]),
        ]))
        .summary;
    assert!(done.contains("1 new, 1 kept, 0 stopped"), "{done}");
    for _ in 0..4 {
        assert_eq!(get(first).await.as_deref(), Some("b"));
    }
    assert_eq!(get(second).await.as_deref(), Some("c"));
    assert_eq!(listens(&services).len(), 2);

    // The first service goes: its port stops accepting, the second serves on.
    services.apply(config(&[(second, vec![(c, true)])]));
    let mut gone = false;
    for _ in 0..50 {
        if get(first).await.is_none() {
            gone = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(gone, "the removed service still accepts");
    assert_eq!(get(second).await.as_deref(), Some("c"));
    assert_eq!(listens(&services), vec![format!("127.0.0.1:{second}")]);
}

#[tokio::test]
async fn a_service_that_cannot_be_bound_is_left_out_and_the_rest_apply() {
    let (a, b) = (named("a").await, named("b").await);
    let first = free_port();
    let mut services = Services::new(64, Workers::start(2).unwrap());
    services.apply(config(&[(first, vec![(a, true)])]));
    // A port someone else holds: that service is named and left out, and
    // the first service's new back-ends (a down for the cluster) apply.
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let busy = taken.local_addr().unwrap().port();
    let applied = services.apply(config(&[
        (first, vec![(a, false), (b, true)]),
        (busy, vec![(b, true)]),
    ]));
    assert_eq!(applied.unbound.len(), 1, "{applied:?}");
    assert!(applied.unbound[0].contains(&format!("listen 127.0.0.1:{busy}")));
    assert_eq!(get(first).await.as_deref(), Some("b"));
    assert_eq!(listens(&services), vec![format!("127.0.0.1:{first}")]);
    // Once the port is free, the next reload binds it.
    drop(taken);
    let applied = services.apply(config(&[(first, vec![(b, true)]), (busy, vec![(b, true)])]));
    assert!(applied.unbound.is_empty(), "{applied:?}");
    assert_eq!(get(busy).await.as_deref(), Some("b"));
}
