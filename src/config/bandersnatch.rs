//! `bandersnatch.conf` read with bandersnatch's meaning, from the section map the INI
//! reader produces, and a [`Config`] written back as an equivalent `vorpal.toml`.
//!
//! Values are read as Python's ConfigParser reads them (booleans: yes/no, true/false,
//! on/off, 1/0, any case); option names compare with `-` and `_` folded, as bandersnatch
//! 7 does. bandersnatch requires `[mirror]` and `directory`; so does this reader.

use std::path::{Path, PathBuf};

use toml::{Table, Value};

use super::filters::{FILTER_SECTIONS, FilterConfig, SectionMap, parse_bool};
use super::options::{ConfigValue, Section};
use super::sections::{
    cross_checks, read_https, read_mirror, read_s3, read_serve, unknown_sections,
};
use super::*;

/// Map a parsed `bandersnatch.conf` onto vorpal's configuration.
pub fn from_ini_sections(map: &SectionMap, source: &Path) -> Result<Config, ConfigError> {
    let file = source.display().to_string();
    let section = |name: &str| {
        map.get(name).map(|options| {
            Section::new(
                source,
                name,
                options.iter().map(|(k, v)| (k.as_str(), v.as_str())),
            )
        })
    };
    let Some(mut m) = section("mirror") else {
        return Err(ConfigError::new(format!(
            "{file}: no [mirror] section; a bandersnatch.conf needs [mirror] with at least directory = /path/to/mirror"
        )));
    };
    let mut cfg = Config {
        source: Some(source.to_path_buf()),
        ..Config::default()
    };

    let directory = m.path("directory")?.ok_or_else(|| {
        ConfigError::new(format!(
            "{file}: [mirror] directory is required; set it to the mirror's root folder"
        ))
    })?;
    cfg.mirror = read_mirror(&mut m, directory)?;
    if let Some(raw) = cfg.mirror.diff_file.take() {
        let raw = raw.to_string_lossy();
        cfg.mirror.diff_file = Some(PathBuf::from(substitute_reference(map, &file, &raw)?));
    }
    cfg.warnings.extend(m.finish());

    if let Some(mut h) = section("https") {
        cfg.https = read_https(&mut h)?;
        cfg.warnings.extend(h.finish());
    }
    if let Some(mut s) = section("serve") {
        cfg.serve = read_serve(&mut s)?;
        cfg.warnings.extend(s.finish());
    }
    if let Some(mut s) = section("s3") {
        cfg.s3 = Some(read_s3(&mut s)?);
        cfg.warnings.extend(s.finish());
    }

    let (filters, warnings) = FilterConfig::from_sections(map, source)?;
    cfg.filters = filters;
    cfg.warnings.extend(warnings);

    cfg.warnings.extend(cross_checks(&cfg, &file));
    let names = map.keys().map(String::as_str);
    cfg.warnings.extend(unknown_sections(
        &file,
        names.filter(|n| *n != ini::DEFAULT_SECTION),
    ));
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

/// ConfigParser's value rules: every value is a string; booleans are its
/// `getboolean` words; a list is whitespace- (or line-) separated.
impl ConfigValue for str {
    const BOOLEANS: &'static str = "a boolean: yes/no, true/false, on/off or 1/0";

    fn literal(word: &str) -> String {
        word.to_string()
    }

    fn shown(&self) -> String {
        format!("{:?}", self.trim())
    }

    fn as_string(&self) -> Option<String> {
        Some(self.trim().to_string())
    }

    fn as_strings(&self) -> Option<Vec<String>> {
        Some(self.split_whitespace().map(str::to_string).collect())
    }

    fn as_bool(&self) -> Option<bool> {
        parse_bool(self)
    }

    fn as_uint(&self) -> Option<u64> {
        self.trim().parse().ok()
    }

    fn as_number(&self) -> Option<f64> {
        self.trim().parse().ok()
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
    put(&mut t, "api-method", m.api_method.name());
    put(&mut t, "metadata-source", m.metadata_source.name());
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
    put(&mut t, "simple-format", m.simple_format.name());
    put(&mut t, "compare-method", m.compare_method.name());
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
        put(&mut t, "verify", v.name());
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
