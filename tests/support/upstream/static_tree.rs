//! The whole fake index as files, for serving from a plain web server (nginx) in
//! benchmarks:
//!
//! ```text
//! simple/index.html, index.v1_html, index.v1_json, index.json
//! simple/<name>/index.html, index.v1_html, index.v1_json, index.json
//! pypi/<name>/json
//! packages/<aa>/<bb>/<rest>/<filename>[.metadata]
//! ```

use std::fs;
use std::io;
use std::path::Path;

use super::render;
use super::state::State;

fn write_variants(dir: &Path, html: &str, json: &str) -> io::Result<()> {
    fs::create_dir_all(dir)?;
    fs::write(dir.join("index.html"), html)?;
    fs::write(dir.join("index.v1_html"), html)?;
    fs::write(dir.join("index.v1_json"), json)?;
    fs::write(dir.join("index.json"), json)
}

pub fn write(state: &State, dir: &Path, base_url: &str) -> io::Result<()> {
    let simple = dir.join("simple");
    write_variants(
        &simple,
        &render::root_html(state),
        &render::root_json(state),
    )?;
    for p in state.projects.values() {
        write_variants(
            &simple.join(&p.normalized),
            &render::detail_html(p, base_url),
            &render::detail_json(p, base_url),
        )?;
        let api = dir.join("pypi").join(&p.normalized);
        fs::create_dir_all(&api)?;
        fs::write(api.join("json"), render::json_api(p, base_url))?;
    }
    for (path, (_, file)) in &state.files {
        let target = dir.join("packages").join(path);
        if let Some(parent) = target.parent() {
            fs::create_dir_all(parent)?;
        }
        if path.ends_with(".metadata") {
            fs::write(target, file.metadata.as_deref().unwrap_or_default())?;
        } else {
            fs::write(target, &file.bytes)?;
        }
    }
    Ok(())
}
