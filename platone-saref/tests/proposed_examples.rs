//! The proposed examples under `ontologies/examples/proposed/`, made from the model values they
//! describe and compared triple by triple.
//!
//! Our graph is compared with the example after two documented substitutions: the proposal's
//! placeholder namespace `gx:` is the SDK's `platone:`, and the IRIs our mapping mints are
//! renamed to the example's (`docs/saref-proposed/NAME.iris.ttl`, one `owl:sameAs` per node:
//! the ontologies do not constrain minted IRIs, ours keep every series apart). What then differs
//! must be exactly the triples listed, each with its reason, in
//! `docs/saref-proposed/NAME.missing.ttl` (in the example, not in ours) and
//! `NAME.added.ttl` (in ours, not in the example); with those taken out the two graphs are
//! equal (isomorphic: neither has blank nodes).

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;

use common::*;
use oxrdf::{Graph, NamedNode, NamedOrBlankNode, Term, TermRef, Triple};
use platone_saref::vocab::{self, t};
use platone_saref::{Format, MappingOptions, ValueDatatype, read_graph};

const GX: &str = "https://w3id.org/example-grid-sdk/ontology#";
const SAME_AS: &str = "http://www.w3.org/2002/07/owl#sameAs";

fn docs() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../docs/saref-proposed")
}

fn turtle(text: &str, what: &str) -> Graph {
    read_graph(text.replace(GX, vocab::PLATONE).as_bytes(), Format::Turtle)
        .unwrap_or_else(|e| panic!("{what}: {e}"))
}

fn example(name: &str) -> Option<Graph> {
    let path = reference()?.join("ontologies/examples/proposed").join(name);
    Some(turtle(&std::fs::read_to_string(&path).unwrap(), name))
}

fn listed(stem: &str, kind: &str) -> Graph {
    let path = docs().join(format!("{stem}.{kind}.ttl"));
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    turtle(&text, &path.display().to_string())
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

fn rename(g: &Graph, names: &BTreeMap<String, String>) -> Graph {
    let node = |n: &NamedNode| {
        NamedNode::new_unchecked(names.get(n.as_str()).unwrap_or(&n.as_str().to_string()))
    };
    g.iter()
        .map(|tr| {
            let tr = tr.into_owned();
            let subject = match tr.subject {
                NamedOrBlankNode::NamedNode(n) => NamedOrBlankNode::from(node(&n)),
                other => other,
            };
            let object = match tr.object {
                Term::NamedNode(n) => Term::from(node(&n)),
                other => other,
            };
            Triple::new(subject, tr.predicate, object)
        })
        .collect()
}

fn lines(g: &Graph) -> BTreeSet<String> {
    g.iter().map(|tr| tr.to_string()).collect()
}

fn difference(a: &Graph, b: &Graph) -> BTreeSet<String> {
    lines(a).difference(&lines(b)).cloned().collect()
}

/// Compares ours with the example as the module docs say.
fn compare(stem: &str, example: &Graph, ours: &Graph) {
    let mut names = BTreeMap::new();
    for tr in listed(stem, "iris").iter() {
        assert_eq!(tr.predicate.as_str(), SAME_AS, "{stem}.iris.ttl: {tr}");
        let (NamedOrBlankNodeRef::NamedNode(from), TermRef::NamedNode(to)) =
            (tr.subject, tr.object)
        else {
            panic!("{stem}.iris.ttl: {tr}");
        };
        assert!(
            ours.iter()
                .any(|o| o.subject == from.into() || o.object == from.into()),
            "{stem}.iris.ttl: we do not mint {from}"
        );
        names.insert(from.as_str().to_string(), to.as_str().to_string());
    }
    let renamed = rename(ours, &names);
    let missing = difference(example, &renamed);
    let added = difference(&renamed, example);
    let fmt = |s: &BTreeSet<String>| s.iter().map(|l| format!("{l} .\n")).collect::<String>();
    eprintln!(
        "{stem}, not ours:\n{}\n{stem}, ours only:\n{}",
        fmt(&missing),
        fmt(&added)
    );
    assert_eq!(
        fmt(&missing),
        fmt(&lines(&listed(stem, "missing"))),
        "{stem}: the example's triples we do not write (left) vs. those listed (right)"
    );
    assert_eq!(
        fmt(&added),
        fmt(&lines(&listed(stem, "added"))),
        "{stem}: our triples the example lacks (left) vs. those listed (right)"
    );
    // Without the listed differences the graphs are equal.
    let mut a: BTreeSet<String> = lines(example);
    a.retain(|l| !missing.contains(l));
    let mut b: BTreeSet<String> = lines(&renamed);
    b.retain(|l| !added.contains(l));
    assert_eq!(a, b);
}

use oxrdf::NamedOrBlankNodeRef;

#[test]
fn meter_reading_example() {
    let Some(example) = example("meter-reading.ttl") else {
        return;
    };
    compare(
        "meter-reading",
        &example,
        &ours(&[meter_reading()], &[], ValueDatatype::Decimal),
    );
}

#[test]
fn pmu_reading_example() {
    let Some(example) = example("pmu-reading.ttl") else {
        return;
    };
    compare(
        "pmu-reading",
        &example,
        &ours(&pmu_readings(), &[], ValueDatatype::Double),
    );
}

#[test]
fn setpoint_example() {
    let Some(example) = example("setpoint.ttl") else {
        return;
    };
    compare(
        "setpoint",
        &example,
        &ours(&[], &[set_point()], ValueDatatype::Double),
    );
}

fn values(g: &Graph, predicate: &str) -> BTreeSet<String> {
    g.iter()
        .filter(|tr| tr.predicate.as_str() == predicate)
        .map(|tr| tr.object.to_string())
        .collect()
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
