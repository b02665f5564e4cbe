// SPDX-License-Identifier: GPL-2.0

//! Stage transitions of a TCP session, seen from both of its entries.

use crate::stage::Stage;
use crate::tcp::{continues, opens, Direction, Maker, Segment, RST_WINDOW};

const FIN: u8 = 0x01;
const SYN: u8 = 0x02;
const RST: u8 = 0x04;
const ACK: u8 = 0x10;

fn seg(flags: u8, seq: u32, ack: u32, payload: u32) -> Segment {
    Segment {
        flags,
        seq,
        ack,
        payload,
    }
}

/// A session opened by the client's SYN with sequence number `isn`: its
/// client-side and back-end-side directions, as `SessionTable::create` makes
/// them.
fn opened(isn: u32) -> (Direction, Direction) {
    let syn = seg(SYN, isn, 0, 0);
    (Direction::client(&syn), Direction::backend(&syn))
}

#[test]
fn handshake_establishes_only_after_the_backends_synack() {
    let (mut client, mut backend) = opened(1000);
    let stage = Stage::Syn;
    // The client's bare ACK before any SYN-ACK opens nothing.
    assert_eq!(
        client.after(stage, true, &seg(ACK, 1001, 77, 0)),
        Some(Stage::Syn)
    );
    // The back-end's SYN-ACK is recorded (and handed to the client's side).
    assert_eq!(
        backend.after(stage, false, &seg(SYN | ACK, 5000, 1001, 0)),
        Some(Stage::Syn)
    );
    assert!(backend.synack_seen());
    assert_eq!(backend.synack_ack(), 5001);
    client.mark_synack(backend.synack_ack());
    // Now the client's ACK establishes the connection.
    assert_eq!(
        client.after(stage, true, &seg(ACK, 1001, 5001, 0)),
        Some(Stage::Established)
    );
}

#[test]
fn a_syn_with_ack_from_the_client_is_no_synack() {
    let (mut client, _) = opened(1000);
    assert_eq!(
        client.after(Stage::Syn, true, &seg(SYN | ACK, 1000, 1, 0)),
        Some(Stage::Syn)
    );
    assert!(!client.synack_seen());
    assert_eq!(
        client.after(Stage::Syn, true, &seg(ACK, 1001, 1, 0)),
        Some(Stage::Syn)
    );
}

#[test]
fn data_from_the_backend_before_the_handshake_establishes_nothing() {
    let (_, mut backend) = opened(1000);
    assert_eq!(
        backend.after(Stage::Syn, false, &seg(ACK, 5000, 1001, 100)),
        Some(Stage::Syn)
    );
}

#[test]
fn a_reset_far_from_the_senders_sequence_changes_nothing() {
    let (mut client, _) = opened(1000);
    let far = 1001u32.wrapping_add(1 << 31);
    assert_eq!(
        client.after(Stage::Established, true, &seg(RST, far, 0, 0)),
        None
    );
    assert_eq!(
        client.after(
            Stage::Established,
            true,
            &seg(RST, 1001 + RST_WINDOW + 1, 0, 0)
        ),
        None
    );
    // Within the window, before or after the next sequence number: a reset.
    assert_eq!(
        client.after(Stage::Established, true, &seg(RST, 1001, 0, 0)),
        Some(Stage::Reset)
    );
    assert_eq!(
        client.after(
            Stage::Established,
            true,
            &seg(RST, 1001u32.wrapping_sub(4096), 0, 0)
        ),
        Some(Stage::Reset)
    );
}

#[test]
fn the_reset_window_works_across_the_sequence_wrap() {
    let isn = u32::MAX - 10;
    let (mut client, _) = opened(isn);
    // 100 bytes take the sequence past 2^32.
    let data = seg(ACK, isn.wrapping_add(1), 0, 100);
    assert_eq!(
        client.after(Stage::Established, true, &data),
        Some(Stage::Established)
    );
    let next = isn.wrapping_add(101);
    assert!(next < 100, "the test must cross the wrap");
    assert_eq!(
        client.after(Stage::Established, true, &seg(RST, next, 0, 0)),
        Some(Stage::Reset)
    );
    assert_eq!(
        client.after(
            Stage::Established,
            true,
            &seg(RST, next.wrapping_add(1 << 30), 0, 0)
        ),
        None
    );
}

#[test]
fn before_the_backend_spoke_only_a_reset_acking_the_syn_counts() {
    let (_, mut backend) = opened(1000);
    // A refusal: RST+ACK acknowledging the client's SYN.
    assert_eq!(
        backend
            .clone()
            .after(Stage::Syn, false, &seg(RST | ACK, 0, 1001, 0)),
        Some(Stage::Reset)
    );
    assert_eq!(
        backend
            .clone()
            .after(Stage::Syn, false, &seg(RST | ACK, 0, 1002, 0)),
        None
    );
    assert_eq!(
        backend.after(Stage::Syn, false, &seg(RST, 0, 1001, 0)),
        None
    );
}

#[test]
fn a_forged_segment_cannot_drag_the_sequence_far() {
    let (mut client, _) = opened(1000);
    // A segment claiming to be far ahead is not believed...
    client.after(
        Stage::Established,
        true,
        &seg(ACK, 1001 + 3 * RST_WINDOW, 0, 10),
    );
    // ...so a reset near the real sequence still counts, and one near the
    // forged sequence does not.
    assert_eq!(
        client
            .clone()
            .after(Stage::Established, true, &seg(RST, 1001, 0, 0)),
        Some(Stage::Reset)
    );
    assert_eq!(
        client.after(
            Stage::Established,
            true,
            &seg(RST, 1011 + 3 * RST_WINDOW, 0, 0)
        ),
        None
    );
}

#[test]
fn fin_closes_and_stages_never_go_back() {
    let (mut client, _) = opened(1000);
    assert_eq!(
        client.after(Stage::Established, true, &seg(FIN | ACK, 1001, 1, 0)),
        Some(Stage::Closing)
    );
    assert_eq!(
        client.after(Stage::Closing, true, &seg(ACK, 1002, 1, 0)),
        Some(Stage::Closing)
    );
    assert_eq!(
        client.after(Stage::Reset, true, &seg(SYN, 1002, 0, 0)),
        Some(Stage::Reset)
    );
}

#[test]
fn merge_keeps_the_later_of_each() {
    let (mut moved, _) = opened(1000);
    let (mut later, _) = opened(1000);
    later.after(Stage::Established, true, &seg(ACK, 1001, 1, 500));
    later.mark_synack(5001);
    moved.merge(&later);
    assert!(moved.synack_seen());
    // The merge carries the SYN-ACK's acknowledgement too.
    let mut copy = moved;
    assert_eq!(
        copy.after(Stage::Syn, true, &seg(ACK, 1501, 5001, 0)),
        Some(Stage::Established)
    );
    // The merged direction knows the sequence moved on by 500 bytes.
    assert_eq!(
        moved.after(Stage::Established, true, &seg(RST, 1501, 0, 0)),
        Some(Stage::Reset)
    );
    // Merging an older copy does not move it back.
    let (older, _) = opened(1000);
    let mut newer = later;
    newer.merge(&older);
    assert_eq!(newer, later);
}

#[test]
fn timeouts_follow_the_stage() {
    let t = crate::stage::Timeouts::DEFAULT;
    assert_eq!(t.secs(Stage::Syn), 30);
    assert_eq!(t.secs(Stage::Established), 900);
    assert_eq!(t.secs(Stage::Reset), 5);
    assert!(Stage::Established.is_active() && !Stage::Closing.is_active());
}

#[test]
fn a_stray_segment_cannot_plant_the_backends_sequence() {
    let (_, mut backend) = opened(1000);
    // Before the SYN-ACK, a segment from the back-end's side with some
    // sequence number: not believed.
    backend.after(Stage::Syn, false, &seg(ACK, 0x7000_0000, 1001, 0));
    // The real SYN-ACK sets it...
    backend.after(Stage::Syn, false, &seg(SYN | ACK, 5000, 1001, 0));
    assert!(backend.synack_seen());
    // ...so the back-end's own reset fits, and one near the stray does not.
    assert_eq!(
        backend
            .clone()
            .after(Stage::Established, false, &seg(RST, 5001, 0, 0)),
        Some(Stage::Reset)
    );
    assert_eq!(
        backend.after(Stage::Established, false, &seg(RST, 0x7000_0000, 0, 0)),
        None
    );
}

#[test]
fn a_synack_that_does_not_ack_the_syn_is_none() {
    let (_, mut backend) = opened(1000);
    backend.after(Stage::Syn, false, &seg(SYN | ACK, 5000, 4242, 0));
    assert!(!backend.synack_seen());
}

#[test]
fn only_a_syn_without_ack_opens_a_connection() {
    assert!(opens(SYN));
    assert!(opens(SYN | 0x08)); // with PSH
    assert!(!opens(SYN | ACK));
    assert!(!opens(ACK));
    assert!(!opens(RST));
    assert!(!opens(FIN | ACK));
}

#[test]
fn a_blind_pick_up_is_established_by_the_backends_answer_only() {
    let (mut client, mut backend) = (
        Direction::picked_up_blind(Maker::Client),
        Direction::picked_up_blind(Maker::Client),
    );
    // Any host can send the client's segments: they establish nothing.
    assert_eq!(
        client.after(Stage::Syn, true, &seg(ACK, 5000, 6000, 100)),
        Some(Stage::Syn)
    );
    assert_eq!(
        client.after(Stage::Syn, true, &seg(ACK, 5100, 6000, 100)),
        Some(Stage::Syn)
    );
    // The back-end answering with data or an ACK has the connection.
    assert_eq!(
        backend.after(Stage::Syn, false, &seg(ACK, 6000, 5200, 0)),
        Some(Stage::Established)
    );
    // Once established, a reset must fit as any other.
    assert_eq!(
        backend
            .clone()
            .after(Stage::Established, false, &seg(RST, 900_000_000, 0, 0)),
        None
    );
}

#[test]
fn a_clients_fin_does_not_move_a_blind_pick_up_out_of_its_handshake() {
    // A spoofed FIN must not leave a half-closed session, which is never
    // evicted, behind.
    let mut client = Direction::picked_up_blind(Maker::Client);
    assert_eq!(
        client.after(Stage::Syn, true, &seg(FIN | ACK, 5000, 6000, 0)),
        Some(Stage::Syn)
    );
    let mut backend = Direction::picked_up_blind(Maker::Client);
    assert_eq!(
        backend.after(Stage::Syn, false, &seg(RST, 6000, 0, 0)),
        Some(Stage::Reset)
    );
    // The back-end's own FIN answers: the connection exists and closes.
    let mut backend = Direction::picked_up_blind(Maker::Client);
    assert_eq!(
        backend.after(Stage::Syn, false, &seg(FIN | ACK, 6000, 5001, 0)),
        Some(Stage::Closing)
    );
}

#[test]
fn any_reset_ends_a_blind_pick_up_in_its_handshake() {
    // The back-end's answer to a segment of a connection it does not
    // have: a reset without ACK, its sequence the segment's ACK number.
    let mut backend = Direction::picked_up_blind(Maker::Client);
    assert_eq!(
        backend.after(Stage::Syn, false, &seg(RST, 6000, 0, 0)),
        Some(Stage::Reset)
    );
    // Without the blind mark (a session a peer announced), the same reset
    // cannot be judged and ends nothing.
    let mut told = Direction::picked_up();
    assert_eq!(told.after(Stage::Syn, false, &seg(RST, 6000, 0, 0)), None);
}

#[test]
fn a_pick_up_from_the_backends_segment_is_established_by_the_clients_answer_only() {
    let blind = || Direction::picked_up_blind(Maker::Backend);
    let (mut client, mut backend) = (blind(), blind());
    // Any host on the back-end side can send the back-end's segments,
    // its FIN included: they establish nothing.
    assert_eq!(
        backend.after(Stage::Syn, false, &seg(ACK, 6000, 5000, 100)),
        Some(Stage::Syn)
    );
    assert_eq!(
        backend.after(Stage::Syn, false, &seg(FIN | ACK, 6100, 5000, 0)),
        Some(Stage::Syn)
    );
    // The client acknowledging what it got has the connection.
    assert_eq!(
        client.after(Stage::Syn, true, &seg(ACK, 5000, 6100, 0)),
        Some(Stage::Established)
    );
    // The client's reset (it has no such connection) ends it, fitting or not.
    assert_eq!(
        blind().after(Stage::Syn, true, &seg(RST, 5000, 0, 0)),
        Some(Stage::Reset)
    );
    // The client's FIN answers too: the connection exists and closes.
    assert_eq!(
        blind().after(Stage::Syn, true, &seg(FIN | ACK, 5000, 6100, 0)),
        Some(Stage::Closing)
    );
}

#[test]
fn a_merged_blind_copy_keeps_the_end_that_made_it() {
    // Both ends' segments made copies at once: the first copy's maker
    // decides whose answer confirms, whichever copy merges into it.
    let mut by_client = Direction::picked_up_blind(Maker::Client);
    by_client.merge(&Direction::picked_up_blind(Maker::Backend));
    assert_eq!(
        by_client.after(Stage::Syn, true, &seg(ACK, 5000, 6000, 0)),
        Some(Stage::Syn)
    );
    let mut by_backend = Direction::picked_up_blind(Maker::Backend);
    by_backend.merge(&Direction::picked_up_blind(Maker::Client));
    assert_eq!(
        by_backend.after(Stage::Syn, false, &seg(ACK, 6000, 5000, 0)),
        Some(Stage::Syn)
    );
    // A copy a peer told of takes the blind copy's maker with its mark.
    let mut told = Direction::picked_up();
    told.merge(&Direction::picked_up_blind(Maker::Backend));
    assert_eq!(
        told.after(Stage::Syn, false, &seg(ACK, 6000, 5000, 0)),
        Some(Stage::Syn)
    );
    assert_eq!(
        told.after(Stage::Syn, true, &seg(ACK, 5000, 6000, 0)),
        Some(Stage::Established)
    );
}

#[test]
fn only_an_ack_without_syn_or_rst_may_be_picked_up_mid_stream() {
    assert!(continues(ACK));
    assert!(continues(ACK | 0x08)); // with PSH
    assert!(continues(FIN | ACK));
    assert!(!continues(SYN));
    assert!(!continues(SYN | ACK));
    assert!(!continues(RST));
    assert!(!continues(RST | ACK));
    assert!(!continues(FIN));
    assert!(!continues(0));
}

#[test]
fn an_imported_session_learns_its_sequence_numbers_from_its_first_segments() {
    let mut client = Direction::picked_up();
    let stage = Stage::Established;
    // Before any segment, a reset cannot be judged: it ends nothing.
    assert_eq!(
        client.clone().after(stage, true, &seg(RST, 70_000, 0, 0)),
        None
    );
    // The first data segment gives the client's next sequence number ...
    assert_eq!(
        client.after(stage, true, &seg(ACK, 70_000, 9, 100)),
        Some(Stage::Established)
    );
    // ... so a reset near it ends the connection, and one far off does not.
    assert_eq!(
        client.clone().after(stage, true, &seg(RST, 70_100, 0, 0)),
        Some(Stage::Reset)
    );
    assert_eq!(
        client.after(stage, true, &seg(RST, 70_100 + 2 * RST_WINDOW, 0, 0)),
        None
    );
}

#[test]
fn an_imported_session_never_learns_a_sequence_number_from_a_syn() {
    // A SYN on an established connection's ports is not its data: the
    // number it carries must not become the direction's.
    let mut client = Direction::picked_up();
    client.after(Stage::Established, true, &seg(SYN, 5, 0, 0));
    assert_eq!(
        client.after(Stage::Established, true, &seg(RST, 6, 0, 0)),
        None
    );
}

/// A session imported in its handshake completes it here when the
/// back-end's SYN-ACK and the client's ACK pass this node (found in
/// review: it stayed in Syn, with the short timeout, and was reset idle).
#[test]
fn an_imported_syn_session_completes_its_handshake_here() {
    let mut client = Direction::picked_up();
    let mut backend = Direction::picked_up();
    assert_eq!(
        client.after(Stage::Syn, true, &seg(SYN, 1000, 0, 0)),
        Some(Stage::Syn)
    );
    assert_eq!(
        backend.after(Stage::Syn, false, &seg(SYN | ACK, 5000, 1001, 0)),
        Some(Stage::Syn)
    );
    assert!(backend.synack_seen());
    client.mark_synack(backend.synack_ack());
    assert_eq!(
        client.after(Stage::Syn, true, &seg(ACK, 1001, 5001, 0)),
        Some(Stage::Established)
    );
}

/// ... and when the SYN-ACK passed on the node that created it, the
/// client's first acknowledgement here establishes it.
#[test]
fn an_imported_syn_session_is_established_by_the_clients_ack() {
    let mut client = Direction::picked_up();
    assert_eq!(
        client.after(Stage::Syn, true, &seg(ACK, 1001, 5001, 100)),
        Some(Stage::Established)
    );
    // A SYN alone does not.
    let mut client = Direction::picked_up();
    assert_eq!(
        client.after(Stage::Syn, true, &seg(SYN, 1000, 0, 0)),
        Some(Stage::Syn)
    );
}
