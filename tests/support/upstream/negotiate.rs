//! PyPI's content negotiation for simple pages (PEP 691 media types, q-values).

pub const JSON_TYPE: &str = "application/vnd.pypi.simple.v1+json";
pub const V1_HTML_TYPE: &str = "application/vnd.pypi.simple.v1+html";

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Repr {
    TextHtml,
    V1Html,
    Json,
}

impl Repr {
    pub fn content_type(self) -> &'static str {
        match self {
            Repr::TextHtml => "text/html; charset=utf-8",
            Repr::V1Html => V1_HTML_TYPE,
            Repr::Json => JSON_TYPE,
        }
    }
}

fn media_repr(media: &str) -> Option<Repr> {
    match media {
        "application/vnd.pypi.simple.v1+json" | "application/vnd.pypi.simple.latest+json" => {
            Some(Repr::Json)
        }
        "application/vnd.pypi.simple.v1+html" | "application/vnd.pypi.simple.latest+html" => {
            Some(Repr::V1Html)
        }
        "text/html" => Some(Repr::TextHtml),
        _ => None,
    }
}

/// PyPI's choice: `?format=` wins, else the Accept q-values (most specific range per
/// offer), ties going to the most compatible type; nothing acceptable → text/html.
pub fn negotiate(accept: Option<&str>, format: Option<&str>) -> Repr {
    if let Some(r) = format.and_then(|f| media_repr(f.trim())) {
        return r;
    }
    let Some(accept) = accept.filter(|a| !a.trim().is_empty()) else {
        return Repr::TextHtml;
    };
    let offers = [Repr::TextHtml, Repr::V1Html, Repr::Json];
    // (specificity, q) of the best-matching range, per offer.
    let mut best: [Option<(u8, f32)>; 3] = [None; 3];
    for item in accept.split(',') {
        let mut parts = item.split(';');
        let media = parts.next().unwrap_or("").trim().to_ascii_lowercase();
        let q = parts
            .filter_map(|p| p.trim().strip_prefix("q="))
            .find_map(|v| v.trim().parse::<f32>().ok())
            .unwrap_or(1.0);
        for (i, offer) in offers.iter().enumerate() {
            let spec = if media_repr(&media) == Some(*offer) {
                2
            } else if media == "*/*"
                || (media == "application/*" && *offer != Repr::TextHtml)
                || (media == "text/*" && *offer == Repr::TextHtml)
            {
                1
            } else {
                continue;
            };
            best[i] = match best[i] {
                Some((s, bq)) if s > spec || (s == spec && bq >= q) => Some((s, bq)),
                _ => Some((spec, q)),
            };
        }
    }
    let mut chosen = Repr::TextHtml;
    let mut chosen_q = 0.0f32;
    for (i, offer) in offers.iter().enumerate() {
        if let Some((_, q)) = best[i]
            && q > chosen_q
        {
            chosen = *offer;
            chosen_q = q;
        }
    }
    chosen
}
