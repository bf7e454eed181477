//! PEP 503 HTML pages at repository version 1.4: render the root and project pages the
//! way bandersnatch lays them out, and read project pages back (adopting an existing
//! tree, HTML-only upstreams).
//!
//! Reading uses a hand-written tolerant scan rather than quick-xml: real index pages are
//! HTML, not XML (unquoted and valueless attributes, unclosed `<meta>`/`<br>`, HTML
//! entities), and only `<a>`, `<meta>` and the serial comment matter.

use std::fmt::Write as _;

use percent_encoding::percent_decode_str;
use url::Url;

use crate::index::error::{IndexError, check_filename};
use crate::index::filename::version_from_filename;
use crate::index::model::{
    API_VERSION, CoreMetadata, DistFile, Project, ProjectStatus, RootEntry, Yanked,
};

/// Escapes text and attribute values (`&`, `<`, `>`, `"`, `'`), as Python's `html.escape`.
pub fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    escape_into(&mut out, s);
    out
}

/// [`escape`], appending to `out`.
fn escape_into(out: &mut String, s: &str) {
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#x27;"),
            c => out.push(c),
        }
    }
}

/// `data-core-metadata` value: `sha256=<hex>` when known, else `true`.
fn core_metadata_attr(cm: &CoreMetadata) -> String {
    match cm.hashes.get("sha256") {
        Some(hex) => format!("sha256={hex}"),
        None => "true".to_string(),
    }
}

/// A project's detail page. `href` gives each file's link (relative or absolute, not yet
/// HTML-escaped, without fragment).
pub fn render_project_html(project: &Project, href: &dyn Fn(&DistFile) -> String) -> String {
    let name = escape(if project.display_name.is_empty() {
        &project.name
    } else {
        &project.display_name
    });
    let mut out = String::with_capacity(512 + project.files.len() * 256);
    out.push_str("<!DOCTYPE html>\n<html>\n  <head>\n");
    let _ = writeln!(
        out,
        "    <meta name=\"pypi:repository-version\" content=\"{API_VERSION}\">"
    );
    if let Some(status) = &project.status {
        let _ = writeln!(
            out,
            "    <meta name=\"pypi:project-status\" content=\"{}\">",
            escape(&status.status)
        );
        if let Some(reason) = &status.reason {
            let _ = writeln!(
                out,
                "    <meta name=\"pypi:project-status-reason\" content=\"{}\">",
                escape(reason)
            );
        }
    }
    let _ = write!(
        out,
        "    <title>Links for {name}</title>\n  </head>\n  <body>\n    <h1>Links for {name}</h1>\n"
    );
    let files = project.listed_files();
    for file in files {
        let mut link = href(file);
        if let Some(sha) = file.sha256() {
            let _ = write!(link, "#sha256={sha}");
        }
        let _ = write!(out, "    <a href=\"{}\"", escape(&link));
        if let Some(rp) = &file.requires_python {
            let _ = write!(out, " data-requires-python=\"{}\"", escape(rp));
        }
        if let Yanked::Yes(reason) = &file.yanked {
            let _ = write!(
                out,
                " data-yanked=\"{}\"",
                escape(reason.as_deref().unwrap_or(""))
            );
        }
        if let Some(cm) = &file.core_metadata {
            let v = escape(&core_metadata_attr(cm));
            let _ = write!(
                out,
                " data-dist-info-metadata=\"{v}\" data-core-metadata=\"{v}\""
            );
        }
        if let Some(p) = &file.provenance {
            let _ = write!(out, " data-provenance=\"{}\"", escape(p));
        }
        let _ = writeln!(out, ">{}</a><br />", escape(&file.filename));
    }
    let _ = write!(
        out,
        "  </body>\n</html>\n<!--SERIAL {}-->",
        project.last_serial
    );
    out
}

/// The root page: one link per project, `<href_prefix><normalized>/`, sorted by
/// normalized name, each under its display name.
pub fn render_root_html(projects: &[RootEntry<'_>], href_prefix: &str) -> String {
    let mut out = String::with_capacity(256 + projects.len() * 64);
    out.push_str("<!DOCTYPE html>\n<html>\n  <head>\n");
    let _ = write!(
        out,
        "    <meta name=\"pypi:repository-version\" content=\"{API_VERSION}\">\n    <title>Simple Index</title>\n  </head>\n  <body>\n"
    );
    // Written piece by piece: PyPI's root has some 700,000 links.
    for p in RootEntry::sorted(projects).iter() {
        out.push_str("    <a href=\"");
        escape_into(&mut out, href_prefix);
        escape_into(&mut out, p.name);
        out.push_str("/\">");
        escape_into(&mut out, p.display);
        out.push_str("</a><br/>\n");
    }
    out.push_str("  </body>\n</html>");
    out
}

/// The serial PyPI and bandersnatch append as `<!--SERIAL n-->` (the last one wins).
pub fn html_serial(html: &str) -> Option<u64> {
    let start = html.rfind("<!--SERIAL")? + "<!--SERIAL".len();
    let end = start + html[start..].find("-->")?;
    html[start..end].trim().parse().ok()
}

/// The PEP 792 status a page declares in its `pypi:project-status` meta tags.
pub fn html_project_status(html: &str) -> Option<ProjectStatus> {
    let mut status = None;
    let mut reason = None;
    for tag in scan(html) {
        if let Tag::Meta(attrs) = tag {
            let content = attr(&attrs, "content").map(str::to_string);
            match attr(&attrs, "name") {
                Some("pypi:project-status") => status = content,
                Some("pypi:project-status-reason") => reason = content,
                _ => {}
            }
        }
    }
    status.map(|status| ProjectStatus { status, reason })
}

/// Every file linked from a project page, hrefs resolved against `page_url`.
pub fn parse_project_html(html: &str, page_url: &Url) -> Result<Vec<DistFile>, IndexError> {
    let doc = page_url.as_str();
    let project = project_from_page_url(page_url);
    let mut files = Vec::new();
    for tag in scan(html) {
        let Tag::Anchor(attrs, text) = tag else {
            continue;
        };
        let Some(href) = attr(&attrs, "href") else {
            continue;
        };
        let mut url = page_url.join(href).map_err(|source| IndexError::BadUrl {
            doc: doc.to_string(),
            href: href.to_string(),
            source,
        })?;
        let mut file = DistFile::default();
        if let Some((alg, hex)) = url.fragment().and_then(|f| f.split_once('=')) {
            file.hashes
                .insert(alg.to_ascii_lowercase(), hex.to_ascii_lowercase());
        }
        url.set_fragment(None);
        file.filename = if text.is_empty() {
            last_segment(&url)
        } else {
            text
        };
        check_filename(doc, &file.filename)?;
        file.url = url.to_string();
        file.requires_python = attr(&attrs, "data-requires-python").map(str::to_string);
        file.yanked = match attr(&attrs, "data-yanked") {
            None => Yanked::No,
            Some("") => Yanked::Yes(None),
            Some(reason) => Yanked::Yes(Some(reason.to_string())),
        };
        let cm = attr(&attrs, "data-core-metadata").or(attr(&attrs, "data-dist-info-metadata"));
        file.core_metadata = cm.and_then(parse_core_metadata_attr);
        file.provenance = match attr(&attrs, "data-provenance") {
            Some(p) => Some(
                page_url
                    .join(p)
                    .map_err(|source| IndexError::BadUrl {
                        doc: doc.to_string(),
                        href: p.to_string(),
                        source,
                    })?
                    .to_string(),
            ),
            None => None,
        };
        file.version = project
            .as_deref()
            .and_then(|p| version_from_filename(&file.filename, p));
        files.push(file);
    }
    Ok(files)
}

/// `sha256=<hex>` → that hash; `true` (or any value without `=`) → available, hash
/// unknown; `false` → not available.
fn parse_core_metadata_attr(v: &str) -> Option<CoreMetadata> {
    let v = v.trim();
    if v.eq_ignore_ascii_case("false") {
        return None;
    }
    let mut cm = CoreMetadata::default();
    if let Some((alg, hex)) = v.split_once('=') {
        cm.hashes
            .insert(alg.to_ascii_lowercase(), hex.to_ascii_lowercase());
    }
    Some(cm)
}

/// The project a page URL is about: its last path segment, skipping `index.html`.
fn project_from_page_url(url: &Url) -> Option<String> {
    url.path_segments()?
        .rev()
        .find(|s| !s.is_empty() && *s != "index.html" && *s != "index.v1_html")
        .map(|s| percent_decode_str(s).decode_utf8_lossy().into_owned())
}

fn last_segment(url: &Url) -> String {
    let seg = url
        .path_segments()
        .and_then(|mut s| s.next_back())
        .unwrap_or("");
    percent_decode_str(seg).decode_utf8_lossy().into_owned()
}

fn attr<'a>(attrs: &'a [(String, String)], name: &str) -> Option<&'a str> {
    attrs
        .iter()
        .find(|(n, _)| n == name)
        .map(|(_, v)| v.as_str())
}

enum Tag {
    /// Attributes (names lowercased, values entity-decoded) and decoded, trimmed text.
    Anchor(Vec<(String, String)>, String),
    Meta(Vec<(String, String)>),
}

/// Finds `<a>` and `<meta>` tags, skipping comments; tolerant of sloppy HTML.
fn scan(html: &str) -> Vec<Tag> {
    let mut tags = Vec::new();
    let mut rest = html;
    while let Some(lt) = rest.find('<') {
        rest = &rest[lt..];
        if let Some(after) = rest.strip_prefix("<!--") {
            rest = match after.find("-->") {
                Some(end) => &after[end + 3..],
                None => "",
            };
            continue;
        }
        let name_end = rest[1..]
            .find(|c: char| c.is_ascii_whitespace() || c == '>' || c == '/')
            .map_or(rest.len(), |i| i + 1);
        let name = rest[1..name_end].to_ascii_lowercase();
        let (attrs, after_tag) = parse_attrs(&rest[name_end..]);
        rest = after_tag;
        match name.as_str() {
            "a" => {
                let close = anchor_text_end(rest);
                let text = decode_entities(strip_tags(&rest[..close]).trim());
                rest = &rest[close..];
                tags.push(Tag::Anchor(attrs, text));
            }
            "meta" => tags.push(Tag::Meta(attrs)),
            _ => {}
        }
    }
    tags
}

/// Parses attributes up to the closing `>`; returns them and the input after the tag.
fn parse_attrs(mut s: &str) -> (Vec<(String, String)>, &str) {
    let mut attrs = Vec::new();
    loop {
        s = s.trim_start_matches(|c: char| c.is_ascii_whitespace() || c == '/');
        if s.is_empty() {
            return (attrs, s);
        }
        if let Some(after) = s.strip_prefix('>') {
            return (attrs, after);
        }
        let name_end = s
            .find(|c: char| c.is_ascii_whitespace() || c == '=' || c == '>' || c == '/')
            .unwrap_or(s.len());
        let name = s[..name_end].to_ascii_lowercase();
        s = s[name_end..].trim_start();
        let mut value = String::new();
        if let Some(after_eq) = s.strip_prefix('=') {
            s = after_eq.trim_start();
            let quote = s.chars().next().filter(|c| *c == '"' || *c == '\'');
            if let Some(q) = quote {
                let body = &s[1..];
                let end = body.find(q).unwrap_or(body.len());
                value = decode_entities(&body[..end]);
                s = body.get(end + 1..).unwrap_or("");
            } else {
                let end = s
                    .find(|c: char| c.is_ascii_whitespace() || c == '>')
                    .unwrap_or(s.len());
                value = decode_entities(&s[..end]);
                s = &s[end..];
            }
        }
        if !name.is_empty() {
            attrs.push((name, value));
        }
    }
}

/// Where an anchor's text ends: at `</a`, or at the next `<a` when the closing tag is
/// missing (as browsers end it), or at the end of input.
fn anchor_text_end(s: &str) -> usize {
    let b = s.as_bytes();
    let is_a = |i: usize| {
        b.get(i).is_some_and(|c| c.eq_ignore_ascii_case(&b'a'))
            && b.get(i + 1)
                .is_none_or(|c| c.is_ascii_whitespace() || *c == b'>' || *c == b'/')
    };
    s.match_indices('<')
        .map(|(i, _)| i)
        .find(|&i| is_a(i + 1) || (b.get(i + 1) == Some(&b'/') && is_a(i + 2)))
        .unwrap_or(s.len())
}

/// Drops markup nested inside anchor text (`<a><span>f.whl</span></a>`).
fn strip_tags(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut in_tag = false;
    for c in s.chars() {
        match c {
            '<' => in_tag = true,
            '>' if in_tag => in_tag = false,
            c if !in_tag => out.push(c),
            _ => {}
        }
    }
    out
}

/// Decodes numeric character references and the common named entities; anything
/// unrecognised stays literal, as browsers do.
pub fn decode_entities(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    while let Some(amp) = rest.find('&') {
        out.push_str(&rest[..amp]);
        rest = &rest[amp..];
        // Only look a few bytes ahead: entity names are short, and a full search per
        // `&` would be quadratic on hostile input.
        let semi = rest.as_bytes()[1..]
            .iter()
            .take(12)
            .position(|&b| b == b';')
            .map(|i| i + 1);
        let decoded = semi.and_then(|semi| decode_entity(&rest[1..semi]).map(|c| (c, semi)));
        match decoded {
            Some((c, semi)) => {
                out.push(c);
                rest = &rest[semi + 1..];
            }
            None => {
                out.push('&');
                rest = &rest[1..];
            }
        }
    }
    out.push_str(rest);
    out
}

fn decode_entity(name: &str) -> Option<char> {
    if let Some(num) = name.strip_prefix('#') {
        let code = match num.strip_prefix(['x', 'X']) {
            Some(hex) => u32::from_str_radix(hex, 16).ok()?,
            None => num.parse().ok()?,
        };
        return Some(
            char::from_u32(code)
                .filter(|c| *c != '\0')
                .unwrap_or('\u{FFFD}'),
        );
    }
    Some(match name {
        "amp" => '&',
        "lt" => '<',
        "gt" => '>',
        "quot" => '"',
        "apos" => '\'',
        "nbsp" => '\u{A0}',
        _ => return None,
    })
}

#[cfg(test)]
mod tests;
