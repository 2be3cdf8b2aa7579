//! Every IRI the mapping emits in the SAREF, SAREF4ENER, SAREF4GRID, SARGON, QUDT and
//! `platone:` namespaces is declared in the ontology files under
//! `../shared/reference/ontologies/` (or the crate's vocabulary), used in the position its
//! declaration allows (property, class), and respects the domain and range stated there.

mod common;

use std::collections::{HashMap, HashSet};
use std::path::Path;

use common::*;
use oxrdf::{Graph, NamedOrBlankNodeRef, TermRef};
use platone_saref::vocab::{self, t};
use platone_saref::{Mapper, MappingOptions, Pattern};

const OWL: &str = "http://www.w3.org/2002/07/owl#";
const CHECKED: &[&str] = &[
    vocab::SAREF,
    vocab::S4ENER,
    vocab::S4GRID,
    vocab::SGC,
    vocab::SGO,
    vocab::UNIT,
    vocab::QK,
    vocab::PLATONE,
];

/// SAREF core 4 terms used by the observation pattern. The 4.x ontology file is not in the
/// reference folder (see docs/saref.md), so they are listed here rather than checked.
const SAREF4_TERMS: &[&str] = &[
    t::S4_OBSERVATION,
    t::S4_PROPERTY_VALUE,
    t::S4_HAS_RESULT,
    t::S4_IS_VALUE_OF_PROPERTY,
    t::S4_MADE_BY,
    t::S4_OBSERVES,
    t::S4_HAS_FEATURE_OF_INTEREST,
];

#[derive(Default)]
struct Index {
    kinds: HashMap<String, HashSet<String>>,
    subclass: HashMap<String, Vec<String>>,
    domain: HashMap<String, Vec<String>>,
    range: HashMap<String, Vec<String>>,
}

impl Index {
    fn load_turtle(&mut self, text: &str, what: &str) {
        for triple in oxttl::TurtleParser::new().for_slice(text.as_bytes()) {
            let triple = triple.unwrap_or_else(|e| panic!("{what}: {e}"));
            let NamedOrBlankNodeRef::NamedNode(s) = triple.subject.as_ref() else {
                continue;
            };
            let TermRef::NamedNode(o) = triple.object.as_ref() else {
                continue;
            };
            let (s, p, o) = (s.as_str(), triple.predicate.as_str(), o.as_str());
            let push = |map: &mut HashMap<String, Vec<String>>| {
                map.entry(s.to_string()).or_default().push(o.to_string())
            };
            match p {
                t::RDF_TYPE => {
                    self.kinds
                        .entry(s.to_string())
                        .or_default()
                        .insert(o.to_string());
                }
                "http://www.w3.org/2000/01/rdf-schema#subClassOf" => push(&mut self.subclass),
                "http://www.w3.org/2000/01/rdf-schema#domain" => push(&mut self.domain),
                "http://www.w3.org/2000/01/rdf-schema#range" => push(&mut self.range),
                _ => {}
            }
        }
    }

    fn is_class(&self, iri: &str) -> bool {
        self.kinds.get(iri).is_some_and(|k| {
            k.contains(&format!("{OWL}Class"))
                || k.contains("http://www.w3.org/2000/01/rdf-schema#Class")
        })
    }

    fn is_property(&self, iri: &str) -> bool {
        self.kinds.get(iri).is_some_and(|k| {
            k.iter().any(|c| {
                c.ends_with("ObjectProperty")
                    || c.ends_with("DatatypeProperty")
                    || c.ends_with("AnnotationProperty")
                    || c.ends_with("#Property")
            })
        })
    }

    /// `class` and everything it is a subclass of.
    fn ancestors(&self, class: &str) -> HashSet<String> {
        let mut seen = HashSet::new();
        let mut todo = vec![class.to_string()];
        while let Some(c) = todo.pop() {
            if seen.insert(c.clone()) {
                todo.extend(self.subclass.get(&c).cloned().unwrap_or_default());
            }
        }
        seen
    }
}

fn index(reference: &Path) -> Index {
    let mut index = Index::default();
    let dir = reference.join("ontologies");
    for file in [
        "saref-core/saref-v3.1.1.ttl",
        "saref4ener/saref4ener-v1.1.2.ttl",
        "saref4grid/saref4grid.ttl",
        "sargon/Sargon-website.ttl",
        "qudt/VOCAB_QUDT-UNITS-ALL.ttl",
        "qudt/VOCAB_QUDT-QUANTITY-KINDS-ALL.ttl",
    ] {
        let text = std::fs::read_to_string(dir.join(file)).unwrap();
        index.load_turtle(&text, file);
    }
    index.load_turtle(vocab::VOCABULARY, "platone.ttl");
    index
}

fn graph(pattern: Pattern) -> Graph {
    let mut graph = Graph::new();
    let mut mapper = Mapper::new(MappingOptions {
        pattern,
        ..MappingOptions::default()
    });
    let cert = certification();
    for (i, m) in varied().iter().enumerate() {
        mapper
            .measurement(m, (i == 0).then_some(&cert), &mut graph)
            .unwrap();
    }
    mapper.set_point(&set_point(), &mut graph).unwrap();
    graph
}

/// In SAREF core 4 `saref:isMeasuredIn` also applies to a `saref:PropertyValue` (3.1.1 gives
/// it the domain `saref:Measurement` only).
const SAREF4_DOMAINS: &[(&str, &str)] = &[(t::S_IS_MEASURED_IN, t::S4_PROPERTY_VALUE)];

fn check(index: &Index, graph: &Graph, extra: &[&str]) -> Vec<String> {
    check_with(index, graph, extra, &[])
}

fn check_with(
    index: &Index,
    graph: &Graph,
    extra: &[&str],
    extra_domains: &[(&str, &str)],
) -> Vec<String> {
    let mut problems = Vec::new();
    let checked = |iri: &str| CHECKED.iter().any(|ns| iri.starts_with(ns));
    let declared = |iri: &str| index.kinds.contains_key(iri) || extra.contains(&iri);
    let types_of = |node: &str| -> HashSet<String> {
        graph
            .objects_for_subject_predicate(
                oxrdf::NamedNodeRef::new_unchecked(node),
                oxrdf::NamedNodeRef::new_unchecked(t::RDF_TYPE),
            )
            .filter_map(|o| match o {
                TermRef::NamedNode(n) => Some(n.as_str().to_string()),
                _ => None,
            })
            .chain(index.kinds.get(node).into_iter().flatten().cloned())
            .flat_map(|c| index.ancestors(&c))
            .collect()
    };
    for triple in graph.iter() {
        let NamedOrBlankNodeRef::NamedNode(s) = triple.subject else {
            problems.push(format!("blank node subject {}", triple.subject));
            continue;
        };
        let p = triple.predicate.as_str();
        if checked(p) && !(index.is_property(p) || extra.contains(&p)) {
            problems.push(format!("<{p}> is not a declared property"));
        }
        if let TermRef::NamedNode(o) = triple.object {
            let o = o.as_str();
            if checked(o) && !declared(o) {
                problems.push(format!("<{o}> (object of <{p}>) is not declared"));
            }
            if p == t::RDF_TYPE && checked(o) && !(index.is_class(o) || extra.contains(&o)) {
                problems.push(format!("<{o}> is used as a class but is not one"));
            }
            for range in index.range.get(p).into_iter().flatten() {
                if !range.starts_with("http://www.w3.org/2001/XMLSchema#")
                    && !types_of(o).contains(range)
                {
                    problems.push(format!("<{s}> <{p}> <{o}>: object is not a <{range}>"));
                }
            }
        }
        if let TermRef::Literal(lit) = triple.object {
            for range in index.range.get(p).into_iter().flatten() {
                if range.starts_with("http://www.w3.org/2001/XMLSchema#")
                    && lit.datatype().as_str() != range
                {
                    problems.push(format!("<{s}> <{p}> {lit}: literal is not a <{range}>"));
                }
            }
        }
        let subject_types = types_of(s.as_str());
        let widened = extra_domains
            .iter()
            .any(|(prop, class)| *prop == p && subject_types.contains(*class));
        for domain in index.domain.get(p).into_iter().flatten() {
            if !widened && !subject_types.contains(domain) {
                problems.push(format!("<{s}> <{p}>: subject is not a <{domain}>"));
            }
        }
    }
    problems.sort();
    problems.dedup();
    problems
}

#[test]
fn every_emitted_term_is_declared_and_used_within_its_domain_and_range() {
    let Some(reference) = reference() else { return };
    let index = index(&reference);
    let problems = check(&index, &graph(Pattern::Saref3Measurement), &[]);
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

#[test]
fn the_saref4_pattern_uses_only_declared_terms_and_the_listed_saref4_ones() {
    let Some(reference) = reference() else { return };
    let index = index(&reference);
    let problems = check_with(
        &index,
        &graph(Pattern::Saref4Observation),
        SAREF4_TERMS,
        SAREF4_DOMAINS,
    );
    assert!(problems.is_empty(), "{}", problems.join("\n"));
    // The listed SAREF 4 terms are indeed absent from 3.1.1, so the list is not hiding anything.
    for term in SAREF4_TERMS {
        assert!(
            !index.kinds.contains_key(*term),
            "{term} is in 3.1.1; check it there"
        );
    }
}

#[test]
fn the_check_finds_an_undeclared_term_and_a_domain_violation() {
    let Some(reference) = reference() else { return };
    let index = index(&reference);
    let mut g = Graph::new();
    let s = oxrdf::NamedNodeRef::new_unchecked("https://data.example.org/grid/x");
    g.insert(oxrdf::TripleRef::new(
        s,
        oxrdf::NamedNodeRef::new_unchecked("https://saref.etsi.org/core/hasFluxCapacity"),
        s,
    ));
    g.insert(oxrdf::TripleRef::new(
        s,
        oxrdf::NamedNodeRef::new_unchecked(t::S_IS_MEASURED_IN),
        oxrdf::NamedNodeRef::new_unchecked("http://qudt.org/vocab/unit/KiloW-HR"),
    ));
    let problems = check(&index, &g, &[]);
    assert!(
        problems
            .iter()
            .any(|p| p.contains("hasFluxCapacity> is not a declared property"))
    );
    assert!(
        problems
            .iter()
            .any(|p| p.contains("subject is not a <https://saref.etsi.org/core/Measurement>"))
    );
    assert!(
        problems
            .iter()
            .any(|p| p.contains("object is not a <https://saref.etsi.org/core/UnitOfMeasure>"))
    );
}

#[test]
fn every_unit_in_the_table_is_a_qudt_unit_that_is_not_deprecated() {
    let Some(reference) = reference() else { return };
    let text = std::fs::read_to_string(reference.join("ontologies/qudt/VOCAB_QUDT-UNITS-ALL.ttl"))
        .unwrap();
    let mut deprecated = HashSet::new();
    let mut units = HashSet::new();
    for triple in oxttl::TurtleParser::new().for_slice(text.as_bytes()) {
        let triple = triple.unwrap();
        let s = triple.subject.to_string();
        if triple.predicate.as_str() == t::RDF_TYPE {
            units.insert(s.clone());
        }
        if triple.predicate.as_str() == "http://qudt.org/schema/qudt/deprecated"
            && triple.object.to_string().starts_with("\"true\"")
        {
            deprecated.insert(s);
        }
    }
    for (_, _, local) in vocab::units_table() {
        let iri = format!("<{}{local}>", vocab::UNIT);
        assert!(units.contains(&iri), "{iri} not in QUDT");
        assert!(!deprecated.contains(&iri), "{iri} is deprecated");
    }
}
