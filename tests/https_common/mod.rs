//! A tiny local HTTP(S) server for the https_* tests: counts TCP connections and
//! requests, can drop the first connections unanswered, answers via a closure.
#![allow(dead_code)]

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use hyper_util::rt::{TokioExecutor, TokioIo};
use tokio::net::TcpListener;

/// Request number (0-based) and request head in; response out.
pub type Handler =
    Arc<dyn Fn(usize, &http::request::Parts) -> http::Response<String> + Send + Sync>;

pub struct TestServer {
    pub addr: SocketAddr,
    pub connections: Arc<AtomicUsize>,
    pub requests: Arc<AtomicUsize>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for TestServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl TestServer {
    pub fn connections(&self) -> usize {
        self.connections.load(Ordering::SeqCst)
    }
    pub fn requests(&self) -> usize {
        self.requests.load(Ordering::SeqCst)
    }
    pub fn port(&self) -> u16 {
        self.addr.port()
    }
}

pub fn ok(body: &str) -> Handler {
    let body = body.to_string();
    Arc::new(move |_, _| http::Response::new(body.clone()))
}

/// Serve on `bind` (e.g. "127.0.0.1:0"); TLS when `tls` is given. The first
/// `drop_first` TCP connections are closed at once without a word.
pub async fn start(
    bind: &str,
    tls: Option<Arc<rustls::ServerConfig>>,
    drop_first: usize,
    handler: Handler,
) -> std::io::Result<TestServer> {
    let listener = TcpListener::bind(bind).await?;
    let addr = listener.local_addr()?;
    let connections = Arc::new(AtomicUsize::new(0));
    let requests = Arc::new(AtomicUsize::new(0));
    let (conns, reqs) = (connections.clone(), requests.clone());
    let task = tokio::spawn(async move {
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                return;
            };
            let n = conns.fetch_add(1, Ordering::SeqCst);
            if n < drop_first {
                // An RST rather than a polite FIN, like a crashed backend
                // (linger 0 does not block on drop).
                #[allow(deprecated)]
                let _ = stream.set_linger(Some(std::time::Duration::ZERO));
                drop(stream);
                continue;
            }
            let (tls, reqs, handler) = (tls.clone(), reqs.clone(), handler.clone());
            tokio::spawn(async move {
                let svc =
                    hyper::service::service_fn(move |req: http::Request<hyper::body::Incoming>| {
                        let n = reqs.fetch_add(1, Ordering::SeqCst);
                        let (parts, _) = req.into_parts();
                        let resp = handler(n, &parts);
                        async move { Ok::<_, Infallible>(resp) }
                    });
                let builder = hyper_util::server::conn::auto::Builder::new(TokioExecutor::new());
                match tls {
                    Some(cfg) => {
                        let Ok(s) = tokio_rustls::TlsAcceptor::from(cfg).accept(stream).await
                        else {
                            return;
                        };
                        let _ = builder.serve_connection(TokioIo::new(s), svc).await;
                    }
                    None => {
                        let _ = builder.serve_connection(TokioIo::new(stream), svc).await;
                    }
                }
            });
        }
    });
    Ok(TestServer {
        addr,
        connections,
        requests,
        task,
    })
}

/// An environment with nothing in it but these pairs (no SSL_CERT_*, no proxies).
pub fn env(pairs: &[(&str, &str)]) -> vorpal::environment::Environment {
    vorpal::environment::Environment::from_pairs(pairs.iter().map(|(k, v)| (*k, *v)), false)
}

/// A builder isolated from the machine: empty environment, no system file, fast retries.
pub fn builder() -> vorpal::https::ClientBuilder {
    vorpal::https::ClientBuilder::new()
        .environment(env(&[]))
        .system_config("/nonexistent/vorpal-test/cert-verification.cfg")
        .retry(vorpal::https::RetryPolicy {
            attempts: 4,
            base: std::time::Duration::from_millis(10),
            max: std::time::Duration::from_millis(50),
        })
}
