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

/// Every schema `T` names is among those it gives.
fn assert_closed<T: ToSchema>() {
    let (schema, named) = document_of::<T>();
    let text = serde_json::to_string(&(schema, &named)).unwrap();
    let prefix = "\"$ref\":\"#/components/schemas/";
    let mut seen = 0;
    for reference in text.split(prefix).skip(1) {
        let name = reference.split('"').next().unwrap();
        assert!(
            named.contains_key(name),
            "{} names {name}, not given",
            T::name()
        );
        seen += 1;
    }
    assert!(seen > 0, "{} names no schema", T::name());
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
