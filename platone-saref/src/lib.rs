//! Platone measurements and set points as linked data: SAREF core 3.1.1, SAREF4ENER 1.1.2,
//! SAREF4GRID 1.0.0 and SARGON 1.0 in Turtle, N-Triples and compact JSON-LD — out, streaming
//! and in constant memory per reading, and back in.
//!
//! A meter reading becomes a `saref:Measurement` with its value, timestamp (`xsd:dateTime`, the
//! interval end), QUDT unit (the multiplier applied to the unit: kWh is `unit:KiloW-HR`), the
//! measured property of the usage point, PoD or grid component, and the device that made it (a
//! `saref:Meter`/`s4grid:Meter`, or a SARGON `sgc:PMU`). A [`SetPoint`] becomes a
//! `saref:SetAbsoluteLevelCommand` on the target device's level-control function. IRIs are
//! deterministic under a configurable [`Base`], so publishing the same data twice gives the
//! same triples. The full mapping table is in `docs/saref.md`.
//!
//! ```
//! use platone_model::{Measurement, MeasurementKind, Unit, UnitMultiplier, FlowDirection,
//!     PhaseSet, DeviceId, MeterId, UsagePointId, parse_timestamp};
//! use platone_saref::{Format, MappingOptions, RdfWriter, read_measurements};
//!
//! let reading = Measurement::new(
//!     DeviceId::new("MTR-0001")?,
//!     parse_timestamp("2024-05-01T10:15:00Z")?,
//!     MeasurementKind::Energy,
//!     Unit::WattHour,
//!     1.234,
//! )?
//! .with_meter(MeterId::new("MTR-0001")?)
//! .with_usage_point(UsagePointId::new("UP-4711")?)
//! .with_multiplier(UnitMultiplier::KILO)
//! .with_direction(FlowDirection::Forward)
//! .with_phases(PhaseSet::ABC);
//!
//! let mut writer = RdfWriter::new(Vec::new(), Format::Turtle, MappingOptions::default())?;
//! writer.write_measurement(&reading, None)?;
//! let turtle = writer.finish()?;
//! let text = String::from_utf8(turtle.clone())?;
//! assert!(text.contains("saref:isMeasuredIn unit:KiloW-HR"));
//!
//! let back = read_measurements(turtle.as_slice(), Format::Turtle)?;
//! assert_eq!(back, vec![reading]);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! Writers are streaming: each value's triples are written as it comes (Turtle and N-Triples
//! are formatted into an internal buffer and reach the writer in one call per value; JSON-LD
//! makes many small writes, so wrap the output in a `BufWriter`), and only the IRIs of devices,
//! features of interest and properties already described are remembered. Readers load the document into a graph, then return every
//! measurement or set point it describes, with a [`SarefError`] naming the subject and
//! predicate when a required term is missing or has the wrong type.
#![forbid(unsafe_code)]
#![cfg_attr(
    not(test),
    warn(clippy::unwrap_used, clippy::expect_used, clippy::panic)
)]

mod error;
mod iri;
mod jsonld;
mod map;
mod read;
mod serialize;
pub mod vocab;

use std::io::Write;

use platone_model::{Measurement, SetPoint};

pub use error::{Result, SarefError};
pub use iri::Base;
pub use jsonld::{CONTEXT, CONTEXT_IRI, JsonLdContext, context_document};
pub use map::{
    CertificationRef, DeviceRole, Mapper, MappingOptions, Pattern, TripleSink, ValueDatatype,
};
pub use read::{
    certified_measurements_from_graph, measurements_from_graph, read_certified_measurements,
    read_graph, read_measurements, read_set_points, set_points_from_graph,
};

/// The base IRI used when none is given.
pub const DEFAULT_BASE: &str = "https://data.example.org/grid/";

/// SHACL shapes for the mapping's output (SAREF 3 pattern), in Turtle.
pub const SHAPES: &str = include_str!("../shapes/platone-saref.shacl.ttl");

/// An RDF serialisation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Format {
    /// Turtle, with prefixes.
    Turtle,
    /// N-Triples.
    NTriples,
    /// Compact JSON-LD with the crate's context.
    JsonLd,
}

impl Format {
    /// The media type (`text/turtle`, `application/n-triples`, `application/ld+json`).
    pub fn media_type(self) -> &'static str {
        match self {
            Format::Turtle => "text/turtle",
            Format::NTriples => "application/n-triples",
            Format::JsonLd => "application/ld+json",
        }
    }

    /// The format of a media type or a short name (`turtle`, `ttl`, `ntriples`, `nt`, `jsonld`,
    /// `json-ld`), when known.
    pub fn from_name(name: &str) -> Option<Format> {
        let name = name
            .split(';')
            .next()
            .unwrap_or("")
            .trim()
            .to_ascii_lowercase();
        Some(match name.as_str() {
            "turtle" | "ttl" | "text/turtle" => Format::Turtle,
            "ntriples" | "n-triples" | "nt" | "application/n-triples" => Format::NTriples,
            "jsonld" | "json-ld" | "application/ld+json" => Format::JsonLd,
            _ => return None,
        })
    }
}

enum Output<W: Write> {
    Turtle(serialize::TurtleOut<W>),
    NTriples(serialize::NTriplesOut<W>),
    JsonLd(jsonld::JsonLdWriter<W>),
}

impl<W: Write> Output<W> {
    /// Hands the value just mapped to the writer.
    fn drain(&mut self) -> std::io::Result<()> {
        match self {
            Output::Turtle(s) => s.drain(),
            Output::NTriples(s) => s.drain(),
            Output::JsonLd(_) => Ok(()),
        }
    }
}

impl<W: Write> TripleSink for Output<W> {
    fn triple(&mut self, triple: oxrdf::TripleRef<'_>) -> std::io::Result<()> {
        match self {
            Output::Turtle(s) => s.triple(triple),
            Output::NTriples(s) => s.triple(triple),
            Output::JsonLd(s) => s.triple(triple),
        }
    }
}

/// A streaming writer of measurements and set points in one RDF format.
pub struct RdfWriter<W: Write> {
    mapper: Mapper,
    output: Output<W>,
}

impl<W: Write> RdfWriter<W> {
    /// A writer to `writer` (JSON-LD with the context inline).
    pub fn new(writer: W, format: Format, options: MappingOptions) -> Result<Self> {
        Self::with_context(writer, format, options, JsonLdContext::Inline)
    }

    /// A writer to `writer`; `context` says how a JSON-LD document carries its context.
    pub fn with_context(
        writer: W,
        format: Format,
        options: MappingOptions,
        context: JsonLdContext,
    ) -> Result<Self> {
        let output = match format {
            Format::Turtle => Output::Turtle(serialize::TurtleOut::new(writer, vocab::PREFIXES)),
            Format::NTriples => Output::NTriples(serialize::NTriplesOut::new(writer)),
            Format::JsonLd => Output::JsonLd(jsonld::JsonLdWriter::new(writer, context)?),
        };
        Ok(RdfWriter {
            mapper: Mapper::new(options),
            output,
        })
    }

    /// Writes one measurement, with its certification references when given.
    pub fn write_measurement(
        &mut self,
        measurement: &Measurement,
        certification: Option<&CertificationRef>,
    ) -> Result<()> {
        self.mapper
            .measurement(measurement, certification, &mut self.output)?;
        self.output.drain()?;
        Ok(())
    }

    /// Writes one set point.
    pub fn write_set_point(&mut self, set_point: &SetPoint) -> Result<()> {
        self.mapper.set_point(set_point, &mut self.output)?;
        self.output.drain()?;
        Ok(())
    }

    /// Ends the document and gives the output back.
    pub fn finish(self) -> Result<W> {
        Ok(match self.output {
            Output::Turtle(s) => s.finish()?,
            Output::NTriples(s) => s.finish()?,
            Output::JsonLd(s) => s.finish()?,
        })
    }
}

/// Writes `measurements`, each with its optional certification references, as one document in
/// `format` — the call a REST endpoint or a bus bridge makes. Give a buffered writer.
///
/// ```
/// use platone_model::{Measurement, MeasurementKind, Unit, DeviceId, parse_timestamp};
/// use platone_saref::{CertificationRef, Format, MappingOptions, write_measurements};
///
/// let m = Measurement::new(DeviceId::new("meter-1")?, parse_timestamp("2021-01-01T00:15:00Z")?,
///     MeasurementKind::Energy, Unit::WattHour, 5.0)?;
/// let cert = CertificationRef { batch: "b-7".into(), root: "0xabc".into(),
///     anchor: Some("0xdef".into()), leaf_index: Some(0), ..CertificationRef::default() };
/// let out = write_measurements(Vec::new(), Format::NTriples, &MappingOptions::default(),
///     [(&m, Some(&cert))])?;
/// assert!(String::from_utf8(out)?.contains("<https://w3id.org/platone/ns#merkleRoot> \"0xabc\""));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn write_measurements<'a, W, I>(
    writer: W,
    format: Format,
    options: &MappingOptions,
    measurements: I,
) -> Result<W>
where
    W: Write,
    I: IntoIterator<Item = (&'a Measurement, Option<&'a CertificationRef>)>,
{
    let mut w = RdfWriter::new(writer, format, options.clone())?;
    for (m, cert) in measurements {
        w.write_measurement(m, cert)?;
    }
    w.finish()
}
