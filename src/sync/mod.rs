//! Sync: plan, project jobs, downloads, state and filters.

pub mod adopt;
pub mod delete;
pub mod download;
pub mod filters;
pub mod layout;
pub mod plan;
pub mod progress;
pub mod project;
pub mod run;
pub mod state;
pub mod tree_extras;
pub mod wheel_metadata;

use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use tokio::sync::Semaphore;

use crate::config::MirrorConfig;
use crate::https::HttpClient;
use crate::storage::{Key, Storage};
use crate::upstream::Upstream;

pub use run::{SyncOptions, SyncReport, run_sync};

/// Everything the project jobs of one run share.
pub struct SyncEnv {
    pub cfg: MirrorConfig,
    pub upstream: Upstream,
    pub client: HttpClient,
    pub storage: Arc<dyn Storage>,
    pub db: Arc<state::StateDb>,
    /// Project commits, batched into shared transactions.
    pub commits: state::CommitQueue,
    pub layout: layout::Layout,
    pub filters: Option<filters::Filters>,
    /// Every file in the tree is in the inventory: the last run finished, or the
    /// tree had no files. A file the inventory does not know is then absent, and
    /// is fetched without looking for it on disk first.
    pub inventory_complete: bool,
    /// Projects fetching and judging their metadata at once (`workers`).
    pub workers: Semaphore,
    /// Projects between the start of their job and the queueing of their commit:
    /// what a run holds in memory at once (see `run::JOBS_PER_WORKER`).
    pub in_memory: Semaphore,
    /// One limit for files in flight across all projects.
    pub downloads: Semaphore,
    pub progress: progress::Progress,
    /// Absolute paths written this run, for `diff-file`.
    written: Mutex<Vec<PathBuf>>,
    root: PathBuf,
}

impl SyncEnv {
    fn note_written(&self, key: &Key) {
        if self.cfg.diff_file.is_none() {
            return;
        }
        if let Ok(mut w) = self.written.lock() {
            w.push(self.root.join(key.as_str()));
        }
    }
}
