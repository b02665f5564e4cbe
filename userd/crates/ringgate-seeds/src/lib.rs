//! Runs the seeds of a deterministic simulator on every CPU.
//!
//! Each seed is a whole, independent run, so the seeds may run in any
//! order on any thread: the results come back in seed order, and a seed
//! fails or passes the same way whichever thread ran it. Run one after the
//! other, the thousands of seeds `make test` sweeps kept one of the
//! machine's two cores idle for two and a half minutes.

use std::panic::{self, AssertUnwindSafe};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;
use std::thread;

/// A seed and how its run ended.
pub type SeedResult<T> = (u64, Result<T, String>);

/// Runs `run` once for each of `seeds`, on as many threads as the machine
/// has CPUs (at most one per seed), and returns each seed with its result,
/// in the order of `seeds`. A seed whose run panics gets an error naming
/// the panic, so that one broken seed does not hide which seed it was.
pub fn sweep<T, F>(seeds: &[u64], run: F) -> Vec<SeedResult<T>>
where
    T: Send,
    F: Fn(u64) -> Result<T, String> + Sync,
{
    let threads = thread::available_parallelism()
        .map_or(1, |n| n.get())
        .min(seeds.len())
        .max(1);
    let next = AtomicUsize::new(0);
    let results: Mutex<Vec<(usize, SeedResult<T>)>> = Mutex::new(Vec::new());
    thread::scope(|scope| {
        for _ in 0..threads {
            scope.spawn(|| {
                // Seeds are handed out one at a time: their run times differ
                // by more than tenfold, so fixed shares would leave a thread
                // idle while another still has its slow seeds.
                loop {
                    let index = next.fetch_add(1, Ordering::Relaxed);
                    let Some(&seed) = seeds.get(index) else {
                        break;
                    };
                    let result = panic::catch_unwind(AssertUnwindSafe(|| run(seed)))
                        .unwrap_or_else(|payload| {
                            Err(format!("panicked: {}", panic_text(&*payload)))
                        });
                    results
                        .lock()
                        .unwrap_or_else(|poisoned| poisoned.into_inner())
                        .push((index, (seed, result)));
                }
            });
        }
    });
    let mut results = results
        .into_inner()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    results.sort_by_key(|(index, _)| *index);
    results.into_iter().map(|(_, outcome)| outcome).collect()
}

fn panic_text(payload: &(dyn std::any::Any + Send)) -> String {
    if let Some(text) = payload.downcast_ref::<&str>() {
        (*text).to_string()
    } else if let Some(text) = payload.downcast_ref::<String>() {
        text.clone()
    } else {
        "(no message)".to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn results_come_in_seed_order_whatever_thread_ran_them() {
        let seeds: Vec<u64> = (0..200).rev().collect();
        let results = sweep(&seeds, |seed| {
            // Uneven run times, so that threads finish out of order.
            thread::sleep(std::time::Duration::from_micros((seed % 7) * 100));
            if seed % 50 == 3 {
                Err(format!("seed {seed} is bad"))
            } else {
                Ok(seed * 2)
            }
        });
        let got: Vec<u64> = results.iter().map(|(seed, _)| *seed).collect();
        assert_eq!(got, seeds);
        for (seed, result) in &results {
            match result {
                Ok(double) => assert_eq!(*double, seed * 2),
                Err(why) => assert_eq!(why, &format!("seed {seed} is bad")),
            }
        }
        assert_eq!(results.iter().filter(|(_, r)| r.is_err()).count(), 4);
    }

    #[test]
    fn a_panicking_seed_is_reported_as_that_seed_failing() {
        let results = sweep(&[1, 2, 3], |seed| {
            assert!(seed != 2, "two is broken");
            Ok(())
        });
        assert!(results[0].1.is_ok() && results[2].1.is_ok());
        let why = results[1].1.as_ref().unwrap_err();
        assert!(why.contains("two is broken"), "{why}");
    }

    #[test]
    fn every_seed_runs_once() {
        let runs = AtomicUsize::new(0);
        let seeds: Vec<u64> = (0..1000).collect();
        let results = sweep(&seeds, |_| {
            runs.fetch_add(1, Ordering::Relaxed);
            Ok(())
        });
        assert_eq!(runs.load(Ordering::Relaxed), 1000);
        assert_eq!(results.len(), 1000);
    }
}
