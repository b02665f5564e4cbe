// SPDX-License-Identifier: GPL-2.0

//! Session stages: their order (a session never goes back), timeouts and
//! which count as active.

use crate::stage::{Stage, Timeouts};

#[test]
fn stages_only_move_forward_along_a_connection() {
    // `SessionTable::advance` keeps the later of two stages: the order is
    // the life of a TCP connection.
    let life = [Stage::Syn, Stage::Established, Stage::Closing, Stage::Reset];
    for pair in life.windows(2) {
        assert!(pair[0] < pair[1], "{:?} before {:?}", pair[0], pair[1]);
        assert_eq!(pair[1].max(pair[0]), pair[1]);
    }
    assert_eq!(Stage::default(), Stage::Udp);
}

#[test]
fn each_stage_has_its_timeout() {
    let t = Timeouts::DEFAULT;
    assert_eq!(t.secs(Stage::Syn), 30);
    assert_eq!(t.secs(Stage::Established), 900);
    assert_eq!(t.secs(Stage::Closing), 60);
    assert_eq!(t.secs(Stage::Udp), 30);
    // A reset connection lingers briefly for stray packets.
    assert_eq!(t.secs(Stage::Reset), 5);
    let short = Timeouts { closing: 2, ..t };
    assert_eq!(short.secs(Stage::Reset), 2);
}

#[test]
fn closing_and_reset_sessions_count_as_inactive() {
    assert!(Stage::Syn.is_active());
    assert!(Stage::Established.is_active());
    assert!(Stage::Udp.is_active());
    assert!(!Stage::Closing.is_active());
    assert!(!Stage::Reset.is_active());
}

#[test]
fn stages_have_their_uapi_numbers() {
    // enum ringgate_session_stage: udp, syn, established, closing, reset.
    let numbers = [
        Stage::Udp,
        Stage::Syn,
        Stage::Established,
        Stage::Closing,
        Stage::Reset,
    ]
    .map(Stage::uapi);
    assert_eq!(numbers, [0, 1, 2, 3, 4]);
}
