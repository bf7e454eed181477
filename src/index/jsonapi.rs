//! Warehouse's JSON API (`/pypi/<name>/json`): parse it into a [`Project`] and write it
//! back out with links pointing at the mirror.

use std::collections::{BTreeMap, HashMap, HashSet};

use bytes::Bytes;
use serde_json::{Map, Value, json};
use url::Url;

use crate::index::error::{IndexError, check_name};
use crate::index::model::{DistFile, Project, ProjectStatus, RawJson};
use crate::index::names::normalize;
use crate::index::simple_json::{
    core_metadata_from_json, core_metadata_json, file_from_json, hashes_from_json, json_serial,
    parse_json, status_from_json, yanked_from_json,
};
use crate::index::versions::{
    file_version, normalize_upload_time, project_versions, sort_versions,
};

/// Parses a JSON API document whose file URLs are absolute (as PyPI serves them).
pub fn parse_jsonapi(body: &[u8]) -> Result<Project, IndexError> {
    parse_jsonapi_at(Bytes::copy_from_slice(body), None)
}

/// Like [`parse_jsonapi`], resolving relative file URLs against `page_url` when given.
/// The document is kept in the project as its bytes ([`RawJson`]).
pub fn parse_jsonapi_at(body: Bytes, page_url: Option<&Url>) -> Result<Project, IndexError> {
    // A document the typed reading refuses is read again as a generic tree, which
    // names what is wrong or accepts what it can; the two agree on everything else.
    if let Some(mut project) = typed::parse(&body, page_url) {
        project.json_api = Some(RawJson::new(body));
        return Ok(project);
    }
    parse_generic(body, page_url)
}

fn parse_generic(body: Bytes, page_url: Option<&Url>) -> Result<Project, IndexError> {
    let mut doc = doc_label(page_url, None);
    let root = parse_json(&doc, &body)?;
    let obj = root
        .as_object()
        .ok_or_else(|| IndexError::malformed(&doc, "top level is not an object"))?;
    let info = obj
        .get("info")
        .and_then(Value::as_object)
        .ok_or_else(|| IndexError::malformed(&doc, "no \"info\" object"))?;
    let name = info
        .get("name")
        .and_then(Value::as_str)
        .ok_or_else(|| IndexError::malformed(&doc, "no string \"info.name\""))?;
    check_name(&doc, name)?;
    doc = doc_label(page_url, Some(name));
    let info_version = info
        .get("version")
        .and_then(Value::as_str)
        .filter(|v| !v.is_empty());
    let status = status_from_json(obj.get("project-status"))
        .or_else(|| status_from_json(info.get("project_status")));
    let mut project = new_project(name, info_version, obj.get("last_serial"), status);

    // (version, file) pairs: `releases` when present, else `urls` for info.version.
    let mut entries: Vec<(Option<&str>, &Value)> = Vec::new();
    let mut listed = Vec::new();
    match obj.get("releases") {
        Some(Value::Object(releases)) => {
            for (version, files) in releases {
                listed.push(version.clone());
                let files = files.as_array().ok_or_else(|| {
                    IndexError::malformed(&doc, format!("releases[{version:?}] is not an array"))
                })?;
                entries.extend(files.iter().map(|f| (Some(version.as_str()), f)));
            }
        }
        Some(_) => return Err(IndexError::malformed(&doc, "\"releases\" is not an object")),
        None => {
            if let Some(urls) = obj.get("urls").and_then(Value::as_array) {
                entries.extend(urls.iter().map(|f| (info_version, f)));
            }
        }
    }

    let mut files = Vec::with_capacity(entries.len());
    for (i, (version, f)) in entries.into_iter().enumerate() {
        let (mut file, m) = file_from_json(&doc, f, i, page_url)?;
        let s = |k: &str| m.get(k).and_then(Value::as_str);
        let extras = FileExtras {
            hashes: m
                .get("digests")
                .and_then(Value::as_object)
                .map(hashes_from_json)
                .unwrap_or_default(),
            packagetype: s("packagetype"),
            python_version: s("python_version"),
            requires_python: s("requires_python"),
            upload_time_iso_8601: s("upload_time_iso_8601"),
            upload_time: s("upload_time"),
            yanked: m.get("yanked"),
            yanked_reason: m.get("yanked_reason"),
            core_metadata: m
                .get("core-metadata")
                .or(m.get("data-dist-info-metadata"))
                .or(m.get("dist-info-metadata")),
            provenance: s("provenance"),
        };
        extras.fill(&mut file);
        files.push((version.map(str::to_string), file));
    }
    finish_project(&mut project, listed, files);
    project.json_api = Some(RawJson::with_tree(body, root));
    Ok(project)
}

/// How errors name the document: its URL, or the project once its name is known.
fn doc_label(page_url: Option<&Url>, name: Option<&str>) -> String {
    match (page_url, name) {
        (Some(u), _) => u.to_string(),
        (None, Some(name)) => format!("JSON API document for {name}"),
        (None, None) => "JSON API document".to_string(),
    }
}

fn new_project(
    name: &str,
    info_version: Option<&str>,
    last_serial: Option<&Value>,
    status: Option<ProjectStatus>,
) -> Project {
    Project {
        name: normalize(name),
        display_name: name.to_string(),
        last_serial: last_serial.and_then(json_serial).unwrap_or(0),
        status,
        info_version: info_version.map(str::to_string),
        ..Default::default()
    }
}

/// Adds the files in document order, the first of each filename only (PyPI lists a
/// release's files under `releases` and again under `urls`), and the versions.
fn finish_project(
    project: &mut Project,
    listed: Vec<String>,
    files: Vec<(Option<String>, DistFile)>,
) {
    let mut seen = HashSet::new();
    for (version, mut file) in files {
        if !seen.insert(file.filename.clone()) {
            continue;
        }
        file.version = version.or_else(|| file_version(&file, &project.display_name));
        project.files.push(file);
    }
    project.versions = sort_versions(listed);
    project.versions = project_versions(project);
}

/// The JSON API's own file keys, as either reading found them.
struct FileExtras<'a> {
    hashes: BTreeMap<String, String>,
    packagetype: Option<&'a str>,
    python_version: Option<&'a str>,
    requires_python: Option<&'a str>,
    upload_time_iso_8601: Option<&'a str>,
    upload_time: Option<&'a str>,
    yanked: Option<&'a Value>,
    yanked_reason: Option<&'a Value>,
    /// `core-metadata`, else `data-dist-info-metadata`, else `dist-info-metadata`.
    core_metadata: Option<&'a Value>,
    provenance: Option<&'a str>,
}

impl FileExtras<'_> {
    fn fill(self, file: &mut DistFile) {
        file.hashes = self.hashes;
        file.packagetype = self.packagetype.map(str::to_string);
        file.python_version = self.python_version.map(str::to_string);
        file.requires_python = self
            .requires_python
            .filter(|r| !r.is_empty())
            .map(str::to_string);
        file.upload_time = match self.upload_time_iso_8601 {
            Some(t) => normalize_upload_time(t),
            None => self
                .upload_time
                .and_then(|t| normalize_upload_time(&format!("{t}Z"))),
        };
        file.yanked = yanked_from_json(self.yanked, self.yanked_reason);
        file.core_metadata = core_metadata_from_json(self.core_metadata);
        file.provenance = self.provenance.map(str::to_string);
    }
}

/// The JSON API document to serve. With the upstream document kept, every file `url`
/// in `releases` and `urls` whose filename the project still has is rewritten with
/// `url(file)`; everything else stays as upstream sent it. Without one, a minimal
/// document is synthesized from the project.
pub fn render_jsonapi(project: &Project, url: &dyn Fn(&DistFile) -> String) -> String {
    let doc = match project.json_api.as_ref().and_then(RawJson::tree) {
        Some(raw) => rewrite(raw, project, url),
        None => synthesize(project, url),
    };
    serde_json::to_string(&doc).unwrap_or_else(|_| "{}".to_string())
}

fn rewrite(raw: &Value, project: &Project, url: &dyn Fn(&DistFile) -> String) -> Value {
    let by_name: HashMap<&str, &DistFile> = project
        .files
        .iter()
        .map(|f| (f.filename.as_str(), f))
        .collect();
    let mut doc = raw.clone();
    let fix = |files: &mut Value| {
        for f in files.as_array_mut().into_iter().flatten() {
            let known = f
                .get("filename")
                .and_then(Value::as_str)
                .and_then(|n| by_name.get(n));
            if let (Some(file), Some(obj)) = (known, f.as_object_mut()) {
                obj.insert("url".into(), Value::String(url(file)));
            }
        }
    };
    if let Some(releases) = doc.get_mut("releases").and_then(Value::as_object_mut) {
        releases.values_mut().for_each(fix);
    }
    if let Some(urls) = doc.get_mut("urls") {
        fix(urls);
    }
    doc
}

fn file_json(f: &DistFile, url: &dyn Fn(&DistFile) -> String) -> Value {
    let digests: Map<String, Value> = ["md5", "sha256", "blake2b_256"]
        .iter()
        .filter_map(|k| f.hashes.get(*k).map(|v| (k.to_string(), json!(v))))
        .collect();
    let iso = f.upload_time.as_deref().and_then(normalize_upload_time);
    // Warehouse's `upload_time` is the same instant without fraction or zone.
    let plain = iso.as_ref().map(|t| t.get(..19).unwrap_or(t).to_string());
    let (yanked, reason) = match &f.yanked {
        crate::index::model::Yanked::No => (false, None),
        crate::index::model::Yanked::Yes(r) => (true, r.clone()),
    };
    let mut m = Map::new();
    m.insert("filename".into(), json!(f.filename));
    m.insert("url".into(), json!(url(f)));
    m.insert("digests".into(), Value::Object(digests));
    m.insert("packagetype".into(), json!(f.packagetype));
    m.insert("python_version".into(), json!(f.python_version));
    m.insert("requires_python".into(), json!(f.requires_python));
    if let Some(size) = f.size {
        m.insert("size".into(), json!(size));
    }
    m.insert("upload_time".into(), json!(plain));
    m.insert("upload_time_iso_8601".into(), json!(iso));
    m.insert("yanked".into(), json!(yanked));
    m.insert("yanked_reason".into(), json!(reason));
    if f.core_metadata.is_some() {
        let cm = core_metadata_json(&f.core_metadata);
        m.insert("core-metadata".into(), cm.clone());
        m.insert("data-dist-info-metadata".into(), cm);
    }
    if let Some(p) = &f.provenance {
        m.insert("provenance".into(), json!(p));
    }
    Value::Object(m)
}

fn synthesize(project: &Project, url: &dyn Fn(&DistFile) -> String) -> Value {
    let versions = project_versions(project);
    let current = project
        .info_version
        .clone()
        .or_else(|| versions.last().cloned());
    let quarantined = project
        .status
        .as_ref()
        .is_some_and(ProjectStatus::is_quarantined);
    let mut files: Vec<(Option<String>, &DistFile)> = if quarantined {
        Vec::new()
    } else {
        project
            .files
            .iter()
            .map(|f| (file_version(f, &project.name), f))
            .collect()
    };
    files.sort_by(|a, b| a.1.filename.cmp(&b.1.filename));
    let mut releases = Map::new();
    for v in &versions {
        let list: Vec<Value> = files
            .iter()
            .filter(|(fv, _)| fv.as_ref() == Some(v))
            .map(|(_, f)| file_json(f, url))
            .collect();
        releases.insert(v.clone(), Value::Array(list));
    }
    let current_files: Vec<&DistFile> = files
        .iter()
        .filter(|(fv, _)| fv.is_some() && *fv == current)
        .map(|(_, f)| *f)
        .collect();
    let requires_python = current_files.iter().find_map(|f| f.requires_python.clone());
    let urls: Vec<Value> = current_files.iter().map(|f| file_json(f, url)).collect();
    let display = if project.display_name.is_empty() {
        &project.name
    } else {
        &project.display_name
    };
    json!({
        "info": {
            "name": display,
            "version": current,
            "requires_python": requires_python,
        },
        "last_serial": project.last_serial,
        "releases": releases,
        "urls": urls,
        "vulnerabilities": [],
    })
}

mod typed;

#[cfg(test)]
mod tests;
