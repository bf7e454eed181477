//! Progress for long runs: bars on a terminal, periodic log lines otherwise.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};

#[derive(Default)]
struct Counters {
    projects_total: AtomicU64,
    projects_done: AtomicU64,
    projects_failed: AtomicU64,
    files: AtomicU64,
    bytes: AtomicU64,
}

/// Cheap to clone; every worker reports into the same counters.
#[derive(Clone)]
pub struct Progress {
    counters: Arc<Counters>,
    bars: Option<(ProgressBar, ProgressBar)>,
    started: Instant,
}

impl Progress {
    /// `bars`: draw indicatif bars (a terminal, not --quiet).
    pub fn new(bars: bool) -> Self {
        let bars = bars.then(|| {
            let multi = MultiProgress::with_draw_target(ProgressDrawTarget::stderr());
            let projects = multi.add(ProgressBar::new(0));
            projects.set_style(
                ProgressStyle::with_template(
                    "{prefix:>9} [{bar:30}] {pos}/{len} projects  {msg}  ETA {eta}",
                )
                .unwrap_or_else(|_| ProgressStyle::default_bar())
                .progress_chars("=> "),
            );
            projects.set_prefix("syncing");
            let bytes = multi.add(ProgressBar::new_spinner());
            bytes.set_style(
                ProgressStyle::with_template(
                    "{prefix:>9} {binary_bytes} ({binary_bytes_per_sec})  {msg}",
                )
                .unwrap_or_else(|_| ProgressStyle::default_spinner()),
            );
            bytes.set_prefix("files");
            bytes.enable_steady_tick(Duration::from_millis(250));
            (projects, bytes)
        });
        Self {
            counters: Arc::default(),
            bars,
            started: Instant::now(),
        }
    }

    pub fn set_total(&self, n: u64) {
        self.counters.projects_total.store(n, Ordering::Relaxed);
        if let Some((p, _)) = &self.bars {
            p.set_length(n);
        }
    }

    pub fn project_done(&self, failed: bool) {
        self.counters.projects_done.fetch_add(1, Ordering::Relaxed);
        if failed {
            self.counters
                .projects_failed
                .fetch_add(1, Ordering::Relaxed);
        }
        if let Some((p, _)) = &self.bars {
            p.inc(1);
            if failed {
                let n = self.counters.projects_failed.load(Ordering::Relaxed);
                p.set_message(format!("{n} failed"));
            }
        }
    }

    pub fn file_done(&self) {
        let n = self.counters.files.fetch_add(1, Ordering::Relaxed) + 1;
        if let Some((_, b)) = &self.bars {
            b.set_message(format!("{n} files"));
        }
    }

    pub fn add_bytes(&self, n: u64) {
        self.counters.bytes.fetch_add(n, Ordering::Relaxed);
        if let Some((_, b)) = &self.bars {
            b.inc(n);
        }
    }

    pub fn files(&self) -> u64 {
        self.counters.files.load(Ordering::Relaxed)
    }

    pub fn bytes(&self) -> u64 {
        self.counters.bytes.load(Ordering::Relaxed)
    }

    pub fn elapsed(&self) -> Duration {
        self.started.elapsed()
    }

    /// Without bars, log a line every `every` until the returned handle is aborted.
    pub fn spawn_log_ticker(&self, every: Duration) -> Option<tokio::task::JoinHandle<()>> {
        if self.bars.is_some() {
            return None;
        }
        let me = self.clone();
        Some(tokio::spawn(async move {
            let mut tick = tokio::time::interval(every);
            tick.tick().await;
            loop {
                tick.tick().await;
                let c = &me.counters;
                tracing::info!(
                    projects_done = c.projects_done.load(Ordering::Relaxed),
                    projects_total = c.projects_total.load(Ordering::Relaxed),
                    failed = c.projects_failed.load(Ordering::Relaxed),
                    files = c.files.load(Ordering::Relaxed),
                    bytes = c.bytes.load(Ordering::Relaxed),
                    "sync progress"
                );
            }
        }))
    }

    pub fn finish(&self) {
        if let Some((p, b)) = &self.bars {
            p.finish_and_clear();
            b.finish_and_clear();
        }
    }
}
