//! Real TLS handshakes against local servers under each verification policy.
mod https_common;
mod support;

use std::sync::Arc;

use https_common::{TestServer, builder, env, ok, start};
use support::tls::{TestCa, self_signed_leaf, server_config, server_config_mtls};
use vorpal::https::{CertProblem, FetchError, HttpsError};

async fn tls_server(cfg: Arc<rustls::ServerConfig>) -> TestServer {
    start("127.0.0.1:0", Some(cfg), 0, ok("hello"))
        .await
        .unwrap()
}

fn url(s: &TestServer) -> String {
    format!("https://127.0.0.1:{}/", s.port())
}

fn cert_problem(r: Result<reqwest::Response, FetchError>) -> CertProblem {
    match r {
        Err(FetchError::Certificate { reason, .. }) => reason,
        other => panic!("expected a certificate error, got {other:?}"),
    }
}

#[tokio::test]
async fn trusted_ca_ok() {
    let dir = tempfile::tempdir().unwrap();
    let ca = TestCa::new("test CA");
    let s = tls_server(server_config(&ca.leaf(&["localhost", "127.0.0.1"]))).await;
    let client = builder()
        .add_ca_bundle(ca.write_pem(dir.path(), "ca.pem"))
        .build()
        .unwrap();
    assert!(client.verifies(&url(&s)));
    let resp = client.get(&url(&s), &[]).await.unwrap();
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.version(), reqwest::Version::HTTP_2, "ALPN h2 offered");
    assert_eq!(resp.text().await.unwrap(), "hello");
    let report = client.handshake(&url(&s)).await.unwrap();
    assert!(report.verified);
    assert_eq!(report.alpn.as_deref(), Some("h2"));
    assert!(report.tls_version.is_some());
}

#[tokio::test]
async fn untrusted_issuer_fails_fast_with_remedies_and_is_not_retried() {
    let ca = TestCa::new("unknown CA");
    let s = tls_server(server_config(&ca.leaf(&["127.0.0.1"]))).await;
    let client = builder().build().unwrap();
    let err = client.get(&url(&s), &[]).await.unwrap_err();
    let msg = err.to_string();
    assert!(
        matches!(&err, FetchError::Certificate { reason: CertProblem::UnknownIssuer, host } if host == "127.0.0.1"),
        "{err:?}"
    );
    for remedy in [
        "--cert",
        "ca-bundle",
        "insecure-hosts",
        "VORPAL_HTTPS_VERIFY=0",
    ] {
        assert!(msg.contains(remedy), "{msg}");
    }
    assert_eq!(
        s.connections(),
        1,
        "a certificate failure must not be retried"
    );
    assert!(matches!(
        client.handshake(&url(&s)).await,
        Err(FetchError::Certificate {
            reason: CertProblem::UnknownIssuer,
            ..
        })
    ));
}

#[tokio::test]
async fn policy_off_accepts_untrusted_via_builder_and_variable() {
    let ca = TestCa::new("unknown CA");
    let s = tls_server(server_config(&ca.leaf(&["127.0.0.1"]))).await;
    let client = builder().verify_certificates(false).build().unwrap();
    assert!(!client.verifies(&url(&s)));
    assert_eq!(client.get(&url(&s), &[]).await.unwrap().status(), 200);
    let report = client.handshake(&url(&s)).await.unwrap();
    assert!(!report.verified);

    let client = builder()
        .environment(env(&[("VORPAL_HTTPS_VERIFY", "0")]))
        .build()
        .unwrap();
    assert_eq!(client.get(&url(&s), &[]).await.unwrap().status(), 200);
    // Any other value keeps verification on.
    let client = builder()
        .environment(env(&[("VORPAL_HTTPS_VERIFY", "0 ")]))
        .build()
        .unwrap();
    assert_eq!(
        cert_problem(client.get(&url(&s), &[]).await),
        CertProblem::UnknownIssuer
    );
}

#[tokio::test]
async fn self_signed_leaf_trusted_directly() {
    let dir = tempfile::tempdir().unwrap();
    let leaf = self_signed_leaf(&["127.0.0.1"]);
    let (cert, _) = leaf.write(dir.path(), "leaf");
    let s = tls_server(server_config(&leaf)).await;
    let client = builder().add_ca_bundle(cert).build().unwrap();
    assert_eq!(client.get(&url(&s), &[]).await.unwrap().status(), 200);
}

#[tokio::test]
async fn wrong_name_fails_and_off_accepts() {
    let dir = tempfile::tempdir().unwrap();
    let ca = TestCa::new("test CA");
    let s = tls_server(server_config(&ca.leaf(&["localhost"]))).await;
    let ca_pem = ca.write_pem(dir.path(), "ca.pem");
    let client = builder().add_ca_bundle(&ca_pem).build().unwrap();
    assert_eq!(
        cert_problem(client.get(&url(&s), &[]).await),
        CertProblem::NotValidForName
    );
    let off = builder()
        .add_ca_bundle(&ca_pem)
        .verify_certificates(false)
        .build()
        .unwrap();
    assert_eq!(off.get(&url(&s), &[]).await.unwrap().status(), 200);
}

#[tokio::test]
async fn expired_fails_and_off_accepts() {
    let dir = tempfile::tempdir().unwrap();
    let ca = TestCa::new("test CA");
    let s = tls_server(server_config(&ca.expired_leaf(&["127.0.0.1"]))).await;
    let ca_pem = ca.write_pem(dir.path(), "ca.pem");
    let client = builder().add_ca_bundle(&ca_pem).build().unwrap();
    assert_eq!(
        cert_problem(client.get(&url(&s), &[]).await),
        CertProblem::Expired
    );
    let off = builder().verify_certificates(false).build().unwrap();
    assert_eq!(off.get(&url(&s), &[]).await.unwrap().status(), 200);
}

#[tokio::test]
async fn rogue_ca_is_rejected() {
    let dir = tempfile::tempdir().unwrap();
    let trusted = TestCa::new("trusted CA");
    let rogue = TestCa::new("trusted CA"); // same name, different key
    let s = tls_server(server_config(&rogue.leaf(&["127.0.0.1"]))).await;
    let client = builder()
        .add_ca_bundle(trusted.write_pem(dir.path(), "ca.pem"))
        .build()
        .unwrap();
    assert!(client.get(&url(&s), &[]).await.is_err());
    assert_eq!(s.connections(), 1);
}

#[tokio::test]
async fn ca_bundle_and_verify_switch_are_independent() {
    let dir = tempfile::tempdir().unwrap();
    let ca = TestCa::new("test CA");
    let ca_pem = ca.write_pem(dir.path(), "ca.pem");
    let other = TestCa::new("other CA");
    let s = tls_server(server_config(&other.leaf(&["127.0.0.1"]))).await;
    // A bundle does not re-enable verification that the switch turned off...
    let off = builder()
        .verify_certificates(false)
        .add_ca_bundle(&ca_pem)
        .build()
        .unwrap();
    assert!(!off.verifies(&url(&s)));
    assert_eq!(off.get(&url(&s), &[]).await.unwrap().status(), 200);
    // ...nor disable it when it is on.
    let on = builder()
        .verify_certificates(true)
        .add_ca_bundle(&ca_pem)
        .build()
        .unwrap();
    assert!(on.verifies(&url(&s)));
    assert!(on.get(&url(&s), &[]).await.is_err());
}

#[tokio::test]
async fn insecure_hosts_port_and_case_rules() {
    let ca = TestCa::new("unknown CA");
    let s = tls_server(server_config(&ca.leaf(&["localhost", "127.0.0.1"]))).await;
    let port = s.port();
    for (entry, target, allowed) in [
        ("127.0.0.1".to_string(), url(&s), true),
        (format!("127.0.0.1:{port}"), url(&s), true),
        ("127.0.0.1:1".to_string(), url(&s), false),
        ("127.0.0.2".to_string(), url(&s), false),
        (
            format!("LocalHost:{port}"),
            format!("https://LOCALHOST:{port}/"),
            true,
        ),
    ] {
        let client = builder().insecure_host(&entry).build().unwrap();
        assert_eq!(client.verifies(&target), !allowed, "{entry} vs {target}");
        let r = client.get(&target, &[]).await;
        assert_eq!(r.is_ok(), allowed, "{entry} vs {target}: {r:?}");
    }
    // host:443 matches the default port.
    let client = builder()
        .insecure_host("mirror.example:443")
        .build()
        .unwrap();
    assert!(!client.verifies("https://mirror.example/simple/"));
    assert!(client.verifies("https://mirror.example:8443/simple/"));
}

#[tokio::test]
async fn insecure_hosts_ipv6() {
    let ca = TestCa::new("unknown CA");
    let Ok(s) = start(
        "[::1]:0",
        Some(server_config(&ca.leaf(&["::1"]))),
        0,
        ok("v6"),
    )
    .await
    else {
        eprintln!("skipped: cannot bind [::1]");
        return;
    };
    let target = format!("https://[::1]:{}/", s.port());
    let client = builder()
        .insecure_host(format!("[::1]:{}", s.port()))
        .build()
        .unwrap();
    assert_eq!(client.get(&target, &[]).await.unwrap().status(), 200);
    let client = builder().insecure_host("[::1]:1").build().unwrap();
    assert!(client.get(&target, &[]).await.is_err());
}

#[tokio::test]
async fn redirect_hops_get_their_own_policy() {
    let dir = tempfile::tempdir().unwrap();
    let bad_ca = TestCa::new("unknown CA");
    let good_ca = TestCa::new("trusted CA");
    let bad = tls_server(server_config(&bad_ca.leaf(&["127.0.0.1"]))).await;
    let good = tls_server(server_config(&good_ca.leaf(&["127.0.0.1"]))).await;
    let redirect_to = |target: String| -> https_common::Handler {
        Arc::new(move |_, _| {
            http::Response::builder()
                .status(302)
                .header("location", target.clone())
                .body(String::new())
                .unwrap()
        })
    };
    let allowed_to_bad = start(
        "127.0.0.1:0",
        Some(server_config(&bad_ca.leaf(&["127.0.0.1"]))),
        0,
        redirect_to(url(&bad)),
    )
    .await
    .unwrap();
    let allowed_to_good = start(
        "127.0.0.1:0",
        Some(server_config(&bad_ca.leaf(&["127.0.0.1"]))),
        0,
        redirect_to(url(&good)),
    )
    .await
    .unwrap();
    let client = builder()
        .add_ca_bundle(good_ca.write_pem(dir.path(), "ca.pem"))
        .insecure_host(format!("127.0.0.1:{}", allowed_to_bad.port()))
        .insecure_host(format!("127.0.0.1:{}", allowed_to_good.port()))
        .build()
        .unwrap();
    assert_eq!(
        cert_problem(client.get(&url(&allowed_to_bad), &[]).await),
        CertProblem::UnknownIssuer
    );
    let resp = client.get(&url(&allowed_to_good), &[]).await.unwrap();
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.url().port(), Some(good.port()));
}

#[tokio::test]
async fn ssl_cert_file_and_dir_from_the_snapshot() {
    let dir = tempfile::tempdir().unwrap();
    let ca = TestCa::new("test CA");
    let s = tls_server(server_config(&ca.leaf(&["127.0.0.1"]))).await;
    let ca_pem = ca.write_pem(dir.path(), "ca.pem");
    let file = ca_pem.to_str().unwrap();

    let client = builder()
        .environment(env(&[("SSL_CERT_FILE", file)]))
        .build()
        .unwrap();
    assert_eq!(client.get(&url(&s), &[]).await.unwrap().status(), 200);
    let client = builder()
        .environment(env(&[("SSL_CERT_DIR", dir.path().to_str().unwrap())]))
        .build()
        .unwrap();
    assert_eq!(client.get(&url(&s), &[]).await.unwrap().status(), 200);

    // Missing or garbage: fail closed, naming the variable and the path.
    let missing = dir.path().join("missing.pem");
    let garbage = dir.path().join("garbage.pem");
    std::fs::write(&garbage, "no certificates here\n").unwrap();
    for p in [&missing, &garbage] {
        let err = builder()
            .environment(env(&[("SSL_CERT_FILE", p.to_str().unwrap())]))
            .build()
            .unwrap_err();
        assert!(matches!(err, HttpsError::Config(_)), "{err:?}");
        let msg = err.to_string();
        assert!(
            msg.contains("SSL_CERT_FILE") && msg.contains(p.to_str().unwrap()),
            "{msg}"
        );
    }
    // Empty counts as unset: the platform store is used, and our CA is not in it.
    let client = builder()
        .environment(env(&[("SSL_CERT_FILE", "")]))
        .build()
        .unwrap();
    assert!(client.get(&url(&s), &[]).await.is_err());
}

#[tokio::test]
async fn mtls_needs_the_client_certificate() {
    let dir = tempfile::tempdir().unwrap();
    let ca = TestCa::new("server CA");
    let client_ca = TestCa::new("client CA");
    let s = tls_server(server_config_mtls(&ca.leaf(&["127.0.0.1"]), &client_ca)).await;
    let ca_pem = ca.write_pem(dir.path(), "ca.pem");
    let ident = client_ca
        .client_leaf("mirror-client")
        .write_combined(dir.path(), "client.pem");
    let with = builder()
        .add_ca_bundle(&ca_pem)
        .client_cert(&ident)
        .build()
        .unwrap();
    assert_eq!(with.get(&url(&s), &[]).await.unwrap().status(), 200);
    let without = builder().add_ca_bundle(&ca_pem).build().unwrap();
    assert!(without.get(&url(&s), &[]).await.is_err());

    // A client-cert file without its key is refused, naming the file.
    let (cert_only, _) = client_ca.client_leaf("x").write(dir.path(), "nokey");
    let err = builder().client_cert(&cert_only).build().unwrap_err();
    assert!(err.to_string().contains("nokey.pem") && err.to_string().contains("private key"));
}

#[tokio::test]
async fn retired_pypi_mirror_names_are_refused_without_connecting() {
    let client = builder().build().unwrap();
    for u in [
        "https://a.pypi.python.org/simple/",
        "https://last.pypi.python.org/",
    ] {
        match client.get(u, &[]).await {
            Err(FetchError::Refused { reason, .. }) => {
                assert!(reason.contains("PEP 449") && reason.contains("https://pypi.org"))
            }
            other => panic!("{u}: {other:?}"),
        }
    }
}
