//! The filesystem backend: keys are paths below a root directory.

use std::fs;
use std::io::{self, SeekFrom};
use std::ops::Range;
use std::path::{Path, PathBuf};
use std::time::SystemTime;

use bytes::Bytes;
use futures::StreamExt;
use futures::future::BoxFuture;
use futures::stream::BoxStream;
use std::sync::Arc;

use tokio::io::{AsyncSeekExt, AsyncWriteExt, BufWriter};

use super::atomic::{Durability, create_temp_in, is_temp_name, write_atomic_renaming};
use super::barrier::Barrier;
use super::fs_calls::{Cost, Placement, cost_of};
use super::fs_release::Releaser;
use super::fs_staged::{
    MemoryBudget, StagedFile, TempGuard, parent_dir_of, write_out_all, write_temp,
};
use super::fs_stream::{read_stream, walk};
use super::{ByteStream, Key, ObjectMeta, Staged, StagedWrite, Storage, StorageError};

/// Write buffer of a streaming writer: large enough that a multi-GB wheel is a few
/// thousand write calls, small enough for many in flight.
const WRITE_BUFFER: usize = 256 * 1024;

/// Directories below these are removed by `delete` once empty; these and
/// everything above them stay.
const PRUNABLE_UNDER: [&str; 3] = ["web/packages/", "web/simple/", "web/pypi/"];

/// Stores the mirror tree as files below `root`.
#[derive(Debug, Clone)]
pub struct FsStorage {
    root: PathBuf,
    barrier: Arc<Barrier>,
    held: Arc<MemoryBudget>,
    calls: Arc<Placement>,
    release: Arc<Releaser>,
}

/// Bytes of finished small files kept in memory until their batch is published.
const HELD_BYTES: usize = 16 << 20;

impl FsStorage {
    pub fn new(root: impl Into<PathBuf>) -> FsStorage {
        let root = root.into();
        FsStorage {
            barrier: Arc::new(Barrier::new(root.clone())),
            held: MemoryBudget::new(HELD_BYTES),
            calls: Arc::default(),
            release: Arc::new(Releaser::new(&root)),
            root,
        }
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    fn path(&self, key: &Key) -> PathBuf {
        self.root.join(key.as_str())
    }
}

/// Stage `data` for `target`: in memory when the budget allows, else written now.
async fn stage_at(
    calls: &Placement,
    held: &Arc<MemoryBudget>,
    root: &Path,
    target: PathBuf,
    data: Bytes,
    mtime: Option<SystemTime>,
) -> Result<StagedFile, StorageError> {
    match StagedFile::hold(held, target, data, mtime) {
        Ok(staged) => Ok(staged),
        Err((target, data)) => {
            let (t, r) = (target.clone(), root.to_path_buf());
            let parent = parent_dir_of(&t, &r);
            calls
                .run(
                    cost_of(1, data.len()),
                    move || write_temp(&t, &data, mtime, &r, parent),
                    &target,
                    root,
                )
                .await
        }
    }
}

/// A file's size and mtime; `None` when absent (or a directory).
fn stat_path(path: &Path, root: &Path) -> Result<Option<ObjectMeta>, StorageError> {
    match fs::metadata(path) {
        Ok(m) if m.is_dir() => Ok(None),
        Ok(m) => Ok(Some(ObjectMeta {
            size: m.len(),
            mtime: m.modified().ok(),
        })),
        Err(e) if is_absent(&e) => Ok(None),
        Err(e) => Err(StorageError::io("stat", path, root, e)),
    }
}

/// Errors that mean "there is no object here".
fn is_absent(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::NotFound | io::ErrorKind::NotADirectory | io::ErrorKind::IsADirectory
    )
}

impl Storage for FsStorage {
    fn put(&self, key: &Key, data: Bytes) -> BoxFuture<'_, Result<(), StorageError>> {
        let path = self.path(key);
        Box::pin(async move {
            let (p, root, release) = (path.clone(), self.root.clone(), self.release.clone());
            self.calls
                .run(
                    Cost::Long,
                    move || {
                        let replace = |from: &Path, to: &Path| release.replace(from, to);
                        write_atomic_renaming(&p, &data, None, Durability::Data, replace)
                            .map_err(|e| StorageError::io("write", &p, &root, e))
                    },
                    &path,
                    &self.root,
                )
                .await
        })
    }

    fn writer(
        &self,
        key: &Key,
        size_hint: Option<u64>,
    ) -> BoxFuture<'_, Result<Box<dyn StagedWrite>, StorageError>> {
        let target = self.path(key);
        let root = self.root.clone();
        let key = key.clone();
        // Nothing touches the disk yet: small files are written in one blocking call
        // when finished (see FsWriter).
        let capacity = size_hint.map_or(0, |n| n.min(SPILL_AT as u64) as usize);
        Box::pin(async move {
            Ok(Box::new(FsWriter {
                sink: Sink::Memory(Vec::with_capacity(capacity)),
                guard: TempGuard(None),
                held: self.held.clone(),
                calls: self.calls.clone(),
                key,
                target,
                root,
            }) as Box<dyn StagedWrite>)
        })
    }

    fn stage(&self, key: &Key, data: Bytes) -> BoxFuture<'_, Result<Staged, StorageError>> {
        let (key, target) = (key.clone(), self.path(key));
        Box::pin(async move {
            let file = stage_at(&self.calls, &self.held, &self.root, target, data, None).await?;
            Ok(Staged { key, file })
        })
    }

    fn publish(&self, staged: Vec<Staged>) -> BoxFuture<'_, Result<(), StorageError>> {
        Box::pin(async move {
            if staged.is_empty() {
                return Ok(());
            }
            // One call per step for the whole batch: writes and renames of small
            // files are quick, thread switches are not.
            let root = self.root.clone();
            let files: Vec<StagedFile> = staged.into_iter().map(|s| s.file).collect();
            let files = if files.iter().any(StagedFile::is_held) {
                let held: usize = files.iter().map(StagedFile::held_len).sum();
                let cost = cost_of(files.len(), held);
                let r = root.clone();
                let write = move || write_out_all(files, &r);
                self.calls.run(cost, write, &root, &root).await?
            } else {
                files
            };
            self.flush().await?;
            let (r, release) = (root.clone(), self.release.clone());
            self.calls
                .run(
                    cost_of(files.len(), 0),
                    move || {
                        for f in files {
                            f.move_into_place(&r, &release)?;
                        }
                        Ok(())
                    },
                    &root,
                    &root,
                )
                .await
        })
    }

    fn flush(&self) -> BoxFuture<'_, Result<(), StorageError>> {
        Box::pin(async move {
            self.barrier.wait().await.map_err(|e| {
                StorageError::io("make durable the writes to", &self.root, &self.root, e)
            })
        })
    }

    fn get(&self, key: &Key) -> BoxFuture<'_, Result<Option<Bytes>, StorageError>> {
        let path = self.path(key);
        Box::pin(async move {
            match tokio::fs::read(&path).await {
                Ok(v) => Ok(Some(Bytes::from(v))),
                Err(e) if is_absent(&e) => Ok(None),
                Err(e) => Err(StorageError::io("read", &path, &self.root, e)),
            }
        })
    }

    fn stat(&self, key: &Key) -> BoxFuture<'_, Result<Option<ObjectMeta>, StorageError>> {
        let path = self.path(key);
        Box::pin(async move {
            let (p, root) = (path.clone(), self.root.clone());
            let stat = move || stat_path(&p, &root);
            self.calls.run(Cost::Brief, stat, &path, &self.root).await
        })
    }

    fn stat_many(
        &self,
        keys: Vec<Key>,
    ) -> BoxFuture<'_, Result<Vec<Option<ObjectMeta>>, StorageError>> {
        let paths: Vec<PathBuf> = keys.iter().map(|k| self.path(k)).collect();
        Box::pin(async move {
            if paths.is_empty() {
                return Ok(Vec::new());
            }
            let root = self.root.clone();
            let first = paths[0].clone();
            self.calls
                .run(
                    cost_of(paths.len(), 0),
                    move || paths.iter().map(|p| stat_path(p, &root)).collect(),
                    &first,
                    &self.root,
                )
                .await
        })
    }

    fn delete(&self, key: &Key) -> BoxFuture<'_, Result<bool, StorageError>> {
        let key = key.clone();
        let path = self.path(&key);
        Box::pin(async move {
            let (p, root) = (path.clone(), self.root.clone());
            self.calls
                .run(
                    Cost::Brief,
                    move || match fs::remove_file(&p) {
                        Ok(()) => {
                            prune_empty_parents(&root, &key);
                            Ok(true)
                        }
                        Err(e) if is_absent(&e) => Ok(false),
                        Err(e) => Err(StorageError::io("delete", &p, &root, e)),
                    },
                    &path,
                    &self.root,
                )
                .await
        })
    }

    fn open(
        &self,
        key: &Key,
        range: Option<Range<u64>>,
    ) -> BoxFuture<'_, Result<Option<ByteStream>, StorageError>> {
        let key = key.clone();
        let path = self.path(&key);
        Box::pin(async move {
            let io_err = |op, e| StorageError::io(op, &path, &self.root, e);
            let mut file = match tokio::fs::File::open(&path).await {
                Ok(f) => f,
                Err(e) if is_absent(&e) => return Ok(None),
                Err(e) => return Err(io_err("open", e)),
            };
            let meta = file.metadata().await.map_err(|e| io_err("stat", e))?;
            if meta.is_dir() {
                return Ok(None);
            }
            let size = meta.len();
            let (start, end) = match range {
                None => (0, size),
                Some(r) if r.start > r.end || r.start > size => {
                    return Err(StorageError::InvalidRange {
                        key: key.to_string(),
                        start: r.start,
                        end: r.end,
                        size,
                    });
                }
                Some(r) => (r.start, r.end.min(size)),
            };
            if start > 0 {
                file.seek(SeekFrom::Start(start))
                    .await
                    .map_err(|e| io_err("seek in", e))?;
            }
            Ok(Some(read_stream(
                file,
                end - start,
                path.clone(),
                self.root.clone(),
            )))
        })
    }

    fn list(&self, prefix: &Key) -> BoxStream<'_, Result<(Key, ObjectMeta), StorageError>> {
        walk(self.root.clone(), prefix.clone()).boxed()
    }

    fn local_path(&self, key: &Key) -> Option<PathBuf> {
        Some(self.path(key))
    }

    fn settle(&self) -> BoxFuture<'_, ()> {
        let release = self.release.clone();
        Box::pin(async move {
            let _ = tokio::task::spawn_blocking(move || release.settle()).await;
        })
    }

    fn cleanup_temp(&self) -> BoxFuture<'_, Result<u64, StorageError>> {
        Box::pin(async move {
            let root = self.root.clone();
            self.calls
                .run(
                    Cost::Long,
                    move || remove_temp_files(&root),
                    &self.root,
                    &self.root,
                )
                .await
        })
    }
}

/// Bytes held in memory before a staged write spills to its temp file. Most
/// distribution files are smaller, and writing those in one blocking call at commit
/// avoids a thread hand-off per chunk; larger ones stream through a temp file, so
/// memory stays bounded by this times the files in flight.
const SPILL_AT: usize = 512 * 1024;

enum Sink {
    Memory(Vec<u8>),
    File(BufWriter<tokio::fs::File>),
}

struct FsWriter {
    sink: Sink,
    guard: TempGuard,
    held: Arc<MemoryBudget>,
    calls: Arc<Placement>,
    key: Key,
    target: PathBuf,
    root: PathBuf,
}

impl FsWriter {
    /// Move what is buffered into a fresh temp file beside the target.
    async fn spill(&mut self) -> Result<(), StorageError> {
        let Sink::Memory(buffer) = &mut self.sink else {
            return Ok(());
        };
        let buffered = std::mem::take(buffer);
        let (t, root) = (self.target.clone(), self.root.clone());
        let (file, tmp) = self
            .calls
            .run(
                Cost::Brief,
                move || {
                    create_temp_in(&t, parent_dir_of(&t, &root))
                        .map_err(|e| StorageError::io("create a temp file for", &t, &root, e))
                },
                &self.target,
                &self.root,
            )
            .await?;
        self.guard = TempGuard(Some(tmp));
        let mut file = BufWriter::with_capacity(WRITE_BUFFER, tokio::fs::File::from_std(file));
        file.write_all(&buffered)
            .await
            .map_err(|e| StorageError::io("write", &self.target, &self.root, e))?;
        self.sink = Sink::File(file);
        Ok(())
    }
}

impl StagedWrite for FsWriter {
    fn write<'a>(&'a mut self, chunk: &'a [u8]) -> BoxFuture<'a, Result<(), StorageError>> {
        Box::pin(async move {
            if let Sink::Memory(buffer) = &mut self.sink {
                if buffer.len() + chunk.len() <= SPILL_AT {
                    buffer.extend_from_slice(chunk);
                    return Ok(());
                }
                self.spill().await?;
            }
            match &mut self.sink {
                Sink::File(file) => file
                    .write_all(chunk)
                    .await
                    .map_err(|e| StorageError::io("write", &self.target, &self.root, e)),
                Sink::Memory(_) => Err(StorageError::io(
                    "write",
                    &self.target,
                    &self.root,
                    io::Error::other("staged write did not spill"),
                )),
            }
        })
    }

    fn finish(
        self: Box<Self>,
        mtime: Option<SystemTime>,
    ) -> BoxFuture<'static, Result<Staged, StorageError>> {
        let FsWriter {
            sink,
            mut guard,
            held,
            calls,
            key,
            target,
            root,
        } = *self;
        Box::pin(async move {
            let (t, r) = (target.clone(), root.clone());
            let file = match sink {
                Sink::Memory(data) => {
                    stage_at(&calls, &held, &root, target.clone(), data.into(), mtime).await?
                }
                Sink::File(mut file) => {
                    let io_err = |e| StorageError::io("write", &target, &root, e);
                    file.flush().await.map_err(io_err)?;
                    let std_file = file.into_inner().into_std().await;
                    if let Some(when) = mtime {
                        calls
                            .run(
                                Cost::Brief,
                                move || {
                                    std_file
                                        .set_modified(when)
                                        .map_err(|e| StorageError::io("set the time of", &t, &r, e))
                                },
                                &target,
                                &root,
                            )
                            .await?;
                    }
                    StagedFile::Written {
                        tmp: TempGuard(guard.0.take()),
                        target: target.clone(),
                    }
                }
            };
            Ok(Staged { key, file })
        })
    }

    fn abort(self: Box<Self>) -> BoxFuture<'static, ()> {
        let FsWriter {
            sink, mut guard, ..
        } = *self;
        Box::pin(async move {
            drop(sink);
            if let Some(tmp) = guard.0.take() {
                let _ = tokio::fs::remove_file(tmp).await;
            }
        })
    }
}

fn prune_empty_parents(root: &Path, key: &Key) {
    let mut dir = key.parent();
    while let Some(d) = dir {
        let rel = format!("{}/", d.as_str());
        if !PRUNABLE_UNDER
            .iter()
            .any(|p| rel.starts_with(p) && rel.len() > p.len())
        {
            break;
        }
        match fs::remove_dir(root.join(d.as_str())) {
            Ok(()) => {}
            Err(e) if e.kind() == io::ErrorKind::NotFound => {}
            // Not empty (the usual case), or anything else: stop quietly.
            Err(_) => break,
        }
        dir = d.parent();
    }
}

/// Remove temp files below `root/web` and directly in `root` (state-file temps).
fn remove_temp_files(root: &Path) -> Result<u64, StorageError> {
    let err = |op, p: &Path, e| StorageError::io(op, p, root, e);
    let mut removed = 0;
    let remove = |p: &Path| match fs::remove_file(p) {
        Ok(()) => Ok(1),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(0),
        Err(e) => Err(err("remove leftover temp file", p, e)),
    };
    let top = match fs::read_dir(root) {
        Ok(rd) => rd,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(0),
        Err(e) => return Err(err("list", root, e)),
    };
    for entry in top {
        let entry = entry.map_err(|e| err("list", root, e))?;
        if is_temp_name(&entry.file_name().to_string_lossy()) {
            removed += remove(&entry.path())?;
        }
    }
    let web = root.join("web");
    let mut stack = match fs::read_dir(&web) {
        Ok(rd) => vec![(web, rd)],
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(removed),
        Err(e) => return Err(err("list", &web, e)),
    };
    // A stack of open directory iterators: memory grows with depth, not width.
    while let Some((dir, rd)) = stack.last_mut() {
        let Some(entry) = rd.next() else {
            stack.pop();
            continue;
        };
        let entry = entry.map_err(|e| err("list", dir, e))?;
        let path = entry.path();
        let file_type = entry.file_type().map_err(|e| err("stat", &path, e))?;
        if is_temp_name(&entry.file_name().to_string_lossy()) && !file_type.is_dir() {
            removed += remove(&path)?;
        } else if file_type.is_dir() {
            match fs::read_dir(&path) {
                Ok(rd) => stack.push((path, rd)),
                Err(e) if e.kind() == io::ErrorKind::NotFound => {}
                Err(e) => return Err(err("list", &path, e)),
            }
        }
    }
    Ok(removed)
}
