//! `ringgatectl save`: the namespace's configuration as `ringgatectl`
//! command lines. Each line runs as it is in a shell (onto an empty
//! namespace) and `ringgatectl restore -f` applies the whole file onto any
//! state, creating what is missing and setting what differs.

use ringgate_netlink::Client;

use crate::config::settings;
use crate::exit::Failure;
use crate::state::{State, Target};

pub(crate) fn run() -> Result<(), Failure> {
    let state = Client::connect()?.state()?;
    print!("{}", lines(&state));
    Ok(())
}

/// The lines, every value explicit (so that a restore sets it rather than
/// leaving what it finds): settings, then each VIP and its ownership, then
/// each service and its back-ends, then the outbound translation (`off`
/// when there is none).
pub(crate) fn lines(state: &State) -> String {
    let mut out = String::from("# ringgatectl save; apply with: ringgatectl restore -f FILE\n");
    let settings: Vec<String> = settings(&state.config)
        .iter()
        .map(|(name, value)| format!("--{name} {value}"))
        .collect();
    out.push_str(&format!("ringgatectl config set {}\n", settings.join(" ")));
    for vip in &state.vips {
        out.push_str(&format!(
            "ringgatectl vip add {} --garp-count {}\n",
            vip.addr, vip.garp_count
        ));
        let ownership = if vip.owned { "own" } else { "release" };
        out.push_str(&format!("ringgatectl vip {ownership} {}\n", vip.addr));
    }
    for service in &state.services {
        let key = format!(
            "{} {} --proto {}",
            service.key.vip, service.key.port, service.key.proto
        );
        out.push_str(&format!(
            "ringgatectl service add {key} --scheduler {}\n",
            service.scheduler
        ));
        for b in &service.backends {
            let state = if b.up { "--up" } else { "--down" };
            out.push_str(&format!(
                "ringgatectl backend add {key} {} --weight {} {state}\n",
                b.addr, b.weight
            ));
        }
    }
    out.push_str(&match &state.snat {
        Some(s) => format!(
            "ringgatectl snat set {}/{} --to {}{}\n",
            s.source,
            s.prefix_len,
            s.to,
            s.ports.map_or(String::new(), |p| format!(
                " --ports {}-{}",
                p.first, p.last
            ))
        ),
        None => "ringgatectl snat off\n".into(),
    });
    out
}
