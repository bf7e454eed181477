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
    pub layout: layout::Layout,
    pub filters: Option<filters::Filters>,
    /// One limit for files in flight across all projects.
    pub downloads: Semaphore,
    pub progress: progress::Progress,
    /// Absolute paths written this run, for `diff-file`.
    written: Mutex<Vec<PathBuf>>,
    root: PathBuf,
}

impl SyncEnv {
    fn note_written(&self, key: &Key) {
        if let Ok(mut w) = self.written.lock() {
            w.push(self.root.join(key.as_str()));
        }
    }
}
