//! rustls client configurations: one that verifies against the roots, and one for
//! "verification off" (PEP 493's unverified context: no chain check, no name
//! check, but the handshake signatures are still checked so the peer must hold
//! the key of the certificate it shows).

use std::path::Path;
use std::sync::Arc;

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::{CryptoProvider, WebPkiSupportedAlgorithms};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName, UnixTime};
use rustls::{ClientConfig, DigitallySignedStruct, RootCertStore, SignatureScheme};

use super::HttpsError;
use crate::config::ConfigError;

/// The crypto provider: the process default if one is installed, else ring.
pub fn provider() -> Arc<CryptoProvider> {
    CryptoProvider::get_default()
        .cloned()
        .unwrap_or_else(|| Arc::new(rustls::crypto::ring::default_provider()))
}

/// Accepts any chain for any name; checks handshake signatures.
#[derive(Debug)]
pub struct AcceptAnyCertificate {
    algorithms: WebPkiSupportedAlgorithms,
}

impl ServerCertVerifier for AcceptAnyCertificate {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(message, cert, dss, &self.algorithms)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(message, cert, dss, &self.algorithms)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.algorithms.supported_schemes()
    }
}

/// A client certificate: the chain and its private key, from one PEM file.
#[derive(Debug)]
pub struct ClientIdentity {
    pub chain: Vec<CertificateDer<'static>>,
    pub key: PrivateKeyDer<'static>,
}

impl Clone for ClientIdentity {
    fn clone(&self) -> Self {
        Self {
            chain: self.chain.clone(),
            key: self.key.clone_key(),
        }
    }
}

/// Read a PEM holding the certificate chain (leaf first) and the private key.
pub fn read_client_identity(path: &Path) -> Result<ClientIdentity, HttpsError> {
    let bad = |why: String| {
        HttpsError::Config(ConfigError::new(format!(
            "client certificate {}: {why}; [https] client-cert must be one PEM file with the \
             certificate (chain) and its private key",
            path.display()
        )))
    };
    let bytes = std::fs::read(path).map_err(|e| bad(e.to_string()))?;
    let chain = CertificateDer::pem_slice_iter(&bytes)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| bad(format!("bad PEM ({e})")))?;
    if chain.is_empty() {
        return Err(bad("contains no certificate".into()));
    }
    let key =
        PrivateKeyDer::from_pem_slice(&bytes).map_err(|_| bad("contains no private key".into()))?;
    Ok(ClientIdentity { chain, key })
}

/// A client config: verifying against `roots`, or accepting anything when `None`.
pub fn client_config(
    roots: Option<RootCertStore>,
    identity: Option<&ClientIdentity>,
) -> Result<ClientConfig, HttpsError> {
    let provider = provider();
    let builder = ClientConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .map_err(|e| HttpsError::Client(format!("TLS setup: {e}")))?;
    let builder = match roots {
        Some(store) => builder.with_root_certificates(store),
        None => builder
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(AcceptAnyCertificate {
                algorithms: provider.signature_verification_algorithms,
            })),
    };
    let mut config = match identity {
        Some(id) => builder
            .with_client_auth_cert(id.chain.clone(), id.key.clone_key())
            .map_err(|e| {
                HttpsError::Config(ConfigError::new(format!(
                    "client certificate and key do not fit together: {e}"
                )))
            })?,
        None => builder.with_no_client_auth(),
    };
    // HTTP/2 when the server offers it.
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    Ok(config)
}
