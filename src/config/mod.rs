//! Configuration: `vorpal.toml`, with bandersnatch's key names wherever bandersnatch
//! has one (so `root_uri` and `root-uri` both work: keys are compared with `_` and `-`
//! folded together). Every key has a default, so a missing file is a valid config.

pub mod bandersnatch;
pub mod filters;
pub mod ini;
mod options;
mod sections;
mod toml_file;

use std::path::{Path, PathBuf};

pub use filters::FilterConfig;
pub use toml_file::{load_toml, parse_toml};

/// A configuration problem the user must fix (exit 2). The message names the file,
/// the key, the bad value and what is allowed.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct ConfigError(pub String);

impl ConfigError {
    pub fn new(msg: impl Into<String>) -> Self {
        Self(msg.into())
    }
}

/// A setting with a fixed set of values, each named by one word in both file formats.
pub trait Named: Copy + PartialEq + 'static {
    /// Every value with its word: read case-insensitively, written as here.
    const NAMES: &'static [(&'static str, Self)];

    fn name(self) -> &'static str {
        Self::NAMES
            .iter()
            .find(|(_, v)| *v == self)
            .map_or("", |(n, _)| n)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ApiMethod {
    /// PEP 691 JSON root with per-project `_last-serial` (bandersnatch 8's way).
    #[default]
    Simple,
    /// XML-RPC `list_packages_with_serial` / `changelog_since_serial`.
    Xmlrpc,
}

impl Named for ApiMethod {
    const NAMES: &'static [(&'static str, Self)] =
        &[("simple", Self::Simple), ("xmlrpc", Self::Xmlrpc)];
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum MetadataSource {
    /// Warehouse's JSON API, `/pypi/<name>/json`.
    #[default]
    Json,
    /// The PEP 691 JSON detail page: works against any PEP 691 index.
    Simple,
}

impl Named for MetadataSource {
    const NAMES: &'static [(&'static str, Self)] =
        &[("json", Self::Json), ("simple", Self::Simple)];
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum CompareMethod {
    #[default]
    Hash,
    Stat,
}

impl Named for CompareMethod {
    const NAMES: &'static [(&'static str, Self)] = &[("hash", Self::Hash), ("stat", Self::Stat)];
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum SimpleFormat {
    #[default]
    All,
    Html,
    Json,
}

impl Named for SimpleFormat {
    const NAMES: &'static [(&'static str, Self)] = &[
        ("all", Self::All),
        ("html", Self::Html),
        ("json", Self::Json),
    ];
}

/// Where the mirror tree lives (bandersnatch `storage-backend`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum StorageBackend {
    #[default]
    Filesystem,
    /// An S3-compatible bucket, configured by `[s3]`.
    S3,
}

impl Named for StorageBackend {
    const NAMES: &'static [(&'static str, Self)] =
        &[("filesystem", Self::Filesystem), ("s3", Self::S3)];
}

/// `[s3]`, bandersnatch's names, for an object-storage backend.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct S3Config {
    pub region_name: Option<String>,
    pub aws_access_key_id: Option<String>,
    pub aws_secret_access_key: Option<String>,
    pub endpoint_url: Option<String>,
    pub signature_version: Option<String>,
}

/// `verify` values of PEP 493's config file, reused by `[https] verify`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum VerifySetting {
    Enable,
    Disable,
    PlatformDefault,
}

impl Named for VerifySetting {
    const NAMES: &'static [(&'static str, Self)] = &[
        ("enable", Self::Enable),
        ("disable", Self::Disable),
        ("platform_default", Self::PlatformDefault),
    ];
}

impl VerifySetting {
    /// Exact, case-sensitive values as PEP 493 specifies; anything else is `None`.
    pub fn parse(value: &str) -> Option<Self> {
        Self::NAMES
            .iter()
            .find(|(n, _)| *n == value)
            .map(|(_, v)| *v)
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct MirrorConfig {
    /// Mirror root; `web/` lives below it.
    pub directory: PathBuf,
    /// The upstream, named explicitly (PEP 449).
    pub master: String,
    pub api_method: ApiMethod,
    pub metadata_source: MetadataSource,
    /// Projects in flight.
    pub workers: usize,
    /// Files in flight, across all projects.
    pub download_concurrency: usize,
    /// Also write `web/json/<name>` and `web/pypi/<name>/json`.
    pub json: bool,
    pub allow_non_https: bool,
    /// Per-request connect/read timeout, seconds.
    pub timeout: f64,
    /// Whole-request timeout, seconds.
    pub global_timeout: f64,
    pub stop_on_error: bool,
    pub release_files: bool,
    pub core_metadata: bool,
    pub hash_index: bool,
    pub simple_format: SimpleFormat,
    pub compare_method: CompareMethod,
    pub digest_name: String,
    pub keep_index_versions: u32,
    pub cleanup: bool,
    pub root_uri: Option<String>,
    pub download_mirror: Option<String>,
    pub download_mirror_no_fallback: bool,
    pub diff_file: Option<PathBuf>,
    pub diff_append_epoch: bool,
    pub proxy: Option<String>,
    /// Hosts file URLs may point at besides the upstream's own host.
    pub download_hosts: Vec<String>,
    /// Tries for a metadata response whose serial is stale (PROTOCOLS.md).
    pub stale_retries: u32,
    /// Keep projects that upstream deleted (PEP 381 says delete; this opts out).
    pub keep_deleted: bool,
    pub storage_backend: StorageBackend,
}

impl Default for MirrorConfig {
    fn default() -> Self {
        Self {
            directory: PathBuf::from("./mirror"),
            master: "https://pypi.org".into(),
            api_method: ApiMethod::default(),
            metadata_source: MetadataSource::default(),
            workers: 6,
            download_concurrency: 16,
            json: false,
            allow_non_https: false,
            timeout: 10.0,
            global_timeout: 1800.0,
            stop_on_error: false,
            release_files: true,
            core_metadata: true,
            hash_index: false,
            simple_format: SimpleFormat::default(),
            compare_method: CompareMethod::default(),
            digest_name: "sha256".into(),
            keep_index_versions: 0,
            cleanup: false,
            root_uri: None,
            download_mirror: None,
            download_mirror_no_fallback: false,
            diff_file: None,
            diff_append_epoch: false,
            proxy: None,
            download_hosts: vec!["files.pythonhosted.org".into()],
            stale_retries: 3,
            keep_deleted: false,
            storage_backend: StorageBackend::Filesystem,
        }
    }
}

#[derive(Debug, Clone, Default)]
pub struct HttpsConfig {
    /// The mirror config's own PEP 493 choice; `None` when not set (or unknown value).
    pub verify: Option<VerifySetting>,
    /// Extra trusted roots (PEM files).
    pub ca_bundle: Vec<PathBuf>,
    /// `host`, `host:port`, `[v6]:port`: verification off for just these.
    pub insecure_hosts: Vec<String>,
    /// PEM with certificate chain and private key, for mTLS upstreams.
    pub client_cert: Option<PathBuf>,
}

#[derive(Debug, Clone, Default)]
pub struct ServeConfig {
    pub listen: Vec<String>,
    pub tls_cert: Option<PathBuf>,
    pub tls_key: Option<PathBuf>,
    pub public_url: Option<String>,
}

#[derive(Debug, Clone, Default)]
pub struct Config {
    /// The file this came from, for messages.
    pub source: Option<PathBuf>,
    pub mirror: MirrorConfig,
    pub https: HttpsConfig,
    pub serve: ServeConfig,
    /// `[s3]`, when present.
    pub s3: Option<S3Config>,
    /// `[plugins]` and the filter sections.
    pub filters: FilterConfig,
    /// Warnings found while loading (unknown keys, unknown values); logged by the caller.
    pub warnings: Vec<String>,
}

/// Where vorpal looks for its config when `-c` is not given: vorpal's own files, then
/// bandersnatch's, so an existing bandersnatch host works unchanged.
pub const DEFAULT_CONFIG_PATHS: &[&str] = &[
    "vorpal.toml",
    "/etc/vorpal/vorpal.toml",
    "/etc/bandersnatch.conf",
];

/// The two file formats `-c` accepts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConfigFormat {
    /// `vorpal.toml`.
    Toml,
    /// A `bandersnatch.conf` (Python ConfigParser INI).
    Ini,
}

/// Which format `path` holds. By extension first: `.toml` is TOML; `.conf`, `.ini`
/// and `.cfg` are INI. Any other name is TOML if it parses as TOML, else INI if it
/// parses as INI with a `[mirror]` section (bandersnatch's values such as
/// `directory = /srv/pypi` are not valid TOML), else TOML (whose error is reported).
pub fn detect_format(path: &Path, text: &str) -> ConfigFormat {
    let ext = path
        .extension()
        .and_then(|e| e.to_str())
        .map(str::to_ascii_lowercase);
    match ext.as_deref() {
        Some("toml") => ConfigFormat::Toml,
        Some("conf" | "ini" | "cfg") => ConfigFormat::Ini,
        _ if text.parse::<toml::Table>().is_ok() => ConfigFormat::Toml,
        _ if ini::parse(text).is_ok_and(|d| d.has_section("mirror")) => ConfigFormat::Ini,
        _ => ConfigFormat::Toml,
    }
}

/// Read a `bandersnatch.conf` (INI text already read from `path`) with bandersnatch's meaning.
pub fn parse_bandersnatch(path: &Path, text: &str) -> Result<Config, ConfigError> {
    let doc = ini::parse(text).map_err(|e| {
        ConfigError::new(format!(
            "{}:{}: {}; a bandersnatch.conf is INI: [section] headers and key = value lines",
            path.display(),
            e.line,
            e.message
        ))
    })?;
    let mut map = filters::SectionMap::new();
    for section in doc.sections() {
        let options = doc
            .options(section)
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        map.insert(section.to_string(), options);
    }
    bandersnatch::from_ini_sections(&map, path)
}

fn read_text(path: &Path) -> Result<String, ConfigError> {
    std::fs::read_to_string(path).map_err(|e| {
        ConfigError::new(format!(
            "cannot read config file {}: {e}; pass an existing file with -c PATH",
            path.display()
        ))
    })
}

/// Load one file, TOML or INI (see [`detect_format`]).
pub fn load_file(path: &Path) -> Result<Config, ConfigError> {
    let text = read_text(path)?;
    match detect_format(path, &text) {
        ConfigFormat::Toml => parse_toml(path, &text),
        ConfigFormat::Ini => parse_bandersnatch(path, &text),
    }
}

impl Config {
    /// Load `path`, or the first default path that exists, or the defaults.
    pub fn load(path: Option<&Path>) -> Result<Config, ConfigError> {
        match path {
            Some(p) => load_file(p),
            None => {
                for candidate in DEFAULT_CONFIG_PATHS {
                    let p = Path::new(candidate);
                    if p.is_file() {
                        return load_file(p);
                    }
                }
                Ok(Config::default())
            }
        }
    }
}

#[cfg(test)]
mod load_tests {
    use super::*;

    #[test]
    fn format_by_extension_then_content() {
        let ini = "[mirror]\ndirectory = /srv/pypi\n";
        let toml = "[mirror]\ndirectory = \"/srv/pypi\"\n";
        assert_eq!(detect_format(Path::new("b.conf"), toml), ConfigFormat::Ini);
        assert_eq!(detect_format(Path::new("v.toml"), ini), ConfigFormat::Toml);
        assert_eq!(
            detect_format(Path::new("mirror-config"), ini),
            ConfigFormat::Ini
        );
        assert_eq!(
            detect_format(Path::new("mirror-config"), toml),
            ConfigFormat::Toml
        );
        assert_eq!(
            detect_format(Path::new("junk"), "x = [\n"),
            ConfigFormat::Toml
        );
    }

    #[test]
    fn ini_syntax_errors_name_file_and_line() {
        let err = parse_bandersnatch(
            Path::new("/etc/b.conf"),
            "[mirror]\ndirectory = /x\nno delimiter here\n",
        )
        .unwrap_err()
        .to_string();
        assert!(err.starts_with("/etc/b.conf:3: "), "{err}");
    }

    #[test]
    fn ini_reads_with_bandersnatch_meaning() {
        let c = parse_bandersnatch(
            Path::new("b.conf"),
            "[mirror]\ndirectory = /srv/pypi\nworkers = 5\njson = yes\n",
        )
        .unwrap();
        assert_eq!(c.mirror.directory, PathBuf::from("/srv/pypi"));
        assert_eq!(c.mirror.workers, 5);
        assert!(c.mirror.json);
    }
}
