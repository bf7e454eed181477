//! The HTTP(S) server: serves a mirror tree (`<directory>/web`, as sync and
//! bandersnatch write it) to pip, uv and downstream mirrors over HTTP/1.1 and HTTP/2,
//! with TLS from the operator's certificate (reloaded without a restart).
//!
//! In-process use (tests bind port 0):
//! ```no_run
//! # async fn demo() -> Result<(), vorpal::serve::ServeError> {
//! use vorpal::serve::{ServeOptions, bind};
//! let mut opts = ServeOptions::new("/srv/pypi");
//! opts.listen = vec!["127.0.0.1:0".parse().unwrap()];
//! let server = bind(opts).await?;
//! println!("{:?}", server.local_addrs());
//! server.shutdown().await;
//! # Ok(()) }
//! ```

mod access;
mod file_cache;
mod files;
mod io;
mod jsonapi;
mod metrics;
pub mod negotiate;
mod ops;
mod pages;
mod paths;
mod routes;
mod server;
mod tls;
pub mod xmlrpc;

use std::fmt;
use std::future::Future;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use futures::future::BoxFuture;
use tokio::net::TcpListener;
use tokio::sync::{mpsc, watch};
use tokio::task::JoinHandle;

pub use tls::TlsPaths;
pub use xmlrpc::JournalXmlRpc;

/// Answers XML-RPC calls (`POST /pypi`, `POST /RPC2`); the body is the raw request XML,
/// the `Ok` value the response XML. Without a handler those endpoints answer 501.
pub trait XmlRpcHandler: Send + Sync {
    fn handle(&self, body: Bytes) -> BoxFuture<'static, Result<String, String>>;
}

/// Everything `serve`/`bind` need. Build with [`ServeOptions::new`] and adjust fields.
#[derive(Clone)]
pub struct ServeOptions {
    /// Mirror root; `web/` below it is served, nothing else.
    pub directory: PathBuf,
    /// Addresses to listen on (port 0 picks a free port).
    pub listen: Vec<SocketAddr>,
    /// Certificate and key; `None` serves plain HTTP (loopback only unless
    /// `insecure_plain_http`).
    pub tls: Option<TlsPaths>,
    /// Allow plain HTTP on non-loopback addresses (logged as a warning).
    pub insecure_plain_http: bool,
    /// Base of rewritten file URLs in the JSON API (`https://host[:port][/prefix]`);
    /// default: the request's scheme and Host.
    pub public_url: Option<String>,
    /// Answer 406 when the client accepts no simple-API type (PyPI falls back to text/html).
    pub not_acceptable_406: bool,
    /// XML-RPC extension point.
    pub xmlrpc: Option<Arc<dyn XmlRpcHandler>>,
    /// Time allowed for the TLS handshake and for each HTTP/1 request head.
    pub header_read_timeout: Duration,
    /// A connection on which no byte moves either way for this long is closed
    /// (idle keep-alive, and clients that stop reading a download).
    pub idle_timeout: Duration,
    /// Time allowed to produce a response head (pages are answered in full within it;
    /// file bodies are bounded by `idle_timeout` instead).
    pub request_timeout: Duration,
    /// On shutdown, how long in-flight requests may take before the server stops anyway.
    pub shutdown_grace: Duration,
    /// How often the certificate files are checked for changes; `None`: never.
    pub cert_poll_interval: Option<Duration>,
    /// Reload the certificate on SIGHUP.
    pub reload_on_sighup: bool,
    /// Memory for cached pages, bytes.
    pub page_cache_bytes: usize,
    /// Memory for cached small files (up to 64 KiB each), bytes.
    pub file_cache_bytes: usize,
}

impl ServeOptions {
    pub fn new(directory: impl Into<PathBuf>) -> ServeOptions {
        ServeOptions {
            directory: directory.into(),
            listen: vec![SocketAddr::from(([127, 0, 0, 1], 8443))],
            tls: None,
            insecure_plain_http: false,
            public_url: None,
            not_acceptable_406: false,
            xmlrpc: None,
            header_read_timeout: Duration::from_secs(10),
            idle_timeout: Duration::from_secs(60),
            request_timeout: Duration::from_secs(30),
            shutdown_grace: Duration::from_secs(30),
            cert_poll_interval: Some(Duration::from_secs(5)),
            reload_on_sighup: true,
            page_cache_bytes: 256 * 1024 * 1024,
            file_cache_bytes: 16 * 1024 * 1024,
        }
    }
}

impl fmt::Debug for ServeOptions {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ServeOptions")
            .field("directory", &self.directory)
            .field("listen", &self.listen)
            .field("tls", &self.tls)
            .field("insecure_plain_http", &self.insecure_plain_http)
            .field("public_url", &self.public_url)
            .field("not_acceptable_406", &self.not_acceptable_406)
            .field("xmlrpc", &self.xmlrpc.is_some())
            .field("header_read_timeout", &self.header_read_timeout)
            .field("idle_timeout", &self.idle_timeout)
            .field("request_timeout", &self.request_timeout)
            .finish_non_exhaustive()
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    /// Unusable options (exit 2): the message says what to change.
    #[error("{0}")]
    Config(String),
    /// Certificate or key missing, unreadable or mismatched (exit 2).
    #[error("{0}")]
    Tls(String),
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        addr: SocketAddr,
        source: std::io::Error,
    },
}

impl ServeError {
    /// True when the operator's configuration is at fault (exit code 2).
    pub fn is_usage(&self) -> bool {
        matches!(self, ServeError::Config(_) | ServeError::Tls(_))
    }
}

/// A server that is accepting connections.
pub struct RunningServer {
    addrs: Vec<SocketAddr>,
    stop: watch::Sender<bool>,
    drained: mpsc::Receiver<()>,
    tasks: Vec<JoinHandle<()>>,
    certs: Option<Arc<tls::CertStore>>,
    grace: Duration,
}

impl RunningServer {
    /// The bound addresses, in the order of `ServeOptions::listen`.
    pub fn local_addrs(&self) -> Vec<SocketAddr> {
        self.addrs.clone()
    }

    /// Re-read the certificate files now (as SIGHUP does). On error the current
    /// certificate keeps serving and the error says why.
    pub fn reload_tls(&self) -> Result<(), ServeError> {
        match &self.certs {
            Some(c) => c.reload().map_err(ServeError::Tls),
            None => Err(ServeError::Config("this server does not use TLS".into())),
        }
    }

    /// Stop accepting, let in-flight requests finish (up to the grace period), return.
    pub async fn shutdown(mut self) {
        let _ = self.stop.send(true);
        for t in self.tasks.drain(..) {
            let _ = t.await;
        }
        if tokio::time::timeout(self.grace, self.drained.recv())
            .await
            .is_err()
        {
            tracing::warn!(
                "shutdown: connections still busy after {:?}; closing them",
                self.grace
            );
        }
    }
}

fn check_public_url(url: &str) -> Result<String, ServeError> {
    let parsed = url::Url::parse(url).map_err(|e| {
        ServeError::Config(format!(
            "public URL {url:?} is not a URL ({e}); give e.g. https://pypi.example.internal"
        ))
    })?;
    if !matches!(parsed.scheme(), "http" | "https") || parsed.host_str().is_none() {
        return Err(ServeError::Config(format!(
            "public URL {url:?} must be http(s)://host[:port][/prefix]"
        )));
    }
    Ok(url.trim_end_matches('/').to_string())
}

/// Check the options, load the certificate, bind every address and start serving.
pub async fn bind(opts: ServeOptions) -> Result<RunningServer, ServeError> {
    if opts.listen.is_empty() {
        return Err(ServeError::Config(
            "no listen address: pass --listen ADDR or set [serve] listen".into(),
        ));
    }
    let web_dir = opts.directory.join("web");
    let web = std::fs::canonicalize(&web_dir).map_err(|e| {
        ServeError::Config(format!(
            "cannot serve {}: {e}; point --directory (or [mirror] directory) at a mirror \
             that has been synced at least once",
            web_dir.display()
        ))
    })?;
    if opts.tls.is_none() {
        for addr in &opts.listen {
            if addr.ip().is_loopback() {
                continue;
            }
            if !opts.insecure_plain_http {
                return Err(ServeError::Config(format!(
                    "refusing to serve plain HTTP on {addr}: clients could be sent rewritten \
                     pages. Give --tls-cert and --tls-key, listen on a loopback address, or \
                     pass --insecure-plain-http (e.g. behind a TLS-terminating proxy)"
                )));
            }
            tracing::warn!(
                "serving plain HTTP on {addr} (--insecure-plain-http): traffic can be read and altered"
            );
        }
    }
    let public_url = opts
        .public_url
        .as_deref()
        .map(check_public_url)
        .transpose()?;
    let certs = match &opts.tls {
        Some(paths) => Some(Arc::new(
            tls::CertStore::load(paths.clone()).map_err(ServeError::Tls)?,
        )),
        None => None,
    };
    let acceptor = match &certs {
        Some(c) => Some(tokio_rustls::TlsAcceptor::from(
            c.server_config().map_err(ServeError::Tls)?,
        )),
        None => None,
    };

    let mut listeners = Vec::new();
    for addr in &opts.listen {
        let l = TcpListener::bind(addr)
            .await
            .map_err(|source| ServeError::Bind {
                addr: *addr,
                source,
            })?;
        let local = l.local_addr().map_err(|source| ServeError::Bind {
            addr: *addr,
            source,
        })?;
        listeners.push((l, local));
    }

    let root = paths::WebRoot::open(web.clone()).map_err(|e| {
        ServeError::Config(format!(
            "cannot open {}: {e}; check its permissions",
            web.display()
        ))
    })?;
    let state = Arc::new(routes::AppState {
        directory: opts.directory.clone(),
        root,
        web,
        public_url,
        not_acceptable_406: opts.not_acceptable_406,
        xmlrpc: opts.xmlrpc.clone(),
        request_timeout: opts.request_timeout,
        pages: pages::PageCache::new(opts.page_cache_bytes),
        files: file_cache::FileCache::new(opts.file_cache_bytes),
        metrics: metrics::Metrics::default(),
    });
    let ctx = server::ConnContext {
        router: routes::router(state.clone()),
        tls: acceptor,
        state,
        header_read_timeout: opts.header_read_timeout,
        idle_timeout: opts.idle_timeout,
    };
    let (stop, stop_rx) = watch::channel(false);
    let (drain_tx, drained) = mpsc::channel(1);
    let mut tasks = Vec::new();
    let mut addrs = Vec::new();
    for (listener, local) in listeners {
        let scheme = if ctx.tls.is_some() { "https" } else { "http" };
        tracing::info!(
            "serving {} on {scheme}://{local}/",
            opts.directory.display()
        );
        addrs.push(local);
        tasks.push(tokio::spawn(server::accept_loop(
            listener,
            ctx.clone(),
            stop_rx.clone(),
            drain_tx.clone(),
        )));
    }
    drop(drain_tx);
    if let Some(store) = &certs {
        #[cfg(unix)]
        let hup = if opts.reload_on_sighup {
            tls::sighup()
        } else {
            None
        };
        #[cfg(not(unix))]
        let hup = None;
        tasks.push(tokio::spawn(tls::watch_certificates(
            store.clone(),
            opts.cert_poll_interval,
            hup,
            stop_rx,
        )));
    }
    Ok(RunningServer {
        addrs,
        stop,
        drained,
        tasks,
        certs,
        grace: opts.shutdown_grace,
    })
}

/// Serve until `shutdown` completes, then stop gracefully.
pub async fn serve(
    opts: ServeOptions,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), ServeError> {
    let server = bind(opts).await?;
    shutdown.await;
    tracing::info!("shutting down: no new connections; finishing requests in flight");
    server.shutdown().await;
    Ok(())
}
