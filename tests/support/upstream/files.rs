//! File responses: immutable, with HEAD and single byte ranges like
//! files.pythonhosted.org.

use bytes::Bytes;
use http::{HeaderMap, HeaderValue, StatusCode, header};

use super::server::{Prepared, header_str};

/// Files: immutable, range-capable like files.pythonhosted.org.
pub fn file_response(bytes: Bytes, etag: &str, req: &HeaderMap) -> Prepared {
    let mut headers = HeaderMap::new();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/octet-stream"),
    );
    headers.insert(header::ACCEPT_RANGES, HeaderValue::from_static("bytes"));
    headers.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("max-age=365000000, immutable, public"),
    );
    if let Ok(v) = HeaderValue::from_str(etag) {
        headers.insert(header::ETAG, v);
    }
    let len = bytes.len() as u64;
    let if_range_ok = header_str(req, header::IF_RANGE).is_none_or(|v| v == etag);
    let range = header_str(req, header::RANGE).filter(|_| if_range_ok);
    let mut status = StatusCode::OK;
    let mut body = bytes;
    if let Some(spec) = range {
        match parse_range(spec, len) {
            Some((start, end)) => {
                status = StatusCode::PARTIAL_CONTENT;
                body = body.slice(start as usize..=end as usize);
                if let Ok(v) = HeaderValue::from_str(&format!("bytes {start}-{end}/{len}")) {
                    headers.insert(header::CONTENT_RANGE, v);
                }
            }
            None => {
                status = StatusCode::RANGE_NOT_SATISFIABLE;
                body = Bytes::new();
                if let Ok(v) = HeaderValue::from_str(&format!("bytes */{len}")) {
                    headers.insert(header::CONTENT_RANGE, v);
                }
            }
        }
    }
    Prepared {
        status,
        headers,
        body,
        page: false,
    }
}

/// One `bytes=` range (first, last inclusive); multi-range requests are not needed.
fn parse_range(spec: &str, len: u64) -> Option<(u64, u64)> {
    let r = spec.trim().strip_prefix("bytes=")?;
    if r.contains(',') || len == 0 {
        return None;
    }
    let (a, b) = r.split_once('-')?;
    let (a, b) = (a.trim(), b.trim());
    if a.is_empty() {
        let n: u64 = b.parse().ok()?;
        if n == 0 {
            return None;
        }
        return Some((len.saturating_sub(n), len - 1));
    }
    let start: u64 = a.parse().ok()?;
    let end = if b.is_empty() {
        len - 1
    } else {
        b.parse::<u64>().ok()?.min(len - 1)
    };
    (start <= end && start < len).then_some((start, end))
}
