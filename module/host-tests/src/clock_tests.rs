// SPDX-License-Identifier: GPL-2.0

//! Session expiry at the edges of the tick counter. The kernel starts
//! jiffies five minutes before the 32-bit counter wraps, so a 32-bit
//! expiry would read as long past right after the wrap; the module keeps
//! 64-bit ticks, and saturates rather than wraps at their end.

use crate::clock::Clock;
use crate::placement::live;

const HZ: u64 = 1000;
/// Where a 32-bit jiffies counter wraps.
const WRAP32: u64 = 1 << 32;

#[test]
fn a_session_created_before_the_32_bit_wrap_lives_past_it() {
    let created = Clock::new(WRAP32 - 10, HZ);
    let expires = created.after_secs(30);
    assert_eq!(expires, WRAP32 + 29_990);
    // Just after the wrap (a 32-bit counter reads 5 here): still alive.
    assert!(live(expires, WRAP32 + 5));
    assert!(live(expires, expires - 1));
    assert!(!live(expires, expires));
    assert_eq!(Clock::new(WRAP32 + 5, HZ).ms_until(expires), 29_985);
}

#[test]
fn an_expiry_past_the_end_of_the_counter_saturates() {
    let late = Clock::new(u64::MAX - 5, HZ);
    let expires = late.after_secs(900);
    // Wrapping would put it in the past (a small number): dead at once.
    assert_eq!(expires, u64::MAX);
    assert!(live(expires, u64::MAX - 1));
    assert_eq!(late.ticks(u64::MAX), u64::MAX);
}

#[test]
fn time_since_reads_across_the_32_bit_wrap() {
    let now = Clock::new(WRAP32 + 100, HZ);
    assert_eq!(now.since(WRAP32 - 100), 200);
    // A moment another CPU recorded a tick ahead reads as long ago.
    assert!(now.since(WRAP32 + 101) > now.ticks(3600));
}

#[test]
fn milliseconds_until_a_deadline() {
    let clock = Clock::new(1_000, 250);
    assert_eq!(clock.ms_until(1_001), 4);
    assert_eq!(clock.ms_until(1_250), 1_000);
    assert_eq!(clock.ms_until(999), 0, "a deadline passed");
    assert_eq!(clock.ms_until(u64::MAX), u32::MAX, "capped");
    // A zero rate would divide by zero; the clock runs at one tick a second.
    assert_eq!(Clock::new(0, 0).ms_until(2), 2_000);
}
