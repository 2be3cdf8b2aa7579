//! rdflib parses every output format (and finds the three graphs isomorphic); pySHACL validates
//! the output against the shipped shapes — and rejects a graph that breaks them.

mod common;

use std::path::Path;
use std::process::Command;

use common::*;
use platone_saref::{Format, MappingOptions, Pattern, SHAPES};

struct Check {
    isomorphic: bool,
    conforms: bool,
    report: String,
    triples: Vec<u64>,
}

fn run(python: &Path, dir: &Path, files: &[(Vec<u8>, Format)]) -> Check {
    let shapes = dir.join("shapes.ttl");
    std::fs::write(&shapes, SHAPES).unwrap();
    let vocab = dir.join("platone.ttl");
    std::fs::write(&vocab, platone_saref::vocab::VOCABULARY).unwrap();
    let reference = reference();
    let mut ontologies = vec![vocab.display().to_string()];
    if let Some(r) = &reference {
        for f in ["saref-core/saref-v3.1.1.ttl", "saref4grid/saref4grid.ttl"] {
            ontologies.push(r.join("ontologies").join(f).display().to_string());
        }
    }
    let mut args = vec![
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/peers/check_rdf.py")
            .display()
            .to_string(),
        shapes.display().to_string(),
        ontologies.join(","),
    ];
    for (i, (bytes, format)) in files.iter().enumerate() {
        let (ext, name) = match format {
            Format::Turtle => ("ttl", "turtle"),
            Format::NTriples => ("nt", "nt"),
            _ => ("jsonld", "json-ld"),
        };
        let path = dir.join(format!("out{i}.{ext}"));
        std::fs::write(&path, bytes).unwrap();
        args.push(format!("{}:{name}", path.display()));
    }
    let out = Command::new(python).args(&args).output().unwrap();
    assert!(
        out.status.success(),
        "check_rdf.py failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    Check {
        isomorphic: v["isomorphic"].as_bool().unwrap(),
        conforms: v["conforms"].as_bool().unwrap(),
        report: v["report"].as_str().unwrap_or("").to_string(),
        triples: v["files"]
            .as_array()
            .unwrap()
            .iter()
            .map(|f| f["triples"].as_u64().unwrap())
            .collect(),
    }
}

fn all_formats(options: &MappingOptions) -> Vec<(Vec<u8>, Format)> {
    let measurements = varied();
    FORMATS
        .iter()
        .map(|f| {
            (
                document(*f, options.clone(), &measurements, &[set_point()]),
                *f,
            )
        })
        .collect()
}

#[test]
fn rdflib_parses_all_formats_as_one_graph_and_pyshacl_accepts_it() {
    let Some(python) = python() else { return };
    let dir = tempfile::tempdir().unwrap();
    for pattern in [Pattern::Saref3Measurement, Pattern::Saref4Observation] {
        let options = MappingOptions {
            pattern,
            ..MappingOptions::default()
        };
        let check = run(&python, dir.path(), &all_formats(&options));
        assert!(check.isomorphic, "{pattern:?}: formats differ");
        assert!(check.triples[0] > 100, "{:?}", check.triples);
        assert!(check.conforms, "{pattern:?}: {}", check.report);
    }
}

#[test]
fn pyshacl_rejects_a_measurement_without_a_value() {
    let Some(python) = python() else { return };
    let dir = tempfile::tempdir().unwrap();
    let turtle = document(
        Format::Turtle,
        MappingOptions::default(),
        &[meter_reading()],
        &[],
    );
    let text = String::from_utf8(turtle).unwrap();
    let broken: String = text
        .lines()
        .filter(|l| !l.contains("saref:hasValue"))
        .collect::<Vec<_>>()
        .join("\n");
    assert_ne!(broken.len(), text.len());
    let check = run(
        &python,
        dir.path(),
        &[(broken.into_bytes(), Format::Turtle)],
    );
    assert!(!check.conforms);
    assert!(check.report.contains("hasValue"), "{}", check.report);
}

#[test]
fn outputs_from_the_cim_fixtures_and_pmu_samples_pass_rdflib_and_shacl() {
    let Some(python) = python() else { return };
    let Some(reference) = reference() else { return };
    let mut measurements = Vec::new();
    let fixtures =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../platone-cim/tests/fixtures/meter_readings");
    for entry in std::fs::read_dir(&fixtures).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|e| e == "xml") {
            let bytes = std::fs::read(&path).unwrap();
            let Ok(parsed) = platone_cim::meter_readings::parse_slice(
                &bytes,
                platone_cim::meter_readings::Mode::Lenient,
            ) else {
                continue;
            };
            measurements.extend(parsed.document.measurements().into_iter().flatten());
        }
    }
    let sogno =
        std::fs::read(reference.join("pmu/sogno/villasnode_sogno_format_example.json")).unwrap();
    let message: platone_cim::pmu::sogno::SognoMessage = serde_json::from_slice(&sogno).unwrap();
    measurements.extend(message.to_measurements().unwrap());
    assert!(measurements.len() > 20, "{}", measurements.len());
    let dir = tempfile::tempdir().unwrap();
    let files: Vec<_> = FORMATS
        .iter()
        .map(|f| {
            (
                document(*f, MappingOptions::default(), &measurements, &[]),
                *f,
            )
        })
        .collect();
    let check = run(&python, dir.path(), &files);
    assert!(check.isomorphic);
    assert!(check.conforms, "{}", check.report);
}
