//! Listeners, TLS handshakes and HTTP/1.1 + HTTP/2 connections, with the timeouts a
//! slow client cannot abuse and a graceful shutdown (stop accepting, finish in-flight).

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use hyper::body::Incoming;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{mpsc, watch};
use tokio_rustls::TlsAcceptor;
use tower::ServiceExt;

use super::access::ConnMeta;
use super::io::IdleTimeout;
use super::routes::AppState;

/// What every connection task needs.
#[derive(Clone)]
pub struct ConnContext {
    pub router: Router,
    pub tls: Option<TlsAcceptor>,
    pub state: Arc<AppState>,
    pub header_read_timeout: Duration,
    pub idle_timeout: Duration,
}

/// Resolves once shutdown is signalled (or the sender is gone). The watch guard is
/// dropped inside, so the future stays `Send`.
pub async fn stopped(rx: &mut watch::Receiver<bool>) {
    let _ = rx.wait_for(|stop| *stop).await.map(|_| ());
}

/// Accept until shutdown. Every connection task holds a clone of `drain`, so the
/// owner of the receiver learns when the last one has finished.
pub async fn accept_loop(
    listener: TcpListener,
    ctx: ConnContext,
    mut shutdown: watch::Receiver<bool>,
    drain: mpsc::Sender<()>,
) {
    loop {
        let (tcp, remote) = tokio::select! {
            biased;
            _ = super::server::stopped(&mut shutdown) => break,
            accepted = listener.accept() => match accepted {
                Ok(a) => a,
                Err(e) => {
                    // Typically EMFILE: back off instead of spinning.
                    tracing::warn!("accept failed: {e}");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    continue;
                }
            },
        };
        let _ = tcp.set_nodelay(true);
        let ctx = ctx.clone();
        let shutdown = shutdown.clone();
        let drain = drain.clone();
        tokio::spawn(async move {
            handle(tcp, remote, ctx, shutdown).await;
            drop(drain);
        });
    }
}

async fn handle(
    tcp: TcpStream,
    remote: SocketAddr,
    ctx: ConnContext,
    shutdown: watch::Receiver<bool>,
) {
    let state = ctx.state.clone();
    state.metrics.connection_opened();
    match &ctx.tls {
        Some(acceptor) => {
            // The handshake gets the header timeout too: a stalled ClientHello is a slow client.
            match tokio::time::timeout(ctx.header_read_timeout, acceptor.accept(tcp)).await {
                Ok(Ok(stream)) => serve_io(stream, remote, true, &ctx, shutdown).await,
                Ok(Err(e)) => tracing::debug!("TLS handshake with {remote} failed: {e}"),
                Err(_) => tracing::debug!("TLS handshake with {remote} timed out"),
            }
        }
        None => serve_io(tcp, remote, false, &ctx, shutdown).await,
    }
    state.metrics.connection_closed();
}

async fn serve_io<I>(
    io: I,
    remote: SocketAddr,
    tls: bool,
    ctx: &ConnContext,
    mut shutdown: watch::Receiver<bool>,
) where
    I: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let io = TokioIo::new(IdleTimeout::new(io, ctx.idle_timeout));
    let meta = ConnMeta { remote, tls };
    let router = ctx.router.clone();
    let service = hyper::service::service_fn(move |mut req: http::Request<Incoming>| {
        req.extensions_mut().insert(meta);
        router.clone().oneshot(req)
    });
    let mut builder = auto::Builder::new(TokioExecutor::new());
    builder
        .http1()
        .timer(TokioTimer::new())
        .header_read_timeout(ctx.header_read_timeout)
        .keep_alive(true);
    builder
        .http2()
        .timer(TokioTimer::new())
        .max_concurrent_streams(128);
    let conn = builder.serve_connection(io, service);
    tokio::pin!(conn);
    let result = tokio::select! {
        r = conn.as_mut() => r,
        _ = super::server::stopped(&mut shutdown) => {
            conn.as_mut().graceful_shutdown();
            conn.await
        }
    };
    if let Err(e) = result {
        tracing::debug!("connection from {remote} ended: {e}");
    }
}
