//! Mirror state: bandersnatch's state files in the mirror root, and vorpal's own
//! database under `<root>/.vorpal/`.

pub mod bandersnatch;
mod commits;
pub mod db;
mod error;
mod schema;

pub use bandersnatch::{
    Generation, MirrorLock, Todo, check_generation, delete_todo, read_status, read_todo,
    write_status, write_todo,
};
pub use commits::{CommitQueue, QueuedCommit};
pub use db::{FileKind, FileRecord, JournalEntry, ProjectCommit, ProjectRecord, StateDb};
pub use error::StateError;
pub use schema::SCHEMA_VERSION;

#[cfg(test)]
mod db_tests;
