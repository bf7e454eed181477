//! A PEP 691 project page read straight into the fields a sync uses, borrowing
//! strings from the bytes. It accepts only pages the generic reading reads the same
//! way and gives up on the rest, which the generic reading then decides (see
//! `index::json_in`).

use std::collections::BTreeMap;

use serde::Deserialize;
use serde_json::Value;
use url::Url;

use super::{
    PageFileExtras, check_api_version, file_url, finish_page_project, hashes_from_pairs,
    page_project,
};
use crate::index::error::{check_filename, check_name};
use crate::index::json_in::{Obj, Text, present, text};
use crate::index::model::{DistFile, Project};

#[derive(Deserialize)]
struct PageIn<'a> {
    #[serde(default)]
    meta: Option<Value>,
    #[serde(borrow)]
    name: Text<'a>,
    #[serde(borrow)]
    files: Vec<Obj<PageFileIn<'a>>>,
    #[serde(rename = "project-status", default)]
    project_status: Option<Value>,
    #[serde(default, borrow)]
    versions: Option<Vec<Option<Text<'a>>>>,
}

#[derive(Deserialize)]
struct PageFileIn<'a> {
    #[serde(borrow)]
    filename: Text<'a>,
    #[serde(borrow)]
    url: Text<'a>,
    #[serde(default)]
    size: Option<u64>,
    #[serde(default, borrow)]
    hashes: Option<BTreeMap<Text<'a>, Option<Text<'a>>>>,
    #[serde(rename = "requires-python", default, borrow)]
    requires_python: Option<Text<'a>>,
    #[serde(rename = "upload-time", default, borrow)]
    upload_time: Option<Text<'a>>,
    #[serde(default)]
    yanked: Option<Value>,
    // The first of these keys present wins, even when it is `null`.
    #[serde(rename = "core-metadata", default, deserialize_with = "present")]
    core_metadata: Option<Value>,
    #[serde(rename = "dist-info-metadata", default, deserialize_with = "present")]
    dist_info_metadata: Option<Value>,
    #[serde(
        rename = "data-dist-info-metadata",
        default,
        deserialize_with = "present"
    )]
    data_dist_info_metadata: Option<Value>,
    #[serde(default, borrow)]
    provenance: Option<Text<'a>>,
}

/// The project, or `None` when the generic reading must decide.
pub(super) fn parse_project(body: &[u8], page_url: &Url) -> Option<Project> {
    let Obj(page) = serde_json::from_slice::<Obj<PageIn>>(body).ok()?;
    let meta = page.meta.as_ref().and_then(Value::as_object);
    check_api_version("", meta).ok()?;
    let name = page.name.as_str();
    check_name("", name).ok()?;
    let mut project = page_project(name, meta, page.project_status.as_ref());
    project.files.reserve(page.files.len());
    for Obj(f) in &page.files {
        let filename = f.filename.as_str();
        check_filename("", filename).ok()?;
        let mut file = DistFile {
            filename: filename.to_string(),
            url: file_url("", f.url.as_str(), Some(page_url)).ok()?,
            size: f.size,
            ..Default::default()
        };
        let hashes = f.hashes.iter().flatten();
        PageFileExtras {
            hashes: hashes_from_pairs(hashes.map(|(k, v)| (k.as_str(), text(v)))),
            requires_python: text(&f.requires_python),
            upload_time: text(&f.upload_time),
            yanked: f.yanked.as_ref(),
            core_metadata: f
                .core_metadata
                .as_ref()
                .or(f.dist_info_metadata.as_ref())
                .or(f.data_dist_info_metadata.as_ref()),
            provenance: text(&f.provenance),
        }
        .fill(&mut file, name);
        project.files.push(file);
    }
    let listed = page.versions.iter().flatten().flatten();
    finish_page_project(
        &mut project,
        listed.map(|v| v.as_str().to_string()).collect(),
    );
    Some(project)
}
