//! Staged objects of the filesystem backend: complete bytes that wait for a flush
//! before they are renamed into place. Small ones wait in memory (within a budget)
//! and are written together when published: one thread hand-off per batch instead
//! of one per file.

use std::fs;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::SystemTime;

use bytes::Bytes;

use super::StorageError;
use super::atomic::{self, ParentDir};
use super::fs_release::Releaser;

/// Removes its temp file when dropped, unless the file was moved into place.
#[derive(Debug)]
pub(crate) struct TempGuard(pub(crate) Option<PathBuf>);

impl TempGuard {
    /// The file was renamed into place: nothing to remove.
    pub(crate) fn disarm(&mut self) {
        self.0 = None;
    }
}

impl Drop for TempGuard {
    fn drop(&mut self) {
        if let Some(p) = self.0.take() {
            // Best effort: a leftover is also caught by cleanup_temp.
            let _ = fs::remove_file(p);
        }
    }
}

/// Bytes that staged objects may hold in memory across the whole store.
#[derive(Debug)]
pub(crate) struct MemoryBudget {
    left: AtomicUsize,
}

impl MemoryBudget {
    pub(crate) fn new(bytes: usize) -> Arc<MemoryBudget> {
        Arc::new(MemoryBudget {
            left: AtomicUsize::new(bytes),
        })
    }

    /// Reserve `bytes`, or `None` when the budget is spent.
    fn reserve(self: &Arc<Self>, bytes: usize) -> Option<Hold> {
        self.left
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |left| {
                left.checked_sub(bytes)
            })
            .ok()
            .map(|_| Hold {
                budget: self.clone(),
                bytes,
            })
    }
}

/// A reservation, returned to the budget when dropped.
#[derive(Debug)]
pub(crate) struct Hold {
    budget: Arc<MemoryBudget>,
    bytes: usize,
}

impl Drop for Hold {
    fn drop(&mut self) {
        self.budget.left.fetch_add(self.bytes, Ordering::AcqRel);
    }
}

/// A complete object and where it goes.
#[derive(Debug)]
pub(crate) enum StagedFile {
    /// In a temp file beside the target, not yet synced.
    Written { tmp: TempGuard, target: PathBuf },
    /// Still in memory; written to a temp file when published.
    Held {
        data: Bytes,
        mtime: Option<SystemTime>,
        target: PathBuf,
        _hold: Hold,
    },
}

impl StagedFile {
    /// Keep `data` in memory if the budget allows; otherwise hand it back.
    pub(crate) fn hold(
        budget: &Arc<MemoryBudget>,
        target: PathBuf,
        data: Bytes,
        mtime: Option<SystemTime>,
    ) -> Result<StagedFile, (PathBuf, Bytes)> {
        match budget.reserve(data.len()) {
            Some(hold) => Ok(StagedFile::Held {
                data,
                mtime,
                target,
                _hold: hold,
            }),
            None => Err((target, data)),
        }
    }

    fn target(&self) -> &Path {
        match self {
            StagedFile::Held { target, .. } | StagedFile::Written { target, .. } => target,
        }
    }

    pub(crate) fn is_held(&self) -> bool {
        matches!(self, StagedFile::Held { .. })
    }

    /// The bytes while they are held in memory (a cheap reference, not a copy).
    pub(crate) fn held_bytes(&self) -> Option<Bytes> {
        match self {
            StagedFile::Held { data, .. } => Some(data.clone()),
            StagedFile::Written { .. } => None,
        }
    }

    /// Bytes still to be written: those held in memory.
    pub(crate) fn held_len(&self) -> usize {
        match self {
            StagedFile::Held { data, .. } => data.len(),
            StagedFile::Written { .. } => 0,
        }
    }

    /// Rename over the target (blocking). The caller made the bytes durable first.
    pub(crate) fn move_into_place(
        self,
        root: &Path,
        release: &Releaser,
    ) -> Result<(), StorageError> {
        let StagedFile::Written { mut tmp, target } = self else {
            return Err(not_written(self.target(), root));
        };
        let Some(path) = tmp.0.clone() else {
            return Err(not_written(&target, root));
        };
        release
            .replace(&path, &target)
            .map_err(|e| StorageError::io("move into place", &target, root, e))?;
        tmp.disarm();
        Ok(())
    }
}

/// Write a batch's held bytes to temp files (blocking). A held object with the same
/// bytes and time as an earlier one of the batch in the same directory (a project's
/// `index.html` and `index.v1_html`) becomes a hard link to that one's temp file:
/// one inode and one write instead of two. Where links are not supported, it is
/// written like any other.
pub(crate) fn write_out_all(
    files: Vec<StagedFile>,
    root: &Path,
) -> Result<Vec<StagedFile>, StorageError> {
    let mut out: Vec<StagedFile> = Vec::with_capacity(files.len());
    // (index in `out`, bytes, mtime) of the held objects written so far.
    let mut written: Vec<(usize, Bytes, Option<SystemTime>)> = Vec::new();
    // Directories this batch has already written into (a wheel's and its
    // `.metadata`'s, a project's pages).
    let mut made: Vec<PathBuf> = Vec::new();
    for file in files {
        let StagedFile::Held {
            data,
            mtime,
            target,
            ..
        } = file
        else {
            out.push(file);
            continue;
        };
        let twin = written.iter().find_map(|(i, bytes, time)| {
            let earlier = &out[*i];
            let same =
                *time == mtime && earlier.target().parent() == target.parent() && *bytes == data;
            match earlier {
                StagedFile::Written { tmp, .. } if same => tmp.0.as_deref(),
                _ => None,
            }
        });
        let linked = twin.and_then(|t| atomic::link_temp(t, &target).ok());
        let staged = match linked {
            Some(tmp) => StagedFile::Written {
                tmp: TempGuard(Some(tmp)),
                target,
            },
            None => {
                let dir = target.parent().map(Path::to_path_buf).unwrap_or_default();
                let seen = made.contains(&dir);
                let parent = if seen {
                    ParentDir::Unknown
                } else {
                    parent_dir_of(&target, root)
                };
                let staged = write_temp(&target, &data, mtime, root, parent)?;
                written.push((out.len(), data, mtime));
                if !seen {
                    made.push(dir);
                }
                staged
            }
        };
        out.push(staged);
    }
    Ok(out)
}

fn not_written(target: &Path, root: &Path) -> StorageError {
    let e = io::Error::other("its temp file was never written");
    StorageError::io("move into place", target, root, e)
}

/// A new file of the content-addressed release tree goes in a directory named by
/// its own hash, which is new too; elsewhere directories are usually there.
pub(crate) fn parent_dir_of(target: &Path, root: &Path) -> ParentDir {
    match target.strip_prefix(root) {
        Ok(rel) if rel.starts_with("web/packages") => ParentDir::LikelyMissing,
        _ => ParentDir::Unknown,
    }
}

/// Write `data` to a fresh temp file beside `target` (blocking), not yet synced.
pub(crate) fn write_temp(
    target: &Path,
    data: &[u8],
    mtime: Option<SystemTime>,
    root: &Path,
    parent: ParentDir,
) -> Result<StagedFile, StorageError> {
    let (_file, tmp) = atomic::write_temp_in(target, data, mtime, parent)
        .map_err(|e| StorageError::io("write", target, root, e))?;
    Ok(StagedFile::Written {
        tmp: TempGuard(Some(tmp)),
        target: target.to_path_buf(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_budget_is_returned_when_a_held_file_goes() {
        let budget = MemoryBudget::new(10);
        let a = StagedFile::hold(&budget, "/x/a".into(), Bytes::from_static(b"123456"), None);
        assert!(a.is_ok());
        let b = StagedFile::hold(&budget, "/x/b".into(), Bytes::from_static(b"123456"), None);
        assert!(b.is_err(), "over budget: handed back");
        drop(a);
        let c = StagedFile::hold(&budget, "/x/c".into(), Bytes::from_static(b"123456"), None);
        assert!(c.is_ok());
    }

    #[test]
    fn held_files_are_written_then_moved() {
        let dir = tempfile::tempdir().unwrap();
        let budget = MemoryBudget::new(1 << 20);
        let target = dir.path().join("a/b/f.whl");
        let staged =
            StagedFile::hold(&budget, target.clone(), Bytes::from_static(b"bytes"), None).unwrap();
        assert!(staged.is_held());
        let written = write_out_all(vec![staged], dir.path())
            .unwrap()
            .pop()
            .unwrap();
        assert!(!written.is_held());
        assert!(!target.exists(), "not visible before it is moved");
        written
            .move_into_place(dir.path(), &Releaser::new(dir.path()))
            .unwrap();
        assert_eq!(fs::read(&target).unwrap(), b"bytes");
        assert_eq!(fs::read_dir(target.parent().unwrap()).unwrap().count(), 1);
    }

    #[test]
    fn identical_held_bytes_in_one_directory_share_an_inode() {
        use std::os::unix::fs::MetadataExt;
        let dir = tempfile::tempdir().unwrap();
        let budget = MemoryBudget::new(1 << 20);
        let page = Bytes::from_static(b"<html>same</html>");
        let hold = |path: &str, data: &Bytes| {
            StagedFile::hold(&budget, dir.path().join(path), data.clone(), None).unwrap()
        };
        let batch = vec![
            hold("p/index.html", &page),
            hold("p/index.v1_html", &page),
            hold("p/index.v1_json", &Bytes::from_static(b"{}")),
            hold("q/index.html", &page),
        ];
        let release = Releaser::new(dir.path());
        for file in write_out_all(batch, dir.path()).unwrap() {
            file.move_into_place(dir.path(), &release).unwrap();
        }
        let inode = |p: &str| fs::metadata(dir.path().join(p)).unwrap().ino();
        assert_eq!(inode("p/index.html"), inode("p/index.v1_html"));
        assert_ne!(inode("p/index.html"), inode("p/index.v1_json"));
        assert_ne!(
            inode("p/index.html"),
            inode("q/index.html"),
            "only within a directory"
        );
        assert_eq!(
            fs::read(dir.path().join("p/index.v1_html")).unwrap(),
            &page[..]
        );
        assert_eq!(
            fs::read_dir(dir.path().join("p")).unwrap().count(),
            3,
            "no temp left"
        );
    }
}
