//! Content negotiation for the simple API (PEP 691): which of the three
//! representations a request gets.
//!
//! Rules (PROTOCOLS.md, with the ties decided here):
//! - q-values decide, order does not; `q=0` means "not acceptable"; no Accept means `*/*`.
//! - An offer takes the q of the most specific range that matches it (exact > `type/*` > `*/*`).
//! - `latest+json` / `latest+html` are request aliases of the v1 types.
//! - `*/*` and `text/*` match text/html; `*/*` and `application/*` also make the two
//!   `application/vnd.pypi.simple.*` types acceptable, but less preferred.
//! - Equal q: the more specific match wins; then JSON > v1+html > text/html, except that
//!   among offers matched only by `*/*` text/html comes first (so `*/*` alone → text/html).
//! - Nothing acceptable: text/html (PyPI never sends 406) unless 406 mode is on.
//! - `?format=<one of the five types>` overrides Accept.

/// One of the three representations of a simple page.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Repr {
    Json,
    V1Html,
    Html,
}

pub const JSON_TYPE: &str = "application/vnd.pypi.simple.v1+json";
pub const V1_HTML_TYPE: &str = "application/vnd.pypi.simple.v1+html";
pub const LATEST_JSON_TYPE: &str = "application/vnd.pypi.simple.latest+json";
pub const LATEST_HTML_TYPE: &str = "application/vnd.pypi.simple.latest+html";
pub const HTML_TYPE: &str = "text/html";

/// Order used when nothing the client named is available.
const FALLBACK: [Repr; 3] = [Repr::Html, Repr::V1Html, Repr::Json];

impl Repr {
    /// The Content-Type header value (uv accepts exactly these media types).
    pub fn content_type(self) -> &'static str {
        match self {
            Repr::Json => JSON_TYPE,
            Repr::V1Html => V1_HTML_TYPE,
            Repr::Html => "text/html; charset=utf-8",
        }
    }

    /// The file in a page directory holding this representation (bandersnatch layout).
    pub fn file_name(self) -> &'static str {
        match self {
            Repr::Json => "index.v1_json",
            Repr::V1Html => "index.v1_html",
            Repr::Html => "index.html",
        }
    }

    /// Suffix that keeps ETags distinct per representation even over the same bytes.
    pub fn etag_suffix(self) -> &'static str {
        match self {
            Repr::Json => "json",
            Repr::V1Html => "v1html",
            Repr::Html => "html",
        }
    }

    fn exact_types(self) -> &'static [&'static str] {
        match self {
            Repr::Json => &[JSON_TYPE, LATEST_JSON_TYPE],
            Repr::V1Html => &[V1_HTML_TYPE, LATEST_HTML_TYPE],
            Repr::Html => &[HTML_TYPE],
        }
    }

    fn type_wildcard(self) -> &'static str {
        match self {
            Repr::Json | Repr::V1Html => "application/*",
            Repr::Html => "text/*",
        }
    }

    /// Tie-break rank (lower wins) given the specificity of the match.
    fn rank(self, specificity: u8) -> u8 {
        match (specificity, self) {
            (1, Repr::Html) => 0,
            (1, Repr::Json) => 1,
            (1, Repr::V1Html) => 2,
            (_, Repr::Json) => 0,
            (_, Repr::V1Html) => 1,
            (_, Repr::Html) => 2,
        }
    }
}

/// The client accepts none of the representations and 406 mode is on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NotAcceptable;

/// The representations to try, best first. Files missing on disk are skipped by the
/// caller, so the list ends with the fallback order unless 406 mode is on.
pub fn choose(
    accept: Option<&str>,
    format: Option<&str>,
    strict_406: bool,
) -> Result<Vec<Repr>, NotAcceptable> {
    if let Some(forced) = format.and_then(format_repr) {
        return Ok(with_fallback(vec![forced]));
    }
    let accept = match accept.map(str::trim) {
        None | Some("") => "*/*",
        Some(a) => a,
    };
    let ranges = parse_accept(accept);
    let mut scored: Vec<(f32, u8, u8, Repr)> = Vec::new();
    for repr in FALLBACK {
        if let Some((q, spec)) = best_match(&ranges, repr)
            && q > 0.0
        {
            scored.push((q, spec, repr.rank(spec), repr));
        }
    }
    // Higher q, then more specific, then lower rank.
    scored.sort_by(|a, b| b.0.total_cmp(&a.0).then(b.1.cmp(&a.1)).then(a.2.cmp(&b.2)));
    let chosen: Vec<Repr> = scored.into_iter().map(|s| s.3).collect();
    if chosen.is_empty() && strict_406 {
        return Err(NotAcceptable);
    }
    if strict_406 {
        Ok(chosen)
    } else {
        Ok(with_fallback(chosen))
    }
}

fn with_fallback(mut list: Vec<Repr>) -> Vec<Repr> {
    for r in FALLBACK {
        if !list.contains(&r) {
            list.push(r);
        }
    }
    list
}

/// `?format=` values: the five media types. A `+` decoded as a space (form encoding)
/// is taken back as `+`.
fn format_repr(value: &str) -> Option<Repr> {
    let v = value.trim().replace(' ', "+").to_ascii_lowercase();
    match v.as_str() {
        JSON_TYPE | LATEST_JSON_TYPE => Some(Repr::Json),
        V1_HTML_TYPE | LATEST_HTML_TYPE => Some(Repr::V1Html),
        HTML_TYPE => Some(Repr::Html),
        _ => None,
    }
}

struct Range {
    media: String,
    q: f32,
}

/// Parse `type/subtype;param;q=x, ...` (hand-written: the http crate has no Accept
/// parser, and we need exact q semantics). Malformed items are skipped.
fn parse_accept(accept: &str) -> Vec<Range> {
    let mut out = Vec::new();
    for item in accept.split(',') {
        let mut parts = item.split(';');
        let media = parts.next().unwrap_or("").trim().to_ascii_lowercase();
        if !media.contains('/') {
            continue;
        }
        let mut q = Some(1.0f32);
        for param in parts {
            if let Some((k, v)) = param.split_once('=')
                && k.trim().eq_ignore_ascii_case("q")
            {
                q = v
                    .trim()
                    .parse::<f32>()
                    .ok()
                    .filter(|q| (0.0..=1.0).contains(q));
            }
        }
        if let Some(q) = q {
            out.push(Range { media, q });
        }
    }
    out
}

/// (q, specificity) of the most specific range matching `repr`; first one wins among equals.
fn best_match(ranges: &[Range], repr: Repr) -> Option<(f32, u8)> {
    let mut best: Option<(f32, u8)> = None;
    for r in ranges {
        let spec = if repr.exact_types().contains(&r.media.as_str()) {
            3
        } else if r.media == repr.type_wildcard() {
            2
        } else if r.media == "*/*" {
            1
        } else {
            continue;
        };
        if best.is_none_or(|(_, s)| spec > s) {
            best = Some((r.q, spec));
        }
    }
    best
}

#[cfg(test)]
mod tests {
    use super::*;

    const PIP: &str = "application/vnd.pypi.simple.v1+json, application/vnd.pypi.simple.v1+html; q=0.1, text/html; q=0.01";
    const UV: &str = "application/vnd.pypi.simple.v1+json, application/vnd.pypi.simple.v1+html;q=0.2, text/html;q=0.01";

    fn first(accept: Option<&str>) -> Repr {
        choose(accept, None, false).unwrap()[0]
    }

    #[test]
    fn table() {
        assert_eq!(first(None), Repr::Html);
        assert_eq!(first(Some("")), Repr::Html);
        assert_eq!(first(Some("*/*")), Repr::Html);
        assert_eq!(first(Some("text/*")), Repr::Html);
        assert_eq!(first(Some("application/*")), Repr::Json);
        assert_eq!(first(Some(JSON_TYPE)), Repr::Json);
        assert_eq!(first(Some(V1_HTML_TYPE)), Repr::V1Html);
        assert_eq!(first(Some(LATEST_JSON_TYPE)), Repr::Json);
        assert_eq!(first(Some(LATEST_HTML_TYPE)), Repr::V1Html);
        assert_eq!(first(Some(PIP)), Repr::Json);
        assert_eq!(first(Some(UV)), Repr::Json);
        assert_eq!(
            first(Some(
                "application/vnd.pypi.simple.v1+json;q=0.1, application/vnd.pypi.simple.v1+html"
            )),
            Repr::V1Html
        );
        assert_eq!(
            first(Some("application/vnd.pypi.simple.v1+json;q=0, text/html")),
            Repr::Html
        );
        assert_eq!(first(Some("application/json")), Repr::Html);
        assert_eq!(
            first(Some("application/vnd.pypi.simple.v1+json, */*;q=0.1")),
            Repr::Json
        );
        assert_eq!(first(Some("text/html, */*")), Repr::Html);
        assert_eq!(first(Some("TEXT/HTML;Q=0.5")), Repr::Html);
    }

    #[test]
    fn q_zero_excludes_even_under_wildcard() {
        let list = choose(Some("text/html;q=0, */*"), None, true).unwrap();
        assert_eq!(list, vec![Repr::Json, Repr::V1Html]);
    }

    #[test]
    fn strict_mode_406() {
        assert_eq!(
            choose(Some("application/json"), None, true),
            Err(NotAcceptable)
        );
        assert_eq!(
            choose(Some("application/vnd.pypi.simple.v1+json;q=0"), None, true),
            Err(NotAcceptable)
        );
        assert_eq!(choose(None, None, true).unwrap()[0], Repr::Html);
    }

    #[test]
    fn format_overrides_accept() {
        assert_eq!(
            choose(Some("text/html"), Some(JSON_TYPE), true).unwrap()[0],
            Repr::Json
        );
        assert_eq!(
            choose(
                Some(PIP),
                Some("application/vnd.pypi.simple.v1 html"),
                false
            )
            .unwrap()[0],
            Repr::V1Html
        );
        assert_eq!(
            choose(Some(PIP), Some("text/html"), false).unwrap()[0],
            Repr::Html
        );
        assert_eq!(
            choose(None, Some(LATEST_JSON_TYPE), false).unwrap()[0],
            Repr::Json
        );
        // Unknown format values are ignored.
        assert_eq!(
            choose(Some(PIP), Some("xml"), false).unwrap()[0],
            Repr::Json
        );
    }

    #[test]
    fn malformed_items_are_skipped() {
        assert_eq!(
            first(Some("garbage, application/vnd.pypi.simple.v1+json;q=2")),
            Repr::Html
        );
        assert_eq!(first(Some(";;, ,")), Repr::Html);
    }
}
