//! Streams over the filesystem: reading a file in chunks, walking a directory tree.

use std::io;
use std::path::PathBuf;

use bytes::Bytes;
use futures::Stream;
use tokio::fs::{File, ReadDir};
use tokio::io::AsyncReadExt;

use super::atomic::is_temp_name;
use super::{ByteStream, Key, ObjectMeta, StorageError};

const READ_CHUNK: u64 = 64 * 1024;

/// Up to `len` bytes from the current position of `file`, in chunks.
pub(super) fn read_stream(file: File, len: u64, path: PathBuf, root: PathBuf) -> ByteStream {
    let state = (file, len, path, root);
    Box::pin(futures::stream::unfold(
        state,
        |(mut file, remaining, path, root)| async move {
            if remaining == 0 {
                return None;
            }
            let want = remaining.min(READ_CHUNK) as usize;
            let mut buf = vec![0u8; want];
            let got = match file.read(&mut buf).await {
                Ok(0) => Err(io::Error::new(
                    io::ErrorKind::UnexpectedEof,
                    "file is shorter than when it was opened",
                )),
                Ok(n) => Ok(n),
                Err(e) => Err(e),
            };
            match got {
                Ok(n) => {
                    buf.truncate(n);
                    Some((
                        Ok(Bytes::from(buf)),
                        (file, remaining - n as u64, path, root),
                    ))
                }
                Err(e) => {
                    let err = StorageError::io("read", &path, &root, e);
                    // Zero remaining ends the stream after this error.
                    Some((Err(err), (file, 0, path, root)))
                }
            }
        },
    ))
}

/// Walk every non-temp file below `prefix`. Memory grows with depth, not width.
pub(super) fn walk(
    root: PathBuf,
    prefix: Key,
) -> impl Stream<Item = Result<(Key, ObjectMeta), StorageError>> + Send + 'static {
    let walker = Walker {
        root,
        start: Some(prefix),
        stack: Vec::new(),
    };
    futures::stream::unfold(walker, |mut w| async move {
        w.next().await.map(|item| (item, w))
    })
}

struct Walker {
    root: PathBuf,
    start: Option<Key>,
    stack: Vec<(Key, ReadDir)>,
}

impl Walker {
    fn err(&self, op: &'static str, key: &Key, e: io::Error) -> StorageError {
        StorageError::io(op, &self.root.join(key.as_str()), &self.root, e)
    }

    async fn next(&mut self) -> Option<Result<(Key, ObjectMeta), StorageError>> {
        if let Some(prefix) = self.start.take() {
            match tokio::fs::read_dir(self.root.join(prefix.as_str())).await {
                Ok(rd) => self.stack.push((prefix, rd)),
                Err(e)
                    if matches!(
                        e.kind(),
                        io::ErrorKind::NotFound | io::ErrorKind::NotADirectory
                    ) =>
                {
                    return None;
                }
                Err(e) => return Some(Err(self.err("list", &prefix, e))),
            }
        }
        loop {
            let (dir, rd) = self.stack.last_mut()?;
            let entry = match rd.next_entry().await {
                Ok(Some(entry)) => entry,
                Ok(None) => {
                    self.stack.pop();
                    continue;
                }
                Err(e) => {
                    let dir = dir.clone();
                    self.stack.pop();
                    return Some(Err(self.err("list", &dir, e)));
                }
            };
            let name = entry.file_name();
            let Some(name) = name.to_str() else {
                return Some(Err(StorageError::InvalidKey {
                    key: format!("{dir}/{}", name.to_string_lossy()),
                    reason: "is not valid UTF-8".into(),
                }));
            };
            if is_temp_name(name) {
                continue;
            }
            let key = match dir.join(name) {
                Ok(k) => k,
                Err(e) => return Some(Err(e)),
            };
            let file_type = match entry.file_type().await {
                Ok(t) => t,
                Err(e) if e.kind() == io::ErrorKind::NotFound => continue,
                Err(e) => return Some(Err(self.err("stat", &key, e))),
            };
            if file_type.is_dir() {
                match tokio::fs::read_dir(entry.path()).await {
                    Ok(rd) => self.stack.push((key, rd)),
                    Err(e) if e.kind() == io::ErrorKind::NotFound => {}
                    Err(e) => return Some(Err(self.err("list", &key, e))),
                }
                continue;
            }
            // Symlinks are followed to files (bandersnatch's keep_index_versions
            // links index pages) but never into directories (no loops).
            let meta = match tokio::fs::metadata(entry.path()).await {
                Ok(m) => m,
                Err(e) if e.kind() == io::ErrorKind::NotFound => continue,
                Err(e) => return Some(Err(self.err("stat", &key, e))),
            };
            if meta.is_dir() {
                continue;
            }
            return Some(Ok((
                key,
                ObjectMeta {
                    size: meta.len(),
                    mtime: meta.modified().ok(),
                },
            )));
        }
    }
}
