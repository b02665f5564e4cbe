//! `ringgatectl vip`: the namespace's pool of virtual IPs.

use std::net::Ipv4Addr;

use ringgate_netlink::{check_vip_addr, Client, Vip};

use crate::exit::Failure;
use crate::schema::{pretty, VipJson};
use crate::table::Table;

/// Adds a VIP; an address that can never be one is bad input whether or
/// not the module is loaded, so it is refused before connecting.
pub(crate) fn add(addr: Ipv4Addr, garp_count: Option<u32>) -> Result<(), Failure> {
    check_vip_addr(addr)?;
    Ok(Client::connect()?.vip_add(addr, garp_count)?)
}

pub(crate) fn set_garp_count(addr: Ipv4Addr, garp_count: Option<u32>) -> Result<(), Failure> {
    Ok(Client::connect()?.vip_set(addr, None, garp_count)?)
}

pub(crate) fn del(addr: Ipv4Addr) -> Result<(), Failure> {
    Ok(Client::connect()?.vip_del(addr)?)
}

pub(crate) fn set_owned(addr: Ipv4Addr, owned: bool) -> Result<(), Failure> {
    Ok(Client::connect()?.vip_set_owned(addr, owned)?)
}

pub(crate) fn list(json: bool) -> Result<(), Failure> {
    let vips = Client::connect()?.vip_list()?;
    if json {
        print!(
            "{}",
            pretty(&vips.iter().map(VipJson::from).collect::<Vec<_>>())
        );
    } else {
        print!("{}", table(&vips));
    }
    Ok(())
}

/// One VIP a line; `owned` is `yes` or `no`, one word, so `awk` keeps its
/// columns (the owner used to read "this node").
fn table(vips: &[Vip]) -> String {
    let mut table = Table::new(&["vip", "owned", "garp-count"]);
    for vip in vips {
        let owned = if vip.owned { "yes" } else { "no" };
        table.row(vec![
            vip.addr.to_string(),
            owned.into(),
            vip.garp_count.to_string(),
        ]);
    }
    table.render()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::table::assert_awk_columns;

    #[test]
    fn every_line_has_the_same_fields() {
        let vips = [
            Vip {
                addr: Ipv4Addr::new(10, 0, 0, 100),
                owned: true,
                garp_count: 3,
                owner_node: 0,
            },
            Vip {
                addr: Ipv4Addr::new(10, 0, 0, 101),
                owned: false,
                garp_count: 5,
                owner_node: 0,
            },
        ];
        let text = table(&vips);
        assert_eq!(assert_awk_columns(&text), 3);
        let rows: Vec<Vec<&str>> = text
            .lines()
            .skip(1)
            .map(|l| l.split_whitespace().collect())
            .collect();
        assert_eq!(rows[0], ["10.0.0.100", "yes", "3"]);
        assert_eq!(rows[1], ["10.0.0.101", "no", "5"]);
    }
}
