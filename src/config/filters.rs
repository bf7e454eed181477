//! Filter configuration in bandersnatch's terms (`[plugins] enabled`, `[allowlist]`,
//! `[blocklist]`, `[filter_regex]`, ...), independent of the file format: both
//! `vorpal.toml` and `bandersnatch.conf` reduce their filter sections to a plain
//! section → option → raw value map and hand it to [`FilterConfig::from_sections`].
//! Everything is validated here, so building the filters later cannot fail on a value.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::str::FromStr;

use pep440_rs::Version;

use super::ConfigError;

/// A section → option (lowercased) → raw value map, as an INI or TOML reader produces it.
pub type SectionMap = BTreeMap<String, BTreeMap<String, String>>;

/// Every filter plugin bandersnatch ships, by its bandersnatch name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Plugin {
    AllowlistProject,
    AllowlistRelease,
    ProjectRequirements,
    ProjectRequirementsPinned,
    BlocklistProject,
    BlocklistRelease,
    RegexProject,
    RegexRelease,
    PrereleaseRelease,
    LatestRelease,
    ExcludePlatform,
    SizeProjectMetadata,
    VersionsCountProjectMetadata,
    RegexProjectMetadata,
    RegexReleaseFileMetadata,
    VersionRangeProjectMetadata,
    VersionRangeReleaseFileMetadata,
}

impl Plugin {
    pub const ALL: [Plugin; 17] = [
        Plugin::AllowlistProject,
        Plugin::AllowlistRelease,
        Plugin::ProjectRequirements,
        Plugin::ProjectRequirementsPinned,
        Plugin::BlocklistProject,
        Plugin::BlocklistRelease,
        Plugin::RegexProject,
        Plugin::RegexRelease,
        Plugin::PrereleaseRelease,
        Plugin::LatestRelease,
        Plugin::ExcludePlatform,
        Plugin::SizeProjectMetadata,
        Plugin::VersionsCountProjectMetadata,
        Plugin::RegexProjectMetadata,
        Plugin::RegexReleaseFileMetadata,
        Plugin::VersionRangeProjectMetadata,
        Plugin::VersionRangeReleaseFileMetadata,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Plugin::AllowlistProject => "allowlist_project",
            Plugin::AllowlistRelease => "allowlist_release",
            Plugin::ProjectRequirements => "project_requirements",
            Plugin::ProjectRequirementsPinned => "project_requirements_pinned",
            Plugin::BlocklistProject => "blocklist_project",
            Plugin::BlocklistRelease => "blocklist_release",
            Plugin::RegexProject => "regex_project",
            Plugin::RegexRelease => "regex_release",
            Plugin::PrereleaseRelease => "prerelease_release",
            Plugin::LatestRelease => "latest_release",
            Plugin::ExcludePlatform => "exclude_platform",
            Plugin::SizeProjectMetadata => "size_project_metadata",
            Plugin::VersionsCountProjectMetadata => "versions_count_project_metadata",
            Plugin::RegexProjectMetadata => "regex_project_metadata",
            Plugin::RegexReleaseFileMetadata => "regex_release_file_metadata",
            Plugin::VersionRangeProjectMetadata => "version_range_project_metadata",
            Plugin::VersionRangeReleaseFileMetadata => "version_range_release_file_metadata",
        }
    }

    pub fn from_name(name: &str) -> Option<Plugin> {
        Plugin::ALL.into_iter().find(|p| p.name() == name)
    }
}

/// `[latest_release] sort_by`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum SortBy {
    /// PEP 440 order of the version strings.
    #[default]
    Version,
    /// Upload time of the release's first file.
    Time,
}

impl SortBy {
    pub fn name(self) -> &'static str {
        match self {
            SortBy::Version => "version",
            SortBy::Time => "time",
        }
    }
}

/// One `tag:tag:dotted.path = values` rule of a metadata filter section.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MetadataRule {
    /// The option name exactly as written (tags included), e.g. `none:release_file.filename`.
    pub key: String,
    /// Regexes (regex sections) or PEP 440 versions (version-range sections).
    pub values: Vec<String>,
}

/// `[regex_project_metadata]` / `[regex_release_file_metadata]`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct RegexMetadataConfig {
    /// `search = true`: patterns may match anywhere (Python `re.search`), not only at the start.
    pub search: bool,
    pub rules: Vec<MetadataRule>,
}

/// Everything the filters need, validated. Lists hold one entry per configured line,
/// comments removed; names are kept as written (the filters normalize them).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct FilterConfig {
    /// Directory of the config file: relative requirement paths are resolved against it.
    pub base_dir: PathBuf,
    /// Enabled plugins, in [`Plugin::ALL`] order, without duplicates.
    pub enabled: Vec<Plugin>,
    /// `[allowlist] packages`: names and PEP 508 requirements (`black>=25.1.0`).
    pub allowlist_packages: Vec<String>,
    /// `[allowlist] requirements_path`, as written.
    pub requirements_path: Option<PathBuf>,
    /// `[allowlist] requirements`: requirement files or globs.
    pub requirements: Vec<String>,
    /// `[blocklist] packages`.
    pub blocklist_packages: Vec<String>,
    /// `[blocklist] platforms`: `windows`, `macos`, `freebsd`, `linux`, `py3.6`, ...
    pub platforms: Vec<String>,
    /// `[filter_regex] packages`.
    pub regex_packages: Vec<String>,
    /// `[filter_regex] releases`.
    pub regex_releases: Vec<String>,
    /// `[filter_prerelease] packages`: when non-empty, only these lose pre-releases.
    pub prerelease_packages: Vec<String>,
    /// `[latest_release] keep` (0 keeps everything).
    pub latest_keep: u64,
    pub latest_sort_by: SortBy,
    /// `[size_project_metadata] max_package_size`, in bytes.
    pub max_package_size: Option<u64>,
    /// `[versions_count_project_metadata] min_versions` / `max_versions`.
    pub min_versions: Option<u64>,
    pub max_versions: Option<u64>,
    pub regex_project_metadata: RegexMetadataConfig,
    pub regex_release_file_metadata: RegexMetadataConfig,
    pub version_range_project_metadata: Vec<MetadataRule>,
    pub version_range_release_file_metadata: Vec<MetadataRule>,
}

/// The sections [`FilterConfig::from_sections`] reads; a format reader treats the rest
/// as its own (or unknown).
pub const FILTER_SECTIONS: &[&str] = &[
    "plugins",
    "allowlist",
    "blocklist",
    "filter_regex",
    "filter_prerelease",
    "latest_release",
    "size_project_metadata",
    "versions_count_project_metadata",
    "regex_project_metadata",
    "regex_release_file_metadata",
    "version_range_project_metadata",
    "version_range_release_file_metadata",
];

/// Plugin names bandersnatch 4/5 used; they no longer load there either.
const RENAMED: &[(&str, &str)] = &[
    ("whitelist_project", "allowlist_project"),
    ("whitelist_release", "allowlist_release"),
    ("blacklist_project", "blocklist_project"),
    ("blacklist_release", "blocklist_release"),
    ("allowlist_requirements", "project_requirements"),
];

/// Tags a metadata rule key may carry before its path.
const METADATA_TAGS: &[&str] = &["any", "all", "none", "not-null", "match-null"];

impl FilterConfig {
    /// Whether `plugin` is enabled.
    pub fn is_enabled(&self, plugin: Plugin) -> bool {
        self.enabled.contains(&plugin)
    }

    /// Build from the filter sections of `map` (other sections are ignored). `source` is
    /// the config file, for messages and for resolving relative requirement paths.
    pub fn from_sections(
        map: &SectionMap,
        source: &Path,
    ) -> Result<(FilterConfig, Vec<String>), ConfigError> {
        let mut r = Reader {
            file: source.display().to_string(),
            warnings: Vec::new(),
        };
        let mut cfg = FilterConfig {
            base_dir: source.parent().map(Path::to_path_buf).unwrap_or_default(),
            ..FilterConfig::default()
        };
        let empty = BTreeMap::new();
        let sec = |name: &str| map.get(name).unwrap_or(&empty);

        // [plugins]
        let plugins = sec("plugins");
        r.known_options("plugins", plugins, &["enabled"]);
        if let Some(raw) = get(plugins, "enabled") {
            let mut enabled = Vec::new();
            for word in entries(raw).iter().flat_map(|l| l.split_whitespace()) {
                if word == "all" {
                    enabled.extend(Plugin::ALL);
                } else if let Some(p) = Plugin::from_name(word) {
                    enabled.push(p);
                } else if let Some((_, new)) = RENAMED.iter().find(|(old, _)| *old == word) {
                    r.warn(format!(
                        "[plugins] enabled: plugin {word} was renamed {new}; it is ignored until you use the new name"
                    ));
                } else {
                    r.warn(format!(
                        "[plugins] enabled: unknown plugin {word} is ignored; known plugins: all, {}",
                        Plugin::ALL.map(Plugin::name).join(", ")
                    ));
                }
            }
            enabled.sort();
            enabled.dedup();
            cfg.enabled = enabled;
        }

        // [allowlist]
        let allow = sec("allowlist");
        r.known_options(
            "allowlist",
            allow,
            &["packages", "requirements_path", "requirements"],
        );
        cfg.allowlist_packages = r.requirement_list("allowlist", allow, "packages")?;
        cfg.requirements_path = get(allow, "requirements_path")
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(PathBuf::from);
        cfg.requirements = get(allow, "requirements").map(entries).unwrap_or_default();

        // [blocklist]
        let block = sec("blocklist");
        r.known_options("blocklist", block, &["packages", "platforms"]);
        cfg.blocklist_packages = r.requirement_list("blocklist", block, "packages")?;
        cfg.platforms = get(block, "platforms")
            .map(|raw| {
                entries(raw)
                    .iter()
                    .flat_map(|l| l.split_whitespace())
                    .map(str::to_string)
                    .collect()
            })
            .unwrap_or_default();
        for token in &cfg.platforms {
            if !crate::sync::filters::is_known_platform(token) {
                r.warn(format!(
                    "[blocklist] platforms: unknown platform {token:?} is ignored; use windows, macos, freebsd, linux, py2, py2.4 .. py2.7, py3, py3.0 .. py3.14, or a tag such as win_amd64 or manylinux2014_aarch64"
                ));
            }
        }

        // [filter_regex]
        let fr = sec("filter_regex");
        r.known_options("filter_regex", fr, &["packages", "releases"]);
        cfg.regex_packages = r.regex_list("filter_regex", fr, "packages")?;
        cfg.regex_releases = r.regex_list("filter_regex", fr, "releases")?;

        // [filter_prerelease]
        let fp = sec("filter_prerelease");
        r.known_options("filter_prerelease", fp, &["packages"]);
        cfg.prerelease_packages = get(fp, "packages").map(entries).unwrap_or_default();

        // [latest_release]
        let lr = sec("latest_release");
        r.known_options("latest_release", lr, &["keep", "sort_by"]);
        cfg.latest_keep = r
            .uint(
                "latest_release",
                lr,
                "keep",
                "a whole number of releases to keep (0 keeps all)",
            )?
            .unwrap_or(0);
        if let Some(raw) = get(lr, "sort_by") {
            cfg.latest_sort_by = match raw.trim().to_ascii_lowercase().as_str() {
                "version" => SortBy::Version,
                "time" => SortBy::Time,
                _ => return Err(r.err("latest_release", "sort_by", raw, "version or time")),
            };
        }

        // [size_project_metadata]
        let sp = sec("size_project_metadata");
        r.known_options("size_project_metadata", sp, &["max_package_size"]);
        if let Some(raw) = get(sp, "max_package_size") {
            cfg.max_package_size = Some(parse_size(raw).ok_or_else(|| {
                r.err(
                    "size_project_metadata",
                    "max_package_size",
                    raw,
                    "a size such as 500M, 1G, 2KiB or a number of bytes (K/M/G/T count in 1024s)",
                )
            })?);
        }

        // [versions_count_project_metadata]
        let vc = sec("versions_count_project_metadata");
        r.known_options(
            "versions_count_project_metadata",
            vc,
            &["min_versions", "max_versions"],
        );
        let count = "a whole number of versions";
        cfg.min_versions = r.uint("versions_count_project_metadata", vc, "min_versions", count)?;
        cfg.max_versions = r.uint("versions_count_project_metadata", vc, "max_versions", count)?;
        if let (Some(min), Some(max)) = (cfg.min_versions, cfg.max_versions)
            && min > max
        {
            return Err(ConfigError::new(format!(
                "{}: [versions_count_project_metadata] min_versions = {min} is greater than max_versions = {max}; make min_versions <= max_versions",
                r.file
            )));
        }

        // Metadata sections: every option but `search` is a rule.
        cfg.regex_project_metadata =
            r.regex_metadata("regex_project_metadata", sec("regex_project_metadata"))?;
        cfg.regex_release_file_metadata = r.regex_metadata(
            "regex_release_file_metadata",
            sec("regex_release_file_metadata"),
        )?;
        cfg.version_range_project_metadata = r.version_rules(
            "version_range_project_metadata",
            sec("version_range_project_metadata"),
        )?;
        cfg.version_range_release_file_metadata = r.version_rules(
            "version_range_release_file_metadata",
            sec("version_range_release_file_metadata"),
        )?;

        cfg.warn_unconfigured(&mut r);
        Ok((cfg, r.warnings))
    }

    /// Plugins switched on without the settings they read do nothing; say so.
    fn warn_unconfigured(&self, r: &mut Reader) {
        for plugin in &self.enabled {
            use Plugin::*;
            let (absent, setting) = match plugin {
                AllowlistProject | AllowlistRelease => {
                    (self.allowlist_packages.is_empty(), "[allowlist] packages")
                }
                ProjectRequirements | ProjectRequirementsPinned => {
                    (self.requirements.is_empty(), "[allowlist] requirements")
                }
                BlocklistProject | BlocklistRelease => {
                    (self.blocklist_packages.is_empty(), "[blocklist] packages")
                }
                RegexProject => (self.regex_packages.is_empty(), "[filter_regex] packages"),
                RegexRelease => (self.regex_releases.is_empty(), "[filter_regex] releases"),
                LatestRelease => (self.latest_keep == 0, "[latest_release] keep"),
                ExcludePlatform => (self.platforms.is_empty(), "[blocklist] platforms"),
                SizeProjectMetadata => (
                    self.max_package_size.is_none(),
                    "[size_project_metadata] max_package_size",
                ),
                VersionsCountProjectMetadata => (
                    self.min_versions.is_none() && self.max_versions.is_none(),
                    "[versions_count_project_metadata] min_versions or max_versions",
                ),
                // No required setting: prerelease_release covers every project without
                // [filter_prerelease] packages; metadata filters' rules are their sections.
                PrereleaseRelease
                | RegexProjectMetadata
                | RegexReleaseFileMetadata
                | VersionRangeProjectMetadata
                | VersionRangeReleaseFileMetadata => (false, ""),
            };
            if absent {
                r.warn(format!(
                    "plugin {} is enabled but {setting} is not set, so it filters nothing",
                    plugin.name()
                ));
            }
        }
    }
}

fn get<'a>(section: &'a BTreeMap<String, String>, option: &str) -> Option<&'a str> {
    section
        .iter()
        .find(|(k, _)| fold(k) == fold(option))
        .map(|(_, v)| v.as_str())
}

/// Option names compare with `-` and `_` folded, as in the rest of the config.
fn fold(key: &str) -> String {
    key.trim().to_ascii_lowercase().replace('-', "_")
}

/// One entry per line: a `#` at the start of a line or after whitespace starts a comment
/// (so a URL fragment such as `pkg @ https://h/x.whl#sha256=...` survives); blank
/// lines are dropped; entries are trimmed.
pub fn entries(raw: &str) -> Vec<String> {
    raw.lines()
        .map(strip_comment)
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .map(str::to_string)
        .collect()
}

fn strip_comment(line: &str) -> &str {
    let bytes = line.as_bytes();
    for (i, b) in bytes.iter().enumerate() {
        if *b == b'#' && (i == 0 || bytes[i - 1].is_ascii_whitespace()) {
            return &line[..i];
        }
    }
    line
}

/// humanfriendly's `parse_size(..., binary=True)`, which bandersnatch uses: a number,
/// then an optional unit whose first letter picks the power of 1024 (`K`, `KB`, `KiB`,
/// `kilobytes` are all 1024); a unit starting with `b` means bytes. Hand-written because
/// it is a dozen lines and no listed crate parses sizes.
pub fn parse_size(raw: &str) -> Option<u64> {
    let s = raw.trim();
    let split = s
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(s.len());
    let (number, unit) = s.split_at(split);
    let number: f64 = number.parse().ok()?;
    let unit = unit.trim().to_ascii_lowercase();
    let power = match unit.chars().next() {
        None | Some('b') => 0,
        Some(c) => "kmgtpezy".find(c)? as i32 + 1,
    };
    if !unit.is_empty() && !unit.chars().all(|c| c.is_ascii_alphabetic()) {
        return None;
    }
    let bytes = number * 1024f64.powi(power);
    (bytes.is_finite() && bytes >= 0.0 && bytes < u64::MAX as f64).then_some(bytes as u64)
}

/// Splits `tag:tag:path` into its tags and path, as bandersnatch does (last `:` wins).
pub fn split_tags(key: &str) -> (Vec<&str>, &str) {
    let mut parts: Vec<&str> = key.split(':').collect();
    let path = parts.pop().unwrap_or_default();
    (parts, path)
}

/// Compile a bandersnatch regex (Python `re` syntax) for Rust's `regex`; `anchored`
/// reproduces `re.match` (a match must start at the beginning).
pub fn compile_regex(pattern: &str, anchored: bool) -> Result<regex::Regex, regex::Error> {
    if anchored {
        regex::Regex::new(&format!("^(?:{pattern})"))
    } else {
        regex::Regex::new(pattern)
    }
}

struct Reader {
    file: String,
    warnings: Vec<String>,
}

impl Reader {
    fn warn(&mut self, msg: String) {
        self.warnings.push(format!("{}: {msg}", self.file));
    }

    fn err(&self, section: &str, option: &str, value: &str, allowed: &str) -> ConfigError {
        ConfigError::new(format!(
            "{}: [{section}] {option} = {:?} is not valid; expected {allowed}",
            self.file,
            value.trim()
        ))
    }

    fn known_options(&mut self, section: &str, map: &BTreeMap<String, String>, known: &[&str]) {
        for key in map.keys() {
            if !known.iter().any(|k| fold(k) == fold(key)) {
                self.warn(format!(
                    "unknown option [{section}] {key} is ignored; known: {}",
                    known.join(", ")
                ));
            }
        }
    }

    fn uint(
        &self,
        section: &str,
        map: &BTreeMap<String, String>,
        option: &str,
        allowed: &str,
    ) -> Result<Option<u64>, ConfigError> {
        match get(map, option) {
            None => Ok(None),
            Some(raw) => raw
                .trim()
                .parse::<u64>()
                .map(Some)
                .map_err(|_| self.err(section, option, raw, allowed)),
        }
    }

    /// PEP 508 requirement lines (names with optional specifiers).
    fn requirement_list(
        &self,
        section: &str,
        map: &BTreeMap<String, String>,
        option: &str,
    ) -> Result<Vec<String>, ConfigError> {
        let list = get(map, option).map(entries).unwrap_or_default();
        for line in &list {
            if let Err(e) = pep508_rs::Requirement::<pep508_rs::VerbatimUrl>::from_str(line) {
                let why = e.to_string();
                let first = why.lines().next().unwrap_or_default();
                return Err(self.err(
                    section,
                    option,
                    line,
                    &format!(
                        "one project name or PEP 508 requirement per line, e.g. black or black>=25.1.0 ({first})"
                    ),
                ));
            }
        }
        Ok(list)
    }

    fn regex_list(
        &self,
        section: &str,
        map: &BTreeMap<String, String>,
        option: &str,
    ) -> Result<Vec<String>, ConfigError> {
        let list = get(map, option).map(entries).unwrap_or_default();
        for pattern in &list {
            self.check_regex(section, option, pattern)?;
        }
        Ok(list)
    }

    fn check_regex(&self, section: &str, option: &str, pattern: &str) -> Result<(), ConfigError> {
        compile_regex(pattern, true).map(drop).map_err(|e| {
            let why = e.to_string();
            let last = why.lines().last().unwrap_or_default().trim().to_string();
            self.err(
                section,
                option,
                pattern,
                &format!(
                    "a regular expression ({last}; look-around and back-references are not supported)"
                ),
            )
        })
    }

    fn check_tags(&mut self, section: &str, key: &str) {
        let (tags, _) = split_tags(key);
        for tag in tags {
            if !METADATA_TAGS.contains(&tag) {
                self.warn(format!(
                    "[{section}] {key}: unknown tag {tag:?} is ignored; known tags: {}",
                    METADATA_TAGS.join(", ")
                ));
            }
        }
    }

    fn regex_metadata(
        &mut self,
        section: &str,
        map: &BTreeMap<String, String>,
    ) -> Result<RegexMetadataConfig, ConfigError> {
        let mut out = RegexMetadataConfig::default();
        for (key, raw) in map {
            if fold(key) == "search" {
                out.search =
                    parse_bool(raw).ok_or_else(|| self.err(section, key, raw, "true or false"))?;
                continue;
            }
            let values = entries(raw);
            if values.is_empty() {
                return Err(self.err(section, key, raw, "one or more regular expressions"));
            }
            for v in &values {
                self.check_regex(section, key, v)?;
            }
            self.check_tags(section, key);
            out.rules.push(MetadataRule {
                key: key.clone(),
                values,
            });
        }
        Ok(out)
    }

    fn version_rules(
        &mut self,
        section: &str,
        map: &BTreeMap<String, String>,
    ) -> Result<Vec<MetadataRule>, ConfigError> {
        let mut out = Vec::new();
        for (key, raw) in map {
            let values = entries(raw);
            if values.is_empty() {
                return Err(self.err(section, key, raw, "one or more PEP 440 versions"));
            }
            for v in &values {
                if Version::from_str(v).is_err() {
                    return Err(self.err(
                        section,
                        key,
                        v,
                        "PEP 440 versions, one per line (e.g. 3.12)",
                    ));
                }
            }
            self.check_tags(section, key);
            out.push(MetadataRule {
                key: key.clone(),
                values,
            });
        }
        Ok(out)
    }
}

/// A [`SectionMap`] from literals, for tests.
#[cfg(test)]
pub(crate) fn map(sections: &[(&str, &[(&str, &str)])]) -> SectionMap {
    sections
        .iter()
        .map(|(s, opts)| {
            (
                s.to_string(),
                opts.iter()
                    .map(|(k, v)| (k.to_string(), v.to_string()))
                    .collect(),
            )
        })
        .collect()
}

/// Python ConfigParser's `getboolean` words, case-insensitive.
pub fn parse_bool(raw: &str) -> Option<bool> {
    match raw.trim().to_ascii_lowercase().as_str() {
        "1" | "yes" | "true" | "on" => Some(true),
        "0" | "no" | "false" | "off" => Some(false),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(
        sections: &[(&str, &[(&str, &str)])],
    ) -> Result<(FilterConfig, Vec<String>), ConfigError> {
        FilterConfig::from_sections(&map(sections), Path::new("/etc/b.conf"))
    }

    #[test]
    fn enabled_list_and_all() {
        let (c, w) = parse(&[(
            "plugins",
            &[(
                "enabled",
                "\nallowlist_project\n  blocklist_project # names\nnonsense\n",
            )],
        )])
        .unwrap();
        assert_eq!(
            c.enabled,
            vec![Plugin::AllowlistProject, Plugin::BlocklistProject]
        );
        assert!(
            w.iter().any(|m| m.contains("unknown plugin nonsense")),
            "{w:?}"
        );
        let (c, _) = parse(&[("plugins", &[("enabled", "all")])]).unwrap();
        assert_eq!(c.enabled.len(), Plugin::ALL.len());
        let (_, w) = parse(&[("plugins", &[("enabled", "whitelist_project")])]).unwrap();
        assert!(w[0].contains("renamed allowlist_project"), "{w:?}");
    }

    #[test]
    fn multi_line_values_strip_comments_and_blanks() {
        let (c, _) = parse(&[(
            "allowlist",
            &[(
                "packages",
                "\n# a comment line\nFoo.Bar  # inline\n\nblack>=25.1.0\npkg @ https://h/p.whl#sha256=ab\n",
            )],
        )])
        .unwrap();
        assert_eq!(
            c.allowlist_packages,
            vec![
                "Foo.Bar",
                "black>=25.1.0",
                "pkg @ https://h/p.whl#sha256=ab"
            ]
        );
        assert_eq!(c.base_dir, PathBuf::from("/etc"));
    }

    #[test]
    fn sizes() {
        assert_eq!(parse_size("1G"), Some(1 << 30));
        assert_eq!(parse_size("500M"), Some(500 << 20));
        assert_eq!(parse_size("2K"), Some(2048));
        assert_eq!(parse_size("2 KiB"), Some(2048));
        assert_eq!(parse_size("1.5 GB"), Some(3 << 29));
        assert_eq!(parse_size("123"), Some(123));
        assert_eq!(parse_size("10 bytes"), Some(10));
        for bad in ["", "G", "1Q", "-1G", "1G!"] {
            assert_eq!(parse_size(bad), None, "{bad}");
        }
    }

    #[test]
    fn bad_values_name_section_option_value_and_allowed() {
        let e = parse(&[("filter_regex", &[("packages", "ok\n(unclosed")])])
            .unwrap_err()
            .0;
        assert!(
            e.contains("[filter_regex] packages") && e.contains("(unclosed"),
            "{e}"
        );
        assert!(e.contains("regular expression"), "{e}");

        let e = parse(&[("filter_regex", &[("releases", "(?=x)")])])
            .unwrap_err()
            .0;
        assert!(e.contains("look-around"), "{e}");

        let e = parse(&[("allowlist", &[("packages", "black>=>1")])])
            .unwrap_err()
            .0;
        assert!(
            e.contains("[allowlist] packages") && e.contains("black>=>1"),
            "{e}"
        );
        assert!(e.contains("PEP 508"), "{e}");

        let e = parse(&[("size_project_metadata", &[("max_package_size", "lots")])])
            .unwrap_err()
            .0;
        assert!(
            e.contains("max_package_size") && e.contains("lots") && e.contains("1G"),
            "{e}"
        );

        let e = parse(&[("latest_release", &[("keep", "three")])])
            .unwrap_err()
            .0;
        assert!(
            e.contains("[latest_release] keep") && e.contains("three"),
            "{e}"
        );
        let e = parse(&[("latest_release", &[("sort_by", "size")])])
            .unwrap_err()
            .0;
        assert!(e.contains("version or time"), "{e}");

        let e = parse(&[(
            "versions_count_project_metadata",
            &[("min_versions", "10"), ("max_versions", "5")],
        )])
        .unwrap_err()
        .0;
        assert!(e.contains("greater than"), "{e}");

        let e = parse(&[(
            "version_range_release_file_metadata",
            &[("release_file.requires_python", "3.x")],
        )])
        .unwrap_err()
        .0;
        assert!(e.contains("PEP 440"), "{e}");
    }

    #[test]
    fn metadata_sections() {
        let (c, w) = parse(&[
            (
                "regex_release_file_metadata",
                &[
                    ("search", "Yes"),
                    ("none:release_file.filename", "macosx_\n"),
                ],
            ),
            (
                "version_range_release_file_metadata",
                &[("bogus:release_file.requires_python", "3.12\n3.13")],
            ),
        ])
        .unwrap();
        assert!(c.regex_release_file_metadata.search);
        assert_eq!(
            c.regex_release_file_metadata.rules,
            vec![MetadataRule {
                key: "none:release_file.filename".into(),
                values: vec!["macosx_".into()]
            }]
        );
        assert_eq!(
            c.version_range_release_file_metadata[0].values,
            vec!["3.12", "3.13"]
        );
        assert!(
            w.iter().any(|m| m.contains("unknown tag \"bogus\"")),
            "{w:?}"
        );
    }

    #[test]
    fn unknown_options_and_unconfigured_plugins_warn() {
        let (c, w) = parse(&[
            ("plugins", &[("enabled", "latest_release exclude_platform")]),
            (
                "latest_release",
                &[("keep", "3"), ("sort-by", "TIME"), ("keepp", "1")],
            ),
        ])
        .unwrap();
        assert_eq!(c.latest_keep, 3);
        assert_eq!(c.latest_sort_by, SortBy::Time);
        assert!(
            w.iter().any(|m| m.contains("[latest_release] keepp")),
            "{w:?}"
        );
        assert!(
            w.iter().any(|m| m.contains("exclude_platform is enabled")),
            "{w:?}"
        );
        assert_eq!(w.len(), 2, "{w:?}");
    }
}
