//! Subscriptions (D2.13 Table 1) in the PostgreSQL store: add, decide, list.

use platone_model::{ParticipantId, Timestamp, format_timestamp, parse_timestamp};
use tokio_postgres::types::Type;
use tokio_postgres::{GenericClient, Row};

use crate::error::{PgContext, Result};
use crate::records::{Resource, Subscription, SubscriptionStatus};

use super::ops::{SUBSCRIPTION_COLUMNS, corrupt, g};

pub(crate) fn subscription_of(r: &Row) -> Result<Subscription> {
    let id: i64 = g(r, 0)?;
    let c = |e: &dyn std::fmt::Display| corrupt(&format!("subscription {id}"), e);
    let requested: String = g(r, 5)?;
    let decided: Option<String> = g(r, 6)?;
    Ok(Subscription {
        id,
        provider: ParticipantId::new(g::<String>(r, 1)?).map_err(|e| c(&e))?,
        consumer: ParticipantId::new(g::<String>(r, 2)?).map_err(|e| c(&e))?,
        topic: g::<String>(r, 3)?.parse()?,
        status: g::<String>(r, 4)?.parse()?,
        requested_at: parse_timestamp(&requested).map_err(|e| c(&e))?,
        decided_at: decided
            .map(|d| parse_timestamp(&d))
            .transpose()
            .map_err(|e| c(&e))?,
    })
}

/// Stores a new subscription in status Requested.
pub(crate) async fn add_subscription<C: GenericClient + Sync>(
    c: &C,
    consumer: &ParticipantId,
    provider: &ParticipantId,
    topic: &Resource,
    at: &Timestamp,
) -> Result<Subscription> {
    let row = c
        .query_one(
            "INSERT INTO subscriptions (provider, consumer, topic, status, requested_at) \
             VALUES ($1, $2, $3, $4, $5) RETURNING id",
            &[
                &provider.as_str(),
                &consumer.as_str(),
                &topic.to_string(),
                &SubscriptionStatus::Requested.as_str(),
                &format_timestamp(at),
            ],
        )
        .await
        .pg("storing a subscription")?;
    Ok(Subscription {
        id: g(&row, 0)?,
        provider: provider.clone(),
        consumer: consumer.clone(),
        topic: topic.clone(),
        status: SubscriptionStatus::Requested,
        requested_at: *at,
        decided_at: None,
    })
}

pub(crate) async fn subscription<C: GenericClient + Sync>(
    c: &C,
    id: i64,
) -> Result<Option<Subscription>> {
    let sql = format!("{SUBSCRIPTION_COLUMNS} WHERE id = $1");
    c.query_opt(sql.as_str(), &[&id])
        .await
        .pg(&format!("reading subscription {id}"))?
        .as_ref()
        .map(subscription_of)
        .transpose()
}

/// Sets the status of subscription `id` if it is `expected`.
pub(crate) async fn decide<C: GenericClient + Sync>(
    c: &C,
    id: i64,
    expected: SubscriptionStatus,
    status: SubscriptionStatus,
    at: &Timestamp,
) -> Result<Option<Subscription>> {
    let sql = format!(
        "UPDATE subscriptions SET status = $1, decided_at = $2 WHERE id = $3 AND status = $4 \
         RETURNING {}",
        SUBSCRIPTION_COLUMNS
            .trim_start_matches("SELECT ")
            .trim_end_matches(" FROM subscriptions")
    );
    c.query_opt(
        sql.as_str(),
        &[
            &status.as_str(),
            &format_timestamp(at),
            &id,
            &expected.as_str(),
        ],
    )
    .await
    .pg(&format!("deciding subscription {id}"))?
    .as_ref()
    .map(subscription_of)
    .transpose()
}

/// `consumer`'s subscriptions to any of `topics`, in id order.
pub(crate) async fn subscriptions_to<C: GenericClient + Sync>(
    c: &C,
    consumer: &ParticipantId,
    topics: &[Resource],
) -> Result<Vec<Subscription>> {
    let topics: Vec<String> = topics.iter().map(ToString::to_string).collect();
    let sql = format!("{SUBSCRIPTION_COLUMNS} WHERE consumer = $1 AND topic = ANY($2) ORDER BY id");
    c.query_typed(
        sql.as_str(),
        &[
            (&consumer.as_str(), Type::TEXT),
            (&topics, Type::TEXT_ARRAY),
        ],
    )
    .await
    .pg("looking up subscriptions")?
    .iter()
    .map(subscription_of)
    .collect()
}

pub(crate) async fn subscriptions<C: GenericClient + Sync>(
    c: &C,
    who: &ParticipantId,
) -> Result<Vec<Subscription>> {
    let sql = format!("{SUBSCRIPTION_COLUMNS} WHERE provider = $1 OR consumer = $1 ORDER BY id");
    c.query(sql.as_str(), &[&who.as_str()])
        .await
        .pg("reading subscriptions")?
        .iter()
        .map(subscription_of)
        .collect()
}
