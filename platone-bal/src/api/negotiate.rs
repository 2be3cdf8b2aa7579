//! Content negotiation for `GET /api/measurements`: the `Accept` header, with q-values,
//! chooses JSON (the default) or one of the RDF serialisations of `platone-saref`.

use axum::http::StatusCode;
use platone_saref::Format;

use super::problem::ApiError;

/// A representation the measurement listing can answer with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Representation {
    /// The `{"items", "next"}` page as JSON.
    Json,
    /// The page's measurements as RDF (SAREF mapping, with the `platone:` certification
    /// references).
    Rdf(Format),
}

/// The media types served, in the server's order of preference (the first wins a tie).
pub const MEDIA_TYPES: &[(&str, Representation)] = &[
    ("application/json", Representation::Json),
    ("text/turtle", Representation::Rdf(Format::Turtle)),
    ("application/ld+json", Representation::Rdf(Format::JsonLd)),
    (
        "application/n-triples",
        Representation::Rdf(Format::NTriples),
    ),
];

/// Chooses the representation for an `Accept` header (RFC 9110 §12.5.1).
///
/// Each served type takes the q-value of the most specific media range that matches it
/// (`type/subtype` before `type/*` before `*/*`); the highest q above 0 wins, ties going to
/// the order of [`MEDIA_TYPES`]. No header, or an empty one, means JSON. Media-range
/// parameters other than `q` are ignored. A q-value that is not a number from 0 to 1 with at
/// most three decimals is a 400; a header that no served type satisfies is a 406 naming what
/// is served.
pub fn negotiate(accept: Option<&str>) -> Result<Representation, ApiError> {
    let Some(accept) = accept.map(str::trim).filter(|a| !a.is_empty()) else {
        return Ok(Representation::Json);
    };
    let mut ranges = Vec::new();
    for item in accept.split(',') {
        let mut parts = item.split(';');
        let range = parts.next().unwrap_or("").trim().to_ascii_lowercase();
        if range.is_empty() {
            continue; // RFC 9110 list syntax allows empty elements
        }
        let Some((kind, sub)) = range.split_once('/') else {
            return Err(ApiError::bad_request(
                "Accept",
                format!("{range:?} is not a media range (type/subtype)"),
            ));
        };
        let mut q = 1.0;
        for param in parts {
            let Some((name, value)) = param.split_once('=') else {
                continue;
            };
            if name.trim().eq_ignore_ascii_case("q") {
                q = parse_q(value.trim()).ok_or_else(|| {
                    ApiError::bad_request(
                        "Accept",
                        format!(
                            "q={} in {range:?} is not a weight from 0 to 1",
                            value.trim()
                        ),
                    )
                })?;
            }
        }
        ranges.push((kind.trim().to_owned(), sub.trim().to_owned(), q));
    }
    let mut best: Option<(f64, Representation)> = None;
    for &(media, representation) in MEDIA_TYPES {
        let (kind, sub) = media.split_once('/').unwrap_or((media, ""));
        // (specificity, q) of the most specific matching range.
        let mut matched: Option<(u8, f64)> = None;
        for (rk, rs, q) in &ranges {
            let specificity = if rk == kind && rs == sub {
                2
            } else if rk == kind && rs == "*" {
                1
            } else if rk == "*" && rs == "*" {
                0
            } else {
                continue;
            };
            if matched.is_none_or(|(s, _)| specificity > s) {
                matched = Some((specificity, *q));
            }
        }
        if let Some((_, q)) = matched
            && q > 0.0
            && best.is_none_or(|(b, _)| q > b)
        {
            best = Some((q, representation));
        }
    }
    best.map(|(_, r)| r).ok_or_else(|| {
        ApiError::new(
            StatusCode::NOT_ACCEPTABLE,
            "Accept",
            format!(
                "none of {accept:?} is served; ask for one of {}",
                MEDIA_TYPES
                    .iter()
                    .map(|(m, _)| *m)
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        )
    })
}

/// `qvalue = ( "0" [ "." 0*3DIGIT ] ) / ( "1" [ "." 0*3("0") ] )`.
fn parse_q(text: &str) -> Option<f64> {
    let (whole, frac) = text.split_once('.').unwrap_or((text, ""));
    let valid = match whole {
        "0" => frac.len() <= 3 && frac.bytes().all(|b| b.is_ascii_digit()),
        "1" => frac.len() <= 3 && frac.bytes().all(|b| b == b'0'),
        _ => false,
    };
    if valid { text.parse().ok() } else { None }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pick(accept: &str) -> Representation {
        negotiate(Some(accept)).unwrap_or_else(|e| panic!("{accept}: {e}"))
    }

    #[test]
    fn accept_headers_choose_by_q_and_specificity() {
        use Representation::*;
        assert_eq!(negotiate(None).unwrap(), Json);
        assert_eq!(pick(""), Json);
        assert_eq!(pick("*/*"), Json);
        assert_eq!(pick("application/json"), Json);
        assert_eq!(pick("text/turtle"), Rdf(Format::Turtle));
        assert_eq!(pick("Text/Turtle; charset=utf-8"), Rdf(Format::Turtle));
        assert_eq!(pick("application/ld+json"), Rdf(Format::JsonLd));
        assert_eq!(pick("application/n-triples"), Rdf(Format::NTriples));
        assert_eq!(pick("text/*"), Rdf(Format::Turtle));
        assert_eq!(
            pick("application/json;q=0.5, text/turtle;q=0.9"),
            Rdf(Format::Turtle)
        );
        assert_eq!(
            pick("application/ld+json;q=0.8, text/turtle;q=0.8"),
            Rdf(Format::Turtle),
            "a tie goes to the server's order"
        );
        // The most specific range decides: JSON is excluded, everything else is welcome.
        assert_eq!(pick("application/json;q=0, */*;q=0.1"), Rdf(Format::Turtle));
        assert_eq!(
            pick("application/*;q=0.2, application/ld+json"),
            Rdf(Format::JsonLd)
        );
        assert_eq!(pick("text/html, */*;q=0.01"), Json);
        assert_eq!(pick(",text/turtle,"), Rdf(Format::Turtle));
    }

    #[test]
    fn unsatisfiable_is_406_and_malformed_is_400() {
        for accept in [
            "text/html",
            "application/xml, image/*",
            "*/*;q=0",
            "text/turtle;q=0",
        ] {
            let e = negotiate(Some(accept)).unwrap_err();
            assert_eq!(
                (e.status, e.at.as_str()),
                (StatusCode::NOT_ACCEPTABLE, "Accept"),
                "{accept}"
            );
            assert!(e.detail.contains("text/turtle"), "{e}");
        }
        for accept in [
            "turtle",
            "text/turtle;q=2",
            "text/turtle;q=0.1234",
            "*/*;q=x",
        ] {
            let e = negotiate(Some(accept)).unwrap_err();
            assert_eq!(
                (e.status, e.at.as_str()),
                (StatusCode::BAD_REQUEST, "Accept"),
                "{accept}"
            );
        }
    }

    proptest::proptest! {
        #[test]
        fn negotiation_never_panics(accept in ".*") {
            let _ = negotiate(Some(&accept));
        }
    }
}
