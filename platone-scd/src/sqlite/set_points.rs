//! Set points and their acknowledgements in the embedded store.

use platone_model::{PodId, SetPoint};
use rusqlite::{Connection, OptionalExtension, params};

use crate::error::{Result, ScdError, SqliteContext};
use crate::records::{SetPointAck, StoredSetPoint};
use crate::row::to_ns;

use super::ops::corrupt;

pub(crate) fn put_set_point(conn: &Connection, sp: &SetPoint) -> Result<()> {
    sp.validate().map_err(|e| ScdError::InvalidRecord {
        record: format!("set point {}", sp.id),
        reason: e.to_string(),
    })?;
    let name = || format!("set point {}", sp.id);
    let body = serde_json::to_string(sp).map_err(|e| corrupt(&name(), e))?;
    let n = conn
        .execute(
            "INSERT INTO set_points (id, pod, valid_from_ns, valid_to_ns, body) \
             VALUES (?1, ?2, ?3, ?4, ?5) ON CONFLICT (id) DO NOTHING",
            params![
                sp.id,
                sp.pod.as_ref().map(|p| p.as_str()),
                to_ns(&sp.valid_from, name)?,
                to_ns(&sp.valid_to, name)?,
                body
            ],
        )
        .ctx(&format!("storing set point {}", sp.id))?;
    if n == 0 {
        let stored: String = conn
            .query_row("SELECT body FROM set_points WHERE id = ?1", [&sp.id], |r| {
                r.get(0)
            })
            .ctx(&format!("reading set point {}", sp.id))?;
        let stored: SetPoint = serde_json::from_str(&stored).map_err(|e| corrupt(&name(), e))?;
        if &stored != sp {
            return Err(ScdError::Conflict { record: name() });
        }
    }
    Ok(())
}

pub(crate) fn acknowledge(conn: &Connection, ack: &SetPointAck) -> Result<()> {
    let name = || format!("acknowledgement of set point {}", ack.set_point);
    let exists = conn
        .query_row(
            "SELECT 1 FROM set_points WHERE id = ?1",
            [&ack.set_point],
            |_| Ok(()),
        )
        .optional()
        .ctx("looking up a set point")?;
    if exists.is_none() {
        return Err(ScdError::NotFound {
            record: format!("set point {}", ack.set_point),
        });
    }
    let body = serde_json::to_string(ack).map_err(|e| corrupt(&name(), e))?;
    conn.execute(
        "INSERT INTO set_point_acks (set_point, device, at_ns, body) VALUES (?1, ?2, ?3, ?4) \
         ON CONFLICT DO NOTHING",
        params![
            ack.set_point,
            ack.device.as_str(),
            to_ns(&ack.at, name)?,
            body
        ],
    )
    .ctx(&format!("storing the {}", name()))?;
    Ok(())
}

/// The set points of `pod` overlapping `[from, to)`, with their acks.
pub(crate) fn set_points(
    conn: &Connection,
    pod: &PodId,
    from: i64,
    to: i64,
) -> Result<Vec<StoredSetPoint>> {
    let mut stmt = conn
        .prepare_cached(
            "SELECT id, body FROM set_points WHERE pod = ?1 AND valid_from_ns < ?3 \
             AND valid_to_ns > ?2 ORDER BY valid_from_ns, id",
        )
        .ctx("preparing the set point read")?;
    let rows = stmt
        .query_map(params![pod.as_str(), from, to], |r| {
            Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?))
        })
        .ctx("reading set points")?;
    let mut acks = conn
        .prepare_cached("SELECT body FROM set_point_acks WHERE set_point = ?1 ORDER BY at_ns")
        .ctx("preparing the acknowledgement read")?;
    let mut out = Vec::new();
    for row in rows {
        let (id, body) = row.ctx("reading a set point")?;
        let set_point: SetPoint =
            serde_json::from_str(&body).map_err(|e| corrupt(&format!("set point {id}"), e))?;
        let list = acks
            .query_map([&id], |r| r.get::<_, String>(0))
            .ctx("reading acknowledgements")?
            .map(|b| {
                let b = b.ctx("reading an acknowledgement")?;
                serde_json::from_str(&b)
                    .map_err(|e| corrupt(&format!("acknowledgement of {id}"), e))
            })
            .collect::<Result<Vec<_>>>()?;
        out.push(StoredSetPoint {
            set_point,
            acks: list,
        });
    }
    Ok(out)
}
