//! Subscriptions (D2.13 Table 1) in the embedded store: request, decide, list.

use platone_model::{ParticipantId, format_timestamp, parse_timestamp};
use rusqlite::{Connection, OptionalExtension, Row, params};

use crate::error::{Result, ScdError, SqliteContext};
use crate::policy::decide;
use crate::records::{Principal, Resource, Subscription, SubscriptionStatus};
use crate::row::now;

use super::ops::{corrupt, facts};

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

pub(crate) fn request_subscription(
    conn: &Connection,
    consumer: &ParticipantId,
    provider: &ParticipantId,
    topic: &Resource,
) -> Result<Subscription> {
    let d = decide(
        &Principal::Participant(provider.clone()),
        topic,
        &facts(conn, None, topic)?,
        false,
    );
    if !d.decision.allowed {
        return Err(ScdError::InvalidRecord {
            record: format!("subscription of {consumer} to {topic}"),
            reason: format!(
                "provider {provider} may not provide it: {}",
                d.decision.reason
            ),
        });
    }
    let at = now();
    conn.execute(
        "INSERT INTO subscriptions (provider, consumer, topic, status, requested_at) \
         VALUES (?1, ?2, ?3, ?4, ?5)",
        params![
            provider.as_str(),
            consumer.as_str(),
            topic.to_string(),
            SubscriptionStatus::Requested.as_str(),
            format_timestamp(&at)
        ],
    )
    .ctx("storing a subscription")?;
    Ok(Subscription {
        id: conn.last_insert_rowid(),
        provider: provider.clone(),
        consumer: consumer.clone(),
        topic: topic.clone(),
        status: SubscriptionStatus::Requested,
        requested_at: at,
        decided_at: None,
    })
}

fn subscription(conn: &Connection, id: i64) -> Result<Subscription> {
    let row = conn
        .query_row(
            "SELECT id, provider, consumer, topic, status, requested_at, decided_at \
             FROM subscriptions WHERE id = ?1",
            [id],
            subscription_row,
        )
        .optional()
        .ctx(&format!("reading subscription {id}"))?
        .ok_or_else(|| ScdError::NotFound {
            record: format!("subscription {id}"),
        })?;
    subscription_of(row)
}

pub(crate) fn decide_subscription(
    conn: &Connection,
    provider: &ParticipantId,
    id: i64,
    accept: bool,
) -> Result<Subscription> {
    let mut s = subscription(conn, id)?;
    crate::subscription::check_decision(&s, provider, accept)?;
    let at = now();
    s.status = if accept {
        SubscriptionStatus::Accepted
    } else {
        SubscriptionStatus::Declined
    };
    s.decided_at = Some(at);
    conn.execute(
        "UPDATE subscriptions SET status = ?1, decided_at = ?2 WHERE id = ?3",
        params![s.status.as_str(), format_timestamp(&at), id],
    )
    .ctx(&format!("deciding subscription {id}"))?;
    Ok(s)
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
