//! Pages (simple indexes, JSON API documents) read whole into memory, with their
//! ETag hash and serial computed once per version of the file and kept in a small
//! byte-bounded LRU keyed by path + variant and validated by (mtime, size, inode).

use std::collections::HashMap;
use std::fs::File;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

use bytes::Bytes;
use serde::Deserialize;
use sha2::{Digest, Sha256};

use super::paths::WebRoot;

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

/// How long a cached page is trusted without looking at its file again. Pages go out
/// with `Cache-Control: max-age=600`, so clients may hold them ten minutes anyway; a
/// second here is invisible, and it turns a hit into a lookup with no syscall at all.
pub(crate) const REVALIDATE: Duration = Duration::from_secs(1);
/// Files up to this size are read on the async worker: a page-cache hit, cheaper than
/// a blocking-pool hand-off.
const SMALL_READ: u64 = 64 * 1024;

struct Entry {
    stamp: Stamp,
    checked: Instant,
    page: Arc<Page>,
    last_used: u64,
}

/// Cache key: the web-relative path as requested (before symlinks) plus the variant.
type Key = (PathBuf, String);

#[derive(Default)]
struct Lru {
    map: HashMap<Key, Entry>,
    bytes: usize,
    tick: u64,
}

/// A file's stamp, when it was last checked, and the serial it carries.
type SerialMemo = (Stamp, Instant, Option<i64>);

enum Cached {
    /// Checked within [`REVALIDATE`]: serve it.
    Fresh(Arc<Page>),
    /// Cached but due for a look at the file.
    Stale(Stamp),
    Missing,
}

/// The cache. Eviction scans for the least recently used entry: the map holds at
/// most a few hundred pages, so a linked list would buy nothing.
pub struct PageCache {
    inner: Mutex<Lru>,
    budget: usize,
    serials: Mutex<HashMap<PathBuf, SerialMemo>>,
}

impl PageCache {
    pub fn new(budget: usize) -> PageCache {
        PageCache {
            inner: Mutex::new(Lru::default()),
            budget,
            serials: Mutex::new(HashMap::new()),
        }
    }

    /// The page for the file at `rel` below web/, built by `build` from the file's
    /// bytes when the file is new or changed; `None` when there is no such file (or
    /// it cannot be read). `variant` separates derived pages of the same file.
    pub async fn get(
        &self,
        root: &WebRoot,
        rel: &Path,
        variant: &str,
        build: impl FnOnce(Bytes) -> Page + Send + 'static,
    ) -> Option<Arc<Page>> {
        let key = (rel.to_path_buf(), variant.to_string());
        let cached = match self.lookup(&key, Instant::now()) {
            Cached::Fresh(page) => return Some(page),
            Cached::Stale(stamp) => Some(stamp),
            Cached::Missing => None,
        };
        let (file, meta) = root.open_file(rel).await.ok()?;
        let stamp = Stamp::of(&meta);
        if cached == Some(stamp)
            && let Some(page) = self.revalidated(&key, stamp)
        {
            return Some(page);
        }
        let bytes = match read_whole(file, meta.len()).await {
            Ok(b) => b,
            Err(e) => {
                tracing::warn!("cannot read {}: {e}", root.path().join(rel).display());
                return None;
            }
        };
        let page = tokio::task::spawn_blocking(move || build(bytes))
            .await
            .ok()?;
        let page = Arc::new(page);
        self.insert(key, stamp, page.clone());
        Some(page)
    }

    fn lookup(&self, key: &Key, now: Instant) -> Cached {
        let mut lru = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        lru.tick += 1;
        let tick = lru.tick;
        let Some(entry) = lru.map.get_mut(key) else {
            return Cached::Missing;
        };
        if now.saturating_duration_since(entry.checked) >= REVALIDATE {
            return Cached::Stale(entry.stamp);
        }
        entry.last_used = tick;
        Cached::Fresh(entry.page.clone())
    }

    /// The file still has the stamp of the cached page: trust it for another window.
    fn revalidated(&self, key: &Key, stamp: Stamp) -> Option<Arc<Page>> {
        let mut lru = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        lru.tick += 1;
        let tick = lru.tick;
        let entry = lru.map.get_mut(key)?;
        if entry.stamp != stamp {
            return None;
        }
        entry.checked = Instant::now();
        entry.last_used = tick;
        Some(entry.page.clone())
    }

    fn insert(&self, key: Key, stamp: Stamp, page: Arc<Page>) {
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
                checked: Instant::now(),
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

    /// The serial the page file at `rel` below web/ carries, re-read only when the
    /// file changes (looked at no more than once per [`REVALIDATE`]).
    pub async fn serial_of(&self, root: &WebRoot, rel: &Path, kind: Kind) -> Option<i64> {
        let now = Instant::now();
        let known = {
            let memo = self.serials.lock().unwrap_or_else(|p| p.into_inner());
            match memo.get(rel) {
                Some((_, checked, serial))
                    if now.saturating_duration_since(*checked) < REVALIDATE =>
                {
                    return *serial;
                }
                Some((stamp, _, serial)) => Some((*stamp, *serial)),
                None => None,
            }
        };
        let (file, meta) = root.open_file(rel).await.ok()?;
        let stamp = Stamp::of(&meta);
        let serial = match known {
            Some((s, serial)) if s == stamp => serial,
            _ => {
                let bytes = read_whole(file, meta.len()).await.ok()?;
                tokio::task::spawn_blocking(move || match kind {
                    Kind::Html => html_serial(&bytes),
                    Kind::Json => json_serial(&bytes),
                })
                .await
                .ok()
                .flatten()
            }
        };
        let mut memo = self.serials.lock().unwrap_or_else(|p| p.into_inner());
        memo.insert(rel.to_path_buf(), (stamp, Instant::now(), serial));
        serial
    }
}

/// All of an opened file: small ones here, big ones (a root index can be many MB)
/// on the blocking pool.
async fn read_whole(file: File, len: u64) -> std::io::Result<Bytes> {
    let read = move || -> std::io::Result<Bytes> {
        let mut file = file;
        let mut buf = Vec::with_capacity(usize::try_from(len).unwrap_or(0).saturating_add(1));
        file.read_to_end(&mut buf)?;
        Ok(Bytes::from(buf))
    };
    if len <= SMALL_READ {
        return read();
    }
    tokio::task::spawn_blocking(read)
        .await
        .map_err(std::io::Error::other)?
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
        let hit = |k: &str| matches!(cache.lookup(&key(k), Instant::now()), Cached::Fresh(_));
        assert!(hit("a"));
        cache.insert(key("c"), stamp, page(15));
        assert!(hit("a"));
        assert!(!hit("b"));
        assert!(hit("c"));
        // Too big for the budget: not cached at all.
        cache.insert(key("d"), stamp, page(30));
        assert!(!hit("d"));
        // Past the revalidation window an entry is stale, not served blindly.
        let later = Instant::now() + REVALIDATE;
        assert!(matches!(cache.lookup(&key("a"), later), Cached::Stale(s) if s == stamp));
    }
}
