//! Runs `ringgate-l7d` for the cluster's HTTP-mode services.
//!
//! The proxy is a process of its own (its load never delays the ring's
//! token), started with `--die-with-parent` so that a daemon killed
//! outright does not leave it holding the ports its successor binds. Every
//! node runs it for every HTTP service: the VIPs are local addresses on
//! every gateway, ARP ownership decides which node's proxy clients reach,
//! and a VIP that moves needs no restart. Its configuration file is written
//! from the cluster's configuration and health verdicts (a back-end the
//! cluster finds down is `up = false`); a change is written and signalled
//! with `SIGHUP`, which the proxy applies without dropping transfers.
//!
//! Nothing here blocks the ring's thread: writing a small file, a fork and
//! a signal; a proxy told to stop is reaped at a later check (only the
//! daemon's own shutdown waits for it). A node that has no configuration
//! yet (version 0: formed a ring before the cluster's state came) leaves
//! the proxy as it is, so a cold start does not stop the proxy it just
//! started from the configuration file.

use std::collections::BTreeSet;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use ringgate_cluster::config::{ClusterConfig, ServiceMode};
use ringgate_cluster::model::BackendId;
use rustix::process::{kill_process, Pid, Signal};

/// How long a proxy that exited waits before it is started again.
const RESTART_AFTER: Duration = Duration::from_secs(1);
/// How long a proxy told to stop may take before it is killed.
const STOP_WITHIN: Duration = Duration::from_secs(5);

/// Where the proxy's files go and which program it is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProxyPaths {
    pub program: PathBuf,
    /// The configuration file ringgated writes (and only it).
    pub config: PathBuf,
    pub status_socket: PathBuf,
}

/// The proxy's configuration for the HTTP services of `config`, or `None`
/// when there is none to serve. A service without back-ends is left out:
/// the proxy needs one to serve anything.
pub fn render(
    config: &ClusterConfig,
    down: &BTreeSet<BackendId>,
    status_socket: &Path,
) -> Option<String> {
    let quote = |text: String| toml::Value::String(text).to_string();
    let mut out = format!(
        "# Written by ringgated from cluster configuration version {}; changes here are overwritten.\nstatus_socket = {}\n",
        config.version,
        quote(status_socket.display().to_string())
    );
    let mut services = 0;
    for vip in &config.vips {
        for service in &vip.services {
            if service.mode != ServiceMode::Http || service.backends.is_empty() {
                continue;
            }
            services += 1;
            let backends: Vec<String> = service
                .backends
                .iter()
                .map(|b| {
                    let id = BackendId {
                        vip: vip.addr,
                        proto: service.proto,
                        port: service.port,
                        addr: b.addr,
                        backend_port: b.port,
                    };
                    format!(
                        "{{ address = \"{}:{}\", weight = {}, up = {} }}",
                        b.addr,
                        b.port,
                        b.weight,
                        !down.contains(&id)
                    )
                })
                .collect();
            let _ = write!(
                out,
                "\n[[services]]\nlisten = \"{}:{}\"\nbackends = [ {} ]\n",
                vip.addr,
                service.port,
                backends.join(", ")
            );
        }
    }
    (services > 0).then_some(out)
}

/// The running proxy, if any, and the configuration it was given.
pub struct HttpProxy {
    paths: ProxyPaths,
    child: Option<Child>,
    /// The text last written to the configuration file.
    written: Option<String>,
    /// Proxies told to stop, with when; reaped when they are gone, killed
    /// if they take longer than `STOP_WITHIN`. A new proxy waits for them:
    /// it could not bind the ports they still hold.
    stopping: Vec<(Child, Instant)>,
    restart_at: Option<Instant>,
    /// The last failure to write the file, logged once.
    write_error: Option<String>,
    /// A change written while the running proxy may not yet listen for
    /// `SIGHUP` (which would end it): signalled once its status socket is
    /// there, which it binds only after it registered for the signal.
    reload_pending: bool,
}

impl HttpProxy {
    pub fn new(paths: ProxyPaths) -> HttpProxy {
        HttpProxy {
            paths,
            child: None,
            written: None,
            stopping: Vec::new(),
            restart_at: None,
            write_error: None,
            reload_pending: false,
        }
    }

    /// Brings the proxy in line with `config` and `down`: starts it, tells
    /// it of a change, restarts it after it exited, or stops it when no
    /// HTTP service is left. Returns what to log.
    pub fn update(
        &mut self,
        config: &ClusterConfig,
        down: &BTreeSet<BackendId>,
        now: Instant,
    ) -> Vec<String> {
        let mut said = Vec::new();
        self.reap(now, &mut said);
        if config.version == 0 {
            return said;
        }
        let Some(text) = render(config, down, &self.paths.status_socket) else {
            if let Some(mut child) = self.child.take() {
                let _ = signal(&child, Signal::Term);
                if let Ok(None) = child.try_wait() {
                    self.stopping.push((child, now));
                }
                said.push("no HTTP service left: ringgate-l7d told to stop".into());
            }
            self.written = None;
            return said;
        };
        if self.written.as_ref() != Some(&text) {
            if let Err(e) = write_atomically(&self.paths.config, &text) {
                let e = format!(
                    "writing the HTTP proxy's configuration {}: {e}",
                    self.paths.config.display()
                );
                if self.write_error.as_ref() != Some(&e) {
                    said.push(format!("{e} (tried again every second)"));
                    self.write_error = Some(e);
                }
                // Without a file there is nothing to start from; with the
                // last one written, a proxy that exited is started from it.
                if self.written.is_none() {
                    return said;
                }
            } else {
                self.write_error = None;
                self.written = Some(text);
                // A proxy started before the file changed reads it again.
                self.reload_pending = self.child.is_some();
            }
        }
        self.signal_reload(&mut said);
        if self.child.is_none()
            && self.stopping.is_empty()
            && self.restart_at.is_none_or(|at| now >= at)
        {
            self.start(&mut said, now);
        }
        said
    }

    /// Tells the running proxy of a change written since it started, once
    /// it listens for the signal: one started a moment ago has not
    /// registered for `SIGHUP` yet, and the signal's default action would
    /// end it. Its status socket shows that it has (see `reload_pending`).
    fn signal_reload(&mut self, said: &mut Vec<String>) {
        let Some(child) = &self.child else {
            self.reload_pending = false;
            return;
        };
        if !self.reload_pending || !self.paths.status_socket.exists() {
            return;
        }
        self.reload_pending = false;
        if let Err(e) = signal(child, Signal::Hup) {
            said.push(format!("signalling ringgate-l7d to reload: {e}"));
        }
    }

    fn start(&mut self, said: &mut Vec<String>, now: Instant) {
        // A stale socket at the path would read as "listening" at once.
        let _ = std::fs::remove_file(&self.paths.status_socket);
        // The new proxy reads the file as it is now.
        self.reload_pending = false;
        // Not at the ring thread's raised priority (see `priority`).
        let spawned = crate::priority::spawn_ordinary(
            Command::new(&self.paths.program)
                .arg("--config")
                .arg(&self.paths.config)
                .arg("--die-with-parent")
                .stdin(Stdio::null())
                .stdout(Stdio::null()),
        );
        match spawned {
            Ok(child) => {
                said.push(format!(
                    "ringgate-l7d started (pid {}) for the HTTP services, configuration {}",
                    child.id(),
                    self.paths.config.display()
                ));
                self.child = Some(child);
            }
            Err(e) => {
                said.push(format!(
                    "starting {}: {e} (tried again in {} s)",
                    self.paths.program.display(),
                    RESTART_AFTER.as_secs()
                ));
                self.restart_at = Some(now + RESTART_AFTER);
            }
        }
    }

    /// Notices a proxy that exited; it is started again after a pause.
    fn reap(&mut self, now: Instant, said: &mut Vec<String>) {
        self.stopping.retain_mut(|(child, since)| {
            if now.duration_since(*since) >= STOP_WITHIN {
                let _ = child.kill();
            }
            matches!(child.try_wait(), Ok(None))
        });
        let Some(child) = &mut self.child else { return };
        match child.try_wait() {
            Ok(None) => {}
            Ok(Some(status)) => {
                said.push(format!(
                    "ringgate-l7d exited ({status}); started again in {} s",
                    RESTART_AFTER.as_secs()
                ));
                self.child = None;
                self.restart_at = Some(now + RESTART_AFTER);
            }
            Err(e) => said.push(format!("checking on ringgate-l7d: {e}")),
        }
    }

    /// Stops the proxy (`SIGTERM`) and those told to stop before, waiting
    /// at most a second for them: the daemon's shutdown, not the ring's
    /// loop.
    pub fn stop(&mut self) {
        let mut children: Vec<Child> = self.stopping.drain(..).map(|(child, _)| child).collect();
        children.extend(self.child.take());
        for child in &children {
            let _ = signal(child, Signal::Term);
        }
        let until = Instant::now() + Duration::from_secs(1);
        for mut child in children {
            while Instant::now() < until {
                if let Ok(Some(_)) = child.try_wait() {
                    break;
                }
                std::thread::sleep(Duration::from_millis(10));
            }
            if let Ok(None) = child.try_wait() {
                let _ = child.kill();
                let _ = child.wait();
            }
        }
    }
}

impl Drop for HttpProxy {
    fn drop(&mut self) {
        self.stop();
    }
}

fn signal(child: &Child, signal: Signal) -> std::io::Result<()> {
    let pid = i32::try_from(child.id())
        .ok()
        .and_then(Pid::from_raw)
        .ok_or_else(|| std::io::Error::other("no such process id"))?;
    kill_process(pid, signal).map_err(std::io::Error::from)
}

/// Writes `text` to a temporary file beside `path` and renames it over
/// `path`, so the proxy never reads half a file.
fn write_atomically(path: &Path, text: &str) -> std::io::Result<()> {
    let mut temporary = path.as_os_str().to_owned();
    temporary.push(".new");
    let temporary = PathBuf::from(temporary);
    std::fs::write(&temporary, text)?;
    std::fs::rename(&temporary, path)
}

#[cfg(test)]
mod tests {
    use super::*;
    use ringgate_cluster::config::{Backend, Service, VipConfig};
    use std::net::Ipv4Addr;

    fn config() -> ClusterConfig {
        let service = |port, mode, backends: Vec<Backend>| Service {
            proto: 6,
            port,
            scheduler: "wrr".into(),
            backends,
            health: None,
            mode,
        };
        let backend = |last, weight| Backend {
            addr: Ipv4Addr::new(10, 8, 0, last),
            port: 80,
            weight,
        };
        let mut c = ClusterConfig::empty();
        c.version = 7;
        c.vips.push(VipConfig {
            addr: Ipv4Addr::new(10, 9, 0, 100),
            services: vec![
                service(80, ServiceMode::Http, vec![backend(2, 1), backend(3, 5)]),
                service(8080, ServiceMode::Nat, vec![backend(4, 1)]),
                service(81, ServiceMode::Http, Vec::new()),
            ],
        });
        c
    }

    #[test]
    fn the_proxy_gets_the_http_services_and_the_clusters_health_verdicts() {
        let c = config();
        let down = BTreeSet::from([BackendId {
            vip: Ipv4Addr::new(10, 9, 0, 100),
            proto: 6,
            port: 80,
            addr: Ipv4Addr::new(10, 8, 0, 3),
            backend_port: 80,
        }]);
        let text = render(&c, &down, Path::new("/run/l7 \"x\".sock")).unwrap();
        // The proxy's own parser takes it, and it says what the cluster says.
        let parsed = ringgate_l7::config::Config::parse(&text).unwrap();
        assert_eq!(parsed.status_socket, Path::new("/run/l7 \"x\".sock"));
        assert_eq!(parsed.services.len(), 1, "{text}");
        let s = &parsed.services[0];
        assert_eq!(s.listen.to_string(), "10.9.0.100:80");
        let weights: Vec<u32> = s.backends.iter().map(|b| b.1).collect();
        assert_eq!(weights, vec![1, 5]);
        assert_eq!(s.down, vec!["10.8.0.3:80".parse().unwrap()]);
    }

    #[test]
    fn no_http_service_no_proxy() {
        let mut c = config();
        c.vips[0].services.retain(|s| s.mode == ServiceMode::Nat);
        assert_eq!(render(&c, &BTreeSet::new(), Path::new("/s")), None);
    }

    /// A stand-in for ringgate-l7d: a shell script that logs its start and
    /// each SIGHUP, and ignores SIGTERM for a while (a busy proxy). Like
    /// the proxy, it creates its status socket (a file here) only once it
    /// listens for SIGHUP.
    fn fake_proxy(dir: &Path) -> ProxyPaths {
        slow_fake_proxy(dir, 0.0)
    }

    /// A fake proxy that takes `seconds` to register for SIGHUP.
    fn slow_fake_proxy(dir: &Path, seconds: f64) -> ProxyPaths {
        let program = dir.join("fake-l7d");
        let log = dir.join("log");
        let socket = dir.join("l7d.sock");
        std::fs::write(
            &program,
            format!(
                "#!/bin/sh\nsleep {seconds}\ntrap 'echo hup >>{log}' HUP\ntrap 'sleep 2; exit 0' TERM\n: >{socket}\necho start >>{log}\nwhile :; do sleep 0.05; done\n",
                log = log.display(),
                socket = socket.display()
            ),
        )
        .unwrap();
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&program, std::fs::Permissions::from_mode(0o755)).unwrap();
        ProxyPaths {
            program,
            config: dir.join("l7d.toml"),
            status_socket: socket,
        }
    }

    fn log_of(dir: &Path) -> String {
        std::fs::read_to_string(dir.join("log")).unwrap_or_default()
    }

    fn wait_for(dir: &Path, text: &str) {
        for _ in 0..200 {
            if log_of(dir).contains(text) {
                return;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        panic!("{text:?} never logged: {:?}", log_of(dir));
    }

    #[test]
    fn the_proxy_is_started_told_of_changes_and_stopped_without_waiting() {
        let dir = std::env::temp_dir().join(format!("rg-http-proxy-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let mut proxy = HttpProxy::new(fake_proxy(&dir));
        let c = config();
        let now = Instant::now();
        let said = proxy.update(&c, &BTreeSet::new(), now);
        assert!(said[0].contains("ringgate-l7d started"), "{said:?}");
        wait_for(&dir, "start");
        let written = std::fs::read_to_string(dir.join("l7d.toml")).unwrap();
        assert!(
            written.contains("10.8.0.3:80\", weight = 5, up = true"),
            "{written}"
        );
        // Nothing changed: no signal. A health verdict: written, signalled.
        assert!(proxy.update(&c, &BTreeSet::new(), now).is_empty());
        let down = BTreeSet::from([BackendId {
            vip: Ipv4Addr::new(10, 9, 0, 100),
            proto: 6,
            port: 80,
            addr: Ipv4Addr::new(10, 8, 0, 2),
            backend_port: 80,
        }]);
        assert!(proxy.update(&c, &down, now).is_empty());
        wait_for(&dir, "hup");
        assert!(std::fs::read_to_string(dir.join("l7d.toml"))
            .unwrap()
            .contains("10.8.0.2:80\", weight = 1, up = false"));
        // A node without the cluster's configuration yet leaves it alone.
        assert!(proxy.update(&ClusterConfig::empty(), &down, now).is_empty());
        assert!(proxy.child.is_some());
        // No HTTP service left: told to stop, and the ring's thread does not
        // wait the two seconds the proxy takes to go.
        let mut nat_only = c.clone();
        nat_only.vips[0]
            .services
            .retain(|s| s.mode == ServiceMode::Nat);
        let asked = Instant::now();
        let said = proxy.update(&nat_only, &down, now);
        assert!(
            asked.elapsed() < Duration::from_millis(500),
            "{:?}",
            asked.elapsed()
        );
        assert!(said[0].contains("told to stop"), "{said:?}");
        assert_eq!(proxy.stopping.len(), 1);
        // An HTTP service again while the old proxy still holds its ports:
        // the new one waits for it (it could not bind them).
        assert!(proxy.update(&c, &down, now).is_empty());
        assert!(proxy.child.is_none());
        // One that does not go within STOP_WITHIN is killed, and then the
        // new one starts.
        let later = now + STOP_WITHIN;
        let mut said = proxy.update(&c, &down, later);
        for _ in 0..100 {
            if proxy.child.is_some() {
                break;
            }
            std::thread::sleep(Duration::from_millis(10));
            said = proxy.update(&c, &down, later);
        }
        assert!(said.iter().any(|l| l.contains("started")), "{said:?}");
        proxy.stop();
        assert!(proxy.stopping.is_empty() && proxy.child.is_none());
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn a_change_while_the_proxy_starts_is_signalled_once_it_listens() {
        let dir = std::env::temp_dir().join(format!("rg-http-proxy-s-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let mut proxy = HttpProxy::new(slow_fake_proxy(&dir, 0.5));
        let c = config();
        let now = Instant::now();
        proxy.update(&c, &BTreeSet::new(), now);
        // A change at once, before the proxy registered for SIGHUP.
        let mut changed = c.clone();
        changed.version += 1;
        assert!(proxy.update(&changed, &BTreeSet::new(), now).is_empty());
        for _ in 0..300 {
            if log_of(&dir).contains("hup") {
                break;
            }
            std::thread::sleep(Duration::from_millis(10));
            assert!(proxy.update(&changed, &BTreeSet::new(), now).is_empty());
        }
        // Not ended by the signal (and so not started again): one start,
        // and the reload (which may be logged first: the fake creates its
        // socket just before it logs its start).
        let log = log_of(&dir);
        assert_eq!(log.matches("start").count(), 1, "{log}");
        assert_eq!(log.matches("hup").count(), 1, "{log}");
        assert!(matches!(proxy.child.as_mut().unwrap().try_wait(), Ok(None)));
        proxy.stop();
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn a_proxy_that_exits_is_started_again_even_while_the_file_cannot_be_written() {
        let dir = std::env::temp_dir().join(format!("rg-http-proxy-w-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let files = dir.join("files");
        std::fs::create_dir_all(&files).unwrap();
        let mut paths = fake_proxy(&dir);
        paths.config = files.join("l7d.toml");
        let mut proxy = HttpProxy::new(paths);
        let c = config();
        let now = Instant::now();
        proxy.update(&c, &BTreeSet::new(), now);
        wait_for(&dir, "start");
        // The proxy dies, and the file's directory is gone.
        proxy.child.as_mut().unwrap().kill().unwrap();
        proxy.child.as_mut().unwrap().wait().unwrap();
        std::fs::remove_dir_all(&files).unwrap();
        let mut changed = c.clone();
        changed.version += 1;
        let said = proxy.update(&changed, &BTreeSet::new(), now);
        assert!(said.iter().any(|l| l.contains("exited")), "{said:?}");
        assert!(
            said.iter()
                .any(|l| l.contains("writing the HTTP proxy's configuration")),
            "{said:?}"
        );
        // Its pause over, it is started from the last file written, and
        // the write failure is not said again.
        let said = proxy.update(&changed, &BTreeSet::new(), now + RESTART_AFTER);
        assert_eq!(said.len(), 1, "{said:?}");
        assert!(said[0].contains("ringgate-l7d started"), "{said:?}");
        proxy.stop();
        let _ = std::fs::remove_dir_all(&dir);
    }
}
