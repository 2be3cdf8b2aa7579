//! The embedded store's operations, run on a blocking thread with one connection.

use std::collections::HashMap;
use std::path::Path;

use platone_model::{ParticipantId, PodId, Timestamp, format_timestamp, parse_timestamp};
use rusqlite::types::Value;
use rusqlite::{Connection, OptionalExtension, Row, TransactionBehavior, params};

use crate::error::{Result, ScdError, SqliteContext};
use crate::period::Periods;
use crate::policy::Decision;
use crate::query::{MeasurementQuery, Page, PageToken, StoredMeasurement};
use crate::records::{AuditEntry, PodLink, PodRecord, Principal};
use crate::row::{EncodedMeasurement, SeriesTemplate, StoredSeries, ValueColumns, base_value};
use crate::sql::{COUNT_MEASUREMENTS, Param, SELECT_MEASUREMENTS, measurement_filter};
use crate::store::{Conflict, InsertReport};

use super::certifications;
use super::schema::{PRAGMAS, SCHEMA};
use crate::certification::SharedFields;

/// Opens (creating if needed) the database file and its schema.
pub(crate) fn open(path: &Path) -> Result<Connection> {
    let mut conn = Connection::open(path).ctx(&format!("opening {}", path.display()))?;
    conn.execute_batch(PRAGMAS).ctx("setting pragmas")?;
    certifications::open_schema(&mut conn, SCHEMA)?;
    Ok(conn)
}

fn to_sql(params: &[Param]) -> Vec<Value> {
    params
        .iter()
        .map(|p| match p {
            Param::Int(i) => Value::Integer(*i),
            Param::Text(t) => Value::Text(t.clone()),
        })
        .collect()
}

pub(crate) fn corrupt(record: &str, e: impl std::fmt::Display) -> ScdError {
    ScdError::Corrupt {
        record: record.into(),
        reason: e.to_string(),
    }
}

/// Inserts a batch in one transaction; `cache` maps series keys to ids (updated on commit).
pub(crate) fn insert(
    conn: &mut Connection,
    batch: &[EncodedMeasurement],
    cache: &mut HashMap<String, i64>,
) -> Result<InsertReport> {
    let tx = conn
        .transaction_with_behavior(TransactionBehavior::Immediate)
        .ctx("beginning the insert")?;
    let mut report = InsertReport::default();
    let mut new_series: HashMap<String, i64> = HashMap::new();
    {
        let mut put_series = tx
            .prepare_cached(
                "INSERT INTO series (key, source, meter, component, channel, kind, unit, phases, \
                 direction, accumulation, interval_s, aggregate) \
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12) \
                 ON CONFLICT (key) DO NOTHING",
            )
            .ctx("preparing the series insert")?;
        let mut get_series = tx
            .prepare_cached("SELECT id FROM series WHERE key = ?1")
            .ctx("preparing the series lookup")?;
        let mut put = tx
            .prepare_cached(
                "INSERT INTO measurements (series_id, ts_ns, offset_s, pod, usage_point, value, \
                 multiplier, quality) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8) \
                 ON CONFLICT (series_id, ts_ns) DO NOTHING",
            )
            .ctx("preparing the measurement insert")?;
        let mut get = tx
            .prepare_cached(
                "SELECT value, multiplier FROM measurements WHERE series_id = ?1 AND ts_ns = ?2",
            )
            .ctx("preparing the measurement lookup")?;
        let mut previous: Option<(&std::sync::Arc<crate::row::SeriesColumns>, i64)> = None;
        for (index, e) in batch.iter().enumerate() {
            let s = &e.series;
            let known = match previous {
                Some((p, id)) if std::sync::Arc::ptr_eq(p, s) => Some(id),
                _ => cache
                    .get(&s.key)
                    .or_else(|| new_series.get(&s.key))
                    .copied(),
            };
            let id = match known {
                Some(id) => id,
                None => {
                    let n = put_series
                        .execute(params![
                            s.key,
                            s.source,
                            s.meter,
                            s.component,
                            s.channel,
                            s.kind,
                            s.unit,
                            s.phases,
                            s.direction,
                            s.accumulation,
                            s.interval,
                            s.aggregate
                        ])
                        .ctx(&format!("storing series {}", s.key))?;
                    // A new series has the row id just assigned; only one stored before
                    // (by another process, or before this store was opened) is looked up.
                    let id: i64 = if n == 1 {
                        tx.last_insert_rowid()
                    } else {
                        get_series
                            .query_row([&s.key], |r| r.get(0))
                            .ctx(&format!("looking up series {}", s.key))?
                    };
                    new_series.insert(s.key.clone(), id);
                    id
                }
            };
            previous = Some((s, id));
            let v = &e.values;
            let stored = || format!("storing measurement {index} of series {}", s.key);
            put.raw_bind_parameter(1, id).ctx_with(stored)?;
            put.raw_bind_parameter(2, v.ts_ns).ctx_with(stored)?;
            put.raw_bind_parameter(3, v.offset_s).ctx_with(stored)?;
            put.raw_bind_parameter(4, v.pod.as_deref())
                .ctx_with(stored)?;
            put.raw_bind_parameter(5, v.usage_point.as_deref())
                .ctx_with(stored)?;
            put.raw_bind_parameter(6, v.value).ctx_with(stored)?;
            put.raw_bind_parameter(7, v.multiplier).ctx_with(stored)?;
            put.raw_bind_parameter(8, v.quality).ctx_with(stored)?;
            let n = put.raw_execute().ctx_with(stored)?;
            if n == 1 {
                report.inserted += 1;
                continue;
            }
            let (value, multiplier): (f64, i64) = get
                .query_row(params![id, v.ts_ns], |r| Ok((r.get(0)?, r.get(1)?)))
                .ctx_with(|| format!("reading back measurement {index} of series {}", s.key))?;
            let stored = base_value(value, i16::try_from(multiplier).unwrap_or(0));
            let offered = base_value(v.value, v.multiplier);
            if stored == offered {
                report.duplicates += 1;
            } else {
                report.conflicts.push(Conflict {
                    index,
                    series: s.key.clone(),
                    timestamp: crate::row::from_ns(v.ts_ns, v.offset_s)?,
                    stored,
                    offered,
                });
            }
        }
    }
    tx.commit().ctx("committing the insert")?;
    cache.extend(new_series);
    Ok(report)
}

fn series_of(r: &Row<'_>) -> rusqlite::Result<StoredSeries> {
    Ok(StoredSeries {
        key: r.get(0)?,
        source: r.get(1)?,
        meter: r.get(2)?,
        component: r.get(3)?,
        channel: r.get(4)?,
        kind: r.get(5)?,
        unit: r.get(6)?,
        phases: r.get(7)?,
        direction: r.get(8)?,
        accumulation: r.get(9)?,
        interval: r.get(10)?,
        aggregate: r.get(11)?,
    })
}

fn values_of(r: &Row<'_>) -> rusqlite::Result<ValueColumns> {
    let multiplier: i64 = r.get(18)?;
    Ok(ValueColumns {
        ts_ns: r.get(13)?,
        offset_s: r.get(14)?,
        pod: r.get(15)?,
        usage_point: r.get(16)?,
        value: r.get(17)?,
        multiplier: i16::try_from(multiplier).unwrap_or(i16::MAX),
        quality: r.get(19)?,
    })
}

/// Reads the measurements `q` selects within `periods`; with `paged`, one page. The series
/// columns are read and decoded once per series, not once per row.
pub(crate) fn fetch(
    conn: &Connection,
    q: &MeasurementQuery,
    periods: &Periods,
    paged: bool,
) -> Result<Page> {
    let (filter, params) = measurement_filter(q, paged, periods, |n| format!("?{n}"))?;
    let sql = format!("{SELECT_MEASUREMENTS}{filter}");
    let mut stmt = conn.prepare_cached(&sql).ctx("preparing the query")?;
    let mut rows = stmt
        .query(rusqlite::params_from_iter(to_sql(&params)))
        .ctx("querying measurements")?;
    let mut items = Vec::new();
    let mut last = None;
    let size = q.page_size();
    let mut more = false;
    let mut templates: HashMap<i64, SeriesTemplate> = HashMap::new();
    let mut shared = SharedFields::default();
    while let Some(r) = rows.next().ctx("reading a measurement row")? {
        if paged && items.len() == size {
            more = true;
            break;
        }
        let series_id: i64 = r.get(12).ctx("reading a measurement row")?;
        let template = match templates.entry(series_id) {
            std::collections::hash_map::Entry::Occupied(e) => e.into_mut(),
            std::collections::hash_map::Entry::Vacant(e) => e.insert(SeriesTemplate::of(
                &series_of(r).ctx("reading a series row")?,
            )?),
        };
        let values = values_of(r).ctx("reading a measurement row")?;
        last = Some(PageToken {
            ts_ns: values.ts_ns,
            series_id,
        });
        items.push(StoredMeasurement {
            measurement: template.measurement(&values)?,
            certification: certifications::certification_of(r, &mut shared)?,
        });
    }
    Ok(Page {
        items,
        next: if more { last } else { None },
    })
}

/// Counts the measurements `q` selects within `periods`.
pub(crate) fn count(conn: &Connection, q: &MeasurementQuery, periods: &Periods) -> Result<u64> {
    let (filter, params) = measurement_filter(q, false, periods, |n| format!("?{n}"))?;
    let sql = format!("{COUNT_MEASUREMENTS}{filter}");
    let n: i64 = conn
        .prepare_cached(&sql)
        .ctx("preparing the count")?
        .query_row(rusqlite::params_from_iter(to_sql(&params)), |r| r.get(0))
        .ctx("counting measurements")?;
    Ok(u64::try_from(n).unwrap_or(0))
}

/// The links whose `column` (`pod`, `meter` or `device`) is `id`, in order.
pub(crate) fn links_by(conn: &Connection, column: &str, id: &str) -> Result<Vec<PodLink>> {
    let sql = format!("SELECT body FROM pod_links WHERE {column} = ?1 ORDER BY id");
    let mut stmt = conn
        .prepare_cached(&sql)
        .ctx("preparing the registry lookup")?;
    let rows = stmt
        .query_map([id], |r| r.get::<_, String>(0))
        .ctx("looking up the registry")?;
    rows.map(|b| {
        let b = b.ctx("reading a pod link")?;
        serde_json::from_str(&b).map_err(|e| corrupt(&format!("link of {column} {id}"), e))
    })
    .collect()
}

pub(crate) fn pod_record(conn: &Connection, pod: &str) -> Result<Option<PodRecord>> {
    let row: Option<(String, Option<String>)> = conn
        .prepare_cached("SELECT dso, customer FROM pods WHERE pod = ?1")
        .ctx("preparing the pod lookup")?
        .query_row([pod], |r| Ok((r.get(0)?, r.get(1)?)))
        .optional()
        .ctx("looking up a pod")?;
    let Some((dso, customer)) = row else {
        return Ok(None);
    };
    Ok(Some(PodRecord {
        pod: PodId::new(pod).map_err(|e| corrupt("pod", e))?,
        dso: ParticipantId::new(dso).map_err(|e| corrupt(&format!("pod {pod}"), e))?,
        customer: customer
            .map(ParticipantId::new)
            .transpose()
            .map_err(|e| corrupt(&format!("pod {pod}"), e))?,
    }))
}

/// Writes one audit entry.
pub(crate) fn audit(
    conn: &Connection,
    at: &Timestamp,
    who: &Principal,
    action: &str,
    what: &str,
    decision: &Decision,
) -> Result<()> {
    conn.prepare_cached(
        "INSERT INTO audit (at, who, action, what, allowed, reason) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
    )
    .ctx("preparing the audit insert")?
    .execute(params![
        format_timestamp(at),
        who.to_string(),
        action,
        what,
        decision.allowed,
        decision.reason
    ])
    .ctx("writing the audit log")?;
    Ok(())
}

pub(crate) fn audit_log(conn: &Connection, after: i64) -> Result<Vec<AuditEntry>> {
    let mut stmt = conn
        .prepare_cached(
            "SELECT seq, at, who, action, what, allowed, reason FROM audit WHERE seq > ?1 ORDER BY seq",
        )
        .ctx("preparing the audit read")?;
    let rows = stmt
        .query_map([after], |r| {
            Ok((
                r.get::<_, i64>(0)?,
                r.get::<_, String>(1)?,
                r.get::<_, String>(2)?,
                r.get::<_, String>(3)?,
                r.get::<_, String>(4)?,
                r.get::<_, bool>(5)?,
                r.get::<_, String>(6)?,
            ))
        })
        .ctx("reading the audit log")?;
    let mut out = Vec::new();
    for row in rows {
        let (seq, at, who, action, what, allowed, reason) = row.ctx("reading an audit entry")?;
        out.push(AuditEntry {
            seq,
            at: parse_timestamp(&at).map_err(|e| corrupt(&format!("audit entry {seq}"), e))?,
            who: who.parse()?,
            action,
            what,
            allowed,
            reason,
        });
    }
    Ok(out)
}

pub(crate) fn register_pod(conn: &Connection, pod: &PodRecord) -> Result<()> {
    let customer = pod.customer.as_ref().map(|c| c.as_str());
    let n = conn
        .execute(
            "INSERT INTO pods (pod, dso, customer) VALUES (?1, ?2, ?3) ON CONFLICT (pod) DO NOTHING",
            params![pod.pod.as_str(), pod.dso.as_str(), customer],
        )
        .ctx(&format!("registering pod {}", pod.pod))?;
    if n == 0 {
        let (dso, cust): (String, Option<String>) = conn
            .query_row(
                "SELECT dso, customer FROM pods WHERE pod = ?1",
                [pod.pod.as_str()],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .ctx(&format!("reading pod {}", pod.pod))?;
        if dso != pod.dso.as_str() || cust.as_deref() != customer {
            return Err(ScdError::Conflict {
                record: format!("pod {}", pod.pod),
            });
        }
    }
    Ok(())
}

fn pod_exists(conn: &Connection, pod: &PodId) -> Result<bool> {
    conn.query_row("SELECT 1 FROM pods WHERE pod = ?1", [pod.as_str()], |_| {
        Ok(())
    })
    .optional()
    .ctx("looking up a pod")
    .map(|r| r.is_some())
}

pub(crate) fn add_pod_link(conn: &Connection, link: &PodLink) -> Result<()> {
    link.validate()?;
    if !pod_exists(conn, &link.pod)? {
        return Err(ScdError::NotFound {
            record: format!("pod {}", link.pod),
        });
    }
    let body = serde_json::to_string(link).map_err(|e| corrupt("pod link", e))?;
    conn.execute(
        "INSERT INTO pod_links (pod, meter, device, aggregator, body) VALUES (?1, ?2, ?3, ?4, ?5)",
        params![
            link.pod.as_str(),
            link.meter.as_ref().map(|m| m.as_str()),
            link.device.as_ref().map(|d| d.as_str()),
            link.aggregator.as_ref().map(|a| a.as_str()),
            body
        ],
    )
    .ctx(&format!("linking pod {}", link.pod))?;
    Ok(())
}

/// The earliest UTC nanosecond with data in `[from, to)`, if any.
pub(crate) fn first_at(conn: &Connection, from: i64, to: i64) -> Result<Option<i64>> {
    conn.query_row(
        "SELECT MIN(ts_ns) FROM measurements WHERE ts_ns >= ?1 AND ts_ns < ?2",
        params![from, to],
        |r| r.get(0),
    )
    .ctx("looking for archivable data")
}

/// Deletes everything before `cutoff`.
pub(crate) fn delete_before(conn: &Connection, cutoff: i64) -> Result<()> {
    certifications::delete_before(conn, cutoff)?;
    conn.execute("DELETE FROM measurements WHERE ts_ns < ?1", [cutoff])
        .ctx("deleting archived measurements")?;
    Ok(())
}
