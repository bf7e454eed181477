//! The state database's schema, as numbered migrations. The schema version is
//! SQLite's `user_version`, updated in the same transaction as each migration.

use std::path::Path;

use rusqlite::{Connection, TransactionBehavior};

use super::StateError;

/// Migration N (1-based) brings the schema from version N-1 to N. Append only.
const MIGRATIONS: &[&str] = &[
    // 1: the initial schema.
    "CREATE TABLE projects (
        name TEXT PRIMARY KEY,          -- PEP 503-normalized
        display_name TEXT NOT NULL,
        serial INTEGER NOT NULL,
        status TEXT,                    -- PEP 792
        updated_at INTEGER NOT NULL     -- unix seconds
    );
    CREATE TABLE files (
        key TEXT PRIMARY KEY,
        project TEXT NOT NULL,
        kind TEXT NOT NULL,             -- dist | metadata | page | json
        size INTEGER NOT NULL,
        sha256 TEXT NOT NULL,
        upload_time TEXT
    );
    CREATE INDEX files_by_project ON files (project);
    CREATE TABLE journal (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        serial INTEGER NOT NULL,
        name TEXT NOT NULL,
        version TEXT,
        action TEXT NOT NULL,
        timestamp INTEGER NOT NULL
    );
    CREATE INDEX journal_by_serial ON journal (serial, id);
    CREATE TABLE plan (
        name TEXT PRIMARY KEY,
        serial INTEGER NOT NULL,
        done INTEGER NOT NULL DEFAULT 0
    );
    CREATE TABLE meta (
        key TEXT PRIMARY KEY,
        value TEXT NOT NULL
    );",
];

/// The schema version this build writes.
pub const SCHEMA_VERSION: i64 = MIGRATIONS.len() as i64;

/// Apply every migration the database has not seen yet.
pub(super) fn migrate(conn: &mut Connection, path: &Path) -> Result<(), StateError> {
    let db_err = |source| StateError::Db {
        path: path.to_path_buf(),
        source,
    };
    let tx = conn
        .transaction_with_behavior(TransactionBehavior::Immediate)
        .map_err(db_err)?;
    let found: i64 = tx
        .query_row("PRAGMA user_version", [], |r| r.get(0))
        .map_err(db_err)?;
    if found > SCHEMA_VERSION {
        return Err(StateError::NewerSchema {
            path: path.to_path_buf(),
            found,
            supported: SCHEMA_VERSION,
        });
    }
    for (i, sql) in MIGRATIONS.iter().enumerate().skip(found.max(0) as usize) {
        tx.execute_batch(sql).map_err(db_err)?;
        tx.pragma_update(None, "user_version", i as i64 + 1)
            .map_err(db_err)?;
    }
    tx.commit().map_err(db_err)
}
