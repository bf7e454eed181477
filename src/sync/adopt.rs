//! Adopting a bandersnatch mirror in place. When the directory has `web/simple/` and
//! bandersnatch's `status` but no vorpal state, vorpal's state is built from the tree:
//! each project page names its files with a `#sha256=`; whatever is on disk and hashes
//! to it is recorded, so the following incremental sync (from bandersnatch's serial)
//! downloads nothing it already has. Projects whose page cannot be read, or with a
//! file missing or different, are put in the sync plan so the next run refetches them.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use futures::StreamExt;
use tokio::sync::Semaphore;
use url::Url;

use crate::config::MirrorConfig;
use crate::index::{self, DistFile, is_valid_name, normalize};
use crate::storage::{Key, Storage, StorageError};
use crate::sync::state::bandersnatch::STATUS_FILE;
use crate::sync::state::db::{DB_DIR, DB_FILE};
use crate::sync::state::{FileKind, FileRecord, ProjectRecord, StateDb, StateError, read_status};
use crate::verify::hash::hash_key;

/// Meta key: `started` while an adoption runs (a crash makes the next run redo it),
/// `done` after.
pub const META_ADOPTION: &str = "adoption";
/// Progress is reported every this many files.
const REPORT_EVERY: u64 = 10_000;
/// Pages are resolved against this base; only the path part of a link matters.
const PAGE_BASE: &str = "https://adopted.invalid/";

#[derive(Debug, thiserror::Error)]
pub enum AdoptError {
    #[error(transparent)]
    State(#[from] StateError),
    #[error(transparent)]
    Storage(#[from] StorageError),
    #[error("cannot list {}: {source}; check the mirror directory's permissions", path.display())]
    List {
        path: PathBuf,
        source: std::io::Error,
    },
}

/// What an adoption found.
#[derive(Debug, Default, Clone)]
pub struct AdoptReport {
    pub projects: u64,
    pub files: u64,
    pub bytes: u64,
    /// Files a page lists that are not on disk.
    pub missing: u64,
    /// Files on disk whose size or sha256 differ from the page.
    pub mismatched: u64,
    /// Project folders without a readable page.
    pub unreadable: u64,
    /// Projects queued for the next sync (any of the above).
    pub requeued: u64,
    /// bandersnatch's `status`, where the next sync continues from.
    pub serial: u64,
    pub elapsed: Duration,
}

/// Does `root` hold a bandersnatch tree vorpal has not (fully) adopted yet?
pub fn needs_adoption(root: &Path) -> Result<bool, StateError> {
    let db = has_state(root).then(|| StateDb::open(root)).transpose()?;
    needs_adoption_with(root, db.as_ref())
}

/// Is there a state database under `root`? (Opening one creates it.)
pub fn has_state(root: &Path) -> bool {
    root.join(DB_DIR).join(DB_FILE).exists()
}

/// [`needs_adoption`] with the state database the caller opened (`None`: there
/// is none yet).
fn needs_adoption_with(root: &Path, db: Option<&StateDb>) -> Result<bool, StateError> {
    if !root.join("web/simple").is_dir() || !root.join(STATUS_FILE).is_file() {
        return Ok(false);
    }
    match db {
        None => Ok(true),
        Some(db) => Ok(db.get_meta(META_ADOPTION)?.as_deref() == Some("started")),
    }
}

/// Adopt `root` if [`needs_adoption`]; the caller holds the mirror lock and passes
/// the state database when there is one.
pub async fn adopt_if_needed(
    root: &Path,
    storage: &Arc<dyn Storage>,
    cfg: &MirrorConfig,
    db: Option<&StateDb>,
) -> Result<Option<AdoptReport>, AdoptError> {
    if !needs_adoption_with(root, db)? {
        return Ok(None);
    }
    adopt(root, storage, cfg).await.map(Some)
}

/// Counts shared by the project tasks, and the 10k-file progress clock.
#[derive(Default)]
struct Tally {
    files: AtomicU64,
    bytes: AtomicU64,
    missing: AtomicU64,
    mismatched: AtomicU64,
    lap: Mutex<Option<Instant>>,
}

impl Tally {
    fn file_recorded(&self, size: u64) {
        self.bytes.fetch_add(size, Ordering::Relaxed);
        let n = self.files.fetch_add(1, Ordering::Relaxed) + 1;
        if n.is_multiple_of(REPORT_EVERY)
            && let Ok(mut lap) = self.lap.lock()
        {
            let now = Instant::now();
            let secs = lap.map_or(0.0, |t| now.duration_since(t).as_secs_f64());
            *lap = Some(now);
            tracing::info!("adopted {n} files; the last {REPORT_EVERY} took {secs:.1}s");
        }
    }
}

/// Build vorpal's state from the bandersnatch tree under `root`.
pub async fn adopt(
    root: &Path,
    storage: &Arc<dyn Storage>,
    cfg: &MirrorConfig,
) -> Result<AdoptReport, AdoptError> {
    let started = Instant::now();
    let serial = read_status(root)?;
    let db = Arc::new(StateDb::open(root)?);
    db.set_meta(META_ADOPTION, "started")?;
    let web = root.join("web");
    let (dirs, display) = {
        let web = web.clone();
        tokio::task::spawn_blocking(move || {
            Ok::<_, AdoptError>((project_dirs(&web)?, root_display_names(&web)))
        })
        .await
        .unwrap_or_else(|e| {
            Err(AdoptError::List {
                path: PathBuf::from("web/simple"),
                source: std::io::Error::other(e.to_string()),
            })
        })?
    };
    tracing::info!(
        projects = dirs.len(),
        serial,
        "adopting a bandersnatch mirror: hashing the files its pages list"
    );
    let tally = Arc::new(Tally::default());
    if let Ok(mut lap) = tally.lap.lock() {
        *lap = Some(started);
    }
    let hashers = Arc::new(Semaphore::new(hash_workers(cfg)));
    let display = Arc::new(display);
    let mut report = AdoptReport {
        serial,
        ..AdoptReport::default()
    };
    let mut requeue: Vec<(String, u64)> = Vec::new();
    let mut results = futures::stream::iter(dirs)
        .map(|(name, rel)| {
            let (storage, db, tally, hashers, display) = (
                storage.clone(),
                db.clone(),
                tally.clone(),
                hashers.clone(),
                display.clone(),
            );
            async move {
                let hint = display.get(&name).cloned();
                let r = adopt_project(&storage, &db, &name, &rel, hint, &hashers, &tally).await;
                (name, r)
            }
        })
        .buffer_unordered(cfg.workers.max(2));
    while let Some((name, result)) = results.next().await {
        match result? {
            Adopted::Complete => report.projects += 1,
            Adopted::Incomplete(page_serial) => {
                report.projects += 1;
                requeue.push((name, page_serial));
            }
            Adopted::Unreadable(why) => {
                tracing::warn!(project = %name, "{why}; it is queued for the next sync");
                report.unreadable += 1;
                requeue.push((name, 0));
            }
        }
    }
    drop(results);
    report.requeued = requeue.len() as u64;
    // The sync plan is what the next run does first, whatever the serials say.
    db.save_plan(serial, &requeue)?;
    db.set_meta(META_ADOPTION, "done")?;
    report.files = tally.files.load(Ordering::Relaxed);
    report.bytes = tally.bytes.load(Ordering::Relaxed);
    report.missing = tally.missing.load(Ordering::Relaxed);
    report.mismatched = tally.mismatched.load(Ordering::Relaxed);
    report.elapsed = started.elapsed();
    let per_10k = if report.files > 0 {
        report.elapsed.as_secs_f64() * REPORT_EVERY as f64 / report.files as f64
    } else {
        0.0
    };
    tracing::info!(
        "adopted {} projects and {} files ({} bytes) in {:.1}s ({per_10k:.1}s per 10k files); \
         {} missing, {} different, {} unreadable pages; {} projects queued; continuing from serial {}",
        report.projects,
        report.files,
        report.bytes,
        report.elapsed.as_secs_f64(),
        report.missing,
        report.mismatched,
        report.unreadable,
        report.requeued,
        serial
    );
    Ok(report)
}

/// Hashing is disk- and CPU-bound: one per core, at least the configured workers.
fn hash_workers(cfg: &MirrorConfig) -> usize {
    let cores = std::thread::available_parallelism().map_or(2, |n| n.get());
    cores.max(cfg.workers).max(1)
}

enum Adopted {
    Complete,
    /// Recorded, but some listed file was missing or different: resync (page serial).
    Incomplete(u64),
    /// Nothing recorded.
    Unreadable(String),
}

/// A listed file: where it is and what it must be.
struct Listed {
    key: Key,
    sha256: String,
    size: Option<u64>,
    kind: FileKind,
    upload_time: Option<String>,
}

struct Page {
    files: Vec<DistFile>,
    serial: u64,
    display: Option<String>,
    status: Option<String>,
}

async fn adopt_project(
    storage: &Arc<dyn Storage>,
    db: &StateDb,
    name: &str,
    rel: &str,
    hint: Option<String>,
    hashers: &Semaphore,
    tally: &Tally,
) -> Result<Adopted, AdoptError> {
    let page = match read_page(storage, rel).await? {
        Ok(p) => p,
        Err(why) => return Ok(Adopted::Unreadable(why)),
    };
    let mut complete = true;
    let mut listed = Vec::new();
    for f in &page.files {
        let (Some(sha), Ok(url)) = (f.sha256(), Url::parse(&f.url)) else {
            complete = false;
            continue;
        };
        let Ok(key) = Key::from_url_path(url.path(), &f.filename) else {
            complete = false;
            continue;
        };
        if let Some(meta_sha) = f
            .core_metadata
            .as_ref()
            .and_then(|m| m.hashes.get("sha256"))
            && let Ok(mkey) = Key::new(format!("{}.metadata", key.as_str()))
        {
            listed.push(Listed {
                key: mkey,
                sha256: meta_sha.to_ascii_lowercase(),
                size: None,
                kind: FileKind::Metadata,
                upload_time: f.upload_time.clone(),
            });
        }
        listed.push(Listed {
            key,
            sha256: sha.to_ascii_lowercase(),
            size: f.size,
            kind: FileKind::Dist,
            upload_time: f.upload_time.clone(),
        });
    }
    let checks = futures::future::join_all(listed.iter().map(|l| async move {
        let _permit = hashers.acquire().await;
        check_file(storage, l).await
    }))
    .await;
    let mut records = Vec::with_capacity(listed.len());
    for (l, check) in listed.iter().zip(checks) {
        match check? {
            Check::Matches(size) => {
                tally.file_recorded(size);
                records.push(FileRecord {
                    key: l.key.as_str().to_string(),
                    project: name.to_string(),
                    kind: l.kind,
                    size,
                    sha256: l.sha256.clone(),
                    upload_time: l.upload_time.clone(),
                });
            }
            Check::Missing => {
                tally.missing.fetch_add(1, Ordering::Relaxed);
                complete = false;
            }
            Check::Differs => {
                tally.mismatched.fetch_add(1, Ordering::Relaxed);
                complete = false;
            }
        }
    }
    let usable = |d: &String| !d.is_empty() && normalize(d) == name;
    let display_name = hint
        .filter(usable)
        .or(page.display.filter(usable))
        .unwrap_or_else(|| name.to_string());
    let record = ProjectRecord {
        name: name.to_string(),
        display_name,
        serial: page.serial,
        status: page.status,
    };
    db.commit_project(&record, &records, &[])?;
    Ok(if complete {
        Adopted::Complete
    } else {
        Adopted::Incomplete(page.serial)
    })
}

enum Check {
    Matches(u64),
    Missing,
    Differs,
}

async fn check_file(storage: &Arc<dyn Storage>, l: &Listed) -> Result<Check, StorageError> {
    let Some(meta) = storage.stat(&l.key).await? else {
        return Ok(Check::Missing);
    };
    if l.size.is_some_and(|s| s != meta.size) {
        return Ok(Check::Differs);
    }
    Ok(match hash_key(storage, &l.key).await? {
        None => Check::Missing,
        Some((sha, size)) if sha.eq_ignore_ascii_case(&l.sha256) => Check::Matches(size),
        Some(_) => Check::Differs,
    })
}

/// The project's PEP 691 page if there is one, else its HTML page. The outer error
/// is a storage failure; the inner one says why the page is unusable.
async fn read_page(
    storage: &Arc<dyn Storage>,
    rel: &str,
) -> Result<Result<Page, String>, AdoptError> {
    let Ok(base) = Url::parse(&format!("{PAGE_BASE}{rel}/")) else {
        return Ok(Err(format!("{rel}: not a usable folder name")));
    };
    let json_key = Key::new(format!("web/{rel}/index.v1_json"))?;
    if let Some(body) = storage.get(&json_key).await? {
        return Ok(match index::simple_json::parse_project_json(&body, &base) {
            Ok(p) => Ok(Page {
                files: p.files,
                serial: p.last_serial,
                display: Some(p.display_name),
                status: p.status.map(|s| s.status),
            }),
            Err(e) => Err(format!("{json_key}: {e}")),
        });
    }
    let html_key = Key::new(format!("web/{rel}/index.html"))?;
    let Some(body) = storage.get(&html_key).await? else {
        return Ok(Err(format!("web/{rel} has no index.v1_json or index.html")));
    };
    let html = String::from_utf8_lossy(&body);
    Ok(match index::simple_html::parse_project_html(&html, &base) {
        Ok(files) => Ok(Page {
            files,
            serial: index::simple_html::html_serial(&html).unwrap_or(0),
            display: None,
            status: index::simple_html::html_project_status(&html).map(|s| s.status),
        }),
        Err(e) => Err(format!("{html_key}: {e}")),
    })
}

/// `(normalized name, folder below web/)` of every project folder in `web/simple`,
/// with or without hash-index (`simple/<first char>/<name>/`).
fn project_dirs(web: &Path) -> Result<Vec<(String, String)>, AdoptError> {
    let simple = web.join("simple");
    let mut out = Vec::new();
    for (name, path) in subdirs(&simple)? {
        if is_project_dir(&path) {
            push_project(&mut out, &name, format!("simple/{name}"));
        } else if name.chars().count() == 1 {
            for (inner, inner_path) in subdirs(&path)? {
                if is_project_dir(&inner_path) {
                    push_project(&mut out, &inner, format!("simple/{name}/{inner}"));
                }
            }
        }
    }
    out.sort();
    Ok(out)
}

fn push_project(out: &mut Vec<(String, String)>, dir_name: &str, rel: String) {
    if is_valid_name(dir_name) && normalize(dir_name) == dir_name {
        out.push((dir_name.to_string(), rel));
    } else {
        tracing::warn!(folder = %rel, "not a normalized project name; not adopted");
    }
}

fn is_project_dir(path: &Path) -> bool {
    path.join("index.html").is_file() || path.join("index.v1_json").is_file()
}

fn subdirs(dir: &Path) -> Result<Vec<(String, PathBuf)>, AdoptError> {
    let err = |source| AdoptError::List {
        path: dir.to_path_buf(),
        source,
    };
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).map_err(err)? {
        let entry = entry.map_err(err)?;
        if entry.file_type().map_err(err)?.is_dir()
            && let Ok(name) = entry.file_name().into_string()
        {
            out.push((name, entry.path()));
        }
    }
    Ok(out)
}

/// Normalized name → display name, from the root index (JSON, else HTML).
fn root_display_names(web: &Path) -> HashMap<String, String> {
    let mut out = HashMap::new();
    if let Ok(body) = std::fs::read(web.join("simple/index.v1_json"))
        && let Ok((_, listed)) = index::simple_json::parse_root_json(&body)
    {
        for p in listed {
            out.insert(normalize(&p.name), p.name);
        }
        return out;
    }
    if let Ok(html) = std::fs::read_to_string(web.join("simple/index.html")) {
        // The root page is one anchor per project; its text is the display name.
        let Ok(re) = regex::Regex::new(r#"<a\s[^>]*href="[^"]*"[^>]*>([^<]+)</a>"#) else {
            return out;
        };
        for cap in re.captures_iter(&html) {
            let text = index::simple_html::decode_entities(cap[1].trim());
            if is_valid_name(&text) {
                out.insert(normalize(&text), text);
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_project_folders_with_and_without_hash_index() {
        let dir = tempfile::tempdir().unwrap();
        let web = dir.path();
        for rel in ["simple/foo-bar", "simple/s/six", "simple/Bad_Name"] {
            std::fs::create_dir_all(web.join(rel)).unwrap();
            std::fs::write(web.join(rel).join("index.html"), "<html></html>").unwrap();
        }
        std::fs::create_dir_all(web.join("simple/empty")).unwrap();
        let found = project_dirs(web).unwrap();
        assert_eq!(
            found,
            [
                ("foo-bar".to_string(), "simple/foo-bar".to_string()),
                ("six".to_string(), "simple/s/six".to_string())
            ]
        );
    }

    #[test]
    fn display_names_from_root_html() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("simple")).unwrap();
        std::fs::write(
            dir.path().join("simple/index.html"),
            "<html><body>\n<a href=\"foo-bar/\">Foo.Bar</a>\n<a href=\"six/\">six</a>\n</body></html>",
        )
        .unwrap();
        let names = root_display_names(dir.path());
        assert_eq!(names.get("foo-bar").map(String::as_str), Some("Foo.Bar"));
        assert_eq!(names.get("six").map(String::as_str), Some("six"));
    }
}
