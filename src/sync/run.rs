//! One sync run from start to finish: lock, plan, project jobs, root index, serial.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use futures::StreamExt;
use tokio::sync::Semaphore;

use crate::config::Config;
use crate::https::HttpClient;
use crate::index::{self, normalize};
use crate::storage::{FsStorage, Key, Storage};
use crate::sync::layout::{Layout, ROOT_PAGES};
use crate::sync::plan::make_plan;
use crate::sync::progress::Progress;
use crate::sync::project::{JobOutcome, ProjectError, sync_project};
use crate::sync::state::{self, MirrorLock, StateDb};
use crate::sync::{SyncEnv, filters};
use crate::upstream::Upstream;

/// Projects in memory per worker slot: besides the one in the slot, the others
/// are downloading (under `download-concurrency`), publishing (waiting on a shared
/// disk flush) or waiting for a slot. A project leaves this count once its commit
/// is queued: a commit waits up to the writer's gather time for others to share
/// its transaction, and jobs waiting for that must not stop new metadata fetches.
const JOBS_PER_WORKER: usize = 8;

/// Jobs that may wait for their commit's answer, per worker slot, on top of those
/// in memory. Such a job holds only its reply channel.
const COMMIT_WAITS_PER_WORKER: usize = 24;

/// State key saying whether the last run reached its end (`finished`) or not.
const RUN_MARK: &str = "last_run";

#[derive(Debug, Clone, Default)]
pub struct SyncOptions {
    /// Sync just these projects (bandersnatch `sync PKG...`); the serial is untouched.
    pub projects: Vec<String>,
    /// Compare every project, not just those whose serial moved.
    pub force_check: bool,
    /// With `projects`: do not rewrite the root index.
    pub skip_simple_root: bool,
    pub show_progress: bool,
    /// Override the stale-serial backoff (1 s by default).
    pub stale_backoff: Option<Duration>,
}

#[derive(Debug, Default)]
pub struct SyncReport {
    pub planned: usize,
    pub updated: usize,
    pub removed: usize,
    pub skipped: usize,
    pub failed: Vec<(String, String)>,
    pub rejected_names: Vec<String>,
    pub files_fetched: u64,
    pub bytes_fetched: u64,
    pub elapsed: Duration,
    pub serial_before: u64,
    pub serial_after: u64,
}

impl SyncReport {
    pub fn succeeded(&self) -> bool {
        self.failed.is_empty()
    }

    pub fn summary(&self) -> String {
        let secs = self.elapsed.as_secs_f64();
        format!(
            "{} projects planned: {} updated, {} removed, {} filtered, {} failed; {} files, {} in {:.1}s; serial {} -> {}",
            self.planned,
            self.updated,
            self.removed,
            self.skipped,
            self.failed.len(),
            self.files_fetched,
            human_bytes(self.bytes_fetched),
            secs,
            self.serial_before,
            self.serial_after
        )
    }
}

fn human_bytes(n: u64) -> String {
    const UNITS: [&str; 5] = ["B", "KiB", "MiB", "GiB", "TiB"];
    let mut v = n as f64;
    let mut u = 0;
    while v >= 1024.0 && u < UNITS.len() - 1 {
        v /= 1024.0;
        u += 1;
    }
    format!("{v:.1} {}", UNITS[u])
}

#[derive(Debug, thiserror::Error)]
pub enum SyncError {
    #[error(transparent)]
    Config(#[from] crate::config::ConfigError),
    #[error(transparent)]
    State(#[from] state::StateError),
    #[error(transparent)]
    Storage(#[from] crate::storage::StorageError),
    #[error("adopting the existing mirror failed: {0}")]
    Adopt(#[from] crate::sync::adopt::AdoptError),
    #[error("planning failed: {0}")]
    Plan(#[from] crate::sync::plan::PlanError),
    #[error("cannot create the mirror directory {path}: {source}")]
    Directory {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("cannot write the diff file {path}: {source}")]
    DiffFile {
        path: PathBuf,
        source: std::io::Error,
    },
}

/// Run a sync as configured. The caller maps the report to an exit code.
pub async fn run_sync(
    config: &Config,
    client: HttpClient,
    opts: SyncOptions,
) -> Result<SyncReport, SyncError> {
    // Refuse a bad upstream before anything is created on disk (the warnings are
    // logged once, by the locked run).
    crate::https::guard::check_upstream_url(&config.mirror.master, config.mirror.allow_non_https)?;
    if let Some(mirror) = &config.mirror.download_mirror {
        crate::https::guard::check_upstream_url(mirror, config.mirror.allow_non_https)?;
    }
    let root = prepare_root(config)?;
    let lock = MirrorLock::acquire(&root)?;
    run_sync_locked(config, client, opts, &lock).await
}

/// Create `<directory>/web`; returns the mirror root.
pub(crate) fn prepare_root(config: &Config) -> Result<PathBuf, SyncError> {
    let root = config.mirror.directory.clone();
    std::fs::create_dir_all(root.join("web")).map_err(|source| SyncError::Directory {
        path: root.clone(),
        source,
    })?;
    Ok(root)
}

/// Everything a run shares, for a caller holding the mirror lock. Adopts a
/// bandersnatch tree first when there is one without vorpal state.
pub(crate) async fn open_env(
    config: &Config,
    client: HttpClient,
    show_progress: bool,
    stale_backoff: Option<Duration>,
    _lock: &MirrorLock,
) -> Result<Arc<SyncEnv>, SyncError> {
    let cfg = config.mirror.clone();
    let root = cfg.directory.clone();
    state::check_generation(&root)?;
    let storage: Arc<dyn Storage> = Arc::new(FsStorage::new(root.clone()));
    let layout = Layout::new(&cfg);
    let had_files = root.join("web/packages").exists();
    // Opened once: for the adoption check (when there is state already) and the run.
    let existing = crate::sync::adopt::has_state(&root)
        .then(|| StateDb::open(&root))
        .transpose()?;
    crate::sync::adopt::adopt_if_needed(&root, &storage, &cfg, existing.as_ref()).await?;
    let db = Arc::new(match existing {
        Some(db) => db,
        None => StateDb::open(&root)?,
    });
    let inventory_complete = !had_files || db.get_meta(RUN_MARK)?.as_deref() == Some("finished");
    let filters = Some(filters::Filters::from_config(&config.filters)?).filter(|f| f.is_enabled());
    forget_verdicts_of_changed_filters(&db, &config.filters)?;
    let mut upstream = Upstream::new(client.clone(), &cfg)?;
    if let Some(b) = stale_backoff {
        upstream = upstream.with_stale_backoff(b);
    }
    Ok(Arc::new(SyncEnv {
        layout,
        commits: state::CommitQueue::start(db.clone()),
        inventory_complete,
        workers: Semaphore::new(cfg.workers),
        in_memory: Semaphore::new(cfg.workers.saturating_mul(JOBS_PER_WORKER)),
        downloads: Semaphore::new(cfg.download_concurrency),
        progress: Progress::new(show_progress),
        written: Mutex::new(Vec::new()),
        root,
        upstream,
        client,
        storage,
        db,
        filters,
        cfg,
    }))
}

/// [`run_sync`] for a caller that already holds the mirror lock (`verify --repair`
/// runs the project jobs of damaged projects without letting a sync in between).
pub async fn run_sync_locked(
    config: &Config,
    client: HttpClient,
    opts: SyncOptions,
    lock: &MirrorLock,
) -> Result<SyncReport, SyncError> {
    let cfg = &config.mirror;
    for w in crate::https::guard::check_upstream_url(&cfg.master, cfg.allow_non_https)? {
        tracing::warn!("{w}");
    }
    let root = cfg.directory.clone();
    let env = open_env(config, client, opts.show_progress, opts.stale_backoff, lock).await?;
    // Walking the whole tree for temp files costs minutes on a big mirror, so it is
    // done only after a run that did not finish (killed, or stopped by an error).
    if env.db.get_meta(RUN_MARK)?.as_deref() != Some("finished") {
        let leftovers = env.storage.cleanup_temp().await?;
        if leftovers > 0 {
            tracing::info!(leftovers, "removed temp files left by an interrupted run");
        }
    }
    env.db.set_meta(RUN_MARK, "running")?;

    let status = state::read_status(&root)?;
    let mut report = SyncReport {
        serial_before: status,
        serial_after: status,
        ..SyncReport::default()
    };
    let targeted = !opts.projects.is_empty();
    let (work, display, target) = if targeted {
        let mut work = Vec::new();
        for name in &opts.projects {
            if !index::is_valid_name(name) {
                return Err(crate::config::ConfigError::new(format!(
                    "{name:?} is not a valid project name"
                ))
                .into());
            }
            work.push((normalize(name), 0u64));
        }
        (work, Default::default(), status)
    } else {
        let plan = make_plan(
            &env,
            if opts.force_check { 0 } else { status },
            opts.force_check,
        )
        .await?;
        for name in &plan.rejected {
            tracing::warn!(name, "upstream lists an invalid project name; ignored");
        }
        report.rejected_names = plan.rejected.clone();
        let work: Vec<(String, u64)> = plan.projects.into_iter().collect();
        env.db.save_plan(plan.target_serial, &work)?;
        state::write_todo(
            &root,
            &state::Todo {
                target_serial: plan.target_serial,
                projects: work.clone(),
            },
        )?;
        (work, plan.display, plan.target_serial)
    };
    report.planned = work.len();
    env.progress.set_total(work.len() as u64);
    let ticker = env.progress.spawn_log_ticker(Duration::from_secs(10));
    tracing::info!(projects = work.len(), target, "sync started");

    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let display = Arc::new(display);
    let mut results = futures::stream::iter(work)
        .map(|(name, serial)| {
            let env = env.clone();
            let stop = stop.clone();
            let display = display.clone();
            // Each job is its own task so that jobs run on every runtime thread
            // (hashing and parsing are CPU work), not all on the one driving this loop.
            let job_name = name.clone();
            let job = tokio::spawn(async move {
                if stop.load(std::sync::atomic::Ordering::Relaxed) {
                    return None;
                }
                let hint = display.get(&job_name).map(String::as_str);
                Some(sync_project(&env, &job_name, serial, hint, !targeted).await)
            });
            async move {
                let outcome = match job.await {
                    Ok(outcome) => outcome,
                    Err(e) => Some(Err(ProjectError::Invalid(format!(
                        "the job for {name} stopped unexpectedly: {e}"
                    )))),
                };
                (name, outcome)
            }
        })
        .buffer_unordered(
            env.cfg
                .workers
                .saturating_mul(JOBS_PER_WORKER + COMMIT_WAITS_PER_WORKER),
        );
    while let Some((name, result)) = results.next().await {
        let Some(result) = result else { continue };
        match result {
            Ok(outcome) => {
                let committed = matches!(outcome, JobOutcome::Updated { .. });
                match outcome {
                    JobOutcome::Updated { fetched } => {
                        report.updated += 1;
                        report.files_fetched += fetched;
                    }
                    JobOutcome::Removed => report.removed += 1,
                    JobOutcome::Skipped(reason) => {
                        tracing::debug!(project = %name, reason, "filtered out");
                        report.skipped += 1;
                    }
                    JobOutcome::Kept => {}
                }
                // An updated project was marked done with its commit.
                if !targeted && !committed {
                    env.db.mark_planned_done(&name)?;
                }
                env.progress.project_done(false);
            }
            Err(e) => {
                tracing::error!(project = %name, "{e}");
                report.failed.push((name, e.to_string()));
                env.progress.project_done(true);
                if env.cfg.stop_on_error {
                    stop.store(true, std::sync::atomic::Ordering::Relaxed);
                }
            }
        }
    }
    drop(results);
    if let Some(t) = ticker {
        t.abort();
    }
    env.progress.finish();
    report.bytes_fetched = env.progress.bytes();

    let ok = report.failed.is_empty() && !stop.load(std::sync::atomic::Ordering::Relaxed);
    let new_serial = if ok && !targeted { target } else { status };
    if !(targeted && opts.skip_simple_root) {
        write_root_index(&env, new_serial).await?;
    }
    if ok && !targeted && env.cfg.cleanup {
        let simple = root.join("web/simple");
        let hash_index = env.cfg.hash_index;
        match tokio::task::spawn_blocking(move || {
            crate::sync::tree_extras::remove_unnormalized_dirs(&simple, hash_index)
        })
        .await
        {
            Ok(Ok(removed)) => {
                for dir in removed {
                    tracing::info!(dir = %dir.display(), "cleanup: removed a legacy unnormalized folder");
                }
            }
            Ok(Err(e)) => tracing::warn!("cleanup of legacy simple folders failed: {e}"),
            Err(e) => tracing::warn!("cleanup of legacy simple folders stopped: {e}"),
        }
    }
    if ok && !targeted {
        // Every project's state must be on disk before the serial says it is done.
        env.storage.flush().await?;
        state::write_status(&root, target)?;
        env.db.set_meta("last_serial", &target.to_string())?;
        env.db.clear_plan()?;
        state::delete_todo(&root)?;
        report.serial_after = target;
    }
    if ok {
        write_last_modified(&env).await?;
    }
    let diff_file = env.cfg.diff_file.clone();
    if let Some(path) = diff_file {
        write_diff_file(&env, &path)?;
    }
    // The old pages this run replaced are freed before it reports done.
    env.storage.settle().await;
    report.elapsed = env.progress.elapsed();
    let (commits, transactions) = env.commits.counts();
    tracing::debug!(commits, transactions, "state commits");
    env.db.set_meta(RUN_MARK, "finished")?;
    // Only tidiness is at stake: the log is replayed correctly on the next open.
    if let Err(e) = env.db.checkpoint_if_large() {
        tracing::warn!("could not checkpoint the state database: {e}");
    }
    Ok(report)
}

/// Filter verdicts stand only while the filters are the same; when the filter
/// configuration changes, every skipped project is judged again.
fn forget_verdicts_of_changed_filters(
    db: &StateDb,
    filters: &crate::config::FilterConfig,
) -> Result<(), SyncError> {
    use sha2::{Digest, Sha256};
    const KEY: &str = "filters_fingerprint";
    let fingerprint = hex::encode(Sha256::digest(format!("{filters:?}").as_bytes()));
    if db.get_meta(KEY)?.as_deref() != Some(fingerprint.as_str()) {
        db.clear_filtered()?;
        db.set_meta(KEY, &fingerprint)?;
    }
    Ok(())
}

/// The root index trio, regenerated from state (never by scanning the tree).
pub(crate) async fn write_root_index(env: &SyncEnv, serial: u64) -> Result<(), SyncError> {
    let projects = env.db.projects()?;
    let entries: Vec<index::RootEntry<'_>> = projects
        .iter()
        .map(|p| index::RootEntry {
            name: &p.name,
            display: &p.display_name,
            serial: p.serial,
        })
        .collect();
    // The two renderings of PyPI's 700,000 projects take a while each: side by side.
    let (html, json) = std::thread::scope(|s| {
        let html = s.spawn(|| index::simple_html::render_root_html(&entries, ""));
        let json = index::simple_json::render_root_json(&entries, serial);
        (html.join(), json)
    });
    let html = Bytes::from(html.unwrap_or_else(|panic| std::panic::resume_unwind(panic)));
    let json = Bytes::from(json);
    // Staged and published together: one shared flush instead of one per page, and
    // identical pages (index.html, index.v1_html) share an inode.
    let mut staged = Vec::new();
    for page in ROOT_PAGES {
        let body = if page.ends_with("json") { &json } else { &html };
        let wanted = if page.ends_with("json") {
            env.layout.write_json
        } else {
            env.layout.write_html
        };
        if wanted {
            let key = Key::new(format!("web/simple/{page}"))?;
            // A run that changed nothing leaves the root (and its ETag) alone.
            if env.storage.get(&key).await?.as_ref() == Some(body) {
                continue;
            }
            staged.push(env.storage.stage(&key, body.clone()).await?);
        }
    }
    let written: Vec<Key> = staged.iter().map(|s| s.key().clone()).collect();
    env.storage.publish(staged).await?;
    for key in &written {
        env.note_written(key);
    }
    Ok(())
}

/// `web/last-modified`: UTC time of the last successful sync, bandersnatch's format.
async fn write_last_modified(env: &SyncEnv) -> Result<(), SyncError> {
    let stamp = chrono::Utc::now().format("%Y%m%dT%H:%M:%S").to_string();
    let key = Key::new("web/last-modified")?;
    env.storage.put(&key, stamp.clone().into()).await?;
    env.db.set_meta("last_sync", &stamp)?;
    Ok(())
}

fn write_diff_file(env: &SyncEnv, path: &Path) -> Result<(), SyncError> {
    let path = if env.cfg.diff_append_epoch {
        PathBuf::from(format!(
            "{}-{}",
            path.display(),
            chrono::Utc::now().timestamp()
        ))
    } else {
        path.to_path_buf()
    };
    let written = env.written.lock().map(|w| w.clone()).unwrap_or_default();
    let mut text = String::new();
    for p in written {
        text.push_str(&p.display().to_string());
        text.push('\n');
    }
    std::fs::write(&path, text).map_err(|source| SyncError::DiffFile { path, source })
}
