//! FsStorage against real files in temp directories.

use std::collections::BTreeMap;
use std::fs;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, SystemTime};

use bytes::Bytes;
use futures::TryStreamExt;

use super::*;

fn key(s: &str) -> Key {
    Key::new(s).unwrap()
}

fn setup() -> (tempfile::TempDir, Arc<dyn Storage>) {
    let dir = tempfile::tempdir().unwrap();
    let store: Arc<dyn Storage> = Arc::new(FsStorage::new(dir.path()));
    (dir, store)
}

/// Every file name below `dir`, recursively, relative to it, once the store's
/// background work (freeing replaced files) is done.
async fn all_names(store: &dyn Storage, dir: &Path) -> Vec<String> {
    store.settle().await;
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in fs::read_dir(&d).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                stack.push(p);
            } else {
                out.push(p.strip_prefix(dir).unwrap().to_string_lossy().into_owned());
            }
        }
    }
    out.sort();
    out
}

async fn read_all(s: ByteStream) -> Vec<u8> {
    let chunks: Vec<Bytes> = s.try_collect().await.unwrap();
    chunks.concat()
}

#[tokio::test]
async fn put_get_stat_round_trip() {
    let (dir, s) = setup();
    let k = key("web/simple/foo/index.html");
    assert_eq!(s.get(&k).await.unwrap(), None);
    assert_eq!(s.stat(&k).await.unwrap(), None);
    s.put(&k, Bytes::from_static(b"one")).await.unwrap();
    s.put(&k, Bytes::from_static(b"second")).await.unwrap();
    assert_eq!(s.get(&k).await.unwrap().unwrap(), &b"second"[..]);
    assert_eq!(s.stat(&k).await.unwrap().unwrap().size, 6);
    assert_eq!(
        s.local_path(&k).unwrap(),
        dir.path().join("web/simple/foo/index.html")
    );
    // A directory is not an object.
    assert_eq!(s.stat(&key("web/simple/foo")).await.unwrap(), None);
    assert_eq!(s.get(&key("web/simple/foo")).await.unwrap(), None);
    assert_eq!(
        all_names(&*s, dir.path()).await,
        vec!["web/simple/foo/index.html"]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn readers_never_see_partial_put() {
    let (dir, s) = setup();
    const N: usize = 1 << 20;
    let k = key("web/packages/aa/bb/big.whl");
    s.put(&k, Bytes::from(vec![b'A'; N])).await.unwrap();
    let done = Arc::new(AtomicBool::new(false));
    let writer = {
        let (s, k, done) = (s.clone(), k.clone(), done.clone());
        tokio::spawn(async move {
            for i in 0..30 {
                let byte = if i % 2 == 0 { b'B' } else { b'A' };
                s.put(&k, Bytes::from(vec![byte; N])).await.unwrap();
            }
            done.store(true, Ordering::SeqCst);
        })
    };
    let path = dir.path().join(k.as_str());
    let mut reads = 0;
    while !done.load(Ordering::SeqCst) || reads == 0 {
        let via_store = s.get(&k).await.unwrap().unwrap();
        let via_fs = fs::read(&path).unwrap();
        for data in [&via_store[..], &via_fs[..]] {
            assert_eq!(data.len(), N);
            assert!(data.iter().all(|b| *b == data[0]), "mixed content seen");
        }
        reads += 1;
    }
    writer.await.unwrap();
    assert_eq!(
        all_names(&*s, dir.path()).await,
        vec!["web/packages/aa/bb/big.whl"]
    );
}

#[tokio::test]
async fn staged_write_publish_sets_content_and_mtime() {
    let (dir, s) = setup();
    let k = key("web/packages/aa/bb/f.tar.gz");
    let mut w = s.writer(&k, Some(11)).await.unwrap();
    w.write(b"hello ").await.unwrap();
    // Not visible before it is published.
    assert_eq!(s.get(&k).await.unwrap(), None);
    w.write(b"world").await.unwrap();
    let when = SystemTime::UNIX_EPOCH + Duration::from_secs(1_600_000_000);
    let staged = w.finish(Some(when)).await.unwrap();
    assert_eq!(staged.key(), &k);
    assert_eq!(s.get(&k).await.unwrap(), None);
    s.publish(vec![staged]).await.unwrap();
    assert_eq!(s.get(&k).await.unwrap().unwrap(), &b"hello world"[..]);
    assert_eq!(s.stat(&k).await.unwrap().unwrap().mtime, Some(when));
    assert_eq!(
        all_names(&*s, dir.path()).await,
        vec!["web/packages/aa/bb/f.tar.gz"]
    );
}

#[tokio::test]
async fn dropped_or_aborted_writer_leaves_target_unchanged() {
    let (dir, s) = setup();
    let k = key("web/packages/aa/bb/f.whl");
    s.put(&k, Bytes::from_static(b"original")).await.unwrap();

    let mut w = s.writer(&k, None).await.unwrap();
    w.write(&vec![b'x'; 1 << 20]).await.unwrap();
    drop(w);
    assert_eq!(s.get(&k).await.unwrap().unwrap(), &b"original"[..]);
    assert_eq!(
        all_names(&*s, dir.path()).await,
        vec!["web/packages/aa/bb/f.whl"]
    );

    let mut w = s.writer(&k, None).await.unwrap();
    w.write(b"partial").await.unwrap();
    w.abort().await;
    assert_eq!(s.get(&k).await.unwrap().unwrap(), &b"original"[..]);
    assert_eq!(
        all_names(&*s, dir.path()).await,
        vec!["web/packages/aa/bb/f.whl"]
    );

    // A writer for a new key, dropped, leaves no file at all.
    let k2 = key("web/packages/cc/dd/new.whl");
    let mut w = s.writer(&k2, None).await.unwrap();
    w.write(b"x").await.unwrap();
    drop(w);
    assert_eq!(s.stat(&k2).await.unwrap(), None);
    assert_eq!(
        all_names(&*s, dir.path()).await,
        vec!["web/packages/aa/bb/f.whl"]
    );
}

#[tokio::test]
async fn publish_moves_a_batch_into_place_and_dropped_stages_vanish() {
    let (dir, s) = setup();
    let big = key("web/packages/aa/bb/big.whl");
    let small = key("web/packages/aa/cc/small.whl");
    let page = key("web/simple/foo/index.html");
    // Large enough to stream through a temp file rather than wait in memory.
    let mut w = s.writer(&big, Some(2 << 20)).await.unwrap();
    w.write(&vec![b'B'; 2 << 20]).await.unwrap();
    let big_staged = w.finish(None).await.unwrap();
    let mut w = s.writer(&small, Some(5)).await.unwrap();
    w.write(b"small").await.unwrap();
    let small_staged = w.finish(None).await.unwrap();
    let page_staged = s.stage(&page, Bytes::from_static(b"<html>")).await.unwrap();
    let abandoned = s
        .stage(&key("web/simple/bar/index.html"), Bytes::from_static(b"x"))
        .await
        .unwrap();
    drop(abandoned);
    for k in [&big, &small, &page] {
        assert_eq!(s.stat(k).await.unwrap(), None, "{k} visible before publish");
    }
    s.publish(vec![big_staged, small_staged, page_staged])
        .await
        .unwrap();
    s.flush().await.unwrap();
    assert_eq!(s.get(&small).await.unwrap().unwrap(), &b"small"[..]);
    assert_eq!(s.get(&page).await.unwrap().unwrap(), &b"<html>"[..]);
    assert_eq!(s.stat(&big).await.unwrap().unwrap().size, 2 << 20);
    assert_eq!(
        all_names(&*s, dir.path()).await,
        vec![
            "web/packages/aa/bb/big.whl",
            "web/packages/aa/cc/small.whl",
            "web/simple/foo/index.html"
        ]
    );
}

#[tokio::test]
async fn cleanup_temp_removes_leftovers_only() {
    let (dir, s) = setup();
    let keep = key("web/packages/aa/bb/f.whl");
    s.put(&keep, Bytes::from_static(b"keep")).await.unwrap();
    let root = dir.path();
    fs::write(root.join("web/packages/aa/bb/.vorpal-tmp.123.f.whl"), b"x").unwrap();
    fs::create_dir_all(root.join("web/simple/foo")).unwrap();
    fs::write(root.join("web/simple/foo/.vorpal-tmp.9.index.html"), b"x").unwrap();
    fs::write(root.join(".vorpal-tmp.5.status"), b"1").unwrap();
    fs::write(root.join("status"), b"1").unwrap();
    assert_eq!(s.cleanup_temp().await.unwrap(), 3);
    assert_eq!(
        all_names(&*s, root).await,
        vec!["status".to_string(), "web/packages/aa/bb/f.whl".to_string()]
    );
    assert_eq!(s.cleanup_temp().await.unwrap(), 0);
    // A missing root is nothing to clean.
    let gone = FsStorage::new(root.join("nope"));
    assert_eq!(gone.cleanup_temp().await.unwrap(), 0);
}

#[tokio::test]
async fn delete_prunes_empty_dirs_but_not_the_root() {
    let (dir, s) = setup();
    let root = dir.path();
    let a = key("web/packages/aa/bb/cccc/a.whl");
    let b = key("web/packages/aa/bb/cccc/b.whl");
    let page = key("web/simple/foo/index.html");
    let stats = key("web/local-stats/days/x");
    let top = key("lonely");
    for k in [&a, &b, &page, &stats, &top] {
        s.put(k, Bytes::from_static(b"x")).await.unwrap();
    }
    assert!(s.delete(&a).await.unwrap());
    assert!(!s.delete(&a).await.unwrap());
    assert!(
        root.join("web/packages/aa/bb/cccc").is_dir(),
        "sibling keeps its dir"
    );
    assert!(s.delete(&b).await.unwrap());
    assert!(!root.join("web/packages/aa").exists());
    assert!(root.join("web/packages").is_dir());
    assert!(s.delete(&page).await.unwrap());
    assert!(!root.join("web/simple/foo").exists());
    assert!(root.join("web/simple").is_dir());
    assert!(s.delete(&stats).await.unwrap());
    assert!(root.join("web/local-stats/days").is_dir());
    assert!(s.delete(&top).await.unwrap());
    assert!(root.is_dir());
    // Deleting a directory's key is not deleting an object.
    assert!(!s.delete(&key("web/simple")).await.unwrap());
    assert!(root.join("web/simple").is_dir());
}

#[tokio::test]
async fn open_streams_whole_and_ranges() {
    let (_dir, s) = setup();
    let k = key("web/packages/aa/bb/f.whl");
    let data: Vec<u8> = (0..300_000u32).map(|i| (i % 251) as u8).collect();
    s.put(&k, Bytes::from(data.clone())).await.unwrap();

    let whole = s.open(&k, None).await.unwrap().unwrap();
    assert_eq!(read_all(whole).await, data);
    let mid = s.open(&k, Some(100_000..200_001)).await.unwrap().unwrap();
    assert_eq!(read_all(mid).await, &data[100_000..200_001]);
    let clamped = s.open(&k, Some(299_990..400_000)).await.unwrap().unwrap();
    assert_eq!(read_all(clamped).await, &data[299_990..]);
    let empty = s.open(&k, Some(300_000..300_000)).await.unwrap().unwrap();
    assert!(read_all(empty).await.is_empty());

    let err = s.open(&k, Some(300_001..300_002)).await.err().unwrap();
    assert!(
        matches!(err, StorageError::InvalidRange { size: 300_000, .. }),
        "{err}"
    );
    #[allow(clippy::reversed_empty_ranges)]
    let backwards = 5..2;
    assert!(s.open(&k, Some(backwards)).await.is_err());
    assert!(s.open(&key("web/nope"), None).await.unwrap().is_none());
}

#[tokio::test]
async fn list_is_recursive_and_skips_temp_files() {
    let (dir, s) = setup();
    let root = dir.path();
    for (k, body) in [
        ("web/packages/aa/bb/f.whl", "12345"),
        ("web/packages/aa/cc/g.tar.gz", "1"),
        ("web/simple/foo/index.html", "page"),
    ] {
        s.put(&key(k), Bytes::from(body)).await.unwrap();
    }
    fs::write(
        root.join("web/packages/aa/bb/.vorpal-tmp.1.f.whl"),
        b"partial",
    )
    .unwrap();
    let listed: BTreeMap<String, u64> = s
        .list(&key("web/packages"))
        .map_ok(|(k, m)| (k.as_str().to_string(), m.size))
        .try_collect()
        .await
        .unwrap();
    let expected: BTreeMap<String, u64> = [
        ("web/packages/aa/bb/f.whl".to_string(), 5),
        ("web/packages/aa/cc/g.tar.gz".to_string(), 1),
    ]
    .into();
    assert_eq!(listed, expected);
    let all: Vec<(Key, ObjectMeta)> = s.list(&key("web")).try_collect().await.unwrap();
    assert_eq!(all.len(), 3);
    let none: Vec<(Key, ObjectMeta)> = s.list(&key("web/json")).try_collect().await.unwrap();
    assert!(none.is_empty());
}

#[test]
fn storage_is_object_safe_and_shareable() {
    fn assert_send_sync<T: Send + Sync>() {}
    assert_send_sync::<Arc<dyn Storage>>();
}

#[tokio::test]
async fn large_staged_writes_spill_to_a_temp_file_and_publish_whole() {
    let (dir, s) = setup();
    let k = key("web/packages/aa/bb/big.whl");
    let chunk: Vec<u8> = (0..64 * 1024).map(|i| (i % 251) as u8).collect();
    let mut w = s.writer(&k, None).await.unwrap();
    for _ in 0..40 {
        w.write(&chunk).await.unwrap();
    }
    // Past the spill threshold the bytes live in a temp file beside the target.
    let names = all_names(&*s, dir.path()).await;
    assert_eq!(names.len(), 1, "{names:?}");
    assert!(names[0].contains(".vorpal-tmp."), "{names:?}");
    let when = std::time::SystemTime::UNIX_EPOCH + std::time::Duration::from_secs(1_600_000_000);
    let staged = w.finish(Some(when)).await.unwrap();
    s.publish(vec![staged]).await.unwrap();
    let got = s.get(&k).await.unwrap().unwrap();
    assert_eq!(got.len(), chunk.len() * 40);
    assert!(got.chunks(chunk.len()).all(|c| c == chunk.as_slice()));
    assert_eq!(s.stat(&k).await.unwrap().unwrap().mtime, Some(when));
    assert_eq!(
        all_names(&*s, dir.path()).await,
        vec!["web/packages/aa/bb/big.whl"]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn small_and_large_batches_both_publish_whole() {
    let (dir, s) = setup();
    // Small batches are written in place, large ones (many files, or many held
    // bytes) on the blocking pool: the result must not depend on which.
    let batches: [(usize, usize); 3] = [(3, 100), (40, 100), (2, 300 * 1024)];
    let mut expected = Vec::new();
    for (b, (files, size)) in batches.into_iter().enumerate() {
        let mut staged = Vec::new();
        for i in 0..files {
            let k = key(&format!("web/packages/b{b}/{i:02}/f{i}.whl"));
            let mut w = s.writer(&k, Some(size as u64)).await.unwrap();
            w.write(&vec![b'a' + (i % 26) as u8; size]).await.unwrap();
            staged.push(w.finish(None).await.unwrap());
            expected.push(k.as_str().to_string());
        }
        s.publish(staged).await.unwrap();
    }
    expected.sort();
    assert_eq!(all_names(&*s, dir.path()).await, expected);
    let last = key("web/packages/b2/01/f1.whl");
    assert_eq!(s.get(&last).await.unwrap().unwrap().len(), 300 * 1024);
}

#[tokio::test]
async fn held_bytes_are_the_staged_bytes_until_they_spill() {
    let (_dir, s) = setup();
    let small = key("web/packages/aa/bb/small.whl");
    let mut w = s.writer(&small, Some(5)).await.unwrap();
    w.write(b"bytes").await.unwrap();
    let staged = w.finish(None).await.unwrap();
    assert_eq!(staged.held_bytes().as_deref(), Some(&b"bytes"[..]));

    let big = key("web/packages/aa/bb/big.whl");
    let mut w = s.writer(&big, None).await.unwrap();
    w.write(&vec![b'x'; 1 << 20]).await.unwrap();
    let staged = w.finish(None).await.unwrap();
    assert_eq!(staged.held_bytes(), None, "spilled to a temp file");
}
