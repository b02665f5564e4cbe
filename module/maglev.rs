// SPDX-License-Identifier: GPL-2.0

//! Weighted consistent hashing (Maglev) of clients to back-ends. Pure logic
//! with no kernel dependency, so host unit tests (`module/host-tests`)
//! compile it as it is.
//!
//! Each service has a lookup table of `HASH_SLOTS` slots, each naming a
//! back-end; a client's address picks the slot. Every back-end walks its own
//! permutation of the slots, taking the next free one, until all are taken.
//! A back-end's permutation depends only on its identity, so adding or
//! removing one back-end moves few slots of the others.

/// Slots of a lookup table: a prime, as Maglev wants, well above the number
/// of back-ends a service may have.
pub(crate) const HASH_SLOTS: usize = 251;
/// A slot that names no back-end.
pub(crate) const NO_BACKEND: u8 = u8::MAX;

/// A 64-bit mix (SplitMix64's finaliser): spreads nearby inputs apart.
pub(crate) fn mix(mut z: u64) -> u64 {
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// The slot of a client (its IPv4 address in network byte order).
pub(crate) fn slot_of(client: u32) -> usize {
    (mix(u64::from(client)) % HASH_SLOTS as u64) as usize
}

/// Fills `lookup` for back-ends `0..N` with identities `ids` and weights
/// `weights` (0: not eligible). With no eligible back-end every slot is
/// `NO_BACKEND`.
///
/// Each back-end first gets its quota of slots: its exact share
/// `HASH_SLOTS * weight / total` rounded down, the slots left over going to
/// the largest remainders (so every share is within one slot of exact, and
/// no weight, however large, takes more). Then the back-ends take turns
/// walking their permutations, paced by weight: in round `r` (from 1)
/// back-end `i` may have taken `r * weight_i / max_weight` slots, so each
/// takes its slots spread over the whole fill rather than all at once,
/// which is what keeps a change of one back-end from moving the others'.
/// (Taking `weight` slots a round until the table was full gave 200:100 a
/// 200:51 split, and one weight of `HASH_SLOTS` or more every slot.)
///
/// Bounded work: a back-end reaches its quota by round
/// `quota * max_weight / weight + 1`, at most `HASH_SLOTS + max_weight`
/// rounds, and each slot is found in at most `HASH_SLOTS` steps of a
/// permutation.
pub(crate) fn fill<const N: usize>(
    lookup: &mut [u8; HASH_SLOTS],
    ids: &[u64; N],
    weights: &[u64; N],
) {
    const _: () = assert!(HASH_SLOTS > 2);
    *lookup = [NO_BACKEND; HASH_SLOTS];
    let slots = HASH_SLOTS as u64;
    let max_weight = weights.iter().copied().max().unwrap_or(0);
    let total: u64 = weights.iter().sum();
    if max_weight == 0 || N > usize::from(NO_BACKEND) {
        return;
    }
    let quota = quotas(weights, total);
    let mut next = [0u64; N];
    let mut taken = [0u64; N];
    let mut filled = 0;
    let mut round = 0u64;
    while filled < HASH_SLOTS {
        round += 1;
        for i in 0..N {
            let pace = (round * weights[i] / max_weight).min(quota[i]);
            if taken[i] >= pace {
                continue;
            }
            let offset = mix(ids[i]) % slots;
            let skip = mix(ids[i] ^ 0x5bd1_e995) % (slots - 1) + 1;
            while taken[i] < pace {
                // Some slot is free (the quotas add up to the table), and
                // a full permutation visits every slot.
                loop {
                    let slot = ((offset + next[i] * skip) % slots) as usize;
                    next[i] += 1;
                    if lookup[slot] == NO_BACKEND {
                        lookup[slot] = i as u8;
                        filled += 1;
                        taken[i] += 1;
                        break;
                    }
                }
            }
        }
    }
}

/// Each back-end's number of slots: the largest-remainder apportionment of
/// `HASH_SLOTS` by `weights` (which sum to `total`, not 0). Ties go to the
/// lower index.
fn quotas<const N: usize>(weights: &[u64; N], total: u64) -> [u64; N] {
    let slots = HASH_SLOTS as u64;
    let mut quota: [u64; N] = core::array::from_fn(|i| slots * weights[i] / total);
    let mut left = slots - quota.iter().sum::<u64>();
    // Fewer than N slots are left over, each to a different back-end.
    let mut given = [false; N];
    while left > 0 {
        let mut best: Option<usize> = None;
        for i in 0..N {
            let remainder = slots * weights[i] % total;
            if weights[i] == 0 || given[i] {
                continue;
            }
            if best.is_none_or(|b| remainder > slots * weights[b] % total) {
                best = Some(i);
            }
        }
        let Some(b) = best else {
            break;
        };
        given[b] = true;
        quota[b] += 1;
        left -= 1;
    }
    quota
}
