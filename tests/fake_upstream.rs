//! Tests of the fake upstream index itself.
mod support;

use support::upstream::*;

#[tokio::test(flavor = "multi_thread")]
async fn smoke() {
    let fake = FakeUpstream::start(UpstreamOptions::default()).await;
    fake.add_project("Foo.Bar", &["1.0"]);
    let r = fake.client().get(fake.simple_url()).send().await.unwrap();
    assert_eq!(r.status(), 200);
}
