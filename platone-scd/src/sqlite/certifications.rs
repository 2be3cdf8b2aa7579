//! Certification references in the embedded store: attaching them, reading them back, and
//! moving a database of the first layout (the whole proof per measurement) to the current one.
//! The layout is described in [`crate::certification`].

use std::collections::HashMap;

use platone_model::format_timestamp;
use rusqlite::{Connection, OptionalExtension, Row, TransactionBehavior, params};

use crate::certification::{EncodedBatch, SharedFields, StoredCertification, parse_shared};
use crate::error::{Result, ScdError, SqliteContext};
use crate::records::CertificationRef;
use crate::row::to_ns;

/// Copies the first layout's rows (renamed aside by [`open_schema`]) into the current tables,
/// each old proof kept whole, and drops them.
const COPY_FIRST_LAYOUT: &str = "
INSERT INTO certified_batches (batch_id, root_hex, shared)
    SELECT DISTINCT batch_id, root_hex, '{}' FROM certifications_first_layout;
INSERT INTO certifications (series_id, ts_ns, batch, leaf_index, proof, merged)
    SELECT c.series_id, c.ts_ns, b.id, c.leaf_index, c.proof, 0
    FROM certifications_first_layout c
    JOIN certified_batches b ON b.batch_id = c.batch_id AND b.root_hex = c.root_hex;
DROP TABLE certifications_first_layout;
";

/// Creates the tables that are missing, in one transaction; a database written with the
/// first certification layout (the whole proof per measurement) is moved to the current one.
pub(crate) fn open_schema(conn: &mut Connection, schema: &str) -> Result<()> {
    let first_layout: bool = conn
        .query_row(
            "SELECT count(*) > 0 FROM pragma_table_info('certifications') WHERE name = 'root_hex'",
            [],
            |r| r.get(0),
        )
        .ctx("inspecting the certification table")?;
    let tx = conn
        .transaction_with_behavior(TransactionBehavior::Immediate)
        .ctx("beginning the schema creation")?;
    if first_layout {
        tx.execute_batch("ALTER TABLE certifications RENAME TO certifications_first_layout")
            .ctx("setting the first certification layout aside")?;
    }
    tx.execute_batch(schema).ctx("creating the schema")?;
    if first_layout {
        tx.execute_batch(COPY_FIRST_LAYOUT)
            .ctx("moving certifications to the current layout")?;
    }
    tx.commit().ctx("committing the schema")
}

/// Attaches certification references (encoded by [`crate::certification::encode`]) in one
/// transaction. A reference attached before is accepted again when identical and refused as
/// a [`ScdError::Conflict`] otherwise; a reference to a measurement that is not stored is
/// [`ScdError::NotFound`]. `series` maps the series keys the writer knows to their ids.
pub(crate) fn attach(
    conn: &mut Connection,
    batches: &[EncodedBatch],
    series: &HashMap<String, i64>,
) -> Result<()> {
    let tx = conn
        .transaction_with_behavior(TransactionBehavior::Immediate)
        .ctx("beginning the certification insert")?;
    {
        let mut find_series = tx
            .prepare_cached("SELECT id FROM series WHERE key = ?1")
            .ctx("preparing the series lookup")?;
        let mut find_measurement = tx
            .prepare_cached("SELECT 1 FROM measurements WHERE series_id = ?1 AND ts_ns = ?2")
            .ctx("preparing the measurement lookup")?;
        let mut find_batch = tx
            .prepare_cached(
                "SELECT id, shared FROM certified_batches WHERE batch_id = ?1 AND root_hex = ?2",
            )
            .ctx("preparing the batch lookup")?;
        let mut put_batch = tx
            .prepare_cached(
                "INSERT INTO certified_batches (batch_id, root_hex, shared) VALUES (?1, ?2, ?3)",
            )
            .ctx("preparing the batch insert")?;
        let mut put = tx
            .prepare_cached(
                "INSERT INTO certifications (series_id, ts_ns, batch, leaf_index, proof, merged) \
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6) ON CONFLICT DO NOTHING",
            )
            .ctx("preparing the certification insert")?;
        let mut get = tx
            .prepare_cached(
                "SELECT b.batch_id, c.leaf_index, b.root_hex, c.proof, c.merged, b.shared \
                 FROM certifications c JOIN certified_batches b ON b.id = c.batch \
                 WHERE c.series_id = ?1 AND c.ts_ns = ?2",
            )
            .ctx("preparing the certification lookup")?;
        for batch in batches {
            let found = find_batch
                .query_row(params![batch.batch_id, batch.root_hex], |r| {
                    Ok((r.get::<_, i64>(0)?, r.get::<_, String>(1)?))
                })
                .optional()
                .ctx(&format!("looking up batch {}", batch.batch_id))?;
            let (batch_row, stored_shared) = match found {
                Some((id, text)) if text == batch.shared_text => (id, None),
                Some((id, text)) => (id, Some(parse_shared(&batch.batch_id, &text)?)),
                None => {
                    put_batch
                        .execute(params![batch.batch_id, batch.root_hex, batch.shared_text])
                        .ctx(&format!("storing batch {}", batch.batch_id))?;
                    (tx.last_insert_rowid(), None)
                }
            };
            for rec in &batch.records {
                let ts = to_ns(&rec.timestamp, || rec.name())?;
                let id = match series.get(&rec.series) {
                    Some(id) => Some(*id),
                    None => find_series
                        .query_row(params![rec.series], |r| r.get(0))
                        .optional()
                        .ctx("looking up a series")?,
                };
                let stored = match id {
                    Some(id) => find_measurement
                        .exists(params![id, ts])
                        .ctx("looking up a measurement")?,
                    None => false,
                };
                let (Some(id), true) = (id, stored) else {
                    return Err(ScdError::NotFound {
                        record: format!(
                            "measurement {}@{}",
                            rec.series,
                            format_timestamp(&rec.timestamp)
                        ),
                    });
                };
                let (part, merged) = rec.stored_as(batch, stored_shared.as_ref())?;
                let n = put
                    .execute(params![id, ts, batch_row, rec.leaf_index, part, merged])
                    .ctx_with(|| format!("storing the {}", rec.name()))?;
                if n == 0 {
                    let (existing, shared_text) = get
                        .query_row(params![id, ts], |r| {
                            Ok((stored_certification(r, 0)?, r.get::<_, String>(5)?))
                        })
                        .ctx_with(|| format!("reading the {}", rec.name()))?;
                    let batch_id = existing.batch_id.clone();
                    let existing = existing.rebuild(|| parse_shared(&batch_id, &shared_text))?;
                    if existing != rec.reference(batch)? {
                        return Err(ScdError::Conflict { record: rec.name() });
                    }
                }
            }
        }
    }
    tx.commit().ctx("committing certifications")?;
    Ok(())
}

/// The certification columns of a row, starting at column `at`: batch identifier, leaf index,
/// root, stored part, merged.
fn stored_certification(r: &Row<'_>, at: usize) -> rusqlite::Result<StoredCertification> {
    Ok(StoredCertification {
        batch_id: r.get(at)?,
        leaf_index: r.get(at + 1)?,
        root_hex: r.get(at + 2)?,
        part: r.get(at + 3)?,
        merged: r.get(at + 4)?,
    })
}

/// The certification of a measurement row of [`crate::sql::SELECT_MEASUREMENTS`] (columns 20
/// to 26), if it has one.
pub(crate) fn certification_of(
    r: &Row<'_>,
    shared: &mut SharedFields,
) -> Result<Option<CertificationRef>> {
    let batch: Option<i64> = r.get(25).ctx("reading a certification")?;
    let Some(batch) = batch else {
        return Ok(None);
    };
    let stored = stored_certification(r, 20).ctx("reading a certification")?;
    let batch_id = stored.batch_id.clone();
    stored
        .rebuild(|| {
            shared.get(batch, &batch_id, || {
                r.get(26).ctx("reading a certification's batch")
            })
        })
        .map(Some)
}

/// Deletes the certifications of measurements before `cutoff`, and the batches left without
/// any.
pub(crate) fn delete_before(conn: &Connection, cutoff: i64) -> Result<()> {
    conn.execute("DELETE FROM certifications WHERE ts_ns < ?1", [cutoff])
        .ctx("deleting archived certifications")?;
    conn.execute(
        "DELETE FROM certified_batches WHERE id NOT IN (SELECT batch FROM certifications)",
        [],
    )
    .ctx("deleting archived certification batches")?;
    Ok(())
}
