//! Where a piece of filesystem work runs: in place on the async thread that asked
//! for it, or on the blocking pool.
//!
//! A few metadata calls or a small write to the page cache take microseconds on a
//! local filesystem, and a hand-off to the blocking pool costs two thread wake-ups
//! and context switches, more than the calls themselves on a machine with few cores
//! (a 5% incremental sync used about 12% less CPU with them made in place). On a
//! network filesystem the same calls can take milliseconds and would hold up the
//! async threads, so a store whose brief calls keep turning out slow sends all its
//! work to the pool from then on.

use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use super::StorageError;

/// How long a piece of filesystem work may take.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Cost {
    /// A few metadata calls or a small write: made in place.
    Brief,
    /// Work that can wait on the device (fsync, large writes, tree walks).
    Long,
}

/// A batch of at most this many files and [`BRIEF_BYTES`] bytes is brief.
const BRIEF_FILES: usize = 16;
const BRIEF_BYTES: usize = 256 * 1024;

/// A brief call slower than this counts as slow.
const SLOW_CALL: Duration = Duration::from_millis(5);
/// Slow brief calls tolerated (a preempted thread, a writeback stall) before the
/// store is judged slow, provided they are also more than 1 in [`SLOW_SHARE`].
const SLOW_CALLS_TOLERATED: u64 = 16;
const SLOW_SHARE: u64 = 20;

/// The cost of writing or renaming `files` files holding `bytes` bytes.
pub(super) fn cost_of(files: usize, bytes: usize) -> Cost {
    if files <= BRIEF_FILES && bytes <= BRIEF_BYTES {
        Cost::Brief
    } else {
        Cost::Long
    }
}

/// Runs a store's filesystem work, watching how long its brief calls take.
#[derive(Debug, Default)]
pub(super) struct Placement {
    brief: AtomicU64,
    slow: AtomicU64,
}

impl Placement {
    /// Has this store's filesystem turned out too slow for work in place?
    fn judged_slow(&self) -> bool {
        let slow = self.slow.load(Ordering::Relaxed);
        slow > SLOW_CALLS_TOLERATED && slow * SLOW_SHARE > self.brief.load(Ordering::Relaxed)
    }

    /// Run `f`: in place when `cost` is brief (and the filesystem keeps it so),
    /// otherwise on the blocking pool.
    pub(super) async fn run<T: Send + 'static>(
        &self,
        cost: Cost,
        f: impl FnOnce() -> Result<T, StorageError> + Send + 'static,
        path: &Path,
        root: &Path,
    ) -> Result<T, StorageError> {
        if cost == Cost::Brief && !self.judged_slow() {
            let started = Instant::now();
            let result = f();
            self.brief.fetch_add(1, Ordering::Relaxed);
            if started.elapsed() > SLOW_CALL {
                self.slow.fetch_add(1, Ordering::Relaxed);
                if self.judged_slow() {
                    tracing::debug!(
                        root = %root.display(),
                        "brief filesystem calls are slow here (a network filesystem?); \
                         running them on the blocking pool from now on"
                    );
                }
            }
            return result;
        }
        match tokio::task::spawn_blocking(f).await {
            Ok(r) => r,
            Err(e) => Err(StorageError::io(
                "finish work on",
                path,
                root,
                std::io::Error::other(e),
            )),
        }
    }

    /// Brief and slow calls so far (for tests and diagnostics).
    #[cfg(test)]
    pub(super) fn counts(&self) -> (u64, u64) {
        (
            self.brief.load(Ordering::Relaxed),
            self.slow.load(Ordering::Relaxed),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn batches_are_brief_up_to_both_limits() {
        assert_eq!(cost_of(1, 10), Cost::Brief);
        assert_eq!(cost_of(BRIEF_FILES, BRIEF_BYTES), Cost::Brief);
        assert_eq!(cost_of(BRIEF_FILES + 1, 10), Cost::Long);
        assert_eq!(cost_of(2, BRIEF_BYTES + 1), Cost::Long);
    }

    #[tokio::test]
    async fn a_store_whose_brief_calls_stay_slow_moves_them_to_the_pool() {
        let placement = Placement::default();
        let here = Path::new("/m");
        let on_this_thread = std::thread::current().id();
        let slow_call = || {
            std::thread::sleep(SLOW_CALL + Duration::from_millis(1));
            Ok(std::thread::current().id())
        };
        for _ in 0..=SLOW_CALLS_TOLERATED {
            let ran_on = placement
                .run(Cost::Brief, slow_call, here, here)
                .await
                .unwrap();
            assert_eq!(ran_on, on_this_thread, "made in place until judged slow");
        }
        assert!(placement.judged_slow());
        let ran_on = placement
            .run(Cost::Brief, slow_call, here, here)
            .await
            .unwrap();
        assert_ne!(ran_on, on_this_thread, "then sent to the blocking pool");
        assert_eq!(
            placement.counts(),
            (SLOW_CALLS_TOLERATED + 1, SLOW_CALLS_TOLERATED + 1)
        );
    }

    #[tokio::test]
    async fn occasional_slow_calls_among_many_quick_ones_change_nothing() {
        let placement = Placement::default();
        let here = Path::new("/m");
        // 1 call in 40 is slow: more than tolerated in number, under the share.
        for i in 0..1000u64 {
            let pause = if i % 40 == 0 {
                SLOW_CALL + Duration::from_millis(1)
            } else {
                Duration::ZERO
            };
            let f = move || {
                std::thread::sleep(pause);
                Ok(())
            };
            placement.run(Cost::Brief, f, here, here).await.unwrap();
        }
        let (brief, slow) = placement.counts();
        assert_eq!(brief, 1000, "every call was made in place");
        assert!(slow > SLOW_CALLS_TOLERATED, "{slow}");
        assert!(!placement.judged_slow());
    }
}
