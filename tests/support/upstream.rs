//! A fake upstream package index (PyPI-shaped) served over real HTTPS on 127.0.0.1:
//! simple API 1.4 (HTML + JSON), the Warehouse JSON API, XML-RPC changelog, real
//! wheels and sdists with `.metadata`, serials, mutations while serving, injectable
//! faults and a request log. It is a peer of vorpal, built without vorpal's code.

mod files;
mod model;
mod negotiate;
mod render;
mod server;
mod state;
mod static_tree;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use axum::Router;
use axum_server::Handle;
use axum_server::tls_rustls::RustlsConfig;

#[allow(unused_imports)]
pub use model::{
    ChangelogEntry, ExpectedFile, FaultKind, FaultTarget, FileKind, FileSpec, ProjectSpec,
    ReleaseSpec, RequestRecord, UpstreamOptions,
};
#[allow(unused_imports)]
pub use negotiate::{JSON_TYPE, V1_HTML_TYPE};
pub use state::normalize;

use crate::support::tls::{self, TestCa};
use crate::support::wheel::SplitMix;
use server::{Fault, Shared, lock};
use state::State;

/// pip's Accept header for simple pages.
pub const PIP_ACCEPT: &str = "application/vnd.pypi.simple.v1+json, application/vnd.pypi.simple.v1+html; q=0.1, text/html; q=0.01";
/// uv's Accept header for simple pages.
pub const UV_ACCEPT: &str = "application/vnd.pypi.simple.v1+json, application/vnd.pypi.simple.v1+html;q=0.2, text/html;q=0.01";

pub struct FakeUpstream {
    shared: Arc<Shared>,
    handle: Handle,
    ca: TestCa,
    ca_pem: PathBuf,
    addr: SocketAddr,
    base_url: String,
    _dir: tempfile::TempDir,
}

impl FakeUpstream {
    /// Binds 127.0.0.1:0 and serves (HTTPS with a fresh CA unless `opts.tls` is false).
    /// Must be called inside a tokio runtime.
    pub async fn start(opts: UpstreamOptions) -> FakeUpstream {
        let dir = tempfile::tempdir().expect("fake upstream: temp dir");
        let ca = TestCa::new("fake upstream CA");
        let ca_pem = ca.write_pem(dir.path(), "fake-upstream-ca.pem");
        let listener =
            std::net::TcpListener::bind("127.0.0.1:0").expect("fake upstream: bind 127.0.0.1:0");
        listener
            .set_nonblocking(true)
            .expect("fake upstream: nonblocking listener");
        let addr = listener.local_addr().expect("fake upstream: local addr");
        let scheme = if opts.tls { "https" } else { "http" };
        let base_url = format!("{scheme}://127.0.0.1:{}", addr.port());
        let shared = Arc::new(Shared {
            state: Mutex::new(State::new(opts.file_size)),
            faults: Mutex::new(Vec::new()),
            log: Mutex::new(Vec::new()),
            base_url: base_url.clone(),
            changelog_cap: opts.changelog_cap.max(1),
        });
        let app = Router::new()
            .fallback(server::handle)
            .with_state(Arc::clone(&shared))
            .into_make_service();
        let handle = Handle::new();
        if opts.tls {
            let leaf = ca.leaf(&["localhost", "127.0.0.1"]);
            let config = RustlsConfig::from_config(tls::server_config(&leaf));
            let server = axum_server::from_tcp_rustls(listener, config).handle(handle.clone());
            tokio::spawn(server.serve(app));
        } else {
            let server = axum_server::from_tcp(listener).handle(handle.clone());
            tokio::spawn(server.serve(app));
        }
        handle.listening().await;
        FakeUpstream {
            shared,
            handle,
            ca,
            ca_pem,
            addr,
            base_url,
            _dir: dir,
        }
    }

    /// `https://127.0.0.1:PORT` (or `http://` without TLS), no trailing slash.
    pub fn base_url(&self) -> &str {
        &self.base_url
    }

    /// `<base_url>/simple/`.
    pub fn simple_url(&self) -> String {
        format!("{}/simple/", self.base_url)
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The CA certificate (PEM) that signed the server's leaf.
    pub fn ca_pem_path(&self) -> &Path {
        &self.ca_pem
    }

    pub fn ca(&self) -> &TestCa {
        &self.ca
    }

    /// A reqwest client trusting only the fake's CA (installs the ring provider).
    pub fn client(&self) -> reqwest::Client {
        let _ = rustls::crypto::ring::default_provider().install_default();
        let mut roots = rustls::RootCertStore::empty();
        for cert in tls_certs(&self.ca.cert_pem) {
            roots.add(cert).expect("fake upstream: CA into root store");
        }
        let config = rustls::ClientConfig::builder()
            .with_root_certificates(roots)
            .with_no_client_auth();
        reqwest::Client::builder()
            .use_preconfigured_tls(config)
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .expect("fake upstream: reqwest client")
    }

    /// Stops accepting and closes connections (also done on drop).
    pub fn stop(&self) {
        self.handle.shutdown();
    }

    fn state(&self) -> std::sync::MutexGuard<'_, State> {
        lock(&self.shared.state)
    }

    // ---- data and mutations (each event bumps the global serial) ----

    /// Creates the project if needed; one py3 wheel + one sdist per version.
    pub fn add_project(&self, name: &str, versions: &[&str]) -> u64 {
        let mut st = self.state();
        st.ensure_project(name);
        for v in versions {
            st.add_release(name, &ReleaseSpec::new(v));
        }
        st.serial
    }

    pub fn add_project_with(&self, name: &str, spec: ProjectSpec) -> u64 {
        let mut st = self.state();
        st.ensure_project(name);
        for r in &spec.releases {
            st.add_release(name, r);
        }
        st.serial
    }

    /// A release with one py3 wheel and one sdist (creates the project if needed).
    pub fn add_release(&self, name: &str, version: &str) -> u64 {
        self.state().add_release(name, &ReleaseSpec::new(version))
    }

    pub fn add_release_with(&self, name: &str, spec: ReleaseSpec) -> u64 {
        self.state().add_release(name, &spec)
    }

    /// Adds one file (creating project and release if needed); returns its filename.
    pub fn add_file(&self, name: &str, version: &str, spec: FileSpec) -> String {
        self.state().add_file(name, version, &spec)
    }

    /// Yanks every file of the release (`Some("")` semantics when `reason` is None).
    pub fn yank(&self, name: &str, version: &str, reason: Option<&str>) -> u64 {
        self.state()
            .set_yanked(name, version, Some(reason.unwrap_or("").to_string()))
    }

    pub fn unyank(&self, name: &str, version: &str) -> u64 {
        self.state().set_yanked(name, version, None)
    }

    pub fn remove_file(&self, name: &str, filename: &str) -> u64 {
        self.state().remove_file(name, filename)
    }

    pub fn remove_release(&self, name: &str, version: &str) -> u64 {
        self.state().remove_release(name, version)
    }

    pub fn remove_project(&self, name: &str) -> u64 {
        self.state().remove_project(name)
    }

    /// PEP 792 status (`active`, `archived`, `quarantined`, `deprecated`, or anything).
    pub fn set_status(&self, name: &str, status: &str, reason: Option<&str>) -> u64 {
        self.state().set_status(name, status, reason)
    }

    /// Deterministic bulk data for benchmarks: `n_projects` projects named
    /// `gen-<seed>-<i>` (display names vary in case and separators), each with
    /// `releases_per_project` releases of `files_per_release` files (an sdist, then
    /// wheels for assorted platforms).
    pub fn generated(
        &self,
        n_projects: usize,
        files_per_release: usize,
        releases_per_project: usize,
        seed: u64,
    ) -> u64 {
        const PLATFORMS: [(&str, &str, &str); 6] = [
            ("py3", "none", "any"),
            ("cp312", "cp312", "manylinux_2_17_x86_64"),
            ("cp312", "cp312", "win_amd64"),
            ("cp312", "cp312", "macosx_11_0_arm64"),
            ("cp311", "cp311", "manylinux_2_17_x86_64"),
            ("cp311", "cp311", "win_amd64"),
        ];
        let mut rng = SplitMix(seed);
        let mut st = self.state();
        for i in 0..n_projects {
            let name = match rng.below(3) {
                0 => format!("gen-{seed}-{i}"),
                1 => format!("Gen_{seed}.{i}"),
                _ => format!("GEN-{seed}_{i}"),
            };
            st.ensure_project(&name);
            for r in 0..releases_per_project {
                let version = format!("{}.{}.{}", 1 + r / 100, (r / 10) % 10, r % 10);
                let mut files = Vec::new();
                for f in 0..files_per_release {
                    let spec = if f == 0 {
                        FileSpec::sdist()
                    } else if f <= PLATFORMS.len() {
                        let (p, a, pl) = PLATFORMS[f - 1];
                        FileSpec::wheel_tagged(p, a, pl)
                    } else {
                        FileSpec::wheel_tagged(&format!("cp3{f}"), &format!("cp3{f}"), "any")
                    };
                    files.push(spec.requires_python(">=3.8"));
                }
                st.add_release(&name, &ReleaseSpec::with_files(&version, files));
            }
        }
        st.serial
    }

    // ---- observation ----

    /// The global serial (last journal entry).
    pub fn serial(&self) -> u64 {
        self.state().serial
    }

    /// A project's last serial, None if it does not exist.
    pub fn project_serial(&self, name: &str) -> Option<u64> {
        self.state()
            .projects
            .get(&normalize(name))
            .map(|p| p.last_serial)
    }

    /// Normalized names of the existing projects.
    pub fn project_names(&self) -> Vec<String> {
        self.state().projects.keys().cloned().collect()
    }

    pub fn changelog(&self) -> Vec<ChangelogEntry> {
        self.state().changelog.clone()
    }

    /// Every file a complete mirror must hold (quarantined projects list none).
    pub fn expected_files(&self) -> Vec<ExpectedFile> {
        self.state().expected_files()
    }

    /// The served bytes of a file, by filename.
    pub fn file_bytes(&self, filename: &str) -> Option<bytes::Bytes> {
        self.find_file(filename).map(|f| f.bytes.clone())
    }

    /// The `.metadata` bytes of a wheel, by filename.
    pub fn metadata_bytes(&self, filename: &str) -> Option<bytes::Bytes> {
        self.find_file(filename).and_then(|f| f.metadata.clone())
    }

    /// Absolute URL of a file, by filename.
    pub fn file_url(&self, filename: &str) -> Option<String> {
        self.find_file(filename)
            .map(|f| format!("{}/packages/{}", self.base_url, f.path))
    }

    fn find_file(&self, filename: &str) -> Option<Arc<state::DistFile>> {
        self.state()
            .files
            .values()
            .find(|(_, f)| f.filename == filename)
            .map(|(_, f)| Arc::clone(f))
    }

    /// Writes the whole index as a static tree under `dir` (see `static_tree`), with
    /// file URLs under `base_url` ("" gives root-relative `/packages/...` links).
    pub fn write_static_tree(&self, dir: &Path, base_url: &str) -> std::io::Result<()> {
        static_tree::write(&self.state(), dir, base_url)
    }

    // ---- faults and the request log ----

    /// The next `times` requests matching `target` get `kind` (pages-only and
    /// XML-RPC-only kinds skip requests they cannot apply to).
    pub fn inject(&self, target: FaultTarget, kind: FaultKind, times: usize) {
        if times > 0 {
            lock(&self.shared.faults).push(Fault {
                target,
                kind,
                remaining: times,
            });
        }
    }

    pub fn clear_faults(&self) {
        lock(&self.shared.faults).clear();
    }

    /// Uses of injected faults not yet consumed.
    pub fn pending_faults(&self) -> usize {
        lock(&self.shared.faults).iter().map(|f| f.remaining).sum()
    }

    pub fn requests(&self) -> Vec<RequestRecord> {
        lock(&self.shared.log).clone()
    }

    pub fn count(&self, pred: impl Fn(&RequestRecord) -> bool) -> usize {
        lock(&self.shared.log).iter().filter(|r| pred(r)).count()
    }

    pub fn clear_log(&self) {
        lock(&self.shared.log).clear();
    }
}

impl Drop for FakeUpstream {
    fn drop(&mut self) {
        self.handle.shutdown();
    }
}

fn tls_certs(pem: &str) -> Vec<rustls::pki_types::CertificateDer<'static>> {
    use rustls::pki_types::pem::PemObject;
    rustls::pki_types::CertificateDer::pem_slice_iter(pem.as_bytes())
        .filter_map(Result::ok)
        .collect()
}
