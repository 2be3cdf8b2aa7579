//! The mapping out: [`Measurement`]s and [`SetPoint`]s to triples.
//!
//! The triples go to a [`TripleSink`] one at a time, grouped by subject where they can be; the
//! mapper keeps only the IRIs of the nodes it has described (devices, features of interest,
//! properties), so memory grows with the number of series, not of readings.

use std::collections::HashSet;
use std::fmt::Write as _;
use std::io;

use oxrdf::{LiteralRef, NamedNodeRef, TermRef, TripleRef};
use platone_model::{
    Measurement, MeasurementKind, SetPoint, Unit, UnitMultiplier, format_timestamp,
};

use crate::iri::{Base, push_encoded};
use crate::vocab::{self, t};

/// Where triples go: a serializer or a collector.
pub trait TripleSink {
    /// Takes one triple.
    fn triple(&mut self, triple: TripleRef<'_>) -> io::Result<()>;
}

impl TripleSink for Vec<oxrdf::Triple> {
    fn triple(&mut self, triple: TripleRef<'_>) -> io::Result<()> {
        self.push(triple.into_owned());
        Ok(())
    }
}

impl TripleSink for oxrdf::Graph {
    fn triple(&mut self, triple: TripleRef<'_>) -> io::Result<()> {
        self.insert(triple);
        Ok(())
    }
}

/// Which SAREF core pattern measurements follow.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum Pattern {
    /// SAREF core 3.1.1: a `saref:Measurement` with value, unit, timestamp, property, feature
    /// of interest and device (the default; every term is in the 3.1.1 file).
    #[default]
    Saref3Measurement,
    /// SAREF core 4: a `saref:Observation` (`saref:madeBy`, `saref:observes`,
    /// `saref:hasFeatureOfInterest`, `saref:hasTimestamp`) whose `saref:hasResult` is a
    /// `saref:PropertyValue` (`saref:hasValue`, `saref:isMeasuredIn`,
    /// `saref:isValueOfProperty`). See docs/saref.md for which terms could be checked.
    Saref4Observation,
}

/// How a measuring device is typed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum DeviceRole {
    /// A meter when the measurement's `meter` is its `source`, a PMU when it names a grid
    /// component, a plain device otherwise.
    #[default]
    Auto,
    /// `saref:Meter`, `s4grid:Meter` (IEC 61968-9 meter readings).
    Meter,
    /// `sgc:PMU`, `saref:Meter` (C37.118 or SOGNO phasor data).
    Pmu,
    /// `saref:Device`.
    Device,
}

/// The datatype of `saref:hasValue`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum ValueDatatype {
    /// `xsd:double`, shortest text that reads back to the same number (the default).
    #[default]
    Double,
    /// `xsd:decimal`, plain decimal notation (what the meter-reading proposal writes).
    Decimal,
}

/// How to map: the base IRI, the SAREF pattern, how devices are typed, the value datatype.
#[derive(Debug, Clone, Default)]
pub struct MappingOptions {
    /// The base every minted IRI starts with.
    pub base: Base,
    /// The SAREF core pattern of measurements.
    pub pattern: Pattern,
    /// How measuring devices are typed.
    pub device_role: DeviceRole,
    /// The datatype of values.
    pub value_datatype: ValueDatatype,
}

/// A measurement's certification: the batch it was certified in, the batch's Merkle root,
/// where that root was anchored and the measurement's leaf index. Written with the `platone:`
/// vocabulary (`platone:certifiedIn`, `platone:leafIndex`, `platone:CertifiedBatch` with
/// `platone:batchId`, `platone:merkleRoot`, `platone:anchor`, `platone:anchorLedger`,
/// `platone:anchorPosition`, `platone:anchoredAt`) and read back by
/// [`read_certified_measurements`](crate::read_certified_measurements). While a batch is not
/// anchored yet, every `anchor*` field is `None` and nothing of the anchor is written.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct CertificationRef {
    /// The batch identifier.
    pub batch: String,
    /// The batch's Merkle root, `0x`-prefixed hex.
    pub root: String,
    /// The ledger entry that anchors the root (a transaction hash, an entry hash), once
    /// anchored.
    pub anchor: Option<String>,
    /// The measurement's leaf index in the batch, when known.
    pub leaf_index: Option<u64>,
    /// The ledger the root is anchored in (`file:PATH`, a chain id and contract address).
    pub anchor_ledger: Option<String>,
    /// The anchoring entry's position in that ledger (entry or block number).
    pub anchor_position: Option<u64>,
    /// When the ledger confirmed the anchor.
    pub anchored_at: Option<platone_model::Timestamp>,
}

/// Descriptions already written are remembered up to this many nodes; past it the memory is
/// cleared and descriptions are written again (which leaves the graph unchanged).
const SEEN_LIMIT: usize = 1 << 16;

/// Maps model values to triples, remembering which nodes it has already described.
pub struct Mapper {
    options: MappingOptions,
    /// IRIs of the nodes described so far. foldhash rather than SipHash: five lookups of
    /// 40–130-byte IRIs per reading were a fifth of mapping and writing; the seed is random
    /// per mapper, and the set is capped at [`SEEN_LIMIT`].
    seen: HashSet<String, foldhash::fast::RandomState>,
    dev: String,
    meter: String,
    foi: String,
    extra_foi: String,
    prop: String,
    plocal: String,
    node: String,
    aux: String,
    aux2: String,
    value: String,
    /// The current measurement's timestamp, as written.
    ts: String,
    number: ryu_js::Buffer,
}

impl std::fmt::Debug for Mapper {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Mapper")
            .field("options", &self.options)
            .field("described", &self.seen.len())
            .finish_non_exhaustive()
    }
}

fn n(iri: &str) -> NamedNodeRef<'_> {
    NamedNodeRef::new_unchecked(iri)
}

fn typed<'a>(value: &'a str, datatype: &'a str) -> TermRef<'a> {
    LiteralRef::new_typed_literal(value, n(datatype)).into()
}

fn emit<'a, S: TripleSink>(
    sink: &mut S,
    s: &'a str,
    p: &'a str,
    o: impl Into<TermRef<'a>>,
) -> io::Result<()> {
    sink.triple(TripleRef::new(n(s), n(p), o.into()))
}

fn emit_iri<S: TripleSink>(sink: &mut S, s: &str, p: &str, o: &str) -> io::Result<()> {
    sink.triple(TripleRef::new(n(s), n(p), n(o)))
}

fn str_lit(value: &str) -> TermRef<'_> {
    LiteralRef::new_simple_literal(value).into()
}

/// Whether `key` is new to `seen`; remembers it (copying it only then).
fn remember(seen: &mut HashSet<String, foldhash::fast::RandomState>, key: &str) -> bool {
    if seen.contains(key) {
        return false;
    }
    if seen.len() >= SEEN_LIMIT {
        seen.clear();
    }
    seen.insert(key.to_string());
    true
}

/// Appends `t` exactly as [`format_timestamp`] writes it (RFC 3339, the timestamp's own offset,
/// `Z` for UTC, no fractional digits or 3, 6 or 9 as needed), without allocating; the rare
/// cases (years outside 0–9999, leap seconds, offsets with seconds) go through `chrono`.
pub(crate) fn push_timestamp(out: &mut String, t: &platone_model::Timestamp) {
    use chrono::{Datelike, Timelike};
    let local = t.naive_local();
    let year = local.year();
    let nano = local.nanosecond();
    let offset = t.offset().local_minus_utc();
    if !(0..=9999).contains(&year) || nano >= 1_000_000_000 || offset % 60 != 0 {
        out.push_str(&format_timestamp(t));
        return;
    }
    let mut b = [0u8; 40];
    let two = |b: &mut [u8], at: usize, v: u32| {
        b[at] = b'0' + (v / 10 % 10) as u8;
        b[at + 1] = b'0' + (v % 10) as u8;
    };
    let year = year.unsigned_abs();
    two(&mut b, 0, year / 100);
    two(&mut b, 2, year % 100);
    b[4] = b'-';
    two(&mut b, 5, local.month());
    b[7] = b'-';
    two(&mut b, 8, local.day());
    b[10] = b'T';
    two(&mut b, 11, local.hour());
    b[13] = b':';
    two(&mut b, 14, local.minute());
    b[16] = b':';
    two(&mut b, 17, local.second());
    let mut len = 19;
    let (digits, frac) = if nano == 0 {
        (0, 0)
    } else if nano.is_multiple_of(1_000_000) {
        (3, nano / 1_000_000)
    } else if nano.is_multiple_of(1_000) {
        (6, nano / 1_000)
    } else {
        (9, nano)
    };
    if digits > 0 {
        b[len] = b'.';
        let mut f = frac;
        for i in (0..digits).rev() {
            b[len + 1 + i] = b'0' + (f % 10) as u8;
            f /= 10;
        }
        len += 1 + digits;
    }
    if offset == 0 {
        b[len] = b'Z';
        len += 1;
    } else {
        b[len] = if offset < 0 { b'-' } else { b'+' };
        let minutes = offset.unsigned_abs() / 60;
        two(&mut b, len + 1, minutes / 60);
        b[len + 3] = b':';
        two(&mut b, len + 4, minutes % 60);
        len += 6;
    }
    out.push_str(std::str::from_utf8(&b[..len]).unwrap_or_default());
}

/// Appends `v` in decimal.
pub(crate) fn push_u64(out: &mut String, mut v: u64) {
    let mut b = [0u8; 20];
    let mut i = b.len();
    loop {
        i -= 1;
        b[i] = b'0' + (v % 10) as u8;
        v /= 10;
        if v == 0 {
            break;
        }
    }
    out.push_str(std::str::from_utf8(&b[i..]).unwrap_or_default());
}

/// Whether a channel name is an IEC 61968-9 18-field ReadingType code.
fn is_reading_type_code(text: &str) -> bool {
    let mut fields = 0;
    for part in text.split('.') {
        if part.is_empty() || !part.bytes().all(|b| b.is_ascii_digit()) {
            return false;
        }
        fields += 1;
    }
    fields == 18
}

impl Mapper {
    /// A mapper with `options`.
    pub fn new(options: MappingOptions) -> Self {
        Mapper {
            options,
            seen: HashSet::default(),
            dev: String::new(),
            meter: String::new(),
            foi: String::new(),
            extra_foi: String::new(),
            prop: String::new(),
            plocal: String::new(),
            node: String::new(),
            aux: String::new(),
            aux2: String::new(),
            value: String::new(),
            ts: String::new(),
            number: ryu_js::Buffer::new(),
        }
    }

    /// The options.
    pub fn options(&self) -> &MappingOptions {
        &self.options
    }

    /// How many node IRIs the mapper remembers as described: it grows with the number of
    /// devices, features of interest and properties (at most 65,536), not with readings.
    pub fn described(&self) -> usize {
        self.seen.len()
    }

    /// Whether `key` is new; remembers it.
    fn first_time(&mut self, key: &str) -> bool {
        remember(&mut self.seen, key)
    }

    fn mint(base: &Base, out: &mut String, path: &str, id: &str) {
        out.clear();
        out.push_str(base.as_str());
        out.push_str(path);
        push_encoded(out, id);
    }

    /// Writes the value and returns the unit local name and, when QUDT has no unit with the
    /// multiplier, the multiplier whose difference to the unit's prefix was folded into the
    /// value (the nearest prefix QUDT has for the unit whose value stays finite).
    fn value_and_unit(
        &mut self,
        value: f64,
        unit: Unit,
        multiplier: UnitMultiplier,
    ) -> io::Result<(&'static str, Option<i8>)> {
        let e = multiplier.exponent();
        let (local, scaled, folded) = match vocab::qudt_unit(unit, e) {
            Some(local) => (local, value, None),
            None => {
                let mut candidates: Vec<_> = vocab::units_table()
                    .iter()
                    .filter(|(u, _, _)| *u == unit)
                    .collect();
                candidates.sort_by_key(|(_, c, _)| (i32::from(e) - i32::from(*c)).abs());
                let found = candidates.into_iter().find_map(|(_, c, local)| {
                    let scaled = value * 10f64.powi(i32::from(e) - i32::from(*c));
                    scaled.is_finite().then_some((*local, scaled))
                });
                let Some((local, scaled)) = found else {
                    return Err(io::Error::new(
                        io::ErrorKind::InvalidInput,
                        format!(
                            "{value} {unit} x 10^{e} is out of the range of xsd:double in any QUDT unit"
                        ),
                    ));
                };
                (local, scaled, Some(e))
            }
        };
        self.value.clear();
        match self.options.value_datatype {
            ValueDatatype::Double => {
                let text = self.number.format(scaled);
                self.value.push_str(text);
                // A whole number is written `-5.0`, as rdflib and the proposed examples
                // write doubles (the same value as `-5`).
                if text.bytes().all(|b| b.is_ascii_digit() || b == b'-') {
                    self.value.push_str(".0");
                }
            }
            ValueDatatype::Decimal => {
                let _ = write!(self.value, "{scaled}");
            }
        }
        Ok((local, folded))
    }

    fn value_datatype(&self) -> &'static str {
        match self.options.value_datatype {
            ValueDatatype::Double => t::XSD_DOUBLE,
            ValueDatatype::Decimal => t::XSD_DECIMAL,
        }
    }

    /// Writes the triples of one measurement (and, the first time they occur, of its device,
    /// features of interest and property), with its certification when given.
    pub fn measurement<S: TripleSink>(
        &mut self,
        m: &Measurement,
        certification: Option<&CertificationRef>,
        sink: &mut S,
    ) -> io::Result<()> {
        let meter_is_source = m
            .meter
            .as_ref()
            .is_some_and(|x| x.as_str() == m.source.as_str());
        let role = match self.options.device_role {
            DeviceRole::Auto if meter_is_source => DeviceRole::Meter,
            DeviceRole::Auto if m.component.is_some() => DeviceRole::Pmu,
            DeviceRole::Auto => DeviceRole::Device,
            other => other,
        };
        let dev_path = match role {
            DeviceRole::Meter => "meter/",
            DeviceRole::Pmu => "pmu/",
            _ => "device/",
        };
        Self::mint(
            &self.options.base,
            &mut self.dev,
            dev_path,
            m.source.as_str(),
        );
        // The meter, when it is not the device node itself.
        let meter_link = match &m.meter {
            Some(meter) if !(meter_is_source && role == DeviceRole::Meter) => {
                Self::mint(
                    &self.options.base,
                    &mut self.meter,
                    "meter/",
                    meter.as_str(),
                );
                true
            }
            _ => false,
        };
        // The feature of interest: the usage point, else the PoD, else the grid component.
        self.foi.clear();
        let foi_kind = if let Some(up) = &m.usage_point {
            Self::mint(
                &self.options.base,
                &mut self.foi,
                "usagepoint/",
                up.as_str(),
            );
            Some((t::P_USAGE_POINT, "UsagePoint ", up.as_str()))
        } else if let Some(pod) = &m.pod {
            Self::mint(&self.options.base, &mut self.foi, "pod/", pod.as_str());
            Some((t::P_POINT_OF_DELIVERY, "PoD ", pod.as_str()))
        } else if let Some(c) = &m.component {
            Self::mint(&self.options.base, &mut self.foi, "component/", c.as_str());
            Some((t::P_GRID_COMPONENT, "", c.as_str()))
        } else {
            None
        };
        self.property_local(m);
        self.prop.clear();
        self.prop.push_str(if foi_kind.is_some() {
            &self.foi
        } else {
            &self.dev
        });
        self.prop.push('#');
        self.prop.push_str(&self.plocal);
        self.ts.clear();
        push_timestamp(&mut self.ts, &m.timestamp);
        // The measurement IRI: device, instant, placement in the series key, property.
        self.node.clear();
        self.node.push_str(&self.dev);
        self.node.push_str("/m/");
        self.node.push_str(&self.ts);
        self.node.push('/');
        if let Some(meter) = &m.meter
            && !meter_is_source
        {
            self.node.push_str("meter=");
            push_encoded(&mut self.node, meter.as_str());
            self.node.push('/');
        }
        if let Some(c) = &m.component {
            self.node.push_str("at=");
            push_encoded(&mut self.node, c.as_str());
            self.node.push('/');
        }
        self.node.push_str(&self.plocal);

        // --- descriptions, once ---
        if self.first_time_owned(DescKey::Device) {
            self.describe_device(m.source.as_str(), role, sink)?;
        }
        if meter_link && self.first_time_owned(DescKey::Meter) {
            let id = m.meter.as_ref().map_or("", |x| x.as_str());
            emit_iri(sink, &self.meter, t::RDF_TYPE, t::S_METER)?;
            emit_iri(sink, &self.meter, t::RDF_TYPE, t::G_METER)?;
            emit(sink, &self.meter, t::RDFS_LABEL, str_lit(id))?;
            emit(sink, &self.meter, t::P_MRID, str_lit(id))?;
        }
        if let Some((class, label, id)) = foi_kind
            && self.first_time_owned(DescKey::Foi)
        {
            describe_foi(sink, &self.foi, class, label, id, &mut self.aux)?;
        }
        // PoD and component when they are not the feature of interest.
        let extra_pod = m.pod.as_ref().filter(|_| m.usage_point.is_some());
        let extra_component = m
            .component
            .as_ref()
            .filter(|_| m.usage_point.is_some() || m.pod.is_some());
        if self.first_time_owned(DescKey::Property) {
            self.describe_property(m, foi_kind.is_some(), sink)?;
        }
        self.aux2.clear();
        self.aux2.push_str(&self.dev);
        self.aux2.push(' ');
        self.aux2.push_str(&self.prop);
        if remember(&mut self.seen, &self.aux2) {
            self.describe_series(m, role, sink)?;
        }

        // --- the measurement ---
        let (unit_local, folded) = self.value_and_unit(m.value, m.unit, m.multiplier)?;
        self.aux.clear();
        self.aux.push_str(vocab::UNIT);
        self.aux.push_str(unit_local);
        if remember(&mut self.seen, &self.aux) {
            emit_iri(sink, &self.aux, t::RDF_TYPE, vocab::unit_class(m.unit))?;
        }
        let value_dt = self.value_datatype();
        let m_iri = self.node.as_str();
        match self.options.pattern {
            Pattern::Saref3Measurement => {
                emit_iri(sink, m_iri, t::RDF_TYPE, t::S_MEASUREMENT)?;
                emit(sink, m_iri, t::S_HAS_VALUE, typed(&self.value, value_dt))?;
                emit(
                    sink,
                    m_iri,
                    t::S_HAS_TIMESTAMP,
                    typed(&self.ts, t::XSD_DATETIME),
                )?;
                emit_iri(sink, m_iri, t::S_IS_MEASURED_IN, &self.aux)?;
                emit_iri(sink, m_iri, t::S_RELATES_TO_PROPERTY, &self.prop)?;
                if foi_kind.is_some() {
                    emit_iri(sink, m_iri, t::S_IS_MEASUREMENT_OF, &self.foi)?;
                }
                emit_iri(sink, m_iri, t::S_MEASUREMENT_MADE_BY, &self.dev)?;
            }
            Pattern::Saref4Observation => {
                emit_iri(sink, m_iri, t::RDF_TYPE, t::S4_OBSERVATION)?;
                emit(
                    sink,
                    m_iri,
                    t::S_HAS_TIMESTAMP,
                    typed(&self.ts, t::XSD_DATETIME),
                )?;
                emit_iri(sink, m_iri, t::S4_MADE_BY, &self.dev)?;
                emit_iri(sink, m_iri, t::S4_OBSERVES, &self.prop)?;
                if foi_kind.is_some() {
                    emit_iri(sink, m_iri, t::S4_HAS_FEATURE_OF_INTEREST, &self.foi)?;
                }
                self.aux2.clear();
                self.aux2.push_str(m_iri);
                self.aux2.push_str("#value");
                emit_iri(sink, m_iri, t::S4_HAS_RESULT, &self.aux2)?;
            }
        }
        if meter_link {
            emit_iri(sink, m_iri, t::P_METER_LINK, &self.meter)?;
        }
        // PoD and component links when they are not the feature of interest.
        let mut extra = Vec::new();
        if let Some(pod) = extra_pod {
            let mut iri = String::new();
            Self::mint(&self.options.base, &mut iri, "pod/", pod.as_str());
            emit_iri(sink, m_iri, t::P_POD_LINK, &iri)?;
            extra.push((iri, t::P_POINT_OF_DELIVERY, "PoD ", pod.as_str()));
        }
        if let Some(c) = extra_component {
            let mut iri = String::new();
            Self::mint(&self.options.base, &mut iri, "component/", c.as_str());
            emit_iri(sink, m_iri, t::P_COMPONENT_LINK, &iri)?;
            extra.push((iri, t::P_GRID_COMPONENT, "", c.as_str()));
        }
        for flag in m.quality.flags() {
            self.extra_foi.clear();
            self.extra_foi.push_str(vocab::PLATONE);
            self.extra_foi.push_str(vocab::quality_local(flag));
            emit_iri(sink, m_iri, t::P_QUALITY, &self.extra_foi)?;
        }
        // SAREF 4: the value, unit and their annotations belong to the property value.
        self.aux2.clear();
        self.aux2.push_str(&self.node);
        if self.options.pattern == Pattern::Saref4Observation {
            self.aux2.push_str("#value");
        }
        let mut exponent = ryu_js::Buffer::new();
        if let Some(e) = folded {
            emit(
                sink,
                &self.aux2,
                t::P_UNIT_MULTIPLIER,
                typed(exponent.format(f64::from(e)), t::XSD_INTEGER),
            )?;
        }
        if m.unit == Unit::CosPhi {
            emit(sink, &self.aux2, t::P_UNIT_SYMBOL, str_lit("cosPhi"))?;
        }
        if let Some(cert) = certification {
            let m_iri = self.node.clone();
            self.certification(&m_iri, cert, sink)?;
        }
        for (iri, class, label, id) in extra {
            if self.first_time(&iri) {
                let mut scratch = String::new();
                describe_foi(sink, &iri, class, label, id, &mut scratch)?;
            }
        }
        if self.options.pattern == Pattern::Saref4Observation {
            self.aux2.clear();
            self.aux2.push_str(&self.node);
            self.aux2.push_str("#value");
            let v = self.aux2.as_str();
            emit_iri(sink, v, t::RDF_TYPE, t::S4_PROPERTY_VALUE)?;
            emit(sink, v, t::S_HAS_VALUE, typed(&self.value, value_dt))?;
            emit_iri(sink, v, t::S_IS_MEASURED_IN, &self.aux)?;
            emit_iri(sink, v, t::S4_IS_VALUE_OF_PROPERTY, &self.prop)?;
        } else {
            emit_iri(sink, &self.dev, t::S_MAKES_MEASUREMENT, &self.node)?;
        }
        Ok(())
    }

    fn first_time_owned(&mut self, key: DescKey) -> bool {
        let text = match key {
            DescKey::Device => &self.dev,
            DescKey::Meter => &self.meter,
            DescKey::Foi => &self.foi,
            DescKey::Property => &self.prop,
        };
        remember(&mut self.seen, text)
    }

    fn certification<S: TripleSink>(
        &mut self,
        subject: &str,
        cert: &CertificationRef,
        sink: &mut S,
    ) -> io::Result<()> {
        let base = self.options.base.clone();
        let mut batch = String::new();
        Self::mint(&base, &mut batch, "batch/", &cert.batch);
        emit_iri(sink, subject, t::P_CERTIFIED_IN, &batch)?;
        if let Some(i) = cert.leaf_index {
            emit(
                sink,
                subject,
                t::P_LEAF_INDEX,
                typed(&i.to_string(), t::XSD_INTEGER),
            )?;
        }
        if self.first_time(&batch) {
            emit_iri(sink, &batch, t::RDF_TYPE, t::P_CERTIFIED_BATCH)?;
            emit(sink, &batch, t::P_BATCH_ID, str_lit(&cert.batch))?;
            emit(sink, &batch, t::P_MERKLE_ROOT, str_lit(&cert.root))?;
            if let Some(anchor) = &cert.anchor {
                emit(sink, &batch, t::P_ANCHOR, str_lit(anchor))?;
            }
            if let Some(ledger) = &cert.anchor_ledger {
                emit(sink, &batch, t::P_ANCHOR_LEDGER, str_lit(ledger))?;
            }
            if let Some(position) = cert.anchor_position {
                emit(
                    sink,
                    &batch,
                    t::P_ANCHOR_POSITION,
                    typed(&position.to_string(), t::XSD_INTEGER),
                )?;
            }
            if let Some(at) = &cert.anchored_at {
                let at = format_timestamp(at);
                emit(sink, &batch, t::P_ANCHORED_AT, typed(&at, t::XSD_DATETIME))?;
            }
        }
        Ok(())
    }

    /// The property's local name: every field that tells quantities apart, `.`-separated,
    /// the channel last and percent-encoded.
    fn property_local(&mut self, m: &Measurement) {
        self.aux.clear();
        let _ = write!(self.aux, "{}", m.phases);
        let p = &mut self.plocal;
        p.clear();
        push_encoded(p, m.kind.as_str());
        p.push('.');
        push_encoded(p, m.unit.as_str());
        p.push('.');
        push_encoded(p, &self.aux);
        p.push('.');
        p.push_str(m.direction.as_str());
        p.push('.');
        p.push_str(m.accumulation.as_str());
        p.push('.');
        match m.interval {
            Some(i) => push_u64(p, u64::from(i.seconds())),
            None => p.push('-'),
        }
        p.push('.');
        p.push_str(m.aggregate.as_str());
        if let Some(channel) = &m.channel {
            p.push('.');
            push_encoded(p, channel);
        }
    }

    fn describe_device<S: TripleSink>(
        &mut self,
        id: &str,
        role: DeviceRole,
        sink: &mut S,
    ) -> io::Result<()> {
        let d = self.dev.as_str();
        match role {
            DeviceRole::Meter => {
                emit_iri(sink, d, t::RDF_TYPE, t::S_METER)?;
                emit_iri(sink, d, t::RDF_TYPE, t::G_METER)?;
            }
            DeviceRole::Pmu => {
                emit_iri(sink, d, t::RDF_TYPE, t::SG_PMU)?;
                emit_iri(sink, d, t::RDF_TYPE, t::S_METER)?;
            }
            _ => emit_iri(sink, d, t::RDF_TYPE, t::S_DEVICE)?,
        }
        emit(sink, d, t::RDFS_LABEL, str_lit(id))?;
        emit(sink, d, t::P_MRID, str_lit(id))
    }

    fn describe_property<S: TripleSink>(
        &mut self,
        m: &Measurement,
        has_foi: bool,
        sink: &mut S,
    ) -> io::Result<()> {
        let p = self.prop.as_str();
        emit_iri(sink, p, t::RDF_TYPE, t::S_PROPERTY)?;
        if let Some(class) = vocab::saref_property_class(m.kind) {
            emit_iri(sink, p, t::RDF_TYPE, class)?;
        }
        if let Some(class) = vocab::sargon_property_class(m.kind) {
            emit_iri(sink, p, t::RDF_TYPE, class)?;
        }
        if has_foi {
            emit_iri(sink, p, t::S_IS_PROPERTY_OF, &self.foi)?;
        }
        let mut iri = String::with_capacity(80);
        let mut with = |ns: &str, local: &str| {
            iri.clear();
            iri.push_str(ns);
            iri.push_str(local);
            iri.clone()
        };
        if let Some(b) = vocab::s4grid_broader(m.kind, m.unit) {
            emit_iri(sink, p, t::SKOS_BROADER, &with(vocab::S4GRID, b))?;
        }
        emit_iri(
            sink,
            p,
            t::P_MEASUREMENT_KIND,
            &with(vocab::PLATONE, vocab::kind_local(m.kind)),
        )?;
        if let Some(qk) = vocab::quantity_kind(m.kind, m.unit) {
            emit_iri(sink, p, t::P_QUANTITY_KIND, &with(vocab::QK, qk))?;
        }
        if let Some(ph) = vocab::cim_phases(m.phases) {
            emit_iri(sink, p, t::P_PHASES, &with(vocab::CIM, &ph))?;
        } else if !m.phases.is_empty() {
            emit(sink, p, t::P_PHASES, str_lit(&m.phases.to_string()))?;
        }
        if let Some(d) = vocab::cim_flow_direction(m.direction) {
            emit_iri(sink, p, t::P_FLOW_DIRECTION, &with(vocab::CIM, d))?;
        }
        if let Some(a) = vocab::cim_accumulation(m.accumulation) {
            emit_iri(sink, p, t::P_ACCUMULATION, &with(vocab::CIM, a))?;
        }
        if let Some(i) = m.interval {
            emit(
                sink,
                p,
                t::P_INTERVAL_SECONDS,
                typed(&i.seconds().to_string(), t::XSD_INTEGER),
            )?;
        }
        if let Some(a) = vocab::cim_aggregate(m.aggregate) {
            emit_iri(sink, p, t::P_AGGREGATE, &with(vocab::CIM, a))?;
        }
        match m.kind {
            MeasurementKind::Voltage | MeasurementKind::Current if m.channel.is_some() => {
                emit_iri(sink, p, t::P_PHASOR_COMPONENT, t::P_MAGNITUDE)?;
            }
            MeasurementKind::PhaseAngle => {
                emit_iri(sink, p, t::P_PHASOR_COMPONENT, t::P_ANGLE)?;
            }
            _ => {}
        }
        if let Some(channel) = &m.channel {
            let predicate = if is_reading_type_code(channel) {
                t::P_READING_TYPE_CODE
            } else {
                t::P_CHANNEL
            };
            emit(sink, p, predicate, str_lit(channel))?;
        }
        if has_foi {
            emit_iri(sink, &self.foi, t::S_HAS_PROPERTY, p)?;
        }
        Ok(())
    }

    /// What ties a device to a property: `saref:measuresProperty`, and the meter's metering
    /// function or the PMU's channel.
    fn describe_series<S: TripleSink>(
        &mut self,
        m: &Measurement,
        role: DeviceRole,
        sink: &mut S,
    ) -> io::Result<()> {
        let d = self.dev.as_str();
        let p = self.prop.as_str();
        emit_iri(sink, d, t::S_MEASURES_PROPERTY, p)?;
        match role {
            DeviceRole::Meter => {
                let mut f = String::with_capacity(d.len() + 9);
                f.push_str(d);
                f.push_str("#metering");
                emit_iri(sink, d, t::S_HAS_FUNCTION, &f)?;
                emit_iri(sink, &f, t::RDF_TYPE, t::S_METERING_FUNCTION)?;
                emit_iri(sink, &f, t::S_HAS_METER_READING_TYPE, p)?;
            }
            DeviceRole::Pmu => {
                if let Some(class) = vocab::sargon_channel_class(m.kind) {
                    let mut c = String::with_capacity(d.len() + self.plocal.len() + 9);
                    c.push_str(d);
                    c.push_str("/channel/");
                    c.push_str(&self.plocal);
                    emit_iri(sink, d, t::SG_HAS_CHANNEL, &c)?;
                    emit_iri(sink, &c, t::RDF_TYPE, class)?;
                }
            }
            _ => {}
        }
        Ok(())
    }

    /// Writes the triples of one set point: the target device with its level-control
    /// function, state and controlled property, and the `saref:SetAbsoluteLevelCommand`.
    pub fn set_point<S: TripleSink>(&mut self, sp: &SetPoint, sink: &mut S) -> io::Result<()> {
        let base = self.options.base.clone();
        Self::mint(&base, &mut self.dev, "device/", sp.target.as_str());
        if self.first_time_owned(DescKey::Device) {
            self.describe_device(sp.target.as_str(), DeviceRole::Device, sink)?;
        }
        let d = self.dev.clone();
        // The controlled property, function and state, named after kind, unit and direction.
        self.plocal.clear();
        push_encoded(&mut self.plocal, sp.kind.as_str());
        self.plocal.push('.');
        push_encoded(&mut self.plocal, sp.unit.as_str());
        self.plocal.push('.');
        self.plocal.push_str(sp.direction.as_str());
        let prop = format!("{d}#{}", self.plocal);
        let function = format!("{d}#control.{}", self.plocal);
        let state = format!("{d}#level.{}", self.plocal);
        if self.first_time(&prop) {
            emit_iri(sink, &prop, t::RDF_TYPE, t::S_PROPERTY)?;
            if let Some(class) = vocab::saref_property_class(sp.kind) {
                emit_iri(sink, &prop, t::RDF_TYPE, class)?;
            }
            if let Some(b) = vocab::s4grid_broader(sp.kind, sp.unit) {
                emit_iri(
                    sink,
                    &prop,
                    t::SKOS_BROADER,
                    &format!("{}{b}", vocab::S4GRID),
                )?;
            }
            let kind = format!("{}{}", vocab::PLATONE, vocab::kind_local(sp.kind));
            emit_iri(sink, &prop, t::P_MEASUREMENT_KIND, &kind)?;
            if let Some(dir) = vocab::cim_flow_direction(sp.direction) {
                emit_iri(
                    sink,
                    &prop,
                    t::P_FLOW_DIRECTION,
                    &format!("{}{dir}", vocab::CIM),
                )?;
            }
            emit_iri(sink, &prop, t::S_IS_CONTROLLED_BY_DEVICE, &d)?;
            emit_iri(sink, &d, t::S_CONTROLS_PROPERTY, &prop)?;
            emit_iri(sink, &d, t::S_HAS_FUNCTION, &function)?;
            emit_iri(sink, &d, t::S_HAS_STATE, &state)?;
            emit_iri(sink, &function, t::RDF_TYPE, t::S_LEVEL_CONTROL_FUNCTION)?;
            emit_iri(sink, &state, t::RDF_TYPE, t::S_MULTI_LEVEL_STATE)?;
        }
        let mut command = String::with_capacity(d.len() + sp.id.len() + 9);
        command.push_str(&d);
        command.push_str("/command/");
        push_encoded(&mut command, &sp.id);
        let (unit_local, folded) = self.value_and_unit(sp.value, sp.unit, sp.multiplier)?;
        let unit = format!("{}{unit_local}", vocab::UNIT);
        if self.first_time(&unit) {
            emit_iri(sink, &unit, t::RDF_TYPE, vocab::unit_class(sp.unit))?;
        }
        emit_iri(sink, &function, t::S_HAS_COMMAND, &command)?;
        let c = command.as_str();
        emit_iri(sink, c, t::RDF_TYPE, t::S_SET_ABSOLUTE_LEVEL_COMMAND)?;
        emit_iri(sink, c, t::S_IS_COMMAND_OF, &function)?;
        emit_iri(sink, c, t::S_ACTS_UPON, &state)?;
        emit(
            sink,
            c,
            t::S_HAS_VALUE,
            typed(&self.value, self.value_datatype()),
        )?;
        emit_iri(sink, c, t::P_UNIT, &unit)?;
        if let Some(e) = folded {
            emit(
                sink,
                c,
                t::P_UNIT_MULTIPLIER,
                typed(&e.to_string(), t::XSD_INTEGER),
            )?;
        }
        if sp.unit == Unit::CosPhi {
            emit(sink, c, t::P_UNIT_SYMBOL, str_lit("cosPhi"))?;
        }
        emit_iri(sink, c, t::P_TARGET_PROPERTY, &prop)?;
        let from = format_timestamp(&sp.valid_from);
        let to = format_timestamp(&sp.valid_to);
        emit(sink, c, t::P_VALID_FROM, typed(&from, t::XSD_DATETIME))?;
        emit(sink, c, t::P_VALID_UNTIL, typed(&to, t::XSD_DATETIME))?;
        emit(sink, c, t::P_SET_POINT_ID, str_lit(&sp.id))?;
        if let Some(by) = &sp.issued_by {
            emit(sink, c, t::P_ISSUED_BY, str_lit(by.as_str()))?;
        }
        if let Some(pod) = &sp.pod {
            let mut pod_iri = String::new();
            Self::mint(&base, &mut pod_iri, "pod/", pod.as_str());
            emit_iri(sink, c, t::P_POD_LINK, &pod_iri)?;
            if self.first_time(&pod_iri) {
                describe_foi(
                    sink,
                    &pod_iri,
                    t::P_POINT_OF_DELIVERY,
                    "PoD ",
                    pod.as_str(),
                    &mut self.aux,
                )?;
            }
        }
        Ok(())
    }
}

#[derive(Clone, Copy)]
enum DescKey {
    Device,
    Meter,
    Foi,
    Property,
}

fn describe_foi<S: TripleSink>(
    sink: &mut S,
    foi: &str,
    class: &str,
    label_prefix: &str,
    id: &str,
    scratch: &mut String,
) -> io::Result<()> {
    emit_iri(sink, foi, t::RDF_TYPE, t::S_FEATURE_OF_INTEREST)?;
    emit_iri(sink, foi, t::RDF_TYPE, class)?;
    scratch.clear();
    scratch.push_str(label_prefix);
    scratch.push_str(id);
    emit(sink, foi, t::RDFS_LABEL, str_lit(scratch))?;
    emit(sink, foi, t::P_MRID, str_lit(id))
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::{DateTime, FixedOffset, TimeZone};
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn push_timestamp_writes_what_format_timestamp_writes(
            secs in -70_000_000_000i64..260_000_000_000,
            nanos in prop_oneof![Just(0u32), (0u32..1000).prop_map(|n| n * 1_000_000),
                (0u32..1_000_000).prop_map(|n| n * 1000), 0u32..1_000_000_000],
            offset in prop_oneof![Just(0i32), (-1439i32..1440).prop_map(|m| m * 60), -86_399i32..86_400],
        ) {
            let Some(offset) = FixedOffset::east_opt(offset) else { return Ok(()) };
            let Some(utc) = DateTime::from_timestamp(secs, nanos) else { return Ok(()) };
            let t = offset.from_utc_datetime(&utc.naive_utc());
            let mut out = String::from("x");
            push_timestamp(&mut out, &t);
            prop_assert_eq!(&out[1..], format_timestamp(&t));
        }

        #[test]
        fn push_u64_writes_decimal(v in any::<u64>()) {
            let mut out = String::new();
            push_u64(&mut out, v);
            prop_assert_eq!(out, v.to_string());
        }
    }
}
