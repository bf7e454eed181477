//! `vorpal serve`: serve the mirror directory over HTTPS (HTTP/1.1 and HTTP/2).

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use clap::Args;

use super::Context;
use crate::exit::CommandError;
use crate::serve::{self, JournalXmlRpc, ServeError, ServeOptions, TlsPaths};

/// The listen address when neither --listen nor [serve] listen says otherwise.
pub const DEFAULT_LISTEN: &str = "127.0.0.1:8443";

#[derive(Debug, Args)]
pub struct ServeArgs {
    /// Address to listen on, e.g. 0.0.0.0:443 or [::]:443; repeatable.
    /// Default: [serve] listen, else 127.0.0.1:8443.
    #[arg(long, value_name = "ADDR")]
    pub listen: Vec<SocketAddr>,

    /// PEM certificate chain, leaf first (default: [serve] tls-cert). Reloaded on
    /// SIGHUP and when the file changes.
    #[arg(long, value_name = "PEM")]
    pub tls_cert: Option<PathBuf>,

    /// PEM private key matching --tls-cert (default: [serve] tls-key).
    #[arg(long, value_name = "PEM")]
    pub tls_key: Option<PathBuf>,

    /// Mirror directory to serve (default: [mirror] directory).
    #[arg(long, value_name = "DIR")]
    pub directory: Option<PathBuf>,

    /// Public base URL of this mirror, used for file URLs in the JSON API
    /// (default: [serve] public-url, else the request's scheme and Host).
    #[arg(long, value_name = "URL")]
    pub public_url: Option<String>,

    /// Allow plain HTTP on non-loopback addresses (only behind a TLS-terminating proxy).
    #[arg(long)]
    pub insecure_plain_http: bool,

    /// Answer 406 to simple-API requests that accept none of its types (PyPI falls back to HTML).
    #[arg(long)]
    pub not_acceptable_406: bool,

    /// Do not answer XML-RPC (POST /pypi, /RPC2). By default the mirror answers
    /// list_packages_with_serial and the changelog calls from its state journal, so
    /// downstream mirrors can follow it with api-method = xmlrpc.
    #[arg(long)]
    pub no_xmlrpc: bool,

    /// Seconds allowed for the TLS handshake and each request head.
    #[arg(long, value_name = "SECS", default_value_t = 10.0)]
    pub header_timeout: f64,

    /// Seconds a connection may move no bytes before it is closed (idle keep-alive,
    /// stalled downloads).
    #[arg(long, value_name = "SECS", default_value_t = 60.0)]
    pub idle_timeout: f64,

    /// Seconds allowed to produce a response head.
    #[arg(long, value_name = "SECS", default_value_t = 30.0)]
    pub request_timeout: f64,
}

fn seconds(flag: &str, value: f64) -> Result<Duration, CommandError> {
    Duration::try_from_secs_f64(value)
        .ok()
        .filter(|d| !d.is_zero())
        .ok_or_else(|| {
            CommandError::Usage(format!(
                "--{flag} must be a positive number of seconds, got {value}"
            ))
        })
}

/// Combine flags and the config file into server options.
pub fn options(ctx: &Context, args: &ServeArgs) -> Result<ServeOptions, CommandError> {
    let cfg = &ctx.config;
    let directory = args
        .directory
        .clone()
        .unwrap_or_else(|| cfg.mirror.directory.clone());
    let mut opts = ServeOptions::new(directory.clone());
    if !args.no_xmlrpc {
        opts.xmlrpc = Some(Arc::new(JournalXmlRpc::new(directory)));
    }
    opts.listen = if !args.listen.is_empty() {
        args.listen.clone()
    } else if !cfg.serve.listen.is_empty() {
        cfg.serve
            .listen
            .iter()
            .map(|a| {
                a.parse::<SocketAddr>().map_err(|_| {
                    CommandError::Usage(format!(
                        "[serve] listen: {a:?} is not an address with a port, e.g. \"0.0.0.0:443\" or \"[::]:443\""
                    ))
                })
            })
            .collect::<Result<_, _>>()?
    } else {
        vec![
            DEFAULT_LISTEN
                .parse()
                .map_err(|_| CommandError::Usage("bad default listen address".into()))?,
        ]
    };
    let cert = args.tls_cert.clone().or_else(|| cfg.serve.tls_cert.clone());
    let key = args.tls_key.clone().or_else(|| cfg.serve.tls_key.clone());
    opts.tls = match (cert, key) {
        (Some(cert), Some(key)) => Some(TlsPaths { cert, key }),
        (None, None) => None,
        (Some(_), None) => {
            return Err(CommandError::Usage(
                "a TLS certificate was given without its key: add --tls-key (or [serve] tls-key)"
                    .into(),
            ));
        }
        (None, Some(_)) => {
            return Err(CommandError::Usage(
                "a TLS key was given without its certificate: add --tls-cert (or [serve] tls-cert)"
                    .into(),
            ));
        }
    };
    opts.public_url = args
        .public_url
        .clone()
        .or_else(|| cfg.serve.public_url.clone());
    opts.insecure_plain_http = args.insecure_plain_http;
    opts.not_acceptable_406 = args.not_acceptable_406;
    opts.header_read_timeout = seconds("header-timeout", args.header_timeout)?;
    opts.idle_timeout = seconds("idle-timeout", args.idle_timeout)?;
    opts.request_timeout = seconds("request-timeout", args.request_timeout)?;
    Ok(opts)
}

/// Resolves on SIGTERM or SIGINT.
async fn termination() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = term.recv() => {}
                    _ = tokio::signal::ctrl_c() => {}
                }
            }
            Err(_) => {
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}

pub fn run(ctx: &Context, args: ServeArgs) -> anyhow::Result<ExitCode> {
    let opts = options(ctx, &args)?;
    let rt = super::runtime()?;
    rt.block_on(serve::serve(opts, termination()))
        .map_err(|e: ServeError| match e.is_usage() {
            true => CommandError::Usage(e.to_string()),
            false => CommandError::Failed(e.to_string()),
        })?;
    Ok(ExitCode::SUCCESS)
}
