//! The Warehouse JSON API for downstream mirrors: the stored document with every file
//! URL pointed at this server, and the per-version view.

use serde_json::Value;

/// Point every `url` whose path holds `/packages/` at `<base>/packages/<rest>`.
pub fn rewrite_urls(doc: &mut Value, base: &str) {
    match doc {
        Value::Object(map) => {
            for (key, value) in map.iter_mut() {
                if key == "url"
                    && let Value::String(url) = value
                {
                    if let Some(idx) = url.find("/packages/") {
                        *url = format!("{base}/packages/{}", &url[idx + "/packages/".len()..]);
                    }
                } else {
                    rewrite_urls(value, base);
                }
            }
        }
        Value::Array(items) => items.iter_mut().for_each(|v| rewrite_urls(v, base)),
        _ => {}
    }
}

/// Warehouse's `/pypi/<project>/<version>/json`: `info`, `last_serial`, `urls` of that
/// release and `vulnerabilities`, without `releases`. `None` when the version is unknown.
pub fn version_view(doc: &Value, version: &str) -> Option<Value> {
    let releases = doc.get("releases")?.as_object()?;
    let files = releases.get(version).or_else(|| {
        // Accept an equivalent spelling (1.0 vs 1.0.0) as Warehouse does.
        let wanted: pep440_rs::Version = version.parse().ok()?;
        releases
            .iter()
            .find(|(k, _)| k.parse::<pep440_rs::Version>().is_ok_and(|v| v == wanted))
            .map(|(_, v)| v)
    })?;
    let mut out = serde_json::Map::new();
    if let Some(info) = doc.get("info") {
        out.insert("info".into(), info.clone());
    }
    if let Some(serial) = doc.get("last_serial") {
        out.insert("last_serial".into(), serial.clone());
    }
    out.insert("urls".into(), files.clone());
    out.insert(
        "vulnerabilities".into(),
        doc.get("vulnerabilities")
            .cloned()
            .unwrap_or(Value::Array(vec![])),
    );
    Some(Value::Object(out))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn rewrites_file_urls_only() {
        let mut doc = json!({
            "info": {"name": "Foo.Bar", "package_url": "https://pypi.org/project/foo-bar/"},
            "urls": [{"url": "https://files.pythonhosted.org/packages/aa/bb/cc/foo.whl"}],
            "releases": {"1.0": [{"url": "https://x.example/mirror/packages/aa/bb/cc/foo.whl"}]}
        });
        rewrite_urls(&mut doc, "https://m.example");
        assert_eq!(
            doc["urls"][0]["url"],
            "https://m.example/packages/aa/bb/cc/foo.whl"
        );
        assert_eq!(
            doc["releases"]["1.0"][0]["url"],
            "https://m.example/packages/aa/bb/cc/foo.whl"
        );
        assert_eq!(
            doc["info"]["package_url"],
            "https://pypi.org/project/foo-bar/"
        );
    }

    #[test]
    fn version() {
        let doc = json!({"info": {}, "last_serial": 3, "releases": {"1.0": [{"filename": "a"}]}});
        let v = version_view(&doc, "1.0").unwrap();
        assert_eq!(v["urls"][0]["filename"], "a");
        assert!(v.get("releases").is_none());
        assert!(version_view(&doc, "1.0.0").is_some());
        assert!(version_view(&doc, "2.0").is_none());
    }
}
