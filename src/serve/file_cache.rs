//! Small distribution and `.metadata` files kept in memory with their response
//! headers, trusted for a second after each look at the disk (as pages are). CI
//! farms fetch the same few wheels over and over; a hit costs no system call and
//! no header formatting, which is what nginx's open-file cache and sendfile buy it.
//! Files are immutable under their names (sync writes new ones by rename), so the
//! second of trust can only delay noticing a deletion.

use std::collections::{HashMap, VecDeque};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use bytes::Bytes;

use super::files::FileHead;
use super::pages::{REVALIDATE, Stamp};

/// Largest file kept; bigger ones are streamed from disk every time.
pub const CACHEABLE: u64 = 64 * 1024;

/// A cached file: its bytes and the headers every answer for it shares.
#[derive(Debug)]
pub struct CachedFile {
    pub head: FileHead,
    pub bytes: Bytes,
    stamp: Stamp,
}

struct Entry {
    file: Arc<CachedFile>,
    checked: Instant,
}

#[derive(Default)]
struct Inner {
    map: HashMap<PathBuf, Entry>,
    /// Insertion order, for eviction (oldest first). A key re-inserted appears
    /// twice; the stale occurrence finds nothing or evicts early, both harmless.
    order: VecDeque<PathBuf>,
    bytes: usize,
}

/// Bounded by the bytes it holds; evicts the oldest insertions first.
pub struct FileCache {
    inner: Mutex<Inner>,
    budget: usize,
}

/// What the cache knows about a path.
pub enum Lookup {
    /// Looked at within the trust window: serve it.
    Fresh(Arc<CachedFile>),
    /// Cached, but the disk must be consulted (compare the stamp).
    Stale,
    Missing,
}

impl FileCache {
    pub fn new(budget: usize) -> FileCache {
        FileCache {
            inner: Mutex::new(Inner::default()),
            budget,
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub fn lookup(&self, rel: &Path) -> Lookup {
        let inner = self.lock();
        match inner.map.get(rel) {
            Some(e) if e.checked.elapsed() < REVALIDATE => Lookup::Fresh(e.file.clone()),
            Some(_) => Lookup::Stale,
            None => Lookup::Missing,
        }
    }

    /// The file on disk still has the cached stamp: trust the entry another window.
    pub fn revalidate(&self, rel: &Path, stamp: Stamp) -> Option<Arc<CachedFile>> {
        let mut inner = self.lock();
        let entry = inner.map.get_mut(rel)?;
        if entry.file.stamp != stamp {
            return None;
        }
        entry.checked = Instant::now();
        Some(entry.file.clone())
    }

    pub fn insert(
        &self,
        rel: &Path,
        stamp: Stamp,
        head: FileHead,
        bytes: Bytes,
    ) -> Arc<CachedFile> {
        let file = Arc::new(CachedFile { head, bytes, stamp });
        let size = file.bytes.len();
        if size as u64 > CACHEABLE || size > self.budget {
            return file;
        }
        let mut inner = self.lock();
        let entry = Entry {
            file: file.clone(),
            checked: Instant::now(),
        };
        if let Some(old) = inner.map.insert(rel.to_path_buf(), entry) {
            inner.bytes -= old.file.bytes.len();
        }
        inner.bytes += size;
        inner.order.push_back(rel.to_path_buf());
        while inner.bytes > self.budget {
            let Some(oldest) = inner.order.pop_front() else {
                break;
            };
            if let Some(e) = inner.map.remove(&oldest) {
                inner.bytes -= e.file.bytes.len();
            }
        }
        // Re-insertions leave stale keys behind; keep the queue from growing
        // without bound under a hot set that is replaced often.
        if inner.order.len() > 4 * inner.map.len() + 64 {
            let Inner { map, order, .. } = &mut *inner;
            order.retain(|k| map.contains_key(k));
        }
        file
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stamp_of(dir: &Path, name: &str, body: &[u8]) -> Stamp {
        let p = dir.join(name);
        std::fs::write(&p, body).unwrap();
        Stamp::of(&std::fs::metadata(&p).unwrap())
    }

    fn head(len: u64) -> FileHead {
        FileHead::new(len, "\"e\"".into(), None)
    }

    #[test]
    fn hits_revalidation_and_eviction() {
        let dir = tempfile::tempdir().unwrap();
        let cache = FileCache::new(10);
        let a = Path::new("packages/a");
        assert!(matches!(cache.lookup(a), Lookup::Missing));
        let sa = stamp_of(dir.path(), "a", b"123456");
        cache.insert(a, sa, head(6), Bytes::from_static(b"123456"));
        match cache.lookup(a) {
            Lookup::Fresh(f) => assert_eq!(&f.bytes[..], b"123456"),
            _ => panic!("just inserted"),
        }
        assert!(cache.revalidate(a, sa).is_some());
        let other = stamp_of(dir.path(), "x", b"other bytes");
        assert!(
            cache.revalidate(a, other).is_none(),
            "a changed file is not trusted"
        );

        // Over budget: the oldest goes.
        let b = Path::new("packages/b");
        cache.insert(
            b,
            stamp_of(dir.path(), "b", b"abcdef"),
            head(6),
            Bytes::from_static(b"abcdef"),
        );
        assert!(matches!(cache.lookup(a), Lookup::Missing));
        assert!(matches!(cache.lookup(b), Lookup::Fresh(_)));
        // Too big for the budget: returned, not kept.
        let c = Path::new("packages/c");
        let big = Bytes::from(vec![0u8; 11]);
        let got = cache.insert(c, stamp_of(dir.path(), "c", &big), head(11), big);
        assert_eq!(got.bytes.len(), 11);
        assert!(matches!(cache.lookup(c), Lookup::Missing));
        assert!(matches!(cache.lookup(b), Lookup::Fresh(_)));
    }
}
