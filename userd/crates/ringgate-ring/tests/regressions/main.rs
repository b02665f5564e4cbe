//! Named regression tests: each replays, on the public `Node` API, a defect
//! that a review reproduced, and fails if the defect comes back.

mod batching;
mod false_safe;
mod hold_cancel;
mod key_rotation;
mod net;
mod one_way_link;
mod priorities;
mod recovery_stability;
mod replayed_join;
mod replayed_token;
mod reserved_ids;
mod review12;
mod ring_ids;
mod safe_delivery;
mod stale_epoch;
mod state_transfer;
mod window;
