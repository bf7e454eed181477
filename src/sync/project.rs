//! One project job: fetch its metadata, apply filters, make sure every file is present
//! and verified, write its pages, then commit it to state. Nothing about a project is
//! committed unless all of its files landed.

use std::collections::{BTreeMap, HashMap};
use std::time::{Duration, SystemTime};

use bytes::Bytes;
use url::Url;

use crate::config::{CompareMethod, MetadataSource};
use crate::index::{self, DistFile, Project, normalize};
use crate::storage::{Key, ObjectMeta, Staged, StorageError};
use crate::sync::SyncEnv;
use crate::sync::download::{self, DownloadError, Expected};
use crate::sync::layout::{self, PageKind};
use crate::sync::state::{
    FileKind, FileRecord, JournalEntry, ProjectCommit, ProjectRecord, QueuedCommit, StateError,
};
use crate::sync::wheel_metadata::metadata_from_wheel;
use crate::upstream::{ProjectFetch, UpstreamError};

#[derive(Debug)]
pub enum JobOutcome {
    Updated {
        fetched: u64,
    },
    Removed,
    /// Filtered out: nothing local changed.
    Skipped(String),
    /// Upstream deleted it and `keep-deleted` keeps the local copy.
    Kept,
}

#[derive(Debug, thiserror::Error)]
pub enum ProjectError {
    #[error(transparent)]
    Upstream(#[from] UpstreamError),
    #[error(transparent)]
    Storage(#[from] StorageError),
    #[error(transparent)]
    State(#[from] StateError),
    #[error("{file}: {source}")]
    Download { file: String, source: DownloadError },
    #[error("{0}")]
    Invalid(String),
}

/// A file the project needs, with where it goes and what it must hash to.
struct Wanted {
    key: Key,
    url: String,
    expected: Expected,
    kind: FileKind,
    upload_time: Option<String>,
    filename: String,
    version: Option<String>,
    /// For a wheel's `.metadata`: the index in the wanted list of its wheel, whose
    /// bytes (when downloaded now) hold the same METADATA.
    wheel: Option<usize>,
    /// For a wheel whose `.metadata` is wanted: keep the downloaded bytes for it.
    keep_body: bool,
}

/// How far a job got before it stopped holding the project in memory.
enum Progressed {
    Finished(JobOutcome),
    /// Files and pages are in place; the state commit is queued.
    Committing {
        queued: QueuedCommit,
        fetched: u64,
    },
}

pub async fn sync_project(
    env: &SyncEnv,
    name: &str,
    expected_serial: u64,
    display_hint: Option<&str>,
    in_plan: bool,
) -> Result<JobOutcome, ProjectError> {
    // Held until the commit is queued (when everything else the job held is
    // gone): bounds the projects in memory, not those waiting for their commit.
    let in_memory = env.in_memory.acquire().await.map_err(shutting_down)?;
    let progressed = prepare(env, name, expected_serial, display_hint, in_plan).await;
    drop(in_memory);
    let (queued, fetched) = match progressed? {
        Progressed::Finished(outcome) => return Ok(outcome),
        Progressed::Committing { queued, fetched } => (queued, fetched),
    };
    for key in queued.outcome().await? {
        delete_key(env, &key).await;
    }
    Ok(JobOutcome::Updated { fetched })
}

fn shutting_down<E>(_: E) -> ProjectError {
    ProjectError::Invalid("the sync is shutting down".into())
}

/// Everything of a project's job up to queueing its commit.
async fn prepare(
    env: &SyncEnv,
    name: &str,
    expected_serial: u64,
    display_hint: Option<&str>,
    in_plan: bool,
) -> Result<Progressed, ProjectError> {
    // The slot covers fetching and judging the project's metadata: `workers` bounds
    // those requests, and `download-concurrency` the files of all projects together.
    // Downloads, publishing and committing must not keep the next project waiting.
    let worker = env.workers.acquire().await.map_err(shutting_down)?;
    let mut project = match env.upstream.project(name, expected_serial).await? {
        ProjectFetch::Gone if env.cfg.keep_deleted => {
            return Ok(Progressed::Finished(JobOutcome::Kept));
        }
        ProjectFetch::Gone => {
            remove_project(env, name, expected_serial).await?;
            return Ok(Progressed::Finished(JobOutcome::Removed));
        }
        ProjectFetch::Found(p) => *p,
    };
    if normalize(&project.name) != name {
        return Err(ProjectError::Invalid(format!(
            "upstream answered for project {name:?} with a page for {:?}; refusing to mix them up",
            project.name
        )));
    }
    project.name = name.to_string();
    let known = env.db.project(name)?;
    project.display_name = display_name(env, &project, name, display_hint, known.as_ref());
    if let Some(filters) = &env.filters
        && let crate::sync::filters::FilterOutcome::SkipProject(reason) =
            filters.filter_project(&mut project)
    {
        env.db
            .mark_filtered(name, project.last_serial.max(expected_serial), &reason)?;
        return Ok(Progressed::Finished(JobOutcome::Skipped(reason)));
    }
    if project.status.as_ref().is_some_and(|s| s.is_quarantined()) {
        project.files.clear();
    }
    drop(worker);

    let upstream_base = env.upstream.base().clone();
    let mut wanted = Vec::new();
    let mut keys_by_filename: HashMap<String, Key> = HashMap::new();
    for file in &mut project.files {
        let (key, url) = file_location(file, &upstream_base, &env.cfg.download_hosts)?;
        let sha256 = file.sha256().map(str::to_ascii_lowercase).ok_or_else(|| {
            ProjectError::Invalid(format!(
                "{}: upstream lists no sha256 for {}; it cannot be verified, so it is not mirrored",
                name, file.filename
            ))
        })?;
        keys_by_filename.insert(file.filename.clone(), key.clone());
        if !env.cfg.release_files {
            continue;
        }
        let metadata_sha = file
            .core_metadata
            .as_ref()
            .and_then(|m| m.hashes.get("sha256").cloned());
        let is_wheel = file.filename.ends_with(".whl");
        match (env.cfg.core_metadata, metadata_sha) {
            (true, Some(sha)) => wanted.push(Wanted {
                key: Key::new(format!("{}.metadata", key.as_str()))?,
                url: format!("{url}.metadata"),
                expected: Expected {
                    sha256: sha.to_ascii_lowercase(),
                    size: None,
                    blake2b_256: None,
                },
                kind: FileKind::Metadata,
                upload_time: file.upload_time.clone(),
                filename: format!("{}.metadata", file.filename),
                version: file.version.clone(),
                // The wheel comes next in the list.
                wheel: is_wheel.then_some(wanted.len() + 1),
                keep_body: false,
            }),
            // Never advertise a .metadata file we do not serve: pip treats a
            // missing one as fatal. One without a hash cannot be verified.
            _ => file.core_metadata = None,
        }
        wanted.push(Wanted {
            expected: Expected {
                sha256,
                size: file.size,
                blake2b_256: layout::blake2b_from_path(&key),
            },
            key,
            url,
            kind: FileKind::Dist,
            upload_time: file.upload_time.clone(),
            filename: file.filename.clone(),
            version: file.version.clone(),
            wheel: None,
            // Its `.metadata`, just pushed, will be taken out of these bytes.
            keep_body: wanted.last().and_then(|m| m.wheel) == Some(wanted.len()),
        });
    }

    let before: BTreeMap<String, FileRecord> = env
        .db
        .files_of(name)?
        .into_iter()
        .map(|r| (r.key.clone(), r))
        .collect();
    let stats = stat_files(env, &wanted, &before).await?;
    let results = ensure_all(env, &wanted, &before, stats).await;
    let mut records = Vec::with_capacity(wanted.len());
    let mut staged = Vec::new();
    let mut fetched = 0;
    for (w, result) in wanted.iter().zip(results) {
        match result {
            Ok((record, new_file, _)) => {
                if let Some(file) = new_file {
                    fetched += 1;
                    staged.push(file);
                }
                records.push(record);
            }
            Err(source) => {
                return Err(ProjectError::Download {
                    file: w.filename.clone(),
                    source,
                });
            }
        }
    }

    // Files first, then the pages that link them: one flush makes them all durable
    // before any becomes visible, and a second makes the renames durable before
    // state records the project as done.
    let versioned = stage_pages(env, &project, &keys_by_filename, &mut staged).await?;
    let announced = env.commits.announce();
    env.storage.publish(staged).await?;
    if let Some(page) = versioned {
        write_versioned_page(env, page, project.last_serial).await?;
    }
    env.storage.flush().await?;

    let now = chrono::Utc::now().timestamp();
    let mut journal = Vec::new();
    if known.is_none() {
        journal.push(entry(&project, None, "create", now));
    }
    for w in wanted.iter().filter(|w| w.kind == FileKind::Dist) {
        if !before.contains_key(w.key.as_str()) {
            let action = format!("add file {}", w.filename);
            journal.push(entry(&project, w.version.clone(), &action, now));
        }
    }
    for old in before.values().filter(|r| r.kind == FileKind::Dist) {
        if !records.iter().any(|r| r.key == old.key) {
            let filename = old.key.rsplit('/').next().unwrap_or(&old.key);
            journal.push(entry(
                &project,
                None,
                &format!("remove file {filename}"),
                now,
            ));
        }
    }
    // A change without new or removed files (a yank, a status, metadata) still gets
    // an entry: mirrors that follow this one's changelog must refetch the pages.
    if journal.is_empty() && known.is_some_and(|k| k.serial < project.last_serial) {
        journal.push(entry(&project, None, "update", now));
    }
    let record = ProjectRecord {
        name: name.to_string(),
        display_name: project.display_name.clone(),
        serial: project.last_serial.max(expected_serial),
        status: project.status.as_ref().map(|s| s.status.clone()),
    };
    let queued = env.commits.queue(
        ProjectCommit {
            record,
            files: records,
            journal,
            plan_done: in_plan,
        },
        Some(announced),
    )?;
    Ok(Progressed::Committing { queued, fetched })
}

/// The JSON API's `info.name` is authoritative; a PEP 691 page only carries the
/// normalized name, so the upstream list's spelling (or the one already recorded) wins.
fn display_name(
    env: &SyncEnv,
    project: &Project,
    name: &str,
    hint: Option<&str>,
    known: Option<&ProjectRecord>,
) -> String {
    let usable = |d: &str| !d.is_empty() && normalize(d) == name;
    if env.cfg.metadata_source == MetadataSource::Json && usable(&project.display_name) {
        return project.display_name.clone();
    }
    if let Some(h) = hint.filter(|h| usable(h)) {
        return h.to_string();
    }
    if let Some(known) = known {
        return known.display_name.clone();
    }
    if usable(&project.display_name) {
        project.display_name.clone()
    } else {
        name.to_string()
    }
}

fn entry(project: &Project, version: Option<String>, action: &str, now: i64) -> JournalEntry {
    JournalEntry {
        serial: project.last_serial,
        name: project.display_name.clone(),
        version,
        action: action.to_string(),
        timestamp: now,
    }
}

/// The validated storage key and absolute URL of a listed file.
fn file_location(
    file: &DistFile,
    upstream: &Url,
    download_hosts: &[String],
) -> Result<(Key, String), ProjectError> {
    let url = upstream.join(&file.url).map_err(|e| {
        ProjectError::Invalid(format!(
            "{}: bad file URL {:?}: {e}",
            file.filename, file.url
        ))
    })?;
    if !matches!(url.scheme(), "https" | "http") {
        return Err(ProjectError::Invalid(format!(
            "{}: file URL {url} is not http(s)",
            file.filename
        )));
    }
    if !layout::allowed_file_host(&url, upstream, download_hosts) {
        return Err(ProjectError::Invalid(format!(
            "{}: file URL {url} is on a host that is neither the upstream nor a configured \
             download host; add it to [mirror] download-hosts if it is trusted",
            file.filename
        )));
    }
    let key = Key::from_url_path(url.path(), &file.filename).map_err(|e| {
        ProjectError::Invalid(format!("{}: unsafe file URL {url}: {e}", file.filename))
    })?;
    let mut clean = url.clone();
    clean.set_fragment(None);
    Ok((key, clean.to_string()))
}

fn parse_upload_time(t: &str) -> Option<SystemTime> {
    let dt = chrono::DateTime::parse_from_rfc3339(t).ok()?;
    let secs = u64::try_from(dt.timestamp()).ok()?;
    Some(SystemTime::UNIX_EPOCH + Duration::new(secs, dt.timestamp_subsec_nanos()))
}

/// Make sure `w` is present and correct; returns its record and, when it had to be
/// fetched, the staged new file.
/// What is on disk for each wanted file, in one storage call. A file the inventory
/// does not know is not looked at after a finished run (the inventory is complete).
async fn stat_files(
    env: &SyncEnv,
    wanted: &[Wanted],
    known: &BTreeMap<String, FileRecord>,
) -> Result<Vec<Option<ObjectMeta>>, StorageError> {
    let look = |w: &Wanted| !env.inventory_complete || known.contains_key(w.key.as_str());
    let keys = wanted.iter().filter(|w| look(w)).map(|w| w.key.clone());
    let mut found = env.storage.stat_many(keys.collect()).await?.into_iter();
    Ok(wanted
        .iter()
        .map(|w| {
            if look(w) {
                found.next().flatten()
            } else {
                None
            }
        })
        .collect())
}

/// What [`ensure_file`] did: the file's record, its staged bytes when it was
/// written now, and the bytes themselves when they were kept for a `.metadata`.
type Ensured = (FileRecord, Option<Staged>, Option<Bytes>);

/// Every wanted file, in the order of `wanted`. A wheel's `.metadata` waits for
/// its wheel, so that a wheel downloaded now can supply it.
async fn ensure_all(
    env: &SyncEnv,
    wanted: &[Wanted],
    before: &BTreeMap<String, FileRecord>,
    stats: Vec<Option<ObjectMeta>>,
) -> Vec<Result<Ensured, DownloadError>> {
    let mut results: Vec<Option<Result<Ensured, DownloadError>>> =
        wanted.iter().map(|_| None).collect();
    for paired_pass in [false, true] {
        let jobs = wanted
            .iter()
            .enumerate()
            .filter(|(_, w)| w.wheel.is_some() == paired_pass)
            .map(|(i, w)| {
                let stat = stats[i];
                let body = w.wheel.and_then(|j| match results.get_mut(j) {
                    Some(Some(Ok((_, _, body)))) => body.take(),
                    _ => None,
                });
                async move {
                    let known = before.get(w.key.as_str());
                    (i, ensure_file(env, w, known, stat, body).await)
                }
            })
            .collect::<Vec<_>>();
        for (i, result) in futures::future::join_all(jobs).await {
            results[i] = Some(result);
        }
    }
    // Each file is in exactly one pass, so every slot is filled.
    results
        .into_iter()
        .zip(wanted)
        .map(|(r, w)| {
            r.unwrap_or_else(|| {
                Err(DownloadError::Corrupt {
                    url: w.url.clone(),
                    detail: "it was never handled".into(),
                    tries: 0,
                })
            })
        })
        .collect()
}

async fn ensure_file(
    env: &SyncEnv,
    w: &Wanted,
    known: Option<&FileRecord>,
    stat: Option<ObjectMeta>,
    wheel: Option<Bytes>,
) -> Result<Ensured, DownloadError> {
    let storage = env.storage.as_ref();
    let mtime = w.upload_time.as_deref().and_then(parse_upload_time);
    let record = |size: u64| FileRecord {
        key: w.key.as_str().to_string(),
        project: String::new(),
        kind: w.kind,
        size,
        sha256: w.expected.sha256.clone(),
        upload_time: w.upload_time.clone(),
    };
    if let Some(meta) = &stat {
        // The inventory already vouches for these bytes: no need to read them again.
        if let Some(k) = known
            && k.sha256.eq_ignore_ascii_case(&w.expected.sha256)
            && k.size == meta.size
        {
            return Ok((record(meta.size), None, None));
        }
        let size_ok = w.expected.size.is_none_or(|s| s == meta.size);
        if env.cfg.compare_method == CompareMethod::Stat
            && size_ok
            && mtime.is_some()
            && meta.mtime == mtime
        {
            return Ok((record(meta.size), None, None));
        }
        // Present but unknown (an adopted tree, or a crash before commit): hash it.
        if size_ok
            && let Some((sha, size)) = download::hash_stored(storage, &w.key).await?
            && sha.eq_ignore_ascii_case(&w.expected.sha256)
        {
            return Ok((record(size), None, None));
        }
    }
    if let Some(wheel) = wheel
        && let Some(bytes) = metadata_from_wheel(&wheel, &w.expected.sha256)
    {
        let size = bytes.len() as u64;
        let mut writer = storage.writer(&w.key, Some(size)).await?;
        if let Err(e) = writer.write(&bytes).await {
            writer.abort().await;
            return Err(e.into());
        }
        let staged = writer.finish(mtime).await?;
        env.progress.file_done();
        env.note_written(&w.key);
        return Ok((record(size), Some(staged), None));
    }
    let _permit = env.downloads.acquire().await;
    let fetch = |url: String| async move {
        download::download_verified(
            &env.client,
            storage,
            &w.key,
            &url,
            &w.expected,
            mtime,
            &env.progress,
            w.keep_body,
        )
        .await
    };
    let done = match download_mirror_url(env, &w.key) {
        // bandersnatch's download-mirror: try the closer copy first; the bytes are
        // verified against upstream's hashes either way.
        Some(mirror_url) => match fetch(mirror_url.clone()).await {
            Ok(done) => done,
            Err(e) if !env.cfg.download_mirror_no_fallback => {
                tracing::debug!(url = %mirror_url, "download mirror failed ({e}); trying upstream");
                fetch(w.url.clone()).await?
            }
            Err(e) => return Err(e),
        },
        None => fetch(w.url.clone()).await?,
    };
    env.progress.file_done();
    env.note_written(&w.key);
    Ok((record(done.size), Some(done.staged), done.body))
}

/// The file's URL on the configured download mirror: `<download-mirror>/packages/...`.
fn download_mirror_url(env: &SyncEnv, key: &Key) -> Option<String> {
    let base = env.cfg.download_mirror.as_deref()?.trim_end_matches('/');
    Some(format!("{base}/{}", layout::url_path(key)))
}

/// A project's `index.html` when `keep-index-versions` keeps old copies: written
/// after the files are published, as a versioned file and a symlink.
struct VersionedPage {
    key: Key,
    body: Bytes,
}

/// Stage the project's pages (and JSON API documents) after its files in `staged`.
async fn stage_pages(
    env: &SyncEnv,
    project: &Project,
    keys: &HashMap<String, Key>,
    staged: &mut Vec<Staged>,
) -> Result<Option<VersionedPage>, ProjectError> {
    let href = |f: &DistFile| {
        keys.get(&f.filename)
            .map(|k| env.layout.file_href(k))
            .unwrap_or_else(|| f.url.clone())
    };
    // index.html and index.v1_html share one buffer.
    let html = Bytes::from(index::simple_html::render_project_html(project, &href));
    let json = Bytes::from(index::simple_json::render_project_json(project, &href));
    let mut versioned = None;
    for (key, kind) in env.layout.project_pages(&project.name)? {
        let body = match kind {
            PageKind::Html => html.clone(),
            PageKind::Json => json.clone(),
        };
        env.note_written(&key);
        if env.cfg.keep_index_versions > 0
            && key.file_name() == "index.html"
            && env.storage.local_path(&key).is_some()
        {
            versioned = Some(VersionedPage { key, body });
            continue;
        }
        staged.push(env.storage.stage(&key, body).await?);
    }
    if env.cfg.json {
        let api_url = |f: &DistFile| match (&env.layout.root_uri, keys.get(&f.filename)) {
            (Some(_), Some(k)) => env.layout.file_href(k),
            _ => f.url.clone(),
        };
        let doc = index::jsonapi::render_jsonapi(project, &api_url);
        for key in layout::json_api_keys(&project.name)? {
            staged.push(env.storage.stage(&key, doc.clone().into()).await?);
            env.note_written(&key);
        }
    }
    Ok(versioned)
}

async fn write_versioned_page(
    env: &SyncEnv,
    page: VersionedPage,
    serial: u64,
) -> Result<(), ProjectError> {
    let Some(path) = env.storage.local_path(&page.key) else {
        return Ok(());
    };
    let keep = env.cfg.keep_index_versions;
    tokio::task::spawn_blocking(move || {
        crate::sync::tree_extras::write_versioned_index(&path, &page.body, serial, keep)
            .map_err(|e| (path, e))
    })
    .await
    .map_err(|e| ProjectError::Invalid(format!("writing a page stopped: {e}")))?
    .map_err(|(path, e)| {
        ProjectError::Storage(StorageError::io(
            "write a versioned page",
            &path,
            &env.root,
            e,
        ))
    })
}

/// Remove a project upstream deleted: pages first (clients stop seeing it), then state,
/// then its files.
pub async fn remove_project(env: &SyncEnv, name: &str, serial: u64) -> Result<(), ProjectError> {
    for key in env.layout.all_project_keys(name)? {
        env.storage.delete(&key).await?;
    }
    let display = env
        .db
        .project(name)?
        .map_or_else(|| name.to_string(), |p| p.display_name);
    // The plan's removal entries carry no serial (0); the run's target is when this
    // mirror saw the project go, and followers' changelog calls must see it.
    let serial = env.db.plan_target()?.unwrap_or(0).max(serial);
    let journal = [JournalEntry {
        serial,
        name: display,
        version: None,
        action: "remove project".into(),
        timestamp: chrono::Utc::now().timestamp(),
    }];
    for key in env.db.remove_project(name, &journal)? {
        delete_key(env, &key).await;
    }
    Ok(())
}

/// Delete a file nothing references any more. A failure leaves an orphan that
/// `vorpal verify --delete` removes later, never a dangling reference.
async fn delete_key(env: &SyncEnv, key: &str) {
    match Key::new(key) {
        Ok(k) => {
            if let Err(e) = env.storage.delete(&k).await {
                tracing::warn!(key, "could not delete unreferenced file: {e}");
            }
        }
        Err(e) => tracing::warn!(key, "state names an invalid path: {e}"),
    }
}
