//! PEP 691 JSON pages (`application/vnd.pypi.simple.v1+json`) at api-version 1.4:
//! render the root and project pages, and parse them from an upstream.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use url::Url;

use crate::index::error::{IndexError, check_filename, check_name};
use crate::index::json_in::Obj;
use crate::index::model::{
    API_VERSION, CoreMetadata, DistFile, ListedProject, Project, ProjectStatus, RootEntry, Yanked,
};
use crate::index::names::normalize;
use crate::index::versions::{normalize_upload_time, project_versions, sort_versions};

/// Hash algorithms emitted in JSON. uv fails a whole page on an algorithm it does not
/// know, so upstream extras (`blake2b_256`, `md5`) stay internal.
const EMITTED_HASHES: &[&str] = &["sha256", "sha384", "sha512"];

#[derive(Serialize)]
struct Meta {
    #[serde(rename = "api-version")]
    api_version: &'static str,
    #[serde(rename = "_last-serial")]
    last_serial: u64,
}

impl Meta {
    fn new(last_serial: u64) -> Self {
        Meta {
            api_version: API_VERSION,
            last_serial,
        }
    }
}

#[derive(Serialize)]
struct FileOut<'a> {
    filename: &'a str,
    url: String,
    hashes: BTreeMap<&'a str, &'a str>,
    #[serde(rename = "requires-python", skip_serializing_if = "Option::is_none")]
    requires_python: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    size: Option<u64>,
    #[serde(rename = "upload-time", skip_serializing_if = "Option::is_none")]
    upload_time: Option<String>,
    yanked: Value,
    #[serde(rename = "core-metadata")]
    core_metadata: Value,
    #[serde(skip_serializing_if = "Option::is_none")]
    provenance: Option<&'a str>,
}

#[derive(Serialize)]
struct StatusOut<'a> {
    status: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    reason: Option<&'a str>,
}

#[derive(Serialize)]
struct ProjectOut<'a> {
    meta: Meta,
    name: &'a str,
    versions: Vec<String>,
    files: Vec<FileOut<'a>>,
    #[serde(rename = "project-status", skip_serializing_if = "Option::is_none")]
    project_status: Option<StatusOut<'a>>,
}

#[derive(Serialize)]
struct ListedOut<'a> {
    name: &'a str,
    #[serde(rename = "_last-serial")]
    last_serial: u64,
}

#[derive(Serialize)]
struct RootOut<'a> {
    meta: Meta,
    projects: Vec<ListedOut<'a>>,
}

fn emitted_hashes(h: &BTreeMap<String, String>) -> BTreeMap<&str, &str> {
    h.iter()
        .filter(|(k, _)| EMITTED_HASHES.contains(&k.as_str()))
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect()
}

/// `false`, `true` or the non-empty reason (never `""`).
pub(crate) fn yanked_json(y: &Yanked) -> Value {
    match y {
        Yanked::No => Value::Bool(false),
        Yanked::Yes(Some(r)) if !r.is_empty() => Value::String(r.clone()),
        Yanked::Yes(_) => Value::Bool(true),
    }
}

/// `false`, `true` (hash unknown) or `{"sha256": hex}`.
pub(crate) fn core_metadata_json(cm: &Option<CoreMetadata>) -> Value {
    match cm {
        None => Value::Bool(false),
        Some(cm) => {
            let h = emitted_hashes(&cm.hashes);
            if h.is_empty() {
                Value::Bool(true)
            } else {
                serde_json::json!(h)
            }
        }
    }
}

fn to_json<T: Serialize>(v: &T) -> String {
    // Serializing these plain structs (string keys, no floats) cannot fail.
    serde_json::to_string(v).unwrap_or_else(|_| "{}".to_string())
}

/// A project's detail page. `url` gives each file's link (relative or absolute).
pub fn render_project_json(project: &Project, url: &dyn Fn(&DistFile) -> String) -> String {
    let files = project.listed_files();
    let files = files
        .into_iter()
        .map(|f| FileOut {
            filename: &f.filename,
            url: url(f),
            hashes: emitted_hashes(&f.hashes),
            requires_python: f.requires_python.as_deref(),
            size: f.size,
            upload_time: f.upload_time.as_deref().and_then(normalize_upload_time),
            yanked: yanked_json(&f.yanked),
            core_metadata: core_metadata_json(&f.core_metadata),
            provenance: f.provenance.as_deref(),
        })
        .collect();
    let out = ProjectOut {
        meta: Meta::new(project.last_serial),
        name: &project.name,
        versions: project_versions(project),
        files,
        project_status: project.status.as_ref().map(|s| StatusOut {
            status: &s.status,
            reason: s.reason.as_deref(),
        }),
    };
    to_json(&out)
}

/// The root page, sorted by normalized name, each project under its display name.
pub fn render_root_json(projects: &[RootEntry<'_>], last_serial: u64) -> String {
    let out = RootOut {
        meta: Meta::new(last_serial),
        projects: RootEntry::sorted(projects)
            .iter()
            .map(|p| ListedOut {
                name: p.display,
                last_serial: p.serial,
            })
            .collect(),
    };
    to_json(&out)
}

/// A serial given as an integer or, as bandersnatch writes it, a string.
pub(crate) fn json_serial(v: &Value) -> Option<u64> {
    match v {
        Value::Number(n) => n.as_u64(),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
}

/// `true`, `{alg: hex}` → available; `false`, null or anything else → not advertised.
pub(crate) fn core_metadata_from_json(v: Option<&Value>) -> Option<CoreMetadata> {
    match v? {
        Value::Bool(true) => Some(CoreMetadata::default()),
        Value::Object(m) => Some(CoreMetadata {
            hashes: hashes_from_json(m),
        }),
        _ => None,
    }
}

/// Hash map with algorithm and hex lowercased; non-string values dropped. Unknown
/// algorithms are kept: only rendering decides what to show.
pub(crate) fn hashes_from_json(m: &Map<String, Value>) -> BTreeMap<String, String> {
    hashes_from_pairs(m.iter().map(|(k, v)| (k.as_str(), v.as_str())))
}

/// [`hashes_from_json`] over (algorithm, hex if a string) pairs in key order.
pub(crate) fn hashes_from_pairs<'s>(
    pairs: impl Iterator<Item = (&'s str, Option<&'s str>)>,
) -> BTreeMap<String, String> {
    pairs
        .filter_map(|(k, v)| {
            v.filter(|s| !s.is_empty())
                .map(|s| (k.to_ascii_lowercase(), s.to_ascii_lowercase()))
        })
        .collect()
}

/// PEP 592 yank as JSON gives it: bool, or a reason string (`""` = yanked, no reason).
pub(crate) fn yanked_from_json(v: Option<&Value>, reason: Option<&Value>) -> Yanked {
    let reason = reason
        .and_then(Value::as_str)
        .filter(|r| !r.is_empty())
        .map(str::to_string);
    match v {
        Some(Value::Bool(true)) => Yanked::Yes(reason),
        Some(Value::String(s)) if !s.is_empty() => Yanked::Yes(Some(s.clone())),
        Some(Value::String(_)) => Yanked::Yes(reason),
        _ => Yanked::No,
    }
}

/// PEP 792 `{"status": .., "reason": ..}`; a bare string is taken as the status.
pub(crate) fn status_from_json(v: Option<&Value>) -> Option<ProjectStatus> {
    match v? {
        Value::Object(m) => Some(ProjectStatus {
            status: m.get("status")?.as_str()?.to_string(),
            reason: m
                .get("reason")
                .and_then(Value::as_str)
                .filter(|r| !r.is_empty())
                .map(str::to_string),
        }),
        Value::String(s) if !s.is_empty() => Some(ProjectStatus {
            status: s.clone(),
            reason: None,
        }),
        _ => None,
    }
}

pub(crate) fn parse_json(doc: &str, body: &[u8]) -> Result<Value, IndexError> {
    serde_json::from_slice(body).map_err(|source| IndexError::Json {
        doc: doc.to_string(),
        source,
    })
}

/// Refuses a PEP 629 major version other than 1.
fn check_api_version(doc: &str, meta: Option<&Map<String, Value>>) -> Result<(), IndexError> {
    let Some(version) = meta
        .and_then(|m| m.get("api-version"))
        .and_then(Value::as_str)
    else {
        return Ok(());
    };
    if version.split('.').next() == Some("1") {
        Ok(())
    } else {
        Err(IndexError::UnsupportedApiVersion {
            doc: doc.to_string(),
            version: version.to_string(),
        })
    }
}

/// The root page read straight into its entries: PyPI's lists some 700,000
/// projects, which as a generic JSON tree (a map per entry) take several times the
/// memory and most of the parse time.
#[derive(Deserialize)]
struct RootIn {
    #[serde(default)]
    meta: Option<Value>,
    projects: Vec<Obj<ListedIn>>,
}

#[derive(Deserialize)]
struct ListedIn {
    name: String,
    #[serde(rename = "_last-serial", default)]
    last_serial: Option<Value>,
}

/// Parses the root page: `meta._last-serial` (if any) and every listed project with its
/// serial (0 when not given). Every name must be a valid project name.
pub fn parse_root_json(body: &[u8]) -> Result<(Option<u64>, Vec<ListedProject>), IndexError> {
    let doc = "simple root JSON page";
    // A page the typed reading refuses (a wrong type, a duplicate key) is read again
    // as a generic tree, which names what is wrong or accepts what it can.
    let Ok(Obj(root)) = serde_json::from_slice::<Obj<RootIn>>(body) else {
        return parse_root_json_generic(doc, body);
    };
    let meta = root.meta.as_ref().and_then(Value::as_object);
    check_api_version(doc, meta)?;
    let serial = meta
        .and_then(|m| m.get("_last-serial"))
        .and_then(json_serial);
    let projects = root
        .projects
        .into_iter()
        .map(|Obj(p)| ListedProject {
            name: p.name,
            serial: p.last_serial.as_ref().and_then(json_serial).unwrap_or(0),
        })
        .collect();
    Ok((serial, projects))
}

fn parse_root_json_generic(
    doc: &str,
    body: &[u8],
) -> Result<(Option<u64>, Vec<ListedProject>), IndexError> {
    let root = parse_json(doc, body)?;
    let root = root
        .as_object()
        .ok_or_else(|| IndexError::malformed(doc, "top level is not an object"))?;
    let meta = root.get("meta").and_then(Value::as_object);
    check_api_version(doc, meta)?;
    let serial = meta
        .and_then(|m| m.get("_last-serial"))
        .and_then(json_serial);
    let projects = root
        .get("projects")
        .and_then(Value::as_array)
        .ok_or_else(|| IndexError::malformed(doc, "no \"projects\" array"))?;
    let mut out = Vec::with_capacity(projects.len());
    for (i, p) in projects.iter().enumerate() {
        let name = p.get("name").and_then(Value::as_str).ok_or_else(|| {
            IndexError::malformed(doc, format!("projects[{i}] has no string \"name\""))
        })?;
        // Invalid names are passed on, not fatal: one bad entry must not stop a whole
        // mirror. The planner rejects them before they could become paths.
        out.push(ListedProject {
            name: name.to_string(),
            serial: p.get("_last-serial").and_then(json_serial).unwrap_or(0),
        });
    }
    Ok((serial, out))
}

/// Parses one file object of a PEP 691 page or the JSON API; `url` resolved against
/// `base`. Shared keys only; the caller fills in format-specific ones.
pub(crate) fn file_from_json<'f>(
    doc: &str,
    f: &'f Value,
    index: usize,
    base: Option<&Url>,
) -> Result<(DistFile, &'f Map<String, Value>), IndexError> {
    let m = f
        .as_object()
        .ok_or_else(|| IndexError::malformed(doc, format!("file #{index} is not an object")))?;
    let filename = m.get("filename").and_then(Value::as_str).ok_or_else(|| {
        IndexError::malformed(doc, format!("file #{index} has no string \"filename\""))
    })?;
    check_filename(doc, filename)?;
    let raw_url = m.get("url").and_then(Value::as_str).ok_or_else(|| {
        IndexError::malformed(doc, format!("file {filename:?} has no string \"url\""))
    })?;
    let file = DistFile {
        filename: filename.to_string(),
        url: file_url(doc, raw_url, base)?,
        size: m.get("size").and_then(Value::as_u64),
        ..Default::default()
    };
    Ok((file, m))
}

/// A file's `url`, resolved against `base` when given, else absolute.
pub(crate) fn file_url(doc: &str, raw_url: &str, base: Option<&Url>) -> Result<String, IndexError> {
    let resolved = match base {
        Some(base) => base.join(raw_url),
        None => Url::parse(raw_url),
    };
    resolved
        .map(String::from)
        .map_err(|source| IndexError::BadUrl {
            doc: doc.to_string(),
            href: raw_url.to_string(),
            source,
        })
}

/// Parses a project page fetched from `page_url` (relative file URLs resolve against it).
pub fn parse_project_json(body: &[u8], page_url: &Url) -> Result<Project, IndexError> {
    // As with the root: what the typed reading refuses, the generic one decides.
    match typed::parse_project(body, page_url) {
        Some(project) => Ok(project),
        None => parse_project_generic(body, page_url),
    }
}

fn parse_project_generic(body: &[u8], page_url: &Url) -> Result<Project, IndexError> {
    let doc = page_url.as_str();
    let root = parse_json(doc, body)?;
    let root = root
        .as_object()
        .ok_or_else(|| IndexError::malformed(doc, "top level is not an object"))?;
    let meta = root.get("meta").and_then(Value::as_object);
    check_api_version(doc, meta)?;
    let name = root
        .get("name")
        .and_then(Value::as_str)
        .ok_or_else(|| IndexError::malformed(doc, "no string \"name\""))?;
    check_name(doc, name)?;
    let files_json = root
        .get("files")
        .and_then(Value::as_array)
        .ok_or_else(|| IndexError::malformed(doc, "no \"files\" array"))?;
    let mut project = page_project(name, meta, root.get("project-status"));
    for (i, f) in files_json.iter().enumerate() {
        let (mut file, m) = file_from_json(doc, f, i, Some(page_url))?;
        let s = |k: &str| m.get(k).and_then(Value::as_str);
        PageFileExtras {
            hashes: m
                .get("hashes")
                .and_then(Value::as_object)
                .map(hashes_from_json)
                .unwrap_or_default(),
            requires_python: s("requires-python"),
            upload_time: s("upload-time"),
            yanked: m.get("yanked"),
            core_metadata: m
                .get("core-metadata")
                .or(m.get("dist-info-metadata"))
                .or(m.get("data-dist-info-metadata")),
            provenance: s("provenance"),
        }
        .fill(&mut file, name);
        project.files.push(file);
    }
    let listed = root
        .get("versions")
        .and_then(Value::as_array)
        .map(|vs| vs.iter().filter_map(Value::as_str).map(str::to_string))
        .into_iter()
        .flatten()
        .collect();
    finish_page_project(&mut project, listed);
    Ok(project)
}

/// A project page's project before its files: `meta` gives the serial.
fn page_project(name: &str, meta: Option<&Map<String, Value>>, status: Option<&Value>) -> Project {
    Project {
        name: normalize(name),
        display_name: name.to_string(),
        last_serial: meta
            .and_then(|m| m.get("_last-serial"))
            .and_then(json_serial)
            .unwrap_or(0),
        status: status_from_json(status),
        ..Default::default()
    }
}

fn finish_page_project(project: &mut Project, listed: Vec<String>) {
    project.versions = sort_versions(listed);
    project.versions = project_versions(project);
}

/// A project page's own file keys, as either reading found them.
struct PageFileExtras<'a> {
    hashes: BTreeMap<String, String>,
    requires_python: Option<&'a str>,
    upload_time: Option<&'a str>,
    yanked: Option<&'a Value>,
    /// `core-metadata`, else `dist-info-metadata`, else `data-dist-info-metadata`.
    core_metadata: Option<&'a Value>,
    provenance: Option<&'a str>,
}

impl PageFileExtras<'_> {
    fn fill(self, file: &mut DistFile, project_name: &str) {
        file.hashes = self.hashes;
        file.requires_python = self.requires_python.map(str::to_string);
        file.upload_time = self.upload_time.and_then(normalize_upload_time);
        file.yanked = yanked_from_json(self.yanked, None);
        file.core_metadata = core_metadata_from_json(self.core_metadata);
        file.provenance = self.provenance.map(str::to_string);
        file.version = crate::index::filename::version_from_filename(&file.filename, project_name);
    }
}

mod typed;

#[cfg(test)]
mod tests;
