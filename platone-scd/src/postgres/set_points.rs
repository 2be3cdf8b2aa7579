//! Set points and their acknowledgements in the PostgreSQL store.

use platone_model::{PodId, SetPoint};
use tokio_postgres::GenericClient;

use crate::error::{PgContext, Result, ScdError};
use crate::records::{SetPointAck, StoredSetPoint};
use crate::row::to_ns;

use super::ops::{corrupt, g};

pub(crate) async fn put_set_point<C: GenericClient + Sync>(c: &C, sp: &SetPoint) -> Result<()> {
    sp.validate().map_err(|e| ScdError::InvalidRecord {
        record: format!("set point {}", sp.id),
        reason: e.to_string(),
    })?;
    let name = || format!("set point {}", sp.id);
    let body = serde_json::to_string(sp).map_err(|e| corrupt(&name(), e))?;
    let n = c
        .execute(
            "INSERT INTO set_points (id, pod, valid_from_ns, valid_to_ns, body) \
             VALUES ($1, $2, $3, $4, $5) ON CONFLICT (id) DO NOTHING",
            &[
                &sp.id,
                &sp.pod.as_ref().map(|p| p.as_str()),
                &to_ns(&sp.valid_from, name)?,
                &to_ns(&sp.valid_to, name)?,
                &body,
            ],
        )
        .await
        .pg(&format!("storing set point {}", sp.id))?;
    if n == 0 {
        let row = c
            .query_one("SELECT body FROM set_points WHERE id = $1", &[&sp.id])
            .await
            .pg(&format!("reading set point {}", sp.id))?;
        let stored: SetPoint =
            serde_json::from_str(&g::<String>(&row, 0)?).map_err(|e| corrupt(&name(), e))?;
        if &stored != sp {
            return Err(ScdError::Conflict { record: name() });
        }
    }
    Ok(())
}

pub(crate) async fn acknowledge<C: GenericClient + Sync>(c: &C, ack: &SetPointAck) -> Result<()> {
    let name = || format!("acknowledgement of set point {}", ack.set_point);
    let exists = c
        .query_opt("SELECT 1 FROM set_points WHERE id = $1", &[&ack.set_point])
        .await
        .pg("looking up a set point")?;
    if exists.is_none() {
        return Err(ScdError::NotFound {
            record: format!("set point {}", ack.set_point),
        });
    }
    let body = serde_json::to_string(ack).map_err(|e| corrupt(&name(), e))?;
    c.execute(
        "INSERT INTO set_point_acks (set_point, device, at_ns, body) VALUES ($1, $2, $3, $4) \
         ON CONFLICT DO NOTHING",
        &[
            &ack.set_point,
            &ack.device.as_str(),
            &to_ns(&ack.at, name)?,
            &body,
        ],
    )
    .await
    .pg(&format!("storing the {}", name()))?;
    Ok(())
}

/// The set points of `pod` overlapping `[from, to)`, with their acks.
pub(crate) async fn set_points<C: GenericClient + Sync>(
    c: &C,
    pod: &PodId,
    from: i64,
    to: i64,
) -> Result<Vec<StoredSetPoint>> {
    let rows = c
        .query(
            "SELECT id, body FROM set_points WHERE pod = $1 AND valid_from_ns < $3 \
             AND valid_to_ns > $2 ORDER BY valid_from_ns, id",
            &[&pod.as_str(), &from, &to],
        )
        .await
        .pg("reading set points")?;
    let mut out = Vec::new();
    for r in rows {
        let id: String = g(&r, 0)?;
        let set_point: SetPoint = serde_json::from_str(&g::<String>(&r, 1)?)
            .map_err(|e| corrupt(&format!("set point {id}"), e))?;
        let acks = c
            .query(
                "SELECT body FROM set_point_acks WHERE set_point = $1 ORDER BY at_ns",
                &[&id],
            )
            .await
            .pg("reading acknowledgements")?
            .iter()
            .map(|a| {
                serde_json::from_str(&g::<String>(a, 0)?)
                    .map_err(|e| corrupt(&format!("acknowledgement of {id}"), e))
            })
            .collect::<Result<Vec<_>>>()?;
        out.push(StoredSetPoint { set_point, acks });
    }
    Ok(out)
}
