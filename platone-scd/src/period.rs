//! Sets of half-open time periods in UTC nanoseconds: when a participant may see a resource's
//! data (the validity periods of the PoD links that entitle it). The policy layer hands them to
//! the backends' reads, which return only data inside them.

use platone_model::{Timestamp, format_timestamp};

use crate::row::utc_from_ns;

/// Sorted, disjoint, non-empty half-open periods `[start, end)` in UTC nanoseconds.
/// `i64::MIN` as a start and `i64::MAX` as an end mean "unbounded".
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Periods(Vec<(i64, i64)>);

/// The UTC nanoseconds of `t`, saturating to the unbounded ends outside 1677–2262.
pub(crate) fn saturating_ns(t: &Timestamp) -> i64 {
    t.timestamp_nanos_opt().unwrap_or(if t.timestamp() < 0 {
        i64::MIN
    } else {
        i64::MAX
    })
}

impl Periods {
    /// All of time.
    pub fn all() -> Self {
        Periods(vec![(i64::MIN, i64::MAX)])
    }

    /// No time at all.
    pub fn none() -> Self {
        Periods(Vec::new())
    }

    /// `[start, end)`, empty when `end <= start`.
    pub fn between(start: i64, end: i64) -> Self {
        if end > start {
            Periods(vec![(start, end)])
        } else {
            Periods::none()
        }
    }

    /// `[from, to)` from timestamps; `to` absent: unbounded.
    pub fn of_validity(from: &Timestamp, to: Option<&Timestamp>) -> Self {
        Periods::between(saturating_ns(from), to.map_or(i64::MAX, saturating_ns))
    }

    /// Whether no instant is covered.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Whether every instant is covered.
    pub fn is_all(&self) -> bool {
        self.0 == [(i64::MIN, i64::MAX)]
    }

    /// The periods, in order.
    pub fn spans(&self) -> &[(i64, i64)] {
        &self.0
    }

    /// Every instant in `self` or `other`.
    #[must_use]
    pub fn union(&self, other: &Periods) -> Periods {
        let mut all: Vec<(i64, i64)> = self.0.iter().chain(&other.0).copied().collect();
        all.sort_unstable();
        let mut out: Vec<(i64, i64)> = Vec::with_capacity(all.len());
        for (start, end) in all {
            match out.last_mut() {
                Some(last) if start <= last.1 => last.1 = last.1.max(end),
                _ => out.push((start, end)),
            }
        }
        Periods(out)
    }

    /// Every instant in both `self` and `other`.
    #[must_use]
    pub fn intersect(&self, other: &Periods) -> Periods {
        let mut out = Vec::new();
        let (mut i, mut j) = (0, 0);
        while let (Some(&(a0, a1)), Some(&(b0, b1))) = (self.0.get(i), other.0.get(j)) {
            let (start, end) = (a0.max(b0), a1.min(b1));
            if end > start {
                out.push((start, end));
            }
            if a1 < b1 {
                i += 1;
            } else {
                j += 1;
            }
        }
        Periods(out)
    }

    /// Whether instant `ns` is covered.
    pub fn contains(&self, ns: i64) -> bool {
        self.0
            .iter()
            .any(|&(a, b)| a <= ns && (ns < b || b == i64::MAX))
    }

    /// A text form for the audit log, e.g. `[2021-01-01T00:00:00Z, 2021-06-30T12:00:00Z)`.
    pub fn describe(&self) -> String {
        if self.is_empty() {
            return "no period".into();
        }
        let end = |ns: i64, open: &str| {
            if ns == i64::MIN || ns == i64::MAX {
                open.to_string()
            } else {
                format_timestamp(&utc_from_ns(ns))
            }
        };
        self.0
            .iter()
            .map(|&(a, b)| format!("[{}, {})", end(a, "…"), end(b, "…")))
            .collect::<Vec<_>>()
            .join(" ∪ ")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn p(spans: &[(i64, i64)]) -> Periods {
        spans.iter().fold(Periods::none(), |acc, &(a, b)| {
            acc.union(&Periods::between(a, b))
        })
    }

    #[test]
    fn union_merges_touching_and_overlapping() {
        assert_eq!(
            p(&[(0, 5), (5, 7), (10, 12), (11, 20)]).spans(),
            [(0, 7), (10, 20)]
        );
        assert!(p(&[(3, 3)]).is_empty());
        assert!(Periods::all().union(&p(&[(1, 2)])).is_all());
    }

    #[test]
    fn intersect_and_describe() {
        let a = p(&[(0, 10), (20, 30)]);
        let b = p(&[(5, 25)]);
        assert_eq!(a.intersect(&b).spans(), [(5, 10), (20, 25)]);
        assert!(a.intersect(&p(&[(10, 20)])).is_empty());
        assert_eq!(a.intersect(&Periods::all()), a);
        assert_eq!(Periods::all().describe(), "[…, …)");
        assert_eq!(
            Periods::between(0, i64::MAX).describe(),
            "[1970-01-01T00:00:00Z, …)"
        );
        assert!(a.contains(0) && !a.contains(10) && Periods::all().contains(i64::MAX));
    }

    proptest! {
        #[test]
        fn set_operations_agree_with_membership(
            a in proptest::collection::vec((-50i64..50, 0i64..20), 0..6),
            b in proptest::collection::vec((-50i64..50, 0i64..20), 0..6),
            x in -60i64..80,
        ) {
            let a = p(&a.iter().map(|&(s, l)| (s, s + l)).collect::<Vec<_>>());
            let b = p(&b.iter().map(|&(s, l)| (s, s + l)).collect::<Vec<_>>());
            prop_assert_eq!(a.union(&b).contains(x), a.contains(x) || b.contains(x));
            prop_assert_eq!(a.intersect(&b).contains(x), a.contains(x) && b.contains(x));
            prop_assert!(a.union(&b).spans().windows(2).all(|w| w[0].1 < w[1].0));
        }
    }
}
