//! The data access policy: who may read what.
//!
//! A participant may read a resource (a PoD, or a meter or device linked to a PoD) when
//! - it is the customer behind the PoD (its own resource),
//! - it is the aggregator linked to the PoD,
//! - it is the DSO whose grid the PoD is on, or
//! - it holds an **Accepted** subscription whose topic is the resource itself or its PoD.
//!
//! A resource the registry does not know is denied to every participant. The store's operator
//! may read everything. Every decision is written to the audit log by the store.

use platone_model::ParticipantId;

use crate::records::{PodRecord, Principal, Resource, Subscription, SubscriptionStatus};

/// What the registry says about a resource, gathered by a backend.
#[derive(Debug, Clone, Default)]
pub(crate) struct AccessFacts {
    /// The PoDs the resource is (or was) linked to, with their registry records.
    pub pods: Vec<PodRecord>,
    /// The aggregators linked to those PoDs.
    pub aggregators: Vec<ParticipantId>,
    /// The asking participant's subscriptions whose topic is the resource or one of its PoDs.
    pub subscriptions: Vec<Subscription>,
}

/// The outcome of a policy check.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Decision {
    /// Whether access is allowed.
    pub allowed: bool,
    /// The rule that decided.
    pub reason: String,
}

impl Decision {
    fn allow(reason: impl Into<String>) -> Self {
        Decision {
            allowed: true,
            reason: reason.into(),
        }
    }

    fn deny(reason: impl Into<String>) -> Self {
        Decision {
            allowed: false,
            reason: reason.into(),
        }
    }
}

/// Whether `who` may read `resource`, given the facts; `use_subscriptions` is false when the
/// question is whether `who` may provide the resource to others.
pub(crate) fn decide(
    who: &Principal,
    resource: &Resource,
    facts: &AccessFacts,
    use_subscriptions: bool,
) -> Decision {
    let p = match who {
        Principal::Operator => return Decision::allow("store operator"),
        Principal::Participant(p) => p,
    };
    if facts.pods.is_empty() {
        return Decision::deny(format!("{resource} is not in the PoD registry"));
    }
    if let Some(pod) = facts.pods.iter().find(|r| r.customer.as_ref() == Some(p)) {
        return Decision::allow(format!("own resource (customer of pod {})", pod.pod));
    }
    if let Some(pod) = facts.pods.iter().find(|r| &r.dso == p) {
        return Decision::allow(format!("DSO of the grid of pod {}", pod.pod));
    }
    if facts.aggregators.contains(p) {
        return Decision::allow("aggregator of the PoD");
    }
    if !use_subscriptions {
        return Decision::deny(format!("{p} is neither customer, aggregator nor DSO"));
    }
    let mine = facts.subscriptions.iter().filter(|s| &s.consumer == p);
    let mut other = None;
    for s in mine {
        if s.status == SubscriptionStatus::Accepted {
            return Decision::allow(format!("accepted subscription {} to {}", s.id, s.topic));
        }
        other = Some(s);
    }
    match other {
        Some(s) => Decision::deny(format!(
            "subscription {} to {} is {}",
            s.id,
            s.topic,
            s.status.as_str()
        )),
        None => Decision::deny("no ownership, grid or accepted subscription"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use platone_model::{PodId, parse_timestamp};

    fn id(s: &str) -> ParticipantId {
        ParticipantId::new(s).unwrap()
    }

    #[test]
    fn rules_in_order() {
        let pod = PodId::new("p").unwrap();
        let r = Resource::Pod(pod.clone());
        let mut facts = AccessFacts {
            pods: vec![PodRecord {
                pod: pod.clone(),
                dso: id("dso"),
                customer: Some(id("cust")),
            }],
            aggregators: vec![id("agg")],
            subscriptions: vec![],
        };
        let who = |s: &str| Principal::Participant(id(s));
        assert!(decide(&who("cust"), &r, &facts, true).allowed);
        assert!(decide(&who("dso"), &r, &facts, true).allowed);
        assert!(decide(&who("agg"), &r, &facts, true).allowed);
        assert!(decide(&Principal::Operator, &r, &facts, true).allowed);
        assert!(!decide(&who("x"), &r, &facts, true).allowed);
        let mut sub = Subscription {
            id: 7,
            provider: id("cust"),
            consumer: id("x"),
            topic: r.clone(),
            status: SubscriptionStatus::Requested,
            requested_at: parse_timestamp("2021-01-01T00:00:00Z").unwrap(),
            decided_at: None,
        };
        facts.subscriptions.push(sub.clone());
        let d = decide(&who("x"), &r, &facts, true);
        assert!(!d.allowed && d.reason.contains("Requested"), "{d:?}");
        sub.status = SubscriptionStatus::Accepted;
        facts.subscriptions = vec![sub];
        assert!(decide(&who("x"), &r, &facts, true).allowed);
        assert!(!decide(&who("x"), &r, &facts, false).allowed);
        facts.pods.clear();
        assert!(!decide(&who("dso"), &r, &facts, true).allowed);
    }
}
