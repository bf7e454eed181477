//! The JSON API document read straight into the fields a sync uses. A generic tree
//! allocates a map per file and a string per value, including `info.description`
//! (often tens of KB on PyPI) that nothing reads; this reading skips what it does not
//! use and borrows strings from the bytes. It accepts only documents the generic
//! reading reads the same way; on anything else it gives up and the caller reads
//! the document generically, so errors and edge cases are the generic reading's.

use std::collections::BTreeMap;

use serde::Deserialize;
use serde_json::Value;
use url::Url;

use super::{FileExtras, finish_project, new_project};
use crate::index::error::{check_filename, check_name};
use crate::index::json_in::{Obj, Text, present, text};
use crate::index::model::{DistFile, Project};
use crate::index::simple_json::{file_url, hashes_from_pairs, status_from_json};

#[derive(Deserialize)]
struct DocIn<'a> {
    #[serde(borrow)]
    info: Obj<InfoIn<'a>>,
    #[serde(default)]
    last_serial: Option<Value>,
    #[serde(rename = "project-status", default)]
    project_status: Option<Value>,
    // A `null` here is an error in the generic reading, not a missing key.
    #[serde(default, borrow, deserialize_with = "present")]
    releases: Option<BTreeMap<Text<'a>, Vec<Obj<FileIn<'a>>>>>,
    #[serde(default, borrow)]
    urls: Option<Vec<Obj<FileIn<'a>>>>,
}

#[derive(Deserialize)]
struct InfoIn<'a> {
    #[serde(borrow)]
    name: Text<'a>,
    #[serde(default, borrow)]
    version: Option<Text<'a>>,
    #[serde(default)]
    project_status: Option<Value>,
}

#[derive(Deserialize)]
struct FileIn<'a> {
    #[serde(borrow)]
    filename: Text<'a>,
    #[serde(borrow)]
    url: Text<'a>,
    #[serde(default)]
    size: Option<u64>,
    #[serde(default, borrow)]
    digests: Option<BTreeMap<Text<'a>, Option<Text<'a>>>>,
    #[serde(default, borrow)]
    packagetype: Option<Text<'a>>,
    #[serde(default, borrow)]
    python_version: Option<Text<'a>>,
    #[serde(default, borrow)]
    requires_python: Option<Text<'a>>,
    #[serde(default, borrow)]
    upload_time_iso_8601: Option<Text<'a>>,
    #[serde(default, borrow)]
    upload_time: Option<Text<'a>>,
    #[serde(default)]
    yanked: Option<Value>,
    #[serde(default)]
    yanked_reason: Option<Value>,
    // The first of these keys present wins, even when it is `null`.
    #[serde(rename = "core-metadata", default, deserialize_with = "present")]
    core_metadata: Option<Value>,
    #[serde(
        rename = "data-dist-info-metadata",
        default,
        deserialize_with = "present"
    )]
    data_dist_info_metadata: Option<Value>,
    #[serde(rename = "dist-info-metadata", default, deserialize_with = "present")]
    dist_info_metadata: Option<Value>,
    #[serde(default, borrow)]
    provenance: Option<Text<'a>>,
}

/// The project, or `None` when the generic reading must decide (a type it does not
/// expect, a duplicate key, an invalid name, filename or URL). Errors are not named
/// here: the generic reading names them.
pub(super) fn parse(body: &[u8], page_url: Option<&Url>) -> Option<Project> {
    let Obj(doc) = serde_json::from_slice::<Obj<DocIn>>(body).ok()?;
    let Obj(info) = &doc.info;
    let name = info.name.as_str();
    check_name("", name).ok()?;
    let info_version = text(&info.version).filter(|v| !v.is_empty());
    let status = status_from_json(doc.project_status.as_ref())
        .or_else(|| status_from_json(info.project_status.as_ref()));
    let mut project = new_project(name, info_version, doc.last_serial.as_ref(), status);

    // (version, file) pairs: `releases` when present, else `urls` for info.version.
    let mut entries: Vec<(Option<&str>, &FileIn)> = Vec::new();
    let mut listed = Vec::new();
    match &doc.releases {
        Some(releases) => {
            for (version, files) in releases {
                listed.push(version.as_str().to_string());
                entries.extend(files.iter().map(|Obj(f)| (Some(version.as_str()), f)));
            }
        }
        None => {
            let urls = doc.urls.iter().flatten();
            entries.extend(urls.map(|Obj(f)| (info_version, f)));
        }
    }

    let mut files = Vec::with_capacity(entries.len());
    for (version, f) in entries {
        let filename = f.filename.as_str();
        check_filename("", filename).ok()?;
        let mut file = DistFile {
            filename: filename.to_string(),
            url: file_url("", f.url.as_str(), page_url).ok()?,
            size: f.size,
            ..Default::default()
        };
        let digests = f.digests.iter().flatten();
        FileExtras {
            hashes: hashes_from_pairs(digests.map(|(k, v)| (k.as_str(), text(v)))),
            packagetype: text(&f.packagetype),
            python_version: text(&f.python_version),
            requires_python: text(&f.requires_python),
            upload_time_iso_8601: text(&f.upload_time_iso_8601),
            upload_time: text(&f.upload_time),
            yanked: f.yanked.as_ref(),
            yanked_reason: f.yanked_reason.as_ref(),
            core_metadata: f
                .core_metadata
                .as_ref()
                .or(f.data_dist_info_metadata.as_ref())
                .or(f.dist_info_metadata.as_ref()),
            provenance: text(&f.provenance),
        }
        .fill(&mut file);
        files.push((version.map(str::to_string), file));
    }
    finish_project(&mut project, listed, files);
    Some(project)
}
