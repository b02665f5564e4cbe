//! Every bound of the protocol, in one place, with the relations between them
//! checked at compile time.

use crate::auth::TAG_LEN;

/// Most members a ring may have.
pub const MAX_NODES: usize = 32;
/// Largest datagram the protocol sends, tag included; fits an Ethernet MTU
/// after the IPv4 and UDP headers (1500 - 20 - 8).
pub const MAX_DATAGRAM: usize = 1472;
/// Bytes every packet spends on its header.
pub const HEADER_LEN: usize = 2 + 1 + 1 + 2 + crate::wire::RING_ID_LEN;
/// Bytes a data-carriage packet spends on its own fields.
pub const CARRIAGE_FIELDS_LEN: usize = 8 + 8 + 2 + 2 + 2 + 2;
/// Bytes of the freshness header (sender's epoch and counter) in front of
/// every packet, inside the authenticated part.
pub const FRESHNESS_LEN: usize = 8 + 8;
/// Counters of one sender a receiver remembers: a copy of any of them, or a
/// datagram older than all of them, is refused as a replay. A datagram that
/// arrives after its sender sent this many more counts as lost.
pub const REPLAY_WINDOW: u64 = 4096;
/// Payload bytes one data-carriage packet carries.
pub const MAX_FRAGMENT: usize =
    MAX_DATAGRAM - TAG_LEN - FRESHNESS_LEN - HEADER_LEN - CARRIAGE_FIELDS_LEN;
/// Largest application message; larger ones are refused at submit.
pub const MAX_MESSAGE: usize = 64 * 1024;
/// Largest snapshot (`Node::submit_snapshot`): it travels as a message
/// that also names the ring whose request it answers.
pub const MAX_SNAPSHOT: usize = MAX_MESSAGE - crate::wire::RING_ID_LEN;
/// Carriage packets one message may need.
pub const MAX_FRAGMENTS: usize = MAX_MESSAGE.div_ceil(MAX_FRAGMENT);
/// Carriage packets in flight (assigned but not yet received by every
/// member); also bounds what a node stores for retransmission and reassembly.
pub const WINDOW: u64 = 1024;
/// Carriage packets a node may broadcast per token visit (new and resent).
/// Kept near Totem's defaults: a larger burst overflows receivers' socket
/// buffers, and every drop costs a retransmission round.
pub const MAX_SEND_PER_VISIT: usize = 64;
/// New carriage packets the other members can assign between two visits of
/// the token to one member: each of them assigns at most
/// `MAX_SEND_PER_VISIT` per visit. A member takes packets and tokens up to
/// this far above the highest sequence number it has seen on the token, so
/// it refuses nothing a sender may legally send, whatever the window.
pub const ROTATION_SENDS: u64 = (MAX_NODES * MAX_SEND_PER_VISIT) as u64;
/// How far above what it delivered of its old ring a node takes packets
/// other survivors recovered. What a member holds above its aru is what was
/// sent within the window and the rotations it trails by; twice both is
/// ample, and it only bounds memory.
pub const RECOVERY_SPAN: u64 = 2 * (WINDOW + ROTATION_SENDS);
/// Retransmission requests the token carries.
pub const MAX_RTR: usize = 128;
/// Bytes of the token's fixed fields.
pub const TOKEN_FIELDS_LEN: usize = 8 + 8 + 8 + 2 + 2;
/// Small application messages packed into one carriage packet at most
/// (corosync packs up to 17).
pub const MAX_BATCH: usize = 32;
/// Bulk application messages a node queues while waiting for the token.
pub const MAX_PENDING: usize = 4096;
/// Control application messages a node queues while waiting for the token.
pub const MAX_PENDING_CONTROL: usize = 256;
/// Carriage packets of the window that bulk messages leave free, so a
/// control message never waits for bulk messages to become stable.
pub const CONTROL_RESERVE: u64 = MAX_SEND_PER_VISIT as u64;

// A full token and a full carriage packet each fit one datagram.
const _: () =
    assert!(FRESHNESS_LEN + HEADER_LEN + TOKEN_FIELDS_LEN + MAX_RTR * 8 + TAG_LEN <= MAX_DATAGRAM);
const _: () = assert!(
    FRESHNESS_LEN + HEADER_LEN + CARRIAGE_FIELDS_LEN + MAX_FRAGMENT + TAG_LEN == MAX_DATAGRAM
);
// The replay window is a whole number of 64-bit words, and holds more than a
// sender sends in a rotation, so reordering within a rotation is not loss.
const _: () = assert!(REPLAY_WINDOW / 64 * 64 == REPLAY_WINDOW);
const _: () = assert!(REPLAY_WINDOW >= 2 * MAX_SEND_PER_VISIT as u64 + 2 * MAX_NODES as u64);
// A whole message can be sent in one visit, and fits the window.
const _: () = assert!(MAX_FRAGMENTS <= MAX_SEND_PER_VISIT);
const _: () = assert!((MAX_SEND_PER_VISIT as u64) <= WINDOW);
// Receivers take a whole rotation of every member's sends, and the window a
// sender may fill is no wider: in a full ring of MAX_NODES every member can
// send its whole budget on every visit without ever being refused, and the
// store of a member (bounded by the window plus what it takes ahead) holds
// at most two rotations.
const _: () = assert!(ROTATION_SENDS == MAX_NODES as u64 * MAX_SEND_PER_VISIT as u64);
const _: () = assert!(WINDOW <= ROTATION_SENDS);
// Recovery takes everything a survivor may hold above another's delivery.
const _: () = assert!(RECOVERY_SPAN >= WINDOW + ROTATION_SENDS + MAX_FRAGMENTS as u64);
// Bulk messages still get most of the window, and the reserve holds a
// whole control message of the largest size.
const _: () = assert!(CONTROL_RESERVE * 4 <= WINDOW);
const _: () = assert!(MAX_FRAGMENTS as u64 <= CONTROL_RESERVE);
// Fragment indexes and counts travel as u16, node ids too.
const _: () = assert!(MAX_FRAGMENTS <= u16::MAX as usize);
const _: () = assert!(MAX_NODES <= u16::MAX as usize);
// The whole window can be requested within a few rotations.
const _: () = assert!(MAX_RTR as u64 * 8 >= WINDOW);
