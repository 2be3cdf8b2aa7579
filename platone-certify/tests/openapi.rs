//! The OpenAPI schemas of the certification records (feature `openapi`) name every schema they
//! reference, and the JSON of real proofs and certificates has the members they require.
#![cfg(feature = "openapi")]

use std::collections::BTreeMap;

use platone_certify::{AnchorStatus, BatchCertificate, Proof};
use serde_json::Value;
use utoipa::ToSchema;

/// The schema of `T` and every schema it names, as JSON.
fn document_of<T: ToSchema>() -> (Value, BTreeMap<String, Value>) {
    let mut named = Vec::new();
    T::schemas(&mut named);
    let named = named
        .into_iter()
        .map(|(name, schema)| (name, serde_json::to_value(schema).unwrap()))
        .collect();
    (serde_json::to_value(T::schema()).unwrap(), named)
}

/// Every `$ref` under `value`.
fn references(value: &Value, out: &mut Vec<String>) {
    match value {
        Value::Object(members) => {
            for (key, member) in members {
                match (key.as_str(), member) {
                    ("$ref", Value::String(target)) => out.push(target.clone()),
                    _ => references(member, out),
                }
            }
        }
        Value::Array(items) => items.iter().for_each(|item| references(item, out)),
        _ => {}
    }
}

fn assert_closed<T: ToSchema>() {
    let (schema, named) = document_of::<T>();
    let mut refs = Vec::new();
    references(&schema, &mut refs);
    named.values().for_each(|s| references(s, &mut refs));
    for target in refs {
        let name = target.trim_start_matches("#/components/schemas/");
        assert!(
            named.contains_key(name),
            "{} names {name}, not given",
            T::name()
        );
    }
}

#[test]
fn every_referenced_schema_is_given() {
    assert_closed::<Proof>();
    assert_closed::<AnchorStatus>();
    assert_closed::<BatchCertificate>();
}

#[test]
fn an_anchored_status_is_one_closed_object_with_its_status() {
    let (schema, _) = document_of::<AnchorStatus>();
    let variants = schema["oneOf"].as_array().unwrap();
    assert_eq!(variants.len(), 2);
    assert_eq!(variants[0]["properties"]["status"]["enum"][0], "pending");
    let anchored = &variants[1];
    assert_eq!(anchored["properties"]["status"]["enum"][0], "anchored");
    assert_eq!(anchored["additionalProperties"], false);
    let required: Vec<&str> = anchored["required"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect();
    assert_eq!(required, ["status", "ledger", "entry", "position", "time"]);
}

#[test]
fn a_proof_requires_each_member_it_always_carries() {
    let (schema, named) = document_of::<Proof>();
    let required = schema["required"].as_array().unwrap();
    for member in [
        "format",
        "batch_id",
        "scheme",
        "leaf_index",
        "leaf_count",
        "leaf",
        "siblings",
        "root",
        "certificate",
        "anchor",
    ] {
        assert!(required.contains(&Value::from(member)), "{member}");
    }
    assert_eq!(schema["additionalProperties"], false);
    assert_eq!(named["Digest"]["pattern"], "^0x[0-9a-f]{64}$");
    assert_eq!(
        named["Scheme"]["enum"],
        serde_json::json!(["sha256", "keccak"])
    );
}
