//! The proposed examples under `ontologies/examples/proposed/`, made from the model values they
//! describe. Our graphs are not isomorphic to them, for the reasons docs/saref.md gives (IRIs
//! that stay unique per series, the placeholder `gx:` namespace replaced by `platone:`, facts
//! the model does not carry); these tests check the rest: every class and predicate the example
//! uses appears in ours (minus the documented exceptions) and the measured values, units and
//! timestamps are the example's.

mod common;

use std::collections::BTreeSet;

use common::*;
use oxrdf::{Graph, TermRef};
use platone_saref::vocab::{self, t};
use platone_saref::{Format, MappingOptions, ValueDatatype, read_graph};

const GX: &str = "https://w3id.org/example-grid-sdk/ontology#";

fn example(name: &str) -> Option<Graph> {
    let path = reference()?.join("ontologies/examples/proposed").join(name);
    let text = std::fs::read_to_string(path)
        .unwrap()
        .replace(GX, vocab::PLATONE);
    Some(read_graph(text.as_bytes(), Format::Turtle).unwrap())
}

fn ours(
    measurements: &[platone_model::Measurement],
    set_points: &[platone_model::SetPoint],
    value_datatype: ValueDatatype,
) -> Graph {
    let options = MappingOptions {
        value_datatype,
        ..MappingOptions::default()
    };
    let mut g = Graph::new();
    let mut mapper = platone_saref::Mapper::new(options);
    for m in measurements {
        mapper.measurement(m, None, &mut g).unwrap();
    }
    for sp in set_points {
        mapper.set_point(sp, &mut g).unwrap();
    }
    g
}

/// Predicates and classes a graph uses.
fn vocabulary(g: &Graph) -> (BTreeSet<String>, BTreeSet<String>) {
    let mut predicates = BTreeSet::new();
    let mut classes = BTreeSet::new();
    for tr in g.iter() {
        predicates.insert(tr.predicate.as_str().to_string());
        if tr.predicate.as_str() == t::RDF_TYPE
            && let TermRef::NamedNode(c) = tr.object
        {
            classes.insert(c.as_str().to_string());
        }
    }
    (predicates, classes)
}

fn values(g: &Graph, predicate: &str) -> BTreeSet<String> {
    g.iter()
        .filter(|tr| tr.predicate.as_str() == predicate)
        .map(|tr| tr.object.to_string())
        .collect()
}

fn covers(example: &Graph, ours: &Graph, not_carried: &[&str]) {
    let (ep, ec) = vocabulary(example);
    let (op, oc) = vocabulary(ours);
    let missing: Vec<_> = ep
        .difference(&op)
        .chain(ec.difference(&oc))
        .filter(|iri| !not_carried.contains(&iri.as_str()))
        .collect();
    assert!(
        missing.is_empty(),
        "terms of the example we do not write: {missing:?}"
    );
}

#[test]
fn meter_reading_example() {
    let Some(example) = example("meter-reading.ttl") else {
        return;
    };
    let ours = ours(&[meter_reading()], &[], ValueDatatype::Decimal);
    covers(&example, &ours, &[]);
    for p in [
        t::S_HAS_VALUE,
        t::S_HAS_TIMESTAMP,
        t::S_IS_MEASURED_IN,
        t::P_PHASES,
        t::P_FLOW_DIRECTION,
        t::P_QUANTITY_KIND,
        t::P_READING_TYPE_CODE,
        t::SKOS_BROADER,
    ] {
        assert_eq!(values(&example, p), values(&ours, p), "{p}");
    }
}

#[test]
fn pmu_reading_example() {
    let Some(example) = example("pmu-reading.ttl") else {
        return;
    };
    let ours = ours(&pmu_readings(), &[], ValueDatatype::Double);
    covers(&example, &ours, &[]);
    for p in [
        t::S_HAS_VALUE,
        t::S_HAS_TIMESTAMP,
        t::S_IS_MEASURED_IN,
        t::P_QUANTITY_KIND,
        t::P_PHASOR_COMPONENT,
    ] {
        assert_eq!(values(&example, p), values(&ours, p), "{p}");
    }
}

#[test]
fn setpoint_example() {
    let Some(example) = example("setpoint.ttl") else {
        return;
    };
    let ours = ours(&[], &[set_point()], ValueDatatype::Decimal);
    // The model's set point has no issue time (saref:hasTimestamp) and does not know the
    // device is a battery (sgc:Battery_storage).
    covers(
        &example,
        &ours,
        &[
            t::S_HAS_TIMESTAMP,
            "https://sargon-n5geh.netlify.app/ontology/1.0/classes/Battery_storage",
        ],
    );
    for p in [
        t::P_UNIT,
        t::P_VALID_FROM,
        t::P_VALID_UNTIL,
        t::SKOS_BROADER,
    ] {
        assert_eq!(values(&example, p), values(&ours, p), "{p}");
    }
    // The value is the same number; the example writes it as "-5.0"^^xsd:double.
    assert_eq!(
        values(&ours, t::S_HAS_VALUE)
            .into_iter()
            .collect::<Vec<_>>(),
        ["\"-5\"^^<http://www.w3.org/2001/XMLSchema#decimal>"]
    );
}

#[test]
fn compact_jsonld_example_terms_read_with_our_reader() {
    // The proposal's compact meter reading names its context by a placeholder IRI; with that
    // context inlined, our reader takes it like any other producer's data.
    let Some(reference) = reference() else { return };
    let dir = reference.join("ontologies/examples/proposed");
    let context: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(dir.join("saref-grid-context.jsonld")).unwrap(),
    )
    .unwrap();
    let mut doc: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(dir.join("meter-reading.compact.jsonld")).unwrap(),
    )
    .unwrap();
    doc["@context"][0] = context["@context"].clone();
    let text = serde_json::to_string(&doc).unwrap();
    let g = read_graph(text.as_bytes(), Format::JsonLd).unwrap();
    assert_eq!(
        values(&g, t::S_IS_MEASURED_IN)
            .into_iter()
            .collect::<Vec<_>>(),
        ["<http://qudt.org/vocab/unit/KiloW-HR>"]
    );
    // It carries no property description, so it is not a full measurement for our reader:
    // the error names the property and the missing kind.
    let err = platone_saref::measurements_from_graph(&g).unwrap_err();
    assert!(err.to_string().contains("measurementKind"), "{err}");
}
