//! The latest value of every series the measurement map routes.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;

use platone_grid::{GridMeasurement, MeasurementMap};
use platone_model::{Measurement, SeriesKey, Timestamp};

/// The newest measurement of each routed series (a newer time stamp replaces an older one;
/// an older one arriving late is ignored).
#[derive(Debug)]
pub struct LatestValues {
    map: MeasurementMap,
    values: Mutex<HashMap<SeriesKey, Measurement>>,
}

impl LatestValues {
    /// Empty, for the series `map` routes.
    pub fn new(map: MeasurementMap) -> Self {
        LatestValues {
            map,
            values: Mutex::new(HashMap::new()),
        }
    }

    /// Takes in the measurements the map routes; the others are not kept.
    pub fn observe(&self, measurements: &[Measurement]) {
        let Ok(mut values) = self.values.lock() else {
            return;
        };
        for m in measurements {
            if self.map.route_for(m).is_none() {
                continue;
            }
            let key = m.series_key();
            match values.get(&key) {
                Some(held) if held.timestamp >= m.timestamp => {}
                _ => {
                    values.insert(key, m.clone());
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

    /// The unified measurement set: the values at most `max_age` older than the newest,
    /// mapped (in a stable order: by series key), and the newest time stamp.
    pub fn unified(&self, max_age: Duration) -> (Vec<GridMeasurement>, Option<Timestamp>) {
        let Ok(values) = self.values.lock() else {
            return (Vec::new(), None);
        };
        let Some(newest) = values.values().map(|m| m.timestamp).max() else {
            return (Vec::new(), None);
        };
        let oldest = newest - chrono::TimeDelta::from_std(max_age).unwrap_or(chrono::TimeDelta::MAX);
        let mut fresh: Vec<(&SeriesKey, &Measurement)> = values
            .iter()
            .filter(|(_, m)| m.timestamp >= oldest)
            .collect();
        fresh.sort_by(|a, b| a.0.cmp(b.0));
        let list: Vec<Measurement> = fresh.into_iter().map(|(_, m)| m.clone()).collect();
        (self.map.map(&list).measurements, Some(newest))
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
}
