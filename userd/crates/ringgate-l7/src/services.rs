//! The set of services a proxy serves, and its reload: new services are
//! bound and started (one that cannot be bound is left out and named),
//! services no longer configured stop accepting (their connections run to
//! their end), and the others get the new back-ends without losing their
//! place in the rotation or their hold-downs.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, PoisonError};

use tokio::sync::Semaphore;
use tokio::task::JoinHandle;

use crate::config::Config;
use crate::listener;
use crate::proxy::{serve, Service};
use crate::status::Served;
use crate::workers::Workers;

/// A service being served and the task accepting its clients.
struct Running {
    service: Arc<Service>,
    accepting: JoinHandle<()>,
}

/// What serves the services: the listeners' tasks, the list the status
/// socket shows, and the connection limit they share.
pub struct Services {
    running: BTreeMap<SocketAddr, Running>,
    served: Served,
    permits: Arc<Semaphore>,
    workers: Arc<Workers>,
}

impl Services {
    /// No services yet; `max_connections` client connections at once,
    /// whichever services they come to, served by `workers`.
    pub fn new(max_connections: usize, workers: Arc<Workers>) -> Services {
        Services {
            workers,
            permits: Arc::new(Semaphore::new(max_connections)),
            served: Arc::new(Mutex::new(Vec::new())),
            running: BTreeMap::new(),
        }
    }

    /// The services being served, as the status socket shows them.
    pub fn served(&self) -> Served {
        self.served.clone()
    }

    /// Serves `config`'s services: the new ones are bound and started,
    /// the ones it no longer lists stop accepting (their connections run to
    /// their end), and the others get its back-ends. Its other settings
    /// apply to services started from now on. A service whose listener
    /// cannot be bound (its port taken, say) is left out and named in
    /// `Applied::unbound`; it is tried again at the next reload, and the
    /// others are served all the same: one bad service must not keep the
    /// cluster's health verdicts from the rest.
    pub fn apply(&mut self, config: Config) -> Applied {
        let mut bound = Vec::new();
        let mut unbound = Vec::new();
        for (index, service) in config.services.iter().enumerate() {
            if self.running.contains_key(&service.listen) {
                continue;
            }
            match listener::bind(service.listen) {
                Ok(socket) => bound.push((socket, index)),
                Err(e) => unbound.push(format!("listen {}: {e}", service.listen)),
            }
        }
        let (mut kept, mut removed) = (0, 0);
        self.running.retain(|listen, running| {
            match config.services.iter().find(|s| s.listen == *listen) {
                Some(service) => {
                    running
                        .service
                        .set_backends(&service.backends, &service.down);
                    kept += 1;
                    true
                }
                None => {
                    running.accepting.abort();
                    removed += 1;
                    false
                }
            }
        });
        let added = bound.len();
        for (socket, index) in bound {
            let wanted = &config.services[index];
            let service = Arc::new(Service::new(
                wanted.listen,
                &wanted.backends,
                config.settings.clone(),
            ));
            service.set_backends(&wanted.backends, &wanted.down);
            let accepting = tokio::spawn(serve(
                socket,
                service.clone(),
                self.permits.clone(),
                Some(self.workers.clone()),
            ));
            self.running
                .insert(wanted.listen, Running { service, accepting });
        }
        *self.served.lock().unwrap_or_else(PoisonError::into_inner) =
            self.running.values().map(|r| r.service.clone()).collect();
        Applied {
            summary: format!(
                "serving {} services ({added} new, {kept} kept, {removed} stopped, {} not bound)",
                self.running.len(),
                unbound.len()
            ),
            unbound,
        }
    }
}

/// What a reload did.
#[derive(Debug)]
pub struct Applied {
    pub summary: String,
    /// The services that could not be bound, with why.
    pub unbound: Vec<String>,
}
