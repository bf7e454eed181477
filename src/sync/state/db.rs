//! vorpal's own state in SQLite: projects with their serials, the file inventory
//! (for verify without walking the tree), a journal of changes, and the resumable
//! sync plan.

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use rusqlite::types::{FromSql, FromSqlError, FromSqlResult, ToSql, ToSqlOutput, ValueRef};
use rusqlite::{Connection, OptionalExtension, Row, TransactionBehavior, params};

use super::StateError;
use super::schema::migrate;

/// `<root>/.vorpal/state.sqlite`.
pub const DB_DIR: &str = ".vorpal";
pub const DB_FILE: &str = "state.sqlite";

/// Meta keys.
pub const META_TARGET_SERIAL: &str = "target_serial";
pub const META_LAST_SERIAL: &str = "last_serial";
pub const META_LAST_SYNC: &str = "last_sync";

/// How long a call waits for another process (e.g. `vorpal serve`) holding the
/// database before giving up.
const BUSY_TIMEOUT: Duration = Duration::from_secs(30);

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProjectRecord {
    /// PEP 503-normalized name.
    pub name: String,
    pub display_name: String,
    pub serial: u64,
    /// PEP 792 project status (`archived`, `quarantined`, ...), when upstream says.
    pub status: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum FileKind {
    /// A distribution file under web/packages.
    Dist,
    /// A `.metadata` file (PEP 658) beside a dist.
    Metadata,
    /// A project page under web/simple.
    Page,
    /// A JSON API document under web/json or web/pypi.
    Json,
}

impl FileKind {
    pub fn as_str(self) -> &'static str {
        match self {
            FileKind::Dist => "dist",
            FileKind::Metadata => "metadata",
            FileKind::Page => "page",
            FileKind::Json => "json",
        }
    }

    pub fn parse(s: &str) -> Option<FileKind> {
        Some(match s {
            "dist" => FileKind::Dist,
            "metadata" => FileKind::Metadata,
            "page" => FileKind::Page,
            "json" => FileKind::Json,
            _ => return None,
        })
    }
}

impl ToSql for FileKind {
    fn to_sql(&self) -> rusqlite::Result<ToSqlOutput<'_>> {
        Ok(ToSqlOutput::from(self.as_str()))
    }
}

impl FromSql for FileKind {
    fn column_result(value: ValueRef<'_>) -> FromSqlResult<Self> {
        let s = value.as_str()?;
        FileKind::parse(s)
            .ok_or_else(|| FromSqlError::Other(format!("unknown file kind {s:?}").into()))
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileRecord {
    /// Storage key (see `crate::storage::Key`).
    pub key: String,
    /// Normalized name of the owning project.
    pub project: String,
    pub kind: FileKind,
    pub size: u64,
    /// Lowercase hex sha256 of the content.
    pub sha256: String,
    /// Upstream upload time (ISO 8601) for dists; bandersnatch's `stat` compare uses it.
    pub upload_time: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JournalEntry {
    pub serial: u64,
    pub name: String,
    pub version: Option<String>,
    /// What happened, in PyPI changelog words (`add py3 file ...`, `remove project`).
    pub action: String,
    /// Unix seconds.
    pub timestamp: i64,
}

/// The state database. Calls are short; connections behind mutexes make
/// `Arc<StateDb>` shareable across tasks. Reads have their own connection: in WAL
/// mode they never wait for the writer, so a project job looking up its files does
/// not stall a runtime thread while a batch of commits is being written.
#[derive(Debug)]
pub struct StateDb {
    conn: Mutex<Connection>,
    reader: Mutex<Connection>,
    path: PathBuf,
}

const PROJECT_COLS: &str = "name, display_name, serial, status";
/// WAL size (pages of 4 KiB) at which it is folded back into the database.
const WAL_CHECKPOINT_PAGES: i64 = 8192;
/// A log this large at the end of a run is folded into the database then: a full
/// sync's is, the few MB an incremental run writes wait for the automatic checkpoint.
const WAL_FOLD_BYTES: u64 = 16 << 20;

const FILE_COLS: &str = "key, project, kind, size, sha256, upload_time";

fn project_row(r: &Row<'_>) -> rusqlite::Result<ProjectRecord> {
    Ok(ProjectRecord {
        name: r.get(0)?,
        display_name: r.get(1)?,
        serial: r.get(2)?,
        status: r.get(3)?,
    })
}

fn file_row(r: &Row<'_>) -> rusqlite::Result<FileRecord> {
    Ok(FileRecord {
        key: r.get(0)?,
        project: r.get(1)?,
        kind: r.get(2)?,
        size: r.get(3)?,
        sha256: r.get(4)?,
        upload_time: r.get(5)?,
    })
}

fn journal_row(r: &Row<'_>) -> rusqlite::Result<JournalEntry> {
    Ok(JournalEntry {
        serial: r.get(0)?,
        name: r.get(1)?,
        version: r.get(2)?,
        action: r.get(3)?,
        timestamp: r.get(4)?,
    })
}

fn insert_journal(tx: &Connection, journal: &[JournalEntry]) -> rusqlite::Result<()> {
    let mut stmt = tx.prepare_cached(
        "INSERT INTO journal (serial, name, version, action, timestamp) VALUES (?1, ?2, ?3, ?4, ?5)",
    )?;
    for j in journal {
        stmt.execute(params![j.serial, j.name, j.version, j.action, j.timestamp])?;
    }
    Ok(())
}

/// One project's new state, as the sync commits it.
#[derive(Debug, Clone)]
pub struct ProjectCommit {
    pub record: ProjectRecord,
    pub files: Vec<FileRecord>,
    pub journal: Vec<JournalEntry>,
    /// Also mark the project done in the saved plan.
    pub plan_done: bool,
}

fn commit_project_in(tx: &Connection, commit: &ProjectCommit) -> rusqlite::Result<Vec<String>> {
    let (record, files) = (&commit.record, &commit.files);
    let old: HashMap<String, FileRecord> = tx
        .prepare_cached(&format!("SELECT {FILE_COLS} FROM files WHERE project = ?1"))?
        .query_map([&record.name], file_row)?
        .map(|r| r.map(|f| (f.key.clone(), f)))
        .collect::<rusqlite::Result<_>>()?;
    tx.prepare_cached(
        "INSERT INTO projects (name, display_name, serial, status, updated_at)
         VALUES (?1, ?2, ?3, ?4, ?5)
         ON CONFLICT(name) DO UPDATE SET display_name = excluded.display_name,
           serial = excluded.serial, status = excluded.status,
           updated_at = excluded.updated_at",
    )?
    .execute(params![
        record.name,
        record.display_name,
        record.serial,
        record.status,
        now_secs()
    ])?;
    tx.prepare_cached("DELETE FROM filtered WHERE name = ?1")?
        .execute([&record.name])?;
    // Only rows that changed are written: rewriting a project's unchanged files
    // touched a page of every index per file on each update.
    let kept: HashSet<&str> = files.iter().map(|f| f.key.as_str()).collect();
    let mut dropped: Vec<String> = old
        .keys()
        .filter(|k| !kept.contains(k.as_str()))
        .cloned()
        .collect();
    dropped.sort();
    {
        let mut delete = tx.prepare_cached("DELETE FROM files WHERE key = ?1")?;
        for key in &dropped {
            delete.execute([key])?;
        }
        let mut insert = tx.prepare_cached(
            "INSERT OR REPLACE INTO files (key, project, kind, size, sha256, upload_time)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
        )?;
        for f in files {
            let unchanged = old.get(&f.key).is_some_and(|o| {
                (o.kind, o.size, &o.sha256, &o.upload_time)
                    == (f.kind, f.size, &f.sha256, &f.upload_time)
            });
            if !unchanged {
                insert.execute(params![
                    f.key,
                    record.name,
                    f.kind,
                    f.size,
                    f.sha256,
                    f.upload_time
                ])?;
            }
        }
    }
    insert_journal(tx, &commit.journal)?;
    if commit.plan_done {
        tx.prepare_cached("UPDATE plan SET done = 1 WHERE name = ?1")?
            .execute([&record.name])?;
    }
    Ok(dropped)
}

fn keys_of(tx: &Connection, project: &str) -> rusqlite::Result<Vec<String>> {
    let mut stmt = tx.prepare_cached("SELECT key FROM files WHERE project = ?1 ORDER BY key")?;
    stmt.query_map([project], |r| r.get(0))?.collect()
}

fn now_secs() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

impl StateDb {
    /// Open (creating if needed) `<root>/.vorpal/state.sqlite` and bring its schema
    /// up to date.
    pub fn open(root: &Path) -> Result<StateDb, StateError> {
        let dir = root.join(DB_DIR);
        std::fs::create_dir_all(&dir).map_err(|e| StateError::io("create", &dir, e))?;
        let path = dir.join(DB_FILE);
        let db_err = |source| StateError::Db {
            path: path.clone(),
            source,
        };
        let mut conn = Connection::open(&path).map_err(db_err)?;
        conn.busy_timeout(BUSY_TIMEOUT).map_err(db_err)?;
        conn.query_row("PRAGMA journal_mode = WAL", [], |r| r.get::<_, String>(0))
            .map_err(db_err)?;
        // WAL + NORMAL: a commit survives a crash of vorpal; a power cut may lose
        // the last commits, which a resumed sync redoes.
        conn.pragma_update(None, "synchronous", "NORMAL")
            .map_err(db_err)?;
        // A checkpoint is two fsyncs on the writer's path; the default (every
        // 1,000 pages) ran several per incremental sync and ~80 in a full one.
        conn.pragma_update(None, "wal_autocheckpoint", WAL_CHECKPOINT_PAGES)
            .map_err(db_err)?;
        conn.set_prepared_statement_cache_capacity(64);
        migrate(&mut conn, &path)?;
        let reader = Connection::open(&path).map_err(db_err)?;
        reader.busy_timeout(BUSY_TIMEOUT).map_err(db_err)?;
        reader
            .pragma_update(None, "query_only", true)
            .map_err(db_err)?;
        reader.set_prepared_statement_cache_capacity(64);
        Ok(StateDb {
            conn: Mutex::new(conn),
            reader: Mutex::new(reader),
            path,
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// A panic elsewhere while holding a lock cannot leave a half-done transaction
    /// (it rolls back on drop), so a poisoned connection is still good.
    fn lock(conn: &Mutex<Connection>) -> MutexGuard<'_, Connection> {
        conn.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn db_error(&self, source: rusqlite::Error) -> StateError {
        StateError::Db {
            path: self.path.clone(),
            source,
        }
    }

    /// Run a read on the reading connection (it refuses writes).
    fn read<T>(&self, f: impl FnOnce(&Connection) -> rusqlite::Result<T>) -> Result<T, StateError> {
        f(&Self::lock(&self.reader)).map_err(|e| self.db_error(e))
    }

    fn with<T>(
        &self,
        f: impl FnOnce(&mut Connection) -> rusqlite::Result<T>,
    ) -> Result<T, StateError> {
        f(&mut Self::lock(&self.conn)).map_err(|e| self.db_error(e))
    }

    pub fn project(&self, name: &str) -> Result<Option<ProjectRecord>, StateError> {
        self.read(|c| {
            c.prepare_cached(&format!(
                "SELECT {PROJECT_COLS} FROM projects WHERE name = ?1"
            ))?
            .query_row([name], project_row)
            .optional()
        })
    }

    /// Every project, sorted by name.
    pub fn projects(&self) -> Result<Vec<ProjectRecord>, StateError> {
        // Sorted here rather than by `ORDER BY`: walking the name index looks up
        // each row in the table, slower than one pass over the table and a sort.
        let mut projects: Vec<ProjectRecord> = self.read(|c| {
            c.prepare_cached(&format!("SELECT {PROJECT_COLS} FROM projects"))?
                .query_map([], project_row)?
                .collect()
        })?;
        projects.sort_unstable_by(|a, b| a.name.cmp(&b.name));
        Ok(projects)
    }

    /// Every mirrored project's serial, for planning (fewer columns than [`Self::projects`]).
    pub fn project_serials(&self) -> Result<HashMap<String, u64>, StateError> {
        self.read(|c| {
            c.prepare_cached("SELECT name, serial FROM projects")?
                .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?
                .collect()
        })
    }

    pub fn project_count(&self) -> Result<u64, StateError> {
        self.read(|c| c.query_row("SELECT COUNT(*) FROM projects", [], |r| r.get(0)))
    }

    /// The files a project owns, sorted by key.
    pub fn files_of(&self, project: &str) -> Result<Vec<FileRecord>, StateError> {
        self.read(|c| {
            c.prepare_cached(&format!(
                "SELECT {FILE_COLS} FROM files WHERE project = ?1 ORDER BY key"
            ))?
            .query_map([project], file_row)?
            .collect()
        })
    }

    pub fn file(&self, key: &str) -> Result<Option<FileRecord>, StateError> {
        self.read(|c| {
            c.prepare_cached(&format!("SELECT {FILE_COLS} FROM files WHERE key = ?1"))?
                .query_row([key], file_row)
                .optional()
        })
    }

    /// Record a synced project in one transaction: upsert it, replace its file set
    /// with `files` (their `project` field is taken from `record`), append
    /// `journal`. Returns the keys it owned before and no longer does, sorted; the
    /// caller deletes those from storage.
    pub fn commit_project(
        &self,
        record: &ProjectRecord,
        files: &[FileRecord],
        journal: &[JournalEntry],
    ) -> Result<Vec<String>, StateError> {
        let commit = ProjectCommit {
            record: record.clone(),
            files: files.to_vec(),
            journal: journal.to_vec(),
            plan_done: false,
        };
        let mut dropped = self.commit_projects(std::slice::from_ref(&commit))?;
        Ok(dropped.pop().unwrap_or_default())
    }

    /// [`StateDb::commit_project`] for several projects in one transaction (one
    /// write of each touched page instead of one per project). All or none land.
    pub fn commit_projects(
        &self,
        commits: &[ProjectCommit],
    ) -> Result<Vec<Vec<String>>, StateError> {
        self.with(|c| {
            let tx = c.transaction_with_behavior(TransactionBehavior::Immediate)?;
            let mut dropped = Vec::with_capacity(commits.len());
            for commit in commits {
                dropped.push(commit_project_in(&tx, commit)?);
            }
            tx.commit()?;
            Ok(dropped)
        })
    }

    /// Forget a project and its files, appending `journal`. Returns the keys it
    /// owned, sorted; the caller deletes them from storage.
    pub fn remove_project(
        &self,
        name: &str,
        journal: &[JournalEntry],
    ) -> Result<Vec<String>, StateError> {
        self.with(|c| {
            let tx = c.transaction_with_behavior(TransactionBehavior::Immediate)?;
            let keys = keys_of(&tx, name)?;
            tx.prepare_cached("DELETE FROM files WHERE project = ?1")?
                .execute([name])?;
            tx.prepare_cached("DELETE FROM projects WHERE name = ?1")?
                .execute([name])?;
            tx.prepare_cached("DELETE FROM filtered WHERE name = ?1")?
                .execute([name])?;
            insert_journal(&tx, journal)?;
            tx.commit()?;
            Ok(keys)
        })
    }

    /// Up to `limit` files with keys after `after_key` (from the start when
    /// `None`), in key order: page through the inventory in constant memory.
    pub fn files_page(
        &self,
        after_key: Option<&str>,
        limit: usize,
    ) -> Result<Vec<FileRecord>, StateError> {
        self.read(|c| {
            let mut stmt = c.prepare_cached(&format!(
                "SELECT {FILE_COLS} FROM files WHERE ?1 IS NULL OR key > ?1 ORDER BY key LIMIT ?2"
            ))?;
            stmt.query_map(params![after_key, limit as i64], file_row)?
                .collect()
        })
    }

    pub fn file_count(&self) -> Result<u64, StateError> {
        self.read(|c| c.query_row("SELECT COUNT(*) FROM files", [], |r| r.get(0)))
    }

    /// Sum of recorded file sizes.
    pub fn total_bytes(&self) -> Result<u64, StateError> {
        self.read(|c| c.query_row("SELECT COALESCE(SUM(size), 0) FROM files", [], |r| r.get(0)))
    }

    /// Up to `limit` journal entries with serial greater than `serial`, oldest
    /// first (by serial, then insertion order).
    pub fn journal_since(
        &self,
        serial: u64,
        limit: usize,
    ) -> Result<Vec<JournalEntry>, StateError> {
        self.read(|c| {
            c.prepare_cached(
                "SELECT serial, name, version, action, timestamp FROM journal
                 WHERE serial > ?1 ORDER BY serial, id LIMIT ?2",
            )?
            .query_map(params![serial, limit as i64], journal_row)?
            .collect()
        })
    }

    pub fn max_journal_serial(&self) -> Result<Option<u64>, StateError> {
        self.read(|c| c.query_row("SELECT MAX(serial) FROM journal", [], |r| r.get(0)))
    }

    /// Replace the sync plan: aim for `target_serial`, with these projects to do.
    /// A name listed twice keeps its last serial.
    pub fn save_plan(&self, target_serial: u64, items: &[(String, u64)]) -> Result<(), StateError> {
        self.with(|c| {
            let tx = c.transaction_with_behavior(TransactionBehavior::Immediate)?;
            tx.execute("DELETE FROM plan", [])?;
            {
                let mut insert = tx.prepare_cached(
                    "INSERT OR REPLACE INTO plan (name, serial, done) VALUES (?1, ?2, 0)",
                )?;
                for (name, serial) in items {
                    insert.execute(params![name, serial])?;
                }
            }
            set_meta_in(&tx, META_TARGET_SERIAL, &target_serial.to_string())?;
            tx.commit()
        })
    }

    /// Planned projects not yet done, sorted by name.
    pub fn plan_pending(&self) -> Result<Vec<(String, u64)>, StateError> {
        self.read(|c| {
            c.prepare_cached("SELECT name, serial FROM plan WHERE done = 0 ORDER BY name")?
                .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?
                .collect()
        })
    }

    /// The serial the saved plan aims for; `None` when there is no plan.
    pub fn plan_target(&self) -> Result<Option<u64>, StateError> {
        match self.get_meta(META_TARGET_SERIAL)? {
            None => Ok(None),
            Some(v) => v.parse().map(Some).map_err(|_| StateError::Corrupt {
                path: self.path.clone(),
                detail: format!("meta {META_TARGET_SERIAL} is {v:?}, not a serial"),
            }),
        }
    }

    /// Mark a planned project done; `false` if it was not in the plan.
    pub fn mark_planned_done(&self, name: &str) -> Result<bool, StateError> {
        self.with(|c| {
            c.prepare_cached("UPDATE plan SET done = 1 WHERE name = ?1")?
                .execute([name])
                .map(|n| n > 0)
        })
    }

    /// Drop the plan (the sync finished).
    pub fn clear_plan(&self) -> Result<(), StateError> {
        self.with(|c| {
            let tx = c.transaction_with_behavior(TransactionBehavior::Immediate)?;
            tx.execute("DELETE FROM plan", [])?;
            tx.execute("DELETE FROM meta WHERE key = ?1", [META_TARGET_SERIAL])?;
            tx.commit()
        })
    }

    /// Remember that filters skipped `name` at `serial` (replacing an earlier verdict).
    pub fn mark_filtered(&self, name: &str, serial: u64, reason: &str) -> Result<(), StateError> {
        self.with(|c| {
            c.prepare_cached(
                "INSERT INTO filtered (name, serial, reason) VALUES (?1, ?2, ?3)
                 ON CONFLICT(name) DO UPDATE SET serial = excluded.serial, reason = excluded.reason",
            )?
            .execute(params![name, serial, reason])
            .map(|_| ())
        })
    }

    /// Every project filters skipped, with the serial it was judged at.
    pub fn filtered(&self) -> Result<Vec<(String, u64)>, StateError> {
        self.read(|c| {
            c.prepare_cached("SELECT name, serial FROM filtered ORDER BY name")?
                .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?
                .collect()
        })
    }

    /// Forget every filter verdict (the filters changed: judge again).
    pub fn clear_filtered(&self) -> Result<(), StateError> {
        self.with(|c| c.execute("DELETE FROM filtered", []).map(|_| ()))
    }

    /// Fold a large write-ahead log back into the database and truncate it. A full
    /// sync leaves tens of MB of log that the next run's first open would pay to
    /// replay; done at the end of the run, it costs one pass while the pages are
    /// still cached. A smaller log (an incremental run's) is left for the automatic
    /// checkpoint, which folds several runs' worth in one pass.
    pub fn checkpoint_if_large(&self) -> Result<(), StateError> {
        let wal = self.path.with_extension("sqlite-wal");
        let size = std::fs::metadata(&wal).map(|m| m.len()).unwrap_or(0);
        if size < WAL_FOLD_BYTES {
            return Ok(());
        }
        self.with(|c| c.query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |_| Ok(())))
    }

    pub fn get_meta(&self, key: &str) -> Result<Option<String>, StateError> {
        self.read(|c| {
            c.prepare_cached("SELECT value FROM meta WHERE key = ?1")?
                .query_row([key], |r| r.get(0))
                .optional()
        })
    }

    pub fn set_meta(&self, key: &str, value: &str) -> Result<(), StateError> {
        self.with(|c| set_meta_in(c, key, value))
    }
}

fn set_meta_in(c: &Connection, key: &str, value: &str) -> rusqlite::Result<()> {
    c.prepare_cached(
        "INSERT INTO meta (key, value) VALUES (?1, ?2)
         ON CONFLICT(key) DO UPDATE SET value = excluded.value",
    )?
    .execute([key, value])
    .map(|_| ())
}
