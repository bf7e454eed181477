//! Trust roots: `SSL_CERT_FILE` / `SSL_CERT_DIR` (from the environment snapshot,
//! as OpenSSL reads them) or the platform store, then webpki-roots as a last
//! resort; plus the extra CA bundles from `--cert` / `[https] ca-bundle`.

use std::collections::HashSet;
use std::path::{Path, PathBuf};

use rustls::RootCertStore;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, TrustAnchor};

use super::HttpsError;
use crate::environment::Environment;

/// Where a group of roots came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RootKind {
    SslCertFile,
    SslCertDir,
    Platform,
    WebpkiFallback,
    ExtraBundle,
}

impl RootKind {
    /// Stable machine name (used by `vorpal https --json`).
    pub fn key(self) -> &'static str {
        match self {
            RootKind::SslCertFile => "SSL_CERT_FILE",
            RootKind::SslCertDir => "SSL_CERT_DIR",
            RootKind::Platform => "platform",
            RootKind::WebpkiFallback => "webpki_fallback",
            RootKind::ExtraBundle => "extra_bundle",
        }
    }
}

/// One group of roots: kind, path (if any) and how many certificates it added.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RootSource {
    pub kind: RootKind,
    pub path: Option<PathBuf>,
    pub count: usize,
}

/// The roots in use and where they came from.
#[derive(Debug, Clone)]
pub struct Roots {
    pub store: RootCertStore,
    pub sources: Vec<RootSource>,
}

#[cfg(all(unix, not(target_os = "macos")))]
/// Bundle files and directories distributions ship, probed in this order. Probed
/// here (not by rustls-native-certs) because its probe reads the live process
/// environment, and vorpal answers only to its snapshot.
const PLATFORM_FILES: &[&str] = &[
    "/etc/ssl/certs/ca-certificates.crt",
    "/etc/pki/ca-trust/extracted/pem/tls-ca-bundle.pem",
    "/etc/pki/tls/certs/ca-bundle.crt",
    "/etc/ssl/ca-bundle.pem",
    "/etc/pki/tls/cacert.pem",
    "/etc/ssl/cert.pem",
];

/// Adds the certificates not already in `store`; returns how many were new and how
/// many could be used at all. `SSL_CERT_FILE` and `SSL_CERT_DIR` usually name the
/// same certificates (Debian's bundle is the directory concatenated), so without the
/// check every root would be held, and reported, twice.
fn add_all(store: &mut RootCertStore, certs: Vec<CertificateDer<'static>>) -> (usize, usize) {
    // Platform stores carry some ancient certificates webpki cannot parse; skip them.
    let mut parsed = RootCertStore::empty();
    let (usable, _ignored) = parsed.add_parsable_certificates(certs);
    let mut known: HashSet<TrustAnchor<'static>> = store.roots.iter().cloned().collect();
    let before = store.roots.len();
    for anchor in parsed.roots {
        if known.insert(anchor.clone()) {
            store.roots.push(anchor);
        }
    }
    (store.roots.len() - before, usable)
}

fn env_file_error(var: &str, path: &str, why: &str) -> HttpsError {
    HttpsError::Config(crate::config::ConfigError::new(format!(
        "{var}={path}: {why}; point {var} at a PEM file of CA certificates, or unset it \
         (refusing to fall back to other roots)"
    )))
}

/// Load the base roots (environment or platform) plus `extra` bundles.
pub fn load(env: &Environment, extra: &[PathBuf]) -> Result<Roots, HttpsError> {
    let mut store = RootCertStore::empty();
    let mut sources = Vec::new();
    let file = env.get_non_empty("SSL_CERT_FILE");
    let dirs = env.get_non_empty("SSL_CERT_DIR");

    if file.is_some() || dirs.is_some() {
        let dir_list: Vec<&str> = dirs
            .into_iter()
            .flat_map(|d| d.split(':'))
            .filter(|d| !d.is_empty())
            .collect();
        // Reading is most of the cost (a directory holds a file per CA), so the file
        // and the directories are read side by side, then added in order.
        let (file_loaded, dirs_loaded) = std::thread::scope(|s| {
            let file_job = file.map(|f| {
                s.spawn(move || {
                    rustls_native_certs::load_certs_from_paths(Some(Path::new(f)), None)
                })
            });
            let dirs_loaded: Vec<_> = dir_list
                .iter()
                .map(|d| rustls_native_certs::load_certs_from_paths(None, Some(Path::new(d))))
                .collect();
            let file_loaded = file_job.map(|job| {
                job.join()
                    .unwrap_or_else(|panic| std::panic::resume_unwind(panic))
            });
            (file_loaded, dirs_loaded)
        });
        if let (Some(f), Some(loaded)) = (file, file_loaded) {
            if let Some(e) = loaded.errors.first() {
                return Err(env_file_error("SSL_CERT_FILE", f, &e.to_string()));
            }
            let (count, _) = add_all(&mut store, loaded.certs);
            if count == 0 {
                return Err(env_file_error(
                    "SSL_CERT_FILE",
                    f,
                    "contains no usable certificate",
                ));
            }
            sources.push(RootSource {
                kind: RootKind::SslCertFile,
                path: Some(f.into()),
                count,
            });
        }
        for (d, loaded) in dir_list.into_iter().zip(dirs_loaded) {
            if let Some(e) = loaded.errors.first() {
                return Err(env_file_error("SSL_CERT_DIR", d, &e.to_string()));
            }
            let (count, _) = add_all(&mut store, loaded.certs);
            sources.push(RootSource {
                kind: RootKind::SslCertDir,
                path: Some(d.into()),
                count,
            });
        }
        if store.is_empty() {
            return Err(env_file_error(
                "SSL_CERT_DIR",
                dirs.unwrap_or_default(),
                "holds no usable certificate",
            ));
        }
    } else {
        let (count, path) = load_platform(&mut store);
        if count > 0 {
            sources.push(RootSource {
                kind: RootKind::Platform,
                path,
                count,
            });
        } else {
            store.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
            sources.push(RootSource {
                kind: RootKind::WebpkiFallback,
                path: None,
                count: store.len(),
            });
        }
    }

    for path in extra {
        let (count, usable) = add_all(&mut store, read_bundle(path)?);
        // A root it shares with the system store adds nothing and is fine; a bundle
        // of which nothing parses would fail every handshake it was meant for.
        if usable == 0 {
            return Err(bundle_error(
                path,
                "holds no certificate that can be used as a trust root".into(),
            ));
        }
        sources.push(RootSource {
            kind: RootKind::ExtraBundle,
            path: Some(path.clone()),
            count,
        });
    }
    Ok(Roots { store, sources })
}

fn bundle_error(path: &Path, why: String) -> HttpsError {
    HttpsError::Config(crate::config::ConfigError::new(format!(
        "CA bundle {}: {why}; give a PEM file with one or more CA certificates \
         (--cert or [https] ca-bundle)",
        path.display()
    )))
}

/// Every certificate in a PEM bundle; missing, unreadable or certificate-less is an error.
pub fn read_bundle(path: &Path) -> Result<Vec<CertificateDer<'static>>, HttpsError> {
    let bad = |why: String| bundle_error(path, why);
    let bytes = std::fs::read(path).map_err(|e| bad(e.to_string()))?;
    let certs = CertificateDer::pem_slice_iter(&bytes)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| bad(format!("bad PEM ({e})")))?;
    if certs.is_empty() {
        return Err(bad("contains no certificate".into()));
    }
    Ok(certs)
}

#[cfg(all(unix, not(target_os = "macos")))]
fn load_platform(store: &mut RootCertStore) -> (usize, Option<PathBuf>) {
    for f in PLATFORM_FILES {
        let p = Path::new(f);
        if p.is_file() {
            let loaded = rustls_native_certs::load_certs_from_paths(Some(p), None);
            let (n, _) = add_all(store, loaded.certs);
            if n > 0 {
                return (n, Some(p.into()));
            }
        }
    }
    let dir = Path::new("/etc/ssl/certs");
    if dir.is_dir() {
        let loaded = rustls_native_certs::load_certs_from_paths(None, Some(dir));
        let (n, _) = add_all(store, loaded.certs);
        return (n, Some(dir.into()));
    }
    (0, None)
}

#[cfg(not(all(unix, not(target_os = "macos"))))]
fn load_platform(store: &mut RootCertStore) -> (usize, Option<PathBuf>) {
    // macOS and Windows keep their stores in the OS; rustls-native-certs asks it.
    let loaded = rustls_native_certs::load_native_certs();
    (add_all(store, loaded.certs).0, None)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(pairs: &[(&str, &str)]) -> Environment {
        Environment::from_pairs(pairs.iter().map(|(k, v)| (*k, *v)), false)
    }

    #[test]
    fn missing_ssl_cert_file_fails_closed() {
        let e = load(&env(&[("SSL_CERT_FILE", "/nonexistent/ca.pem")]), &[])
            .unwrap_err()
            .to_string();
        assert!(e.contains("SSL_CERT_FILE=/nonexistent/ca.pem"), "{e}");
    }

    #[test]
    fn garbage_ssl_cert_file_fails_closed() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("junk.pem");
        std::fs::write(&p, "not a certificate\n").unwrap();
        let e = load(&env(&[("SSL_CERT_FILE", p.to_str().unwrap())]), &[])
            .unwrap_err()
            .to_string();
        assert!(e.contains("no usable certificate"), "{e}");
    }

    #[test]
    fn empty_means_unset() {
        let r = load(&env(&[("SSL_CERT_FILE", ""), ("SSL_CERT_DIR", "")]), &[]).unwrap();
        assert!(matches!(
            r.sources[0].kind,
            RootKind::Platform | RootKind::WebpkiFallback
        ));
        assert!(!r.store.is_empty());
    }

    #[test]
    fn a_certificate_in_both_the_file_and_the_directory_is_held_once() {
        let dir = tempfile::tempdir().unwrap();
        let pem = |name: &str| {
            let params = rcgen::CertificateParams::new(vec![name.to_string()]).unwrap();
            let key = rcgen::KeyPair::generate().unwrap();
            params.self_signed(&key).unwrap().pem()
        };
        let (shared, only_in_dir) = (pem("shared.test"), pem("dir-only.test"));
        let bundle = dir.path().join("bundle.pem");
        std::fs::write(&bundle, format!("{shared}{shared}")).unwrap();
        let certs = dir.path().join("certs");
        std::fs::create_dir(&certs).unwrap();
        std::fs::write(certs.join("a.0"), &shared).unwrap();
        std::fs::write(certs.join("b.0"), &only_in_dir).unwrap();
        let r = load(
            &env(&[
                ("SSL_CERT_FILE", bundle.to_str().unwrap()),
                ("SSL_CERT_DIR", certs.to_str().unwrap()),
            ]),
            std::slice::from_ref(&bundle),
        )
        .unwrap();
        let counts: Vec<_> = r.sources.iter().map(|s| (s.kind, s.count)).collect();
        assert_eq!(
            counts,
            [
                (RootKind::SslCertFile, 1),
                (RootKind::SslCertDir, 1),
                (RootKind::ExtraBundle, 0)
            ]
        );
        assert_eq!(r.store.len(), 2);
    }

    #[test]
    fn an_extra_bundle_of_which_nothing_parses_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("broken.pem");
        std::fs::write(
            &p,
            "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n",
        )
        .unwrap();
        let e = load(&env(&[]), std::slice::from_ref(&p))
            .unwrap_err()
            .to_string();
        assert!(e.contains("broken.pem") && e.contains("trust root"), "{e}");
    }

    #[test]
    fn extra_bundle_errors_name_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("corp.pem");
        std::fs::write(&p, "garbage").unwrap();
        let e = load(&env(&[]), std::slice::from_ref(&p))
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("corp.pem") && e.contains("no certificate"),
            "{e}"
        );
        let e = load(&env(&[]), &[dir.path().join("missing.pem")])
            .unwrap_err()
            .to_string();
        assert!(e.contains("missing.pem"), "{e}");
    }
}
