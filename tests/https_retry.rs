//! Retries (5xx, 429 with Retry-After, resets), and requests through a CONNECT proxy.
mod https_common;
mod support;

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::Bytes;
use https_common::{Handler, builder, env, ok, start};
use support::tls::{TestCa, server_config};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use vorpal::https::{FetchError, RetryPolicy};

/// Fail the first `n` requests with `status` (and optional Retry-After), then 200.
fn failing(n: usize, status: u16, retry_after: Option<&'static str>) -> Handler {
    Arc::new(move |i, _| {
        if i < n {
            let mut b = http::Response::builder().status(status);
            if let Some(v) = retry_after {
                b = b.header("retry-after", v);
            }
            b.body("busy".into()).unwrap()
        } else {
            http::Response::new("done".into())
        }
    })
}

fn http_url(addr: std::net::SocketAddr) -> String {
    format!("http://{addr}/simple/")
}

#[tokio::test]
async fn server_errors_are_retried_until_success() {
    let s = start("127.0.0.1:0", None, 0, failing(2, 503, None))
        .await
        .unwrap();
    let client = builder().build().unwrap();
    let resp = client.get(&http_url(s.addr), &[]).await.unwrap();
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.text().await.unwrap(), "done");
    assert_eq!(s.requests(), 3);
}

#[tokio::test]
async fn exhausted_retries_give_a_status_error() {
    let s = start("127.0.0.1:0", None, 0, failing(100, 502, None))
        .await
        .unwrap();
    let client = builder().build().unwrap();
    match client.get(&http_url(s.addr), &[]).await {
        Err(FetchError::Status { status: 502, .. }) => {}
        other => panic!("{other:?}"),
    }
    assert_eq!(s.requests(), client.retry_policy().attempts as usize);
}

#[tokio::test]
async fn not_found_is_returned_not_retried() {
    let s = start("127.0.0.1:0", None, 0, failing(100, 404, None))
        .await
        .unwrap();
    let client = builder().build().unwrap();
    let resp = client.get(&http_url(s.addr), &[]).await.unwrap();
    assert_eq!(resp.status(), 404);
    assert_eq!(s.requests(), 1);
}

#[tokio::test]
async fn too_many_requests_honours_retry_after() {
    let s = start("127.0.0.1:0", None, 0, failing(1, 429, Some("1")))
        .await
        .unwrap();
    // Backoff alone would wait at most 20 ms; Retry-After asks for 1 s (cap 2 s).
    let client = builder()
        .retry(RetryPolicy {
            attempts: 3,
            base: Duration::from_millis(10),
            max: Duration::from_secs(2),
        })
        .build()
        .unwrap();
    let started = Instant::now();
    let resp = client.get(&http_url(s.addr), &[]).await.unwrap();
    assert_eq!(resp.status(), 200);
    assert_eq!(s.requests(), 2);
    // Only a lower bound: waiting is the point, and a lower bound cannot flake.
    assert!(started.elapsed() > Duration::from_millis(500));
}

#[tokio::test]
async fn connection_resets_are_retried() {
    let s = start("127.0.0.1:0", None, 2, ok("after resets"))
        .await
        .unwrap();
    let client = builder().build().unwrap();
    let resp = client.get(&http_url(s.addr), &[]).await.unwrap();
    assert_eq!(resp.text().await.unwrap(), "after resets");
    assert_eq!(s.connections(), 3);
}

#[tokio::test]
async fn refused_connections_are_retried_then_reported() {
    // Bind and drop to get a port nobody listens on.
    let port = TcpListener::bind("127.0.0.1:0")
        .await
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let client = builder().build().unwrap();
    let err = client
        .get(&format!("http://127.0.0.1:{port}/"), &[])
        .await
        .unwrap_err();
    assert!(matches!(err, FetchError::Connect { .. }), "{err:?}");
}

#[tokio::test]
async fn post_is_retried_and_keeps_its_body() {
    let seen = Arc::new(Mutex::new(Vec::new()));
    let seen2 = seen.clone();
    let handler: Handler = Arc::new(move |i, parts| {
        seen2.lock().unwrap().push(parts.method.to_string());
        if i == 0 {
            http::Response::builder()
                .status(500)
                .body(String::new())
                .unwrap()
        } else {
            http::Response::new("<methodResponse/>".into())
        }
    });
    let s = start("127.0.0.1:0", None, 0, handler).await.unwrap();
    let client = builder().build().unwrap();
    let resp = client
        .post(
            &format!("http://{}/pypi", s.addr),
            "text/xml",
            Bytes::from_static(b"<methodCall/>"),
        )
        .await
        .unwrap();
    assert_eq!(resp.text().await.unwrap(), "<methodResponse/>");
    assert_eq!(*seen.lock().unwrap(), vec!["POST", "POST"]);
}

#[tokio::test]
async fn redirect_loops_stop() {
    let handler: Handler = Arc::new(|_, _| {
        http::Response::builder()
            .status(302)
            .header("location", "/again")
            .body(String::new())
            .unwrap()
    });
    let s = start("127.0.0.1:0", None, 0, handler).await.unwrap();
    let client = builder().build().unwrap();
    let err = client.get(&http_url(s.addr), &[]).await.unwrap_err();
    assert!(
        matches!(err, FetchError::TooManyRedirects { .. }),
        "{err:?}"
    );
    assert_eq!(s.requests(), vorpal::https::MAX_REDIRECTS + 1);
}

/// A minimal CONNECT proxy: records each CONNECT target, then pipes bytes.
async fn connect_proxy() -> (std::net::SocketAddr, Arc<Mutex<Vec<String>>>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let seen = Arc::new(Mutex::new(Vec::new()));
    let seen2 = seen.clone();
    tokio::spawn(async move {
        while let Ok((mut client, _)) = listener.accept().await {
            let seen = seen2.clone();
            tokio::spawn(async move {
                let mut head = Vec::new();
                let mut byte = [0u8; 1];
                while !head.ends_with(b"\r\n\r\n") {
                    if client.read_exact(&mut byte).await.is_err() {
                        return;
                    }
                    head.push(byte[0]);
                }
                let head = String::from_utf8_lossy(&head).to_string();
                let mut words = head.split_whitespace();
                let (Some("CONNECT"), Some(target)) = (words.next(), words.next()) else {
                    let _ = client.write_all(b"HTTP/1.1 405 Only CONNECT\r\n\r\n").await;
                    return;
                };
                seen.lock().unwrap().push(target.to_string());
                let Ok(mut upstream) = TcpStream::connect(target).await else {
                    let _ = client.write_all(b"HTTP/1.1 502 Bad Gateway\r\n\r\n").await;
                    return;
                };
                if client
                    .write_all(b"HTTP/1.1 200 Connection established\r\n\r\n")
                    .await
                    .is_ok()
                {
                    let _ = tokio::io::copy_bidirectional(&mut client, &mut upstream).await;
                }
            });
        }
    });
    (addr, seen)
}

#[tokio::test]
async fn requests_go_through_a_connect_proxy() {
    let dir = tempfile::tempdir().unwrap();
    let ca = TestCa::new("test CA");
    let s = start(
        "127.0.0.1:0",
        Some(server_config(&ca.leaf(&["127.0.0.1"]))),
        0,
        ok("via proxy"),
    )
    .await
    .unwrap();
    let target = format!("https://127.0.0.1:{}/", s.port());
    let ca_pem = ca.write_pem(dir.path(), "ca.pem");
    let (proxy, seen) = connect_proxy().await;

    // [mirror] proxy / ClientBuilder::proxy.
    let client = builder()
        .add_ca_bundle(&ca_pem)
        .proxy(format!("http://{proxy}"))
        .build()
        .unwrap();
    let resp = client.get(&target, &[]).await.unwrap();
    assert_eq!(resp.text().await.unwrap(), "via proxy");
    assert_eq!(
        *seen.lock().unwrap(),
        vec![format!("127.0.0.1:{}", s.port())]
    );

    // HTTPS_PROXY from the snapshot, and NO_PROXY excluding the host.
    let client = builder()
        .add_ca_bundle(&ca_pem)
        .environment(env(&[("HTTPS_PROXY", &format!("http://{proxy}"))]))
        .build()
        .unwrap();
    assert_eq!(client.get(&target, &[]).await.unwrap().status(), 200);
    assert_eq!(seen.lock().unwrap().len(), 2);
    let client = builder()
        .add_ca_bundle(&ca_pem)
        .environment(env(&[
            ("HTTPS_PROXY", &format!("http://{proxy}")),
            ("NO_PROXY", "127.0.0.1"),
        ]))
        .build()
        .unwrap();
    assert_eq!(client.get(&target, &[]).await.unwrap().status(), 200);
    assert_eq!(
        seen.lock().unwrap().len(),
        2,
        "NO_PROXY host bypasses the proxy"
    );
}
