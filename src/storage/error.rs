//! Storage errors: every one names the key or path, and I/O errors say what to do.

use std::io;
use std::path::{Path, PathBuf};

#[derive(Debug, thiserror::Error)]
pub enum StorageError {
    /// A key failed validation (see [`super::Key`]).
    #[error("invalid storage key {key:?}: the key {reason}")]
    InvalidKey { key: String, reason: String },

    /// An upstream file URL path cannot be mapped to a key.
    #[error("cannot store file from URL path {path:?}: {reason}")]
    InvalidUrlPath { path: String, reason: String },

    /// A byte range outside the object.
    #[error("range {start}..{end} is outside {key} ({size} bytes)")]
    InvalidRange {
        key: String,
        start: u64,
        end: u64,
        size: u64,
    },

    /// The underlying filesystem (or, later, object store) failed.
    #[error("could not {op} {}: {source}{}", path.display(), remedy_suffix(remedy))]
    Io {
        op: &'static str,
        path: PathBuf,
        kind: io::ErrorKind,
        remedy: Option<String>,
        #[source]
        source: io::Error,
    },
}

impl StorageError {
    /// Wrap an io::Error from `op` (a verb phrase: "write", "rename into place") on
    /// `path`, which lives on the filesystem holding `root`.
    pub fn io(op: &'static str, path: &Path, root: &Path, source: io::Error) -> StorageError {
        StorageError::Io {
            op,
            path: path.to_path_buf(),
            kind: source.kind(),
            remedy: remedy_for(&source, path, root),
            source,
        }
    }

    /// The io::ErrorKind behind this error, if it came from I/O.
    pub fn io_kind(&self) -> Option<io::ErrorKind> {
        match self {
            StorageError::Io { kind, .. } => Some(*kind),
            _ => None,
        }
    }

    /// True when the disk (or quota) is full: the caller should stop the run rather
    /// than fail every remaining file the same way.
    pub fn is_disk_full(&self) -> bool {
        matches!(
            self.io_kind(),
            Some(io::ErrorKind::StorageFull | io::ErrorKind::QuotaExceeded)
        )
    }
}

fn remedy_suffix(remedy: &Option<String>) -> String {
    remedy
        .as_ref()
        .map(|r| format!("; {r}"))
        .unwrap_or_default()
}

fn remedy_for(err: &io::Error, path: &Path, root: &Path) -> Option<String> {
    let dir = path.parent().unwrap_or(path).display();
    let fs = root.display();
    let errno = err.raw_os_error();
    let text = match err.kind() {
        io::ErrorKind::StorageFull => format!(
            "disk full: free space on the filesystem holding {fs} and rerun; nothing already synced is lost"
        ),
        io::ErrorKind::QuotaExceeded => format!(
            "disk quota exceeded: raise the quota on the filesystem holding {fs} or free space, and rerun; nothing already synced is lost"
        ),
        io::ErrorKind::PermissionDenied => {
            format!("check that the user running vorpal may read and write {dir}")
        }
        io::ErrorKind::ReadOnlyFilesystem => {
            format!("the filesystem holding {fs} is read-only; remount it read-write")
        }
        io::ErrorKind::InvalidFilename => {
            "the name is too long or not allowed by this filesystem".to_string()
        }
        _ if errno == Some(libc::EMFILE) || errno == Some(libc::ENFILE) => {
            "too many open files: raise the open-file limit (ulimit -n) or lower download-concurrency"
                .to_string()
        }
        _ => return None,
    };
    Some(text)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn enospc_maps_to_disk_full_with_remedy() {
        let e = StorageError::io(
            "write",
            Path::new("/srv/pypi/web/packages/a/b/f.whl"),
            Path::new("/srv/pypi"),
            io::Error::from_raw_os_error(libc::ENOSPC),
        );
        assert!(e.is_disk_full());
        assert_eq!(e.io_kind(), Some(io::ErrorKind::StorageFull));
        let msg = e.to_string();
        assert!(msg.contains("/srv/pypi/web/packages/a/b/f.whl"), "{msg}");
        assert!(
            msg.contains("disk full: free space on the filesystem holding /srv/pypi and rerun; nothing already synced is lost"),
            "{msg}"
        );
    }

    #[test]
    fn other_errors_keep_kind_and_path() {
        let e = StorageError::io(
            "create",
            Path::new("/m/web/x"),
            Path::new("/m"),
            io::Error::from_raw_os_error(libc::EACCES),
        );
        assert_eq!(e.io_kind(), Some(io::ErrorKind::PermissionDenied));
        assert!(!e.is_disk_full());
        assert!(e.to_string().contains("may read and write /m/web"), "{e}");
        let e = StorageError::io(
            "read",
            Path::new("/m/web/x"),
            Path::new("/m"),
            io::Error::other("boom"),
        );
        assert_eq!(e.to_string(), "could not read /m/web/x: boom");
    }
}
