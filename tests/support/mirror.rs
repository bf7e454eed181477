//! The vorpal side of sync tests: a mirror directory configured against a fake
//! upstream, in-process sync runs, and tree comparisons.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use sha2::{Digest, Sha256};
use vorpal::config::{ApiMethod, Config, MetadataSource};
use vorpal::environment::Environment;
use vorpal::https::{HttpClient, HttpsSettings, RetryPolicy};
use vorpal::sync::{SyncOptions, SyncReport, run_sync};

use crate::support::upstream::FakeUpstream;

pub struct TestMirror {
    pub dir: tempfile::TempDir,
    pub config: Config,
}

impl TestMirror {
    pub fn new(fake: &FakeUpstream) -> TestMirror {
        Self::with(fake, ApiMethod::Simple, MetadataSource::Json)
    }

    pub fn with(fake: &FakeUpstream, api: ApiMethod, source: MetadataSource) -> TestMirror {
        let dir = tempfile::tempdir().unwrap();
        let mut config = Config::default();
        config.mirror.directory = dir.path().join("mirror");
        config.mirror.master = fake.base_url().trim_end_matches('/').to_string();
        config.mirror.api_method = api;
        config.mirror.metadata_source = source;
        config.mirror.workers = 4;
        config.mirror.download_concurrency = 8;
        config.https.ca_bundle = vec![fake.ca_pem_path().to_path_buf()];
        TestMirror { dir, config }
    }

    pub fn root(&self) -> PathBuf {
        self.config.mirror.directory.clone()
    }

    pub fn web(&self, rel: &str) -> PathBuf {
        self.root().join("web").join(rel)
    }

    /// A client with quick retries, trusting the fake upstream's CA.
    pub fn client(&self) -> HttpClient {
        let env = Environment::from_pairs(Vec::<(String, String)>::new(), false);
        let mut settings = HttpsSettings::resolve(
            None,
            &[],
            Path::new("/nonexistent/vorpal/cert-verification.cfg"),
            &env,
            &self.config,
        )
        .unwrap();
        settings.retry = RetryPolicy {
            attempts: 3,
            base: Duration::from_millis(10),
            max: Duration::from_millis(50),
        };
        HttpClient::new(&settings, &env).unwrap()
    }

    pub fn options() -> SyncOptions {
        SyncOptions {
            stale_backoff: Some(Duration::from_millis(20)),
            ..SyncOptions::default()
        }
    }

    pub async fn try_sync(
        &self,
        opts: SyncOptions,
    ) -> Result<SyncReport, vorpal::sync::run::SyncError> {
        run_sync(&self.config, self.client(), opts).await
    }

    /// A normal run that must succeed.
    pub async fn sync(&self) -> SyncReport {
        let report = self.try_sync(Self::options()).await.unwrap();
        assert!(report.succeeded(), "sync failed: {:?}", report.failed);
        report
    }

    /// Every file under web/ (but last-modified, whose content is a time) → sha256.
    pub fn snapshot(&self) -> BTreeMap<String, String> {
        snapshot(&self.root().join("web"))
    }

    pub fn status(&self) -> u64 {
        std::fs::read_to_string(self.root().join("status"))
            .map(|s| s.trim().parse().unwrap())
            .unwrap_or(0)
    }

    /// The mirror holds exactly the files upstream lists (and their .metadata), each
    /// with the right hash.
    pub fn assert_matches(&self, fake: &FakeUpstream) {
        let tree = self.snapshot();
        let mut want = BTreeMap::new();
        for f in fake.expected_files() {
            want.insert(
                format!("packages/{}", f.path_under_packages),
                f.sha256.clone(),
            );
            if let Some(m) = &f.metadata_sha256 {
                want.insert(
                    format!("packages/{}.metadata", f.path_under_packages),
                    m.clone(),
                );
            }
        }
        let have: BTreeMap<String, String> = tree
            .into_iter()
            .filter(|(k, _)| k.starts_with("packages/"))
            .collect();
        assert_eq!(have, want, "mirror files differ from what upstream lists");
        for name in fake.project_names() {
            let n = crate::support::upstream::normalize(&name);
            for page in ["index.html", "index.v1_html", "index.v1_json"] {
                assert!(
                    self.web(&format!("simple/{n}/{page}")).is_file(),
                    "missing page simple/{n}/{page}"
                );
            }
        }
    }
}

/// sha256 of every regular file below `web`, keyed by path relative to it.
pub fn snapshot(web: &Path) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    let mut stack = vec![web.to_path_buf()];
    while let Some(dir) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue;
        };
        for e in entries.flatten() {
            let p = e.path();
            if p.is_dir() {
                stack.push(p);
            } else {
                let rel = p
                    .strip_prefix(web)
                    .unwrap()
                    .to_string_lossy()
                    .replace('\\', "/");
                if rel == "last-modified" {
                    continue;
                }
                let bytes = std::fs::read(&p).unwrap();
                out.insert(rel, hex::encode(Sha256::digest(&bytes)));
            }
        }
    }
    out
}

/// Names of temp files anywhere below `root` (a crash must not leave any visible).
pub fn temp_files(root: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(dir) = stack.pop() {
        for e in std::fs::read_dir(&dir).into_iter().flatten().flatten() {
            let p = e.path();
            if p.is_dir() {
                stack.push(p);
            } else if e.file_name().to_string_lossy().starts_with(".vorpal-tmp.") {
                out.push(p);
            }
        }
    }
    out
}
