//! The fake index's data and its mutations: projects, releases, real files, the
//! global serial and the PyPI-style journal (one serial per event).

use std::cmp::Ordering;
use std::collections::{BTreeMap, HashMap};
use std::str::FromStr;
use std::sync::Arc;

use blake2::Blake2b;
use blake2::digest::consts::U32;
use bytes::Bytes;
use md5::Md5;
use sha2::{Digest, Sha256};

use super::model::{ChangelogEntry, ExpectedFile, FileKind, FileSpec, ReleaseSpec};
use crate::support::wheel::{self, DistInput, SplitMix};

/// Journal timestamps and upload times derive from the serial, so data is deterministic.
const EPOCH: i64 = 1_700_000_000;

pub fn normalize(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    let mut in_run = false;
    for c in name.chars() {
        if matches!(c, '-' | '_' | '.') {
            if !in_run {
                out.push('-');
            }
            in_run = true;
        } else {
            out.extend(c.to_lowercase());
            in_run = false;
        }
    }
    out
}

pub struct DistFile {
    pub filename: String,
    pub version: String,
    pub is_wheel: bool,
    /// `py3`, `cp312`, ... for wheels, `source` for sdists.
    pub python_version: String,
    pub bytes: Bytes,
    pub metadata: Option<Bytes>,
    pub sha256: String,
    pub md5: String,
    pub blake2b: String,
    pub metadata_sha256: Option<String>,
    pub requires_python: Option<String>,
    pub upload_ts: i64,
    /// The URL path after `/packages/`.
    pub path: String,
}

pub struct Release {
    pub version: String,
    pub files: Vec<Arc<DistFile>>,
    /// `Some("")` is yanked without a reason.
    pub yanked: Option<String>,
}

pub struct Project {
    pub display: String,
    pub normalized: String,
    pub releases: Vec<Release>,
    pub last_serial: u64,
    pub status: String,
    pub status_reason: Option<String>,
}

impl Project {
    pub fn quarantined(&self) -> bool {
        self.status == "quarantined"
    }

    /// Releases in version order (PEP 440 where parseable).
    pub fn sorted_releases(&self) -> Vec<&Release> {
        let mut r: Vec<&Release> = self.releases.iter().collect();
        r.sort_by(|a, b| cmp_versions(&a.version, &b.version));
        r
    }

    /// Like Warehouse: the highest non-yanked final release, else any non-yanked one.
    pub fn latest_version(&self) -> Option<&Release> {
        let sorted = self.sorted_releases();
        let live = || sorted.iter().rev().filter(|r| r.yanked.is_none());
        live()
            .find(|r| !is_prerelease(&r.version))
            .or_else(|| live().next())
            .or_else(|| sorted.last())
            .copied()
    }

    fn release_mut(&mut self, version: &str) -> &mut Release {
        let name = self.display.clone();
        self.releases
            .iter_mut()
            .find(|r| r.version == version)
            .unwrap_or_else(|| panic!("fake upstream: {name} has no release {version}"))
    }
}

pub fn cmp_versions(a: &str, b: &str) -> Ordering {
    match (
        pep440_rs::Version::from_str(a),
        pep440_rs::Version::from_str(b),
    ) {
        (Ok(x), Ok(y)) => x.cmp(&y),
        (Ok(_), Err(_)) => Ordering::Less,
        (Err(_), Ok(_)) => Ordering::Greater,
        (Err(_), Err(_)) => a.cmp(b),
    }
}

fn is_prerelease(v: &str) -> bool {
    pep440_rs::Version::from_str(v).is_ok_and(|v| v.any_prerelease())
}

pub struct State {
    pub projects: BTreeMap<String, Project>,
    pub serial: u64,
    pub changelog: Vec<ChangelogEntry>,
    /// Path under `/packages/` (with or without `.metadata`) → (project, file).
    pub files: HashMap<String, (String, Arc<DistFile>)>,
    pub file_size: usize,
}

impl State {
    pub fn new(file_size: usize) -> State {
        State {
            projects: BTreeMap::new(),
            serial: 0,
            changelog: Vec::new(),
            files: HashMap::new(),
            file_size,
        }
    }

    fn event(&mut self, norm: &str, version: Option<&str>, action: String) -> u64 {
        self.serial += 1;
        let serial = self.serial;
        let name = match self.projects.get_mut(norm) {
            Some(p) => {
                p.last_serial = serial;
                p.display.clone()
            }
            None => norm.to_string(),
        };
        self.changelog.push(ChangelogEntry {
            name,
            version: version.map(str::to_string),
            timestamp: EPOCH + serial as i64 * 60,
            action,
            serial,
        });
        serial
    }

    fn project_mut(&mut self, name: &str) -> &mut Project {
        self.projects
            .get_mut(&normalize(name))
            .unwrap_or_else(|| panic!("fake upstream: no project {name}"))
    }

    /// Creates the project (a `create` event) if it does not exist; returns its key.
    pub fn ensure_project(&mut self, name: &str) -> String {
        let norm = normalize(name);
        if !self.projects.contains_key(&norm) {
            self.projects.insert(
                norm.clone(),
                Project {
                    display: name.to_string(),
                    normalized: norm.clone(),
                    releases: Vec::new(),
                    last_serial: 0,
                    status: "active".to_string(),
                    status_reason: None,
                },
            );
            self.event(&norm, None, "create".to_string());
        }
        norm
    }

    fn ensure_release(&mut self, norm: &str, version: &str) {
        let p = self.projects.get_mut(norm).expect("ensured project");
        if !p.releases.iter().any(|r| r.version == version) {
            p.releases.push(Release {
                version: version.to_string(),
                files: Vec::new(),
                yanked: None,
            });
            self.event(norm, Some(version), "new release".to_string());
        }
    }

    pub fn add_release(&mut self, name: &str, spec: &ReleaseSpec) -> u64 {
        let norm = self.ensure_project(name);
        self.ensure_release(&norm, &spec.version);
        for f in &spec.files {
            self.add_file(name, &spec.version, f);
        }
        self.serial
    }

    pub fn add_file(&mut self, name: &str, version: &str, spec: &FileSpec) -> String {
        let norm = self.ensure_project(name);
        self.ensure_release(&norm, version);
        let display = self.projects[&norm].display.clone();
        let file = build_file(
            &display,
            version,
            spec,
            self.file_size,
            EPOCH + (self.serial as i64 + 1) * 60,
        );
        let taken = self.projects[&norm]
            .releases
            .iter()
            .flat_map(|r| &r.files)
            .any(|f| f.filename == file.filename);
        assert!(
            !taken,
            "fake upstream: {} already exists in {display}",
            file.filename
        );
        let file = Arc::new(file);
        self.files
            .insert(file.path.clone(), (norm.clone(), Arc::clone(&file)));
        if file.metadata.is_some() {
            self.files.insert(
                format!("{}.metadata", file.path),
                (norm.clone(), Arc::clone(&file)),
            );
        }
        self.project_mut(&norm)
            .release_mut(version)
            .files
            .push(Arc::clone(&file));
        let action = format!("add {} file {}", file.python_version, file.filename);
        self.event(&norm, Some(version), action);
        file.filename.clone()
    }

    pub fn set_yanked(&mut self, name: &str, version: &str, yanked: Option<String>) -> u64 {
        let action = if yanked.is_some() {
            "yank release"
        } else {
            "unyank release"
        };
        let p = self.project_mut(name);
        let norm = p.normalized.clone();
        p.release_mut(version).yanked = yanked;
        self.event(&norm, Some(version), action.to_string())
    }

    fn forget(&mut self, file: &DistFile) {
        self.files.remove(&file.path);
        self.files.remove(&format!("{}.metadata", file.path));
    }

    pub fn remove_file(&mut self, name: &str, filename: &str) -> u64 {
        let p = self.project_mut(name);
        let norm = p.normalized.clone();
        let mut removed = None;
        for r in &mut p.releases {
            if let Some(i) = r.files.iter().position(|f| f.filename == filename) {
                removed = Some(r.files.remove(i));
            }
        }
        let file = removed.unwrap_or_else(|| panic!("fake upstream: no file {filename}"));
        self.forget(&file);
        self.event(
            &norm,
            Some(&file.version),
            format!("remove file {filename}"),
        )
    }

    pub fn remove_release(&mut self, name: &str, version: &str) -> u64 {
        let p = self.project_mut(name);
        let norm = p.normalized.clone();
        let i = p
            .releases
            .iter()
            .position(|r| r.version == version)
            .unwrap_or_else(|| panic!("fake upstream: no release {version}"));
        let release = p.releases.remove(i);
        for f in &release.files {
            self.forget(f);
        }
        self.event(&norm, Some(version), "remove release".to_string())
    }

    pub fn remove_project(&mut self, name: &str) -> u64 {
        let norm = normalize(name);
        let serial = self.event(&norm, None, "remove project".to_string());
        let p = self
            .projects
            .remove(&norm)
            .unwrap_or_else(|| panic!("fake upstream: no project {name}"));
        for f in p.releases.iter().flat_map(|r| &r.files) {
            self.forget(f);
        }
        serial
    }

    pub fn set_status(&mut self, name: &str, status: &str, reason: Option<&str>) -> u64 {
        let p = self.project_mut(name);
        let norm = p.normalized.clone();
        p.status = status.to_string();
        p.status_reason = reason.map(str::to_string);
        self.event(&norm, None, format!("set status {status}"))
    }

    pub fn expected_files(&self) -> Vec<ExpectedFile> {
        let mut out = Vec::new();
        for p in self.projects.values().filter(|p| !p.quarantined()) {
            for r in p.sorted_releases() {
                for f in &r.files {
                    out.push(ExpectedFile {
                        project: p.normalized.clone(),
                        filename: f.filename.clone(),
                        path_under_packages: f.path.clone(),
                        sha256: f.sha256.clone(),
                        size: f.bytes.len() as u64,
                        metadata_sha256: f.metadata_sha256.clone(),
                    });
                }
            }
        }
        out
    }
}

fn build_file(
    display: &str,
    version: &str,
    spec: &FileSpec,
    file_size: usize,
    upload_ts: i64,
) -> DistFile {
    let filename = match &spec.kind {
        FileKind::Wheel {
            python_tag,
            abi,
            platform,
        } => wheel::wheel_filename(display, version, python_tag, abi, platform),
        FileKind::Sdist => wheel::sdist_filename(display, version),
    };
    let seed = wheel::seed_of(&filename);
    let pad_len = spec.size.unwrap_or_else(|| {
        if file_size == 0 {
            0
        } else {
            file_size / 2 + SplitMix(seed).below(file_size as u64 + 1) as usize
        }
    });
    let input = DistInput {
        display_name: display,
        version,
        requires_python: spec.requires_python.as_deref(),
        requires_dist: &spec.requires_dist,
        pad_len,
        seed: seed ^ 0x5eed,
    };
    let (bytes, metadata, python_version) = match &spec.kind {
        FileKind::Wheel {
            python_tag,
            abi,
            platform,
        } => {
            let (b, m) = wheel::build_wheel(&input, &format!("{python_tag}-{abi}-{platform}"));
            let m = spec.served_metadata.clone().map_or(m, String::into_bytes);
            (b, Some(m), python_tag.clone())
        }
        FileKind::Sdist => (wheel::build_sdist(&input), None, "source".to_string()),
    };
    let blake2b = hex::encode(Blake2b::<U32>::digest(&bytes));
    let path = format!(
        "{}/{}/{}/{}",
        &blake2b[0..2],
        &blake2b[2..4],
        &blake2b[4..],
        filename
    );
    DistFile {
        sha256: hex::encode(Sha256::digest(&bytes)),
        md5: hex::encode(Md5::digest(&bytes)),
        metadata_sha256: metadata.as_ref().map(|m| hex::encode(Sha256::digest(m))),
        blake2b,
        path,
        filename,
        version: version.to_string(),
        is_wheel: matches!(spec.kind, FileKind::Wheel { .. }),
        python_version,
        bytes: Bytes::from(bytes),
        metadata: metadata.map(Bytes::from),
        requires_python: spec.requires_python.clone(),
        upload_ts,
    }
}
