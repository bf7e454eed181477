//! Operational endpoints: `/health`, `/metrics`, `/last-modified`, and the XML-RPC
//! extension point (`POST /pypi`, `POST /RPC2`).

use std::path::Path;
use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use http::{HeaderMap, StatusCode, header};

use super::metrics::MirrorGauges;
use super::pages::Kind;
use super::routes::{AppState, text};

/// The synced serial from bandersnatch's `status` file (a state file: read, never served).
pub async fn status_serial(directory: &Path) -> Option<i64> {
    let raw = tokio::fs::read_to_string(directory.join("status"))
        .await
        .ok()?;
    raw.trim().parse().ok()
}

/// Mirror serial: the root JSON index's `meta._last-serial`, else the status file.
pub async fn mirror_serial(state: &AppState) -> Option<i64> {
    let root = Path::new("simple/index.v1_json");
    match state.pages.serial_of(&state.root, root, Kind::Json).await {
        Some(s) => Some(s),
        None => status_serial(&state.directory).await,
    }
}

/// `web/last-modified` as written by sync: `%Y%m%dT%H:%M:%S`, UTC.
async fn last_modified_text(state: &AppState) -> Option<String> {
    let raw = tokio::fs::read_to_string(state.web.join("last-modified"))
        .await
        .ok()?;
    Some(raw.trim().to_string())
}

fn parse_last_modified(value: &str) -> Option<i64> {
    chrono::NaiveDateTime::parse_from_str(value, "%Y%m%dT%H:%M:%S")
        .ok()
        .map(|t| t.and_utc().timestamp())
}

pub async fn health(State(state): State<Arc<AppState>>, headers: HeaderMap) -> Response {
    let wants_json = headers
        .get_all(header::ACCEPT)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .any(|v| v.contains("application/json"));
    if !wants_json {
        return text(StatusCode::OK, "ok\n");
    }
    let body = serde_json::json!({
        "status": "ok",
        "serial": mirror_serial(&state).await,
        "last_modified": last_modified_text(&state).await,
    });
    ([(header::CACHE_CONTROL, "no-store")], axum::Json(body)).into_response()
}

pub async fn metrics(State(state): State<Arc<AppState>>) -> Response {
    let gauges = MirrorGauges {
        serial: mirror_serial(&state).await,
        last_sync_unix: last_modified_text(&state)
            .await
            .as_deref()
            .and_then(parse_last_modified),
    };
    (
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        state.metrics.render(&gauges),
    )
        .into_response()
}

pub async fn last_modified(State(state): State<Arc<AppState>>) -> Response {
    match tokio::fs::read(state.web.join("last-modified")).await {
        Ok(bytes) => (
            [
                (header::CONTENT_TYPE, "text/plain; charset=utf-8"),
                (header::CACHE_CONTROL, "max-age=60, public"),
            ],
            bytes,
        )
            .into_response(),
        Err(_) => text(
            StatusCode::NOT_FOUND,
            "no last-modified yet: the mirror has not finished a sync\n",
        ),
    }
}

pub async fn xmlrpc(State(state): State<Arc<AppState>>, body: Bytes) -> Response {
    let Some(handler) = state.xmlrpc.clone() else {
        return text(
            StatusCode::NOT_IMPLEMENTED,
            "XML-RPC is not available on this mirror; use the simple API (/simple/) \
             or the JSON API (/pypi/<project>/json)\n",
        );
    };
    match handler.handle(body).await {
        Ok(xml) => ([(header::CONTENT_TYPE, "text/xml; charset=utf-8")], xml).into_response(),
        Err(msg) => text(
            StatusCode::INTERNAL_SERVER_ERROR,
            format!("XML-RPC error: {msg}\n"),
        ),
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn last_modified_format() {
        assert_eq!(
            super::parse_last_modified("20240102T03:04:05"),
            Some(1_704_164_645)
        );
        assert_eq!(super::parse_last_modified("yesterday"), None);
    }
}
