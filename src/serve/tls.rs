//! The server certificate: loaded from PEM files, checked (key matches certificate),
//! and swapped in place on reload so new handshakes use the new one without a restart.
//! A bad replacement leaves the current certificate serving.

use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;

use rustls::crypto::CryptoProvider;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::server::{ClientHello, ResolvesServerCert};
use rustls::sign::CertifiedKey;
use sha2::{Digest, Sha256};
use tokio::sync::watch;

use super::pages::Stamp;

/// Where the server's certificate chain and private key live (PEM).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TlsPaths {
    /// Certificate chain, leaf first.
    pub cert: PathBuf,
    pub key: PathBuf,
}

fn provider() -> Arc<CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

/// Load and check the pair; the error names the file and the remedy.
pub fn load_certified_key(paths: &TlsPaths) -> Result<CertifiedKey, String> {
    let cert_pem = std::fs::read(&paths.cert).map_err(|e| {
        format!(
            "cannot read TLS certificate {}: {e}; pass --tls-cert (or [serve] tls-cert) with a PEM certificate chain",
            paths.cert.display()
        )
    })?;
    let key_pem = std::fs::read(&paths.key).map_err(|e| {
        format!(
            "cannot read TLS key {}: {e}; pass --tls-key (or [serve] tls-key) with the PEM private key",
            paths.key.display()
        )
    })?;
    let certs = CertificateDer::pem_slice_iter(&cert_pem)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| {
            format!(
                "{} is not a valid PEM certificate chain: {e}",
                paths.cert.display()
            )
        })?;
    if certs.is_empty() {
        return Err(format!(
            "{} holds no PEM certificate (expected -----BEGIN CERTIFICATE-----)",
            paths.cert.display()
        ));
    }
    let key = PrivateKeyDer::from_pem_slice(&key_pem).map_err(|e| {
        format!(
            "{} holds no usable PEM private key (PKCS#8, PKCS#1 or SEC1): {e}",
            paths.key.display()
        )
    })?;
    CertifiedKey::from_der(certs, key, &provider()).map_err(|e| {
        format!(
            "TLS key {} does not fit certificate {}: {e}",
            paths.key.display(),
            paths.cert.display()
        )
    })
}

/// SHA-256 fingerprint of the leaf, for logs.
pub fn fingerprint(ck: &CertifiedKey) -> String {
    ck.cert
        .first()
        .map(|c| hex::encode(Sha256::digest(c.as_ref())))
        .unwrap_or_default()
}

fn stamp(path: &Path) -> Option<Stamp> {
    std::fs::metadata(path).ok().map(|m| Stamp::of(&m))
}

/// The certificate currently served, replaceable at run time.
pub struct CertStore {
    paths: TlsPaths,
    current: RwLock<Arc<CertifiedKey>>,
    seen: Mutex<(Option<Stamp>, Option<Stamp>)>,
}

impl fmt::Debug for CertStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CertStore")
            .field("paths", &self.paths)
            .finish()
    }
}

impl CertStore {
    pub fn load(paths: TlsPaths) -> Result<CertStore, String> {
        let seen = (stamp(&paths.cert), stamp(&paths.key));
        let ck = load_certified_key(&paths)?;
        tracing::info!(
            "TLS certificate {} (sha256 {})",
            paths.cert.display(),
            fingerprint(&ck)
        );
        Ok(CertStore {
            paths,
            current: RwLock::new(Arc::new(ck)),
            seen: Mutex::new(seen),
        })
    }

    /// Re-read the files now. On error the current certificate stays.
    pub fn reload(&self) -> Result<(), String> {
        {
            let mut seen = self.seen.lock().unwrap_or_else(|p| p.into_inner());
            *seen = (stamp(&self.paths.cert), stamp(&self.paths.key));
        }
        match load_certified_key(&self.paths) {
            Ok(ck) => {
                tracing::info!(
                    "TLS certificate reloaded from {} (sha256 {})",
                    self.paths.cert.display(),
                    fingerprint(&ck)
                );
                *self.current.write().unwrap_or_else(|p| p.into_inner()) = Arc::new(ck);
                Ok(())
            }
            Err(e) => {
                tracing::error!("keeping the current TLS certificate: {e}");
                Err(e)
            }
        }
    }

    /// Reload if either file changed since it was last read (or tried).
    pub fn reload_if_changed(&self) {
        let now = (stamp(&self.paths.cert), stamp(&self.paths.key));
        let changed = {
            let seen = self.seen.lock().unwrap_or_else(|p| p.into_inner());
            *seen != now
        };
        if changed {
            let _ = self.reload();
        }
    }

    pub fn server_config(self: &Arc<Self>) -> Result<Arc<rustls::ServerConfig>, String> {
        let resolver: Arc<dyn ResolvesServerCert> = self.clone();
        let mut cfg = rustls::ServerConfig::builder_with_provider(provider())
            .with_safe_default_protocol_versions()
            .map_err(|e| format!("TLS configuration: {e}"))?
            .with_no_client_auth()
            .with_cert_resolver(resolver);
        cfg.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
        Ok(Arc::new(cfg))
    }
}

impl ResolvesServerCert for CertStore {
    fn resolve(&self, _hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        Some(
            self.current
                .read()
                .unwrap_or_else(|p| p.into_inner())
                .clone(),
        )
    }
}

/// Start listening for SIGHUP (before the server reports itself ready, so an early
/// signal is not fatal). `None` where signals are unavailable.
#[cfg(unix)]
pub fn sighup() -> Option<tokio::signal::unix::Signal> {
    match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::hangup()) {
        Ok(s) => Some(s),
        Err(e) => {
            tracing::warn!("cannot listen for SIGHUP, certificate reload on signal is off: {e}");
            None
        }
    }
}

#[cfg(unix)]
pub type Hangup = tokio::signal::unix::Signal;
#[cfg(not(unix))]
pub type Hangup = ();

/// Poll the files every `poll` (when given) and reload on SIGHUP (when given), until
/// shutdown is signalled.
pub async fn watch_certificates(
    store: Arc<CertStore>,
    poll: Option<Duration>,
    mut hup: Option<Hangup>,
    mut shutdown: watch::Receiver<bool>,
) {
    loop {
        let tick = async {
            match poll {
                Some(d) => tokio::time::sleep(d).await,
                None => std::future::pending().await,
            }
        };
        let hup_recv = async {
            match hup.as_mut() {
                #[cfg(unix)]
                Some(s) => {
                    if s.recv().await.is_none() {
                        std::future::pending::<()>().await;
                    }
                }
                _ => std::future::pending().await,
            }
        };
        tokio::select! {
            _ = super::server::stopped(&mut shutdown) => return,
            _ = tick => {
                let s = store.clone();
                let _ = tokio::task::spawn_blocking(move || s.reload_if_changed()).await;
            }
            _ = hup_recv => {
                tracing::info!("SIGHUP: reloading the TLS certificate");
                let s = store.clone();
                let _ = tokio::task::spawn_blocking(move || s.reload()).await;
            }
        }
    }
}
