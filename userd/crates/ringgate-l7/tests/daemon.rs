//! The `ringgate-l7d` process as ringgated drives it: a changed file and a
//! SIGHUP reload it without ending it, a service whose port is taken is
//! served once the port is free (without another SIGHUP), and SIGTERM
//! removes its status socket.

mod common;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::{free_port, get, named};
use rustix::process::{kill_process, Pid, Signal};

/// Polls `get(port)` until it answers `want`, for up to ten seconds.
async fn until_answers(port: u16, want: &str) {
    let until = Instant::now() + Duration::from_secs(10);
    loop {
        let got = get(port).await;
        if got.as_deref() == Some(want) {
            return;
        }
        assert!(
            Instant::now() < until,
            ":{port} answers {got:?}, not {want:?}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

fn write_config(path: &Path, socket: &Path, services: &[(u16, SocketAddr)]) {
    let mut text = format!("status_socket = \"{}\"\n", socket.display());
    for (port, backend) in services {
        text += &format!(
            "[[services]]\nlisten = \"127.0.0.1:{port}\"\nbackends = [ {{ address = \"{backend}\" }} ]\n"
        );
    }
    std::fs::write(path, text).unwrap();
}

fn signal(child: &Child, signal: Signal) {
    let pid = Pid::from_raw(child.id() as i32).unwrap();
    kill_process(pid, signal).unwrap();
}

/// The proxy under test, killed if the test fails before it ends it (an
/// orphan would hold the test harness's output open).
struct Proxy(Child);
impl Drop for Proxy {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

struct Dir(PathBuf);
impl Drop for Dir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

#[tokio::test]
async fn sighup_reloads_a_taken_port_is_retried_and_sigterm_cleans_up() {
    let dir = Dir(std::env::temp_dir().join(format!("rg-l7d-{}", std::process::id())));
    std::fs::create_dir_all(&dir.0).unwrap();
    let (config, socket) = (dir.0.join("l7d.toml"), dir.0.join("l7d.sock"));
    let (a, b) = (named("a").await, named("b").await);
    let (first, second) = (free_port(), free_port());
    write_config(&config, &socket, &[(first, a)]);
    let mut proxy = Proxy(
        Command::new(env!("CARGO_BIN_EXE_ringgate-l7d"))
            .arg("--config")
            .arg(&config)
            .stdin(Stdio::null())
            .spawn()
            .unwrap(),
    );
    let child = &mut proxy.0;
    until_answers(first, "a").await;
    assert!(socket.exists());

    // The second service's port is held by someone else for now.
    let holder = std::net::TcpListener::bind(("127.0.0.1", second)).unwrap();
    write_config(&config, &socket, &[(first, b), (second, b)]);
    signal(child, Signal::Hup);
    until_answers(first, "b").await;
    assert!(
        child.try_wait().unwrap().is_none(),
        "SIGHUP ended the proxy"
    );
    // Freed: the proxy binds it by itself, no SIGHUP needed.
    drop(holder);
    until_answers(second, "b").await;

    signal(child, Signal::Term);
    let status = child.wait().unwrap();
    assert!(status.success(), "{status}");
    assert!(!socket.exists(), "the status socket outlived the proxy");
}
