//! The model every format converts to and from. Upstream data arrives as JSON API
//! documents or PEP 691 pages; both become a [`Project`], which pages are rendered from
//! and which state records.

use std::collections::BTreeMap;
use std::fmt;
use std::sync::OnceLock;

use bytes::Bytes;
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// The Simple API version vorpal emits (PEP 792 project status).
pub const API_VERSION: &str = "1.4";

/// Whether a file is yanked (PEP 592), with the reason when one was given.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub enum Yanked {
    #[default]
    No,
    /// Yanked; `Some(reason)` when the reason is non-empty.
    Yes(Option<String>),
}

impl Yanked {
    pub fn is_yanked(&self) -> bool {
        matches!(self, Yanked::Yes(_))
    }
}

/// A PEP 658/714 core-metadata file is available at `<url>.metadata`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct CoreMetadata {
    /// Algorithm → lowercase hex of the metadata file; may be empty (`core-metadata: true`).
    pub hashes: BTreeMap<String, String>,
}

/// One distribution file of a project.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct DistFile {
    pub filename: String,
    /// The upstream URL, absolute (resolved against the page it was listed on).
    pub url: String,
    /// Algorithm → lowercase hex (`sha256` is what mirroring needs; `blake2b_256`, `md5` kept).
    pub hashes: BTreeMap<String, String>,
    pub requires_python: Option<String>,
    pub size: Option<u64>,
    /// ISO 8601 UTC, e.g. `2024-01-02T03:04:05.123456Z`.
    pub upload_time: Option<String>,
    pub yanked: Yanked,
    /// `None`: no `.metadata` file is advertised.
    pub core_metadata: Option<CoreMetadata>,
    /// PEP 740 provenance URL.
    pub provenance: Option<String>,
    /// The release this file belongs to, when the source says (JSON API) or the
    /// filename tells.
    pub version: Option<String>,
    /// JSON API `packagetype` (`bdist_wheel`, `sdist`, ...).
    pub packagetype: Option<String>,
    /// JSON API `python_version` (`py3`, `cp311`, `source`, ...).
    pub python_version: Option<String>,
}

impl DistFile {
    pub fn sha256(&self) -> Option<&str> {
        self.hashes.get("sha256").map(String::as_str)
    }
}

/// PEP 792 project status.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProjectStatus {
    /// `active`, `archived`, `quarantined` or `deprecated`.
    pub status: String,
    pub reason: Option<String>,
}

impl ProjectStatus {
    pub fn is_quarantined(&self) -> bool {
        self.status == "quarantined"
    }
}

/// A project as the mirror knows it.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct Project {
    /// PEP 503-normalized name.
    pub name: String,
    /// The name as upstream displays it (`Foo.Bar`).
    pub display_name: String,
    pub last_serial: u64,
    /// Every version with files, plus versions listed without files (PEP 700).
    pub versions: Vec<String>,
    pub files: Vec<DistFile>,
    pub status: Option<ProjectStatus>,
    /// JSON API `info.version` (the version upstream calls current), when known.
    pub info_version: Option<String>,
    /// The JSON API document as fetched, kept to write `web/json/<name>` (links
    /// rewritten) and for the metadata filters.
    #[serde(skip)]
    pub json_api: Option<RawJson>,
}

impl Project {
    /// The files its pages list, sorted by filename: none while quarantined (PEP 792).
    pub fn listed_files(&self) -> Vec<&DistFile> {
        if self
            .status
            .as_ref()
            .is_some_and(ProjectStatus::is_quarantined)
        {
            return Vec::new();
        }
        let mut files: Vec<&DistFile> = self.files.iter().collect();
        files.sort_by(|a, b| a.filename.cmp(&b.filename));
        files
    }
}

/// One project of the root index: normalized name, display name and serial.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RootEntry<'a> {
    pub name: &'a str,
    pub display: &'a str,
    pub serial: u64,
}

impl RootEntry<'_> {
    /// Entries in normalized-name order, sorting only when they are not already
    /// (state lists them in that order).
    pub fn sorted<'e, 'a>(entries: &'e [RootEntry<'a>]) -> std::borrow::Cow<'e, [RootEntry<'a>]> {
        if entries.is_sorted_by(|a, b| a.name <= b.name) {
            std::borrow::Cow::Borrowed(entries)
        } else {
            let mut v = entries.to_vec();
            v.sort_by(|a, b| a.name.cmp(b.name));
            std::borrow::Cow::Owned(v)
        }
    }
}

/// One row of an upstream project list: display name and serial.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListedProject {
    pub name: String,
    pub serial: u64,
}

/// One XML-RPC changelog event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChangelogEntry {
    pub name: String,
    pub version: Option<String>,
    pub timestamp: i64,
    pub action: String,
    pub serial: u64,
}

/// A JSON document as fetched. Its bytes are read into a generic tree only when
/// something asks for it (`json = true`, the metadata filters): a sync reads the
/// fields it needs straight from the bytes, several times faster.
#[derive(Clone, Default)]
pub struct RawJson {
    bytes: Bytes,
    tree: OnceLock<Option<Value>>,
}

impl RawJson {
    pub fn new(bytes: Bytes) -> RawJson {
        RawJson {
            bytes,
            tree: OnceLock::new(),
        }
    }

    /// A document already read as `tree` from `bytes`.
    pub fn with_tree(bytes: Bytes, tree: Value) -> RawJson {
        RawJson {
            bytes,
            tree: OnceLock::from(Some(tree)),
        }
    }

    /// The document as a tree; `None` if the generic reading refuses what the typed
    /// one accepted (a number out of range in a field vorpal does not read).
    pub fn tree(&self) -> Option<&Value> {
        self.tree
            .get_or_init(|| serde_json::from_slice(&self.bytes).ok())
            .as_ref()
    }
}

impl PartialEq for RawJson {
    fn eq(&self, other: &RawJson) -> bool {
        self.bytes == other.bytes
    }
}

impl fmt::Debug for RawJson {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "RawJson({} bytes)", self.bytes.len())
    }
}
