//! `vorpal serve` run in-process over a mirror directory, for tests that need a
//! served vorpal (downstream mirrors, download mirrors).

use std::path::{Path, PathBuf};
use std::sync::Arc;

use vorpal::serve::{JournalXmlRpc, RunningServer, ServeOptions, TlsPaths, bind};

use crate::support::tls::TestCa;

/// `vorpal serve` over a mirror root, in-process, TLS from a test CA, XML-RPC from
/// its journal.
pub struct Served {
    pub server: RunningServer,
    pub base: String,
    pub ca_pem: PathBuf,
    _certs: tempfile::TempDir,
}

pub async fn serve(root: &Path) -> Served {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let certs = tempfile::tempdir().unwrap();
    let ca = TestCa::new("vorpal serve chain CA");
    let ca_pem = ca.write_pem(certs.path(), "ca.pem");
    let (cert, key) = ca
        .leaf(&["127.0.0.1", "localhost"])
        .write(certs.path(), "leaf");
    let mut opts = ServeOptions::new(root);
    opts.listen = vec!["127.0.0.1:0".parse().unwrap()];
    opts.tls = Some(TlsPaths { cert, key });
    opts.xmlrpc = Some(Arc::new(JournalXmlRpc::new(root)));
    opts.cert_poll_interval = None;
    opts.reload_on_sighup = false;
    let server = bind(opts).await.unwrap();
    let base = format!("https://{}", server.local_addrs()[0]);
    Served {
        server,
        base,
        ca_pem,
        _certs: certs,
    }
}
