//! SQL shared by both backends: the measurement select list and the query filter.

use crate::error::Result;
use crate::period::Periods;
use crate::query::MeasurementQuery;

/// A query parameter.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Param {
    Int(i64),
    Text(String),
}

/// The columns a measurement query selects, in the order the row readers expect.
pub(crate) const SELECT_MEASUREMENTS: &str = "SELECT s.key, s.source, s.meter, s.component, \
    s.channel, s.kind, s.unit, s.phases, s.direction, s.accumulation, s.interval_s, s.aggregate, \
    m.series_id, m.ts_ns, m.offset_s, m.pod, m.usage_point, m.value, m.multiplier, m.quality, \
    b.batch_id, c.leaf_index, b.root_hex, c.proof, c.merged, c.batch, b.shared \
    FROM measurements m JOIN series s ON s.id = m.series_id \
    LEFT JOIN certifications c ON c.series_id = m.series_id AND c.ts_ns = m.ts_ns \
    LEFT JOIN certified_batches b ON b.id = c.batch";

/// The `FROM … WHERE` for counting.
pub(crate) const COUNT_MEASUREMENTS: &str =
    "SELECT count(*) FROM measurements m JOIN series s ON s.id = m.series_id";

/// The `WHERE` clause (starting with ` WHERE`) and its parameters for `q`, limited to the
/// data periods `within` (what the access policy granted); `placeholder(n)` writes the n-th
/// (1-based) parameter marker. With `paged`, the page cursor and the order and limit (one more
/// than the page size, to tell whether more follow) are added.
pub(crate) fn measurement_filter(
    q: &MeasurementQuery,
    paged: bool,
    within: &Periods,
    placeholder: impl Fn(usize) -> String,
) -> Result<(String, Vec<Param>)> {
    let (from, to) = q.bounds()?;
    let spans = Periods::between(from, to).intersect(within);
    let mut params = Vec::new();
    let mut clauses = Vec::new();
    if spans.is_empty() {
        clauses.push("1 = 0".into());
    }
    let mut alternatives = Vec::new();
    for &(start, end) in spans.spans() {
        let mut both = Vec::new();
        if start != i64::MIN {
            params.push(Param::Int(start));
            both.push(format!("m.ts_ns >= {}", placeholder(params.len())));
        }
        if end != i64::MAX {
            params.push(Param::Int(end));
            both.push(format!("m.ts_ns < {}", placeholder(params.len())));
        }
        alternatives.push(both.join(" AND "));
    }
    match alternatives.as_slice() {
        [] => {}
        [one] if one.is_empty() => {}
        [one] => clauses.push(one.clone()),
        many => clauses.push(format!("(({}))", many.join(") OR ("))),
    }
    let mut push = |clause: &str, p: Param, params: &mut Vec<Param>| {
        params.push(p);
        clauses.push(clause.replace('?', &placeholder(params.len())));
    };
    if let Some(p) = &q.pod {
        push("m.pod = ?", Param::Text(p.as_str().into()), &mut params);
    }
    if let Some(m) = &q.meter {
        push("s.meter = ?", Param::Text(m.as_str().into()), &mut params);
    }
    if let Some(d) = &q.device {
        push("s.source = ?", Param::Text(d.as_str().into()), &mut params);
    }
    if let Some(c) = &q.component {
        push(
            "s.component = ?",
            Param::Text(c.as_str().into()),
            &mut params,
        );
    }
    if let Some(k) = q.kind {
        push("s.kind = ?", Param::Text(k.as_str().into()), &mut params);
    }
    if paged && let Some(after) = q.after {
        params.push(Param::Int(after.ts_ns));
        let a = placeholder(params.len());
        params.push(Param::Int(after.series_id));
        let b = placeholder(params.len());
        clauses.push(format!("(m.ts_ns, m.series_id) > ({a}, {b})"));
    }
    let mut sql = String::new();
    if !clauses.is_empty() {
        sql.push_str(" WHERE ");
        sql.push_str(&clauses.join(" AND "));
    }
    if paged {
        sql.push_str(&format!(
            " ORDER BY m.ts_ns, m.series_id LIMIT {}",
            q.page_size() + 1
        ));
    }
    Ok((sql, params))
}
