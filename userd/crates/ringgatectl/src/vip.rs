//! `ringgatectl vip`: the namespace's pool of virtual IPs.

use std::fmt::Write as _;
use std::net::Ipv4Addr;

use ringgate_netlink::{Client, Error, Vip};

pub(crate) fn add(addr: Ipv4Addr, garp_count: Option<u32>) -> Result<(), Error> {
    Client::connect()?.vip_add(addr, garp_count)
}

pub(crate) fn del(addr: Ipv4Addr) -> Result<(), Error> {
    Client::connect()?.vip_del(addr)
}

pub(crate) fn set_owned(addr: Ipv4Addr, owned: bool) -> Result<(), Error> {
    Client::connect()?.vip_set_owned(addr, owned)
}

pub(crate) fn list(json: bool) -> Result<(), Error> {
    let vips = Client::connect()?.vip_list()?;
    if json {
        println!(
            "{}",
            serde_json::to_string_pretty(&vips).expect("VIPs serialize")
        );
    } else {
        print!("{}", table(&vips));
    }
    Ok(())
}

fn table(vips: &[Vip]) -> String {
    let mut out = format!("{:<18}{:<10}{:>10}\n", "vip", "owner", "garp");
    for vip in vips {
        let owner = if vip.owned { "this node" } else { "-" };
        let _ = writeln!(out, "{:<18}{:<10}{:>10}", vip.addr, owner, vip.garp_count);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_shows_each_vip_with_its_owner() {
        let vips = [
            Vip {
                addr: Ipv4Addr::new(10, 0, 0, 100),
                owned: true,
                garp_count: 3,
            },
            Vip {
                addr: Ipv4Addr::new(10, 0, 0, 101),
                owned: false,
                garp_count: 5,
            },
        ];
        let text = table(&vips);
        let rows: Vec<Vec<&str>> = text
            .lines()
            .skip(1)
            .map(|l| l.split_whitespace().collect())
            .collect();
        assert_eq!(rows[0], ["10.0.0.100", "this", "node", "3"]);
        assert_eq!(rows[1], ["10.0.0.101", "-", "5"]);
    }
}
