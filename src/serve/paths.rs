//! Turning request paths into files under `web/`, refusing anything that could reach
//! outside it (traversal, encoded separators, symlinks) or that must never be served
//! (dotfiles, `.vorpal-tmp.*` temp files, directories).

use std::path::{Path, PathBuf};

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

/// Resolve `rel` below the (canonical) `web` root to a regular file, following
/// symlinks only when they stay inside `web`.
pub async fn resolve_file(web: &Path, rel: &Path) -> Result<(PathBuf, std::fs::Metadata), Refused> {
    let joined = web.join(rel);
    let canonical = tokio::fs::canonicalize(&joined)
        .await
        .map_err(|_| Refused::NotFound)?;
    if !canonical.starts_with(web) {
        tracing::warn!(
            "refusing {}: it resolves to {}, outside the served tree",
            joined.display(),
            canonical.display()
        );
        return Err(Refused::NotFound);
    }
    let meta = tokio::fs::metadata(&canonical)
        .await
        .map_err(|_| Refused::NotFound)?;
    if !meta.is_file() {
        return Err(Refused::NotFound);
    }
    Ok((canonical, meta))
}

/// Like [`resolve_file`] for a directory (project page folders).
pub async fn resolve_dir(web: &Path, rel: &Path) -> Option<PathBuf> {
    let canonical = tokio::fs::canonicalize(web.join(rel)).await.ok()?;
    if !canonical.starts_with(web) {
        return None;
    }
    let meta = tokio::fs::metadata(&canonical).await.ok()?;
    meta.is_dir().then_some(canonical)
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
