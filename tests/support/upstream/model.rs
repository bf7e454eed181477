//! The fake's public data types: what tests ask for (specs, faults, options) and
//! what they get back (changelog entries, request records, expected files).

use std::time::Duration;

/// How the fake is started.
#[derive(Clone, Debug)]
pub struct UpstreamOptions {
    /// HTTPS with a fresh test CA (default) or plain HTTP.
    pub tls: bool,
    /// Typical padding per file in bytes; each file gets 0.5x..1.5x of it.
    pub file_size: usize,
    /// Most entries one `changelog_since_serial` call returns (PyPI: 50,000).
    pub changelog_cap: usize,
}

impl Default for UpstreamOptions {
    fn default() -> Self {
        UpstreamOptions {
            tls: true,
            file_size: 2048,
            changelog_cap: 50_000,
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum FileKind {
    Wheel {
        python_tag: String,
        abi: String,
        platform: String,
    },
    Sdist,
}

/// One distribution file to create.
#[derive(Clone, Debug)]
pub struct FileSpec {
    pub kind: FileKind,
    pub requires_python: Option<String>,
    pub requires_dist: Vec<String>,
    /// Padding override for this file (exact bytes), else derived from `file_size`.
    pub size: Option<usize>,
    /// Serve these bytes as the wheel's `.metadata` (listed with their hash) instead
    /// of the wheel's own METADATA: an index whose two copies differ.
    pub served_metadata: Option<String>,
}

impl FileSpec {
    /// A `py3-none-any` wheel.
    pub fn wheel() -> FileSpec {
        FileSpec::wheel_tagged("py3", "none", "any")
    }

    pub fn wheel_tagged(python_tag: &str, abi: &str, platform: &str) -> FileSpec {
        FileSpec {
            kind: FileKind::Wheel {
                python_tag: python_tag.to_string(),
                abi: abi.to_string(),
                platform: platform.to_string(),
            },
            requires_python: None,
            requires_dist: Vec::new(),
            size: None,
            served_metadata: None,
        }
    }

    pub fn sdist() -> FileSpec {
        FileSpec {
            kind: FileKind::Sdist,
            requires_python: None,
            requires_dist: Vec::new(),
            size: None,
            served_metadata: None,
        }
    }

    pub fn requires_python(mut self, spec: &str) -> FileSpec {
        self.requires_python = Some(spec.to_string());
        self
    }

    pub fn requires_dist(mut self, req: &str) -> FileSpec {
        self.requires_dist.push(req.to_string());
        self
    }

    pub fn size(mut self, bytes: usize) -> FileSpec {
        self.size = Some(bytes);
        self
    }

    pub fn served_metadata(mut self, text: &str) -> FileSpec {
        self.served_metadata = Some(text.to_string());
        self
    }
}

#[derive(Clone, Debug)]
pub struct ReleaseSpec {
    pub version: String,
    pub files: Vec<FileSpec>,
}

impl ReleaseSpec {
    /// One `py3-none-any` wheel and one sdist.
    pub fn new(version: &str) -> ReleaseSpec {
        ReleaseSpec {
            version: version.to_string(),
            files: vec![FileSpec::wheel(), FileSpec::sdist()],
        }
    }

    pub fn with_files(version: &str, files: Vec<FileSpec>) -> ReleaseSpec {
        ReleaseSpec {
            version: version.to_string(),
            files,
        }
    }
}

#[derive(Clone, Debug, Default)]
pub struct ProjectSpec {
    pub releases: Vec<ReleaseSpec>,
}

/// One XML-RPC changelog row: `[name, version|nil, timestamp, action, serial]`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ChangelogEntry {
    pub name: String,
    pub version: Option<String>,
    pub timestamp: i64,
    pub action: String,
    pub serial: u64,
}

/// What a correct full mirror must hold for one file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ExpectedFile {
    /// Normalized project name.
    pub project: String,
    pub filename: String,
    /// The URL path after `/packages/`: `<b2[0:2]>/<b2[2:4]>/<b2[4:]>/<filename>`.
    pub path_under_packages: String,
    pub sha256: String,
    pub size: u64,
    /// sha256 of the `.metadata` file (wheels only).
    pub metadata_sha256: Option<String>,
}

/// Which requests a fault applies to.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum FaultTarget {
    /// Request paths starting with this prefix (e.g. `/simple/`, `/packages/`).
    Path(String),
    /// Anything about this project: its simple page, JSON API page and files.
    Project(String),
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum FaultKind {
    /// `X-PyPI-Last-Serial` one lower than the truth (pages only).
    StaleSerial,
    /// No `X-PyPI-Last-Serial` header at all (pages only).
    MissingSerial,
    /// Answer with this status (429 and 503 carry `Retry-After: 1`).
    Status(u16),
    /// Headers and part of the body, then the connection is dropped.
    ResetMidBody,
    /// `Content-Length` of the full body, but only half of it is sent.
    Truncate,
    /// Same length, different bytes (the advertised hashes no longer match).
    WrongBytes,
    /// Wait this long, then answer normally.
    Slow(Duration),
    /// XML-RPC fault response with this code (XML-RPC requests only).
    XmlRpcFault(i32),
}

/// One logged request.
#[derive(Clone, Debug)]
pub struct RequestRecord {
    pub method: String,
    /// Path without the query string.
    pub path: String,
    pub query: Option<String>,
    pub accept: Option<String>,
    pub range: Option<String>,
    pub status: u16,
    /// The fault applied to this request, if any.
    pub fault: Option<FaultKind>,
    /// For XML-RPC calls, the method name.
    pub xmlrpc_method: Option<String>,
}
