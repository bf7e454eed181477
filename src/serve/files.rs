//! Distribution files and `.metadata` files: streamed from disk, with validators,
//! conditional requests and single byte ranges (RFC 9110 §14).

use std::io::SeekFrom;
use std::os::unix::fs::FileExt;
use std::path::Path;
use std::time::{SystemTime, UNIX_EPOCH};

use axum::body::{Body, Bytes};
use axum::response::{IntoResponse, Response};
use futures::Stream;
use http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use tokio::io::{AsyncReadExt, AsyncSeekExt};

/// Files are written once (temp + rename) and never change under the same name.
pub const IMMUTABLE: &str = "max-age=31536000, immutable";
/// PyPI says binary/octet-stream; the registered name is application/octet-stream.
const OCTET_STREAM: &str = "application/octet-stream";
const CHUNK: u64 = 256 * 1024;
/// Bodies up to this size are read whole, without the blocking pool.
const SMALL: u64 = 64 * 1024;

/// Strong ETag from size and mtime: hashing gigabyte wheels per request is not an
/// option, and a file's bytes never change without its inode and mtime changing.
fn file_etag(meta: &std::fs::Metadata) -> String {
    let nanos = meta
        .modified()
        .ok()
        .and_then(|m| m.duration_since(UNIX_EPOCH).ok())
        .map(|d| d.as_nanos())
        .unwrap_or(0);
    format!("\"{:x}-{:x}\"", meta.len(), nanos)
}

/// What every answer for one version of a file shares: its length and validators,
/// with their header values formatted once.
#[derive(Debug, Clone)]
pub struct FileHead {
    len: u64,
    etag: String,
    modified: Option<SystemTime>,
    headers: HeaderMap,
}

impl FileHead {
    pub fn of(meta: &std::fs::Metadata) -> FileHead {
        FileHead::new(meta.len(), file_etag(meta), meta.modified().ok())
    }

    pub fn new(len: u64, etag: String, modified: Option<SystemTime>) -> FileHead {
        let mut headers = HeaderMap::new();
        headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(OCTET_STREAM));
        headers.insert(header::ACCEPT_RANGES, HeaderValue::from_static("bytes"));
        headers.insert(header::CACHE_CONTROL, HeaderValue::from_static(IMMUTABLE));
        if let Ok(v) = HeaderValue::from_str(&etag) {
            headers.insert(header::ETAG, v);
        }
        if let Some(m) = modified
            && let Ok(v) = HeaderValue::from_str(&http_date(m))
        {
            headers.insert(header::LAST_MODIFIED, v);
        }
        FileHead {
            len,
            etag,
            modified,
            headers,
        }
    }
}

/// Where the bytes come from.
pub enum FileBody {
    /// The whole file, already in memory.
    Memory(Bytes),
    Disk(std::fs::File),
}

/// What the Range header asked for, after checking it against the length.
#[derive(Debug, PartialEq, Eq)]
pub enum RangeRequest {
    /// No usable Range (absent, malformed, several ranges): send everything.
    Full,
    /// Inclusive byte range.
    Part(u64, u64),
    Unsatisfiable,
}

/// Parse a `Range: bytes=...` header (hand-written: exact RFC 9110 semantics for one
/// range; several ranges are answered with the full body, which RFC 9110 allows).
pub fn parse_range(value: &str, len: u64) -> RangeRequest {
    let Some((unit, spec)) = value.split_once('=') else {
        return RangeRequest::Full;
    };
    if !unit.trim().eq_ignore_ascii_case("bytes") || spec.contains(',') {
        return RangeRequest::Full;
    }
    let Some((first, last)) = spec.trim().split_once('-') else {
        return RangeRequest::Full;
    };
    let (first, last) = (first.trim(), last.trim());
    let digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    if first.is_empty() {
        // Suffix range: the last N bytes.
        if !digits(last) {
            return RangeRequest::Full;
        }
        let Ok(n) = last.parse::<u64>() else {
            return RangeRequest::Full;
        };
        if n == 0 || len == 0 {
            return RangeRequest::Unsatisfiable;
        }
        return RangeRequest::Part(len.saturating_sub(n), len - 1);
    }
    if !digits(first) || !(last.is_empty() || digits(last)) {
        return RangeRequest::Full;
    }
    let Ok(start) = first.parse::<u64>() else {
        return RangeRequest::Full;
    };
    let end = if last.is_empty() {
        u64::MAX
    } else {
        // Beyond u64 means "to the end" as far as any file here is concerned.
        last.parse::<u64>().unwrap_or(u64::MAX)
    };
    if end < start {
        return RangeRequest::Full;
    }
    if start >= len {
        return RangeRequest::Unsatisfiable;
    }
    RangeRequest::Part(start, end.min(len - 1))
}

/// Does `If-None-Match` (a list or `*`) match our ETag? Weak comparison, per RFC 9110.
pub fn none_match(headers: &HeaderMap, etag: &str) -> bool {
    let strip = |t: &str| t.trim().trim_start_matches("W/").to_string();
    let ours = strip(etag);
    headers
        .get_all(header::IF_NONE_MATCH)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .any(|t| t.trim() == "*" || strip(t) == ours)
}

fn http_date(t: SystemTime) -> String {
    httpdate::fmt_http_date(t)
}

/// `If-Range` holds: a strong ETag equal to ours, or a date equal to Last-Modified.
fn if_range_holds(value: &str, etag: &str, modified: Option<SystemTime>) -> bool {
    let value = value.trim();
    if value.starts_with('"') {
        return value == etag;
    }
    if value.starts_with("W/") {
        return false;
    }
    match (httpdate::parse_http_date(value), modified) {
        (Ok(date), Some(m)) => httpdate::fmt_http_date(date) == http_date(m),
        _ => false,
    }
}

/// Serve one file (opened beneath web/ by [`super::paths::WebRoot::open_file`], or
/// from the file cache; `name` is only for log messages).
pub async fn serve_file(
    method: &Method,
    headers: &HeaderMap,
    head: &FileHead,
    body: FileBody,
    name: &Path,
) -> Response {
    let (len, etag, modified) = (head.len, head.etag.as_str(), head.modified);
    let mut base = head.headers.clone();

    if headers.contains_key(header::IF_NONE_MATCH) {
        if none_match(headers, etag) {
            base.remove(header::CONTENT_TYPE);
            return (StatusCode::NOT_MODIFIED, base).into_response();
        }
    } else if let (Some(since), Some(m)) = (
        headers
            .get(header::IF_MODIFIED_SINCE)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| httpdate::parse_http_date(v).ok()),
        modified,
    ) && httpdate::parse_http_date(&http_date(m)).is_ok_and(|m| m <= since)
    {
        base.remove(header::CONTENT_TYPE);
        return (StatusCode::NOT_MODIFIED, base).into_response();
    }

    let mut range = headers
        .get(header::RANGE)
        .and_then(|v| v.to_str().ok())
        .map(|v| parse_range(v, len))
        .unwrap_or(RangeRequest::Full);
    if range != RangeRequest::Full
        && let Some(ir) = headers.get(header::IF_RANGE)
        && !ir.to_str().is_ok_and(|v| if_range_holds(v, etag, modified))
    {
        range = RangeRequest::Full;
    }

    let (status, start, count) = match range {
        RangeRequest::Full => (StatusCode::OK, 0, len),
        RangeRequest::Part(a, b) => {
            if let Ok(v) = HeaderValue::from_str(&format!("bytes {a}-{b}/{len}")) {
                base.insert(header::CONTENT_RANGE, v);
            }
            (StatusCode::PARTIAL_CONTENT, a, b - a + 1)
        }
        RangeRequest::Unsatisfiable => {
            if let Ok(v) = HeaderValue::from_str(&format!("bytes */{len}")) {
                base.insert(header::CONTENT_RANGE, v);
            }
            base.remove(header::CONTENT_TYPE);
            return (StatusCode::RANGE_NOT_SATISFIABLE, base).into_response();
        }
    };
    base.insert(header::CONTENT_LENGTH, HeaderValue::from(count));

    if method == Method::HEAD {
        return (status, base, Body::empty()).into_response();
    }
    let file = match body {
        FileBody::Memory(bytes) => {
            let range = start as usize..(start + count) as usize;
            return (status, base, Body::from(bytes.slice(range))).into_response();
        }
        FileBody::Disk(file) => file,
    };
    if count <= SMALL {
        // A small file is one pread straight into the body on this worker thread: it is
        // a page-cache hit that takes microseconds, far less than handing it to the
        // blocking pool and waking a thread, and one Bytes goes out in one write.
        let mut buf = vec![0u8; count as usize];
        if let Err(e) = file.read_exact_at(&mut buf, start) {
            tracing::warn!("cannot read {}: {e}", name.display());
            return (StatusCode::INTERNAL_SERVER_ERROR, "read error\n").into_response();
        }
        return (status, base, Body::from(Bytes::from(buf))).into_response();
    }
    let mut file = tokio::fs::File::from_std(file);
    if start > 0
        && let Err(e) = file.seek(SeekFrom::Start(start)).await
    {
        tracing::warn!("cannot seek in {}: {e}", name.display());
        return (StatusCode::INTERNAL_SERVER_ERROR, "read error\n").into_response();
    }
    (status, base, Body::from_stream(file_stream(file, count))).into_response()
}

/// Exactly `count` bytes from `file`'s current position, in chunks; never the whole file
/// in memory. (tokio-util's ReaderStream is not a dependency; this is its core.)
fn file_stream(
    file: tokio::fs::File,
    count: u64,
) -> impl Stream<Item = std::io::Result<Bytes>> + Send + 'static {
    futures::stream::try_unfold((file, count), |(mut file, remaining)| async move {
        if remaining == 0 {
            return Ok(None);
        }
        let want = remaining.min(CHUNK) as usize;
        let mut buf = vec![0u8; want];
        let n = file.read(&mut buf).await?;
        if n == 0 {
            return Err(std::io::Error::new(
                std::io::ErrorKind::UnexpectedEof,
                "file shrank while being sent",
            ));
        }
        buf.truncate(n);
        Ok(Some((Bytes::from(buf), (file, remaining - n as u64))))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges() {
        use RangeRequest::*;
        assert_eq!(parse_range("bytes=0-99", 1000), Part(0, 99));
        assert_eq!(parse_range("bytes=-100", 1000), Part(900, 999));
        assert_eq!(parse_range("bytes=-2000", 1000), Part(0, 999));
        assert_eq!(parse_range("bytes=500-", 1000), Part(500, 999));
        assert_eq!(parse_range("bytes=990-2000", 1000), Part(990, 999));
        assert_eq!(parse_range("bytes=1000-", 1000), Unsatisfiable);
        assert_eq!(parse_range("bytes=-0", 1000), Unsatisfiable);
        assert_eq!(parse_range("bytes=0-0", 0), Unsatisfiable);
        assert_eq!(parse_range("bytes=0-1,5-6", 1000), Full);
        assert_eq!(parse_range("bytes=5-1", 1000), Full);
        assert_eq!(parse_range("items=0-1", 1000), Full);
        assert_eq!(parse_range("bytes=a-b", 1000), Full);
        assert_eq!(parse_range("bytes=+1-2", 1000), Full);
        assert_eq!(
            parse_range("bytes=0-99999999999999999999999", 10),
            Part(0, 9)
        );
    }

    #[test]
    fn if_none_match_forms() {
        let mut h = HeaderMap::new();
        h.insert(
            header::IF_NONE_MATCH,
            HeaderValue::from_static("\"a\", W/\"b\""),
        );
        assert!(none_match(&h, "\"b\""));
        assert!(!none_match(&h, "\"c\""));
        h.insert(header::IF_NONE_MATCH, HeaderValue::from_static("*"));
        assert!(none_match(&h, "\"c\""));
    }

    #[test]
    fn if_range() {
        let t = SystemTime::UNIX_EPOCH + std::time::Duration::from_secs(1_700_000_000);
        assert!(if_range_holds("\"x\"", "\"x\"", Some(t)));
        assert!(!if_range_holds("\"y\"", "\"x\"", Some(t)));
        assert!(!if_range_holds("W/\"x\"", "\"x\"", Some(t)));
        assert!(if_range_holds(&http_date(t), "\"x\"", Some(t)));
        assert!(!if_range_holds(
            "Mon, 01 Jan 2001 00:00:00 GMT",
            "\"x\"",
            Some(t)
        ));
    }
}
