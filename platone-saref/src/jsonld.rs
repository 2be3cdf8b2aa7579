//! Compact JSON-LD: node objects that use the terms of the published [`CONTEXT`].
//!
//! The writer takes the same triple stream as the Turtle and N-Triples writers and writes one
//! node object per run of triples with the same subject, naming predicates by their context
//! term and writing values in the form the term's type coercion expects; anything the context
//! does not cover is written in expanded form, so the graph is always exactly the one the
//! other formats carry.

use std::io::{self, Write};

use oxrdf::{TermRef, TripleRef};

use crate::map::TripleSink;
use crate::vocab::{self, t};

/// The IRI the context is published at; documents written with
/// [`JsonLdContext::Reference`] point to it, and the readers resolve it to [`CONTEXT`] without
/// a network request.
pub const CONTEXT_IRI: &str = "https://w3id.org/platone/saref/context.jsonld";

/// The published JSON-LD context document (also in `docs/saref-context.jsonld`).
pub const CONTEXT: &str = include_str!("../context.jsonld");

/// How a term's values are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Coerce {
    /// An IRI (`"@type": "@id"`), written as a compact IRI string.
    Id,
    /// A literal of this datatype, written as its lexical form.
    Datatype(&'static str),
    /// A plain string.
    Plain,
}

/// The context's terms: name, IRI, coercion.
const TERMS: &[(&str, &str, Coerce)] = &[
    ("hasValue", t::S_HAS_VALUE, Coerce::Datatype(t::XSD_DOUBLE)),
    (
        "hasTimestamp",
        t::S_HAS_TIMESTAMP,
        Coerce::Datatype(t::XSD_DATETIME),
    ),
    ("isMeasuredIn", t::S_IS_MEASURED_IN, Coerce::Id),
    ("relatesToProperty", t::S_RELATES_TO_PROPERTY, Coerce::Id),
    ("isMeasurementOf", t::S_IS_MEASUREMENT_OF, Coerce::Id),
    ("measurementMadeBy", t::S_MEASUREMENT_MADE_BY, Coerce::Id),
    ("makesMeasurement", t::S_MAKES_MEASUREMENT, Coerce::Id),
    ("measuresProperty", t::S_MEASURES_PROPERTY, Coerce::Id),
    ("hasProperty", t::S_HAS_PROPERTY, Coerce::Id),
    ("isPropertyOf", t::S_IS_PROPERTY_OF, Coerce::Id),
    ("hasFunction", t::S_HAS_FUNCTION, Coerce::Id),
    (
        "hasMeterReadingType",
        t::S_HAS_METER_READING_TYPE,
        Coerce::Id,
    ),
    ("hasCommand", t::S_HAS_COMMAND, Coerce::Id),
    ("isCommandOf", t::S_IS_COMMAND_OF, Coerce::Id),
    ("actsUpon", t::S_ACTS_UPON, Coerce::Id),
    ("hasState", t::S_HAS_STATE, Coerce::Id),
    ("controlsProperty", t::S_CONTROLS_PROPERTY, Coerce::Id),
    (
        "isControlledByDevice",
        t::S_IS_CONTROLLED_BY_DEVICE,
        Coerce::Id,
    ),
    ("hasResult", t::S4_HAS_RESULT, Coerce::Id),
    ("isValueOfProperty", t::S4_IS_VALUE_OF_PROPERTY, Coerce::Id),
    ("madeBy", t::S4_MADE_BY, Coerce::Id),
    ("observes", t::S4_OBSERVES, Coerce::Id),
    (
        "hasFeatureOfInterest",
        t::S4_HAS_FEATURE_OF_INTEREST,
        Coerce::Id,
    ),
    ("has_channel", t::SG_HAS_CHANNEL, Coerce::Id),
    ("label", t::RDFS_LABEL, Coerce::Plain),
    ("broader", t::SKOS_BROADER, Coerce::Id),
    ("mRID", t::P_MRID, Coerce::Plain),
    ("usagePoint", t::P_USAGE_POINT_LINK, Coerce::Id),
    ("pointOfDelivery", t::P_POD_LINK, Coerce::Id),
    ("gridComponent", t::P_COMPONENT_LINK, Coerce::Id),
    ("meter", t::P_METER_LINK, Coerce::Id),
    ("measurementKind", t::P_MEASUREMENT_KIND, Coerce::Id),
    ("quantityKind", t::P_QUANTITY_KIND, Coerce::Id),
    ("phases", t::P_PHASES, Coerce::Id),
    ("flowDirection", t::P_FLOW_DIRECTION, Coerce::Id),
    ("accumulation", t::P_ACCUMULATION, Coerce::Id),
    (
        "intervalSeconds",
        t::P_INTERVAL_SECONDS,
        Coerce::Datatype(t::XSD_INTEGER),
    ),
    ("aggregate", t::P_AGGREGATE, Coerce::Id),
    ("channel", t::P_CHANNEL, Coerce::Plain),
    ("readingTypeCode", t::P_READING_TYPE_CODE, Coerce::Plain),
    ("phasorComponent", t::P_PHASOR_COMPONENT, Coerce::Id),
    ("quality", t::P_QUALITY, Coerce::Id),
    (
        "unitMultiplier",
        t::P_UNIT_MULTIPLIER,
        Coerce::Datatype(t::XSD_INTEGER),
    ),
    ("unitSymbol", t::P_UNIT_SYMBOL, Coerce::Plain),
    ("targetProperty", t::P_TARGET_PROPERTY, Coerce::Id),
    ("commandUnit", t::P_UNIT, Coerce::Id),
    (
        "validFrom",
        t::P_VALID_FROM,
        Coerce::Datatype(t::XSD_DATETIME),
    ),
    (
        "validUntil",
        t::P_VALID_UNTIL,
        Coerce::Datatype(t::XSD_DATETIME),
    ),
    ("setPointId", t::P_SET_POINT_ID, Coerce::Plain),
    ("issuedBy", t::P_ISSUED_BY, Coerce::Plain),
    ("certifiedIn", t::P_CERTIFIED_IN, Coerce::Id),
    (
        "leafIndex",
        t::P_LEAF_INDEX,
        Coerce::Datatype(t::XSD_INTEGER),
    ),
    ("batchId", t::P_BATCH_ID, Coerce::Plain),
    ("merkleRoot", t::P_MERKLE_ROOT, Coerce::Plain),
    ("anchor", t::P_ANCHOR, Coerce::Plain),
    ("anchorLedger", t::P_ANCHOR_LEDGER, Coerce::Plain),
    (
        "anchorPosition",
        t::P_ANCHOR_POSITION,
        Coerce::Datatype(t::XSD_INTEGER),
    ),
    (
        "anchoredAt",
        t::P_ANCHORED_AT,
        Coerce::Datatype(t::XSD_DATETIME),
    ),
];

/// Writes `s` as the compact form of an IRI: `prefix:local` under a context prefix, else
/// the IRI itself.
fn compact_iri(iri: &str) -> (&'static str, &str) {
    for (prefix, ns) in vocab::PREFIXES {
        if let Some(local) = iri.strip_prefix(ns)
            && !local.is_empty()
            && !local.starts_with("//")
        {
            return (prefix, local);
        }
    }
    ("", iri)
}

/// The context document built from the prefixes and term table; equal to [`CONTEXT`] (a test
/// checks it), kept so the two cannot drift apart.
pub fn context_document() -> String {
    let mut out = String::from("{\n  \"@context\": {\n    \"@version\": 1.1,\n");
    out.push_str("    \"id\": \"@id\",\n    \"type\": \"@type\",\n");
    for (prefix, ns) in vocab::PREFIXES {
        out.push_str(&format!("    \"{prefix}\": \"{ns}\",\n"));
    }
    for (i, (term, iri, coerce)) in TERMS.iter().enumerate() {
        let (prefix, local) = compact_iri(iri);
        let id = if prefix.is_empty() {
            (*iri).to_string()
        } else {
            format!("{prefix}:{local}")
        };
        let ty = match coerce {
            Coerce::Id => ", \"@type\": \"@id\"".to_string(),
            Coerce::Datatype(dt) => {
                let (p, l) = compact_iri(dt);
                format!(", \"@type\": \"{p}:{l}\"")
            }
            Coerce::Plain => String::new(),
        };
        let comma = if i + 1 == TERMS.len() { "" } else { "," };
        out.push_str(&format!(
            "    \"{term}\": {{\"@id\": \"{id}\"{ty}}}{comma}\n"
        ));
    }
    out.push_str("  }\n}\n");
    out
}

/// How a JSON-LD document carries its context.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum JsonLdContext {
    /// The context is written into the document (self-contained; the default).
    #[default]
    Inline,
    /// The document names [`CONTEXT_IRI`].
    Reference,
}

/// A streaming compact JSON-LD writer.
pub(crate) struct JsonLdWriter<W: Write> {
    out: W,
    subject: String,
    /// The current subject's predicates and objects as JSON values, in arrival order.
    entries: Vec<(usize, String)>,
    types: Vec<String>,
    nodes_written: usize,
    predicate_keys: Vec<String>,
}

impl<W: Write> JsonLdWriter<W> {
    pub(crate) fn new(mut out: W, context: JsonLdContext) -> io::Result<Self> {
        match context {
            JsonLdContext::Inline => {
                let body = CONTEXT
                    .trim()
                    .strip_prefix('{')
                    .and_then(|s| s.strip_suffix('}'))
                    .unwrap_or("");
                write!(out, "{{{body},\n  \"@graph\": [")?;
            }
            JsonLdContext::Reference => {
                write!(
                    out,
                    "{{\n  \"@context\": \"{CONTEXT_IRI}\",\n  \"@graph\": ["
                )?;
            }
        }
        Ok(JsonLdWriter {
            out,
            subject: String::new(),
            entries: Vec::new(),
            types: Vec::new(),
            nodes_written: 0,
            predicate_keys: Vec::new(),
        })
    }

    fn key_index(&mut self, predicate: &str) -> (usize, Coerce) {
        if let Some(i) = TERMS.iter().position(|(_, iri, _)| *iri == predicate) {
            return (i, TERMS[i].2);
        }
        let i = match self.predicate_keys.iter().position(|k| k == predicate) {
            Some(i) => i,
            None => {
                self.predicate_keys.push(predicate.to_string());
                self.predicate_keys.len() - 1
            }
        };
        (TERMS.len() + i, Coerce::Plain)
    }

    fn flush_node(&mut self) -> io::Result<()> {
        if self.subject.is_empty() {
            return Ok(());
        }
        let out = &mut self.out;
        out.write_all(if self.nodes_written == 0 {
            b"\n    {"
        } else {
            b",\n    {"
        })?;
        out.write_all(b"\"id\": ")?;
        serde_json::to_writer(&mut *out, &self.subject)?;
        match self.types.len() {
            0 => {}
            1 => {
                out.write_all(b", \"type\": ")?;
                serde_json::to_writer(&mut *out, &self.types[0])?;
            }
            _ => {
                out.write_all(b", \"type\": ")?;
                serde_json::to_writer(&mut *out, &self.types)?;
            }
        }
        // Group values by key, keeping the order keys first appeared in.
        self.entries.sort_by_key(|(k, _)| *k);
        let mut i = 0;
        while i < self.entries.len() {
            let key = self.entries[i].0;
            let mut j = i;
            while j < self.entries.len() && self.entries[j].0 == key {
                j += 1;
            }
            out.write_all(b", ")?;
            let name = match TERMS.get(key) {
                Some((term, _, _)) => (*term).to_string(),
                None => self
                    .predicate_keys
                    .get(key - TERMS.len())
                    .cloned()
                    .unwrap_or_default(),
            };
            serde_json::to_writer(&mut *out, &name)?;
            out.write_all(b": ")?;
            if j - i == 1 {
                out.write_all(self.entries[i].1.as_bytes())?;
            } else {
                out.write_all(b"[")?;
                for (n, (_, v)) in self.entries[i..j].iter().enumerate() {
                    if n > 0 {
                        out.write_all(b", ")?;
                    }
                    out.write_all(v.as_bytes())?;
                }
                out.write_all(b"]")?;
            }
            i = j;
        }
        out.write_all(b"}")?;
        self.nodes_written += 1;
        self.subject.clear();
        self.entries.clear();
        self.types.clear();
        Ok(())
    }

    pub(crate) fn finish(mut self) -> io::Result<W> {
        self.flush_node()?;
        self.out.write_all(b"\n  ]\n}\n")?;
        Ok(self.out)
    }
}

fn json_string(text: &str) -> String {
    serde_json::to_string(text).unwrap_or_else(|_| "\"\"".to_string())
}

fn compact_string(iri: &str) -> String {
    let (prefix, local) = compact_iri(iri);
    if prefix.is_empty() {
        json_string(iri)
    } else {
        json_string(&format!("{prefix}:{local}"))
    }
}

impl<W: Write> TripleSink for JsonLdWriter<W> {
    fn triple(&mut self, triple: TripleRef<'_>) -> io::Result<()> {
        let subject = match triple.subject {
            oxrdf::NamedOrBlankNodeRef::NamedNode(n) => n.as_str().to_string(),
            oxrdf::NamedOrBlankNodeRef::BlankNode(b) => b.to_string(),
        };
        if subject != self.subject {
            self.flush_node()?;
            self.subject = subject;
        }
        let predicate = triple.predicate.as_str();
        if predicate == t::RDF_TYPE
            && let TermRef::NamedNode(class) = triple.object
        {
            let (prefix, local) = compact_iri(class.as_str());
            self.types.push(if prefix.is_empty() {
                class.as_str().to_string()
            } else {
                format!("{prefix}:{local}")
            });
            return Ok(());
        }
        let (key, coerce) = self.key_index(predicate);
        let value = match (triple.object, coerce) {
            (TermRef::NamedNode(iri), Coerce::Id) => compact_string(iri.as_str()),
            (TermRef::NamedNode(iri), _) => format!("{{\"@id\": {}}}", json_string(iri.as_str())),
            (TermRef::BlankNode(b), _) => format!("{{\"@id\": {}}}", json_string(&b.to_string())),
            (TermRef::Literal(lit), coerce) => {
                let dt = lit.datatype().as_str();
                if let Some(lang) = lit.language() {
                    format!(
                        "{{\"@value\": {}, \"@language\": {}}}",
                        json_string(lit.value()),
                        json_string(lang)
                    )
                } else if match coerce {
                    Coerce::Datatype(c) => c == dt,
                    Coerce::Plain => dt == t::XSD_STRING,
                    Coerce::Id => false,
                } {
                    json_string(lit.value())
                } else if dt == t::XSD_STRING && coerce != Coerce::Id {
                    format!("{{\"@value\": {}}}", json_string(lit.value()))
                } else {
                    format!(
                        "{{\"@value\": {}, \"@type\": {}}}",
                        json_string(lit.value()),
                        compact_string(dt)
                    )
                }
            }
            #[allow(unreachable_patterns)]
            _ => {
                return Err(io::Error::new(
                    io::ErrorKind::InvalidInput,
                    "JSON-LD cannot carry RDF 1.2 triple terms",
                ));
            }
        };
        self.entries.push((key, value));
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn published_context_matches_the_term_table() {
        assert_eq!(CONTEXT, context_document());
        let parsed: serde_json::Value = serde_json::from_str(CONTEXT).unwrap();
        assert!(parsed["@context"]["hasValue"].is_object());
    }

    #[test]
    fn compact_iris_use_prefixes() {
        assert_eq!(
            compact_iri("http://qudt.org/vocab/unit/KiloW-HR"),
            ("unit", "KiloW-HR")
        );
        assert_eq!(compact_iri("https://example.org/x").0, "");
    }
}
