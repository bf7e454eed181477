//! One handshake under the effective policy, for `vorpal https --check`.

use std::sync::Arc;

use rustls::pki_types::ServerName;
use sha2::{Digest, Sha256};
use tokio::net::TcpStream;

use super::client::{HttpClient, check_url, parse_url};
use super::error::{FetchError, chain_text, classify, find_cause, from_rustls};

/// What one handshake found.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct HandshakeReport {
    pub url: String,
    pub host: String,
    pub port: u16,
    /// Whether the certificate was verified (false: policy off or insecure host).
    pub verified: bool,
    /// `TLSv1_3` etc.; unknown when the handshake went through a proxy.
    pub tls_version: Option<String>,
    /// The negotiated ALPN protocol (`h2`, `http/1.1`).
    pub alpn: Option<String>,
    /// SHA-256 of the server's leaf certificate (DER), hex.
    pub peer_certificate_sha256: Option<String>,
    /// Set when the check went through a proxy (then one GET request was made).
    pub proxy: Option<String>,
    /// The HTTP status of that GET, when one was made.
    pub http_status: Option<u16>,
}

fn fingerprint(der: &[u8]) -> String {
    hex::encode(Sha256::digest(der))
}

impl HttpClient {
    /// Perform one TLS handshake with `url`'s host under this client's policy.
    /// Direct connections report TLS version and ALPN; through a proxy a single
    /// GET is made instead (no redirects, no retries).
    pub async fn handshake(&self, url: &str) -> Result<HandshakeReport, FetchError> {
        let parsed = parse_url(url)?;
        check_url(&parsed)?;
        if parsed.scheme() != "https" {
            return Err(FetchError::Refused {
                url: url.to_string(),
                reason: "not an https URL: there is no TLS handshake to check".into(),
            });
        }
        let host = parsed.host_str().unwrap_or_default().to_string();
        let port = parsed.port_or_known_default().unwrap_or(443);
        let verified = self.verifies_url(&parsed);
        let (client, tls) = self.pick(&parsed);
        let mut report = HandshakeReport {
            url: url.to_string(),
            host: host.clone(),
            port,
            verified,
            tls_version: None,
            alpn: None,
            peer_certificate_sha256: None,
            proxy: None,
            http_status: None,
        };

        if let Some((source, proxy)) = self.inner.proxies.described.first() {
            report.proxy = Some(format!("{proxy} (from {source})"));
            let resp = client
                .get(parsed.clone())
                .send()
                .await
                .map_err(|e| classify(url, &host, &e))?;
            report.http_status = Some(resp.status().as_u16());
            report.alpn = Some(match resp.version() {
                reqwest::Version::HTTP_2 => "h2".into(),
                _ => "http/1.1".into(),
            });
            report.peer_certificate_sha256 = resp
                .extensions()
                .get::<reqwest::tls::TlsInfo>()
                .and_then(|i| i.peer_certificate())
                .map(fingerprint);
            return Ok(report);
        }

        let bare = host
            .trim_start_matches('[')
            .trim_end_matches(']')
            .to_string();
        let name = ServerName::try_from(bare.clone()).map_err(|e| FetchError::Other {
            url: url.to_string(),
            detail: format!("{host} is not a valid TLS server name: {e}"),
        })?;
        let connect = TcpStream::connect((bare.as_str(), port));
        let tcp = tokio::time::timeout(self.inner.connect_timeout, connect)
            .await
            .map_err(|_| FetchError::Timeout {
                url: url.to_string(),
            })?
            .map_err(|e| FetchError::Connect {
                url: url.to_string(),
                detail: e.to_string(),
            })?;
        let connector = tokio_rustls::TlsConnector::from(Arc::clone(tls));
        let handshake = connector.connect(name, tcp);
        let stream = tokio::time::timeout(self.inner.connect_timeout, handshake)
            .await
            .map_err(|_| FetchError::Timeout {
                url: url.to_string(),
            })?
            .map_err(|e| match find_cause::<rustls::Error>(&e) {
                Some(t) => from_rustls(&host, t),
                None => FetchError::Connect {
                    url: url.to_string(),
                    detail: chain_text(&e),
                },
            })?;
        let (_, conn) = stream.get_ref();
        report.tls_version = conn.protocol_version().map(|v| format!("{v:?}"));
        report.alpn = conn
            .alpn_protocol()
            .map(|p| String::from_utf8_lossy(p).into_owned());
        report.peer_certificate_sha256 = conn
            .peer_certificates()
            .and_then(|c| c.first())
            .map(|c| fingerprint(c.as_ref()));
        Ok(report)
    }
}
