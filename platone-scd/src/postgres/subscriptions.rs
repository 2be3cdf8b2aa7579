//! Subscriptions (D2.13 Table 1) in the PostgreSQL store: request, decide, list.

use platone_model::{ParticipantId, format_timestamp, parse_timestamp};
use tokio_postgres::{GenericClient, Row};

use crate::error::{PgContext, Result, ScdError};
use crate::policy::decide;
use crate::records::{Principal, Resource, Subscription, SubscriptionStatus};
use crate::row::now;

use super::ops::{SUBSCRIPTION_COLUMNS, corrupt, facts, g};

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

pub(crate) async fn request_subscription<C: GenericClient + Sync>(
    c: &C,
    consumer: &ParticipantId,
    provider: &ParticipantId,
    topic: &Resource,
) -> Result<Subscription> {
    let d = decide(
        &Principal::Participant(provider.clone()),
        topic,
        &facts(c, None, topic).await?,
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
    let row = c
        .query_one(
            "INSERT INTO subscriptions (provider, consumer, topic, status, requested_at) \
             VALUES ($1, $2, $3, $4, $5) RETURNING id",
            &[
                &provider.as_str(),
                &consumer.as_str(),
                &topic.to_string(),
                &SubscriptionStatus::Requested.as_str(),
                &format_timestamp(&at),
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
        requested_at: at,
        decided_at: None,
    })
}

pub(crate) async fn decide_subscription<C: GenericClient + Sync>(
    c: &C,
    provider: &ParticipantId,
    id: i64,
    accept: bool,
) -> Result<Subscription> {
    let sql = format!("{SUBSCRIPTION_COLUMNS} WHERE id = $1");
    let row = c
        .query_opt(sql.as_str(), &[&id])
        .await
        .pg(&format!("reading subscription {id}"))?
        .ok_or_else(|| ScdError::NotFound {
            record: format!("subscription {id}"),
        })?;
    let mut s = subscription_of(&row)?;
    crate::subscription::check_decision(&s, provider, accept)?;
    let at = now();
    s.status = if accept {
        SubscriptionStatus::Accepted
    } else {
        SubscriptionStatus::Declined
    };
    s.decided_at = Some(at);
    c.execute(
        "UPDATE subscriptions SET status = $1, decided_at = $2 WHERE id = $3",
        &[&s.status.as_str(), &format_timestamp(&at), &id],
    )
    .await
    .pg(&format!("deciding subscription {id}"))?;
    Ok(s)
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
