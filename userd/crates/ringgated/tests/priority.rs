//! The ring's thread runs at a raised priority (nice -10, as root), and a
//! program it starts does not inherit it: an operator's `http_proxy`, any
//! program at all, starts at the daemon's own priority.

mod support;

use std::fs;
use std::os::unix::fs::PermissionsExt;

use support::{start_configured, wait_for, KEY};

#[test]
fn the_http_proxy_program_starts_at_the_daemons_own_priority() {
    let dir = support::scratch("proxy-nice");
    let port = 33000 + (std::process::id() % 10000) as u16;
    // A stand-in for the proxy that records its nice value and stays up
    // while the daemon does.
    let program = dir.join("proxy.sh");
    let record = dir.join("proxy-nice");
    fs::write(
        &program,
        format!(
            "#!/bin/sh\nnice > {r}.tmp; mv {r}.tmp {r}\nwhile kill -0 $PPID 2>/dev/null; do sleep 0.2; done\n",
            r = record.display()
        ),
    )
    .unwrap();
    fs::set_permissions(&program, fs::Permissions::from_mode(0o755)).unwrap();
    let section = format!(
        "[cluster]\nversion = 1\nhttp_proxy = \"{}\"\n[cluster.settings]\nhold_ms = 600000\ntakeover_fence_ms = 220\n\
         [[cluster.vips]]\naddr = \"10.9.0.1\"\n[[cluster.vips.services]]\nproto = \"tcp\"\nport = 80\nmode = \"http\"\n\
         backends = [{{ addr = \"127.0.0.9:1\" }}]\nhealth = {{ check = \"tcp\", interval_ms = 200, timeout_ms = 100 }}\n",
        program.display()
    );
    let daemon = start_configured(&dir, 1, port, &[1], &[], KEY, None, &section);
    wait_for("the proxy program to run", || record.exists());
    let nice = fs::read_to_string(&record).unwrap();
    assert_eq!(
        nice.trim(),
        "0",
        "the proxy program runs at nice {}",
        nice.trim()
    );
    drop(daemon);
    let _ = fs::remove_dir_all(&dir);
}
