//! The Ethernet segments this node shares with its peers, and the MAC
//! address each peer has on them.
//!
//! The kernel module forwards a packet to a peer at L2: it rewrites the
//! destination MAC and sends the packet out of the interface it came in on.
//! For that it needs, for every peer and every local interface, the peer's
//! MAC on that interface's segment. Every node reads its own links from the
//! kernel ([`local_links`]), announces them over the ring ([`encode`],
//! [`decode`]), and computes the table from its links and the announced ones
//! ([`peer_routes`]).
//!
//! The rtnetlink answers are parsed by pure functions over bytes, so that
//! the tests can give them hand-built messages and a malformed message is
//! refused, never a panic.

use std::collections::BTreeMap;
use std::io;
use std::net::Ipv4Addr;
use std::time::Duration;

use netlink_sys::{protocols::NETLINK_ROUTE, Socket};

/// At most this many links are announced or decoded per node.
///
/// A bound keeps a ring message small and the forwarding table bounded
/// (members × `MAX_LINKS`), whatever a peer announces.
pub const MAX_LINKS: usize = 16;

/// One IPv4 address of an Ethernet interface: a segment the node is on.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Link {
    /// The interface's index in this node's namespace (meaningless for a peer's link; 0 after decode).
    pub ifindex: u32,
    /// The interface's hardware address, which peers put in the frames they
    /// forward to this node.
    pub mac: [u8; 6],
    /// The node's address on the segment.
    pub addr: Ipv4Addr,
    /// The segment's prefix length (1 to 31 for a local link).
    pub prefix_len: u8,
}

/// The magic that starts a links message, so that the ring's receivers
/// tell it from the other messages they get.
const MAGIC: [u8; 4] = *b"RGLK";
/// The format's version; a node refuses a version it does not know rather
/// than misreading it.
const VERSION: u8 = 1;
/// Magic, version and count.
const HEADER_LEN: usize = 6;
/// MAC, address and prefix length.
const ENTRY_LEN: usize = 11;

/// A MAC a frame can be sent to: neither a group address (multicast or
/// broadcast, the low bit of the first byte) nor all zero.
fn is_unicast(mac: &[u8; 6]) -> bool {
    mac[0] & 1 == 0 && mac.iter().any(|&b| b != 0)
}

/// The network mask of a prefix length (0 gives an empty mask, over 32 a
/// full one), computed without a shift overflow.
fn mask(prefix_len: u8) -> u32 {
    match prefix_len {
        0 => 0,
        p if p >= 32 => u32::MAX,
        p => u32::MAX << (32 - u32::from(p)),
    }
}

/// The ring message announcing a node's links. Format (big-endian): magic b"RGLK", version u8 = 1, count u8, then count × (mac 6 bytes, addr 4 bytes, prefix_len u8).
///
/// Only the first [`MAX_LINKS`] links are written, because a receiver
/// refuses a longer message; the ifindex is not written, as it means
/// nothing in a peer's namespace.
pub fn encode(links: &[Link]) -> Vec<u8> {
    let links = &links[..links.len().min(MAX_LINKS)];
    let mut out = Vec::with_capacity(HEADER_LEN + links.len() * ENTRY_LEN);
    out.extend_from_slice(&MAGIC);
    out.push(VERSION);
    // MAX_LINKS fits a byte, so the count cannot wrap.
    out.push(u8::try_from(links.len()).unwrap_or(u8::MAX));
    for link in links {
        out.extend_from_slice(&link.mac);
        out.extend_from_slice(&link.addr.octets());
        out.push(link.prefix_len);
    }
    out
}

/// Whether a ring payload is a links message, by its magic only, so that a
/// receiver routes it to [`decode`] (which then checks all the rest).
pub fn is_links(payload: &[u8]) -> bool {
    payload.starts_with(&MAGIC)
}

/// Reads a links message, refusing (Err with a clear message) a wrong magic/version, a count over MAX_LINKS, a length that is not exactly header + count*11, a prefix_len of 0 or > 32, a MAC that is multicast/broadcast (low bit of first byte set) or all-zero. ifindex of decoded links is 0.
///
/// The whole message is refused on any fault, rather than keeping its good
/// links, because a message with one bad link was not written by a correct
/// node and its other links are not to be trusted either.
pub fn decode(payload: &[u8]) -> Result<Vec<Link>, String> {
    if payload.len() < HEADER_LEN {
        return Err(format!(
            "links message: {} bytes, shorter than the {HEADER_LEN}-byte header",
            payload.len()
        ));
    }
    if payload[..4] != MAGIC {
        return Err("links message: wrong magic (not RGLK)".into());
    }
    if payload[4] != VERSION {
        return Err(format!(
            "links message: version {} (only {VERSION} is known)",
            payload[4]
        ));
    }
    let count = usize::from(payload[5]);
    if count > MAX_LINKS {
        return Err(format!(
            "links message: {count} links, more than the {MAX_LINKS} allowed"
        ));
    }
    let want = HEADER_LEN + count * ENTRY_LEN;
    if payload.len() != want {
        return Err(format!(
            "links message: {} bytes where {count} links take exactly {want}",
            payload.len()
        ));
    }
    let mut links = Vec::with_capacity(count);
    for (i, entry) in payload[HEADER_LEN..].chunks_exact(ENTRY_LEN).enumerate() {
        let mut mac = [0u8; 6];
        mac.copy_from_slice(&entry[..6]);
        let addr = Ipv4Addr::new(entry[6], entry[7], entry[8], entry[9]);
        let prefix_len = entry[10];
        if prefix_len == 0 || prefix_len > 32 {
            return Err(format!(
                "links message: link {i} has prefix length {prefix_len} (1 to 32 allowed)"
            ));
        }
        if !is_unicast(&mac) {
            return Err(format!(
                "links message: link {i} has MAC {} (multicast, broadcast or all zero)",
                mac_text(&mac)
            ));
        }
        links.push(Link {
            ifindex: 0,
            mac,
            addr,
            prefix_len,
        });
    }
    Ok(links)
}

/// A MAC in the usual colon-separated form, for error messages.
fn mac_text(mac: &[u8; 6]) -> String {
    mac.iter()
        .map(|b| format!("{b:02x}"))
        .collect::<Vec<_>>()
        .join(":")
}

/// A route the module uses to forward a packet at L2 to a peer: out of
/// local interface `ifindex`, to the peer's MAC `mac` on that segment.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct PeerRoute {
    /// The peer's node id.
    pub node: u16,
    /// The local interface on the shared segment.
    pub ifindex: u32,
    /// The peer's MAC on that segment.
    pub mac: [u8; 6],
}

/// The forwarding table for the module: for every member `p` of `members` other than `me` that has announced links in `announced`,
/// and every local link L (prefix < 32), p's link R whose address is in L's subnet (same network under L.prefix_len) with the same prefix_len
/// and a different address than L gives PeerRoute { node: p, ifindex: L.ifindex, mac: R.mac }.
/// At most one route per (node, ifindex): the first match in sorted order wins. Members without announced links get no route.
/// Result sorted and deduplicated; bounded by members × MAX_LINKS.
///
/// "Sorted order" is the order of [`PeerRoute`], so a peer with two links
/// on one segment is reached at its smallest MAC whatever the order of its
/// announcement, and every node computes the same table from the same
/// inputs. Only the first [`MAX_LINKS`] local links (by ifindex, then
/// address) and announced links are used, which is what bounds the table;
/// a link with a prefix of 0 (it would match every address) or a MAC that
/// is not unicast (a frame to it would not reach the peer alone) is never
/// matched.
pub fn peer_routes(
    local: &[Link],
    announced: &BTreeMap<u16, Vec<Link>>,
    members: &[u16],
    me: u16,
) -> Vec<PeerRoute> {
    let mut local: Vec<&Link> = local
        .iter()
        .filter(|l| (1..32).contains(&l.prefix_len))
        .collect();
    local.sort_by_key(|l| (l.ifindex, l.addr, l.prefix_len, l.mac));
    local.truncate(MAX_LINKS);

    let mut routes = Vec::new();
    for &node in members {
        if node == me {
            continue;
        }
        let Some(theirs) = announced.get(&node) else {
            continue;
        };
        let theirs = &theirs[..theirs.len().min(MAX_LINKS)];
        for l in &local {
            let m = mask(l.prefix_len);
            let net = u32::from(l.addr) & m;
            for r in theirs {
                if r.prefix_len == l.prefix_len
                    && r.addr != l.addr
                    && u32::from(r.addr) & m == net
                    && is_unicast(&r.mac)
                {
                    routes.push(PeerRoute {
                        node,
                        ifindex: l.ifindex,
                        mac: r.mac,
                    });
                }
            }
        }
    }
    routes.sort();
    // After sorting, the first route of each (node, ifindex) is the one
    // kept; this also drops exact duplicates (a member listed twice).
    routes.dedup_by_key(|r| (r.node, r.ifindex));
    routes
}

// ---------------------------------------------------------------------------
// rtnetlink: the numbers of <linux/netlink.h>, <linux/rtnetlink.h>,
// <linux/if_link.h>, <linux/if_addr.h>, <linux/if_arp.h> and <net/if.h>.

const NLMSG_HDRLEN: usize = 16;
const NLMSG_NOOP: u16 = 1;
const NLMSG_ERROR: u16 = 2;
const NLMSG_DONE: u16 = 3;
const NLMSG_OVERRUN: u16 = 4;
const NLM_F_REQUEST: u16 = 0x1;
const NLM_F_DUMP_INTR: u16 = 0x10;
const NLM_F_DUMP: u16 = 0x300;
const RTM_NEWLINK: u16 = 16;
const RTM_GETLINK: u16 = 18;
const RTM_NEWADDR: u16 = 20;
const RTM_GETADDR: u16 = 22;
/// `struct ifinfomsg`: family, pad, type, index, flags, change.
const IFINFOMSG_LEN: usize = 16;
/// `struct ifaddrmsg`: family, prefixlen, flags, scope, index.
const IFADDRMSG_LEN: usize = 8;
const IFLA_ADDRESS: u16 = 1;
const IFA_ADDRESS: u16 = 1;
const IFA_LOCAL: u16 = 2;
const AF_INET: u8 = 2;
const ARPHRD_ETHER: u16 = 1;
const IFF_UP: u32 = 0x1;
const IFF_LOOPBACK: u32 = 0x8;
/// The device has carrier: a link without it reaches nobody, and a peer
/// that sent packets to this node there would lose them.
const IFF_LOWER_UP: u32 = 0x1_0000;
/// The attribute type without the nested and byte-order flags.
const NLA_TYPE_MASK: u16 = 0x3fff;

/// How long a dump may keep the daemon waiting for the kernel's next
/// datagram before it is given up, so that a stuck socket cannot stall it.
const RECEIVE_TIMEOUT: Duration = Duration::from_secs(5);
/// How many times a dump the kernel marks inconsistent (the links or
/// addresses changed while it was read) is started again.
const DUMP_ATTEMPTS: u32 = 3;

/// Netlink's 4-byte alignment, saturating rather than overflowing.
fn align4(len: usize) -> usize {
    len.saturating_add(3) & !3
}

fn u16_at(b: &[u8], at: usize) -> Option<u16> {
    Some(u16::from_ne_bytes(b.get(at..at + 2)?.try_into().ok()?))
}

fn u32_at(b: &[u8], at: usize) -> Option<u32> {
    Some(u32::from_ne_bytes(b.get(at..at + 4)?.try_into().ok()?))
}

fn i32_at(b: &[u8], at: usize) -> Option<i32> {
    Some(i32::from_ne_bytes(b.get(at..at + 4)?.try_into().ok()?))
}

/// The attributes (type, value) of a run of `struct rtattr`, in the order
/// they come. An attribute whose length is shorter than its header or runs
/// past the end is refused, as are stray bytes after the last attribute:
/// the kernel never sends them, so they mean the bytes are not what they
/// are taken for.
fn attributes(mut b: &[u8]) -> Result<Vec<(u16, &[u8])>, String> {
    let mut out = Vec::new();
    while !b.is_empty() {
        let (Some(len), Some(kind)) = (u16_at(b, 0), u16_at(b, 2)) else {
            return Err(format!("a truncated attribute header ({} bytes)", b.len()));
        };
        let len = usize::from(len);
        if len < 4 || len > b.len() {
            return Err(format!(
                "an attribute of length {len} in {} remaining bytes",
                b.len()
            ));
        }
        out.push((kind & NLA_TYPE_MASK, &b[4..len]));
        b = b.get(align4(len)..).unwrap_or(&[]);
    }
    Ok(out)
}

/// One netlink message of a datagram.
#[derive(Debug)]
struct Message<'a> {
    kind: u16,
    flags: u16,
    seq: u32,
    payload: &'a [u8],
}

/// The messages of a datagram, in order; a header that is short or claims
/// more bytes than there are is refused.
fn messages(mut b: &[u8]) -> Result<Vec<Message<'_>>, String> {
    let mut out = Vec::new();
    while !b.is_empty() {
        let (Some(len), Some(kind), Some(flags), Some(seq)) =
            (u32_at(b, 0), u16_at(b, 4), u16_at(b, 6), u32_at(b, 8))
        else {
            return Err(format!("a truncated netlink header ({} bytes)", b.len()));
        };
        if b.len() < NLMSG_HDRLEN {
            return Err(format!("a truncated netlink header ({} bytes)", b.len()));
        }
        let len = usize::try_from(len).unwrap_or(usize::MAX);
        if len < NLMSG_HDRLEN || len > b.len() {
            return Err(format!(
                "a netlink message of length {len} in {} remaining bytes",
                b.len()
            ));
        }
        out.push(Message {
            kind,
            flags,
            seq,
            payload: &b[NLMSG_HDRLEN..len],
        });
        b = b.get(align4(len)..).unwrap_or(&[]);
    }
    Ok(out)
}

/// An interface that can carry a segment: its index and MAC.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct EtherLink {
    ifindex: u32,
    mac: [u8; 6],
}

/// The interface an `RTM_NEWLINK` payload describes, if it is up, of type
/// Ethernet with a 6-byte unicast hardware address, and not loopback;
/// `Ok(None)` for any other interface. Malformed bytes are an error.
fn parse_link(payload: &[u8]) -> Result<Option<EtherLink>, String> {
    let (Some(kind), Some(index), Some(flags)) =
        (u16_at(payload, 2), i32_at(payload, 4), u32_at(payload, 8))
    else {
        return Err(format!(
            "an RTM_NEWLINK of {} bytes, shorter than struct ifinfomsg",
            payload.len()
        ));
    };
    if payload.len() < IFINFOMSG_LEN {
        return Err(format!(
            "an RTM_NEWLINK of {} bytes, shorter than struct ifinfomsg",
            payload.len()
        ));
    }
    let attrs = attributes(&payload[IFINFOMSG_LEN..])
        .map_err(|e| format!("RTM_NEWLINK of interface {index}: {e}"))?;
    let Ok(ifindex) = u32::try_from(index) else {
        return Ok(None);
    };
    if ifindex == 0
        || kind != ARPHRD_ETHER
        || flags & IFF_UP == 0
        || flags & IFF_LOWER_UP == 0
        || flags & IFF_LOOPBACK != 0
    {
        return Ok(None);
    }
    let mac = attrs
        .iter()
        .find(|(k, _)| *k == IFLA_ADDRESS)
        .and_then(|(_, v)| <[u8; 6]>::try_from(*v).ok());
    Ok(mac.filter(is_unicast).map(|mac| EtherLink { ifindex, mac }))
}

/// An IPv4 address of an interface, with the prefix of its segment.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct InetAddr {
    ifindex: u32,
    addr: Ipv4Addr,
    prefix_len: u8,
}

/// The address an `RTM_NEWADDR` payload describes, if it is IPv4 with a
/// prefix of 1 to 31 (a /32 is a VIP, not a segment; a /0 would match
/// everything, and peers refuse it); `Ok(None)` otherwise. The address is
/// IFA_LOCAL, else IFA_ADDRESS (they differ only on point-to-point links,
/// where IFA_ADDRESS is the far end). Malformed bytes are an error.
fn parse_addr(payload: &[u8]) -> Result<Option<InetAddr>, String> {
    let (Some(&family), Some(&prefix_len), Some(ifindex)) =
        (payload.first(), payload.get(1), u32_at(payload, 4))
    else {
        return Err(format!(
            "an RTM_NEWADDR of {} bytes, shorter than struct ifaddrmsg",
            payload.len()
        ));
    };
    let attrs = attributes(payload.get(IFADDRMSG_LEN..).unwrap_or(&[]))
        .map_err(|e| format!("RTM_NEWADDR of interface {ifindex}: {e}"))?;
    if family != AF_INET || !(1..32).contains(&prefix_len) || ifindex == 0 {
        return Ok(None);
    }
    let value = |kind: u16| -> Result<Option<Ipv4Addr>, String> {
        match attrs.iter().find(|(k, _)| *k == kind) {
            None => Ok(None),
            Some((_, v)) => <[u8; 4]>::try_from(*v)
                .map(|o| Some(Ipv4Addr::from(o)))
                .map_err(|_| {
                    format!(
                        "RTM_NEWADDR of interface {ifindex}: a {}-byte IPv4 address",
                        v.len()
                    )
                }),
        }
    };
    let addr = match value(IFA_LOCAL)? {
        Some(a) => Some(a),
        None => value(IFA_ADDRESS)?,
    };
    Ok(addr.map(|addr| InetAddr {
        ifindex,
        addr,
        prefix_len,
    }))
}

/// The links of `links` and `addrs` joined on the interface index, sorted
/// by ifindex then address (so the choice is stable from one reading to
/// the next), and cut to [`MAX_LINKS`].
fn join(links: &[EtherLink], addrs: &[InetAddr]) -> Vec<Link> {
    let mut out: Vec<Link> = addrs
        .iter()
        .filter_map(|a| {
            let l = links.iter().find(|l| l.ifindex == a.ifindex)?;
            Some(Link {
                ifindex: a.ifindex,
                mac: l.mac,
                addr: a.addr,
                prefix_len: a.prefix_len,
            })
        })
        .collect();
    out.sort_by_key(|l| (l.ifindex, l.addr, l.prefix_len));
    out.dedup();
    out.truncate(MAX_LINKS);
    out
}

/// Hands the `want` messages of request `seq` in a datagram to `take`, and
/// says whether the dump is done. Messages of another request are skipped
/// (left over from an earlier attempt). A refusal (NLMSG_ERROR with a
/// non-zero code, or a negative code with NLMSG_DONE) becomes that errno; a
/// dump the kernel marks inconsistent becomes `ErrorKind::Interrupted`, so
/// that it is read again.
fn absorb(
    datagram: &[u8],
    seq: u32,
    want: u16,
    take: &mut dyn FnMut(&[u8]) -> Result<(), String>,
) -> io::Result<bool> {
    let invalid = |e: String| io::Error::new(io::ErrorKind::InvalidData, e);
    for m in messages(datagram).map_err(invalid)? {
        if m.seq != seq {
            continue;
        }
        if m.flags & NLM_F_DUMP_INTR != 0 {
            return Err(io::Error::new(
                io::ErrorKind::Interrupted,
                "the dump was interrupted by a change",
            ));
        }
        match m.kind {
            NLMSG_DONE => {
                // The code is there since Linux 2.6; a missing one is success.
                return match i32_at(m.payload, 0) {
                    Some(code) if code < 0 => Err(io::Error::from_raw_os_error(-code)),
                    _ => Ok(true),
                };
            }
            NLMSG_ERROR => {
                let code = i32_at(m.payload, 0)
                    .ok_or_else(|| invalid("a truncated NLMSG_ERROR".into()))?;
                if code != 0 {
                    return Err(io::Error::from_raw_os_error(code.saturating_neg()));
                }
            }
            NLMSG_OVERRUN => return Err(io::Error::other("the kernel reports an overrun")),
            NLMSG_NOOP => {}
            k if k == want => take(m.payload).map_err(invalid)?,
            _ => {}
        }
    }
    Ok(false)
}

/// A dump request: a netlink header, then `body` (the family header).
fn request(kind: u16, seq: u32, body: &[u8]) -> Vec<u8> {
    let len = NLMSG_HDRLEN + body.len();
    let mut out = Vec::with_capacity(len);
    out.extend_from_slice(&u32::try_from(len).unwrap_or(u32::MAX).to_ne_bytes());
    out.extend_from_slice(&kind.to_ne_bytes());
    out.extend_from_slice(&(NLM_F_REQUEST | NLM_F_DUMP).to_ne_bytes());
    out.extend_from_slice(&seq.to_ne_bytes());
    out.extend_from_slice(&0u32.to_ne_bytes());
    out.extend_from_slice(body);
    out
}

/// Sends a dump request and hands every answer of type `want` to `take`,
/// with a plain receive loop up to NLMSG_DONE.
fn dump(
    socket: &Socket,
    seq: u32,
    kind: u16,
    body: &[u8],
    want: u16,
    take: &mut dyn FnMut(&[u8]) -> Result<(), String>,
) -> io::Result<()> {
    let req = request(kind, seq, body);
    let sent = socket.send(&req, 0)?;
    if sent != req.len() {
        return Err(io::Error::other(format!(
            "sent {sent} of {} bytes of a dump request",
            req.len()
        )));
    }
    loop {
        let datagram = match socket.recv_from_full() {
            Ok((d, _)) => d,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                return Err(io::Error::new(
                    io::ErrorKind::TimedOut,
                    "rtnetlink did not finish its dump in time",
                ))
            }
            Err(e) => return Err(e),
        };
        if absorb(&datagram, seq, want, take)? {
            return Ok(());
        }
    }
}

/// One reading of the links and addresses, with request numbers from `seq`.
fn read_links(socket: &Socket, seq: u32) -> io::Result<Vec<Link>> {
    let mut links = Vec::new();
    dump(
        socket,
        seq,
        RTM_GETLINK,
        &[0u8; IFINFOMSG_LEN],
        RTM_NEWLINK,
        &mut |p| {
            links.extend(parse_link(p)?);
            Ok(())
        },
    )?;
    let mut addrs = Vec::new();
    let mut body = [0u8; IFADDRMSG_LEN];
    body[0] = AF_INET;
    dump(
        socket,
        seq.wrapping_add(1),
        RTM_GETADDR,
        &body,
        RTM_NEWADDR,
        &mut |p| {
            // Only addresses of eligible interfaces are kept, so a
            // namespace with many addresses costs no memory here.
            if let Some(a) = parse_addr(p)? {
                if links.iter().any(|l: &EtherLink| l.ifindex == a.ifindex) {
                    addrs.push(a);
                }
            }
            Ok(())
        },
    )?;
    Ok(join(&links, &addrs))
}

/// This namespace's Ethernet links: every IPv4 address with a prefix shorter than /32 (a /32 is a VIP, not a segment)
/// on an interface that is up, of type Ethernet (ARPHRD_ETHER = 1) with a 6-byte hardware address, not loopback.
/// Read with rtnetlink dumps (RTM_GETLINK for type, flags IFF_UP and IFF_LOWER_UP, IFLA_ADDRESS; RTM_GETADDR with AF_INET for IFA_LOCAL (fall back to IFA_ADDRESS) and ifa_prefixlen), using netlink-sys (socket NETLINK_ROUTE), a plain receive loop to NLMSG_DONE, checking NLMSG_ERROR.
/// At most MAX_LINKS (sorted by ifindex then addr, so the choice is stable).
///
/// A link is also left out when its prefix is /0 or its MAC is not unicast,
/// because peers refuse a message carrying such a link ([`decode`]). A dump
/// the kernel marks inconsistent (interfaces changed while it was read) is
/// read again, up to three times; each wait for the kernel is bounded, so
/// the daemon cannot hang here.
pub fn local_links() -> io::Result<Vec<Link>> {
    let mut socket = Socket::new(NETLINK_ROUTE)?;
    socket.bind_auto()?;
    rustix::net::sockopt::set_socket_timeout(
        &socket,
        rustix::net::sockopt::Timeout::Recv,
        Some(RECEIVE_TIMEOUT),
    )?;
    let mut attempt = 0;
    loop {
        attempt += 1;
        match read_links(&socket, attempt * 2) {
            Err(e) if e.kind() == io::ErrorKind::Interrupted && attempt < DUMP_ATTEMPTS => {}
            other => return other,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn link(ifindex: u32, mac_last: u8, addr: [u8; 4], prefix_len: u8) -> Link {
        Link {
            ifindex,
            mac: [0x02, 0, 0, 0, 0, mac_last],
            addr: Ipv4Addr::from(addr),
            prefix_len,
        }
    }

    fn two_links() -> Vec<Link> {
        vec![
            link(0, 0x11, [10, 9, 0, 1], 24),
            link(0, 0x12, [10, 8, 0, 1], 24),
        ]
    }

    // -- ring message ------------------------------------------------------

    #[test]
    fn round_trip_keeps_every_field_but_the_ifindex() {
        let mut links = two_links();
        links[0].ifindex = 7;
        links[1].prefix_len = 32;
        let bytes = encode(&links);
        assert_eq!(&bytes[..6], b"RGLK\x01\x02");
        assert_eq!(bytes.len(), 6 + 2 * 11);
        assert_eq!(
            &bytes[6..17],
            &[0x02, 0, 0, 0, 0, 0x11, 10, 9, 0, 1, 24][..]
        );
        let back = decode(&bytes).unwrap();
        links[0].ifindex = 0;
        assert_eq!(back, links);
        assert_eq!(decode(&encode(&[])).unwrap(), vec![]);
    }

    #[test]
    fn encode_truncates_to_max_links() {
        let many: Vec<Link> = (0..MAX_LINKS as u8 + 3)
            .map(|i| link(0, i * 2 + 2, [10, 0, i, 1], 24))
            .collect();
        let bytes = encode(&many);
        assert_eq!(bytes[5] as usize, MAX_LINKS);
        assert_eq!(decode(&bytes).unwrap(), many[..MAX_LINKS].to_vec());
    }

    #[test]
    fn every_truncation_of_a_valid_message_is_refused() {
        let bytes = encode(&two_links());
        for n in 0..bytes.len() {
            assert!(decode(&bytes[..n]).is_err(), "{n} bytes accepted");
        }
        assert!(decode(&bytes).is_ok());
    }

    #[test]
    fn is_links_checks_only_the_magic() {
        assert!(is_links(b"RGLK"));
        assert!(is_links(b"RGLK\x09garbage"));
        assert!(!is_links(b"RGL"));
        assert!(!is_links(b"XGLK\x01\x00"));
        assert!(!is_links(b""));
    }

    fn refused(bytes: &[u8], words: &str) {
        let e = decode(bytes).unwrap_err();
        assert!(e.contains(words), "{e:?} does not mention {words:?}");
    }

    #[test]
    fn a_wrong_magic_or_version_is_refused() {
        let mut bytes = encode(&two_links());
        bytes[0] = b'X';
        refused(&bytes, "magic");
        let mut bytes = encode(&two_links());
        bytes[4] = 2;
        refused(&bytes, "version 2");
        bytes[4] = 0;
        refused(&bytes, "version 0");
    }

    #[test]
    fn a_count_over_max_links_is_refused() {
        let many: Vec<Link> = (0..MAX_LINKS as u8 + 1)
            .map(|i| link(0, i * 2 + 2, [10, 0, i, 1], 24))
            .collect();
        let mut bytes = b"RGLK\x01".to_vec();
        bytes.push(MAX_LINKS as u8 + 1);
        for l in &many {
            bytes.extend_from_slice(&l.mac);
            bytes.extend_from_slice(&l.addr.octets());
            bytes.push(l.prefix_len);
        }
        refused(&bytes, "more than the 16");
        // The same message with the count at the limit is accepted.
        let bytes = encode(&many);
        assert_eq!(decode(&bytes).unwrap().len(), MAX_LINKS);
    }

    #[test]
    fn a_length_other_than_the_count_says_is_refused() {
        let mut bytes = encode(&two_links());
        bytes.push(0);
        refused(&bytes, "exactly 28");
        let mut bytes = encode(&two_links());
        bytes[5] = 1;
        refused(&bytes, "exactly 17");
        bytes[5] = 3;
        refused(&bytes, "exactly 39");
    }

    #[test]
    fn a_prefix_of_zero_or_over_32_is_refused() {
        for (p, ok) in [
            (0u8, false),
            (1, true),
            (32, true),
            (33, false),
            (255, false),
        ] {
            let mut links = two_links();
            links[1].prefix_len = p;
            let r = decode(&encode(&links));
            assert_eq!(r.is_ok(), ok, "prefix {p}: {r:?}");
            if !ok {
                assert!(r.unwrap_err().contains("link 1 has prefix length"));
            }
        }
    }

    #[test]
    fn a_group_or_zero_mac_is_refused() {
        for mac in [
            [0xff; 6],
            [0x01, 0x00, 0x5e, 0, 0, 1],
            [0x33, 0x33, 0, 0, 0, 1],
            [0; 6],
        ] {
            let mut links = two_links();
            links[0].mac = mac;
            let e = decode(&encode(&links)).unwrap_err();
            assert!(e.contains("link 0 has MAC"), "{e}");
        }
        // A locally administered unicast MAC is fine.
        let mut links = two_links();
        links[0].mac = [0x02, 0, 0, 0, 0, 0];
        assert!(decode(&encode(&links)).is_ok());
    }

    // -- forwarding table -------------------------------------------------

    const MAC_2A: [u8; 6] = [0x02, 0, 0, 0, 2, 0xa];
    const MAC_2B: [u8; 6] = [0x02, 0, 0, 0, 2, 0xb];
    const MAC_3A: [u8; 6] = [0x02, 0, 0, 0, 3, 0xa];
    const MAC_3B: [u8; 6] = [0x02, 0, 0, 0, 3, 0xb];

    fn peer(mac: [u8; 6], addr: [u8; 4], prefix_len: u8) -> Link {
        Link {
            ifindex: 0,
            mac,
            addr: Ipv4Addr::from(addr),
            prefix_len,
        }
    }

    /// Node 1 on 10.9.0.0/24 (ifindex 4) and 10.8.0.0/24 (ifindex 5);
    /// nodes 2 and 3 on both, each segment with its own MAC.
    fn cluster() -> (Vec<Link>, BTreeMap<u16, Vec<Link>>) {
        let local = vec![
            link(5, 0x15, [10, 8, 0, 1], 24),
            link(4, 0x14, [10, 9, 0, 1], 24),
        ];
        let mut announced = BTreeMap::new();
        announced.insert(
            2,
            vec![
                peer(MAC_2A, [10, 9, 0, 2], 24),
                peer(MAC_2B, [10, 8, 0, 2], 24),
            ],
        );
        announced.insert(
            3,
            vec![
                peer(MAC_3B, [10, 8, 0, 3], 24),
                peer(MAC_3A, [10, 9, 0, 3], 24),
            ],
        );
        (local, announced)
    }

    fn route(node: u16, ifindex: u32, mac: [u8; 6]) -> PeerRoute {
        PeerRoute { node, ifindex, mac }
    }

    #[test]
    fn two_segments_three_nodes_reach_each_peer_on_both() {
        let (local, announced) = cluster();
        let routes = peer_routes(&local, &announced, &[3, 1, 2], 1);
        assert_eq!(
            routes,
            vec![
                route(2, 4, MAC_2A),
                route(2, 5, MAC_2B),
                route(3, 4, MAC_3A),
                route(3, 5, MAC_3B),
            ]
        );
    }

    #[test]
    fn non_members_me_and_silent_members_get_no_route() {
        let (local, mut announced) = cluster();
        // Node 1's own announcement (as the ring echoes it) is not a peer.
        announced.insert(1, vec![peer(MAC_3A, [10, 9, 0, 9], 24)]);
        let routes = peer_routes(&local, &announced, &[1, 2, 4], 1);
        assert_eq!(routes, vec![route(2, 4, MAC_2A), route(2, 5, MAC_2B)]);
        // Node 4 is a member but announced nothing; node 3 announced but
        // is not a member.
        assert!(routes.iter().all(|r| r.node == 2));
        assert!(peer_routes(&local, &announced, &[], 1).is_empty());
        assert!(peer_routes(&[], &announced, &[1, 2, 3], 1).is_empty());
    }

    #[test]
    fn host_addresses_other_subnets_and_other_prefixes_do_not_match() {
        let (local, _) = cluster();
        let mut announced = BTreeMap::new();
        announced.insert(
            2,
            vec![
                peer(MAC_2A, [10, 9, 0, 2], 32), // a VIP
                peer(MAC_2B, [10, 7, 0, 2], 24), // another subnet
                peer(MAC_3A, [10, 9, 0, 3], 16), // another prefix length
                peer(MAC_3B, [10, 8, 0, 1], 24), // my own address
                peer(MAC_3B, [10, 9, 1, 3], 24), // next /24
            ],
        );
        assert!(peer_routes(&local, &announced, &[1, 2], 1).is_empty());
        // The same peer with one good link gets exactly that route.
        announced
            .get_mut(&2)
            .unwrap()
            .push(peer(MAC_2A, [10, 9, 0, 254], 24));
        assert_eq!(
            peer_routes(&local, &announced, &[1, 2], 1),
            vec![route(2, 4, MAC_2A)]
        );
    }

    #[test]
    fn local_host_and_zero_prefixes_give_no_route() {
        let local = vec![
            link(4, 0x14, [10, 9, 0, 1], 32),
            link(6, 0x16, [0, 0, 0, 0], 0),
        ];
        let mut announced = BTreeMap::new();
        announced.insert(
            2,
            vec![
                peer(MAC_2A, [10, 9, 0, 2], 32),
                peer(MAC_2B, [10, 9, 0, 3], 0),
            ],
        );
        assert!(peer_routes(&local, &announced, &[2], 1).is_empty());
    }

    #[test]
    fn one_route_per_node_and_interface_the_smallest_mac() {
        let (local, _) = cluster();
        let mut announced = BTreeMap::new();
        announced.insert(
            2,
            vec![
                peer(MAC_2B, [10, 9, 0, 2], 24),
                peer(MAC_2A, [10, 9, 0, 12], 24),
                peer(MAC_2B, [10, 9, 0, 22], 24),
            ],
        );
        let routes = peer_routes(&local, &announced, &[2, 2], 1);
        assert_eq!(routes, vec![route(2, 4, MAC_2A)]);
        // The answer does not depend on the announcement's order.
        announced.get_mut(&2).unwrap().reverse();
        assert_eq!(peer_routes(&local, &announced, &[2], 1), routes);
    }

    #[test]
    fn the_table_is_bounded_by_members_times_max_links() {
        let local: Vec<Link> = (0..40u8)
            .map(|i| link(u32::from(i) + 1, 0x20, [10, i, 0, 1], 24))
            .collect();
        let theirs: Vec<Link> = (0..40u8).map(|i| peer(MAC_2A, [10, i, 0, 2], 24)).collect();
        let announced: BTreeMap<u16, Vec<Link>> =
            [(2, theirs.clone()), (3, theirs)].into_iter().collect();
        let routes = peer_routes(&local, &announced, &[2, 3], 1);
        assert_eq!(routes.len(), 2 * MAX_LINKS);
    }

    // -- rtnetlink parsing -------------------------------------------------

    fn attr(kind: u16, value: &[u8]) -> Vec<u8> {
        let len = 4 + value.len();
        let mut out = (len as u16).to_ne_bytes().to_vec();
        out.extend_from_slice(&kind.to_ne_bytes());
        out.extend_from_slice(value);
        out.resize(align4(len), 0);
        out
    }

    fn ifinfo(kind: u16, index: i32, flags: u32, attrs: &[Vec<u8>]) -> Vec<u8> {
        let mut out = vec![0u8, 0];
        out.extend_from_slice(&kind.to_ne_bytes());
        out.extend_from_slice(&index.to_ne_bytes());
        out.extend_from_slice(&flags.to_ne_bytes());
        out.extend_from_slice(&0u32.to_ne_bytes());
        for a in attrs {
            out.extend_from_slice(a);
        }
        out
    }

    fn ifaddr(family: u8, prefix_len: u8, index: u32, attrs: &[Vec<u8>]) -> Vec<u8> {
        let mut out = vec![family, prefix_len, 0, 0];
        out.extend_from_slice(&index.to_ne_bytes());
        for a in attrs {
            out.extend_from_slice(a);
        }
        out
    }

    fn nlmsg(kind: u16, flags: u16, seq: u32, payload: &[u8]) -> Vec<u8> {
        let len = NLMSG_HDRLEN + payload.len();
        let mut out = (len as u32).to_ne_bytes().to_vec();
        out.extend_from_slice(&kind.to_ne_bytes());
        out.extend_from_slice(&flags.to_ne_bytes());
        out.extend_from_slice(&seq.to_ne_bytes());
        out.extend_from_slice(&77u32.to_ne_bytes());
        out.extend_from_slice(payload);
        out.resize(align4(len), 0);
        out
    }

    const MAC: [u8; 6] = [0x02, 0xfc, 0, 0, 0, 1];
    const UP: u32 = IFF_UP | IFF_LOWER_UP | 0x1000 | 0x2;

    #[test]
    fn a_link_is_read_with_its_attributes_in_any_order() {
        let name = attr(3, b"eth0\0");
        let mtu = attr(4, &1500u32.to_ne_bytes());
        let nested = attr(26 | 0x8000, &attr(1, &[0; 4]));
        let address = attr(IFLA_ADDRESS, &MAC);
        let broadcast = attr(2, &[0xff; 6]);
        let want = Some(EtherLink {
            ifindex: 3,
            mac: MAC,
        });
        for attrs in [
            vec![
                name.clone(),
                address.clone(),
                broadcast.clone(),
                mtu.clone(),
            ],
            vec![
                broadcast.clone(),
                mtu.clone(),
                nested.clone(),
                address.clone(),
            ],
            vec![address.clone(), nested, name],
        ] {
            assert_eq!(parse_link(&ifinfo(1, 3, UP, &attrs)).unwrap(), want);
        }
    }

    #[test]
    fn links_that_cannot_carry_a_segment_are_skipped() {
        let address = attr(IFLA_ADDRESS, &MAC);
        let ok = |kind, index, flags, attrs: &[&[u8]]| {
            let attrs: Vec<Vec<u8>> = attrs.iter().map(|a| a.to_vec()).collect();
            parse_link(&ifinfo(kind, index, flags, &attrs)).unwrap()
        };
        assert!(ok(1, 3, UP, &[&address]).is_some());
        // Not Ethernet: loopback (772), an IP tunnel (768), none (65534).
        for kind in [772, 768, 65534] {
            assert_eq!(ok(kind, 3, UP, &[&address]), None, "type {kind}");
        }
        assert_eq!(ok(1, 3, UP & !IFF_UP, &[&address]), None);
        // Up but without carrier.
        assert_eq!(ok(1, 3, UP & !IFF_LOWER_UP, &[&address]), None);
        assert_eq!(ok(1, 3, UP | IFF_LOOPBACK, &[&address]), None);
        assert_eq!(ok(1, 0, UP, &[&address]), None);
        assert_eq!(ok(1, -1, UP, &[&address]), None);
        assert_eq!(ok(1, 3, UP, &[]), None);
        assert_eq!(ok(1, 3, UP, &[&attr(IFLA_ADDRESS, &MAC[..4])]), None);
        assert_eq!(ok(1, 3, UP, &[&attr(IFLA_ADDRESS, &[0; 6])]), None);
        assert_eq!(ok(1, 3, UP, &[&attr(IFLA_ADDRESS, &[0xff; 6])]), None);
    }

    #[test]
    fn a_truncated_link_message_is_refused() {
        let full = ifinfo(1, 3, UP, &[attr(3, b"eth0\0"), attr(IFLA_ADDRESS, &MAC)]);
        // A cut inside the header, an attribute header or an attribute's
        // value is refused; a cut at the end of an attribute (with or
        // without its padding) leaves a shorter but well-formed message.
        // The name takes 16..25 (padded to 28), the address 28..38 (to 40).
        let whole = [16, 25, 26, 27, 28, 38, 39];
        for n in 0..full.len() {
            let r = parse_link(&full[..n]);
            assert_eq!(r.is_ok(), whole.contains(&n), "{n} bytes: {r:?}");
        }
        assert_eq!(full.len(), 40);
        // An attribute claiming more than there is, or less than its header.
        let mut long = ifinfo(1, 3, UP, &[attr(IFLA_ADDRESS, &MAC)]);
        long[IFINFOMSG_LEN] = 200;
        assert!(parse_link(&long).unwrap_err().contains("length 200"));
        let mut short = ifinfo(1, 3, UP, &[attr(IFLA_ADDRESS, &MAC)]);
        short[IFINFOMSG_LEN..IFINFOMSG_LEN + 2].copy_from_slice(&2u16.to_ne_bytes());
        assert!(parse_link(&short).is_err());
    }

    #[test]
    fn an_address_prefers_ifa_local_in_any_order() {
        let local = attr(IFA_LOCAL, &[10, 9, 0, 1]);
        let address = attr(IFA_ADDRESS, &[10, 9, 0, 99]);
        let label = attr(3, b"eth0\0");
        let want = Some(InetAddr {
            ifindex: 4,
            addr: Ipv4Addr::new(10, 9, 0, 1),
            prefix_len: 24,
        });
        for attrs in [
            vec![address.clone(), local.clone(), label.clone()],
            vec![label.clone(), local.clone(), address.clone()],
            vec![local.clone()],
        ] {
            assert_eq!(parse_addr(&ifaddr(AF_INET, 24, 4, &attrs)).unwrap(), want);
        }
        // Without IFA_LOCAL, IFA_ADDRESS is the address.
        let got = parse_addr(&ifaddr(AF_INET, 24, 4, &[label, address])).unwrap();
        assert_eq!(got.map(|a| a.addr), Some(Ipv4Addr::new(10, 9, 0, 99)));
        assert_eq!(parse_addr(&ifaddr(AF_INET, 24, 4, &[])).unwrap(), None);
    }

    #[test]
    fn addresses_that_are_not_segments_are_skipped() {
        let local = attr(IFA_LOCAL, &[10, 9, 0, 1]);
        let read = |family, prefix, index| {
            parse_addr(&ifaddr(family, prefix, index, std::slice::from_ref(&local))).unwrap()
        };
        assert!(read(AF_INET, 31, 4).is_some());
        assert!(read(AF_INET, 1, 4).is_some());
        assert_eq!(read(AF_INET, 32, 4), None);
        assert_eq!(read(AF_INET, 0, 4), None);
        assert_eq!(read(10, 24, 4), None); // AF_INET6
        assert_eq!(read(AF_INET, 24, 0), None);
    }

    #[test]
    fn a_malformed_address_message_is_refused() {
        let full = ifaddr(AF_INET, 24, 4, &[attr(IFA_LOCAL, &[10, 9, 0, 1])]);
        for n in 0..full.len() {
            let r = parse_addr(&full[..n]);
            assert_eq!(r.is_ok(), n == IFADDRMSG_LEN, "{n} bytes: {r:?}");
        }
        let odd = ifaddr(AF_INET, 24, 4, &[attr(IFA_LOCAL, &[10, 9, 0])]);
        assert!(parse_addr(&odd).unwrap_err().contains("3-byte"));
    }

    #[test]
    fn links_and_addresses_are_joined_sorted_and_bounded() {
        let links = [
            EtherLink {
                ifindex: 5,
                mac: [2, 0, 0, 0, 0, 5],
            },
            EtherLink {
                ifindex: 4,
                mac: [2, 0, 0, 0, 0, 4],
            },
        ];
        let a = |ifindex, last, prefix_len| InetAddr {
            ifindex,
            addr: Ipv4Addr::new(10, 9, 0, last),
            prefix_len,
        };
        let addrs = [
            a(5, 1, 24),
            a(9, 1, 24),
            a(4, 7, 24),
            a(4, 3, 16),
            a(4, 7, 24),
        ];
        let got = join(&links, &addrs);
        let want = |ifindex, last, prefix_len| Link {
            ifindex,
            mac: [2, 0, 0, 0, 0, ifindex as u8],
            addr: Ipv4Addr::new(10, 9, 0, last),
            prefix_len,
        };
        assert_eq!(got, vec![want(4, 3, 16), want(4, 7, 24), want(5, 1, 24)]);

        let many: Vec<InetAddr> = (0..40).rev().map(|i| a(4, i, 24)).collect();
        let got = join(&links, &many);
        assert_eq!(got.len(), MAX_LINKS);
        assert_eq!(got[0].addr, Ipv4Addr::new(10, 9, 0, 0));
        assert_eq!(got[MAX_LINKS - 1].addr, Ipv4Addr::new(10, 9, 0, 15));
    }

    #[test]
    fn a_dump_collects_its_messages_up_to_done() {
        let mut datagram = nlmsg(RTM_NEWLINK, 2, 9, b"one!");
        datagram.extend(nlmsg(RTM_NEWLINK, 2, 8, b"stale"));
        datagram.extend(nlmsg(NLMSG_NOOP, 0, 9, b""));
        datagram.extend(nlmsg(RTM_NEWADDR, 2, 9, b"other"));
        datagram.extend(nlmsg(NLMSG_ERROR, 0, 9, &0i32.to_ne_bytes()));
        datagram.extend(nlmsg(RTM_NEWLINK, 2, 9, b"two"));
        let mut seen = Vec::new();
        let mut take = |p: &[u8]| {
            seen.push(p.to_vec());
            Ok(())
        };
        assert!(!absorb(&datagram, 9, RTM_NEWLINK, &mut take).unwrap());
        let done = nlmsg(NLMSG_DONE, 2, 9, &0i32.to_ne_bytes());
        assert!(absorb(&done, 9, RTM_NEWLINK, &mut take).unwrap());
        assert_eq!(seen, vec![b"one!".to_vec(), b"two".to_vec()]);
        // A DONE without a code (very old kernels) also ends the dump.
        assert!(
            absorb(&nlmsg(NLMSG_DONE, 2, 9, b""), 9, RTM_NEWLINK, &mut |_| Ok(
                ()
            ))
            .unwrap()
        );
    }

    #[test]
    fn a_dump_refusal_is_its_errno() {
        let mut nothing = |_: &[u8]| Ok(());
        let error = nlmsg(NLMSG_ERROR, 0, 9, &(-1i32).to_ne_bytes());
        let e = absorb(&error, 9, RTM_NEWLINK, &mut nothing).unwrap_err();
        assert_eq!(e.raw_os_error(), Some(1));
        let done = nlmsg(NLMSG_DONE, 2, 9, &(-22i32).to_ne_bytes());
        let e = absorb(&done, 9, RTM_NEWLINK, &mut nothing).unwrap_err();
        assert_eq!(e.raw_os_error(), Some(22));
        // Another request's refusal is not this one's.
        assert!(!absorb(&error, 8, RTM_NEWLINK, &mut nothing).unwrap());
        let short = nlmsg(NLMSG_ERROR, 0, 9, &[0xff, 0xff]);
        assert!(absorb(&short, 9, RTM_NEWLINK, &mut nothing).is_err());
        let overrun = nlmsg(NLMSG_OVERRUN, 0, 9, b"");
        assert!(absorb(&overrun, 9, RTM_NEWLINK, &mut nothing).is_err());
    }

    #[test]
    fn an_interrupted_or_malformed_dump_is_refused() {
        let mut nothing = |_: &[u8]| Ok(());
        let intr = nlmsg(RTM_NEWLINK, 2 | NLM_F_DUMP_INTR, 9, b"x");
        let e = absorb(&intr, 9, RTM_NEWLINK, &mut nothing).unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::Interrupted);

        let good = nlmsg(RTM_NEWLINK, 2, 9, b"abcd");
        for n in 1..good.len() {
            let r = absorb(&good[..n], 9, RTM_NEWLINK, &mut nothing);
            assert!(r.is_err(), "{n} bytes: {r:?}");
        }
        let mut claims_short = good.clone();
        claims_short[..4].copy_from_slice(&8u32.to_ne_bytes());
        assert!(absorb(&claims_short, 9, RTM_NEWLINK, &mut nothing).is_err());

        // A parse failure of a message is the dump's failure.
        let mut refuse = |_: &[u8]| Err("bad".to_string());
        let e = absorb(&good, 9, RTM_NEWLINK, &mut refuse).unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::InvalidData);
    }

    #[test]
    fn the_dump_requests_are_what_rtnetlink_expects() {
        let r = request(RTM_GETADDR, 5, &[AF_INET, 0, 0, 0, 0, 0, 0, 0]);
        assert_eq!(r.len(), 24);
        assert_eq!(u32_at(&r, 0), Some(24));
        assert_eq!(u16_at(&r, 4), Some(RTM_GETADDR));
        assert_eq!(u16_at(&r, 6), Some(NLM_F_REQUEST | NLM_F_DUMP));
        assert_eq!(u32_at(&r, 8), Some(5));
        assert_eq!(r[16], AF_INET);
    }

    #[test]
    fn local_links_reads_this_namespace() {
        let links = local_links().unwrap();
        assert!(links.len() <= MAX_LINKS);
        for l in &links {
            assert!((1..32).contains(&l.prefix_len), "{l:?}");
            assert_ne!(l.ifindex, 0, "{l:?}");
            assert!(is_unicast(&l.mac), "{l:?}");
        }
        let mut sorted = links.clone();
        sorted.sort_by_key(|l| (l.ifindex, l.addr));
        assert_eq!(links, sorted);
        // What is read can be announced: peers accept it.
        let mut back = links.clone();
        back.iter_mut().for_each(|l| l.ifindex = 0);
        assert_eq!(decode(&encode(&links)).unwrap(), back);
    }
}
