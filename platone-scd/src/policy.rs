//! The data access policy: who may read what, and which periods of it.
//!
//! A participant may read a resource (a PoD, or a meter or device linked to a PoD) when
//! - it is the customer behind the PoD (its own resource),
//! - it is the aggregator linked to the PoD,
//! - it is the DSO whose grid the PoD is on, or
//! - it holds an **Accepted** subscription whose topic is the resource itself or its PoD.
//!
//! Validity periods of the PoD links limit what each rule gives. Through a meter or device, a
//! PoD's customer and DSO see only the data from while it served the PoD; an aggregator sees a
//! PoD's data only while its link to the PoD is valid; a subscription gives the periods its
//! provider is entitled to. Reads are filtered to those periods, set points and links to those
//! that overlap them.
//!
//! A resource the registry does not know is denied to every participant. The store's operator
//! may read everything. Every decision is written to the audit log by the store's policy and
//! audit layer, the same for every backend.

use platone_model::{ParticipantId, PodId};

use crate::period::Periods;
use crate::records::{PodLink, PodRecord, Principal, Resource, Subscription, SubscriptionStatus};

/// A PoD a resource belongs to, and when: always for the PoD itself, the validity periods of
/// the links for a meter or device.
#[derive(Debug, Clone)]
pub(crate) struct PodFact {
    /// The PoD's registry record.
    pub record: PodRecord,
    /// When the resource belonged to the PoD.
    pub during: Periods,
}

/// An aggregator linked to one of the PoDs, and the validity of that link.
#[derive(Debug, Clone)]
pub(crate) struct AggregatorFact {
    /// The PoD.
    pub pod: PodId,
    /// The aggregator.
    pub aggregator: ParticipantId,
    /// The link's validity.
    pub during: Periods,
}

/// What the registry says about a resource, gathered by a backend.
#[derive(Debug, Clone, Default)]
pub(crate) struct AccessFacts {
    /// The PoDs the resource is (or was) linked to, with their registry records.
    pub pods: Vec<PodFact>,
    /// The aggregators linked to those PoDs.
    pub aggregators: Vec<AggregatorFact>,
    /// The asking participant's subscriptions whose topic is the resource or one of its PoDs.
    pub subscriptions: Vec<Subscription>,
}

impl AccessFacts {
    /// Adds a PoD the resource belongs to during `during` (merged with earlier periods).
    pub fn add_pod(&mut self, record: PodRecord, during: Periods) {
        match self.pods.iter_mut().find(|f| f.record.pod == record.pod) {
            Some(f) => f.during = f.during.union(&during),
            None => self.pods.push(PodFact { record, during }),
        }
    }

    /// Adds a link of one of the PoDs, if it names an aggregator.
    pub fn add_aggregator_link(&mut self, link: &PodLink) {
        if let Some(aggregator) = &link.aggregator {
            self.aggregators.push(AggregatorFact {
                pod: link.pod.clone(),
                aggregator: aggregator.clone(),
                during: Periods::of_validity(&link.valid_from, link.valid_to.as_ref()),
            });
        }
    }

    /// The topics whose subscriptions matter: the resource and each of its PoDs.
    pub fn topics(&self, resource: &Resource) -> Vec<Resource> {
        let mut topics = vec![resource.clone()];
        topics.extend(
            self.pods
                .iter()
                .map(|f| Resource::Pod(f.record.pod.clone())),
        );
        topics.dedup();
        topics
    }
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

    pub(crate) fn deny(reason: impl Into<String>) -> Self {
        Decision {
            allowed: false,
            reason: reason.into(),
        }
    }
}

/// A decision and, when allowed, the periods of the resource's data it covers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Grant {
    /// Allowed or denied, and why.
    pub decision: Decision,
    /// The data periods the participant may see (empty when denied).
    pub periods: Periods,
}

impl Grant {
    fn deny(reason: impl Into<String>) -> Self {
        Grant {
            decision: Decision::deny(reason),
            periods: Periods::none(),
        }
    }

    fn allow(reasons: Vec<String>, periods: Periods) -> Self {
        let mut reason = reasons.join("; ");
        if !periods.is_all() {
            reason.push_str(&format!(", during {}", periods.describe()));
        }
        Grant {
            decision: Decision::allow(reason),
            periods,
        }
    }

    /// A grant for everything: the store's operator.
    pub fn operator() -> Self {
        Grant {
            decision: Decision::allow("store operator"),
            periods: Periods::all(),
        }
    }
}

/// When `p` may see the resource by its own standing (customer, DSO or aggregator, not by a
/// subscription), limited to PoD `only` when given, with the rules that say so.
fn entitlement(
    p: &ParticipantId,
    facts: &AccessFacts,
    only: Option<&PodId>,
) -> (Periods, Vec<String>) {
    let mut periods = Periods::none();
    let mut reasons = Vec::new();
    let wanted = |pod: &PodId| only.is_none_or(|o| o == pod);
    for f in facts.pods.iter().filter(|f| wanted(&f.record.pod)) {
        if f.record.customer.as_ref() == Some(p) {
            periods = periods.union(&f.during);
            reasons.push(format!("own resource (customer of pod {})", f.record.pod));
        } else if &f.record.dso == p {
            periods = periods.union(&f.during);
            reasons.push(format!("DSO of the grid of pod {}", f.record.pod));
        }
    }
    for a in facts
        .aggregators
        .iter()
        .filter(|a| &a.aggregator == p && wanted(&a.pod))
    {
        let Some(pod) = facts.pods.iter().find(|f| f.record.pod == a.pod) else {
            continue;
        };
        let covered = a.during.intersect(&pod.during);
        if !covered.is_empty() {
            periods = periods.union(&covered);
            let reason = format!("aggregator of pod {}", a.pod);
            if !reasons.contains(&reason) {
                reasons.push(reason);
            }
        }
    }
    (periods, reasons)
}

/// Whether `who` may read `resource`, and which periods of its data, given the facts;
/// `use_subscriptions` is false when the question is whether `who` may provide the resource to
/// others.
///
/// A customer or DSO of a PoD sees the PoD's data; through a meter or device, only while it was
/// linked to the PoD. An aggregator sees a PoD's data while its link to the PoD is valid. An
/// Accepted subscription gives what its provider is entitled to for the topic.
pub(crate) fn decide(
    who: &Principal,
    resource: &Resource,
    facts: &AccessFacts,
    use_subscriptions: bool,
) -> Grant {
    let p = match who {
        Principal::Operator => return Grant::operator(),
        Principal::Participant(p) => p,
    };
    if facts.pods.is_empty() {
        return Grant::deny(format!("{resource} is not in the PoD registry"));
    }
    let (mut periods, mut reasons) = entitlement(p, facts, None);
    if !use_subscriptions {
        if periods.is_empty() {
            return Grant::deny(format!("{p} is neither customer, aggregator nor DSO"));
        }
        return Grant::allow(reasons, periods);
    }
    let mut refused = None;
    for s in facts.subscriptions.iter().filter(|s| &s.consumer == p) {
        if s.status != SubscriptionStatus::Accepted {
            refused = Some(format!(
                "subscription {} to {} is {}",
                s.id,
                s.topic,
                s.status.as_str()
            ));
            continue;
        }
        let only = match &s.topic {
            t if t == resource => None,
            Resource::Pod(pod) => Some(pod),
            _ => continue,
        };
        let (given, _) = entitlement(&s.provider, facts, only);
        if given.is_empty() {
            refused = Some(format!(
                "provider {} of subscription {} is no longer entitled to {}",
                s.provider, s.id, s.topic
            ));
            continue;
        }
        periods = periods.union(&given);
        reasons.push(format!("accepted subscription {} to {}", s.id, s.topic));
    }
    if !periods.is_empty() {
        return Grant::allow(reasons, periods);
    }
    if !reasons.is_empty() {
        return Grant::deny(format!(
            "{} covers no period of {resource}",
            reasons.join("; ")
        ));
    }
    match refused {
        Some(reason) => Grant::deny(reason),
        None => Grant::deny("no ownership, grid or accepted subscription"),
    }
}

/// Whether link `link` was valid at some time in `periods`.
pub(crate) fn link_overlaps(link: &PodLink, periods: &Periods) -> bool {
    !Periods::of_validity(&link.valid_from, link.valid_to.as_ref())
        .intersect(periods)
        .is_empty()
}

/// Whether set point `sp`'s window `[valid_from, valid_to)` overlaps `periods`.
pub(crate) fn set_point_visible(sp: &platone_model::SetPoint, periods: &Periods) -> bool {
    !Periods::of_validity(&sp.valid_from, Some(&sp.valid_to))
        .intersect(periods)
        .is_empty()
}

/// Decides on every resource a read names, given each one's facts: all must be allowed, and the
/// data periods are what every grant covers. A participant that names nothing is denied.
pub(crate) fn decide_all(who: &Principal, facts: &[(Resource, AccessFacts)]) -> Grant {
    if matches!(who, Principal::Operator) {
        return Grant::operator();
    }
    if facts.is_empty() {
        return Grant::deny("a participant's query must name a PoD, meter or device");
    }
    let mut reasons = Vec::new();
    let mut periods = Periods::all();
    for (r, f) in facts {
        let g = decide(who, r, f, true);
        if !g.decision.allowed {
            return g;
        }
        reasons.push(g.decision.reason);
        periods = periods.intersect(&g.periods);
    }
    Grant {
        decision: Decision::allow(reasons.join("; ")),
        periods,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use platone_model::{MeterId, Timestamp, parse_timestamp};

    fn id(s: &str) -> ParticipantId {
        ParticipantId::new(s).unwrap()
    }

    fn t(s: &str) -> Timestamp {
        parse_timestamp(s).unwrap()
    }

    fn ns(s: &str) -> i64 {
        t(s).timestamp_nanos_opt().unwrap()
    }

    fn record(pod: &str, dso: &str, customer: &str) -> PodRecord {
        PodRecord {
            pod: PodId::new(pod).unwrap(),
            dso: id(dso),
            customer: Some(id(customer)),
        }
    }

    fn who(s: &str) -> Principal {
        Principal::Participant(id(s))
    }

    fn subscription(consumer: &str, provider: &str, topic: Resource) -> Subscription {
        Subscription {
            id: 7,
            provider: id(provider),
            consumer: id(consumer),
            topic,
            status: SubscriptionStatus::Requested,
            requested_at: t("2021-01-01T00:00:00Z"),
            decided_at: None,
        }
    }

    #[test]
    fn rules_in_order() {
        let pod = PodId::new("p").unwrap();
        let r = Resource::Pod(pod.clone());
        let mut facts = AccessFacts::default();
        facts.add_pod(record("p", "dso", "cust"), Periods::all());
        facts.add_aggregator_link(&PodLink {
            pod: pod.clone(),
            meter: None,
            device: None,
            aggregator: Some(id("agg")),
            valid_from: t("2021-01-01T00:00:00Z"),
            valid_to: None,
        });
        let allowed =
            |p: &Principal, facts: &AccessFacts| decide(p, &r, facts, true).decision.allowed;
        assert!(allowed(&who("cust"), &facts));
        assert!(allowed(&who("dso"), &facts));
        assert!(allowed(&who("agg"), &facts));
        assert!(allowed(&Principal::Operator, &facts));
        assert!(!allowed(&who("x"), &facts));
        assert!(decide(&who("cust"), &r, &facts, true).periods.is_all());
        let agg = decide(&who("agg"), &r, &facts, true);
        assert_eq!(
            agg.periods.spans(),
            [(ns("2021-01-01T00:00:00Z"), i64::MAX)]
        );
        assert!(
            agg.decision
                .reason
                .contains("during [2021-01-01T00:00:00Z, …)"),
            "{agg:?}"
        );
        let mut sub = subscription("x", "cust", r.clone());
        facts.subscriptions.push(sub.clone());
        let d = decide(&who("x"), &r, &facts, true).decision;
        assert!(!d.allowed && d.reason.contains("Requested"), "{d:?}");
        sub.status = SubscriptionStatus::Accepted;
        facts.subscriptions = vec![sub.clone()];
        assert!(allowed(&who("x"), &facts));
        assert!(!decide(&who("x"), &r, &facts, false).decision.allowed);
        // A subscription provided by the aggregator gives the aggregator's periods.
        sub.provider = id("agg");
        facts.subscriptions = vec![sub];
        assert_eq!(decide(&who("x"), &r, &facts, true).periods, agg.periods);
        facts.pods.clear();
        assert!(!allowed(&who("dso"), &facts));
    }

    #[test]
    fn meter_reads_are_limited_to_link_periods() {
        // Meter m served pod p1 until noon, then pod p2; agg-1 was p1's aggregator from 06:00.
        let m = Resource::Meter(MeterId::new("m").unwrap());
        let noon = ns("2021-06-30T12:00:00Z");
        let mut facts = AccessFacts::default();
        facts.add_pod(record("p1", "dso", "c1"), Periods::between(i64::MIN, noon));
        facts.add_pod(record("p2", "dso", "c2"), Periods::between(noon, i64::MAX));
        facts.add_aggregator_link(&PodLink {
            pod: PodId::new("p1").unwrap(),
            meter: None,
            device: None,
            aggregator: Some(id("agg-1")),
            valid_from: t("2021-06-30T06:00:00Z"),
            valid_to: Some(t("2021-07-01T00:00:00Z")),
        });
        let periods = |p: &str, facts: &AccessFacts| decide(&who(p), &m, facts, true).periods;
        assert_eq!(periods("c1", &facts).spans(), [(i64::MIN, noon)]);
        assert_eq!(periods("c2", &facts).spans(), [(noon, i64::MAX)]);
        assert!(periods("dso", &facts).is_all());
        assert_eq!(
            periods("agg-1", &facts).spans(),
            [(ns("2021-06-30T06:00:00Z"), noon)]
        );
        // A subscription to p2 gives only the meter's p2 period, even if its provider is the
        // DSO of both.
        let mut sub = subscription("x", "dso", Resource::Pod(PodId::new("p2").unwrap()));
        sub.status = SubscriptionStatus::Accepted;
        facts.subscriptions = vec![sub];
        assert_eq!(periods("x", &facts).spans(), [(noon, i64::MAX)]);
        // An aggregator whose link never overlaps the meter's time at the PoD sees nothing.
        let mut facts = AccessFacts::default();
        facts.add_pod(record("p1", "dso", "c1"), Periods::between(0, 10));
        facts.aggregators.push(AggregatorFact {
            pod: PodId::new("p1").unwrap(),
            aggregator: id("late"),
            during: Periods::between(10, 20),
        });
        let g = decide(&who("late"), &m, &facts, true);
        assert!(!g.decision.allowed, "{g:?}");
        // Several resources: the periods every one of them allows.
        let grant = decide_all(
            &who("c1"),
            &[
                (m.clone(), facts.clone()),
                (m.clone(), {
                    let mut f = AccessFacts::default();
                    f.add_pod(record("p1", "dso", "c1"), Periods::between(5, 50));
                    f
                }),
            ],
        );
        assert_eq!(grant.periods.spans(), [(5, 10)]);
        assert!(!decide_all(&who("c1"), &[]).decision.allowed);
        assert!(decide_all(&Principal::Operator, &[]).periods.is_all());
    }
}
