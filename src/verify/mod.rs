//! `vorpal verify`: check every file the state records against its recorded size and
//! sha256, driven by the state database (paged in key order: memory does not grow
//! with the mirror), never by walking the tree. Optionally refetch what is missing or
//! damaged, rewrite the JSON API documents, and remove files nothing references.

pub mod hash;
mod orphans;

use std::collections::BTreeSet;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use futures::{StreamExt, TryStreamExt};

use crate::config::Config;
use crate::https::HttpClient;
use crate::storage::{Key, Storage, StorageError};
use crate::sync::adopt::{AdoptError, needs_adoption};
use crate::sync::run::{SyncError, open_env, run_sync_locked};
use crate::sync::state::{FileRecord, MirrorLock, StateDb, StateError};
use crate::sync::{SyncOptions, SyncReport};

pub use orphans::OrphanReport;

/// Files read from the state per query.
const PAGE: usize = 1024;
/// A progress line every this many files.
const REPORT_EVERY: u64 = 10_000;

#[derive(Debug, Clone, Default)]
pub struct VerifyOptions {
    /// Refetch missing and damaged files from upstream.
    pub repair: bool,
    /// Remove files under `web/packages` that the state does not reference, and
    /// leftover temp files.
    pub delete: bool,
    /// Change nothing; report what would change.
    pub dry_run: bool,
    /// Rewrite `web/json/<name>` and `web/pypi/<name>/json` from upstream.
    pub json_update: bool,
    /// Files checked in parallel; 0 means one per core.
    pub workers: usize,
    pub show_progress: bool,
    /// Override the stale-serial backoff of repair fetches (tests).
    pub stale_backoff: Option<Duration>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ProblemKind {
    Missing,
    /// Present but wrong; the detail says how.
    Corrupt(String),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    pub key: String,
    pub project: String,
    pub kind: ProblemKind,
}

impl std::fmt::Display for Problem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.kind {
            ProblemKind::Missing => write!(f, "missing {} (project {})", self.key, self.project),
            ProblemKind::Corrupt(d) => {
                write!(f, "corrupt {} (project {}): {d}", self.key, self.project)
            }
        }
    }
}

#[derive(Debug, Default)]
pub struct VerifyReport {
    pub checked: u64,
    pub ok: u64,
    /// Bytes the state records for all checked files.
    pub bytes_expected: u64,
    /// Bytes read and hashed.
    pub bytes_read: u64,
    /// Everything found wrong by the check.
    pub problems: Vec<Problem>,
    /// Problems fixed by `--repair`.
    pub repaired: u64,
    /// Problems still there at the end.
    pub remaining: Vec<Problem>,
    /// Projects whose repair or JSON update failed, with why.
    pub failed_projects: Vec<(String, String)>,
    pub json_updated: u64,
    pub orphans: OrphanReport,
    pub dry_run: bool,
    pub elapsed: Duration,
}

impl VerifyReport {
    pub fn missing(&self) -> usize {
        count(&self.problems, |k| matches!(k, ProblemKind::Missing))
    }

    pub fn corrupt(&self) -> usize {
        count(&self.problems, |k| matches!(k, ProblemKind::Corrupt(_)))
    }

    /// Everything is as the state says (or was made so).
    pub fn succeeded(&self) -> bool {
        self.remaining.is_empty() && self.failed_projects.is_empty() && self.orphans.failed == 0
    }

    pub fn summary(&self) -> String {
        let secs = self.elapsed.as_secs_f64().max(1e-9);
        let mut s = format!(
            "{} files checked ({} MB): {} ok, {} missing, {} corrupt; {:.1}s, {:.1} MB/s",
            self.checked,
            mb(self.bytes_expected),
            self.ok,
            self.missing(),
            self.corrupt(),
            secs,
            self.bytes_read as f64 / 1e6 / secs
        );
        if self.repaired > 0 || !self.remaining.is_empty() {
            s.push_str(&format!(
                "; {} repaired, {} remain",
                self.repaired,
                self.remaining.len()
            ));
        }
        if self.json_updated > 0 {
            let verb = if self.dry_run {
                "would update"
            } else {
                "updated"
            };
            s.push_str(&format!("; {verb} JSON of {} projects", self.json_updated));
        }
        if self.orphans.scanned > 0 || self.orphans.found > 0 {
            let verb = if self.dry_run {
                "would remove"
            } else {
                "removed"
            };
            s.push_str(&format!(
                "; {} unreferenced files ({} MB), {verb} {}; {} temp files",
                self.orphans.found,
                mb(self.orphans.bytes),
                if self.dry_run {
                    self.orphans.found
                } else {
                    self.orphans.removed
                },
                self.orphans.temp_files
            ));
        }
        if self.dry_run {
            s.push_str(" (dry run: nothing changed)");
        }
        s
    }
}

fn mb(bytes: u64) -> String {
    format!("{:.1}", bytes as f64 / 1e6)
}

fn count(problems: &[Problem], f: impl Fn(&ProblemKind) -> bool) -> usize {
    problems.iter().filter(|p| f(&p.kind)).count()
}

#[derive(Debug, thiserror::Error)]
pub enum VerifyError {
    #[error(
        "{0} is not a mirror directory (no web/ folder); set [mirror] directory or pass --directory"
    )]
    NotAMirror(String),
    #[error(
        "{0} is a bandersnatch mirror vorpal has not adopted yet; a dry run changes nothing, so run \
         `vorpal verify` or `vorpal sync` once without --dry-run to build vorpal's state first"
    )]
    NotAdopted(String),
    #[error(
        "the state records no files but web/packages is not empty: --delete would remove every \
         file; run `vorpal sync` first (it adopts or rebuilds the state), then verify"
    )]
    EmptyState,
    #[error(transparent)]
    State(#[from] StateError),
    #[error(transparent)]
    Storage(#[from] StorageError),
    #[error(transparent)]
    Adopt(#[from] AdoptError),
    #[error(transparent)]
    Sync(#[from] SyncError),
}

/// Run `vorpal verify` on the configured mirror. Holds the mirror lock throughout, so
/// a sync and a verify never overlap; repairs run the sync engine under that lock.
pub async fn run_verify(
    config: &Config,
    client: HttpClient,
    opts: VerifyOptions,
) -> Result<VerifyReport, VerifyError> {
    let started = Instant::now();
    let root = config.mirror.directory.clone();
    if !root.join("web").is_dir() {
        return Err(VerifyError::NotAMirror(root.display().to_string()));
    }
    let lock = MirrorLock::acquire(&root)?;
    if opts.dry_run && needs_adoption(&root)? {
        return Err(VerifyError::NotAdopted(root.display().to_string()));
    }
    let env = open_env(
        config,
        client.clone(),
        opts.show_progress,
        opts.stale_backoff,
        &lock,
    )
    .await?;
    let workers = if opts.workers == 0 {
        std::thread::available_parallelism().map_or(2, |n| n.get())
    } else {
        opts.workers
    };
    let mut report = VerifyReport {
        dry_run: opts.dry_run,
        ..VerifyReport::default()
    };
    check_all(&env.db, &env.storage, workers, &mut report).await?;
    report.remaining = report.problems.clone();
    for p in &report.problems {
        tracing::warn!("{p}");
    }

    let sync_opts = |projects: Vec<String>| SyncOptions {
        projects,
        skip_simple_root: true,
        show_progress: opts.show_progress,
        stale_backoff: opts.stale_backoff,
        ..SyncOptions::default()
    };
    if opts.repair && !report.problems.is_empty() && !opts.dry_run {
        // A damaged file of the right size would pass the sync's quick check against
        // the state: take it away so the project job fetches it again.
        for p in &report.problems {
            if matches!(p.kind, ProblemKind::Corrupt(_))
                && let Ok(key) = Key::new(p.key.as_str())
            {
                env.storage.delete(&key).await?;
            }
        }
        let projects: BTreeSet<String> =
            report.problems.iter().map(|p| p.project.clone()).collect();
        tracing::info!(projects = projects.len(), "repairing from upstream");
        let sync = run_sync_locked(
            config,
            client.clone(),
            sync_opts(projects.into_iter().collect()),
            &lock,
        )
        .await?;
        note_failures(&mut report, &sync);
        let mut remaining = Vec::new();
        for p in std::mem::take(&mut report.remaining) {
            // Gone from the state: upstream no longer lists it, nothing to repair.
            let Some(rec) = env.db.file(&p.key)? else {
                report.repaired += 1;
                continue;
            };
            match check_one(&env.storage, &rec).await.1 {
                None => report.repaired += 1,
                Some(kind) => remaining.push(Problem { kind, ..p }),
            }
        }
        report.remaining = remaining;
    }

    if opts.json_update {
        if !config.mirror.json {
            tracing::warn!(
                "[mirror] json = false: --json-update writes web/json and web/pypi anyway, but \
                 syncs will not keep them current; set json = true to keep them"
            );
        }
        let names: Vec<String> = env.db.projects()?.into_iter().map(|p| p.name).collect();
        report.json_updated = names.len() as u64;
        if !opts.dry_run && !names.is_empty() {
            let mut with_json = config.clone();
            with_json.mirror.json = true;
            let sync = run_sync_locked(&with_json, client, sync_opts(names), &lock).await?;
            report.json_updated = sync.updated as u64;
            note_failures(&mut report, &sync);
        }
    }

    if opts.delete {
        if env.db.file_count()? == 0 && orphans::has_any_package(&env.storage).await? {
            return Err(VerifyError::EmptyState);
        }
        report.orphans = orphans::remove_orphans(&env.db, &env.storage, opts.dry_run).await?;
    }
    report.elapsed = started.elapsed();
    Ok(report)
}

fn note_failures(report: &mut VerifyReport, sync: &SyncReport) {
    report.failed_projects.extend(sync.failed.iter().cloned());
}

/// Check every recorded file, `workers` at a time, paging through the state.
async fn check_all(
    db: &Arc<StateDb>,
    storage: &Arc<dyn Storage>,
    workers: usize,
    report: &mut VerifyReport,
) -> Result<(), VerifyError> {
    let total = db.file_count()?;
    tracing::info!(files = total, workers, "verifying");
    let pages = futures::stream::try_unfold(
        (db.clone(), None::<String>, false),
        |(db, after, done)| async move {
            if done {
                return Ok(None);
            }
            let page = db.files_page(after.as_deref(), PAGE)?;
            let next = page.last().map(|r| r.key.clone());
            let done = page.len() < PAGE;
            Ok::<_, StateError>(Some((page, (db, next, done))))
        },
    );
    let read = Arc::new(AtomicU64::new(0));
    let checks = pages
        .map_ok(|page| futures::stream::iter(page.into_iter().map(Ok::<_, StateError>)))
        .try_flatten()
        .map(|rec| {
            let storage = storage.clone();
            let read = read.clone();
            async move {
                let rec = rec?;
                let (bytes, problem) = check_one(&storage, &rec).await;
                read.fetch_add(bytes, Ordering::Relaxed);
                Ok::<_, StateError>((rec, problem))
            }
        })
        .buffer_unordered(workers.max(1));
    let mut checks = std::pin::pin!(checks);
    let mut lap = Instant::now();
    while let Some((rec, problem)) = checks.try_next().await? {
        report.checked += 1;
        report.bytes_expected += rec.size;
        match problem {
            None => report.ok += 1,
            Some(kind) => report.problems.push(Problem {
                key: rec.key,
                project: rec.project,
                kind,
            }),
        }
        if report.checked.is_multiple_of(REPORT_EVERY) {
            tracing::info!(
                "verified {}/{total} files; the last {REPORT_EVERY} took {:.1}s",
                report.checked,
                lap.elapsed().as_secs_f64()
            );
            lap = Instant::now();
        }
    }
    report.bytes_read = read.load(Ordering::Relaxed);
    Ok(())
}

/// Bytes read, and what is wrong with the file (`None`: it is as recorded).
async fn check_one(storage: &Arc<dyn Storage>, rec: &FileRecord) -> (u64, Option<ProblemKind>) {
    let key = match Key::new(rec.key.as_str()) {
        Ok(k) => k,
        Err(e) => return (0, Some(ProblemKind::Corrupt(e.to_string()))),
    };
    let meta = match storage.stat(&key).await {
        Ok(Some(m)) => m,
        Ok(None) => return (0, Some(ProblemKind::Missing)),
        Err(e) => return (0, Some(ProblemKind::Corrupt(format!("cannot stat: {e}")))),
    };
    if meta.size != rec.size {
        return (
            0,
            Some(ProblemKind::Corrupt(format!(
                "{} bytes, expected {}",
                meta.size, rec.size
            ))),
        );
    }
    match hash::hash_key(storage, &key).await {
        Ok(None) => (0, Some(ProblemKind::Missing)),
        Ok(Some((sha, size))) if sha.eq_ignore_ascii_case(&rec.sha256) && size == rec.size => {
            (size, None)
        }
        Ok(Some((sha, size))) => (
            size,
            Some(ProblemKind::Corrupt(format!(
                "sha256 {sha}, expected {}",
                rec.sha256
            ))),
        ),
        Err(e) => (0, Some(ProblemKind::Corrupt(format!("cannot read: {e}")))),
    }
}
