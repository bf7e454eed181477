//! Routing: the simple API, files, the JSON API, and the operational endpoints.
//! Paths are matched by hand on the raw (percent-encoded) path so every segment goes
//! through the same traversal checks before it touches the filesystem.

use std::borrow::Cow;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::{Request, State};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use http::{HeaderMap, HeaderValue, Method, StatusCode, header};

use super::XmlRpcHandler;
use super::access::{self, ConnMeta};
use super::file_cache::{CachedFile, FileCache};
use super::files;
use super::jsonapi;
use super::metrics::Metrics;
use super::negotiate::{self, Repr};
use super::ops;
use super::pages::{Kind, Page, PageCache, Stamp};
use super::paths::{self, Refused};
use crate::index::names::{is_valid_name, normalize};

pub const PAGE_CACHE_CONTROL: &str = "max-age=600, public";
pub const SERIAL_HEADER: &str = "x-pypi-last-serial";

/// Everything a handler needs; shared by all connections.
pub struct AppState {
    /// Mirror root (state files live here; never served).
    pub directory: PathBuf,
    /// Canonical `<directory>/web`.
    pub web: PathBuf,
    /// `web` opened once; every file is looked up beneath it.
    pub root: paths::WebRoot,
    pub public_url: Option<String>,
    pub not_acceptable_406: bool,
    pub xmlrpc: Option<Arc<dyn XmlRpcHandler>>,
    pub request_timeout: Duration,
    pub pages: PageCache,
    pub files: FileCache,
    pub metrics: Metrics,
}

pub fn router(state: Arc<AppState>) -> Router {
    Router::new()
        .route("/health", get(ops::health))
        .route("/metrics", get(ops::metrics))
        .route("/last-modified", get(ops::last_modified))
        .route("/pypi", post(ops::xmlrpc))
        .route("/RPC2", post(ops::xmlrpc))
        .fallback(dispatch)
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            access::observe,
        ))
        .with_state(state)
}

pub fn text(status: StatusCode, msg: impl Into<String>) -> Response {
    (
        status,
        [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
        msg.into(),
    )
        .into_response()
}

fn refused(r: Refused) -> Response {
    match r {
        Refused::BadRequest => text(StatusCode::BAD_REQUEST, "bad request path\n"),
        Refused::NotFound => not_found(),
    }
}

fn not_found() -> Response {
    text(StatusCode::NOT_FOUND, "not found\n")
}

fn moved(location: &str, query: Option<&str>) -> Response {
    let target = match query {
        Some(q) => format!("{location}?{q}"),
        None => location.to_string(),
    };
    match HeaderValue::from_str(&target) {
        Ok(v) => (StatusCode::MOVED_PERMANENTLY, [(header::LOCATION, v)]).into_response(),
        Err(_) => not_found(),
    }
}

async fn dispatch(State(state): State<Arc<AppState>>, req: Request) -> Response {
    let (parts, _body) = req.into_parts();
    let path = parts.uri.path();
    let query = parts.uri.query();
    if let Err(r) = paths::check_request_path(path) {
        return refused(r);
    }
    if parts.method != Method::GET && parts.method != Method::HEAD {
        return (
            StatusCode::METHOD_NOT_ALLOWED,
            [(header::ALLOW, "GET, HEAD")],
            "method not allowed\n",
        )
            .into_response();
    }
    let head = parts.method == Method::HEAD;
    if path == "/" {
        return finish(
            head,
            (
                [(header::CONTENT_TYPE, "text/html; charset=utf-8")],
                "<!DOCTYPE html>\n<html><body><a href=\"/simple/\">simple index</a></body></html>\n",
            )
                .into_response(),
        );
    }
    if let Some(rest) = path.strip_prefix("/simple") {
        let mut resp = simple(&state, &parts.headers, rest, query).await;
        // Every simple-API answer varies by Accept, redirects and 404s included, so
        // no cache hands one client's representation to another.
        resp.headers_mut()
            .insert(header::VARY, HeaderValue::from_static("Accept"));
        return finish(head, resp);
    }
    if let Some(rest) = path.strip_prefix("/packages/") {
        return match paths::file_segments(rest) {
            Ok(segs) => {
                let rel: PathBuf = ["packages"]
                    .into_iter()
                    .chain(segs.iter().map(String::as_str))
                    .collect();
                serve_package_file(&state, &parts.method, &parts.headers, &rel).await
            }
            Err(r) => refused(r),
        };
    }
    if let Some(rest) = path.strip_prefix("/pypi/") {
        let conn = parts.extensions.get::<ConnMeta>().copied();
        let authority = parts.uri.authority().map(|a| a.as_str());
        return finish(
            head,
            json_api(&state, &parts.headers, authority, conn, rest, query).await,
        );
    }
    not_found()
}

/// A file below `packages/`: from the file cache when it was looked at within the
/// last second, else opened (and cached when small).
async fn serve_package_file(
    state: &AppState,
    method: &Method,
    headers: &HeaderMap,
    rel: &Path,
) -> Response {
    use super::files::FileBody;
    match find_package_file(state, method, rel).await {
        Ok(Found::Cached(hit)) => {
            let body = FileBody::Memory(hit.bytes.clone());
            files::serve_file(method, headers, &hit.head, body, rel).await
        }
        Ok(Found::Disk(head, file)) => {
            files::serve_file(method, headers, &head, FileBody::Disk(file), rel).await
        }
        Err(r) => refused(r),
    }
}

enum Found {
    Cached(Arc<CachedFile>),
    Disk(files::FileHead, std::fs::File),
}

async fn find_package_file(
    state: &AppState,
    method: &Method,
    rel: &Path,
) -> Result<Found, paths::Refused> {
    use super::file_cache::{CACHEABLE, Lookup};
    let stale = match state.files.lookup(rel) {
        Lookup::Fresh(hit) => return Ok(Found::Cached(hit)),
        Lookup::Stale => true,
        Lookup::Missing => false,
    };
    let (file, meta) = state.root.open_file(rel).await?;
    let stamp = Stamp::of(&meta);
    if stale && let Some(hit) = state.files.revalidate(rel, stamp) {
        return Ok(Found::Cached(hit));
    }
    let head = files::FileHead::of(&meta);
    if meta.len() <= CACHEABLE && *method == Method::GET {
        let mut buf = vec![0u8; meta.len() as usize];
        if std::os::unix::fs::FileExt::read_exact_at(&file, &mut buf, 0).is_ok() {
            return Ok(Found::Cached(state.files.insert(
                rel,
                stamp,
                head,
                Bytes::from(buf),
            )));
        }
    }
    Ok(Found::Disk(head, file))
}

/// HEAD: same head as GET, no body (hyper keeps our Content-Length for HEAD).
fn finish(head: bool, resp: Response) -> Response {
    if !head {
        return resp;
    }
    let (mut parts, body) = resp.into_parts();
    if let Some(len) = axum::body::HttpBody::size_hint(&body).exact()
        && !parts.headers.contains_key(header::CONTENT_LENGTH)
    {
        parts
            .headers
            .insert(header::CONTENT_LENGTH, HeaderValue::from(len));
    }
    Response::from_parts(parts, Body::empty())
}

/// `/simple`, `/simple/`, `/simple/<name>`, `/simple/<name>/`.
async fn simple(
    state: &AppState,
    headers: &HeaderMap,
    rest: &str,
    query: Option<&str>,
) -> Response {
    if rest.is_empty() {
        return moved("/simple/", query);
    }
    let Some(rest) = rest.strip_prefix('/') else {
        return not_found(); // e.g. /simplefoo
    };
    if rest.is_empty() {
        return simple_page(state, headers, &[PathBuf::from("simple")], query, true).await;
    }
    let (raw, slash) = match rest.split_once('/') {
        None => (rest, false),
        Some((name, "")) => (name, true),
        Some(_) => return not_found(),
    };
    let name = match paths::decode_segment(raw) {
        Ok(n) => n,
        Err(r) => return refused(r),
    };
    if !is_valid_name(&name) {
        return not_found();
    }
    let canonical = normalize(&name);
    if !slash || raw != canonical {
        return moved(&format!("/simple/{canonical}/"), query);
    }
    // Flat trees keep simple/<name>/, hash-index trees simple/<first char>/<name>/.
    // Both are tried by file, so a cached page needs no directory lookups.
    let first: String = canonical.chars().take(1).collect();
    let dirs = [
        Path::new("simple").join(&canonical),
        Path::new("simple").join(first).join(&canonical),
    ];
    simple_page(state, headers, &dirs, query, false).await
}

fn format_param(query: Option<&str>) -> Option<String> {
    url::form_urlencoded::parse(query?.as_bytes())
        .find(|(k, _)| k == "format")
        .map(|(_, v)| v.into_owned())
}

async fn simple_page(
    state: &AppState,
    headers: &HeaderMap,
    dirs: &[PathBuf],
    query: Option<&str>,
    root: bool,
) -> Response {
    let mut accepts = headers
        .get_all(header::ACCEPT)
        .iter()
        .filter_map(|v| v.to_str().ok());
    // Almost every request has one Accept header: borrow it rather than join.
    let accept: Option<Cow<str>> = match (accepts.next(), accepts.next()) {
        (None, _) => None,
        (Some(a), None) => Some(Cow::Borrowed(a)),
        (Some(a), Some(b)) => {
            let mut all = vec![a, b];
            all.extend(accepts);
            Some(Cow::Owned(all.join(", ")))
        }
    };
    let accept = accept.filter(|a| !a.is_empty());
    let format = format_param(query);
    let order = match negotiate::choose(
        accept.as_deref(),
        format.as_deref(),
        state.not_acceptable_406,
    ) {
        Ok(o) => o,
        Err(_) => {
            // Only a project that exists is "not acceptable"; otherwise it is absent.
            let mut exists = false;
            for dir in dirs {
                exists |= paths::resolve_dir(&state.web, dir).await.is_some();
            }
            if !exists {
                return not_found();
            }
            let mut resp = text(
                StatusCode::NOT_ACCEPTABLE,
                format!(
                    "none of the offered types is acceptable: {}, {}, text/html\n",
                    negotiate::JSON_TYPE,
                    negotiate::V1_HTML_TYPE
                ),
            );
            resp.headers_mut()
                .insert(header::VARY, HeaderValue::from_static("Accept"));
            return resp;
        }
    };
    for dir in dirs {
        for &repr in &order {
            let kind = if repr == Repr::Json {
                Kind::Json
            } else {
                Kind::Html
            };
            let Some(page) = state
                .pages
                .get(&state.root, &dir.join(repr.file_name()), "", move |b| {
                    Page::from_bytes(b, kind)
                })
                .await
            else {
                continue;
            };
            let mut serial = page.serial;
            if serial.is_none() && repr != Repr::Json {
                // An HTML page without a SERIAL comment: its JSON twin says the same thing.
                serial = state
                    .pages
                    .serial_of(&state.root, &dir.join(Repr::Json.file_name()), Kind::Json)
                    .await;
            }
            if serial.is_none() && root {
                serial = ops::status_serial(&state.directory).await;
            }
            return page_response(
                headers,
                &page,
                repr.content_type(),
                repr.etag_suffix(),
                serial,
                true,
            );
        }
    }
    not_found()
}

/// A cached page with ETag/304, caching headers and the serial header.
fn page_response(
    headers: &HeaderMap,
    page: &Page,
    content_type: &'static str,
    etag_suffix: &str,
    serial: Option<i64>,
    vary_accept: bool,
) -> Response {
    let etag = format!("\"{}-{}\"", page.hash, etag_suffix);
    let mut h = HeaderMap::new();
    if let Ok(v) = HeaderValue::from_str(&etag) {
        h.insert(header::ETAG, v);
    }
    h.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static(PAGE_CACHE_CONTROL),
    );
    if vary_accept {
        h.insert(header::VARY, HeaderValue::from_static("Accept"));
    }
    if let Some(s) = serial {
        h.insert(SERIAL_HEADER, HeaderValue::from(s));
    }
    if files::none_match(headers, &etag) {
        return (StatusCode::NOT_MODIFIED, h).into_response();
    }
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    (StatusCode::OK, h, Body::from(page.bytes.clone())).into_response()
}

/// The scheme and host file URLs are rewritten to.
fn base_url(
    state: &AppState,
    headers: &HeaderMap,
    authority: Option<&str>,
    conn: Option<ConnMeta>,
) -> String {
    if let Some(url) = &state.public_url {
        return url.trim_end_matches('/').to_string();
    }
    let scheme = if conn.is_some_and(|c| c.tls) {
        "https"
    } else {
        "http"
    };
    // HTTP/1.1 sends Host; HTTP/2 sends :authority, which hyper puts in the URI.
    let host = headers
        .get(header::HOST)
        .and_then(|v| v.to_str().ok())
        .or(authority)
        .filter(|h| {
            !h.is_empty()
                && h.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b".-:[]_".contains(&b))
        });
    match host {
        Some(h) => format!("{scheme}://{h}"),
        // Without a usable Host, absolute paths still resolve against the request.
        None => String::new(),
    }
}

/// `/pypi/<project>/json` and `/pypi/<project>/<version>/json`.
async fn json_api(
    state: &AppState,
    headers: &HeaderMap,
    authority: Option<&str>,
    conn: Option<ConnMeta>,
    rest: &str,
    query: Option<&str>,
) -> Response {
    let segs: Vec<&str> = rest.split('/').collect();
    let (raw, version) = match segs.as_slice() {
        [name, "json"] => (*name, None),
        [name, version, "json"] => (*name, Some(*version)),
        _ => return not_found(),
    };
    let name = match paths::decode_segment(raw) {
        Ok(n) => n,
        Err(r) => return refused(r),
    };
    if !is_valid_name(&name) {
        return not_found();
    }
    let canonical = normalize(&name);
    if raw != canonical {
        let target = match version {
            Some(v) => format!("/pypi/{canonical}/{v}/json"),
            None => format!("/pypi/{canonical}/json"),
        };
        return moved(&target, query);
    }
    let version = match version.map(paths::decode_segment).transpose() {
        Ok(v) => v,
        Err(r) => return refused(r),
    };
    let base = base_url(state, headers, authority, conn);
    let variant = format!("{}\n{}", base, version.as_deref().unwrap_or(""));
    let build = move |bytes: Bytes| -> Page {
        let mut doc = match serde_json::from_slice::<serde_json::Value>(&bytes) {
            Ok(d) => d,
            Err(e) => {
                tracing::warn!("JSON API document is not valid JSON ({e}); answering 404");
                return Page::new(Bytes::new(), None);
            }
        };
        jsonapi::rewrite_urls(&mut doc, &base);
        let serial = doc.get("last_serial").and_then(|s| {
            s.as_i64()
                .or_else(|| s.as_str().and_then(|s| s.trim().parse().ok()))
        });
        let doc = match &version {
            Some(v) => match jsonapi::version_view(&doc, v) {
                Some(d) => d,
                None => return Page::new(Bytes::new(), serial),
            },
            None => doc,
        };
        let out = serde_json::to_vec(&doc).unwrap_or_default();
        Page::new(Bytes::from(out), serial)
    };
    let mut found = None;
    for rel in [
        Path::new("pypi").join(&canonical).join("json"),
        Path::new("json").join(&canonical),
    ] {
        found = state
            .pages
            .get(&state.root, &rel, &variant, build.clone())
            .await;
        if found.is_some() {
            break;
        }
    }
    let Some(page) = found else {
        return not_found();
    };
    if page.bytes.is_empty() {
        // Unreadable document or unknown version.
        return not_found();
    }
    page_response(
        headers,
        &page,
        "application/json",
        "api",
        page.serial,
        false,
    )
}
