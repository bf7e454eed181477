//! Pages (simple indexes, JSON API documents) read whole into memory, with their
//! ETag hash and serial computed once per version of the file and kept in a small
//! byte-bounded LRU keyed by path + variant and validated by (mtime, size, inode).

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::SystemTime;

use bytes::Bytes;
use serde::Deserialize;
use sha2::{Digest, Sha256};

/// A page ready to send.
#[derive(Debug)]
pub struct Page {
    pub bytes: Bytes,
    /// Hex hash of `bytes` (ETag material).
    pub hash: String,
    /// The serial the page carries, when it carries one.
    pub serial: Option<i64>,
}

impl Page {
    pub fn new(bytes: Bytes, serial: Option<i64>) -> Page {
        let digest = Sha256::digest(&bytes);
        Page {
            hash: hex::encode(&digest[..16]),
            bytes,
            serial,
        }
    }

    /// A page whose serial is read from its own bytes.
    pub fn from_bytes(bytes: Bytes, kind: Kind) -> Page {
        let serial = match kind {
            Kind::Html => html_serial(&bytes),
            Kind::Json => json_serial(&bytes),
        };
        Page::new(bytes, serial)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Html,
    Json,
}

/// Identity of one version of a file; files are replaced by rename, so the inode changes too.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Stamp {
    mtime: Option<SystemTime>,
    len: u64,
    ino: u64,
}

impl Stamp {
    pub fn of(meta: &std::fs::Metadata) -> Stamp {
        #[cfg(unix)]
        let ino = std::os::unix::fs::MetadataExt::ino(meta);
        #[cfg(not(unix))]
        let ino = 0;
        Stamp {
            mtime: meta.modified().ok(),
            len: meta.len(),
            ino,
        }
    }
}

struct Entry {
    stamp: Stamp,
    page: Arc<Page>,
    last_used: u64,
}

#[derive(Default)]
struct Lru {
    map: HashMap<(PathBuf, String), Entry>,
    bytes: usize,
    tick: u64,
}

/// The cache. Eviction scans for the least recently used entry: the map holds at
/// most a few hundred pages, so a linked list would buy nothing.
pub struct PageCache {
    inner: Mutex<Lru>,
    budget: usize,
    serials: Mutex<HashMap<PathBuf, (Stamp, Option<i64>)>>,
}

impl PageCache {
    pub fn new(budget: usize) -> PageCache {
        PageCache {
            inner: Mutex::new(Lru::default()),
            budget,
            serials: Mutex::new(HashMap::new()),
        }
    }

    /// The page at `path` (already resolved inside web/), built by `build` from the
    /// file's bytes on a miss. `variant` separates derived pages of the same file.
    pub async fn get(
        &self,
        path: &Path,
        meta: &std::fs::Metadata,
        variant: &str,
        build: impl FnOnce(Bytes) -> Page + Send + 'static,
    ) -> std::io::Result<Arc<Page>> {
        let stamp = Stamp::of(meta);
        let key = (path.to_path_buf(), variant.to_string());
        if let Some(page) = self.lookup(&key, stamp) {
            return Ok(page);
        }
        let bytes = Bytes::from(tokio::fs::read(path).await?);
        let page = tokio::task::spawn_blocking(move || build(bytes))
            .await
            .map_err(std::io::Error::other)?;
        let page = Arc::new(page);
        self.insert(key, stamp, page.clone());
        Ok(page)
    }

    fn lookup(&self, key: &(PathBuf, String), stamp: Stamp) -> Option<Arc<Page>> {
        let mut lru = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        lru.tick += 1;
        let tick = lru.tick;
        let entry = lru.map.get_mut(key)?;
        if entry.stamp != stamp {
            return None;
        }
        entry.last_used = tick;
        Some(entry.page.clone())
    }

    fn insert(&self, key: (PathBuf, String), stamp: Stamp, page: Arc<Page>) {
        let size = page.bytes.len();
        if size > self.budget / 2 {
            return;
        }
        let mut lru = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        lru.tick += 1;
        let tick = lru.tick;
        if let Some(old) = lru.map.insert(
            key,
            Entry {
                stamp,
                page,
                last_used: tick,
            },
        ) {
            lru.bytes -= old.page.bytes.len();
        }
        lru.bytes += size;
        while lru.bytes > self.budget {
            let Some(victim) = lru
                .map
                .iter()
                .min_by_key(|(_, e)| e.last_used)
                .map(|(k, _)| k.clone())
            else {
                break;
            };
            if let Some(e) = lru.map.remove(&victim) {
                lru.bytes -= e.page.bytes.len();
            }
        }
    }

    /// The serial a page file carries, re-read only when the file changes.
    pub async fn serial_of(&self, path: &Path, kind: Kind) -> Option<i64> {
        let meta = tokio::fs::metadata(path).await.ok()?;
        let stamp = Stamp::of(&meta);
        {
            let memo = self.serials.lock().unwrap_or_else(|p| p.into_inner());
            if let Some((s, serial)) = memo.get(path)
                && *s == stamp
            {
                return *serial;
            }
        }
        let bytes = tokio::fs::read(path).await.ok()?;
        let serial = tokio::task::spawn_blocking(move || match kind {
            Kind::Html => html_serial(&bytes),
            Kind::Json => json_serial(&bytes),
        })
        .await
        .ok()
        .flatten();
        let mut memo = self.serials.lock().unwrap_or_else(|p| p.into_inner());
        memo.insert(path.to_path_buf(), (stamp, serial));
        serial
    }
}

/// `<!--SERIAL n-->` near the end of an HTML page.
pub fn html_serial(bytes: &[u8]) -> Option<i64> {
    let tail = &bytes[bytes.len().saturating_sub(256)..];
    let tail = String::from_utf8_lossy(tail);
    let start = tail.rfind("<!--SERIAL ")? + "<!--SERIAL ".len();
    let end = tail[start..].find("-->")? + start;
    tail[start..end].trim().parse().ok()
}

#[derive(Deserialize)]
#[serde(untagged)]
enum SerialValue {
    Int(i64),
    Str(String),
}

impl SerialValue {
    fn get(&self) -> Option<i64> {
        match self {
            SerialValue::Int(n) => Some(*n),
            SerialValue::Str(s) => s.trim().parse().ok(),
        }
    }
}

#[derive(Deserialize)]
struct MetaOnly {
    #[serde(rename = "_last-serial")]
    last_serial: Option<SerialValue>,
}

/// Only the fields carrying a serial; everything else is skipped without allocating.
#[derive(Deserialize)]
struct SerialFields {
    meta: Option<MetaOnly>,
    last_serial: Option<SerialValue>,
}

/// `meta._last-serial` (simple JSON; int, or string in bandersnatch trees) or
/// `last_serial` (JSON API).
pub fn json_serial(bytes: &[u8]) -> Option<i64> {
    let doc: SerialFields = serde_json::from_slice(bytes).ok()?;
    doc.meta
        .and_then(|m| m.last_serial)
        .or(doc.last_serial)
        .and_then(|s| s.get())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn serials() {
        assert_eq!(html_serial(b"<html></html>\n<!--SERIAL 42-->\n"), Some(42));
        assert_eq!(html_serial(b"<html></html>"), None);
        assert_eq!(
            json_serial(br#"{"meta":{"api-version":"1.1","_last-serial":7},"projects":[]}"#),
            Some(7)
        );
        assert_eq!(json_serial(br#"{"meta":{"_last-serial":"8"}}"#), Some(8));
        assert_eq!(json_serial(br#"{"info":{},"last_serial":9}"#), Some(9));
        assert_eq!(json_serial(b"not json"), None);
    }

    #[test]
    fn lru_evicts_least_recent() {
        let cache = PageCache::new(40);
        let stamp = Stamp {
            mtime: None,
            len: 0,
            ino: 0,
        };
        let page = |n: usize| Arc::new(Page::new(Bytes::from(vec![b'x'; n]), None));
        let key = |s: &str| (PathBuf::from(s), String::new());
        cache.insert(key("a"), stamp, page(15));
        cache.insert(key("b"), stamp, page(15));
        assert!(cache.lookup(&key("a"), stamp).is_some());
        cache.insert(key("c"), stamp, page(15));
        assert!(cache.lookup(&key("a"), stamp).is_some());
        assert!(cache.lookup(&key("b"), stamp).is_none());
        assert!(cache.lookup(&key("c"), stamp).is_some());
        // Too big for the budget: not cached at all.
        cache.insert(key("d"), stamp, page(30));
        assert!(cache.lookup(&key("d"), stamp).is_none());
    }
}
