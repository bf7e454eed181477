//! The access log and request metrics: one middleware that times the request, bounds
//! the time to produce a response head, and wraps the body so bytes and duration are
//! recorded when the body is finished (or abandoned by the client).

use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Instant;

use axum::body::{Body, Bytes, HttpBody};
use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use http::StatusCode;
use hyper::body::{Frame, SizeHint};

use super::metrics::RouteClass;
use super::routes::AppState;

/// Per-connection facts the server attaches to every request.
#[derive(Debug, Clone, Copy)]
pub struct ConnMeta {
    pub remote: SocketAddr,
    pub tls: bool,
}

pub async fn observe(State(state): State<Arc<AppState>>, req: Request, next: Next) -> Response {
    let start = Instant::now();
    let method = req.method().clone();
    let path = req
        .uri()
        .path_and_query()
        .map(|p| p.as_str().to_string())
        .unwrap_or_default();
    let route = RouteClass::of(req.uri().path());
    let client = req
        .extensions()
        .get::<ConnMeta>()
        .map(|c| c.remote.to_string())
        .unwrap_or_default();
    let user_agent = req
        .headers()
        .get(http::header::USER_AGENT)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_string();
    let version = req.version();

    // The response head must be ready in time; the body is bounded by the connection's
    // idle (minimum-progress) timeout instead, so big downloads are not cut off.
    let resp = match tokio::time::timeout(state.request_timeout, next.run(req)).await {
        Ok(resp) => resp,
        Err(_) => (
            StatusCode::SERVICE_UNAVAILABLE,
            "the request took too long to answer\n",
        )
            .into_response(),
    };
    let status = resp.status().as_u16();
    let record = Record {
        state,
        start,
        route,
        status,
        method: method.to_string(),
        path,
        client,
        user_agent,
        version: format!("{version:?}"),
    };
    resp.map(|inner| {
        Body::new(ObservedBody {
            inner,
            bytes: 0,
            finished: false,
            record: Some(record),
        })
    })
}

struct Record {
    state: Arc<AppState>,
    start: Instant,
    route: RouteClass,
    status: u16,
    method: String,
    path: String,
    client: String,
    user_agent: String,
    version: String,
}

struct ObservedBody {
    inner: Body,
    bytes: u64,
    finished: bool,
    record: Option<Record>,
}

impl HttpBody for ObservedBody {
    type Data = Bytes;
    type Error = axum::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Self::Error>>> {
        let polled = Pin::new(&mut self.inner).poll_frame(cx);
        match &polled {
            Poll::Ready(Some(Ok(frame))) => {
                if let Some(data) = frame.data_ref() {
                    self.bytes += data.len() as u64;
                }
            }
            Poll::Ready(None) => self.finished = true,
            _ => {}
        }
        polled
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

impl Drop for ObservedBody {
    fn drop(&mut self) {
        let Some(r) = self.record.take() else { return };
        let elapsed = r.start.elapsed();
        let complete = self.finished || self.inner.is_end_stream();
        r.state
            .metrics
            .record(r.route, r.status, self.bytes, elapsed);
        tracing::info!(
            target: "vorpal::access",
            client = %r.client,
            method = %r.method,
            path = %r.path,
            version = %r.version,
            status = r.status,
            bytes = self.bytes,
            duration_ms = elapsed.as_secs_f64() * 1000.0,
            complete,
            user_agent = %r.user_agent,
            "{} {} {} {}",
            r.method,
            r.path,
            r.status,
            self.bytes
        );
    }
}
