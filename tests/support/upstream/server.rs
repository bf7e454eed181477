//! The HTTP side of the fake: routing, redirects, XML-RPC, fault injection and the
//! request log.

use std::io;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use axum::body::Body;
use axum::extract::{Request, State as AxState};
use axum::response::Response;
use bytes::Bytes;
use http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use sha2::{Digest, Sha256};

use super::files::file_response;
use super::model::{FaultKind, FaultTarget, RequestRecord};
use super::negotiate::{Repr, negotiate};
use super::render;
use super::state::{State, normalize};

pub struct Fault {
    pub target: FaultTarget,
    pub kind: FaultKind,
    pub remaining: usize,
}

pub struct Shared {
    pub state: Mutex<State>,
    pub faults: Mutex<Vec<Fault>>,
    pub log: Mutex<Vec<RequestRecord>>,
    pub base_url: String,
    pub changelog_cap: usize,
}

/// A poisoned lock only means another request panicked; the data is still usable.
pub fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// What a request is about, for routing and fault targeting.
enum Route {
    Root,
    Detail(String, bool),
    JsonApi(String),
    XmlRpc,
    File(String),
    Redirect(String),
    NotFound,
}

fn route(method: &Method, path: &str) -> Route {
    if path == "/simple" {
        return Route::Redirect("/simple/".to_string());
    }
    if path == "/simple/" {
        return Route::Root;
    }
    if let Some(rest) = path.strip_prefix("/simple/") {
        let (name, slash) = match rest.strip_suffix('/') {
            Some(n) => (n, true),
            None => (rest, false),
        };
        if !name.is_empty() && !name.contains('/') {
            return Route::Detail(name.to_string(), slash);
        }
        return Route::NotFound;
    }
    if (path == "/pypi" || path == "/pypi/" || path == "/RPC2") && method == Method::POST {
        return Route::XmlRpc;
    }
    if let Some(rest) = path.strip_prefix("/pypi/")
        && let Some(name) = rest
            .strip_suffix("/json")
            .or_else(|| rest.strip_suffix("/json/"))
        && !name.is_empty()
        && !name.contains('/')
    {
        return Route::JsonApi(name.to_string());
    }
    if let Some(rest) = path.strip_prefix("/packages/") {
        return Route::File(rest.to_string());
    }
    Route::NotFound
}

enum RouteKind {
    XmlRpc,
    Other,
}

/// A response before body faults are applied.
pub struct Prepared {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: Bytes,
    /// Whether it is a page carrying `X-PyPI-Last-Serial`.
    pub page: bool,
}

impl Prepared {
    fn status(status: StatusCode, msg: &str) -> Prepared {
        let mut headers = HeaderMap::new();
        headers.insert(header::CONTENT_TYPE, HeaderValue::from_static("text/plain"));
        Prepared {
            status,
            headers,
            body: Bytes::from(format!("{msg}\n")),
            page: false,
        }
    }

    fn redirect(location: &str) -> Prepared {
        let mut p = Prepared::status(StatusCode::MOVED_PERMANENTLY, "moved");
        if let Ok(v) = HeaderValue::from_str(location) {
            p.headers.insert(header::LOCATION, v);
        }
        p
    }

    fn page(body: String, content_type: &str, serial: u64, vary: bool) -> Prepared {
        let mut headers = HeaderMap::new();
        if let Ok(v) = HeaderValue::from_str(content_type) {
            headers.insert(header::CONTENT_TYPE, v);
        }
        if vary {
            headers.insert(header::VARY, HeaderValue::from_static("Accept"));
        }
        headers.insert("x-pypi-last-serial", HeaderValue::from(serial));
        let etag = format!(
            "\"{}\"",
            &hex::encode(Sha256::digest(body.as_bytes()))[..32]
        );
        if let Ok(v) = HeaderValue::from_str(&etag) {
            headers.insert(header::ETAG, v);
        }
        Prepared {
            status: StatusCode::OK,
            headers,
            body: Bytes::from(body),
            page: true,
        }
    }
}

struct Incoming {
    method: Method,
    path: String,
    query: Option<String>,
    headers: HeaderMap,
    body: Bytes,
}

pub fn header_str(h: &HeaderMap, name: header::HeaderName) -> Option<&str> {
    h.get(name).and_then(|v| v.to_str().ok())
}

fn query_format(query: Option<&str>) -> Option<String> {
    query?.split('&').find_map(|kv| {
        let v = kv.strip_prefix("format=")?;
        percent_encoding::percent_decode_str(v)
            .decode_utf8()
            .ok()
            .map(|s| s.into_owned())
    })
}

pub async fn handle(AxState(shared): AxState<Arc<Shared>>, req: Request) -> Response {
    let (parts, body) = req.into_parts();
    let body = axum::body::to_bytes(body, 16 << 20)
        .await
        .unwrap_or_default();
    let inc = Incoming {
        method: parts.method.clone(),
        path: parts.uri.path().to_string(),
        query: parts.uri.query().map(str::to_string),
        headers: parts.headers,
        body,
    };
    let route = route(&inc.method, &inc.path);
    let route_kind = if matches!(route, Route::XmlRpc) {
        RouteKind::XmlRpc
    } else {
        RouteKind::Other
    };
    let fault = take_fault(&shared, &inc, &route);
    if let Some(FaultKind::Slow(d)) = &fault {
        tokio::time::sleep(*d).await;
    }
    let prepared = match &fault {
        Some(FaultKind::Status(code)) => {
            let status = StatusCode::from_u16(*code).unwrap_or(StatusCode::SERVICE_UNAVAILABLE);
            let mut p = Prepared::status(status, "fake upstream: injected status");
            if matches!(code, 429 | 503) {
                p.headers
                    .insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
            }
            p
        }
        Some(FaultKind::XmlRpcFault(code)) => {
            let mut p = Prepared::status(StatusCode::OK, "");
            p.headers
                .insert(header::CONTENT_TYPE, HeaderValue::from_static("text/xml"));
            p.body = Bytes::from(render::xml_fault(
                *code,
                "fake upstream: injected fault (rate limit exceeded)",
            ));
            p
        }
        _ => respond(&shared, &inc, route),
    };
    let record = RequestRecord {
        method: inc.method.to_string(),
        path: inc.path.clone(),
        query: inc.query.clone(),
        accept: header_str(&inc.headers, header::ACCEPT).map(str::to_string),
        range: header_str(&inc.headers, header::RANGE).map(str::to_string),
        status: prepared.status.as_u16(),
        fault: fault.clone(),
        xmlrpc_method: matches!(route_kind, RouteKind::XmlRpc)
            .then(|| xmlrpc_method(&String::from_utf8_lossy(&inc.body)))
            .flatten(),
    };
    lock(&shared.log).push(record);
    finish(prepared, fault, inc.method == Method::HEAD)
}

/// Consumes one use of the first fault that targets this request and makes sense for it.
fn take_fault(shared: &Shared, inc: &Incoming, route: &Route) -> Option<FaultKind> {
    let project = match route {
        Route::Detail(n, _) | Route::JsonApi(n) => Some(normalize(n)),
        Route::File(p) => lock(&shared.state).files.get(p).map(|(n, _)| n.clone()),
        _ => None,
    };
    let page = matches!(route, Route::Root | Route::Detail(..) | Route::JsonApi(_));
    let xmlrpc = matches!(route, Route::XmlRpc);
    let mut faults = lock(&shared.faults);
    let f = faults.iter_mut().find(|f| {
        f.remaining > 0
            && match &f.target {
                FaultTarget::Path(prefix) => inc.path.starts_with(prefix.as_str()),
                FaultTarget::Project(name) => project.as_deref() == Some(&normalize(name)),
            }
            && match f.kind {
                FaultKind::StaleSerial | FaultKind::MissingSerial => page,
                FaultKind::XmlRpcFault(_) => xmlrpc,
                _ => true,
            }
    })?;
    f.remaining -= 1;
    let kind = f.kind.clone();
    faults.retain(|f| f.remaining > 0);
    Some(kind)
}

fn respond(shared: &Shared, inc: &Incoming, route: Route) -> Prepared {
    let is_get = inc.method == Method::GET || inc.method == Method::HEAD;
    let repr = || {
        negotiate(
            header_str(&inc.headers, header::ACCEPT),
            query_format(inc.query.as_deref()).as_deref(),
        )
    };
    let base = shared.base_url.as_str();
    let state = lock(&shared.state);
    let mut p = match route {
        Route::Redirect(to) => return Prepared::redirect(&to),
        Route::NotFound => return Prepared::status(StatusCode::NOT_FOUND, "not found"),
        _ if !is_get && !matches!(route, Route::XmlRpc) => {
            return Prepared::status(StatusCode::METHOD_NOT_ALLOWED, "method not allowed");
        }
        Route::Root => {
            let r = repr();
            let body = match r {
                Repr::Json => render::root_json(&state),
                _ => render::root_html(&state),
            };
            Prepared::page(body, r.content_type(), state.serial, true)
        }
        Route::Detail(name, slash) => {
            let Some(project) = state.projects.get(&normalize(&name)) else {
                return Prepared::status(StatusCode::NOT_FOUND, "no such project");
            };
            if !slash || name != project.normalized {
                let mut to = format!("/simple/{}/", project.normalized);
                if let Some(q) = &inc.query {
                    to = format!("{to}?{q}");
                }
                return Prepared::redirect(&to);
            }
            let r = repr();
            let body = match r {
                Repr::Json => render::detail_json(project, base),
                _ => render::detail_html(project, base),
            };
            Prepared::page(body, r.content_type(), project.last_serial, true)
        }
        Route::JsonApi(name) => {
            let Some(project) = state.projects.get(&normalize(&name)) else {
                return Prepared::status(StatusCode::NOT_FOUND, "no such project");
            };
            if name != project.normalized {
                return Prepared::redirect(&format!("/pypi/{}/json", project.normalized));
            }
            let body = render::json_api(project, base);
            Prepared::page(body, "application/json", project.last_serial, false)
        }
        Route::XmlRpc => xmlrpc(&state, &inc.body, shared.changelog_cap),
        Route::File(path) => {
            let Some((_, file)) = state.files.get(&path) else {
                return Prepared::status(StatusCode::NOT_FOUND, "no such file");
            };
            let (bytes, etag) = if path.ends_with(".metadata") {
                let m = file.metadata.clone().unwrap_or_default();
                let h = file.metadata_sha256.clone().unwrap_or_default();
                (m, h)
            } else {
                (file.bytes.clone(), file.sha256.clone())
            };
            file_response(bytes, &format!("\"{etag}\""), &inc.headers)
        }
    };
    if p.page
        && let (Some(inm), Some(etag)) = (
            header_str(&inc.headers, header::IF_NONE_MATCH),
            p.headers.get(header::ETAG),
        )
        && inm
            .split(',')
            .any(|t| t.trim().as_bytes() == etag.as_bytes())
    {
        p.status = StatusCode::NOT_MODIFIED;
        p.body = Bytes::new();
    }
    p
}

fn xmlrpc_method(text: &str) -> Option<String> {
    regex::Regex::new(r"<methodName>\s*([\w.]+)\s*</methodName>")
        .ok()
        .and_then(|re| re.captures(text).map(|c| c[1].to_string()))
}

fn xmlrpc(state: &State, body: &[u8], cap: usize) -> Prepared {
    let text = String::from_utf8_lossy(body);
    // The fake only needs the method name and integer arguments of three calls.
    let method = xmlrpc_method(&text).unwrap_or_default();
    let ints: Vec<i64> = regex::Regex::new(r"<(?:int|i4|i8)>\s*(-?\d+)\s*</")
        .map(|re| {
            re.captures_iter(&text)
                .filter_map(|c| c[1].parse().ok())
                .collect()
        })
        .unwrap_or_default();
    let out = match method.as_str() {
        "list_packages_with_serial" => render::xml_packages_with_serial(state),
        "changelog_last_serial" => render::xml_int_response(state.serial),
        "changelog_since_serial" => match ints.first() {
            Some(&since) => {
                let since = since.max(0) as u64;
                let start = state.changelog.partition_point(|e| e.serial <= since);
                let end = (start + cap).min(state.changelog.len());
                render::xml_changelog(&state.changelog[start..end])
            }
            None => render::xml_fault(-32602, "changelog_since_serial needs an int serial"),
        },
        other => render::xml_fault(-32601, &format!("method not found: {other:?}")),
    };
    let mut p = Prepared::status(StatusCode::OK, "");
    p.headers
        .insert(header::CONTENT_TYPE, HeaderValue::from_static("text/xml"));
    p.body = Bytes::from(out);
    p
}

/// Applies body faults and turns the prepared response into a real one.
fn finish(mut p: Prepared, fault: Option<FaultKind>, head: bool) -> Response {
    if p.page {
        match fault {
            Some(FaultKind::StaleSerial) => {
                let stale = p
                    .headers
                    .get("x-pypi-last-serial")
                    .and_then(|v| v.to_str().ok())
                    .and_then(|v| v.parse::<u64>().ok())
                    .map(|s| s.saturating_sub(1))
                    .unwrap_or(0);
                p.headers
                    .insert("x-pypi-last-serial", HeaderValue::from(stale));
            }
            Some(FaultKind::MissingSerial) => {
                p.headers.remove("x-pypi-last-serial");
            }
            _ => {}
        }
    }
    let full_len = p.body.len();
    let body = if head {
        Body::empty()
    } else {
        match fault {
            Some(FaultKind::WrongBytes) => {
                Body::from(p.body.iter().map(|b| b ^ 0x55).collect::<Vec<u8>>())
            }
            Some(FaultKind::Truncate) => partial_body(p.body.slice(..full_len / 2), false),
            Some(FaultKind::ResetMidBody) => partial_body(p.body.slice(..full_len / 2), true),
            _ => Body::from(p.body),
        }
    };
    if p.status != StatusCode::NOT_MODIFIED {
        p.headers
            .insert(header::CONTENT_LENGTH, HeaderValue::from(full_len));
    }
    let mut resp = Response::new(body);
    *resp.status_mut() = p.status;
    *resp.headers_mut() = p.headers;
    resp
}

/// Sends `part`, pauses so the headers and part reach the client, then ends early
/// (the declared Content-Length is not met) or fails, which drops the connection.
fn partial_body(part: Bytes, fail: bool) -> Body {
    let stream = futures::stream::unfold(0u8, move |step| {
        let part = part.clone();
        async move {
            match step {
                0 => Some((Ok(part), 1)),
                1 => {
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    fail.then(|| {
                        (
                            Err(io::Error::new(
                                io::ErrorKind::ConnectionReset,
                                "fake upstream: reset mid-body",
                            )),
                            2,
                        )
                    })
                }
                _ => None,
            }
        }
    });
    Body::from_stream(stream)
}
