//! How certification references are stored, by both backends.
//!
//! A certifier gives every measurement of a batch a proof object whose fields are mostly the
//! batch's (certificate, root, scheme, leaf count, anchor); only the leaf, its index and its
//! Merkle path differ from one record to the next. Storing the whole object per measurement
//! multiplies the store's size (a 180-leaf proof is about 1 KB, the measurement itself tens of
//! bytes), so the tables split it:
//!
//! - `certified_batches` holds one row per batch (identifier and root) with the **shared**
//!   fields: the top-level fields that every record of the first group attached for that
//!   batch had, with the same value;
//! - `certifications` holds, per measurement, the batch row, the leaf index and the **part**:
//!   the record's fields that are not the shared ones with the shared value. A proof that lacks
//!   a shared field, or is not an object, is kept whole (`merged = false`).
//!
//! Reading merges the shared fields under the part, which gives back exactly the proof that was
//! attached: the split loses nothing, whatever the proof's shape.

use std::borrow::Cow;
use std::collections::HashMap;

use platone_model::{Timestamp, format_timestamp};
use serde::ser::{Serialize, SerializeMap, Serializer};
use serde_json::{Map, Value};

use crate::error::{Result, ScdError};
use crate::records::{CertificationRecord, CertificationRef};

/// The records of one attach call that belong to one batch (same identifier and root), in
/// their order.
struct BatchGroup<'a> {
    batch_id: &'a str,
    root_hex: &'a str,
    records: Vec<&'a CertificationRecord>,
}

impl BatchGroup<'_> {
    /// The fields every proof of the group has with the same value (none for a group of one,
    /// whose fields say nothing about the others').
    fn shared_fields(&self) -> Map<String, Value> {
        let mut proofs = self.records.iter().map(|r| &r.certification.proof);
        let (Some(Value::Object(first)), true) = (proofs.next(), self.records.len() > 1) else {
            return Map::new();
        };
        let mut shared = first.clone();
        for proof in proofs {
            let Value::Object(fields) = proof else {
                return Map::new();
            };
            shared.retain(|key, value| fields.get(key) == Some(value));
        }
        shared
    }
}

/// Groups `records` by batch (identifier and root), in the order batches first appear.
fn group_by_batch(records: &[CertificationRecord]) -> Vec<BatchGroup<'_>> {
    let mut groups: Vec<BatchGroup<'_>> = Vec::new();
    let mut index: HashMap<(&str, &str), usize> = HashMap::new();
    for record in records {
        let c = &record.certification;
        let key = (c.batch_id.as_str(), c.root_hex.as_str());
        let at = *index.entry(key).or_insert_with(|| {
            groups.push(BatchGroup {
                batch_id: key.0,
                root_hex: key.1,
                records: Vec::new(),
            });
            groups.len() - 1
        });
        if let Some(group) = groups.get_mut(at) {
            group.records.push(record);
        }
    }
    groups
}

/// The references of one batch, ready for the tables: split against the fields the batch's
/// records share in this call.
pub(crate) struct EncodedBatch {
    pub batch_id: String,
    pub root_hex: String,
    /// The fields the records share.
    pub shared: Map<String, Value>,
    /// `shared` as JSON text.
    pub shared_text: String,
    pub records: Vec<EncodedReference>,
}

/// One measurement's reference, split against its [`EncodedBatch::shared`] fields.
pub(crate) struct EncodedReference {
    /// The measurement's series key text.
    pub series: String,
    pub timestamp: Timestamp,
    pub leaf_index: i64,
    /// The part of the proof that is not shared, as JSON text.
    pub part: String,
    pub merged: bool,
}

impl EncodedReference {
    /// What the error messages call this reference.
    pub fn name(&self) -> String {
        format!(
            "certification of measurement {}@{}",
            self.series,
            format_timestamp(&self.timestamp)
        )
    }

    /// The reference as the caller gave it.
    pub fn reference(&self, batch: &EncodedBatch) -> Result<CertificationRef> {
        StoredCertification {
            batch_id: batch.batch_id.clone(),
            leaf_index: self.leaf_index,
            root_hex: batch.root_hex.clone(),
            part: self.part.clone(),
            merged: self.merged,
        }
        .rebuild(|| Ok(batch.shared.clone()))
    }

    /// The part and merge flag to store: as encoded when the batch row shares this call's
    /// fields, split again against `stored_shared` when a batch row stored earlier shares
    /// others.
    pub fn stored_as(
        &self,
        batch: &EncodedBatch,
        stored_shared: Option<&Map<String, Value>>,
    ) -> Result<(Cow<'_, str>, bool)> {
        match stored_shared {
            None => Ok((Cow::Borrowed(&self.part), self.merged)),
            Some(shared) => {
                let (part, merged) = stored_part(&self.reference(batch)?.proof, shared)?;
                Ok((Cow::Owned(part), merged))
            }
        }
    }
}

/// Groups references by batch and splits each against its batch's shared fields.
pub(crate) fn encode(records: &[CertificationRecord]) -> Result<Vec<EncodedBatch>> {
    group_by_batch(records)
        .into_iter()
        .map(|group| {
            let shared = group.shared_fields();
            let records = group
                .records
                .iter()
                .map(|r| {
                    let (part, merged) = stored_part(&r.certification.proof, &shared)?;
                    let leaf_index = i64::try_from(r.certification.leaf_index).map_err(|e| {
                        ScdError::InvalidRecord {
                            record: format!("certification of measurement {}", r.series),
                            reason: e.to_string(),
                        }
                    })?;
                    Ok(EncodedReference {
                        series: r.series.clone(),
                        timestamp: r.timestamp,
                        leaf_index,
                        part,
                        merged,
                    })
                })
                .collect::<Result<Vec<_>>>()?;
            Ok(EncodedBatch {
                batch_id: group.batch_id.to_owned(),
                root_hex: group.root_hex.to_owned(),
                shared_text: json_text(&shared)?,
                shared,
                records,
            })
        })
        .collect()
}

/// The fields of a proof object that are not `shared` with the same value, serialised
/// without copying them.
struct Part<'a> {
    fields: &'a Map<String, Value>,
    shared: &'a Map<String, Value>,
}

impl Serialize for Part<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> std::result::Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(None)?;
        for (key, value) in self.fields {
            if self.shared.get(key) != Some(value) {
                map.serialize_entry(key, value)?;
            }
        }
        map.end()
    }
}

fn json_text(value: &impl Serialize) -> Result<String> {
    serde_json::to_string(value).map_err(|e| ScdError::InvalidRecord {
        record: "certification proof".into(),
        reason: e.to_string(),
    })
}

/// What `certifications` keeps of `proof` given its batch's shared fields: the part's JSON
/// text and whether reading must merge the shared fields under it.
fn stored_part(proof: &Value, shared: &Map<String, Value>) -> Result<(String, bool)> {
    match proof {
        Value::Object(fields) if shared.keys().all(|k| fields.contains_key(k)) => {
            Ok((json_text(&Part { fields, shared })?, true))
        }
        whole => Ok((json_text(whole)?, false)),
    }
}

/// The columns a certification is read back from.
pub(crate) struct StoredCertification {
    pub batch_id: String,
    pub leaf_index: i64,
    pub root_hex: String,
    pub part: String,
    pub merged: bool,
}

impl StoredCertification {
    /// The reference as it was attached; `shared` gives the batch's shared fields (parsed once
    /// per batch by the caller's cache).
    pub fn rebuild(
        self,
        shared: impl FnOnce() -> Result<Map<String, Value>>,
    ) -> Result<CertificationRef> {
        let part: Value = serde_json::from_str(&self.part)
            .map_err(|e| corrupt(format!("certification proof of batch {}", self.batch_id), e))?;
        let proof = match (self.merged, part) {
            (true, Value::Object(part)) => {
                let mut proof = shared()?;
                proof.extend(part);
                Value::Object(proof)
            }
            (true, _) => {
                return Err(corrupt(
                    format!("certification proof of batch {}", self.batch_id),
                    "a merged part is not a JSON object",
                ));
            }
            (false, whole) => whole,
        };
        Ok(CertificationRef {
            leaf_index: u64::try_from(self.leaf_index)
                .map_err(|e| corrupt(format!("certification of batch {}", self.batch_id), e))?,
            batch_id: self.batch_id,
            root_hex: self.root_hex,
            proof,
        })
    }
}

/// Parses a batch's shared fields.
pub(crate) fn parse_shared(batch_id: &str, text: &str) -> Result<Map<String, Value>> {
    serde_json::from_str(text)
        .map_err(|e| corrupt(format!("shared proof fields of batch {batch_id}"), e))
}

/// Caches the parsed shared fields of the batches a read meets, by batch row id.
#[derive(Default)]
pub(crate) struct SharedFields(HashMap<i64, Map<String, Value>>);

impl SharedFields {
    /// The shared fields of batch row `id`; `text` is called only the first time.
    pub fn get(
        &mut self,
        id: i64,
        batch_id: &str,
        text: impl FnOnce() -> Result<String>,
    ) -> Result<Map<String, Value>> {
        if let Some(fields) = self.0.get(&id) {
            return Ok(fields.clone());
        }
        let fields = parse_shared(batch_id, &text()?)?;
        self.0.insert(id, fields.clone());
        Ok(fields)
    }
}

fn corrupt(record: String, e: impl std::fmt::Display) -> ScdError {
    ScdError::Corrupt {
        record,
        reason: e.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn record(batch: &str, root: &str, proof: Value) -> CertificationRecord {
        CertificationRecord {
            series: "s".into(),
            timestamp: platone_model::parse_timestamp("2024-01-01T00:00:00Z").unwrap(),
            certification: CertificationRef {
                batch_id: batch.into(),
                leaf_index: 0,
                root_hex: root.into(),
                proof,
            },
        }
    }

    fn round_trip(shared: &Map<String, Value>, proof: &Value) -> Value {
        let (part, merged) = stored_part(proof, shared).unwrap();
        let stored = StoredCertification {
            batch_id: "b".into(),
            leaf_index: 0,
            root_hex: "r".into(),
            part,
            merged,
        };
        stored.rebuild(|| Ok(shared.clone())).unwrap().proof
    }

    #[test]
    fn shared_fields_are_those_every_proof_has_alike() {
        let records = vec![
            record(
                "b",
                "r",
                json!({"root": "r", "leaf": "1", "anchor": {"p": 1}}),
            ),
            record(
                "b",
                "r",
                json!({"root": "r", "leaf": "2", "anchor": {"p": 1}}),
            ),
            record(
                "b",
                "r",
                json!({"root": "r", "leaf": "3", "anchor": {"p": 1}, "x": 1}),
            ),
        ];
        let groups = group_by_batch(&records);
        assert_eq!(groups.len(), 1);
        let shared = groups[0].shared_fields();
        assert_eq!(
            Value::Object(shared.clone()),
            json!({"root": "r", "anchor": {"p": 1}})
        );
        let (part, merged) = stored_part(&records[2].certification.proof, &shared).unwrap();
        assert!(merged);
        assert_eq!(
            serde_json::from_str::<Value>(&part).unwrap(),
            json!({"leaf": "3", "x": 1})
        );
    }

    #[test]
    fn a_single_record_shares_nothing() {
        let records = vec![record("b", "r", json!({"root": "r"}))];
        assert!(group_by_batch(&records)[0].shared_fields().is_empty());
    }

    #[test]
    fn batches_group_by_identifier_and_root_in_first_seen_order() {
        let records = vec![
            record("b2", "r", json!({})),
            record("b1", "r", json!({})),
            record("b2", "r", json!({})),
            record("b2", "other", json!({})),
        ];
        let groups: Vec<(&str, &str, usize)> = group_by_batch(&records)
            .iter()
            .map(|g| (g.batch_id, g.root_hex, g.records.len()))
            .collect();
        assert_eq!(
            groups,
            vec![("b2", "r", 2), ("b1", "r", 1), ("b2", "other", 1)]
        );
    }

    #[test]
    fn every_shape_of_proof_comes_back_exactly() {
        let shared: Map<String, Value> =
            serde_json::from_value(json!({"root": "r", "n": 3})).unwrap();
        for proof in [
            json!({"root": "r", "n": 3, "leaf": "x"}),
            json!({"root": "other", "n": 3}),
            json!({"n": 3}),
            json!({}),
            json!(["not", "an", "object"]),
            json!(null),
            json!("text"),
        ] {
            assert_eq!(round_trip(&shared, &proof), proof, "{proof}");
        }
    }
}
