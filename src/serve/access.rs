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
    // Only cheap clones here (refcounted bytes, Copy types): the strings are formatted
    // in Drop, and only when the access log is enabled.
    let method = req.method().clone();
    let uri = req.uri().clone();
    let route = RouteClass::of(req.uri().path());
    let client = req.extensions().get::<ConnMeta>().map(|c| c.remote);
    let user_agent = req.headers().get(http::header::USER_AGENT).cloned();
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
        method,
        uri,
        client,
        user_agent,
        version,
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
    method: http::Method,
    uri: http::Uri,
    client: Option<SocketAddr>,
    user_agent: Option<http::HeaderValue>,
    version: http::Version,
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
        if !tracing::enabled!(target: "vorpal::access", tracing::Level::INFO) {
            return;
        }
        let path = r.uri.path_and_query().map(|p| p.as_str()).unwrap_or("");
        let client = r.client.map(|c| c.to_string()).unwrap_or_default();
        let user_agent = r
            .user_agent
            .as_ref()
            .and_then(|v| v.to_str().ok())
            .unwrap_or("");
        tracing::info!(
            target: "vorpal::access",
            client = %client,
            method = %r.method,
            path = %path,
            version = ?r.version,
            status = r.status,
            bytes = self.bytes,
            duration_ms = elapsed.as_secs_f64() * 1000.0,
            complete,
            user_agent = %user_agent,
            "{} {} {} {}",
            r.method,
            path,
            r.status,
            self.bytes
        );
    }
}
