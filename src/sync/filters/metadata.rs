//! Metadata filters (`metadata_filter.py`): whole-project checks on size, version count,
//! regexes and version ranges over JSON API fields, and the same regex/range checks on
//! each release file.
//!
//! Paths are bandersnatch's dotted paths into the JSON API document (`info.name`,
//! `info.classifiers`) for project rules, and into `{"info", "release",
//! "release_file"}` for file rules (`release_file.packagetype`). Keys may carry tags:
//! `any` (default), `all`, `none`, `not-null`, `match-null` (default: a missing value
//! matches). When the project was read from a simple page and has no JSON document,
//! `info` holds just `name` and `version` and files are described from vorpal's model.

use std::collections::HashMap;
use std::str::FromStr;

use pep440_rs::{Version, VersionSpecifiers};
use regex::Regex;
use serde_json::{Value, json};

use crate::config::ConfigError;
use crate::config::filters::{MetadataRule, RegexMetadataConfig, compile_regex, split_tags};
use crate::index::{DistFile, Project, RawJson, Yanked};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    Any,
    All,
    None,
}

#[derive(Debug, Clone)]
struct RegexRule {
    key: String,
    path: Vec<String>,
    mode: Mode,
    nulls_match: bool,
    patterns: Vec<Regex>,
}

#[derive(Debug, Clone)]
struct RangeRule {
    key: String,
    path: Vec<String>,
    nulls_match: bool,
    versions: Vec<Version>,
}

fn tags(key: &str) -> (Vec<String>, Mode, bool) {
    let (tags, path) = split_tags(key);
    let (mut mode, mut nulls) = (Mode::Any, true);
    for tag in tags {
        match tag {
            "not-null" => nulls = false,
            "match-null" => nulls = true,
            "all" => mode = Mode::All,
            "any" => mode = Mode::Any,
            "none" => mode = Mode::None,
            _ => {}
        }
    }
    (path.split('.').map(str::to_string).collect(), mode, nulls)
}

/// Compiled `[regex_*_metadata]` rules; all rules must pass.
#[derive(Debug, Clone, Default)]
pub(super) struct RegexRules(Vec<RegexRule>);

impl RegexRules {
    pub fn new(section: &str, cfg: &RegexMetadataConfig) -> Result<RegexRules, ConfigError> {
        let mut rules = Vec::new();
        for rule in &cfg.rules {
            let (path, mode, nulls_match) = tags(&rule.key);
            let patterns = rule
                .values
                .iter()
                .map(|p| {
                    compile_regex(p, !cfg.search).map_err(|e| {
                        ConfigError::new(format!("[{section}] {} = {p:?}: {e}", rule.key))
                    })
                })
                .collect::<Result<_, _>>()?;
            rules.push(RegexRule {
                key: rule.key.clone(),
                path,
                mode,
                nulls_match,
                patterns,
            });
        }
        Ok(RegexRules(rules))
    }

    pub fn is_active(&self) -> bool {
        !self.0.is_empty()
    }

    /// The first rule that fails, if any.
    fn failing(&self, lookup: &dyn Fn(&[String]) -> Option<Value>) -> Option<&str> {
        self.0
            .iter()
            .find(|r| !regex_rule_passes(r, &strings(lookup(&r.path).as_ref())))
            .map(|r| r.key.as_str())
    }
}

fn regex_rule_passes(rule: &RegexRule, values: &[String]) -> bool {
    let any = |nulls_match: bool| {
        rule.patterns
            .iter()
            .any(|p| (nulls_match && values.is_empty()) || values.iter().any(|v| p.is_match(v)))
    };
    match rule.mode {
        Mode::Any => any(rule.nulls_match),
        Mode::All => rule.patterns.iter().all(|p| {
            (rule.nulls_match && values.is_empty()) || values.iter().any(|v| p.is_match(v))
        }),
        // bandersnatch evaluates `none` as "not any" with missing values matching.
        Mode::None => !any(true),
    }
}

/// A node as the list of strings regexes run over (Python `str()` of scalars).
fn strings(node: Option<&Value>) -> Vec<String> {
    fn scalar(v: &Value) -> Option<String> {
        match v {
            Value::String(s) => Some(s.clone()),
            Value::Bool(true) => Some("True".into()),
            Value::Bool(false) => Some("False".into()),
            Value::Number(n) => Some(n.to_string()),
            _ => None,
        }
    }
    match node {
        None | Some(Value::Null) => Vec::new(),
        Some(Value::Array(items)) => items.iter().filter_map(scalar).collect(),
        Some(v) => scalar(v).into_iter().collect(),
    }
}

/// Compiled `[version_range_*_metadata]` rules; all rules must pass.
#[derive(Debug, Clone, Default)]
pub(super) struct RangeRules(Vec<RangeRule>);

impl RangeRules {
    pub fn new(section: &str, rules: &[MetadataRule]) -> Result<RangeRules, ConfigError> {
        let mut out = Vec::new();
        for rule in rules {
            let (path, _, nulls_match) = tags(&rule.key);
            let versions = rule
                .values
                .iter()
                .map(|v| {
                    Version::from_str(v).map_err(|e| {
                        ConfigError::new(format!("[{section}] {} = {v:?}: {e}", rule.key))
                    })
                })
                .collect::<Result<_, _>>()?;
            out.push(RangeRule {
                key: rule.key.clone(),
                path,
                nulls_match,
                versions,
            });
        }
        Ok(RangeRules(out))
    }

    pub fn is_active(&self) -> bool {
        !self.0.is_empty()
    }

    fn failing(&self, lookup: &dyn Fn(&[String]) -> Option<Value>) -> Option<&str> {
        self.0
            .iter()
            .find(|r| !range_rule_passes(r, lookup(&r.path).as_ref()))
            .map(|r| r.key.as_str())
    }
}

/// The upstream value (e.g. `requires_python = ">=3.9"`) must admit one of the
/// configured versions, pre-releases allowed.
fn range_rule_passes(rule: &RangeRule, node: Option<&Value>) -> bool {
    let is_null = match node {
        None | Some(Value::Null) => true,
        Some(Value::String(s)) => s.is_empty(),
        Some(Value::Array(a)) => a.is_empty(),
        Some(Value::Object(o)) => o.is_empty(),
        Some(Value::Bool(b)) => !b,
        Some(Value::Number(n)) => n.as_f64() == Some(0.0),
    };
    if is_null {
        return rule.nulls_match;
    }
    let Some(Value::String(text)) = node else {
        return false;
    };
    match VersionSpecifiers::from_str(text) {
        Ok(specs) => rule.versions.iter().any(|v| specs.contains(v)),
        // Upstream data is untrusted: an unreadable range keeps the item rather than
        // silently shrinking the mirror.
        Err(_) => true,
    }
}

/// Follow `path` from `node` through objects; missing or null ends the walk.
fn walk<'v>(node: &'v Value, path: &[String]) -> Option<&'v Value> {
    let mut node = node;
    for p in path {
        node = node.as_object()?.get(p.as_str())?;
        if node.is_null() {
            return None;
        }
    }
    Some(node)
}

/// What the metadata filters see of one project.
pub(super) struct ProjectView<'a> {
    project: &'a Project,
    synthesized: Option<Value>,
    raw_files: HashMap<&'a str, &'a Value>,
}

impl<'a> ProjectView<'a> {
    pub fn new(project: &'a Project) -> ProjectView<'a> {
        let mut raw_files = HashMap::new();
        let synthesized = match project.json_api.as_ref().and_then(RawJson::tree) {
            Some(doc) => {
                let lists = doc
                    .get("releases")
                    .and_then(Value::as_object)
                    .into_iter()
                    .flat_map(|r| r.values())
                    .chain(doc.get("urls"));
                for list in lists {
                    for f in list.as_array().into_iter().flatten() {
                        if let Some(name) = f.get("filename").and_then(Value::as_str) {
                            raw_files.entry(name).or_insert(f);
                        }
                    }
                }
                None
            }
            None => Some(json!({
                "info": {"name": project.display_name, "version": project.info_version},
                "releases": versions_json(project),
            })),
        };
        ProjectView {
            project,
            synthesized,
            raw_files,
        }
    }

    fn root(&self) -> &Value {
        match (
            &self.synthesized,
            self.project.json_api.as_ref().and_then(RawJson::tree),
        ) {
            (Some(v), _) | (None, Some(v)) => v,
            (None, None) => &Value::Null,
        }
    }

    fn project_lookup(&self, path: &[String]) -> Option<Value> {
        walk(self.root(), path).cloned()
    }

    fn file_lookup(&self, file: &DistFile, path: &[String]) -> Option<Value> {
        let (first, rest) = path.split_first()?;
        match first.as_str() {
            "info" => walk(self.root().get("info")?, rest).cloned(),
            "release" if rest.is_empty() => file.version.clone().map(Value::String),
            "release_file" => match self.raw_files.get(file.filename.as_str()) {
                Some(raw) => walk(raw, rest).cloned(),
                None => walk(&file_json(file), rest).cloned(),
            },
            _ => None,
        }
    }
}

fn versions_json(project: &Project) -> Value {
    let mut releases = serde_json::Map::new();
    for v in &project.versions {
        releases.insert(v.clone(), Value::Array(Vec::new()));
    }
    for f in &project.files {
        if let Some(v) = &f.version {
            let entry = releases
                .entry(v.clone())
                .or_insert_with(|| Value::Array(Vec::new()));
            if let Value::Array(list) = entry {
                list.push(file_json(f));
            }
        }
    }
    Value::Object(releases)
}

/// A release file in the JSON API's shape.
fn file_json(f: &DistFile) -> Value {
    let (yanked, reason) = match &f.yanked {
        Yanked::No => (false, None),
        Yanked::Yes(r) => (true, r.clone()),
    };
    json!({
        "filename": f.filename,
        "url": f.url,
        "digests": f.hashes,
        "requires_python": f.requires_python,
        "size": f.size,
        "upload_time_iso_8601": f.upload_time,
        "upload_time": f.upload_time,
        "yanked": yanked,
        "yanked_reason": reason,
        "packagetype": f.packagetype,
        "python_version": f.python_version,
    })
}

/// The metadata filters that can skip a whole project.
#[derive(Debug, Clone, Default)]
pub(super) struct ProjectMetadataFilters {
    pub max_package_size: Option<u64>,
    pub min_versions: Option<u64>,
    pub max_versions: Option<u64>,
    /// `[allowlist] packages` names: exempt from the size and count limits.
    pub exempt: Vec<String>,
    pub regex: RegexRules,
    pub range: RangeRules,
}

impl ProjectMetadataFilters {
    /// Why the project is skipped, or `None` to keep it.
    /// `view` must be given when regex or range rules are set.
    pub fn skip_reason(&self, project: &Project, view: Option<&ProjectView>) -> Option<String> {
        let exempt = self.exempt.contains(&project.name);
        if let Some(max) = self.max_package_size
            && !exempt
        {
            let total: u64 = project.files.iter().filter_map(|f| f.size).sum();
            if total > max {
                return Some(format!(
                    "size_project_metadata: {total} bytes in all files exceeds max_package_size {max}"
                ));
            }
        }
        if (self.min_versions.is_some() || self.max_versions.is_some()) && !exempt {
            let count = distinct_versions(project);
            if self.min_versions.is_some_and(|min| (count as u64) < min)
                || self.max_versions.is_some_and(|max| count as u64 > max)
            {
                return Some(format!(
                    "versions_count_project_metadata: {count} versions is outside min_versions {} .. max_versions {}",
                    self.min_versions.unwrap_or(0),
                    self.max_versions
                        .map_or("unbounded".to_string(), |m| m.to_string())
                ));
            }
        }
        let lookup = |p: &[String]| view.and_then(|v| v.project_lookup(p));
        if let Some(key) = self.regex.failing(&lookup) {
            return Some(format!("regex_project_metadata: {key} does not match"));
        }
        if let Some(key) = self.range.failing(&lookup) {
            return Some(format!(
                "version_range_project_metadata: {key} admits none of the configured versions"
            ));
        }
        None
    }
}

fn distinct_versions(project: &Project) -> usize {
    let mut all: Vec<&str> = project.versions.iter().map(String::as_str).collect();
    all.extend(project.files.iter().filter_map(|f| f.version.as_deref()));
    all.sort_unstable();
    all.dedup();
    all.len()
}

/// `regex_release_file_metadata` and `version_range_release_file_metadata`.
#[derive(Debug, Clone, Default)]
pub(super) struct FileMetadataFilters {
    pub regex: RegexRules,
    pub range: RangeRules,
}

impl FileMetadataFilters {
    pub fn is_active(&self) -> bool {
        self.regex.is_active() || self.range.is_active()
    }

    pub fn keeps(&self, view: &ProjectView, file: &DistFile) -> bool {
        let lookup = |p: &[String]| view.file_lookup(file, p);
        self.regex.failing(&lookup).is_none() && self.range.failing(&lookup).is_none()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rules(search: bool, key: &str, values: &[&str]) -> RegexRules {
        RegexRules::new(
            "t",
            &RegexMetadataConfig {
                search,
                rules: vec![MetadataRule {
                    key: key.into(),
                    values: values.iter().map(|s| s.to_string()).collect(),
                }],
            },
        )
        .unwrap()
    }

    fn project(files: &[(&str, &str, Option<&str>)]) -> Project {
        Project {
            name: "foo".into(),
            display_name: "Foo".into(),
            files: files
                .iter()
                .map(|(name, version, rp)| DistFile {
                    filename: name.to_string(),
                    version: Some(version.to_string()),
                    requires_python: rp.map(str::to_string),
                    packagetype: Some("bdist_wheel".into()),
                    ..DistFile::default()
                })
                .collect(),
            ..Project::default()
        }
    }

    #[test]
    fn release_file_regex_match_and_search() {
        let p = project(&[
            ("foo-1.0-macosx_x86_64.whl", "1.0", None),
            ("macosx_10_15_x86_64.whl", "1.0", None),
        ]);
        let view = ProjectView::new(&p);
        let anchored = FileMetadataFilters {
            regex: rules(false, "none:release_file.filename", &["macosx_"]),
            ..Default::default()
        };
        let kept: Vec<_> = p
            .files
            .iter()
            .filter(|f| anchored.keeps(&view, f))
            .collect();
        assert_eq!(kept.len(), 1);
        assert_eq!(kept[0].filename, "foo-1.0-macosx_x86_64.whl");
        let search = FileMetadataFilters {
            regex: rules(true, "none:release_file.filename", &["macosx_"]),
            ..Default::default()
        };
        assert!(p.files.iter().all(|f| !search.keeps(&view, f)));
    }

    #[test]
    fn project_regex_over_json_document() {
        let mut p = project(&[]);
        let doc = json!({"info": {"name": "Foo", "classifiers": [
            "Programming Language :: Python :: 3", "License :: OSI Approved :: MIT License"]}});
        p.json_api = Some(RawJson::new(doc.to_string().into()));
        let view = ProjectView::new(&p);
        let f = ProjectMetadataFilters {
            regex: rules(false, "info.classifiers", &["License :: OSI Approved"]),
            ..Default::default()
        };
        assert_eq!(f.skip_reason(&p, Some(&view)), None);
        let f = ProjectMetadataFilters {
            regex: rules(
                false,
                "all:info.classifiers",
                &["License :: OSI", "Topic ::"],
            ),
            ..Default::default()
        };
        assert!(f.skip_reason(&p, Some(&view)).is_some());
        // Missing values match unless not-null.
        let f = ProjectMetadataFilters {
            regex: rules(false, "info.keywords", &["x"]),
            ..Default::default()
        };
        assert_eq!(f.skip_reason(&p, Some(&view)), None);
        let f = ProjectMetadataFilters {
            regex: rules(false, "not-null:info.keywords", &["x"]),
            ..Default::default()
        };
        assert!(f.skip_reason(&p, Some(&view)).is_some());
    }

    #[test]
    fn version_range_on_requires_python() {
        let p = project(&[
            ("a-1-py3-none-any.whl", "1", Some(">=3.10")),
            ("b-1-py2-none-any.whl", "1", Some("<3")),
            ("c-1-py3-none-any.whl", "1", None),
            ("d-1-py3-none-any.whl", "1", Some(">=3.6.*garbage")),
        ]);
        let view = ProjectView::new(&p);
        let rule = |key: &str| FileMetadataFilters {
            range: RangeRules::new(
                "t",
                &[MetadataRule {
                    key: key.into(),
                    values: vec!["3.12".into()],
                }],
            )
            .unwrap(),
            ..Default::default()
        };
        let f = rule("release_file.requires_python");
        let kept: Vec<_> = p
            .files
            .iter()
            .filter(|x| f.keeps(&view, x))
            .map(|x| &x.filename[..1])
            .collect();
        assert_eq!(kept, vec!["a", "c", "d"]);
        let f = rule("not-null:release_file.requires_python");
        let kept: Vec<_> = p
            .files
            .iter()
            .filter(|x| f.keeps(&view, x))
            .map(|x| &x.filename[..1])
            .collect();
        assert_eq!(kept, vec!["a", "d"]);
    }

    fn reason(f: &ProjectMetadataFilters, p: &Project) -> Option<String> {
        f.skip_reason(p, Some(&ProjectView::new(p)))
    }

    #[test]
    fn size_and_count_limits_with_allowlist_exemption() {
        let mut p = project(&[("a", "1.2.0", None), ("b", "1.2.1", None)]);
        p.files[0].size = Some(1024);
        p.files[1].size = Some(1025);
        let f = ProjectMetadataFilters {
            max_package_size: Some(2048),
            ..Default::default()
        };
        assert!(reason(&f, &p).unwrap().contains("2049 bytes"));
        p.files[1].size = Some(1024);
        assert_eq!(reason(&f, &p), None, "2048 is not over 2048");
        p.files[1].size = Some(1025);
        let f = ProjectMetadataFilters {
            max_package_size: Some(2048),
            exempt: vec!["foo".into()],
            ..Default::default()
        };
        assert_eq!(reason(&f, &p), None);

        p.versions = vec!["1.0".into(), "1.2.0".into()];
        let f = ProjectMetadataFilters {
            min_versions: Some(3),
            max_versions: Some(5),
            ..Default::default()
        };
        assert_eq!(reason(&f, &p), None, "1.0, 1.2.0, 1.2.1");
        p.versions.push("0.9".into());
        p.versions.push("0.8".into());
        p.versions.push("0.7".into());
        assert!(reason(&f, &p).unwrap().contains("6 versions"));
    }
}
