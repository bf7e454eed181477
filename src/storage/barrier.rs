//! Group durability: one `syncfs(2)` makes everything written to the filesystem
//! before it durable, so the many writers of a sync that reach a barrier together
//! share one call instead of paying an fsync per file. Per-file fsyncs dominated a
//! full sync (each is a synchronous metadata write, and in a VM a device exit);
//! batching them left the same guarantees at a fraction of the cost.

use std::fs::File;
use std::io;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

/// Serializes flushes and lets a waiter skip its own when a flush that started after
/// it arrived has already completed (classic group commit). A flush starts as soon as
/// the previous one ends: the writers that arrive while one runs share the next.
/// Holding a flush open for more writers (10 ms) made every publish wait out two such
/// windows: a 5% incremental took 0.28 s with it and 0.24 s without, and a full sync
/// was no slower without.
#[derive(Debug)]
pub(crate) struct Barrier {
    root: PathBuf,
    /// Kept open for the store's life: syncfs reports the filesystem's writeback
    /// errors that happened since this descriptor was opened, so a descriptor opened
    /// per flush would miss an I/O error between two flushes.
    dir: std::sync::Mutex<Option<Arc<File>>>,
    turn: tokio::sync::Mutex<()>,
    /// Flushes started so far (a flush's sequence number is this after it starts).
    started: AtomicU64,
    /// Sequence number of the last flush that completed without error.
    completed: AtomicU64,
}

impl Barrier {
    pub(crate) fn new(root: PathBuf) -> Barrier {
        Barrier {
            dir: std::sync::Mutex::new(File::open(&root).ok().map(Arc::new)),
            root,
            turn: tokio::sync::Mutex::new(()),
            started: AtomicU64::new(0),
            completed: AtomicU64::new(0),
        }
    }

    /// Return once everything written before this call is durable.
    pub(crate) async fn wait(&self) -> io::Result<()> {
        let arrived = self.started.load(Ordering::Acquire);
        let _turn = self.turn.lock().await;
        // A flush numbered above `arrived` began after this call did, so it covered
        // every write made before it.
        if self.completed.load(Ordering::Acquire) > arrived {
            return Ok(());
        }
        let seq = self.started.fetch_add(1, Ordering::AcqRel) + 1;
        let dir = self.dir()?;
        tokio::task::spawn_blocking(move || sync_filesystem(&dir))
            .await
            .map_err(io::Error::other)??;
        self.completed.store(seq, Ordering::Release);
        Ok(())
    }
}

impl Barrier {
    /// The root's descriptor, opened now if the root did not exist at creation.
    fn dir(&self) -> io::Result<Arc<File>> {
        let mut dir = self.dir.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(d) = dir.as_ref() {
            return Ok(d.clone());
        }
        let opened = Arc::new(File::open(&self.root)?);
        *dir = Some(opened.clone());
        Ok(opened)
    }
}

/// Flush every dirty page and inode of the filesystem holding `dir`.
#[cfg(target_os = "linux")]
fn sync_filesystem(dir: &File) -> io::Result<()> {
    use std::os::fd::AsRawFd;
    // SAFETY: `dir` is an open descriptor for the duration of the call.
    if unsafe { libc::syncfs(dir.as_raw_fd()) } == 0 {
        Ok(())
    } else {
        // Since Linux 5.8 this reports writeback errors (EIO, ENOSPC) of the
        // filesystem: bytes that were meant to land did not.
        Err(io::Error::last_os_error())
    }
}

/// Without syncfs, flush everything (slower when other filesystems are busy).
#[cfg(not(target_os = "linux"))]
fn sync_filesystem(_dir: &File) -> io::Result<()> {
    // SAFETY: sync(2) takes no arguments and cannot fail.
    unsafe { libc::sync() };
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn concurrent_waiters_share_flushes() {
        let dir = tempfile::tempdir().unwrap();
        let barrier = Arc::new(Barrier::new(dir.path().to_path_buf()));
        let waiters: Vec<_> = (0..64)
            .map(|_| {
                let b = barrier.clone();
                tokio::spawn(async move { b.wait().await })
            })
            .collect();
        for w in waiters {
            w.await.unwrap().unwrap();
        }
        let flushes = barrier.completed.load(Ordering::Acquire);
        assert!(flushes >= 1, "at least one flush ran");
        assert!(
            flushes < 64,
            "64 waiters ran {flushes} flushes: nothing was shared"
        );
    }

    #[tokio::test]
    async fn a_missing_root_is_an_error() {
        let dir = tempfile::tempdir().unwrap();
        let barrier = Barrier::new(dir.path().join("gone"));
        assert!(barrier.wait().await.is_err());
    }
}
