//! Subscriptions (D2.13 Table 1) in the embedded store: add, decide, list.

use platone_model::{ParticipantId, Timestamp, format_timestamp, parse_timestamp};
use rusqlite::{Connection, OptionalExtension, Row, params};

use crate::error::{Result, SqliteContext};
use crate::records::{Resource, Subscription, SubscriptionStatus};

use super::ops::corrupt;

/// A subscription row: id, provider, consumer, topic, status, requested at, decided at.
pub(crate) type SubscriptionRow = (i64, String, String, String, String, String, Option<String>);

pub(crate) fn subscription_row(r: &Row<'_>) -> rusqlite::Result<SubscriptionRow> {
    Ok((
        r.get(0)?,
        r.get(1)?,
        r.get(2)?,
        r.get(3)?,
        r.get(4)?,
        r.get(5)?,
        r.get(6)?,
    ))
}

pub(crate) fn subscription_of(row: SubscriptionRow) -> Result<Subscription> {
    let (id, provider, consumer, topic, status, requested, decided) = row;
    let c = |e: &dyn std::fmt::Display| corrupt(&format!("subscription {id}"), e);
    Ok(Subscription {
        id,
        provider: ParticipantId::new(provider).map_err(|e| c(&e))?,
        consumer: ParticipantId::new(consumer).map_err(|e| c(&e))?,
        topic: topic.parse()?,
        status: status.parse()?,
        requested_at: parse_timestamp(&requested).map_err(|e| c(&e))?,
        decided_at: decided
            .map(|d| parse_timestamp(&d))
            .transpose()
            .map_err(|e| c(&e))?,
    })
}

/// Stores a new subscription in status Requested.
pub(crate) fn add_subscription(
    conn: &Connection,
    consumer: &ParticipantId,
    provider: &ParticipantId,
    topic: &Resource,
    at: &Timestamp,
) -> Result<Subscription> {
    conn.execute(
        "INSERT INTO subscriptions (provider, consumer, topic, status, requested_at) \
         VALUES (?1, ?2, ?3, ?4, ?5)",
        params![
            provider.as_str(),
            consumer.as_str(),
            topic.to_string(),
            SubscriptionStatus::Requested.as_str(),
            format_timestamp(at)
        ],
    )
    .ctx("storing a subscription")?;
    Ok(Subscription {
        id: conn.last_insert_rowid(),
        provider: provider.clone(),
        consumer: consumer.clone(),
        topic: topic.clone(),
        status: SubscriptionStatus::Requested,
        requested_at: *at,
        decided_at: None,
    })
}

pub(crate) fn subscription(conn: &Connection, id: i64) -> Result<Option<Subscription>> {
    conn.prepare_cached(
        "SELECT id, provider, consumer, topic, status, requested_at, decided_at \
         FROM subscriptions WHERE id = ?1",
    )
    .ctx("preparing the subscription read")?
    .query_row([id], subscription_row)
    .optional()
    .ctx(&format!("reading subscription {id}"))?
    .map(subscription_of)
    .transpose()
}

/// Sets the status of subscription `id` if it is `expected`.
pub(crate) fn decide(
    conn: &Connection,
    id: i64,
    expected: SubscriptionStatus,
    status: SubscriptionStatus,
    at: &Timestamp,
) -> Result<Option<Subscription>> {
    let n = conn
        .execute(
            "UPDATE subscriptions SET status = ?1, decided_at = ?2 WHERE id = ?3 AND status = ?4",
            params![status.as_str(), format_timestamp(at), id, expected.as_str()],
        )
        .ctx(&format!("deciding subscription {id}"))?;
    if n == 0 {
        return Ok(None);
    }
    subscription(conn, id)
}

/// `consumer`'s subscriptions to any of `topics`, in id order.
pub(crate) fn subscriptions_to(
    conn: &Connection,
    consumer: &ParticipantId,
    topics: &[Resource],
) -> Result<Vec<Subscription>> {
    let mut stmt = conn
        .prepare_cached(
            "SELECT id, provider, consumer, topic, status, requested_at, decided_at \
             FROM subscriptions WHERE consumer = ?1 AND topic = ?2 ORDER BY id",
        )
        .ctx("preparing the subscription lookup")?;
    let mut out = Vec::new();
    for topic in topics {
        for s in stmt
            .query_map(
                params![consumer.as_str(), topic.to_string()],
                subscription_row,
            )
            .ctx("looking up subscriptions")?
        {
            out.push(subscription_of(s.ctx("reading a subscription")?)?);
        }
    }
    out.sort_by_key(|s| s.id);
    Ok(out)
}

pub(crate) fn subscriptions(conn: &Connection, who: &ParticipantId) -> Result<Vec<Subscription>> {
    let mut stmt = conn
        .prepare_cached(
            "SELECT id, provider, consumer, topic, status, requested_at, decided_at \
             FROM subscriptions WHERE provider = ?1 OR consumer = ?1 ORDER BY id",
        )
        .ctx("preparing the subscription read")?;
    let rows = stmt
        .query_map([who.as_str()], subscription_row)
        .ctx("reading subscriptions")?;
    rows.map(|r| subscription_of(r.ctx("reading a subscription")?))
        .collect()
}
