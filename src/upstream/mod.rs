//! Talking to an upstream index: the project list with serials, changes since a
//! serial, project metadata with the stale-serial check. Every request goes through
//! the one [`HttpClient`].

use std::time::Duration;

use bytes::Bytes;
use url::Url;

use crate::config::{ApiMethod, MetadataSource, MirrorConfig};
use crate::https::{FetchError, HttpClient};
use crate::index::xmlrpc::{self, Value, XmlRpcError};
use crate::index::{self, ChangelogEntry, IndexError, ListedProject, Project};

/// PEP 691 JSON, preferred; HTML accepted for the root so old indexes still list.
const SIMPLE_JSON: &str = "application/vnd.pypi.simple.v1+json";
/// PyPI's XML-RPC answer when a client calls too often.
const XMLRPC_RATE_LIMITED: i64 = -32500;

#[derive(Debug, thiserror::Error)]
pub enum UpstreamError {
    #[error(transparent)]
    Fetch(#[from] FetchError),
    #[error("{url}: {source}")]
    Format { url: String, source: IndexError },
    #[error("{url}: XML-RPC: {source}")]
    XmlRpc { url: String, source: XmlRpcError },
    #[error("{url}: HTTP {status}")]
    Status { url: String, status: u16 },
    #[error(
        "{url}: still stale after {tries} tries (X-PyPI-Last-Serial {got}, expected at least {expected}); \
         the upstream's cache has not caught up, the project is retried on the next run"
    )]
    Stale {
        url: String,
        got: String,
        expected: u64,
        tries: u32,
    },
    #[error("{url}: reading the body failed: {detail}")]
    Body { url: String, detail: String },
}

/// The result of asking for one project.
#[derive(Debug)]
pub enum ProjectFetch {
    Found(Box<Project>),
    /// 404: upstream deleted it (or never had it).
    Gone,
}

#[derive(Clone)]
pub struct Upstream {
    client: HttpClient,
    base: Url,
    api_method: ApiMethod,
    metadata_source: MetadataSource,
    stale_tries: u32,
    stale_backoff: Duration,
}

impl Upstream {
    pub fn new(client: HttpClient, cfg: &MirrorConfig) -> Result<Self, crate::config::ConfigError> {
        let base = Url::parse(&format!("{}/", cfg.master.trim_end_matches('/'))).map_err(|e| {
            crate::config::ConfigError::new(format!(
                "[mirror] master = \"{}\" is not a URL: {e}",
                cfg.master
            ))
        })?;
        Ok(Self {
            client,
            base,
            api_method: cfg.api_method,
            metadata_source: cfg.metadata_source,
            stale_tries: cfg.stale_retries.max(1),
            stale_backoff: Duration::from_secs(1),
        })
    }

    /// Shorter stale-serial backoff (tests and private upstreams with no CDN).
    pub fn with_stale_backoff(mut self, backoff: Duration) -> Self {
        self.stale_backoff = backoff;
        self
    }

    pub fn base(&self) -> &Url {
        &self.base
    }

    pub fn host(&self) -> Option<&str> {
        self.base.host_str()
    }

    pub fn client(&self) -> &HttpClient {
        &self.client
    }

    fn join(&self, path: &str) -> String {
        self.base
            .join(path)
            .map(|u| u.to_string())
            .unwrap_or_else(|_| format!("{}{}", self.base, path))
    }

    /// Every project with its serial, and the index's current serial.
    pub async fn list_projects(&self) -> Result<(u64, Vec<ListedProject>), UpstreamError> {
        match self.api_method {
            ApiMethod::Simple => self.list_simple().await,
            ApiMethod::Xmlrpc => {
                let list = xmlrpc::decode_list_packages_with_serial(
                    self.xmlrpc("list_packages_with_serial", &[]).await?,
                )
                .map_err(|source| self.xmlrpc_err(source))?;
                let last = xmlrpc::decode_int(self.xmlrpc("changelog_last_serial", &[]).await?)
                    .map_err(|source| self.xmlrpc_err(source))?;
                let max = list.iter().map(|p| p.serial).max().unwrap_or(0);
                Ok((u64::try_from(last).unwrap_or(0).max(max), list))
            }
        }
    }

    async fn list_simple(&self) -> Result<(u64, Vec<ListedProject>), UpstreamError> {
        let url = self.join("simple/");
        let resp = self.client.get(&url, &[("Accept", SIMPLE_JSON)]).await?;
        let header_serial = last_serial_header(&resp);
        let status = resp.status().as_u16();
        if status != 200 {
            return Err(UpstreamError::Status { url, status });
        }
        let body = read_body(&url, resp).await?;
        let (meta_serial, projects) =
            index::simple_json::parse_root_json(&body).map_err(|source| UpstreamError::Format {
                url: url.clone(),
                source,
            })?;
        let max = projects.iter().map(|p| p.serial).max().unwrap_or(0);
        let serial = meta_serial.or(header_serial).unwrap_or(0).max(max);
        Ok((serial, projects))
    }

    /// Changelog entries after `serial`, all of them (loops past the per-call cap).
    pub async fn changes_since(&self, serial: u64) -> Result<Vec<ChangelogEntry>, UpstreamError> {
        let mut out = Vec::new();
        let mut since = serial;
        loop {
            let v = self
                .xmlrpc("changelog_since_serial", &[Value::Int(since as i64)])
                .await?;
            let batch = xmlrpc::decode_changelog(v).map_err(|source| self.xmlrpc_err(source))?;
            let Some(last) = batch.iter().map(|e| e.serial).max() else {
                break;
            };
            if last <= since {
                break;
            }
            since = last;
            out.extend(batch);
        }
        Ok(out)
    }

    /// The current serial according to the changelog (XML-RPC only).
    pub async fn last_serial(&self) -> Result<u64, UpstreamError> {
        let v = self.xmlrpc("changelog_last_serial", &[]).await?;
        let n = xmlrpc::decode_int(v).map_err(|source| self.xmlrpc_err(source))?;
        Ok(u64::try_from(n).unwrap_or(0))
    }

    fn xmlrpc_err(&self, source: XmlRpcError) -> UpstreamError {
        UpstreamError::XmlRpc {
            url: self.join("pypi"),
            source,
        }
    }

    /// One XML-RPC call, backing off while PyPI says we are rate limited.
    async fn xmlrpc(&self, method: &str, params: &[Value]) -> Result<Value, UpstreamError> {
        let url = self.join("pypi");
        let body = Bytes::from(xmlrpc::encode_call(method, params));
        let policy = self.client.retry_policy().clone();
        let mut attempt = 0;
        loop {
            let resp = self.client.post(&url, "text/xml", body.clone()).await?;
            let status = resp.status().as_u16();
            if status != 200 {
                return Err(UpstreamError::Status { url, status });
            }
            let bytes = read_body(&url, resp).await?;
            match xmlrpc::decode_response(&bytes) {
                Err(XmlRpcError::Fault { code, .. })
                    if code == XMLRPC_RATE_LIMITED && attempt + 1 < policy.attempts =>
                {
                    tracing::warn!(%url, method, "upstream rate-limits XML-RPC; backing off");
                    tokio::time::sleep(policy.delay(attempt).max(Duration::from_secs(1))).await;
                    attempt += 1;
                }
                Err(source) => return Err(UpstreamError::XmlRpc { url, source }),
                Ok(v) => return Ok(v),
            }
        }
    }

    /// Project metadata, retrying while the response's serial is older than `expected`
    /// (a CDN copy). A stale answer is never returned.
    pub async fn project(&self, name: &str, expected: u64) -> Result<ProjectFetch, UpstreamError> {
        let (url, accept) = match self.metadata_source {
            MetadataSource::Json => (self.join(&format!("pypi/{name}/json")), "application/json"),
            MetadataSource::Simple => (self.join(&format!("simple/{name}/")), SIMPLE_JSON),
        };
        let mut backoff = self.stale_backoff;
        let mut got = String::from("missing");
        for attempt in 0..self.stale_tries {
            if attempt > 0 {
                tracing::debug!(%url, "stale serial ({got} < {expected}); retrying in {backoff:?}");
                tokio::time::sleep(backoff).await;
                backoff *= 2;
            }
            let resp = self.client.get(&url, &[("Accept", accept)]).await?;
            let status = resp.status().as_u16();
            if status == 404 || status == 410 {
                return Ok(ProjectFetch::Gone);
            }
            if status != 200 {
                return Err(UpstreamError::Status { url, status });
            }
            let header = last_serial_header(&resp);
            // The final URL matters: relative file links resolve against it.
            let page_url = resp.url().clone();
            let body = read_body(&url, resp).await?;
            let mut project = match self.metadata_source {
                MetadataSource::Json => {
                    index::jsonapi::parse_jsonapi_at(body.clone(), Some(&page_url))
                }
                MetadataSource::Simple => index::simple_json::parse_project_json(&body, &page_url),
            }
            .map_err(|source| UpstreamError::Format {
                url: url.clone(),
                source,
            })?;
            // The header is the authority on freshness; when a proxy strips it, the
            // serial the document itself carries stands in for it.
            let serial = header.or((project.last_serial > 0).then_some(project.last_serial));
            let fresh = match serial {
                Some(s) => s >= expected,
                None => expected == 0,
            };
            if !fresh {
                got = serial.map_or("missing".into(), |s| s.to_string());
                continue;
            }
            project.last_serial = project.last_serial.max(serial.unwrap_or(0));
            return Ok(ProjectFetch::Found(Box::new(project)));
        }
        Err(UpstreamError::Stale {
            url,
            got,
            expected,
            tries: self.stale_tries,
        })
    }
}

fn last_serial_header(resp: &reqwest::Response) -> Option<u64> {
    resp.headers()
        .get("x-pypi-last-serial")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse().ok())
}

async fn read_body(url: &str, resp: reqwest::Response) -> Result<Bytes, UpstreamError> {
    resp.bytes().await.map_err(|e| UpstreamError::Body {
        url: url.to_string(),
        detail: e.to_string(),
    })
}
