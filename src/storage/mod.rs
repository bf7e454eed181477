//! Storage of the mirror tree: one object-store-shaped trait, so the filesystem
//! backend here and an S3 backend later are interchangeable behind `Arc<dyn Storage>`.

mod atomic;
mod barrier;
mod error;
mod fs;
mod fs_calls;
mod fs_release;
mod fs_staged;
mod fs_stream;
mod key;

use std::ops::Range;
use std::path::PathBuf;
use std::time::SystemTime;

use bytes::Bytes;
use futures::future::BoxFuture;
use futures::stream::BoxStream;

pub use atomic::{Durability, TEMP_PREFIX, is_temp_name, write_atomic, write_atomic_with};
pub use error::StorageError;
pub use fs::FsStorage;
pub use key::Key;

/// Object contents as a stream of chunks (constant memory).
pub type ByteStream = BoxStream<'static, Result<Bytes, StorageError>>;

/// What `stat` and `list` report about an object.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ObjectMeta {
    pub size: u64,
    pub mtime: Option<SystemTime>,
}

/// The mirror tree. Every write is atomic: a reader sees the old object or the
/// complete new one, never a partial one, and temp objects are never listed.
pub trait Storage: Send + Sync + 'static {
    /// Store `data` under `key`, replacing any previous object atomically.
    fn put(&self, key: &Key, data: Bytes) -> BoxFuture<'_, Result<(), StorageError>>;

    /// Start a streaming write to `key` of about `size_hint` bytes. Nothing is
    /// visible under `key` until the finished write is published; dropping or
    /// aborting the writer leaves `key` unchanged.
    fn writer(
        &self,
        key: &Key,
        size_hint: Option<u64>,
    ) -> BoxFuture<'_, Result<Box<dyn StagedWrite>, StorageError>>;

    /// Stage `data` for `key` without making it visible (see [`Storage::publish`]).
    fn stage(&self, key: &Key, data: Bytes) -> BoxFuture<'_, Result<Staged, StorageError>>;

    /// Make staged objects durable, then visible under their keys in the order
    /// given (a project's files before the pages that link them). After a crash
    /// an object is either absent or complete under its key, never partial.
    fn publish(&self, staged: Vec<Staged>) -> BoxFuture<'_, Result<(), StorageError>>;

    /// Return once everything published or put so far is durable. Concurrent
    /// callers share the work (one filesystem sync serves them all).
    fn flush(&self) -> BoxFuture<'_, Result<(), StorageError>>;

    /// The whole object, or `None` if absent.
    fn get(&self, key: &Key) -> BoxFuture<'_, Result<Option<Bytes>, StorageError>>;

    /// Size and modification time, or `None` if absent.
    fn stat(&self, key: &Key) -> BoxFuture<'_, Result<Option<ObjectMeta>, StorageError>>;

    /// [`Storage::stat`] of each key, in order, in one round trip to the backend
    /// (a project's known files are checked together, not one hand-off each).
    fn stat_many(
        &self,
        keys: Vec<Key>,
    ) -> BoxFuture<'_, Result<Vec<Option<ObjectMeta>>, StorageError>>;

    /// Remove the object; `true` if it existed. Empty directories it leaves behind
    /// below `web/packages`, `web/simple` and `web/pypi` are removed too.
    fn delete(&self, key: &Key) -> BoxFuture<'_, Result<bool, StorageError>>;

    /// Stream the object (or `range` of it; the end is clamped to the size, a start
    /// past the end is an error), or `None` if absent.
    fn open(
        &self,
        key: &Key,
        range: Option<Range<u64>>,
    ) -> BoxFuture<'_, Result<Option<ByteStream>, StorageError>>;

    /// Every object below the directory `prefix`, recursively, in no particular
    /// order; temp objects are skipped. A missing prefix lists nothing.
    fn list(&self, prefix: &Key) -> BoxStream<'_, Result<(Key, ObjectMeta), StorageError>>;

    /// The object's path on a local filesystem, when there is one (lets the server
    /// hand files to the kernel).
    fn local_path(&self, key: &Key) -> Option<PathBuf>;

    /// Remove temp objects left by a crash; returns how many were removed. Run it
    /// only while holding the mirror lock (a live writer's temp file looks the same).
    fn cleanup_temp(&self) -> BoxFuture<'_, Result<u64, StorageError>>;

    /// Wait for the background work this store started to finish (the filesystem
    /// frees replaced files on a thread of its own).
    fn settle(&self) -> BoxFuture<'_, ()> {
        Box::pin(async {})
    }
}

/// A streaming write in progress (see [`Storage::writer`]).
pub trait StagedWrite: Send {
    /// Append a chunk.
    fn write<'a>(&'a mut self, chunk: &'a [u8]) -> BoxFuture<'a, Result<(), StorageError>>;

    /// Finish writing: the bytes are complete but neither durable nor visible until
    /// [`Storage::publish`]. Sets the modification time when given (bandersnatch's
    /// `stat` compare uses it).
    fn finish(
        self: Box<Self>,
        mtime: Option<SystemTime>,
    ) -> BoxFuture<'static, Result<Staged, StorageError>>;

    /// Discard the written bytes; the key is left as it was.
    fn abort(self: Box<Self>) -> BoxFuture<'static, ()>;
}

/// A complete object waiting to be published under its key. Dropping it discards
/// the bytes and leaves the key as it was.
#[derive(Debug)]
pub struct Staged {
    key: Key,
    file: fs_staged::StagedFile,
}

impl Staged {
    pub fn key(&self) -> &Key {
        &self.key
    }

    /// The bytes, while they wait in memory (small objects, within the store's
    /// budget); `None` once they are in a temp file.
    pub fn held_bytes(&self) -> Option<Bytes> {
        self.file.held_bytes()
    }
}

#[cfg(test)]
mod tests;
