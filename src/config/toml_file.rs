//! Reading `vorpal.toml` into [`Config`], naming the key, value and what is allowed
//! on every mistake.

use super::*;
use toml::{Table, Value};

/// Fold `_` into `-` so bandersnatch's mixed spellings (`root_uri`, `hash-index`) both work.
fn norm_key(k: &str) -> String {
    k.trim().to_ascii_lowercase().replace('_', "-")
}

/// A typed reader over one section that records which keys were used.
pub(crate) struct Section<'a> {
    file: String,
    name: &'a str,
    entries: Vec<(String, &'a Value)>,
    used: Vec<bool>,
}

impl<'a> Section<'a> {
    fn new(file: &Path, name: &'a str, table: Option<&'a Table>) -> Self {
        let entries: Vec<(String, &Value)> = table
            .map(|t| t.iter().map(|(k, v)| (norm_key(k), v)).collect())
            .unwrap_or_default();
        let used = vec![false; entries.len()];
        Self {
            file: file.display().to_string(),
            name,
            entries,
            used,
        }
    }

    fn take(&mut self, key: &str) -> Option<&'a Value> {
        let idx = self.entries.iter().position(|(k, _)| k == key)?;
        self.used[idx] = true;
        Some(self.entries[idx].1)
    }

    fn err(&self, key: &str, value: &Value, allowed: &str) -> ConfigError {
        ConfigError::new(format!(
            "{}: [{}] {} = {} is not valid; expected {}",
            self.file, self.name, key, value, allowed
        ))
    }

    fn string(&mut self, key: &str) -> Result<Option<String>, ConfigError> {
        match self.take(key) {
            None => Ok(None),
            Some(Value::String(s)) => Ok(Some(s.clone())),
            Some(v) => Err(self.err(key, v, "a string")),
        }
    }

    fn path(&mut self, key: &str) -> Result<Option<PathBuf>, ConfigError> {
        Ok(self
            .string(key)?
            .filter(|s| !s.is_empty())
            .map(PathBuf::from))
    }

    fn bool(&mut self, key: &str) -> Result<Option<bool>, ConfigError> {
        match self.take(key) {
            None => Ok(None),
            Some(Value::Boolean(b)) => Ok(Some(*b)),
            Some(v) => Err(self.err(key, v, "true or false")),
        }
    }

    fn uint(&mut self, key: &str, min: i64, max: i64) -> Result<Option<i64>, ConfigError> {
        match self.take(key) {
            None => Ok(None),
            Some(Value::Integer(i)) if (min..=max).contains(i) => Ok(Some(*i)),
            Some(v) => Err(self.err(key, v, &format!("an integer from {min} to {max}"))),
        }
    }

    fn seconds(&mut self, key: &str) -> Result<Option<f64>, ConfigError> {
        match self.take(key) {
            None => Ok(None),
            Some(Value::Integer(i)) if *i > 0 => Ok(Some(*i as f64)),
            Some(Value::Float(f)) if *f > 0.0 => Ok(Some(*f)),
            Some(v) => Err(self.err(key, v, "a positive number of seconds")),
        }
    }

    /// A list of strings; a single string is accepted as a one-element list.
    fn strings(&mut self, key: &str) -> Result<Option<Vec<String>>, ConfigError> {
        match self.take(key) {
            None => Ok(None),
            Some(Value::String(s)) => Ok(Some(s.split_whitespace().map(str::to_string).collect())),
            Some(Value::Array(items)) => {
                let mut out = Vec::with_capacity(items.len());
                for item in items {
                    match item {
                        Value::String(s) => out.push(s.clone()),
                        other => return Err(self.err(key, other, "a list of strings")),
                    }
                }
                Ok(Some(out))
            }
            Some(v) => Err(self.err(key, v, "a list of strings")),
        }
    }

    fn choice<T: Copy>(
        &mut self,
        key: &str,
        options: &[(&str, T)],
    ) -> Result<Option<T>, ConfigError> {
        let Some(v) = self.take(key) else {
            return Ok(None);
        };
        let allowed = options
            .iter()
            .map(|(n, _)| format!("\"{n}\""))
            .collect::<Vec<_>>()
            .join(", ");
        let Value::String(s) = v else {
            return Err(self.err(key, v, &format!("one of {allowed}")));
        };
        options
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(s.trim()))
            .map(|(_, t)| Some(*t))
            .ok_or_else(|| self.err(key, v, &format!("one of {allowed}")))
    }

    /// Warnings for every key nobody asked for.
    fn unknown_keys(&self) -> Vec<String> {
        self.entries
            .iter()
            .zip(&self.used)
            .filter(|(_, used)| !**used)
            .map(|((k, _), _)| {
                format!(
                    "{}: unknown key [{}] {} is ignored",
                    self.file, self.name, k
                )
            })
            .collect()
    }
}

fn section<'a>(file: &Path, root: &'a Table, name: &'a str) -> Result<Section<'a>, ConfigError> {
    match root.get(name) {
        None => Ok(Section::new(file, name, None)),
        Some(Value::Table(t)) => Ok(Section::new(file, name, Some(t))),
        Some(_) => Err(ConfigError::new(format!(
            "{}: [{name}] must be a table (a section), not a value",
            file.display()
        ))),
    }
}

/// Parse TOML text (already read from `path`, which is used in messages).
pub fn parse_toml(path: &Path, text: &str) -> Result<Config, ConfigError> {
    let root: Table = text.parse().map_err(|e: toml::de::Error| {
        ConfigError::new(format!(
            "{}: not valid TOML: {}",
            path.display(),
            e.to_string().trim()
        ))
    })?;
    let mut cfg = Config {
        source: Some(path.to_path_buf()),
        ..Config::default()
    };
    let d = MirrorConfig::default();

    let mut m = section(path, &root, "mirror")?;
    let mirror = MirrorConfig {
        directory: m.path("directory")?.unwrap_or(d.directory),
        master: m
            .string("master")?
            .map(|s| s.trim_end_matches('/').to_string())
            .unwrap_or(d.master),
        api_method: m
            .choice(
                "api-method",
                &[("simple", ApiMethod::Simple), ("xmlrpc", ApiMethod::Xmlrpc)],
            )?
            .unwrap_or_default(),
        metadata_source: m
            .choice(
                "metadata-source",
                &[
                    ("json", MetadataSource::Json),
                    ("simple", MetadataSource::Simple),
                ],
            )?
            .unwrap_or_default(),
        workers: m.uint("workers", 1, 256)?.map_or(d.workers, |v| v as usize),
        download_concurrency: m
            .uint("download-concurrency", 1, 1024)?
            .map_or(d.download_concurrency, |v| v as usize),
        json: m.bool("json")?.unwrap_or(d.json),
        allow_non_https: m.bool("allow-non-https")?.unwrap_or(d.allow_non_https),
        timeout: m.seconds("timeout")?.unwrap_or(d.timeout),
        global_timeout: m.seconds("global-timeout")?.unwrap_or(d.global_timeout),
        stop_on_error: m.bool("stop-on-error")?.unwrap_or(d.stop_on_error),
        release_files: m.bool("release-files")?.unwrap_or(d.release_files),
        core_metadata: m.bool("core-metadata")?.unwrap_or(d.core_metadata),
        hash_index: m.bool("hash-index")?.unwrap_or(d.hash_index),
        simple_format: m
            .choice(
                "simple-format",
                &[
                    ("all", SimpleFormat::All),
                    ("html", SimpleFormat::Html),
                    ("json", SimpleFormat::Json),
                ],
            )?
            .unwrap_or_default(),
        compare_method: m
            .choice(
                "compare-method",
                &[("hash", CompareMethod::Hash), ("stat", CompareMethod::Stat)],
            )?
            .unwrap_or_default(),
        digest_name: m
            .choice("digest-name", &[("sha256", "sha256"), ("md5", "md5")])?
            .map_or(d.digest_name, str::to_string),
        keep_index_versions: m
            .uint("keep-index-versions", 0, 1000)?
            .map_or(0, |v| v as u32),
        cleanup: m.bool("cleanup")?.unwrap_or(d.cleanup),
        root_uri: m.string("root-uri")?.filter(|s| !s.is_empty()),
        download_mirror: m.string("download-mirror")?.filter(|s| !s.is_empty()),
        download_mirror_no_fallback: m.bool("download-mirror-no-fallback")?.unwrap_or(false),
        diff_file: m.path("diff-file")?,
        diff_append_epoch: m.bool("diff-append-epoch")?.unwrap_or(false),
        proxy: m.string("proxy")?.filter(|s| !s.is_empty()),
        download_hosts: m.strings("download-hosts")?.unwrap_or(d.download_hosts),
        stale_retries: m
            .uint("stale-retries", 1, 20)?
            .map_or(d.stale_retries, |v| v as u32),
        keep_deleted: m.bool("keep-deleted")?.unwrap_or(d.keep_deleted),
        storage_backend: m
            .choice(
                "storage-backend",
                &[
                    ("filesystem", StorageBackend::Filesystem),
                    ("s3", StorageBackend::S3),
                ],
            )?
            .unwrap_or_default(),
    };
    cfg.warnings.extend(m.unknown_keys());
    cfg.mirror = mirror;

    let mut h = section(path, &root, "https")?;
    let verify = h.string("verify")?;
    cfg.https = HttpsConfig {
        verify: verify
            .as_deref()
            .and_then(|v| VerifySetting::parse(v.trim())),
        ca_bundle: h
            .strings("ca-bundle")?
            .unwrap_or_default()
            .into_iter()
            .filter(|s| !s.is_empty())
            .map(PathBuf::from)
            .collect(),
        insecure_hosts: h.strings("insecure-hosts")?.unwrap_or_default(),
        client_cert: h.path("client-cert")?,
    };
    if let Some(v) = verify
        && cfg.https.verify.is_none()
    {
        cfg.warnings.push(format!(
            "{}: [https] verify = \"{v}\" is not one of enable, disable, platform_default; treated as not set",
            path.display()
        ));
    }
    cfg.warnings.extend(h.unknown_keys());

    let mut s = section(path, &root, "serve")?;
    cfg.serve = ServeConfig {
        listen: s.strings("listen")?.unwrap_or_default(),
        tls_cert: s.path("tls-cert")?,
        tls_key: s.path("tls-key")?,
        public_url: s.string("public-url")?.filter(|u| !u.is_empty()),
    };
    cfg.warnings.extend(s.unknown_keys());

    if root.contains_key("s3") {
        let mut s3 = section(path, &root, "s3")?;
        cfg.s3 = Some(S3Config {
            region_name: s3.string("region-name")?,
            aws_access_key_id: s3.string("aws-access-key-id")?,
            aws_secret_access_key: s3.string("aws-secret-access-key")?,
            endpoint_url: s3.string("endpoint-url")?,
            signature_version: s3.string("signature-version")?,
        });
        cfg.warnings.extend(s3.unknown_keys());
    }

    let (filters, warnings) =
        filters::FilterConfig::from_sections(&filter_sections(path, &root)?, path)?;
    cfg.filters = filters;
    cfg.warnings.extend(warnings);

    for key in root.keys() {
        if !matches!(key.as_str(), "mirror" | "https" | "serve" | "s3")
            && !filters::FILTER_SECTIONS.contains(&key.as_str())
        {
            cfg.warnings.push(format!(
                "{}: unknown section [{key}] is ignored",
                path.display()
            ));
        }
    }
    Ok(cfg)
}

/// The filter sections as plain text values: a list becomes one entry per line, numbers
/// and booleans their text, so TOML and INI share one filter reader.
fn filter_sections(path: &Path, root: &Table) -> Result<filters::SectionMap, ConfigError> {
    let mut out = filters::SectionMap::new();
    for name in filters::FILTER_SECTIONS {
        let Some(value) = root.get(*name) else {
            continue;
        };
        let Value::Table(table) = value else {
            return Err(ConfigError::new(format!(
                "{}: [{name}] must be a table (a section), not a value",
                path.display()
            )));
        };
        let mut options = std::collections::BTreeMap::new();
        for (key, v) in table {
            let text = match v {
                Value::String(s) => s.clone(),
                Value::Integer(i) => i.to_string(),
                Value::Float(f) => f.to_string(),
                Value::Boolean(b) => b.to_string(),
                Value::Array(items) => {
                    let mut lines = Vec::with_capacity(items.len());
                    for item in items {
                        match item {
                            Value::String(s) => lines.push(s.clone()),
                            other => {
                                return Err(ConfigError::new(format!(
                                    "{}: [{name}] {key} = {other} is not valid; expected a string or a list of strings",
                                    path.display()
                                )));
                            }
                        }
                    }
                    lines.join("\n")
                }
                other => {
                    return Err(ConfigError::new(format!(
                        "{}: [{name}] {key} = {other} is not valid; expected a string, number, boolean or list of strings",
                        path.display()
                    )));
                }
            };
            options.insert(key.to_ascii_lowercase(), text);
        }
        out.insert(name.to_string(), options);
    }
    Ok(out)
}

/// Read and parse a `vorpal.toml`.
pub fn load_toml(path: &Path) -> Result<Config, ConfigError> {
    let text = std::fs::read_to_string(path).map_err(|e| {
        ConfigError::new(format!(
            "cannot read config file {}: {e}; pass an existing file with -c PATH",
            path.display()
        ))
    })?;
    parse_toml(path, &text)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<Config, ConfigError> {
        parse_toml(Path::new("test.toml"), text)
    }

    #[test]
    fn empty_file_gives_defaults() {
        let c = parse("").unwrap();
        assert_eq!(c.mirror.master, "https://pypi.org");
        assert_eq!(c.mirror.api_method, ApiMethod::Simple);
        assert!(c.warnings.is_empty());
    }

    #[test]
    fn both_key_spellings_work() {
        let c = parse("[mirror]\nroot_uri = \"https://a\"\nhash-index = true\n").unwrap();
        assert_eq!(c.mirror.root_uri.as_deref(), Some("https://a"));
        assert!(c.mirror.hash_index);
    }

    #[test]
    fn bad_value_names_key_and_allowed() {
        let e = parse("[mirror]\napi-method = \"soap\"\n").unwrap_err().0;
        assert!(e.contains("api-method"), "{e}");
        assert!(e.contains("\"xmlrpc\""), "{e}");
    }

    #[test]
    fn unknown_keys_warn() {
        let c = parse("[mirror]\nworkerz = 3\n[extra]\n").unwrap();
        assert_eq!(c.warnings.len(), 2, "{:?}", c.warnings);
    }

    #[test]
    fn unknown_verify_value_is_absent_with_warning() {
        let c = parse("[https]\nverify = \"Enable\"\n").unwrap();
        assert_eq!(c.https.verify, None);
        assert_eq!(c.warnings.len(), 1);
    }
}
