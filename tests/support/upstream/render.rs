//! Page bodies, written the way PyPI writes them: simple HTML and JSON (API 1.4),
//! the Warehouse JSON API and XML-RPC responses. Built by hand on purpose: the fake
//! is a peer of vorpal's own index code, not a user of it.

use serde_json::{Value, json};

use super::model::ChangelogEntry;
use super::state::{DistFile, Project, Release, State};

pub const API_VERSION: &str = "1.4";

pub fn iso_time(ts: i64, fraction: bool) -> String {
    let t = chrono::DateTime::from_timestamp(ts, 0).unwrap_or_default();
    if fraction {
        t.format("%Y-%m-%dT%H:%M:%S%.6fZ").to_string()
    } else {
        t.format("%Y-%m-%dT%H:%M:%S").to_string()
    }
}

pub fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

pub fn file_url(base: &str, f: &DistFile) -> String {
    format!("{base}/packages/{}", f.path)
}

/// (release, file) pairs a simple page lists: none for a quarantined project.
fn listed(p: &Project) -> Vec<(&Release, &DistFile)> {
    if p.quarantined() {
        return Vec::new();
    }
    p.sorted_releases()
        .into_iter()
        .flat_map(|r| r.files.iter().map(move |f| (r, f.as_ref())))
        .collect()
}

pub fn root_json(state: &State) -> String {
    let projects: Vec<Value> = state
        .projects
        .values()
        .map(|p| json!({"name": p.display, "_last-serial": p.last_serial}))
        .collect();
    json!({
        "meta": {"api-version": API_VERSION, "_last-serial": state.serial},
        "projects": projects,
    })
    .to_string()
}

pub fn root_html(state: &State) -> String {
    let mut s = format!(
        "<!DOCTYPE html>\n<html>\n  <head>\n    <meta name=\"pypi:repository-version\" content=\"{API_VERSION}\">\n    <title>Simple index</title>\n  </head>\n  <body>\n"
    );
    for p in state.projects.values() {
        s.push_str(&format!(
            "    <a href=\"/simple/{}/\">{}</a>\n",
            p.normalized,
            escape(&p.display)
        ));
    }
    s.push_str(&format!(
        "  </body>\n</html>\n<!--SERIAL {}-->",
        state.serial
    ));
    s
}

fn yanked_json(r: &Release) -> Value {
    match r.yanked.as_deref() {
        None => json!(false),
        Some("") => json!(true),
        Some(reason) => json!(reason),
    }
}

fn status_json(p: &Project) -> Value {
    match &p.status_reason {
        Some(reason) => json!({"status": p.status, "reason": reason}),
        None => json!({"status": p.status}),
    }
}

pub fn detail_json(p: &Project, base: &str) -> String {
    let versions: Vec<&str> = if p.quarantined() {
        Vec::new()
    } else {
        p.sorted_releases()
            .iter()
            .map(|r| r.version.as_str())
            .collect()
    };
    let files: Vec<Value> = listed(p)
        .into_iter()
        .map(|(r, f)| {
            json!({
                "filename": f.filename,
                "url": file_url(base, f),
                "hashes": {"sha256": f.sha256},
                "requires-python": f.requires_python,
                "size": f.bytes.len(),
                "upload-time": iso_time(f.upload_ts, true),
                "yanked": yanked_json(r),
                "core-metadata": match &f.metadata_sha256 {
                    Some(h) => json!({"sha256": h}),
                    None => json!(false),
                },
                "provenance": null,
            })
        })
        .collect();
    json!({
        "meta": {"api-version": API_VERSION, "_last-serial": p.last_serial},
        "name": p.normalized,
        "versions": versions,
        "files": files,
        "project-status": status_json(p),
    })
    .to_string()
}

pub fn detail_html(p: &Project, base: &str) -> String {
    let mut s = format!(
        "<!DOCTYPE html>\n<html>\n  <head>\n    <meta name=\"pypi:repository-version\" content=\"{API_VERSION}\">\n    <meta name=\"pypi:project-status\" content=\"{}\">\n",
        escape(&p.status)
    );
    if let Some(reason) = &p.status_reason {
        s.push_str(&format!(
            "    <meta name=\"pypi:project-status-reason\" content=\"{}\">\n",
            escape(reason)
        ));
    }
    s.push_str(&format!(
        "    <title>Links for {0}</title>\n  </head>\n  <body>\n    <h1>Links for {0}</h1>\n",
        escape(&p.normalized)
    ));
    for (r, f) in listed(p) {
        let mut a = format!("    <a href=\"{}#sha256={}\"", file_url(base, f), f.sha256);
        if let Some(rp) = &f.requires_python {
            a.push_str(&format!(" data-requires-python=\"{}\"", escape(rp)));
        }
        if let Some(reason) = &r.yanked {
            a.push_str(&format!(" data-yanked=\"{}\"", escape(reason)));
        }
        if let Some(h) = &f.metadata_sha256 {
            a.push_str(&format!(
                " data-core-metadata=\"sha256={h}\" data-dist-info-metadata=\"sha256={h}\""
            ));
        }
        a.push_str(&format!(">{}</a><br />\n", escape(&f.filename)));
        s.push_str(&a);
    }
    s.push_str(&format!(
        "  </body>\n</html>\n<!--SERIAL {}-->",
        p.last_serial
    ));
    s
}

fn api_file(base: &str, r: &Release, f: &DistFile) -> Value {
    json!({
        "comment_text": "",
        "digests": {"md5": f.md5, "sha256": f.sha256, "blake2b_256": f.blake2b},
        "downloads": -1,
        "filename": f.filename,
        "has_sig": false,
        "md5_digest": f.md5,
        "packagetype": if f.is_wheel { "bdist_wheel" } else { "sdist" },
        "python_version": f.python_version,
        "requires_python": f.requires_python,
        "size": f.bytes.len(),
        "upload_time": iso_time(f.upload_ts, false),
        "upload_time_iso_8601": iso_time(f.upload_ts, true),
        "url": file_url(base, f),
        "yanked": r.yanked.is_some(),
        "yanked_reason": r.yanked.as_deref().filter(|s| !s.is_empty()),
        "core-metadata": match &f.metadata_sha256 {
            Some(h) => json!({"sha256": h}),
            None => json!(false),
        },
    })
}

pub fn json_api(p: &Project, base: &str) -> String {
    let quarantined = p.quarantined();
    let latest = p.latest_version();
    let mut releases = serde_json::Map::new();
    if !quarantined {
        for r in p.sorted_releases() {
            let files: Vec<Value> = r.files.iter().map(|f| api_file(base, r, f)).collect();
            releases.insert(r.version.clone(), Value::Array(files));
        }
    }
    let urls: Vec<Value> = match latest {
        Some(r) if !quarantined => r.files.iter().map(|f| api_file(base, r, f)).collect(),
        _ => Vec::new(),
    };
    let requires_python = latest
        .and_then(|r| r.files.iter().find_map(|f| f.requires_python.clone()))
        .unwrap_or_default();
    json!({
        "info": {
            "name": p.display,
            "version": latest.map(|r| r.version.as_str()),
            "requires_python": requires_python,
            "summary": format!("Fake package {} for mirror tests", p.display),
            "author": "",
            "license": "",
            "home_page": "",
            "package_url": format!("{base}/project/{}/", p.normalized),
            "project_url": format!("{base}/project/{}/", p.normalized),
            "release_url": latest.map(|r| format!("{base}/project/{}/{}/", p.normalized, r.version)),
            "yanked": latest.is_some_and(|r| r.yanked.is_some()),
            "yanked_reason": latest.and_then(|r| r.yanked.clone()).filter(|s| !s.is_empty()),
        },
        "last_serial": p.last_serial,
        "releases": releases,
        "urls": urls,
        "vulnerabilities": [],
    })
    .to_string()
}

fn xml_string(s: &str) -> String {
    format!("<value><string>{}</string></value>", escape(s))
}

fn xml_int(n: impl std::fmt::Display) -> String {
    format!("<value><int>{n}</int></value>")
}

fn xml_response(value: &str) -> String {
    format!(
        "<?xml version='1.0'?>\n<methodResponse>\n<params>\n<param>\n{value}\n</param>\n</params>\n</methodResponse>\n"
    )
}

pub fn xml_fault(code: i32, message: &str) -> String {
    format!(
        "<?xml version='1.0'?>\n<methodResponse>\n<fault>\n<value><struct>\n<member><name>faultCode</name>{}</member>\n<member><name>faultString</name>{}</member>\n</struct></value>\n</fault>\n</methodResponse>\n",
        xml_int(code),
        xml_string(message)
    )
}

pub fn xml_packages_with_serial(state: &State) -> String {
    let members: String = state
        .projects
        .values()
        .map(|p| {
            format!(
                "<member><name>{}</name>{}</member>\n",
                escape(&p.display),
                xml_int(p.last_serial)
            )
        })
        .collect();
    xml_response(&format!("<value><struct>\n{members}</struct></value>"))
}

pub fn xml_changelog(entries: &[ChangelogEntry]) -> String {
    let rows: String = entries
        .iter()
        .map(|e| {
            let version = match &e.version {
                Some(v) => xml_string(v),
                None => "<value><nil/></value>".to_string(),
            };
            format!(
                "<value><array><data>\n{}\n{version}\n{}\n{}\n{}\n</data></array></value>\n",
                xml_string(&e.name),
                xml_int(e.timestamp),
                xml_string(&e.action),
                xml_int(e.serial)
            )
        })
        .collect();
    xml_response(&format!(
        "<value><array><data>\n{rows}</data></array></value>"
    ))
}

pub fn xml_int_response(n: u64) -> String {
    xml_response(&xml_int(n))
}
