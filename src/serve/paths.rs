//! Turning request paths into files under `web/`, refusing anything that could reach
//! outside it (traversal, encoded separators, symlinks) or that must never be served
//! (dotfiles, `.vorpal-tmp.*` temp files, directories).

use std::ffi::CString;
use std::fs::{File, Metadata};
use std::os::fd::{AsRawFd, FromRawFd, RawFd};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};

use percent_encoding::percent_decode_str;

/// Why a path was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refused {
    /// A traversal attempt or a malformed path: 400.
    BadRequest,
    /// Hidden, temporary, outside the tree, or simply absent: 404.
    NotFound,
}

/// Percent-decode one path segment and reject segments that are traversal attempts.
pub fn decode_segment(raw: &str) -> Result<String, Refused> {
    let decoded = percent_decode_str(raw)
        .decode_utf8()
        .map_err(|_| Refused::BadRequest)?;
    if decoded == "."
        || decoded == ".."
        || decoded.contains(['/', '\\', '\0'])
        || decoded.chars().any(char::is_control)
    {
        return Err(Refused::BadRequest);
    }
    Ok(decoded.into_owned())
}

/// Check every segment of the whole request path (before routing), so that
/// `/simple/../status` and `/%2e%2e/x` are refused the same way everywhere.
pub fn check_request_path(path: &str) -> Result<(), Refused> {
    if path.contains('\\') {
        return Err(Refused::BadRequest);
    }
    for seg in path.split('/') {
        decode_segment(seg)?;
    }
    Ok(())
}

/// The decoded segments of `rest` (a path below a route prefix), each safe to join:
/// no traversal, no dotfiles (this covers `.vorpal-tmp.*`), no empty segments.
pub fn file_segments(rest: &str) -> Result<Vec<String>, Refused> {
    let mut out = Vec::new();
    for raw in rest.split('/') {
        let seg = decode_segment(raw)?;
        if seg.is_empty() || seg.starts_with('.') {
            return Err(Refused::NotFound);
        }
        out.push(seg);
    }
    Ok(out)
}

/// The served tree: its canonical path and an open directory fd that every file
/// lookup resolves beneath.
pub struct WebRoot {
    path: PathBuf,
    dir: File,
    /// Set once the kernel answers ENOSYS for openat2 (older than 5.6).
    no_openat2: AtomicBool,
}

impl WebRoot {
    /// Open `web` (already canonical) as the root of every lookup.
    pub fn open(web: PathBuf) -> std::io::Result<WebRoot> {
        let dir = File::open(&web)?;
        Ok(WebRoot {
            path: web,
            dir,
            no_openat2: AtomicBool::new(false),
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Open the regular file at `rel` (validated segments) below the root, following
    /// symlinks only while they stay inside it, and fstat it.
    ///
    /// openat2(RESOLVE_BENEATH) does the containment check in the one syscall that
    /// opens the file, so there is no realpath walk (a readlink per component) and no
    /// blocking-pool hand-off: on a page-cache hit it costs microseconds, less than
    /// waking a pool thread, so it runs on the async worker.
    pub async fn open_file(&self, rel: &Path) -> Result<(File, Metadata), Refused> {
        if !self.no_openat2.load(Ordering::Relaxed) {
            match openat2_beneath(&self.dir, rel) {
                Ok(file) => return regular(file),
                // ENOSYS: old kernel; EPERM: a seccomp filter that does not know it;
                // EXDEV: an absolute symlink, or one leaving the tree, which the realpath
                // check below judges exactly as before (absolute links into web/ are fine).
                Err(e) if e.raw_os_error() == Some(libc::ENOSYS) => {
                    self.no_openat2.store(true, Ordering::Relaxed);
                }
                Err(e) if matches!(e.raw_os_error(), Some(libc::EPERM | libc::EXDEV)) => {}
                Err(_) => return Err(Refused::NotFound),
            }
        }
        let web = self.path.clone();
        let rel = rel.to_path_buf();
        tokio::task::spawn_blocking(move || open_canonical(&web, &rel))
            .await
            .map_err(|_| Refused::NotFound)?
    }
}

/// fstat an opened file and accept it only if it is a regular file.
fn regular(file: File) -> Result<(File, Metadata), Refused> {
    let meta = file.metadata().map_err(|_| Refused::NotFound)?;
    if !meta.is_file() {
        return Err(Refused::NotFound);
    }
    Ok((file, meta))
}

/// Flags for opening a file to serve: O_NONBLOCK so that a FIFO planted in the tree
/// cannot hang the open (it has no effect on regular files).
const OPEN_FLAGS: libc::c_int =
    libc::O_RDONLY | libc::O_CLOEXEC | libc::O_NOCTTY | libc::O_NONBLOCK;

fn openat2_beneath(dir: &File, rel: &Path) -> std::io::Result<File> {
    let c_rel = CString::new(rel.as_os_str().as_bytes())?;
    // SAFETY: open_how is a plain C struct; all-zero is its documented default.
    let mut how: libc::open_how = unsafe { std::mem::zeroed() };
    how.flags = OPEN_FLAGS as u64;
    how.resolve = libc::RESOLVE_BENEATH | libc::RESOLVE_NO_MAGICLINKS;
    // SAFETY: valid dirfd, NUL-terminated path and a correctly sized open_how.
    let fd = unsafe {
        libc::syscall(
            libc::SYS_openat2,
            dir.as_raw_fd(),
            c_rel.as_ptr(),
            &how as *const libc::open_how,
            std::mem::size_of::<libc::open_how>(),
        )
    };
    if fd < 0 {
        return Err(std::io::Error::last_os_error());
    }
    // SAFETY: the kernel just handed us this fd and nothing else owns it.
    Ok(unsafe { File::from_raw_fd(fd as RawFd) })
}

/// Whether `rel` is a directory inside `web` (rare paths only: it canonicalizes).
pub async fn resolve_dir(web: &Path, rel: &Path) -> Option<PathBuf> {
    let canonical = tokio::fs::canonicalize(web.join(rel)).await.ok()?;
    if !canonical.starts_with(web) {
        return None;
    }
    let meta = tokio::fs::metadata(&canonical).await.ok()?;
    meta.is_dir().then_some(canonical)
}

/// The realpath check: canonicalize, require the result inside `web`, then open it.
fn open_canonical(web: &Path, rel: &Path) -> Result<(File, Metadata), Refused> {
    let joined = web.join(rel);
    let canonical = std::fs::canonicalize(&joined).map_err(|_| Refused::NotFound)?;
    if !canonical.starts_with(web) {
        tracing::warn!(
            "refusing {}: it resolves to {}, outside the served tree",
            joined.display(),
            canonical.display()
        );
        return Err(Refused::NotFound);
    }
    let file = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NOCTTY | libc::O_NONBLOCK)
        .open(&canonical)
        .map_err(|_| Refused::NotFound)?;
    regular(file)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn segments() {
        assert_eq!(decode_segment("a%2Bb").unwrap(), "a+b");
        assert_eq!(decode_segment("%2e%2e"), Err(Refused::BadRequest));
        assert_eq!(decode_segment("%2E"), Err(Refused::BadRequest));
        assert_eq!(decode_segment("a%2fb"), Err(Refused::BadRequest));
        assert_eq!(decode_segment("a%5cb"), Err(Refused::BadRequest));
        assert_eq!(decode_segment("a%00"), Err(Refused::BadRequest));
        assert_eq!(decode_segment("%ff"), Err(Refused::BadRequest));
        assert!(check_request_path("/packages/aa/bb/x.whl").is_ok());
        assert_eq!(
            check_request_path("/packages/../status"),
            Err(Refused::BadRequest)
        );
        assert_eq!(file_segments("aa/.vorpal-tmp.x"), Err(Refused::NotFound));
        assert_eq!(file_segments("aa//b"), Err(Refused::NotFound));
        assert_eq!(file_segments("aa/b").unwrap(), vec!["aa", "b"]);
    }
}
