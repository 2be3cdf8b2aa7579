//! The mapping back in: Turtle, N-Triples or JSON-LD that follows the mapping (ours or another
//! producer's) to [`Measurement`]s and [`SetPoint`]s.
//!
//! The document is read into a graph first (a measurement's property, device and feature of
//! interest may be described anywhere in it), then every `saref:Measurement` (SAREF 3) or
//! `saref:Observation` (SAREF 4) and every `saref:SetAbsoluteLevelCommand` becomes a value.
//! Values come back sorted by instant, then by subject IRI.

use std::io::Read;

use oxrdf::{Graph, NamedNodeRef, NamedOrBlankNodeRef, TermRef};
use platone_model::{
    Accumulation, Aggregate, ComponentId, DeviceId, FlowDirection, Measurement, MeasurementKind,
    MeasuringPeriod, MeterId, ParticipantId, PhaseSet, PodId, Quality, QualityFlag, SetPoint,
    Timestamp, Unit, UnitMultiplier, UsagePointId, parse_timestamp,
};

use crate::Format;
use crate::error::{Result, SarefError};
use crate::iri::decode;
use crate::jsonld::{CONTEXT, CONTEXT_IRI};
use crate::map::CertificationRef;
use crate::vocab::{self, t};

/// Reads a whole document into a graph.
pub fn read_graph<R: Read>(reader: R, format: Format) -> Result<Graph> {
    let mut graph = Graph::new();
    match format {
        Format::Turtle | Format::NTriples => {
            let name = if format == Format::Turtle {
                "Turtle"
            } else {
                "N-Triples"
            };
            let syntax = |e: oxttl::TurtleParseError| match e {
                oxttl::TurtleParseError::Io(e) => SarefError::Io(e),
                oxttl::TurtleParseError::Syntax(e) => {
                    let at = e.location().start;
                    SarefError::Syntax {
                        format: name,
                        location: Some(format!("{}:{}", at.line + 1, at.column + 1)),
                        message: e.message().to_string(),
                    }
                }
            };
            if format == Format::Turtle {
                for triple in oxttl::TurtleParser::new().for_reader(reader) {
                    graph.insert(&triple.map_err(syntax)?);
                }
            } else {
                for triple in oxttl::NTriplesParser::new().for_reader(reader) {
                    graph.insert(&triple.map_err(syntax)?);
                }
            }
        }
        Format::JsonLd => {
            let parser = oxjsonld::JsonLdParser::new()
                .for_reader(reader)
                .with_load_document_callback(|url, _| {
                    if url == CONTEXT_IRI {
                        Ok(oxjsonld::JsonLdRemoteDocument {
                            document: CONTEXT.as_bytes().to_vec(),
                            document_url: url.to_string(),
                        })
                    } else {
                        Err(format!("remote context {url} is not loaded").into())
                    }
                });
            for quad in parser {
                let quad = quad.map_err(|e| match e {
                    oxjsonld::JsonLdParseError::Io(e) => SarefError::Io(e),
                    oxjsonld::JsonLdParseError::Syntax(e) => SarefError::Syntax {
                        format: "JSON-LD",
                        location: e
                            .location()
                            .map(|l| format!("{}:{}", l.start.line + 1, l.start.column + 1)),
                        message: e.to_string(),
                    },
                })?;
                if quad.graph_name.is_default_graph() {
                    graph.insert(quad.as_ref());
                }
            }
        }
    }
    Ok(graph)
}

/// Reads the measurements of a document.
pub fn read_measurements<R: Read>(reader: R, format: Format) -> Result<Vec<Measurement>> {
    measurements_from_graph(&read_graph(reader, format)?)
}

/// Reads the set points of a document.
pub fn read_set_points<R: Read>(reader: R, format: Format) -> Result<Vec<SetPoint>> {
    set_points_from_graph(&read_graph(reader, format)?)
}

fn n(iri: &str) -> NamedNodeRef<'_> {
    NamedNodeRef::new_unchecked(iri)
}

/// A subject being read, for lookups that name it in errors.
struct Node<'g> {
    graph: &'g Graph,
    subject: NamedOrBlankNodeRef<'g>,
}

impl<'g> Node<'g> {
    fn name(&self) -> String {
        match self.subject {
            NamedOrBlankNodeRef::NamedNode(n) => n.as_str().to_string(),
            NamedOrBlankNodeRef::BlankNode(b) => b.to_string(),
        }
    }

    fn missing(&self, predicate: &'static str) -> SarefError {
        SarefError::Missing {
            subject: self.name(),
            predicate,
        }
    }

    fn invalid(&self, predicate: &'static str, reason: impl Into<String>) -> SarefError {
        SarefError::Invalid {
            subject: self.name(),
            predicate,
            reason: reason.into(),
        }
    }

    fn objects(&self, predicate: &'static str) -> impl Iterator<Item = TermRef<'g>> + 'g {
        self.graph
            .objects_for_subject_predicate(self.subject, n(predicate))
    }

    fn object(&self, predicate: &'static str) -> Option<TermRef<'g>> {
        self.objects(predicate).next()
    }

    fn has_type(&self, class: &str) -> bool {
        self.graph.contains(oxrdf::TripleRef::new(
            self.subject,
            n(t::RDF_TYPE),
            n(class),
        ))
    }

    /// The object of `predicate` as a node, when present.
    fn link(&self, predicate: &'static str) -> Result<Option<Node<'g>>> {
        match self.object(predicate) {
            None => Ok(None),
            Some(TermRef::NamedNode(iri)) => Ok(Some(Node {
                graph: self.graph,
                subject: iri.into(),
            })),
            Some(TermRef::BlankNode(b)) => Ok(Some(Node {
                graph: self.graph,
                subject: b.into(),
            })),
            Some(other) => Err(self.invalid(predicate, format!("expected a node, found {other}"))),
        }
    }

    fn required_link(&self, predicate: &'static str) -> Result<Node<'g>> {
        self.link(predicate)?.ok_or_else(|| self.missing(predicate))
    }

    /// The object of `predicate` as an IRI, when present.
    fn iri(&self, predicate: &'static str) -> Result<Option<&'g str>> {
        match self.object(predicate) {
            None => Ok(None),
            Some(TermRef::NamedNode(iri)) => Ok(Some(iri.as_str())),
            Some(other) => Err(self.invalid(predicate, format!("expected an IRI, found {other}"))),
        }
    }

    /// The lexical form of a literal object whose datatype is one of `datatypes`.
    fn literal(&self, predicate: &'static str, datatypes: &[&str]) -> Result<Option<&'g str>> {
        match self.object(predicate) {
            None => Ok(None),
            Some(TermRef::Literal(lit)) => {
                let dt = lit.datatype().as_str();
                if datatypes.contains(&dt) {
                    Ok(Some(lit.value()))
                } else {
                    Err(self.invalid(
                        predicate,
                        format!(
                            "expected a literal of type {}, found {lit}",
                            datatypes.join(" or ")
                        ),
                    ))
                }
            }
            Some(other) => {
                Err(self.invalid(predicate, format!("expected a literal, found {other}")))
            }
        }
    }

    fn string(&self, predicate: &'static str) -> Result<Option<&'g str>> {
        self.literal(predicate, &[t::XSD_STRING])
    }

    fn timestamp(&self, predicate: &'static str) -> Result<Option<Timestamp>> {
        self.literal(predicate, &[t::XSD_DATETIME])?
            .map(|text| {
                parse_timestamp(text).map_err(|e| {
                    self.invalid(
                        predicate,
                        format!("{text:?} is not a date-time with an offset: {e}"),
                    )
                })
            })
            .transpose()
    }

    fn integer(&self, predicate: &'static str) -> Result<Option<i64>> {
        const INTEGERS: &[&str] = &[
            t::XSD_INTEGER,
            "http://www.w3.org/2001/XMLSchema#int",
            "http://www.w3.org/2001/XMLSchema#long",
            "http://www.w3.org/2001/XMLSchema#unsignedInt",
            "http://www.w3.org/2001/XMLSchema#nonNegativeInteger",
        ];
        self.literal(predicate, INTEGERS)?
            .map(|text| {
                text.trim()
                    .parse::<i64>()
                    .map_err(|_| self.invalid(predicate, format!("{text:?} is not an integer")))
            })
            .transpose()
    }

    fn number(&self, predicate: &'static str) -> Result<Option<f64>> {
        const NUMBERS: &[&str] = &[
            t::XSD_DOUBLE,
            t::XSD_DECIMAL,
            t::XSD_INTEGER,
            "http://www.w3.org/2001/XMLSchema#float",
        ];
        self.literal(predicate, NUMBERS)?
            .map(|text| match text.trim().parse::<f64>() {
                Ok(v) if v.is_finite() => Ok(v),
                _ => Err(self.invalid(predicate, format!("{text:?} is not a finite number"))),
            })
            .transpose()
    }

    /// The node's identifier: its `platone:mRID`, else the last segment of its IRI decoded.
    fn identifier(&self) -> Result<String> {
        if let Some(id) = self.string(t::P_MRID)? {
            return Ok(id.to_string());
        }
        if let NamedOrBlankNodeRef::NamedNode(iri) = self.subject {
            let text = iri.as_str();
            let last = text.rsplit(['/', '#']).next().unwrap_or(text);
            if let Some(id) = decode(last).filter(|s| !s.is_empty()) {
                return Ok(id);
            }
        }
        Err(self.missing(t::P_MRID))
    }
}

/// Maps a model-construction error onto the predicate that carried the value.
fn model_err(
    node: &Node<'_>,
    predicate: &'static str,
) -> impl Fn(platone_model::ModelError) -> SarefError {
    let subject = node.name();
    move |e| SarefError::Invalid {
        subject: subject.clone(),
        predicate,
        reason: e.to_string(),
    }
}

/// Every subject with `rdf:type class`, in IRI order.
fn subjects_of_type<'g>(graph: &'g Graph, class: &str) -> Vec<Node<'g>> {
    let mut subjects: Vec<NamedOrBlankNodeRef<'g>> = graph
        .subjects_for_predicate_object(n(t::RDF_TYPE), n(class))
        .collect();
    subjects.sort_by_key(|s| s.to_string());
    subjects.dedup();
    subjects
        .into_iter()
        .map(|subject| Node { graph, subject })
        .collect()
}

fn local<'a>(iri: &'a str, ns: &str) -> Option<&'a str> {
    iri.strip_prefix(ns)
}

/// What the property node says: kind, phases, direction, accumulation, interval, aggregate,
/// channel.
struct PropertyFacts {
    kind: Option<MeasurementKind>,
    phases: PhaseSet,
    direction: FlowDirection,
    accumulation: Accumulation,
    interval: Option<MeasuringPeriod>,
    aggregate: Aggregate,
    channel: Option<String>,
}

fn kind_from_local(name: &str) -> Option<MeasurementKind> {
    MeasurementKind::ALL
        .iter()
        .copied()
        .find(|k| vocab::kind_local(*k) == name)
}

fn kind_from_quantity(qk: &str) -> Option<MeasurementKind> {
    use MeasurementKind as K;
    Some(match qk {
        "ActiveEnergy" | "ReactiveEnergy" | "Energy" => K::Energy,
        "ActivePower" | "ReactivePower" | "ApparentPower" => K::Power,
        "Voltage" => K::Voltage,
        "ElectricCurrent" => K::Current,
        "PlaneAngle" => K::PhaseAngle,
        "Frequency" => K::Frequency,
        "RateOfChangeOfFrequency" => K::RateOfChangeOfFrequency,
        "PowerFactor" => K::PowerFactor,
        "Temperature" => K::Temperature,
        _ => return None,
    })
}

fn property_facts(p: &Node<'_>) -> Result<PropertyFacts> {
    let kind = match p.iri(t::P_MEASUREMENT_KIND)? {
        Some(iri) => Some(
            local(iri, vocab::PLATONE)
                .and_then(kind_from_local)
                .ok_or_else(|| p.invalid(t::P_MEASUREMENT_KIND, format!("unknown kind <{iri}>")))?,
        ),
        None => match p.iri(t::P_QUANTITY_KIND)? {
            Some(iri) => local(iri, vocab::QK).and_then(kind_from_quantity),
            None if p.has_type(t::S_ENERGY) => Some(MeasurementKind::Energy),
            None if p.has_type(t::S_POWER) => Some(MeasurementKind::Power),
            None if p.has_type(t::S_TEMPERATURE) => Some(MeasurementKind::Temperature),
            None => None,
        },
    };
    let phases = match p.object(t::P_PHASES) {
        None => PhaseSet::NONE,
        Some(TermRef::NamedNode(iri)) => local(iri.as_str(), vocab::CIM)
            .and_then(vocab::phases_of_cim)
            .ok_or_else(|| {
                p.invalid(
                    t::P_PHASES,
                    format!("unknown phase code <{}>", iri.as_str()),
                )
            })?,
        Some(TermRef::Literal(lit)) => lit
            .value()
            .parse()
            .map_err(|_| p.invalid(t::P_PHASES, format!("unknown phases {lit}")))?,
        Some(other) => {
            return Err(p.invalid(t::P_PHASES, format!("expected an IRI, found {other}")));
        }
    };
    let cim = |predicate: &'static str| -> Result<Option<&str>> {
        match p.iri(predicate)? {
            None => Ok(None),
            Some(iri) => local(iri, vocab::CIM).map(Some).ok_or_else(|| {
                p.invalid(
                    predicate,
                    format!("<{iri}> is not a CIM enumeration literal"),
                )
            }),
        }
    };
    let direction = match cim(t::P_FLOW_DIRECTION)? {
        None => FlowDirection::NotApplicable,
        Some(name) => FlowDirection::ALL
            .iter()
            .copied()
            .find(|d| vocab::cim_flow_direction(*d) == Some(name))
            .ok_or_else(|| p.invalid(t::P_FLOW_DIRECTION, format!("unknown direction {name}")))?,
    };
    let accumulation = match cim(t::P_ACCUMULATION)? {
        None => Accumulation::NotApplicable,
        Some(name) => Accumulation::ALL
            .iter()
            .copied()
            .find(|a| vocab::cim_accumulation(*a) == Some(name))
            .ok_or_else(|| p.invalid(t::P_ACCUMULATION, format!("unknown accumulation {name}")))?,
    };
    let aggregate = match cim(t::P_AGGREGATE)? {
        None => Aggregate::None,
        Some(name) => Aggregate::ALL
            .iter()
            .copied()
            .find(|a| vocab::cim_aggregate(*a) == Some(name))
            .ok_or_else(|| p.invalid(t::P_AGGREGATE, format!("unknown aggregate {name}")))?,
    };
    let interval = match p.integer(t::P_INTERVAL_SECONDS)? {
        None => None,
        Some(s) => Some(
            u32::try_from(s)
                .ok()
                .and_then(|s| MeasuringPeriod::from_seconds(s).ok())
                .ok_or_else(|| {
                    p.invalid(
                        t::P_INTERVAL_SECONDS,
                        format!("{s} is not a positive number of seconds"),
                    )
                })?,
        ),
    };
    let channel = match p.string(t::P_CHANNEL)? {
        Some(c) => Some(c.to_string()),
        None => p.string(t::P_READING_TYPE_CODE)?.map(str::to_string),
    };
    Ok(PropertyFacts {
        kind,
        phases,
        direction,
        accumulation,
        interval,
        aggregate,
        channel,
    })
}

/// The unit and multiplier of a QUDT unit IRI, and the factor to divide a value by when the
/// multiplier had been folded into it.
fn unit_of(
    node: &Node<'_>,
    predicate: &'static str,
    multiplier_node: &Node<'_>,
) -> Result<(Unit, UnitMultiplier, f64)> {
    let iri = node
        .iri(predicate)?
        .ok_or_else(|| node.missing(predicate))?;
    let (mut unit, exponent) = local(iri, vocab::UNIT)
        .and_then(vocab::unit_of_qudt)
        .ok_or_else(|| {
            node.invalid(
                predicate,
                format!("<{iri}> is not a QUDT unit the SDK knows"),
            )
        })?;
    if multiplier_node.string(t::P_UNIT_SYMBOL)? == Some("cosPhi") {
        unit = Unit::CosPhi;
    }
    let (exponent, divide) = match multiplier_node.integer(t::P_UNIT_MULTIPLIER)? {
        // The source's multiplier, whose difference to the unit's prefix was folded in.
        Some(folded) => {
            let e = i8::try_from(folded)
                .ok()
                .and_then(|e| UnitMultiplier::new(e).ok())
                .ok_or_else(|| {
                    multiplier_node
                        .invalid(t::P_UNIT_MULTIPLIER, format!("{folded} is out of range"))
                })?;
            (e, 10f64.powi(i32::from(e.exponent()) - i32::from(exponent)))
        }
        None => (
            UnitMultiplier::new(exponent).map_err(model_err(node, predicate))?,
            1.0,
        ),
    };
    Ok((unit, exponent, divide))
}

/// Reads every measurement (SAREF 3 `saref:Measurement` and SAREF 4 `saref:Observation`).
pub fn measurements_from_graph(graph: &Graph) -> Result<Vec<Measurement>> {
    Ok(certified_measurements_from_graph(graph)?
        .into_iter()
        .map(|(m, _)| m)
        .collect())
}

/// Reads the measurements of a document with their certification references (the
/// `platone:certifiedIn` batch, its root and anchor, and the leaf index), `None` for a
/// measurement that names no batch.
pub fn read_certified_measurements<R: Read>(
    reader: R,
    format: Format,
) -> Result<Vec<(Measurement, Option<CertificationRef>)>> {
    certified_measurements_from_graph(&read_graph(reader, format)?)
}

/// Every measurement of the graph with its certification references, as
/// [`read_certified_measurements`] returns them. A batch without `platone:batchId` or
/// `platone:merkleRoot`, or with a value of the wrong datatype, is an error naming it.
pub fn certified_measurements_from_graph(
    graph: &Graph,
) -> Result<Vec<(Measurement, Option<CertificationRef>)>> {
    let mut out = Vec::new();
    for (class, saref4) in [(t::S_MEASUREMENT, false), (t::S4_OBSERVATION, true)] {
        for m in subjects_of_type(graph, class) {
            let cert = certification(&m)?;
            out.push((measurement(&m, saref4)?, cert, m.name()));
        }
    }
    out.sort_by(|(a, _, an), (b, _, bn)| a.timestamp.cmp(&b.timestamp).then_with(|| an.cmp(bn)));
    Ok(out.into_iter().map(|(m, c, _)| (m, c)).collect())
}

fn certification(m: &Node<'_>) -> Result<Option<CertificationRef>> {
    let Some(batch) = m.link(t::P_CERTIFIED_IN)? else {
        return Ok(None);
    };
    let text = |node: &Node<'_>, p: &'static str| -> Result<String> {
        node.string(p)?
            .map(str::to_string)
            .ok_or_else(|| node.missing(p))
    };
    let count = |node: &Node<'_>, p: &'static str| -> Result<Option<u64>> {
        node.integer(p)?
            .map(|i| u64::try_from(i).map_err(|_| node.invalid(p, format!("{i} is negative"))))
            .transpose()
    };
    Ok(Some(CertificationRef {
        batch: text(&batch, t::P_BATCH_ID)?,
        root: text(&batch, t::P_MERKLE_ROOT)?,
        anchor: batch.string(t::P_ANCHOR)?.map(str::to_string),
        leaf_index: count(m, t::P_LEAF_INDEX)?,
        anchor_ledger: batch.string(t::P_ANCHOR_LEDGER)?.map(str::to_string),
        anchor_position: count(&batch, t::P_ANCHOR_POSITION)?,
        anchored_at: batch.timestamp(t::P_ANCHORED_AT)?,
    }))
}

fn measurement(m: &Node<'_>, saref4: bool) -> Result<Measurement> {
    let (value_node, property_p, device_p, foi_p) = if saref4 {
        (
            m.required_link(t::S4_HAS_RESULT)?,
            t::S4_OBSERVES,
            t::S4_MADE_BY,
            t::S4_HAS_FEATURE_OF_INTEREST,
        )
    } else {
        (
            Node {
                graph: m.graph,
                subject: m.subject,
            },
            t::S_RELATES_TO_PROPERTY,
            t::S_MEASUREMENT_MADE_BY,
            t::S_IS_MEASUREMENT_OF,
        )
    };
    let value = value_node
        .number(t::S_HAS_VALUE)?
        .ok_or_else(|| value_node.missing(t::S_HAS_VALUE))?;
    let (unit, multiplier, divide) = unit_of(&value_node, t::S_IS_MEASURED_IN, &value_node)?;
    let timestamp = m
        .timestamp(t::S_HAS_TIMESTAMP)?
        .ok_or_else(|| m.missing(t::S_HAS_TIMESTAMP))?;
    let property = match m.link(property_p)? {
        Some(p) => p,
        None if saref4 => value_node.required_link(t::S4_IS_VALUE_OF_PROPERTY)?,
        None => return Err(m.missing(property_p)),
    };
    let facts = property_facts(&property)?;
    let kind = facts
        .kind
        .ok_or_else(|| property.missing(t::P_MEASUREMENT_KIND))?;
    let device = m.required_link(device_p)?;
    let source = DeviceId::new(device.identifier()?).map_err(model_err(&device, t::P_MRID))?;
    let mut out = Measurement::new(source, timestamp, kind, unit, value / divide)
        .map_err(model_err(&value_node, t::S_HAS_VALUE))?
        .with_multiplier(multiplier)
        .with_phases(facts.phases)
        .with_direction(facts.direction)
        .with_accumulation(facts.accumulation, facts.interval)
        .with_aggregate(facts.aggregate);
    if let Some(channel) = facts.channel {
        out = out
            .with_channel(channel)
            .map_err(model_err(&property, t::P_CHANNEL))?;
    }
    // The meter: an explicit link, else the device itself when it is a SAREF4GRID meter.
    if let Some(meter) = m.link(t::P_METER_LINK)? {
        out.meter = Some(MeterId::new(meter.identifier()?).map_err(model_err(&meter, t::P_MRID))?);
    } else if device.has_type(t::G_METER) {
        out.meter = Some(MeterId::new(out.source.as_str()).map_err(model_err(&device, t::P_MRID))?);
    }
    // Placement: the feature of interest by its class, plus the explicit links.
    if let Some(foi) = m.link(foi_p)? {
        let id = foi.identifier()?;
        if foi.has_type(t::P_POINT_OF_DELIVERY) {
            out.pod = Some(PodId::new(id).map_err(model_err(&foi, t::P_MRID))?);
        } else if foi.has_type(t::P_GRID_COMPONENT) {
            out.component = Some(ComponentId::new(id).map_err(model_err(&foi, t::P_MRID))?);
        } else {
            out.usage_point = Some(UsagePointId::new(id).map_err(model_err(&foi, t::P_MRID))?);
        }
    }
    if let Some(up) = m.link(t::P_USAGE_POINT_LINK)? {
        out.usage_point =
            Some(UsagePointId::new(up.identifier()?).map_err(model_err(&up, t::P_MRID))?);
    }
    if let Some(pod) = m.link(t::P_POD_LINK)? {
        out.pod = Some(PodId::new(pod.identifier()?).map_err(model_err(&pod, t::P_MRID))?);
    }
    if let Some(c) = m.link(t::P_COMPONENT_LINK)? {
        out.component = Some(ComponentId::new(c.identifier()?).map_err(model_err(&c, t::P_MRID))?);
    }
    let mut quality = Quality::GOOD;
    for flag in m.objects(t::P_QUALITY) {
        let TermRef::NamedNode(iri) = flag else {
            return Err(m.invalid(t::P_QUALITY, format!("expected an IRI, found {flag}")));
        };
        let found = local(iri.as_str(), vocab::PLATONE).and_then(|name| {
            QualityFlag::ALL
                .iter()
                .copied()
                .find(|f| vocab::quality_local(*f) == name)
        });
        quality = quality.with(found.ok_or_else(|| {
            m.invalid(
                t::P_QUALITY,
                format!("unknown quality flag <{}>", iri.as_str()),
            )
        })?);
    }
    Ok(out.with_quality(quality))
}

/// Reads every set point (`saref:SetAbsoluteLevelCommand` with a `platone:targetProperty`).
pub fn set_points_from_graph(graph: &Graph) -> Result<Vec<SetPoint>> {
    let mut out = Vec::new();
    for c in subjects_of_type(graph, t::S_SET_ABSOLUTE_LEVEL_COMMAND) {
        out.push((set_point(&c)?, c.name()));
    }
    out.sort_by(|(a, an), (b, bn)| a.valid_from.cmp(&b.valid_from).then_with(|| an.cmp(bn)));
    Ok(out.into_iter().map(|(s, _)| s).collect())
}

fn set_point(c: &Node<'_>) -> Result<SetPoint> {
    let property = c.required_link(t::P_TARGET_PROPERTY)?;
    let facts = property_facts(&property)?;
    let kind = facts
        .kind
        .ok_or_else(|| property.missing(t::P_MEASUREMENT_KIND))?;
    let device = property.required_link(t::S_IS_CONTROLLED_BY_DEVICE)?;
    let target = DeviceId::new(device.identifier()?).map_err(model_err(&device, t::P_MRID))?;
    let value = c
        .number(t::S_HAS_VALUE)?
        .ok_or_else(|| c.missing(t::S_HAS_VALUE))?;
    let (unit, multiplier, divide) = unit_of(c, t::P_UNIT, c)?;
    let from = c
        .timestamp(t::P_VALID_FROM)?
        .ok_or_else(|| c.missing(t::P_VALID_FROM))?;
    let to = c
        .timestamp(t::P_VALID_UNTIL)?
        .ok_or_else(|| c.missing(t::P_VALID_UNTIL))?;
    let id = match c.string(t::P_SET_POINT_ID)? {
        Some(id) => id.to_string(),
        None => c.identifier()?,
    };
    let mut sp = SetPoint::new(id, target, kind, unit, value / divide, from, to)
        .map_err(model_err(c, t::P_VALID_UNTIL))?;
    sp.multiplier = multiplier;
    sp.direction = facts.direction;
    if let Some(by) = c.string(t::P_ISSUED_BY)? {
        sp.issued_by = Some(ParticipantId::new(by).map_err(model_err(c, t::P_ISSUED_BY))?);
    }
    if let Some(pod) = c.link(t::P_POD_LINK)? {
        sp.pod = Some(PodId::new(pod.identifier()?).map_err(model_err(&pod, t::P_MRID))?);
    }
    Ok(sp)
}
