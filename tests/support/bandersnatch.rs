//! The real bandersnatch (6.8, from the test venv) run against the fake upstream, and
//! the same `bandersnatch.conf` read by vorpal, so both mirror from one file.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Output;

use vorpal::config::Config;
use vorpal::config::filters::SectionMap;

use crate::support::upstream::FakeUpstream;

/// A `bandersnatch.conf` for `directory`, mirroring `fake` with `api_method`
/// (`simple` or `xmlrpc`), 2 workers, no JSON, release files on; `extra` is appended
/// verbatim (`[plugins]` and the filter sections).
pub fn conf_text(fake: &FakeUpstream, directory: &Path, api_method: &str, extra: &str) -> String {
    format!(
        "[mirror]\n\
         directory = {}\n\
         master = {}\n\
         api-method = {api_method}\n\
         workers = 2\n\
         json = false\n\
         release-files = true\n\
         timeout = 10\n\
         global-timeout = 120\n\
         stop-on-error = false\n\
         hash-index = false\n\
         \n{extra}",
        directory.display(),
        fake.base_url(),
    )
}

/// vorpal's reading of a `bandersnatch.conf` text, through the same INI reader and
/// mapping `vorpal --config bandersnatch.conf` uses, then pointed at the fake's CA.
pub fn vorpal_config(text: &str, source: &Path, fake: &FakeUpstream) -> Config {
    let doc = vorpal::config::ini::parse(text)
        .unwrap_or_else(|e| panic!("test bandersnatch.conf does not parse: {e}\n{text}"));
    let map: SectionMap = doc
        .sections()
        .map(|s| {
            let options: BTreeMap<String, String> = doc
                .options(s)
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect();
            (s.to_string(), options)
        })
        .collect();
    let mut cfg = vorpal::config::bandersnatch::from_ini_sections(&map, source)
        .unwrap_or_else(|e| panic!("vorpal rejects the test bandersnatch.conf: {e}\n{text}"));
    cfg.https.ca_bundle = vec![fake.ca_pem_path().to_path_buf()];
    cfg
}

/// What one bandersnatch run did, for assertions and failure messages.
pub struct BandersnatchRun {
    pub success: bool,
    pub output: String,
}

/// Run `bandersnatch -c <conf> mirror` with a clean environment: PATH and HOME only,
/// plus `SSL_CERT_FILE` naming the fake's CA (aiohttp uses Python's default SSL
/// context, which OpenSSL points at that file). Runs without blocking the runtime
/// that serves the fake upstream.
pub async fn mirror(exe: &Path, conf: &Path, fake: &FakeUpstream) -> BandersnatchRun {
    let home = conf
        .parent()
        .map_or_else(|| PathBuf::from("/"), Path::to_path_buf);
    let out: Output = tokio::process::Command::new(exe)
        .arg("-c")
        .arg(conf)
        .arg("mirror")
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("HOME", &home)
        .env("SSL_CERT_FILE", fake.ca_pem_path())
        .env("LC_ALL", "C.UTF-8")
        .kill_on_drop(true)
        .output()
        .await
        .unwrap_or_else(|e| panic!("cannot start {}: {e}", exe.display()));
    let output = format!(
        "bandersnatch exit {:?}\n--- stdout\n{}\n--- stderr\n{}",
        out.status.code(),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    // bandersnatch 6 exits 0 even when a package failed; its log says so.
    let success = out.status.success() && !output.contains("Error syncing package");
    BandersnatchRun { success, output }
}
