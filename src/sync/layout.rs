//! Where things live in the mirror tree (bandersnatch-compatible) and how pages link
//! to files.

use percent_encoding::{AsciiSet, CONTROLS, utf8_percent_encode};
use url::Url;

use crate::config::MirrorConfig;
use crate::storage::{Key, StorageError};

/// Characters escaped in a link's path segment; `+`, `!` and `~` (common in
/// filenames) stay as they are, as bandersnatch writes them.
const SEGMENT: &AsciiSet = &CONTROLS
    .add(b' ')
    .add(b'"')
    .add(b'#')
    .add(b'%')
    .add(b'<')
    .add(b'>')
    .add(b'?')
    .add(b'`')
    .add(b'{')
    .add(b'}');

pub const ROOT_PAGES: [&str; 3] = ["index.html", "index.v1_html", "index.v1_json"];

/// Layout decisions taken from the config once.
#[derive(Debug, Clone)]
pub struct Layout {
    pub hash_index: bool,
    /// Absolute base for links instead of relative ones (`root_uri`).
    pub root_uri: Option<String>,
    pub write_html: bool,
    pub write_json: bool,
}

impl Layout {
    pub fn new(cfg: &MirrorConfig) -> Self {
        use crate::config::SimpleFormat;
        let root_uri = match (&cfg.root_uri, cfg.release_files) {
            (Some(u), _) => Some(u.trim_end_matches('/').to_string()),
            // Without local files, links must point somewhere that has them.
            (None, false) => Some("https://files.pythonhosted.org".to_string()),
            (None, true) => None,
        };
        Self {
            hash_index: cfg.hash_index,
            root_uri,
            write_html: cfg.simple_format != SimpleFormat::Json,
            write_json: cfg.simple_format != SimpleFormat::Html,
        }
    }

    /// `web/simple/<name>/` or, with hash-index, `web/simple/<first char>/<name>/`.
    pub fn project_dir(&self, name: &str) -> Result<Key, StorageError> {
        let dir = match (self.hash_index, name.chars().next()) {
            (true, Some(c)) => format!("web/simple/{c}/{name}"),
            _ => format!("web/simple/{name}"),
        };
        Key::new(&dir)
    }

    /// The page files of a project, in the formats configured.
    pub fn project_pages(&self, name: &str) -> Result<Vec<(Key, PageKind)>, StorageError> {
        let dir = self.project_dir(name)?;
        let mut out = Vec::new();
        if self.write_html {
            out.push((dir.join("index.html")?, PageKind::Html));
            out.push((dir.join("index.v1_html")?, PageKind::Html));
        }
        if self.write_json {
            out.push((dir.join("index.v1_json")?, PageKind::Json));
        }
        Ok(out)
    }

    /// Every page path a project may have had, whatever the format setting (for removal).
    pub fn all_project_keys(&self, name: &str) -> Result<Vec<Key>, StorageError> {
        let dir = self.project_dir(name)?;
        let mut keys = ROOT_PAGES
            .iter()
            .map(|p| dir.join(p))
            .collect::<Result<Vec<_>, _>>()?;
        keys.extend(json_api_keys(name)?);
        Ok(keys)
    }

    /// The href a project page uses for a file stored at `key` (`web/packages/...`).
    pub fn file_href(&self, key: &Key) -> String {
        let rel = url_path(key);
        match &self.root_uri {
            Some(base) => format!("{base}/{rel}"),
            None if self.hash_index => format!("../../../{rel}"),
            None => format!("../../{rel}"),
        }
    }
}

/// A stored key as a URL path relative to `web/`, each segment percent-encoded.
pub fn url_path(key: &Key) -> String {
    let rel = key.as_str().strip_prefix("web/").unwrap_or(key.as_str());
    rel.split('/')
        .map(|s| utf8_percent_encode(s, SEGMENT).to_string())
        .collect::<Vec<_>>()
        .join("/")
}

/// `web/json/<name>` and `web/pypi/<name>/json`.
pub fn json_api_keys(name: &str) -> Result<[Key; 2], StorageError> {
    Ok([
        Key::new(format!("web/json/{name}"))?,
        Key::new(format!("web/pypi/{name}/json"))?,
    ])
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PageKind {
    Html,
    Json,
}

/// Is `url` on a host files may come from: the upstream's own host or a configured
/// download host? Anything else could make the mirror fetch from anywhere.
pub fn allowed_file_host(url: &Url, upstream: &Url, download_hosts: &[String]) -> bool {
    let Some(host) = url.host_str() else {
        return false;
    };
    if upstream
        .host_str()
        .is_some_and(|h| h.eq_ignore_ascii_case(host))
        && url.port_or_known_default() == upstream.port_or_known_default()
    {
        return true;
    }
    download_hosts.iter().any(|h| h.eq_ignore_ascii_case(host))
}

/// PyPI stores files at `/packages/<b2[0:2]>/<b2[2:4]>/<b2[4:]>/<filename>`; when a
/// path has that shape, the blake2b-256 of the bytes must equal those segments.
pub fn blake2b_from_path(key: &Key) -> Option<String> {
    let parts: Vec<&str> = key.as_str().split('/').collect();
    // web / packages / aa / bb / rest / filename
    if parts.len() != 6 || parts[1] != "packages" {
        return None;
    }
    let joined = format!("{}{}{}", parts[2], parts[3], parts[4]);
    let shaped = parts[2].len() == 2
        && parts[3].len() == 2
        && joined.len() == 64
        && joined.bytes().all(|b| b.is_ascii_hexdigit());
    shaped.then(|| joined.to_ascii_lowercase())
}
