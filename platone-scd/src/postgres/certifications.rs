//! Certification references in the PostgreSQL store: attaching them, reading them back, and
//! moving a database of the first layout (the whole proof per measurement) to the current one.
//! The layout is described in [`crate::certification`].

use platone_model::format_timestamp;
use tokio_postgres::{GenericClient, Row, Transaction};

use crate::certification::{SharedFields, StoredCertification, encode, parse_shared};
use crate::error::{PgContext, Result, ScdError};
use crate::records::{CertificationRecord, CertificationRef};
use crate::row::to_ns;

use super::ops::g;

/// Copies the first layout's rows (renamed aside by [`create_schema`]) into the current
/// tables, each old proof kept whole, and drops them.
const COPY_FIRST_LAYOUT: &str = "
INSERT INTO certified_batches (batch_id, root_hex, shared)
    SELECT DISTINCT batch_id, root_hex, '{}' FROM certifications_first_layout;
INSERT INTO certifications (series_id, ts_ns, batch, leaf_index, proof, merged)
    SELECT c.series_id, c.ts_ns, b.id, c.leaf_index, c.proof, false
    FROM certifications_first_layout c
    JOIN certified_batches b ON b.batch_id = c.batch_id AND b.root_hex = c.root_hex;
DROP TABLE certifications_first_layout;
";

/// Creates the tables that are missing within `tx`; a database written with the first
/// certification layout (the whole proof per measurement) is moved to the current one.
pub(crate) async fn create_schema(tx: &Transaction<'_>, schema: &str) -> Result<()> {
    let first_layout = tx
        .query_opt(
            "SELECT 1 FROM information_schema.columns WHERE table_schema = current_schema() \
             AND table_name = 'certifications' AND column_name = 'root_hex'",
            &[],
        )
        .await
        .pg("inspecting the certification table")?
        .is_some();
    if first_layout {
        tx.batch_execute(
            "ALTER TABLE certifications RENAME TO certifications_first_layout; \
             ALTER INDEX IF EXISTS certifications_time RENAME TO certifications_first_layout_time",
        )
        .await
        .pg("setting the first certification layout aside")?;
    }
    tx.batch_execute(schema).await.pg("creating the schema")?;
    if first_layout {
        tx.batch_execute(COPY_FIRST_LAYOUT)
            .await
            .pg("moving certifications to the current layout")?;
    }
    Ok(())
}

/// Attaches certification references within `tx`. A reference attached before is accepted
/// again when identical and refused as a [`ScdError::Conflict`] otherwise; a reference to a
/// measurement that is not stored is [`ScdError::NotFound`].
pub(crate) async fn attach<C: GenericClient + Sync>(
    tx: &C,
    records: &[CertificationRecord],
) -> Result<()> {
    for batch in encode(records)? {
        let found = tx
            .query_opt(
                "SELECT id, shared FROM certified_batches WHERE batch_id = $1 AND root_hex = $2",
                &[&batch.batch_id, &batch.root_hex],
            )
            .await
            .pg(&format!("looking up batch {}", batch.batch_id))?;
        let (batch_row, stored_shared) = match found {
            Some(row) => {
                let text: String = g(&row, 1)?;
                let shared = (text != batch.shared_text)
                    .then(|| parse_shared(&batch.batch_id, &text))
                    .transpose()?;
                (g::<i64>(&row, 0)?, shared)
            }
            None => {
                let row = tx
                    .query_one(
                        "INSERT INTO certified_batches (batch_id, root_hex, shared) \
                         VALUES ($1, $2, $3) RETURNING id",
                        &[&batch.batch_id, &batch.root_hex, &batch.shared_text],
                    )
                    .await
                    .pg(&format!("storing batch {}", batch.batch_id))?;
                (g::<i64>(&row, 0)?, None)
            }
        };
        for rec in &batch.records {
            let ts = to_ns(&rec.timestamp, || rec.name())?;
            let found = tx
                .query_opt(
                    "SELECT s.id FROM series s JOIN measurements m ON m.series_id = s.id \
                     WHERE s.key = $1 AND m.ts_ns = $2",
                    &[&rec.series, &ts],
                )
                .await
                .pg("looking up a measurement")?;
            let Some(found) = found else {
                return Err(ScdError::NotFound {
                    record: format!(
                        "measurement {}@{}",
                        rec.series,
                        format_timestamp(&rec.timestamp)
                    ),
                });
            };
            let id: i64 = g(&found, 0)?;
            let (part, merged) = rec.stored_as(&batch, stored_shared.as_ref())?;
            let n = tx
                .execute(
                    "INSERT INTO certifications (series_id, ts_ns, batch, leaf_index, proof, merged) \
                     VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT DO NOTHING",
                    &[&id, &ts, &batch_row, &rec.leaf_index, &part.as_ref(), &merged],
                )
                .await
                .pg(&format!("storing the {}", rec.name()))?;
            if n == 0 {
                let r = tx
                    .query_one(
                        "SELECT b.batch_id, c.leaf_index, b.root_hex, c.proof, c.merged, b.shared \
                         FROM certifications c JOIN certified_batches b ON b.id = c.batch \
                         WHERE c.series_id = $1 AND c.ts_ns = $2",
                        &[&id, &ts],
                    )
                    .await
                    .pg(&format!("reading the {}", rec.name()))?;
                let existing = stored_certification(&r, 0)?;
                let batch_id = existing.batch_id.clone();
                let shared_text: String = g(&r, 5)?;
                let existing = existing.rebuild(|| parse_shared(&batch_id, &shared_text))?;
                if existing != rec.reference(&batch)? {
                    return Err(ScdError::Conflict { record: rec.name() });
                }
            }
        }
    }
    Ok(())
}

/// The certification columns of a row, starting at column `at`: batch identifier, leaf index,
/// root, stored part, merged.
fn stored_certification(r: &Row, at: usize) -> Result<StoredCertification> {
    Ok(StoredCertification {
        batch_id: g(r, at)?,
        leaf_index: g(r, at + 1)?,
        root_hex: g(r, at + 2)?,
        part: g(r, at + 3)?,
        merged: g(r, at + 4)?,
    })
}

/// The certification of a measurement row of [`crate::sql::SELECT_MEASUREMENTS`] (columns 20
/// to 26), if it has one.
pub(crate) fn certification_of(
    r: &Row,
    shared: &mut SharedFields,
) -> Result<Option<CertificationRef>> {
    let Some(batch) = g::<Option<i64>>(r, 25)? else {
        return Ok(None);
    };
    let stored = stored_certification(r, 20)?;
    let batch_id = stored.batch_id.clone();
    stored
        .rebuild(|| shared.get(batch, &batch_id, || g(r, 26)))
        .map(Some)
}

/// Deletes the certifications of measurements before `cutoff`, and the batches left without
/// any.
pub(crate) async fn delete_before<C: GenericClient + Sync>(tx: &C, cutoff: i64) -> Result<()> {
    tx.execute("DELETE FROM certifications WHERE ts_ns < $1", &[&cutoff])
        .await
        .pg("deleting archived certifications")?;
    tx.execute(
        "DELETE FROM certified_batches b WHERE NOT EXISTS \
         (SELECT 1 FROM certifications c WHERE c.batch = b.id)",
        &[],
    )
    .await
    .pg("deleting archived certification batches")?;
    Ok(())
}
