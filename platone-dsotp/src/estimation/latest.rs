//! The latest value of every series the measurement map routes.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;

use platone_grid::{GridMeasurement, MeasurementMap};
use platone_model::{Measurement, SeriesKey, Timestamp};

/// How far ahead of this machine's clock a time stamp may be (clock skew) before it is
/// refused: one stamped later would keep every other series out of the set as stale.
pub const FUTURE_SKEW: chrono::TimeDelta = chrono::TimeDelta::seconds(60);

/// The newest measurement of each routed series (a newer time stamp replaces an older one;
/// an older one arriving late is ignored; one stamped more than [`FUTURE_SKEW`] ahead of now
/// is refused and counted).
///
/// A route matches a measurement only when their source devices are equal, so the routes are
/// indexed by source: finding a measurement's route looks at that device's few routes (in map
/// order, so the first that matches still wins) instead of scanning them all, which on a map
/// of thousands of routes cost milliseconds per message.
#[derive(Debug)]
pub struct LatestValues {
    map: MeasurementMap,
    by_source: HashMap<String, Vec<usize>>,
    values: Mutex<HashMap<SeriesKey, Latest>>,
    refused: std::sync::atomic::AtomicU64,
}

/// A series' newest measurement and the position of the route that takes it.
#[derive(Debug)]
struct Latest {
    route: usize,
    measurement: Measurement,
}

impl LatestValues {
    /// Empty, for the series `map` routes.
    pub fn new(map: MeasurementMap) -> Self {
        let mut by_source: HashMap<String, Vec<usize>> = HashMap::new();
        for (k, route) in map.routes.iter().enumerate() {
            by_source.entry(route.source.clone()).or_default().push(k);
        }
        LatestValues {
            map,
            by_source,
            values: Mutex::new(HashMap::new()),
            refused: std::sync::atomic::AtomicU64::new(0),
        }
    }

    /// Measurements refused for a time stamp ahead of the clock.
    pub fn refused(&self) -> u64 {
        self.refused.load(std::sync::atomic::Ordering::Relaxed)
    }

    /// The position of the route that takes `m` (the first that matches, as
    /// [`MeasurementMap::route_for`]).
    fn route_for(&self, m: &Measurement) -> Option<usize> {
        self.by_source
            .get(m.source.as_str())?
            .iter()
            .copied()
            .find(|&k| self.map.routes[k].matches(m))
    }

    /// Takes in the measurements the map routes; the others are not kept.
    pub fn observe(&self, measurements: &[Measurement]) {
        let latest_allowed = chrono::Utc::now() + FUTURE_SKEW;
        let routed: Vec<(usize, &Measurement)> = measurements
            .iter()
            .filter_map(|m| Some((self.route_for(m)?, m)))
            .filter(|(_, m)| {
                let in_time = m.timestamp <= latest_allowed;
                if !in_time {
                    self.refused
                        .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                    tracing::warn!(
                        "{}: time stamp {} is ahead of the clock: not taken",
                        m.source,
                        m.timestamp
                    );
                }
                in_time
            })
            .collect();
        if routed.is_empty() {
            return;
        }
        let Ok(mut values) = self.values.lock() else {
            return;
        };
        for (route, m) in routed {
            let key = m.series_key();
            match values.get(&key) {
                Some(held) if held.measurement.timestamp >= m.timestamp => {}
                _ => {
                    values.insert(
                        key,
                        Latest {
                            route,
                            measurement: m.clone(),
                        },
                    );
                }
            }
        }
    }

    /// How many series have a value.
    pub fn len(&self) -> usize {
        self.values.lock().map(|v| v.len()).unwrap_or(0)
    }

    /// Whether no series has a value.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The unified measurement set: the values at most `max_age` older than the newest (or
    /// than now, if the newest is ahead of it), mapped (in a stable order: by series key;
    /// values that do not map to a finite number left out), and the newest time stamp.
    pub fn unified(&self, max_age: Duration) -> (Vec<GridMeasurement>, Option<Timestamp>) {
        let Ok(values) = self.values.lock() else {
            return (Vec::new(), None);
        };
        let Some(newest) = values.values().map(|l| l.measurement.timestamp).max() else {
            return (Vec::new(), None);
        };
        // From the newest, or from now when even the newest is in the future (within the
        // skew): values older than `max_age` by then are stale.
        let now = chrono::Utc::now().fixed_offset();
        let reference = newest.min(now);
        let oldest = chrono::TimeDelta::from_std(max_age)
            .ok()
            .and_then(|age| reference.checked_sub_signed(age))
            .unwrap_or(reference);
        let mut fresh: Vec<(&SeriesKey, &Latest)> = values
            .iter()
            .filter(|(_, l)| l.measurement.timestamp >= oldest)
            .collect();
        fresh.sort_unstable_by(|a, b| a.0.cmp(b.0));
        let set = fresh
            .into_iter()
            .filter_map(|(_, l)| self.map.routes[l.route].to_grid(&l.measurement))
            .collect();
        (set, Some(newest))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use platone_grid::{Location, MeasurementRoute, Quantity};
    use platone_model::{DeviceId, MeasurementKind, Unit};

    fn voltage(source: &str, at: &str, value: f64) -> Measurement {
        Measurement::new(
            DeviceId::new(source).unwrap(),
            platone_model::parse_timestamp(at).unwrap(),
            MeasurementKind::Voltage,
            Unit::Volt,
            value,
        )
        .unwrap()
    }

    #[test]
    fn keeps_the_newest_routed_value_and_drops_stale_ones() {
        let route = |source: &str, bus| MeasurementRoute {
            source: source.into(),
            channel: None,
            component: None,
            phases: None,
            kind: MeasurementKind::Voltage,
            quantity: Quantity::VoltageMagnitude,
            location: Location::Bus(bus),
            scale: 1.0 / 230.0,
            sigma: 0.01,
        };
        let latest = LatestValues::new(MeasurementMap {
            routes: vec![route("pmu-1", 1), route("pmu-2", 2)],
        });
        latest.observe(&[
            voltage("pmu-1", "2024-01-01T00:00:01Z", 230.0),
            voltage("pmu-1", "2024-01-01T00:00:00Z", 1.0), // late, older: ignored
            voltage("pmu-2", "2024-01-01T00:00:00Z", 225.4),
            voltage("other", "2024-01-01T00:00:09Z", 1.0), // not routed: not kept
        ]);
        assert_eq!(latest.len(), 2);
        let (set, newest) = latest.unified(Duration::from_secs(5));
        assert_eq!(set.len(), 2);
        assert!((set[0].value - 1.0).abs() < 1e-12);
        assert!((set[1].value - 0.98).abs() < 1e-12);
        assert_eq!(newest.unwrap().to_rfc3339(), "2024-01-01T00:00:01+00:00");
        latest.observe(&[voltage("pmu-1", "2024-01-01T00:00:30Z", 231.0)]);
        let (set, _) = latest.unified(Duration::from_secs(5));
        assert_eq!(set.len(), 1, "pmu-2 is 30 s behind");
    }

    #[test]
    fn the_index_routes_as_the_map_does() {
        // Two routes for one source (the first that matches wins), one per channel, one for
        // another device; the unified set equals what the map makes of the same series.
        let route = |source: &str, channel: Option<&str>, bus, scale| MeasurementRoute {
            source: source.into(),
            channel: channel.map(str::to_owned),
            component: None,
            phases: None,
            kind: MeasurementKind::Voltage,
            quantity: Quantity::VoltageMagnitude,
            location: Location::Bus(bus),
            scale,
            sigma: 0.01,
        };
        let map = MeasurementMap {
            routes: vec![
                route("pmu-1", Some("V1"), 1, 1.0),
                route("pmu-1", None, 2, 2.0),
                route("pmu-1", Some("V3"), 3, 3.0), // shadowed by the route without a channel
                route("pmu-2", None, 4, 4.0),
            ],
        };
        let latest = LatestValues::new(map.clone());
        let mut list = Vec::new();
        for (source, channel) in [
            ("pmu-1", "V1"),
            ("pmu-1", "V2"),
            ("pmu-1", "V3"),
            ("pmu-2", "x"),
        ] {
            let mut m = voltage(source, "2024-01-01T00:00:00Z", 1.0)
                .with_channel(channel)
                .unwrap();
            m.unit = Unit::Volt;
            list.push(m);
        }
        list.push(voltage("pmu-3", "2024-01-01T00:00:00Z", 1.0));
        latest.observe(&list);
        let (set, _) = latest.unified(Duration::from_secs(5));
        let mut sorted: Vec<Measurement> = list[..4].to_vec();
        sorted.sort_by_key(|m| m.series_key());
        assert_eq!(set, map.map(&sorted).measurements);
        let buses: Vec<_> = set.iter().map(|g| g.location).collect();
        assert_eq!(
            buses,
            vec![
                Location::Bus(1),
                Location::Bus(2),
                Location::Bus(2),
                Location::Bus(4)
            ]
        );
    }

    #[test]
    fn time_stamps_ahead_of_the_clock_and_values_out_of_range_are_left_out() {
        let route = |source: &str, bus| MeasurementRoute {
            source: source.into(),
            channel: None,
            component: None,
            phases: None,
            kind: MeasurementKind::Voltage,
            quantity: Quantity::VoltageMagnitude,
            location: Location::Bus(bus),
            scale: 1.0 / 230.0,
            sigma: 0.01,
        };
        let latest = LatestValues::new(MeasurementMap {
            routes: vec![route("pmu-1", 1), route("pmu-2", 2), route("pmu-3", 3)],
        });
        let now = chrono::Utc::now();
        let at = |t: chrono::DateTime<chrono::Utc>| t.to_rfc3339();
        let mut huge = voltage("pmu-3", &at(now), 1e300);
        huge.multiplier = platone_model::UnitMultiplier::new(24).unwrap();
        latest.observe(&[
            voltage("pmu-1", &at(now), 230.0),
            voltage("pmu-2", &at(now + chrono::TimeDelta::hours(1)), 230.0), // refused
            huge,                                                            // kept, not mapped
        ]);
        assert_eq!(latest.refused(), 1);
        assert_eq!(latest.len(), 2);
        let (set, _) = latest.unified(Duration::from_secs(5));
        assert_eq!(set.len(), 1, "{set:?}");
        assert!((set[0].value - 1.0).abs() < 1e-12);
    }
}
