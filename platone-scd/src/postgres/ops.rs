//! The PostgreSQL store's operations.

use std::collections::{BTreeSet, HashMap};

use futures::pin_mut;
use platone_model::{ParticipantId, PodId, Timestamp, format_timestamp, parse_timestamp};
use tokio_postgres::binary_copy::BinaryCopyInWriter;
use tokio_postgres::types::{FromSql, ToSql, Type};
use tokio_postgres::{GenericClient, Row, Transaction};

use crate::error::{PgContext, Result, ScdError};
use crate::period::Periods;
use crate::policy::Decision;
use crate::query::{MeasurementQuery, Page, PageToken, StoredMeasurement};
use crate::records::{AuditEntry, PodLink, PodRecord, Principal};
use crate::row::{
    DAY_NS, EncodedMeasurement, SeriesTemplate, StoredSeries, ValueColumns, base_value, from_ns,
};
use crate::sql::{COUNT_MEASUREMENTS, Param, SELECT_MEASUREMENTS, measurement_filter};
use crate::store::{Conflict, InsertReport};

use super::certifications;
use super::schema::{DDL_LOCK, partition_name};
use crate::certification::SharedFields;

pub(crate) fn corrupt(record: &str, e: impl std::fmt::Display) -> ScdError {
    ScdError::Corrupt {
        record: record.into(),
        reason: e.to_string(),
    }
}

pub(crate) fn g<'a, T: FromSql<'a>>(r: &'a Row, i: usize) -> Result<T> {
    r.try_get(i).pg("reading a column")
}

/// The parameters with their types, for `query_typed` (one round trip: no separate prepare).
fn typed(params: &[Param]) -> Vec<(&(dyn ToSql + Sync), Type)> {
    params
        .iter()
        .map(|p| match p {
            Param::Int(i) => (i as &(dyn ToSql + Sync), Type::INT8),
            Param::Text(t) => (t as &(dyn ToSql + Sync), Type::TEXT),
        })
        .collect()
}

/// Creates the partitions for `days` that do not exist yet (one short transaction, serialised
/// by an advisory lock).
pub(crate) async fn ensure_partitions(
    client: &mut tokio_postgres::Client,
    days: &BTreeSet<i64>,
) -> Result<()> {
    let tx = client
        .transaction()
        .await
        .pg("beginning partition creation")?;
    tx.execute("SELECT pg_advisory_xact_lock($1)", &[&DDL_LOCK])
        .await
        .pg("locking for partition creation")?;
    for day in days {
        let from = day.saturating_mul(DAY_NS);
        let to = (day + 1).saturating_mul(DAY_NS);
        tx.batch_execute(&format!(
            "CREATE TABLE IF NOT EXISTS {} PARTITION OF measurements FOR VALUES FROM ({from}) TO ({to})",
            partition_name(*day)
        ))
        .await
        .pg(&format!("creating partition {}", partition_name(*day)))?;
    }
    tx.commit().await.pg("committing partition creation")
}

/// The column types of a measurement row, in table order.
const ROW_TYPES: [Type; 8] = [
    Type::INT8,
    Type::INT8,
    Type::INT4,
    Type::TEXT,
    Type::TEXT,
    Type::FLOAT8,
    Type::INT2,
    Type::INT4,
];

/// Sends `rows` (batch positions with their series ids) with one binary `COPY` statement.
async fn copy_rows(
    tx: &Transaction<'_>,
    statement: &str,
    batch: &[EncodedMeasurement],
    rows: &[(usize, i64)],
) -> Result<()> {
    let sink = tx.copy_in(statement).await.pg("starting COPY")?;
    let writer = BinaryCopyInWriter::new(sink, &ROW_TYPES);
    pin_mut!(writer);
    for &(i, id) in rows {
        let v = &batch[i].values;
        writer
            .as_mut()
            .write(&[
                &id,
                &v.ts_ns,
                &v.offset_s,
                &v.pod,
                &v.usage_point,
                &v.value,
                &v.multiplier,
                &v.quality,
            ])
            .await
            .pg_with(|| format!("copying measurement {i}"))?;
    }
    writer.finish().await.pg("finishing COPY")?;
    Ok(())
}

/// Inserts a batch in the given transaction with binary `COPY`.
///
/// Rows of a series this transaction creates cannot meet a stored row (their series id is
/// new), so they are copied straight into `measurements`: a first import costs one `COPY`.
/// The other rows go through a session staging table and one `INSERT … ON CONFLICT DO
/// NOTHING`, and those not inserted are compared with the stored ones (duplicate or
/// conflict). Returns the report and the series ids learnt.
pub(crate) async fn insert(
    tx: &Transaction<'_>,
    batch: &[EncodedMeasurement],
    cache: &HashMap<String, i64>,
) -> Result<(InsertReport, HashMap<String, i64>)> {
    let mut report = InsertReport::default();
    // Repeats inside the batch are decided against the batch's first occurrence.
    let mut firsts: Vec<usize> = Vec::with_capacity(batch.len());
    let mut seen: HashMap<(&str, i64), usize> = HashMap::with_capacity(batch.len());
    for (i, e) in batch.iter().enumerate() {
        match seen.get(&(e.series.key.as_str(), e.values.ts_ns)) {
            None => {
                seen.insert((e.series.key.as_str(), e.values.ts_ns), i);
                firsts.push(i);
            }
            Some(&first) => {
                let f = &batch[first].values;
                let stored = base_value(f.value, f.multiplier);
                let offered = base_value(e.values.value, e.values.multiplier);
                if stored == offered {
                    report.duplicates += 1;
                } else {
                    report.conflicts.push(Conflict {
                        index: i,
                        series: e.series.key.clone(),
                        timestamp: from_ns(e.values.ts_ns, e.values.offset_s)?,
                        stored,
                        offered,
                    });
                }
            }
        }
    }
    drop(seen);
    // Series ids; `created` are those this transaction adds.
    let mut missing: Vec<&EncodedMeasurement> = Vec::new();
    let mut missing_keys: BTreeSet<&str> = BTreeSet::new();
    for &i in &firsts {
        let e = &batch[i];
        if !cache.contains_key(&e.series.key) && missing_keys.insert(e.series.key.as_str()) {
            missing.push(e);
        }
    }
    let mut new_series = HashMap::new();
    let mut created: std::collections::HashSet<i64> = std::collections::HashSet::new();
    if !missing.is_empty() {
        let col = |f: fn(&EncodedMeasurement) -> Option<String>| -> Vec<Option<String>> {
            missing.iter().map(|e| f(e)).collect()
        };
        let keys: Vec<String> = missing.iter().map(|e| e.series.key.clone()).collect();
        let sources = col(|e| Some(e.series.source.clone()));
        let meters = col(|e| e.series.meter.clone());
        let components = col(|e| e.series.component.clone());
        let channels = col(|e| e.series.channel.clone());
        let kinds = col(|e| Some(e.series.kind.to_owned()));
        let units = col(|e| Some(e.series.unit.to_owned()));
        let phases = col(|e| Some(e.series.phases.clone()));
        let directions = col(|e| Some(e.series.direction.to_owned()));
        let accumulations = col(|e| Some(e.series.accumulation.to_owned()));
        let intervals: Vec<Option<i64>> = missing.iter().map(|e| e.series.interval).collect();
        let aggregates = col(|e| Some(e.series.aggregate.to_owned()));
        for row in tx
            .query(
                "INSERT INTO series (key, source, meter, component, channel, kind, unit, phases, \
                 direction, accumulation, interval_s, aggregate) \
                 SELECT * FROM UNNEST($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], \
                 $6::text[], $7::text[], $8::text[], $9::text[], $10::text[], $11::bigint[], $12::text[]) \
                 ON CONFLICT (key) DO NOTHING RETURNING id, key",
                &[
                    &keys,
                    &sources,
                    &meters,
                    &components,
                    &channels,
                    &kinds,
                    &units,
                    &phases,
                    &directions,
                    &accumulations,
                    &intervals,
                    &aggregates,
                ],
            )
            .await
            .pg("storing new series")?
        {
            let id = g::<i64>(&row, 0)?;
            created.insert(id);
            new_series.insert(g::<String>(&row, 1)?, id);
        }
        // Series stored before (by another process, or before this store was connected).
        let known: Vec<&String> = keys
            .iter()
            .filter(|k| !new_series.contains_key(*k))
            .collect();
        if !known.is_empty() {
            for row in tx
                .query("SELECT id, key FROM series WHERE key = ANY($1)", &[&known])
                .await
                .pg("looking up series ids")?
            {
                new_series.insert(g::<String>(&row, 1)?, g::<i64>(&row, 0)?);
            }
        }
    }
    let series_id = |key: &str| -> Result<i64> {
        cache
            .get(key)
            .or_else(|| new_series.get(key))
            .copied()
            .ok_or_else(|| ScdError::NotFound {
                record: format!("series {key}"),
            })
    };
    let mut direct: Vec<(usize, i64)> = Vec::new();
    let mut staged: Vec<(usize, i64)> = Vec::new();
    let mut previous: Option<(&std::sync::Arc<crate::row::SeriesColumns>, i64)> = None;
    for &i in &firsts {
        let e = &batch[i];
        let id = match previous {
            Some((p, id)) if std::sync::Arc::ptr_eq(p, &e.series) => id,
            _ => series_id(&e.series.key)?,
        };
        previous = Some((&e.series, id));
        if created.contains(&id) {
            direct.push((i, id));
        } else {
            staged.push((i, id));
        }
    }
    let mut inserted = 0;
    if !direct.is_empty() {
        copy_rows(
            tx,
            "COPY measurements (series_id, ts_ns, offset_s, pod, usage_point, value, \
             multiplier, quality) FROM STDIN (FORMAT binary)",
            batch,
            &direct,
        )
        .await?;
        inserted += direct.len() as u64;
    }
    if staged.is_empty() {
        report.inserted = inserted;
        return Ok((report, new_series));
    }
    tx.batch_execute(
        "CREATE TEMP TABLE IF NOT EXISTS scd_staging (series_id BIGINT, ts_ns BIGINT, \
         offset_s INTEGER, pod TEXT, usage_point TEXT, value DOUBLE PRECISION, \
         multiplier SMALLINT, quality INTEGER) ON COMMIT DELETE ROWS",
    )
    .await
    .pg("creating the staging table")?;
    copy_rows(
        tx,
        "COPY scd_staging FROM STDIN (FORMAT binary)",
        batch,
        &staged,
    )
    .await?;
    let moved = tx
        .execute(
            "INSERT INTO measurements SELECT * FROM scd_staging ON CONFLICT DO NOTHING",
            &[],
        )
        .await
        .pg("moving staged measurements")?;
    // Everything new: nothing to compare.
    let differing = if moved == staged.len() as u64 {
        Vec::new()
    } else {
        tx.query(
            "SELECT st.series_id, st.ts_ns, st.value, st.multiplier, m.value, m.multiplier \
             FROM scd_staging st JOIN measurements m \
             ON m.series_id = st.series_id AND m.ts_ns = st.ts_ns \
             WHERE st.value <> m.value OR st.multiplier <> m.multiplier",
            &[],
        )
        .await
        .pg("comparing with stored measurements")?
    };
    let mut not_inserted = staged.len() as u64 - moved;
    if !differing.is_empty() {
        let index: HashMap<(i64, i64), usize> = staged
            .iter()
            .map(|&(i, id)| ((id, batch[i].values.ts_ns), i))
            .collect();
        for row in differing {
            let stored = base_value(g(&row, 4)?, g(&row, 5)?);
            let offered = base_value(g(&row, 2)?, g(&row, 3)?);
            if stored != offered {
                let key = (g::<i64>(&row, 0)?, g::<i64>(&row, 1)?);
                let i = index.get(&key).copied().unwrap_or(0);
                let e = &batch[i];
                report.conflicts.push(Conflict {
                    index: i,
                    series: e.series.key.clone(),
                    timestamp: from_ns(e.values.ts_ns, e.values.offset_s)?,
                    stored,
                    offered,
                });
                not_inserted = not_inserted.saturating_sub(1);
            }
        }
        report.conflicts.sort_by_key(|c| c.index);
    }
    report.inserted = inserted + moved;
    report.duplicates += not_inserted;
    Ok((report, new_series))
}

fn stored_series(r: &Row) -> Result<StoredSeries> {
    Ok(StoredSeries {
        key: g(r, 0)?,
        source: g(r, 1)?,
        meter: g(r, 2)?,
        component: g(r, 3)?,
        channel: g(r, 4)?,
        kind: g(r, 5)?,
        unit: g(r, 6)?,
        phases: g(r, 7)?,
        direction: g(r, 8)?,
        accumulation: g(r, 9)?,
        interval: g(r, 10)?,
        aggregate: g(r, 11)?,
    })
}

/// Reads the measurements `q` selects within `periods`; with `paged`, one page.
pub(crate) async fn fetch<C: GenericClient + Sync>(
    c: &C,
    q: &MeasurementQuery,
    periods: &Periods,
    paged: bool,
) -> Result<Page> {
    let (filter, params) = measurement_filter(q, paged, periods, |n| format!("${n}"))?;
    let sql = format!("{SELECT_MEASUREMENTS}{filter}");
    let rows = c
        .query_typed(sql.as_str(), &typed(&params))
        .await
        .pg("querying measurements")?;
    let size = q.page_size();
    let mut items = Vec::with_capacity(rows.len().min(size));
    let mut last = None;
    let mut more = false;
    let mut templates: HashMap<i64, SeriesTemplate> = HashMap::new();
    let mut shared = SharedFields::default();
    for r in &rows {
        if paged && items.len() == size {
            more = true;
            break;
        }
        let series_id: i64 = g(r, 12)?;
        let template = match templates.entry(series_id) {
            std::collections::hash_map::Entry::Occupied(e) => e.into_mut(),
            std::collections::hash_map::Entry::Vacant(e) => {
                e.insert(SeriesTemplate::of(&stored_series(r)?)?)
            }
        };
        let values = ValueColumns {
            ts_ns: g(r, 13)?,
            offset_s: g(r, 14)?,
            pod: g(r, 15)?,
            usage_point: g(r, 16)?,
            value: g(r, 17)?,
            multiplier: g(r, 18)?,
            quality: g(r, 19)?,
        };
        let certification = certifications::certification_of(r, &mut shared)?;
        last = Some(PageToken {
            ts_ns: values.ts_ns,
            series_id,
        });
        items.push(StoredMeasurement {
            measurement: template.measurement(&values)?,
            certification,
        });
    }
    Ok(Page {
        items,
        next: if more { last } else { None },
    })
}

/// Counts the measurements `q` selects within `periods`.
pub(crate) async fn count<C: GenericClient + Sync>(
    c: &C,
    q: &MeasurementQuery,
    periods: &Periods,
) -> Result<u64> {
    let (filter, params) = measurement_filter(q, false, periods, |n| format!("${n}"))?;
    let sql = format!("{COUNT_MEASUREMENTS}{filter}");
    let row = c
        .query_typed_one(sql.as_str(), &typed(&params))
        .await
        .pg("counting measurements")?;
    Ok(u64::try_from(g::<i64>(&row, 0)?).unwrap_or(0))
}

/// The links whose `column` (`pod`, `meter` or `device`) is `id`, in order.
pub(crate) async fn links_by<C: GenericClient + Sync>(
    c: &C,
    column: &str,
    id: &str,
) -> Result<Vec<PodLink>> {
    let sql = format!("SELECT body FROM pod_links WHERE {column} = $1 ORDER BY id");
    c.query_typed(sql.as_str(), &[(&id, Type::TEXT)])
        .await
        .pg("looking up the registry")?
        .iter()
        .map(|r| {
            serde_json::from_str(&g::<String>(r, 0)?)
                .map_err(|e| corrupt(&format!("link of {column} {id}"), e))
        })
        .collect()
}

pub(crate) async fn pod_record<C: GenericClient + Sync>(
    c: &C,
    pod: &str,
) -> Result<Option<PodRecord>> {
    let Some(row) = c
        .query_typed_opt(
            "SELECT dso, customer FROM pods WHERE pod = $1",
            &[(&pod, Type::TEXT)],
        )
        .await
        .pg("looking up a pod")?
    else {
        return Ok(None);
    };
    let customer: Option<String> = g(&row, 1)?;
    Ok(Some(PodRecord {
        pod: PodId::new(pod).map_err(|e| corrupt("pod", e))?,
        dso: ParticipantId::new(g::<String>(&row, 0)?)
            .map_err(|e| corrupt(&format!("pod {pod}"), e))?,
        customer: customer
            .map(ParticipantId::new)
            .transpose()
            .map_err(|e| corrupt(&format!("pod {pod}"), e))?,
    }))
}

pub(crate) const SUBSCRIPTION_COLUMNS: &str =
    "SELECT id, provider, consumer, topic, status, requested_at, decided_at FROM subscriptions";

/// Writes one audit entry, in one round trip. Its commit does not wait for the WAL flush
/// (`synchronous_commit` is turned off for this statement's own transaction only), like the
/// embedded store's `synchronous = NORMAL`: a server crash may lose the last fraction of a
/// second of audit entries, never stored data, and a read does not wait for an `fsync`.
pub(crate) async fn audit<C: GenericClient + Sync>(
    c: &C,
    at: &Timestamp,
    who: &Principal,
    action: &str,
    what: &str,
    decision: &Decision,
) -> Result<()> {
    let (at, who) = (format_timestamp(at), who.to_string());
    c.execute_typed(
        "INSERT INTO audit (at, who, action, what, allowed, reason) \
         SELECT $1, $2, $3, $4, $5, $6 \
         FROM (SELECT set_config('synchronous_commit', 'off', true)) AS relaxed",
        &[
            (&at, Type::TEXT),
            (&who, Type::TEXT),
            (&action, Type::TEXT),
            (&what, Type::TEXT),
            (&decision.allowed, Type::BOOL),
            (&decision.reason, Type::TEXT),
        ],
    )
    .await
    .pg("writing the audit log")?;
    Ok(())
}

pub(crate) async fn audit_log<C: GenericClient + Sync>(
    c: &C,
    after: i64,
) -> Result<Vec<AuditEntry>> {
    let rows = c
        .query(
            "SELECT seq, at, who, action, what, allowed, reason FROM audit WHERE seq > $1 ORDER BY seq",
            &[&after],
        )
        .await
        .pg("reading the audit log")?;
    rows.iter()
        .map(|r| {
            let seq: i64 = g(r, 0)?;
            let at: String = g(r, 1)?;
            Ok(AuditEntry {
                seq,
                at: parse_timestamp(&at).map_err(|e| corrupt(&format!("audit entry {seq}"), e))?,
                who: g::<String>(r, 2)?.parse()?,
                action: g(r, 3)?,
                what: g(r, 4)?,
                allowed: g(r, 5)?,
                reason: g(r, 6)?,
            })
        })
        .collect()
}

pub(crate) async fn register_pod<C: GenericClient + Sync>(c: &C, pod: &PodRecord) -> Result<()> {
    let customer = pod.customer.as_ref().map(|x| x.as_str());
    let n = c
        .execute(
            "INSERT INTO pods (pod, dso, customer) VALUES ($1, $2, $3) ON CONFLICT (pod) DO NOTHING",
            &[&pod.pod.as_str(), &pod.dso.as_str(), &customer],
        )
        .await
        .pg(&format!("registering pod {}", pod.pod))?;
    if n == 0 {
        let row = c
            .query_one(
                "SELECT dso, customer FROM pods WHERE pod = $1",
                &[&pod.pod.as_str()],
            )
            .await
            .pg(&format!("reading pod {}", pod.pod))?;
        let dso: String = g(&row, 0)?;
        let cust: Option<String> = g(&row, 1)?;
        if dso != pod.dso.as_str() || cust.as_deref() != customer {
            return Err(ScdError::Conflict {
                record: format!("pod {}", pod.pod),
            });
        }
    }
    Ok(())
}

pub(crate) async fn add_pod_link<C: GenericClient + Sync>(c: &C, link: &PodLink) -> Result<()> {
    link.validate()?;
    let exists = c
        .query_opt("SELECT 1 FROM pods WHERE pod = $1", &[&link.pod.as_str()])
        .await
        .pg("looking up a pod")?;
    if exists.is_none() {
        return Err(ScdError::NotFound {
            record: format!("pod {}", link.pod),
        });
    }
    let body = serde_json::to_string(link).map_err(|e| corrupt("pod link", e))?;
    c.execute(
        "INSERT INTO pod_links (pod, meter, device, aggregator, body) VALUES ($1, $2, $3, $4, $5)",
        &[
            &link.pod.as_str(),
            &link.meter.as_ref().map(|m| m.as_str()),
            &link.device.as_ref().map(|d| d.as_str()),
            &link.aggregator.as_ref().map(|a| a.as_str()),
            &body,
        ],
    )
    .await
    .pg(&format!("linking pod {}", link.pod))?;
    Ok(())
}

/// The days of the existing measurement partitions, in order.
pub(crate) async fn partition_days<C: GenericClient + Sync>(c: &C) -> Result<Vec<(i64, String)>> {
    let rows = c
        .query(
            "SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid \
             JOIN pg_class p ON p.oid = i.inhparent WHERE p.relname = 'measurements' \
             AND p.relnamespace = current_schema()::regnamespace",
            &[],
        )
        .await
        .pg("listing partitions")?;
    let mut days = Vec::new();
    for r in rows {
        let name: String = g(&r, 0)?;
        let Some(date) = name.strip_prefix("measurements_") else {
            continue;
        };
        let Ok(d) = chrono::NaiveDate::parse_from_str(date, "%Y%m%d") else {
            continue;
        };
        let day = d
            .and_hms_opt(0, 0, 0)
            .map(|t| t.and_utc().timestamp().div_euclid(86_400))
            .unwrap_or(0);
        days.push((day, name));
    }
    days.sort();
    Ok(days)
}
