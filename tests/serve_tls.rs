//! `vorpal serve` as an operator runs it: certificate reload (file change, SIGHUP,
//! explicit), bad certificates, refusals at start-up, slow clients, graceful shutdown.

mod support;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use rustls::pki_types::{CertificateDer, ServerName};
use support::tls::{Leaf, TestCa};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use vorpal::serve::{RunningServer, ServeError, ServeOptions, TlsPaths, bind};

/// Upper bound for "eventually": only there so a broken build fails instead of hanging.
const EVENTUALLY: Duration = Duration::from_secs(60);

fn provider() {
    let _ = rustls::crypto::ring::default_provider().install_default();
}

/// A minimal mirror: a root page and one big file.
fn mirror() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let simple = dir.path().join("web/simple");
    std::fs::create_dir_all(&simple).unwrap();
    std::fs::write(
        simple.join("index.html"),
        "<!DOCTYPE html>\n<html><body></body></html>\n<!--SERIAL 1-->",
    )
    .unwrap();
    dir
}

fn write_big_file(dir: &Path, len: usize) -> String {
    let p = dir.join("web/packages/aa/bb/cc/big-1.0.tar.gz");
    std::fs::create_dir_all(p.parent().unwrap()).unwrap();
    let bytes: Vec<u8> = (0..len).map(|i| (i % 251) as u8).collect();
    std::fs::write(&p, bytes).unwrap();
    "/packages/aa/bb/cc/big-1.0.tar.gz".to_string()
}

fn options(dir: &Path, tls: Option<TlsPaths>) -> ServeOptions {
    let mut o = ServeOptions::new(dir);
    o.listen = vec!["127.0.0.1:0".parse().unwrap()];
    o.tls = tls;
    o
}

async fn tls_connect(addr: SocketAddr, ca: &TestCa) -> tokio_rustls::client::TlsStream<TcpStream> {
    let tcp = TcpStream::connect(addr).await.unwrap();
    tokio_rustls::TlsConnector::from(ca.client_config())
        .connect(ServerName::try_from("localhost").unwrap(), tcp)
        .await
        .unwrap()
}

/// The leaf certificate a fresh handshake presents.
async fn presented(addr: SocketAddr, ca: &TestCa) -> CertificateDer<'static> {
    let tls = tls_connect(addr, ca).await;
    tls.get_ref().1.peer_certificates().unwrap()[0]
        .clone()
        .into_owned()
}

async fn wait_for_cert(addr: SocketAddr, ca: &TestCa, want: &Leaf) {
    let want = want.certs()[0].clone();
    let found = tokio::time::timeout(EVENTUALLY, async {
        loop {
            if presented(addr, ca).await == want {
                return;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    })
    .await;
    assert!(found.is_ok(), "the new certificate was never presented");
}

struct Tls {
    ca: TestCa,
    first: Leaf,
    dir: tempfile::TempDir,
    paths: TlsPaths,
}

fn tls_files() -> Tls {
    let ca = TestCa::new("vorpal reload CA");
    let first = ca.leaf(&["localhost", "127.0.0.1"]);
    let dir = tempfile::tempdir().unwrap();
    let (cert, key) = first.write(dir.path(), "server");
    Tls {
        ca,
        first,
        dir,
        paths: TlsPaths { cert, key },
    }
}

async fn start(
    mirror: &Path,
    tls: &Tls,
    configure: impl FnOnce(&mut ServeOptions),
) -> (RunningServer, SocketAddr) {
    let mut o = options(mirror, Some(tls.paths.clone()));
    configure(&mut o);
    let server = bind(o).await.unwrap();
    let addr = server.local_addrs()[0];
    (server, addr)
}

#[tokio::test]
async fn certificate_reloads_when_the_files_change() {
    provider();
    let m = mirror();
    let tls = tls_files();
    let (server, addr) = start(m.path(), &tls, |o| {
        o.cert_poll_interval = Some(Duration::from_millis(100));
        o.reload_on_sighup = false;
    })
    .await;
    assert_eq!(presented(addr, &tls.ca).await, tls.first.certs()[0]);
    let second = tls.ca.leaf(&["localhost", "127.0.0.1"]);
    second.write(tls.dir.path(), "server");
    wait_for_cert(addr, &tls.ca, &second).await;
    server.shutdown().await;
}

#[tokio::test]
async fn certificate_reloads_on_sighup() {
    provider();
    let m = mirror();
    let tls = tls_files();
    let (server, addr) = start(m.path(), &tls, |o| {
        o.cert_poll_interval = None;
        o.reload_on_sighup = true;
    })
    .await;
    let second = tls.ca.leaf(&["localhost", "127.0.0.1"]);
    second.write(tls.dir.path(), "server");
    // SAFETY: sending a signal to our own process; bind() installed the SIGHUP handler.
    unsafe {
        libc::kill(libc::getpid(), libc::SIGHUP);
    }
    wait_for_cert(addr, &tls.ca, &second).await;
    server.shutdown().await;
}

#[tokio::test]
async fn a_bad_new_certificate_keeps_the_old_one() {
    provider();
    let m = mirror();
    let tls = tls_files();
    let (server, addr) = start(m.path(), &tls, |o| {
        o.cert_poll_interval = Some(Duration::from_millis(100));
        o.reload_on_sighup = false;
    })
    .await;
    let old = tls.first.certs()[0].clone();

    // Garbage certificate: explicit reload fails, saying why; the old one keeps serving.
    std::fs::write(&tls.paths.cert, "not a certificate").unwrap();
    let err = server.reload_tls().unwrap_err();
    assert!(err.to_string().contains("server.pem"), "{err}");
    assert_eq!(presented(addr, &tls.ca).await, old);

    // A new certificate with the old key (mismatch): the poller refuses it too.
    let second = tls.ca.leaf(&["localhost", "127.0.0.1"]);
    std::fs::write(&tls.paths.cert, &second.cert_pem).unwrap();
    let err = server.reload_tls().unwrap_err();
    assert!(err.to_string().contains("does not fit"), "{err}");
    tokio::time::sleep(Duration::from_millis(500)).await; // let the poller try as well
    assert_eq!(presented(addr, &tls.ca).await, old);

    // Once the matching key lands, the poller picks the pair up.
    std::fs::write(&tls.paths.key, &second.key_pem).unwrap();
    wait_for_cert(addr, &tls.ca, &second).await;
    server.shutdown().await;
}

async fn bind_err(o: ServeOptions) -> ServeError {
    match bind(o).await {
        Ok(s) => {
            s.shutdown().await;
            panic!("bind should have failed")
        }
        Err(e) => e,
    }
}

#[tokio::test]
async fn refuses_to_start_without_a_usable_certificate() {
    provider();
    let m = mirror();
    let tls = tls_files();
    let missing = TlsPaths {
        cert: tls.dir.path().join("missing.pem"),
        key: tls.paths.key.clone(),
    };
    let e = bind_err(options(m.path(), Some(missing))).await;
    assert!(matches!(e, ServeError::Tls(_)) && e.is_usage());
    assert!(e.to_string().contains("missing.pem"), "{e}");

    let other = tls.ca.leaf(&["localhost"]);
    let (_, other_key) = other.write(tls.dir.path(), "other");
    let mismatched = TlsPaths {
        cert: tls.paths.cert.clone(),
        key: other_key,
    };
    let e = bind_err(options(m.path(), Some(mismatched))).await;
    assert!(e.to_string().contains("does not fit"), "{e}");

    let garbage = tls.dir.path().join("garbage.pem");
    std::fs::write(&garbage, "hello").unwrap();
    let e = bind_err(options(
        m.path(),
        Some(TlsPaths {
            cert: garbage,
            key: tls.paths.key.clone(),
        }),
    ))
    .await;
    assert!(e.is_usage(), "{e}");

    // Plain HTTP beyond loopback needs the explicit flag.
    let mut o = options(m.path(), None);
    o.listen = vec!["0.0.0.0:0".parse().unwrap()];
    let e = bind_err(o.clone()).await;
    assert!(e.to_string().contains("--insecure-plain-http"), "{e}");
    o.insecure_plain_http = true;
    bind(o).await.unwrap().shutdown().await;

    // No mirror tree.
    let empty = tempfile::tempdir().unwrap();
    let e = bind_err(options(empty.path(), Some(tls.paths.clone()))).await;
    assert!(e.is_usage() && e.to_string().contains("web"), "{e}");
}

#[test]
fn cli_exits_2_on_a_missing_certificate() {
    let m = mirror();
    let cfg = m.path().join("vorpal.toml");
    std::fs::write(&cfg, "").unwrap();
    let missing: PathBuf = m.path().join("nowhere.pem");
    let out = assert_cmd::Command::cargo_bin("vorpal")
        .unwrap()
        .arg("-c")
        .arg(&cfg)
        .arg("serve")
        .arg("--directory")
        .arg(m.path())
        .args(["--listen", "127.0.0.1:0", "--tls-cert"])
        .arg(&missing)
        .arg("--tls-key")
        .arg(&missing)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("nowhere.pem"), "{stderr}");

    let out = assert_cmd::Command::cargo_bin("vorpal")
        .unwrap()
        .arg("-c")
        .arg(&cfg)
        .arg("serve")
        .arg("--directory")
        .arg(m.path())
        .arg("--tls-cert")
        .arg(&missing)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--tls-key"));
}

/// Read until the server closes the connection (EOF or reset).
async fn closed_by_server<S: tokio::io::AsyncRead + Unpin>(mut s: S) {
    let done = tokio::time::timeout(EVENTUALLY, async {
        let mut buf = [0u8; 1024];
        loop {
            match s.read(&mut buf).await {
                Ok(0) | Err(_) => return,
                Ok(_) => continue,
            }
        }
    })
    .await;
    assert!(done.is_ok(), "the server never closed the connection");
}

#[tokio::test]
async fn slow_clients_are_disconnected() {
    provider();
    let m = mirror();
    let tls = tls_files();
    let short = |o: &mut ServeOptions| {
        o.header_read_timeout = Duration::from_millis(500);
        o.idle_timeout = Duration::from_secs(2);
        o.cert_poll_interval = None;
        o.reload_on_sighup = false;
    };
    let (server, addr) = start(m.path(), &tls, short).await;

    // Stalls in the TLS handshake (never sends a ClientHello).
    let tcp = TcpStream::connect(addr).await.unwrap();
    closed_by_server(tcp).await;

    // Half a request line after the handshake.
    let mut s = tls_connect(addr, &tls.ca).await;
    s.write_all(b"GET /simple/ HT").await.unwrap();
    closed_by_server(s).await;

    // A keep-alive connection that goes quiet after a full request.
    let mut s = tls_connect(addr, &tls.ca).await;
    s.write_all(b"GET /simple/ HTTP/1.1\r\nHost: localhost\r\n\r\n")
        .await
        .unwrap();
    closed_by_server(s).await;
    server.shutdown().await;

    // Plain HTTP on loopback: half a request line.
    let mut o = options(m.path(), None);
    short(&mut o);
    let server = bind(o).await.unwrap();
    let mut tcp = TcpStream::connect(server.local_addrs()[0]).await.unwrap();
    tcp.write_all(b"GET /sim").await.unwrap();
    closed_by_server(tcp).await;
    server.shutdown().await;
}

#[tokio::test]
async fn shutdown_finishes_requests_in_flight() {
    provider();
    let m = mirror();
    let len = 16 * 1024 * 1024;
    let path = write_big_file(m.path(), len);
    let tls = tls_files();
    let (server, addr) = start(m.path(), &tls, |o| {
        o.cert_poll_interval = None;
        o.reload_on_sighup = false;
    })
    .await;
    let mut s = tls_connect(addr, &tls.ca).await;
    s.write_all(
        format!("GET {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n").as_bytes(),
    )
    .await
    .unwrap();
    // Read the head and a little of the body; the rest is still on the server's side.
    let mut got = vec![0u8; 64 * 1024];
    let mut n = 0;
    while !got[..n].windows(4).any(|w| w == b"\r\n\r\n") {
        n += s.read(&mut got[n..]).await.unwrap();
    }
    got.truncate(n);
    let head_end = got.windows(4).position(|w| w == b"\r\n\r\n").unwrap() + 4;
    let head = String::from_utf8_lossy(&got[..head_end]).to_string();
    assert!(head.starts_with("HTTP/1.1 200"), "{head}");

    let stopping = tokio::spawn(server.shutdown());
    tokio::time::sleep(Duration::from_millis(200)).await; // let shutdown begin
    let mut rest = Vec::new();
    s.read_to_end(&mut rest).await.unwrap();
    assert_eq!(
        got.len() - head_end + rest.len(),
        len,
        "the whole file arrived"
    );
    tokio::time::timeout(EVENTUALLY, stopping)
        .await
        .unwrap()
        .unwrap();
    // After shutdown nothing listens any more.
    assert!(TcpStream::connect(addr).await.is_err());
}
