//! State errors: each names the file and says what to do.

use std::io;
use std::path::PathBuf;

#[derive(Debug, thiserror::Error)]
pub enum StateError {
    #[error("could not {op} {}: {source}", path.display())]
    Io {
        op: &'static str,
        path: PathBuf,
        #[source]
        source: io::Error,
    },

    #[error(
        "another sync is running in {} (it holds {}); wait for it to finish or stop it, then rerun",
        dir.display(), lock.display()
    )]
    Locked { dir: PathBuf, lock: PathBuf },

    #[error(
        "{} contains {value:?}, a mirror generation this version does not know (expected 5, or 2-4 to upgrade); \
         use the tool that wrote it, or delete {} together with status and todo to start a full sync",
        path.display(), path.display()
    )]
    UnknownGeneration { path: PathBuf, value: String },

    #[error(
        "{} contains {value:?}, not a serial number; write the last synced serial into it, \
         or delete it to force a full comparison on the next sync",
        path.display()
    )]
    BadStatus { path: PathBuf, value: String },

    #[error(
        "cannot record project name {name:?} in the todo file: it is empty or contains whitespace"
    )]
    BadTodoName { name: String },

    #[error("state database {}: {source}", path.display())]
    Db {
        path: PathBuf,
        #[source]
        source: rusqlite::Error,
    },

    #[error(
        "state database {} has schema version {found}, newer than this vorpal understands ({supported}); \
         use a newer vorpal",
        path.display()
    )]
    NewerSchema {
        path: PathBuf,
        found: i64,
        supported: i64,
    },

    #[error(
        "state database {} is inconsistent: {detail}; move it (with its -wal and -shm files) \
         aside and rerun the sync to rebuild vorpal's state",
        path.display()
    )]
    Corrupt { path: PathBuf, detail: String },
}

impl StateError {
    pub(crate) fn io(op: &'static str, path: impl Into<PathBuf>, source: io::Error) -> StateError {
        StateError::Io {
            op,
            path: path.into(),
            source,
        }
    }
}
