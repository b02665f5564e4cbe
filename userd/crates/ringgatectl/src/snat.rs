//! `ringgatectl snat`: the module's outbound translation in this network
//! namespace. On a gateway the cluster sets it (its `[cluster.snat]`, the
//! ports shared among the ring's members), so there only `show` is allowed.

use std::net::Ipv4Addr;

use ringgate_netlink::{Client, PortRange, Snat};

use crate::exit::Failure;
use crate::schema::pretty;

pub(crate) fn show(json: bool) -> Result<(), Failure> {
    let snat = Client::connect()?.snat()?;
    if json {
        print!(
            "{}",
            pretty(&serde_json::to_value(snat).expect("a translation serializes"))
        );
    } else {
        print!("{}", text(snat.as_ref()));
    }
    Ok(())
}

pub(crate) fn set(source: &str, to: Ipv4Addr, ports: Option<&str>) -> Result<(), Failure> {
    let snat = parse(source, to, ports).map_err(Failure::bad_input)?;
    Ok(Client::connect()?.snat_set(Some(&snat))?)
}

pub(crate) fn off() -> Result<(), Failure> {
    Ok(Client::connect()?.snat_set(None)?)
}

/// `source` as address/length and `ports` as first-last (none: a node that
/// opens no outbound connection), checked as the module would check them,
/// so a mistake is named here.
pub(crate) fn parse(source: &str, to: Ipv4Addr, ports: Option<&str>) -> Result<Snat, String> {
    let (addr, len) = source
        .split_once('/')
        .ok_or_else(|| format!("{source:?} is not address/length (10.8.0.0/24)"))?;
    let addr: Ipv4Addr = addr
        .parse()
        .map_err(|_| format!("{addr:?} is not an IPv4 address"))?;
    let prefix_len: u8 = len
        .parse()
        .ok()
        .filter(|l| *l <= 32)
        .ok_or_else(|| format!("/{len} is not a prefix length of 0 to 32"))?;
    let mask = u32::MAX
        .checked_shl(32 - u32::from(prefix_len))
        .unwrap_or(0);
    if u32::from(addr) & !mask != 0 {
        return Err(format!("{source} has bits set beyond its length"));
    }
    let ports = match ports {
        None => None,
        Some(ports) => {
            let port = |text: &str| text.parse::<u16>().ok();
            let (first, last) = ports
                .split_once('-')
                .and_then(|(a, b)| Some((port(a)?, port(b)?)))
                .ok_or_else(|| format!("{ports:?} is not first-last (20000-29999)"))?;
            if first < 1024 || last < first {
                return Err(format!(
                    "ports {first}-{last}: the first must be 1024 or more and the last not below it"
                ));
            }
            Some(PortRange { first, last })
        }
    };
    Ok(Snat {
        source: addr,
        prefix_len,
        to,
        ports,
    })
}

/// The ports as `snat show` prints them and `--ports` takes them.
pub(crate) fn ports_text(ports: Option<PortRange>) -> String {
    ports.map_or("none".into(), |p| format!("{}-{}", p.first, p.last))
}

/// `off`, or one line: `SOURCE/LEN to VIP ports FIRST-LAST` (`ports none`
/// on a node that has none).
fn text(snat: Option<&Snat>) -> String {
    match snat {
        None => "off\n".into(),
        Some(s) => format!(
            "{}/{} to {} ports {}\n",
            s.source,
            s.prefix_len,
            s.to,
            ports_text(s.ports)
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_translation_reads_and_prints_the_same_way() {
        let vip = Ipv4Addr::new(10, 9, 0, 100);
        let snat = parse("10.8.0.0/24", vip, Some("20000-29999")).unwrap();
        assert_eq!(
            text(Some(&snat)),
            "10.8.0.0/24 to 10.9.0.100 ports 20000-29999\n"
        );
        assert_eq!(text(None), "off\n");
        let portless = parse("10.8.0.0/24", vip, None).unwrap();
        assert_eq!(
            text(Some(&portless)),
            "10.8.0.0/24 to 10.9.0.100 ports none\n"
        );
        assert_eq!(
            parse("0.0.0.0/0", vip, Some("1024-1024")).map(|s| s.prefix_len),
            Ok(0)
        );
    }

    #[test]
    fn a_malformed_translation_is_named() {
        let vip = Ipv4Addr::new(10, 9, 0, 100);
        let err = |source: &str, ports: &str| parse(source, vip, Some(ports)).unwrap_err();
        assert!(err("10.8.0.0", "20000-29999").contains("address/length"));
        assert!(err("10.8.0.1/24", "20000-29999").contains("bits set"));
        assert!(err("10.8.0.0/33", "20000-29999").contains("/33"));
        assert!(err("10.8.0.0/24", "20000").contains("first-last"));
        assert!(err("10.8.0.0/24", "80-90").contains("1024 or more"));
        assert!(err("10.8.0.0/24", "30000-29999").contains("not below"));
        assert!(err("10.8.0.0/24", "20000-70000").contains("first-last"));
    }
}
