//! The one HTTP client: per-hop verification choice, redirects, retries.

use std::path::PathBuf;
use std::sync::{Arc, Once};
use std::time::Duration;

use bytes::Bytes;
use reqwest::header::{HeaderName, HeaderValue, LOCATION, RETRY_AFTER};
use reqwest::{Method, StatusCode};
use url::Url;

use super::error::{FetchError, HttpsError, chain_text, classify};
use super::guard;
use super::hosts::{InsecureHosts, host_port};
use super::policy::{self, Decision, RuntimeSwitch};
use super::proxy::{self, Proxies};
use super::retry::RetryPolicy;
use super::roots::{self, RootSource};
use super::settings::HttpsSettings;
use super::tls::{self, ClientIdentity};
use crate::environment::Environment;

/// Hops followed before giving up.
pub const MAX_REDIRECTS: usize = 10;

static VERIFY_OFF_WARNING: Once = Once::new();
static INSECURE_HOSTS_WARNING: Once = Once::new();

#[derive(Debug)]
pub(crate) struct Inner {
    pub(crate) verifying: Option<(reqwest::Client, Arc<rustls::ClientConfig>)>,
    pub(crate) insecure: Option<(reqwest::Client, Arc<rustls::ClientConfig>)>,
    pub(crate) decision: Decision,
    pub(crate) insecure_hosts: InsecureHosts,
    pub(crate) insecure_host_entries: Vec<String>,
    pub(crate) retry: RetryPolicy,
    pub(crate) roots: Vec<RootSource>,
    pub(crate) proxies: Proxies,
    pub(crate) client_cert: Option<PathBuf>,
    pub(crate) connect_timeout: Duration,
}

/// The HTTP client every outgoing request goes through. Cheap to clone.
#[derive(Debug, Clone)]
pub struct HttpClient {
    pub(crate) inner: Arc<Inner>,
}

fn build_reqwest(
    tls: rustls::ClientConfig,
    proxies: &Proxies,
    s: &HttpsSettings,
) -> Result<reqwest::Client, HttpsError> {
    let mut b = reqwest::Client::builder()
        .use_preconfigured_tls(tls)
        .no_proxy()
        .redirect(reqwest::redirect::Policy::none())
        .user_agent(crate::USER_AGENT)
        .connect_timeout(s.connect_timeout)
        .read_timeout(s.read_timeout)
        .timeout(s.total_timeout)
        .tls_info(true);
    for p in &proxies.list {
        b = b.proxy(p.clone());
    }
    b.build().map_err(|e| HttpsError::Client(chain_text(&e)))
}

impl HttpClient {
    /// Build the client for resolved settings; `env` supplies SSL_CERT_FILE,
    /// SSL_CERT_DIR and the proxy variables (never the live environment).
    pub fn new(settings: &HttpsSettings, env: &Environment) -> Result<HttpClient, HttpsError> {
        let insecure_hosts = InsecureHosts::parse(&settings.insecure_hosts)?;
        let roots = roots::load(env, &settings.extra_ca)?;
        let identity: Option<ClientIdentity> = settings
            .client_cert
            .as_deref()
            .map(tls::read_client_identity)
            .transpose()?;
        let proxies = proxy::from_settings(settings.proxy.as_deref(), env)?;
        let verify = settings.decision.verify;

        let verifying = if verify {
            let cfg = tls::client_config(Some(roots.store.clone()), identity.as_ref())?;
            Some((
                build_reqwest(cfg.clone(), &proxies, settings)?,
                Arc::new(cfg),
            ))
        } else {
            None
        };
        let insecure = if !verify || !insecure_hosts.is_empty() {
            let cfg = tls::client_config(None, identity.as_ref())?;
            Some((
                build_reqwest(cfg.clone(), &proxies, settings)?,
                Arc::new(cfg),
            ))
        } else {
            None
        };

        for w in &settings.decision.warnings {
            tracing::warn!("{w}");
        }
        if !verify {
            VERIFY_OFF_WARNING.call_once(|| {
                tracing::warn!(
                    "CERTIFICATE VERIFICATION IS OFF for all hosts, set by {}: anyone on the \
                     network path can impersonate the upstream and rewrite packages",
                    settings.decision.source
                );
            });
        } else if !insecure_hosts.is_empty() {
            INSECURE_HOSTS_WARNING.call_once(|| {
                tracing::warn!(
                    "certificate verification is off for these hosts ([https] insecure-hosts): {}",
                    settings.insecure_hosts.join(", ")
                );
            });
        }

        Ok(HttpClient {
            inner: Arc::new(Inner {
                verifying,
                insecure,
                decision: settings.decision.clone(),
                insecure_hosts,
                insecure_host_entries: settings.insecure_hosts.clone(),
                retry: settings.retry.clone(),
                roots: roots.sources,
                proxies,
                client_cert: settings.client_cert.clone(),
                connect_timeout: settings.connect_timeout,
            }),
        })
    }

    pub fn retry_policy(&self) -> &RetryPolicy {
        &self.inner.retry
    }

    /// The verification decision and where it came from.
    pub fn decision(&self) -> &Decision {
        &self.inner.decision
    }

    /// The trust roots in use, by source.
    pub fn roots(&self) -> &[RootSource] {
        &self.inner.roots
    }

    pub fn insecure_hosts(&self) -> &[String] {
        &self.inner.insecure_host_entries
    }

    pub fn client_cert(&self) -> Option<&std::path::Path> {
        self.inner.client_cert.as_deref()
    }

    /// `(source, proxy URL)` for each proxy in use, and the `no_proxy` list.
    pub fn proxies(&self) -> (&[(String, String)], Option<&str>) {
        (
            &self.inner.proxies.described,
            self.inner.proxies.no_proxy.as_deref(),
        )
    }

    /// Whether a request to `url` verifies the server's certificate. An
    /// unparsable URL answers `true` (nothing is sent to it anyway).
    pub fn verifies(&self, url: &str) -> bool {
        match Url::parse(url) {
            Ok(u) => self.verifies_url(&u),
            Err(_) => true,
        }
    }

    pub(crate) fn verifies_url(&self, url: &Url) -> bool {
        self.inner.decision.verify && !self.inner.insecure_hosts.contains(url)
    }

    pub(crate) fn pick(&self, url: &Url) -> &(reqwest::Client, Arc<rustls::ClientConfig>) {
        let choice = if self.verifies_url(url) {
            self.inner.verifying.as_ref()
        } else {
            self.inner.insecure.as_ref()
        };
        // Both exist whenever either could be chosen (see `new`).
        choice
            .or(self.inner.verifying.as_ref())
            .or(self.inner.insecure.as_ref())
            .expect("HttpClient always holds at least one inner client")
    }

    /// GET `url`, following redirects (each hop under its own host's policy) and
    /// retrying transient failures. Any final status except 5xx/429 is `Ok`.
    pub async fn get(
        &self,
        url: &str,
        headers: &[(&str, &str)],
    ) -> Result<reqwest::Response, FetchError> {
        self.send(Method::GET, url, headers, None).await
    }

    /// POST `body` (an idempotent read call, e.g. XML-RPC), with GET's rules. A
    /// 301/302/307/308 repeats the POST at the new place (XML-RPC breaks if it
    /// turns into a GET); a 303 turns it into a GET.
    pub async fn post(
        &self,
        url: &str,
        content_type: &str,
        body: Bytes,
    ) -> Result<reqwest::Response, FetchError> {
        self.send(
            Method::POST,
            url,
            &[("content-type", content_type)],
            Some(body),
        )
        .await
    }

    async fn send(
        &self,
        mut method: Method,
        url: &str,
        headers: &[(&str, &str)],
        mut body: Option<Bytes>,
    ) -> Result<reqwest::Response, FetchError> {
        let mut current = parse_url(url)?;
        let first_origin = current.origin();
        for _hop in 0..=MAX_REDIRECTS {
            check_url(&current)?;
            // Credentials never follow a redirect to another origin.
            let same_origin = current.origin() == first_origin;
            let hop_headers: Vec<(&str, &str)> = headers
                .iter()
                .filter(|(k, _)| {
                    same_origin
                        || !matches!(
                            k.to_ascii_lowercase().as_str(),
                            "authorization" | "cookie" | "proxy-authorization"
                        )
                })
                .copied()
                .collect();
            let resp = self
                .send_with_retries(&method, &current, &hop_headers, body.as_ref())
                .await?;
            let status = resp.status();
            let location = resp
                .headers()
                .get(LOCATION)
                .and_then(|v| v.to_str().ok())
                .map(str::to_string);
            let redirect = matches!(status.as_u16(), 301 | 302 | 303 | 307 | 308);
            let Some(location) = location.filter(|_| redirect) else {
                return Ok(resp);
            };
            let next = current.join(&location).map_err(|e| FetchError::Other {
                url: current.to_string(),
                detail: format!("redirect to unparsable Location {location:?}: {e}"),
            })?;
            if current.scheme() == "https" && next.scheme() != "https" {
                return Err(FetchError::Refused {
                    url: current.to_string(),
                    reason: format!("redirect from https to insecure {next}"),
                });
            }
            if status == StatusCode::SEE_OTHER {
                method = Method::GET;
                body = None;
            }
            tracing::debug!("{current} redirects ({status}) to {next}");
            current = next;
        }
        Err(FetchError::TooManyRedirects {
            url: url.to_string(),
        })
    }

    async fn send_with_retries(
        &self,
        method: &Method,
        url: &Url,
        headers: &[(&str, &str)],
        body: Option<&Bytes>,
    ) -> Result<reqwest::Response, FetchError> {
        let retry = &self.inner.retry;
        let attempts = retry.attempts.max(1);
        let host = url.host_str().unwrap_or_default().to_string();
        let (client, _) = self.pick(url);
        let mut attempt = 1;
        loop {
            let mut rb = client.request(method.clone(), url.clone());
            for (k, v) in headers {
                let name = HeaderName::from_bytes(k.as_bytes());
                let value = HeaderValue::from_str(v);
                match (name, value) {
                    (Ok(n), Ok(v)) => rb = rb.header(n, v),
                    _ => {
                        return Err(FetchError::Other {
                            url: url.to_string(),
                            detail: format!("invalid request header {k:?}"),
                        });
                    }
                }
            }
            if let Some(b) = body {
                rb = rb.body(b.clone());
            }
            let wait = match rb.send().await {
                Ok(resp) => {
                    let status = resp.status();
                    if !(status.is_server_error() || status == StatusCode::TOO_MANY_REQUESTS) {
                        return Ok(resp);
                    }
                    if attempt >= attempts {
                        return Err(FetchError::Status {
                            url: url.to_string(),
                            status: status.as_u16(),
                        });
                    }
                    let asked = resp
                        .headers()
                        .get(RETRY_AFTER)
                        .and_then(|v| v.to_str().ok())
                        .and_then(|v| retry.retry_after(v));
                    tracing::debug!("{url}: HTTP {status}, retrying (attempt {attempt})");
                    asked.unwrap_or_else(|| retry.delay(attempt))
                }
                Err(e) => {
                    let err = classify(url.as_str(), &host, &e);
                    if !err.is_retryable() || attempt >= attempts {
                        return Err(err);
                    }
                    tracing::debug!("{err}; retrying (attempt {attempt})");
                    retry.delay(attempt)
                }
            };
            tokio::time::sleep(wait).await;
            attempt += 1;
        }
    }
}

pub(crate) fn parse_url(url: &str) -> Result<Url, FetchError> {
    Url::parse(url).map_err(|e| FetchError::Other {
        url: url.to_string(),
        detail: format!("not a valid URL: {e}"),
    })
}

/// The guard every hop passes: http(s) only, never a retired PyPI mirror name.
pub(crate) fn check_url(url: &Url) -> Result<(), FetchError> {
    if !matches!(url.scheme(), "http" | "https") {
        return Err(FetchError::Refused {
            url: url.to_string(),
            reason: format!("scheme {:?} is not http or https", url.scheme()),
        });
    }
    if let Some((host, _)) = host_port(url)
        && guard::is_retired_host(&host)
    {
        return Err(FetchError::Refused {
            url: url.to_string(),
            reason: guard::retired_host_message(&host),
        });
    }
    Ok(())
}

/// The library's builder: PEP 493's runtime API plus the client settings.
#[derive(Debug, Clone)]
pub struct ClientBuilder {
    verify: Option<bool>,
    settings: HttpsSettings,
    env: Option<Environment>,
    system_config: PathBuf,
}

impl Default for ClientBuilder {
    fn default() -> Self {
        Self::new()
    }
}

impl ClientBuilder {
    pub fn new() -> Self {
        Self {
            verify: None,
            settings: HttpsSettings::default(),
            env: None,
            system_config: PathBuf::from(super::SYSTEM_CONFIG_PATH),
        }
    }

    /// PEP 493's runtime switch: overrides the variable and every file.
    pub fn verify_certificates(mut self, verify: bool) -> Self {
        self.verify = Some(verify);
        self
    }

    /// Trust the CAs in this PEM file too (independent of the verify switch).
    pub fn add_ca_bundle(mut self, path: impl Into<PathBuf>) -> Self {
        self.settings.extra_ca.push(path.into());
        self
    }

    /// Do not verify this host (`host`, `host:port`, `[v6]:port`).
    pub fn insecure_host(mut self, entry: impl Into<String>) -> Self {
        self.settings.insecure_hosts.push(entry.into());
        self
    }

    /// One PEM with certificate chain and key, for servers that require mTLS.
    pub fn client_cert(mut self, path: impl Into<PathBuf>) -> Self {
        self.settings.client_cert = Some(path.into());
        self
    }

    /// Use this proxy for every request (instead of the proxy variables).
    pub fn proxy(mut self, url: impl Into<String>) -> Self {
        self.settings.proxy = Some(url.into());
        self
    }

    pub fn timeouts(mut self, connect: Duration, read: Duration, total: Duration) -> Self {
        self.settings.connect_timeout = connect;
        self.settings.read_timeout = read;
        self.settings.total_timeout = total;
        self
    }

    pub fn retry(mut self, retry: RetryPolicy) -> Self {
        self.settings.retry = retry;
        self
    }

    /// The environment snapshot to read VORPAL_HTTPS_VERIFY, SSL_CERT_FILE,
    /// SSL_CERT_DIR and proxies from. Without it, `build` captures the process
    /// environment once.
    pub fn environment(mut self, env: Environment) -> Self {
        self.env = Some(env);
        self
    }

    /// PEP 493's system file (default [`super::SYSTEM_CONFIG_PATH`]).
    pub fn system_config(mut self, path: impl Into<PathBuf>) -> Self {
        self.system_config = path.into();
        self
    }

    pub fn build(self) -> Result<HttpClient, HttpsError> {
        let env = self.env.unwrap_or_else(|| Environment::capture(false));
        let mut settings = self.settings;
        settings.decision = policy::resolve(
            self.verify.map(RuntimeSwitch::Library),
            &env,
            None,
            &self.system_config,
        )?;
        HttpClient::new(&settings, &env)
    }
}
