//! bandersnatch's `download-mirror`: files come from a closer copy (here a served
//! vorpal), verified against upstream's hashes, with or without falling back.
mod support;

use support::mirror::TestMirror;
use support::served::serve;
use support::upstream::{FakeUpstream, UpstreamOptions};

fn package_gets(fake: &FakeUpstream) -> usize {
    fake.count(|r| r.method == "GET" && r.path.starts_with("/packages/"))
}

#[tokio::test(flavor = "multi_thread")]
async fn files_come_from_the_download_mirror_with_fallback_to_upstream() {
    let fake = FakeUpstream::start(UpstreamOptions::default()).await;
    fake.add_project("alpha", &["1.0", "2.0"]);
    fake.add_project("beta", &["1.0"]);
    let first = TestMirror::new(&fake);
    first.sync().await;
    let served = serve(&first.root()).await;

    // Everything is on the download mirror: upstream serves metadata only.
    fake.clear_log();
    let mut m = TestMirror::new(&fake);
    m.config.mirror.download_mirror = Some(served.base.clone());
    m.config.https.ca_bundle.push(served.ca_pem.clone());
    m.sync().await;
    m.assert_matches(&fake);
    assert_eq!(package_gets(&fake), 0);

    // A release the download mirror does not have yet falls back to upstream.
    fake.add_release("beta", "2.0");
    m.sync().await;
    m.assert_matches(&fake);
    assert_eq!(
        package_gets(&fake),
        2,
        "wheel and sdist of beta 2.0 (the .metadata comes out of the wheel)"
    );

    // Without fallback, a file missing from the download mirror fails its project.
    fake.add_release("alpha", "3.0");
    m.config.mirror.download_mirror_no_fallback = true;
    let report = m.try_sync(TestMirror::options()).await.unwrap();
    assert_eq!(report.failed.len(), 1, "{report:?}");
    assert_eq!(report.failed[0].0, "alpha");
    assert_eq!(package_gets(&fake), 2, "upstream was not asked for files");
}
