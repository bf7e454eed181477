//! `bandersnatch.conf` read with bandersnatch's meaning, from the section map the INI
//! reader produces, and a [`Config`] written back as an equivalent `vorpal.toml`.
//!
//! Values are read as Python's ConfigParser reads them (booleans: yes/no, true/false,
//! on/off, 1/0, any case); option names compare with `-` and `_` folded, as bandersnatch
//! 7 does. bandersnatch requires `[mirror]` and `directory`; so does this reader.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use toml::{Table, Value};

use super::filters::{FILTER_SECTIONS, FilterConfig, SectionMap, parse_bool};
use super::*;

/// bandersnatch's default for `root_uri` when `release-files = false`.
const DEFAULT_ROOT_URI: &str = "https://files.pythonhosted.org";

/// Map a parsed `bandersnatch.conf` onto vorpal's configuration.
pub fn from_ini_sections(map: &SectionMap, source: &Path) -> Result<Config, ConfigError> {
    let file = source.display().to_string();
    let Some(mirror_section) = map.get("mirror") else {
        return Err(ConfigError::new(format!(
            "{file}: no [mirror] section; a bandersnatch.conf needs [mirror] with at least directory = /path/to/mirror"
        )));
    };
    let mut cfg = Config {
        source: Some(source.to_path_buf()),
        ..Config::default()
    };
    let mut m = Options::new(&file, "mirror", mirror_section);
    let d = MirrorConfig::default();

    let directory = m
        .string("directory")
        .filter(|s| !s.is_empty())
        .ok_or_else(|| {
            ConfigError::new(format!(
                "{file}: [mirror] directory is required; set it to the mirror's root folder"
            ))
        })?;
    let release_files = m.bool("release-files")?.unwrap_or(d.release_files);
    let mut root_uri = m.string("root-uri").filter(|s| !s.is_empty());
    if !release_files && root_uri.is_none() {
        m.warnings.push(format!(
            "{file}: [mirror] release-files = false without root_uri; links point at {DEFAULT_ROOT_URI}"
        ));
        root_uri = Some(DEFAULT_ROOT_URI.to_string());
    }
    let download_mirror = m.string("download-mirror").filter(|s| !s.is_empty());
    let no_fallback = m.bool("download-mirror-no-fallback")?.unwrap_or(false);
    if no_fallback && download_mirror.is_none() {
        m.warnings.push(format!(
            "{file}: [mirror] download-mirror-no-fallback has no effect without download-mirror"
        ));
    }
    let diff_file = match m.string("diff-file").filter(|s| !s.is_empty()) {
        Some(raw) => Some(PathBuf::from(substitute_reference(map, &file, &raw)?)),
        None => None,
    };
    if let Some(v) = m.uint("verifiers", 1, 10)? {
        m.warnings.push(format!(
            "{file}: [mirror] verifiers = {v} is accepted but unused; use vorpal verify --workers N"
        ));
    }
    if let Some(v) = m.string("log-config") {
        m.warnings.push(format!(
            "{file}: [mirror] log-config = {v} is ignored; vorpal logs through RUST_LOG and its own options"
        ));
    }
    // bandersnatch 1.x-3.x: delete-packages = false kept projects removed upstream.
    let delete_packages = m.bool("delete-packages")?;

    cfg.mirror = MirrorConfig {
        directory: PathBuf::from(directory),
        master: m
            .string("master")
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
        release_files,
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
        root_uri,
        download_mirror,
        download_mirror_no_fallback: no_fallback,
        diff_file,
        diff_append_epoch: m.bool("diff-append-epoch")?.unwrap_or(false),
        proxy: m.string("proxy").filter(|s| !s.is_empty()),
        download_hosts: m
            .string("download-hosts")
            .map(|s| s.split_whitespace().map(str::to_string).collect())
            .unwrap_or(d.download_hosts),
        stale_retries: m
            .uint("stale-retries", 1, 20)?
            .map_or(d.stale_retries, |v| v as u32),
        keep_deleted: match (m.bool("keep-deleted")?, delete_packages) {
            (Some(keep), _) => keep,
            (None, Some(delete)) => !delete,
            (None, None) => d.keep_deleted,
        },
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
    cfg.warnings.append(&mut m.warnings);
    cfg.warnings.extend(m.unknown());

    if let Some(section) = map.get("s3") {
        let mut s = Options::new(&file, "s3", section);
        cfg.s3 = Some(S3Config {
            region_name: s.string("region-name"),
            aws_access_key_id: s.string("aws-access-key-id"),
            aws_secret_access_key: s.string("aws-secret-access-key"),
            endpoint_url: s.string("endpoint-url"),
            signature_version: s.string("signature-version"),
        });
        cfg.warnings.extend(s.unknown());
    }
    if cfg.mirror.storage_backend == StorageBackend::S3 && cfg.s3.is_none() {
        cfg.warnings.push(format!(
            "{file}: [mirror] storage-backend = s3 but there is no [s3] section; credentials and endpoint come from the environment"
        ));
    }

    let (filters, warnings) = FilterConfig::from_sections(map, source)?;
    cfg.filters = filters;
    cfg.warnings.extend(warnings);

    for name in map.keys() {
        if !matches!(name.as_str(), "mirror" | "s3" | "DEFAULT")
            && !FILTER_SECTIONS.contains(&name.as_str())
        {
            cfg.warnings
                .push(format!("{file}: unknown section [{name}] is ignored"));
        }
    }
    Ok(cfg)
}

/// bandersnatch's legacy `{{section_option}}` reference in `diff-file`: the last
/// `{{ ... }}` is replaced by that option's value (section names cannot contain `_`).
fn substitute_reference(map: &SectionMap, file: &str, value: &str) -> Result<String, ConfigError> {
    if !(value.contains("{{") && value.contains("}}")) {
        return Ok(value.to_string());
    }
    let err = |why: &str| {
        ConfigError::new(format!(
            "{file}: [mirror] diff-file = {value:?}: {why}; expected a path with at most one {{{{section_option}}}} reference to an existing option, e.g. {{{{mirror_directory}}}}/new-files"
        ))
    };
    let pattern = regex::Regex::new(
        r"^(?P<pre>.*)\{\{\s*(?P<section>[^_\s](?:[^_]*[^_\s]))\s*_\s*(?P<option>\S(?:.*\S)?)\s*\}\}(?P<post>.*)$",
    )
    .map_err(|e| err(&e.to_string()))?;
    let Some(c) = pattern.captures(value) else {
        return Err(err("the reference cannot be read"));
    };
    let (section, option) = (&c["section"], c["option"].to_ascii_lowercase());
    let options = map
        .get(section)
        .ok_or_else(|| err(&format!("there is no section [{section}]")))?;
    let folded = option.replace('_', "-");
    let found = options.get(&option).or_else(|| {
        options
            .iter()
            .find(|(k, _)| k.replace('_', "-") == folded)
            .map(|(_, v)| v)
    });
    let found = found.ok_or_else(|| err(&format!("[{section}] has no option {option}")))?;
    Ok(format!("{}{}{}", &c["pre"], found.trim(), &c["post"]))
}

/// Typed reads of one INI section, recording which options were used.
struct Options<'a> {
    file: &'a str,
    section: &'a str,
    entries: Vec<(String, &'a str)>,
    used: Vec<bool>,
    warnings: Vec<String>,
}

impl<'a> Options<'a> {
    fn new(file: &'a str, section: &'a str, options: &'a BTreeMap<String, String>) -> Self {
        let entries: Vec<(String, &str)> = options
            .iter()
            .map(|(k, v)| (k.trim().to_ascii_lowercase().replace('_', "-"), v.as_str()))
            .collect();
        let used = vec![false; entries.len()];
        Options {
            file,
            section,
            entries,
            used,
            warnings: Vec::new(),
        }
    }

    fn take(&mut self, key: &str) -> Option<&'a str> {
        // The last spelling wins, as a later ConfigParser line overrides an earlier one.
        let idx = self.entries.iter().rposition(|(k, _)| k == key)?;
        for (i, (k, _)) in self.entries.iter().enumerate() {
            if k == key {
                self.used[i] = true;
            }
        }
        Some(self.entries[idx].1)
    }

    fn err(&self, key: &str, value: &str, allowed: &str) -> ConfigError {
        ConfigError::new(format!(
            "{}: [{}] {} = {:?} is not valid; expected {}",
            self.file,
            self.section,
            key,
            value.trim(),
            allowed
        ))
    }

    fn string(&mut self, key: &str) -> Option<String> {
        self.take(key).map(|v| v.trim().to_string())
    }

    fn bool(&mut self, key: &str) -> Result<Option<bool>, ConfigError> {
        match self.take(key) {
            None => Ok(None),
            Some(v) => parse_bool(v)
                .map(Some)
                .ok_or_else(|| self.err(key, v, "a boolean: yes/no, true/false, on/off or 1/0")),
        }
    }

    fn uint(&mut self, key: &str, min: u64, max: u64) -> Result<Option<u64>, ConfigError> {
        match self.take(key) {
            None => Ok(None),
            Some(v) => match v.trim().parse::<u64>() {
                Ok(n) if (min..=max).contains(&n) => Ok(Some(n)),
                _ => Err(self.err(key, v, &format!("a whole number from {min} to {max}"))),
            },
        }
    }

    fn seconds(&mut self, key: &str) -> Result<Option<f64>, ConfigError> {
        match self.take(key) {
            None => Ok(None),
            Some(v) => match v.trim().parse::<f64>() {
                Ok(n) if n.is_finite() && n > 0.0 => Ok(Some(n)),
                _ => Err(self.err(key, v, "a positive number of seconds")),
            },
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
        options
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(v.trim()))
            .map(|(_, t)| Some(*t))
            .ok_or_else(|| {
                let allowed: Vec<&str> = options.iter().map(|(n, _)| *n).collect();
                self.err(key, v, &format!("one of {}", allowed.join(", ")))
            })
    }

    fn unknown(&self) -> Vec<String> {
        self.entries
            .iter()
            .zip(&self.used)
            .filter(|(_, used)| !**used)
            .map(|((k, _), _)| {
                format!(
                    "{}: unknown option [{}] {} is ignored",
                    self.file, self.section, k
                )
            })
            .collect()
    }
}

/// An equivalent `vorpal.toml` for `cfg`. Relative requirement paths are made absolute
/// (against the original file's folder) so the output means the same wherever it is saved.
pub fn to_toml(cfg: &Config) -> String {
    let mut root = Table::new();
    let m = &cfg.mirror;
    let mut t = Table::new();
    put(&mut t, "directory", path_str(&m.directory));
    put(&mut t, "master", m.master.clone());
    put(
        &mut t,
        "api-method",
        match m.api_method {
            ApiMethod::Simple => "simple",
            ApiMethod::Xmlrpc => "xmlrpc",
        },
    );
    put(
        &mut t,
        "metadata-source",
        match m.metadata_source {
            MetadataSource::Json => "json",
            MetadataSource::Simple => "simple",
        },
    );
    put(&mut t, "workers", m.workers as i64);
    put(
        &mut t,
        "download-concurrency",
        m.download_concurrency as i64,
    );
    put(&mut t, "json", m.json);
    put(&mut t, "allow-non-https", m.allow_non_https);
    put(&mut t, "timeout", m.timeout);
    put(&mut t, "global-timeout", m.global_timeout);
    put(&mut t, "stop-on-error", m.stop_on_error);
    put(&mut t, "release-files", m.release_files);
    put(&mut t, "core-metadata", m.core_metadata);
    put(&mut t, "hash-index", m.hash_index);
    put(
        &mut t,
        "simple-format",
        match m.simple_format {
            SimpleFormat::All => "all",
            SimpleFormat::Html => "html",
            SimpleFormat::Json => "json",
        },
    );
    put(
        &mut t,
        "compare-method",
        match m.compare_method {
            CompareMethod::Hash => "hash",
            CompareMethod::Stat => "stat",
        },
    );
    put(&mut t, "digest-name", m.digest_name.clone());
    put(
        &mut t,
        "keep-index-versions",
        i64::from(m.keep_index_versions),
    );
    put(&mut t, "cleanup", m.cleanup);
    put(&mut t, "storage-backend", m.storage_backend.name());
    if let Some(v) = &m.root_uri {
        put(&mut t, "root-uri", v.clone());
    }
    if let Some(v) = &m.download_mirror {
        put(&mut t, "download-mirror", v.clone());
    }
    put(
        &mut t,
        "download-mirror-no-fallback",
        m.download_mirror_no_fallback,
    );
    if let Some(v) = &m.diff_file {
        put(&mut t, "diff-file", path_str(v));
    }
    put(&mut t, "diff-append-epoch", m.diff_append_epoch);
    if let Some(v) = &m.proxy {
        put(&mut t, "proxy", v.clone());
    }
    put(&mut t, "download-hosts", strings(&m.download_hosts));
    put(&mut t, "stale-retries", i64::from(m.stale_retries));
    put(&mut t, "keep-deleted", m.keep_deleted);
    root.insert("mirror".into(), Value::Table(t));

    let h = &cfg.https;
    let mut t = Table::new();
    if let Some(v) = h.verify {
        let word = match v {
            VerifySetting::Enable => "enable",
            VerifySetting::Disable => "disable",
            VerifySetting::PlatformDefault => "platform_default",
        };
        put(&mut t, "verify", word);
    }
    if !h.ca_bundle.is_empty() {
        let paths: Vec<String> = h.ca_bundle.iter().map(|p| path_str(p)).collect();
        put(&mut t, "ca-bundle", strings(&paths));
    }
    if !h.insecure_hosts.is_empty() {
        put(&mut t, "insecure-hosts", strings(&h.insecure_hosts));
    }
    if let Some(v) = &h.client_cert {
        put(&mut t, "client-cert", path_str(v));
    }
    if !t.is_empty() {
        root.insert("https".into(), Value::Table(t));
    }

    let s = &cfg.serve;
    let mut t = Table::new();
    if !s.listen.is_empty() {
        put(&mut t, "listen", strings(&s.listen));
    }
    if let Some(v) = &s.tls_cert {
        put(&mut t, "tls-cert", path_str(v));
    }
    if let Some(v) = &s.tls_key {
        put(&mut t, "tls-key", path_str(v));
    }
    if let Some(v) = &s.public_url {
        put(&mut t, "public-url", v.clone());
    }
    if !t.is_empty() {
        root.insert("serve".into(), Value::Table(t));
    }

    if let Some(s3) = &cfg.s3 {
        let mut t = Table::new();
        for (k, v) in [
            ("region_name", &s3.region_name),
            ("aws_access_key_id", &s3.aws_access_key_id),
            ("aws_secret_access_key", &s3.aws_secret_access_key),
            ("endpoint_url", &s3.endpoint_url),
            ("signature_version", &s3.signature_version),
        ] {
            if let Some(v) = v {
                put(&mut t, k, v.clone());
            }
        }
        root.insert("s3".into(), Value::Table(t));
    }

    filters_to_toml(&cfg.filters, &mut root);

    let header = match &cfg.source {
        Some(p) => format!("# vorpal.toml equivalent of {}\n\n", p.display()),
        None => String::new(),
    };
    // [mirror] first, then the rest in the order people read them.
    let order = ["mirror", "https", "serve", "s3"]
        .into_iter()
        .chain(FILTER_SECTIONS.iter().copied());
    let mut out = header;
    for name in order {
        if let Some(value) = root.remove(name) {
            let mut one = Table::new();
            one.insert(name.to_string(), value);
            if !out.is_empty() && !out.ends_with("\n\n") {
                out.push('\n');
            }
            // A table of strings, numbers, booleans and arrays always serializes.
            out.push_str(&toml::to_string(&one).unwrap_or_default());
        }
    }
    out
}

fn filters_to_toml(f: &FilterConfig, root: &mut Table) {
    let mut section = |name: &str, entries: Vec<(&str, Value)>| {
        let t: Table = entries
            .into_iter()
            .map(|(k, v)| (k.to_string(), v))
            .collect();
        if !t.is_empty() {
            root.insert(name.to_string(), Value::Table(t));
        }
    };
    let list = |v: &[String]| (!v.is_empty()).then(|| strings(v));
    let names: Vec<String> = f.enabled.iter().map(|p| p.name().to_string()).collect();
    section("plugins", opt(&[("enabled", list(&names))]));

    let requirements_path = if f.requirements_path.is_some() || !f.requirements.is_empty() {
        let base = match &f.requirements_path {
            Some(p) => f.base_dir.join(p),
            None => f.base_dir.clone(),
        };
        (!base.as_os_str().is_empty()).then(|| Value::String(path_str(&base)))
    } else {
        None
    };
    section(
        "allowlist",
        opt(&[
            ("packages", list(&f.allowlist_packages)),
            ("requirements_path", requirements_path),
            ("requirements", list(&f.requirements)),
        ]),
    );
    section(
        "blocklist",
        opt(&[
            ("packages", list(&f.blocklist_packages)),
            ("platforms", list(&f.platforms)),
        ]),
    );
    section(
        "filter_regex",
        opt(&[
            ("packages", list(&f.regex_packages)),
            ("releases", list(&f.regex_releases)),
        ]),
    );
    section(
        "filter_prerelease",
        opt(&[("packages", list(&f.prerelease_packages))]),
    );
    let latest = (f.latest_keep > 0).then_some(Value::Integer(f.latest_keep as i64));
    let sort_by = (f.latest_keep > 0 || f.latest_sort_by != Default::default())
        .then(|| Value::String(f.latest_sort_by.name().into()));
    section(
        "latest_release",
        opt(&[("keep", latest), ("sort_by", sort_by)]),
    );
    let int = |v: Option<u64>| v.map(|n| Value::Integer(n.min(i64::MAX as u64) as i64));
    section(
        "size_project_metadata",
        opt(&[("max_package_size", int(f.max_package_size))]),
    );
    section(
        "versions_count_project_metadata",
        opt(&[
            ("min_versions", int(f.min_versions)),
            ("max_versions", int(f.max_versions)),
        ]),
    );
    for (name, rm) in [
        ("regex_project_metadata", &f.regex_project_metadata),
        (
            "regex_release_file_metadata",
            &f.regex_release_file_metadata,
        ),
    ] {
        let mut entries: Vec<(&str, Value)> = rm
            .rules
            .iter()
            .map(|r| (r.key.as_str(), strings(&r.values)))
            .collect();
        if rm.search {
            entries.push(("search", Value::Boolean(true)));
        }
        section(name, entries);
    }
    for (name, rules) in [
        (
            "version_range_project_metadata",
            &f.version_range_project_metadata,
        ),
        (
            "version_range_release_file_metadata",
            &f.version_range_release_file_metadata,
        ),
    ] {
        section(
            name,
            rules
                .iter()
                .map(|r| (r.key.as_str(), strings(&r.values)))
                .collect(),
        );
    }
}

fn opt<'a>(entries: &[(&'a str, Option<Value>)]) -> Vec<(&'a str, Value)> {
    entries
        .iter()
        .filter_map(|(k, v)| v.clone().map(|v| (*k, v)))
        .collect()
}

fn put(t: &mut Table, key: &str, value: impl Into<Value>) {
    t.insert(key.to_string(), value.into());
}

fn strings(v: &[String]) -> Value {
    Value::Array(v.iter().cloned().map(Value::String).collect())
}

fn path_str(p: &Path) -> String {
    p.to_string_lossy().into_owned()
}

#[cfg(test)]
mod tests;
