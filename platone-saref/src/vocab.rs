//! The IRIs the mapping uses: namespaces, classes, properties and the tables that take the
//! model's enumerations to ontology terms and back.
//!
//! Every term in the `saref:`, `s4ener:`, `s4grid:`, `sgc:`/`sgo:` (SARGON website IRIs),
//! `unit:` and `qk:` (QUDT) namespaces is checked by the crate's term-index test against the
//! ontology files it was taken from; the `platone:` terms are declared in [`VOCABULARY`].

use platone_model::{
    Accumulation, Aggregate, FlowDirection, MeasurementKind, Phase, PhaseSet, QualityFlag, Unit,
};

/// SAREF core (3.1.1; the SAREF 4 observation pattern uses the same namespace).
pub const SAREF: &str = "https://saref.etsi.org/core/";
/// SAREF4ENER (1.1.2).
pub const S4ENER: &str = "https://saref.etsi.org/saref4ener/";
/// SAREF4GRID (1.0.0 draft).
pub const S4GRID: &str = "https://saref.etsi.org/saref4grid/";
/// SARGON 1.0 classes (website IRIs).
pub const SGC: &str = "https://sargon-n5geh.netlify.app/ontology/1.0/classes/";
/// SARGON 1.0 object properties (website IRIs).
pub const SGO: &str = "https://sargon-n5geh.netlify.app/ontology/1.0/object_properties/";
/// QUDT units.
pub const UNIT: &str = "http://qudt.org/vocab/unit/";
/// QUDT quantity kinds.
pub const QK: &str = "http://qudt.org/vocab/quantitykind/";
/// IEC CIM enumerations (CIM100, as CGMES 3.0 writes them).
pub const CIM: &str = "http://iec.ch/TC57/CIM100#";
/// The SDK's own small vocabulary (see [`VOCABULARY`]).
pub const PLATONE: &str = "https://w3id.org/platone/ns#";
/// RDF.
pub const RDF: &str = "http://www.w3.org/1999/02/22-rdf-syntax-ns#";
/// RDF Schema.
pub const RDFS: &str = "http://www.w3.org/2000/01/rdf-schema#";
/// XML Schema datatypes.
pub const XSD: &str = "http://www.w3.org/2001/XMLSchema#";
/// SKOS.
pub const SKOS: &str = "http://www.w3.org/2004/02/skos/core#";

/// The prefixes written in Turtle and used by the JSON-LD context, in that order.
pub const PREFIXES: &[(&str, &str)] = &[
    ("saref", SAREF),
    ("s4ener", S4ENER),
    ("s4grid", S4GRID),
    ("sgc", SGC),
    ("sgo", SGO),
    ("unit", UNIT),
    ("qk", QK),
    ("cim", CIM),
    ("platone", PLATONE),
    ("rdfs", RDFS),
    ("xsd", XSD),
    ("skos", SKOS),
];

/// The `platone:` vocabulary in Turtle: the few terms the ontologies do not provide (phases,
/// flow direction, accumulation, interval, aggregate, channel and quality of a property or
/// measurement; the set-point command's target, unit and validity window; placement links; and
/// the certification references batch, Merkle root and anchor).
pub const VOCABULARY: &str = include_str!("../vocab/platone.ttl");

/// Terms in full, built once at compile time.
pub mod t {
    macro_rules! full {
        ($($name:ident = $iri:expr),+ $(,)?) => {
            $(
                #[doc = concat!("`", $iri, "`")]
                pub const $name: &str = $iri;
            )+
        };
    }
    full! {
        RDF_TYPE = "http://www.w3.org/1999/02/22-rdf-syntax-ns#type",
        RDFS_LABEL = "http://www.w3.org/2000/01/rdf-schema#label",
        SKOS_BROADER = "http://www.w3.org/2004/02/skos/core#broader",
        XSD_DOUBLE = "http://www.w3.org/2001/XMLSchema#double",
        XSD_DECIMAL = "http://www.w3.org/2001/XMLSchema#decimal",
        XSD_DATETIME = "http://www.w3.org/2001/XMLSchema#dateTime",
        XSD_INTEGER = "http://www.w3.org/2001/XMLSchema#integer",
        XSD_STRING = "http://www.w3.org/2001/XMLSchema#string",
        // SAREF core 3.1.1
        S_MEASUREMENT = "https://saref.etsi.org/core/Measurement",
        S_HAS_VALUE = "https://saref.etsi.org/core/hasValue",
        S_HAS_TIMESTAMP = "https://saref.etsi.org/core/hasTimestamp",
        S_IS_MEASURED_IN = "https://saref.etsi.org/core/isMeasuredIn",
        S_RELATES_TO_PROPERTY = "https://saref.etsi.org/core/relatesToProperty",
        S_IS_MEASUREMENT_OF = "https://saref.etsi.org/core/isMeasurementOf",
        S_MEASUREMENT_MADE_BY = "https://saref.etsi.org/core/measurementMadeBy",
        S_MAKES_MEASUREMENT = "https://saref.etsi.org/core/makesMeasurement",
        S_MEASURES_PROPERTY = "https://saref.etsi.org/core/measuresProperty",
        S_HAS_PROPERTY = "https://saref.etsi.org/core/hasProperty",
        S_IS_PROPERTY_OF = "https://saref.etsi.org/core/isPropertyOf",
        S_METER = "https://saref.etsi.org/core/Meter",
        S_DEVICE = "https://saref.etsi.org/core/Device",
        S_METERING_FUNCTION = "https://saref.etsi.org/core/MeteringFunction",
        S_HAS_METER_READING_TYPE = "https://saref.etsi.org/core/hasMeterReadingType",
        S_HAS_FUNCTION = "https://saref.etsi.org/core/hasFunction",
        S_FEATURE_OF_INTEREST = "https://saref.etsi.org/core/FeatureOfInterest",
        S_PROPERTY = "https://saref.etsi.org/core/Property",
        S_ENERGY = "https://saref.etsi.org/core/Energy",
        S_POWER = "https://saref.etsi.org/core/Power",
        S_TEMPERATURE = "https://saref.etsi.org/core/Temperature",
        S_UNIT_OF_MEASURE = "https://saref.etsi.org/core/UnitOfMeasure",
        S_ENERGY_UNIT = "https://saref.etsi.org/core/EnergyUnit",
        S_POWER_UNIT = "https://saref.etsi.org/core/PowerUnit",
        S_TEMPERATURE_UNIT = "https://saref.etsi.org/core/TemperatureUnit",
        S_LEVEL_CONTROL_FUNCTION = "https://saref.etsi.org/core/LevelControlFunction",
        S_SET_ABSOLUTE_LEVEL_COMMAND = "https://saref.etsi.org/core/SetAbsoluteLevelCommand",
        S_MULTI_LEVEL_STATE = "https://saref.etsi.org/core/MultiLevelState",
        S_HAS_COMMAND = "https://saref.etsi.org/core/hasCommand",
        S_IS_COMMAND_OF = "https://saref.etsi.org/core/isCommandOf",
        S_ACTS_UPON = "https://saref.etsi.org/core/actsUpon",
        S_HAS_STATE = "https://saref.etsi.org/core/hasState",
        S_CONTROLS_PROPERTY = "https://saref.etsi.org/core/controlsProperty",
        S_IS_CONTROLLED_BY_DEVICE = "https://saref.etsi.org/core/isControlledByDevice",
        // SAREF core 4 observation pattern (not in the 3.1.1 file; see docs/saref.md)
        S4_OBSERVATION = "https://saref.etsi.org/core/Observation",
        S4_PROPERTY_VALUE = "https://saref.etsi.org/core/PropertyValue",
        S4_HAS_RESULT = "https://saref.etsi.org/core/hasResult",
        S4_IS_VALUE_OF_PROPERTY = "https://saref.etsi.org/core/isValueOfProperty",
        S4_MADE_BY = "https://saref.etsi.org/core/madeBy",
        S4_OBSERVES = "https://saref.etsi.org/core/observes",
        S4_HAS_FEATURE_OF_INTEREST = "https://saref.etsi.org/core/hasFeatureOfInterest",
        // SAREF4GRID
        G_METER = "https://saref.etsi.org/saref4grid/Meter",
        // SARGON
        SG_PMU = "https://sargon-n5geh.netlify.app/ontology/1.0/classes/PMU",
        SG_HAS_CHANNEL = "https://sargon-n5geh.netlify.app/ontology/1.0/object_properties/has_channel",
        SG_MAGNITUDE = "https://sargon-n5geh.netlify.app/ontology/1.0/classes/Maqnitute",
        SG_ANGLE = "https://sargon-n5geh.netlify.app/ontology/1.0/classes/Angle",
        SG_FREQUENCY = "https://sargon-n5geh.netlify.app/ontology/1.0/classes/Frequency",
        SG_ROCOF = "https://sargon-n5geh.netlify.app/ontology/1.0/classes/Rocf",
        SG_VOLTAGE = "https://sargon-n5geh.netlify.app/ontology/1.0/classes/Voltage",
        SG_CURRENT = "https://sargon-n5geh.netlify.app/ontology/1.0/classes/Current",
        // platone:
        P_MRID = "https://w3id.org/platone/ns#mRID",
        P_USAGE_POINT = "https://w3id.org/platone/ns#UsagePoint",
        P_POINT_OF_DELIVERY = "https://w3id.org/platone/ns#PointOfDelivery",
        P_GRID_COMPONENT = "https://w3id.org/platone/ns#GridComponent",
        P_USAGE_POINT_LINK = "https://w3id.org/platone/ns#usagePoint",
        P_POD_LINK = "https://w3id.org/platone/ns#pointOfDelivery",
        P_COMPONENT_LINK = "https://w3id.org/platone/ns#gridComponent",
        P_METER_LINK = "https://w3id.org/platone/ns#meter",
        P_MEASUREMENT_KIND = "https://w3id.org/platone/ns#measurementKind",
        P_QUANTITY_KIND = "https://w3id.org/platone/ns#quantityKind",
        P_PHASES = "https://w3id.org/platone/ns#phases",
        P_FLOW_DIRECTION = "https://w3id.org/platone/ns#flowDirection",
        P_ACCUMULATION = "https://w3id.org/platone/ns#accumulation",
        P_INTERVAL_SECONDS = "https://w3id.org/platone/ns#intervalSeconds",
        P_AGGREGATE = "https://w3id.org/platone/ns#aggregate",
        P_CHANNEL = "https://w3id.org/platone/ns#channel",
        P_READING_TYPE_CODE = "https://w3id.org/platone/ns#readingTypeCode",
        P_PHASOR_COMPONENT = "https://w3id.org/platone/ns#phasorComponent",
        P_MAGNITUDE = "https://w3id.org/platone/ns#Magnitude",
        P_ANGLE = "https://w3id.org/platone/ns#Angle",
        P_QUALITY = "https://w3id.org/platone/ns#quality",
        P_UNIT_MULTIPLIER = "https://w3id.org/platone/ns#unitMultiplier",
        P_UNIT_SYMBOL = "https://w3id.org/platone/ns#unitSymbol",
        P_TARGET_PROPERTY = "https://w3id.org/platone/ns#targetProperty",
        P_UNIT = "https://w3id.org/platone/ns#unit",
        P_VALID_FROM = "https://w3id.org/platone/ns#validFrom",
        P_VALID_UNTIL = "https://w3id.org/platone/ns#validUntil",
        P_SET_POINT_ID = "https://w3id.org/platone/ns#setPointId",
        P_ISSUED_BY = "https://w3id.org/platone/ns#issuedBy",
        P_CERTIFIED_IN = "https://w3id.org/platone/ns#certifiedIn",
        P_LEAF_INDEX = "https://w3id.org/platone/ns#leafIndex",
        P_CERTIFIED_BATCH = "https://w3id.org/platone/ns#CertifiedBatch",
        P_BATCH_ID = "https://w3id.org/platone/ns#batchId",
        P_MERKLE_ROOT = "https://w3id.org/platone/ns#merkleRoot",
        P_ANCHOR = "https://w3id.org/platone/ns#anchor",
        P_ANCHOR_LEDGER = "https://w3id.org/platone/ns#anchorLedger",
        P_ANCHOR_POSITION = "https://w3id.org/platone/ns#anchorPosition",
        P_ANCHORED_AT = "https://w3id.org/platone/ns#anchoredAt",
    }
}

/// QUDT unit local names for a unit with a multiplier, where QUDT has one (`(Wh, 3)` is
/// `KiloW-HR`). Taken from the QUDT units file; the term-index test checks each exists.
pub(crate) const UNITS: &[(Unit, i8, &str)] = &[
    (Unit::WattHour, 0, "W-HR"),
    (Unit::WattHour, 3, "KiloW-HR"),
    (Unit::WattHour, 6, "MegaW-HR"),
    (Unit::WattHour, 9, "GigaW-HR"),
    (Unit::WattHour, 12, "TeraW-HR"),
    (Unit::VarHour, 0, "VAR-HR"),
    (Unit::VarHour, 3, "KiloVAR-HR"),
    (Unit::VarHour, 6, "MegaVAR-HR"),
    (Unit::VoltAmpereHour, 0, "VA-HR"),
    (Unit::VoltAmpereHour, 3, "KiloVA-HR"),
    (Unit::VoltAmpereHour, 6, "MegaVA-HR"),
    (Unit::Watt, -3, "MilliW"),
    (Unit::Watt, 0, "W"),
    (Unit::Watt, 3, "KiloW"),
    (Unit::Watt, 6, "MegaW"),
    (Unit::Watt, 9, "GigaW"),
    (Unit::Var, -3, "MilliVAR"),
    (Unit::Var, 0, "VAR"),
    (Unit::Var, 3, "KiloVAR"),
    (Unit::Var, 6, "MegaVAR"),
    (Unit::Var, 9, "GigaVAR"),
    (Unit::VoltAmpere, -3, "MilliVA"),
    (Unit::VoltAmpere, 0, "VA"),
    (Unit::VoltAmpere, 3, "KiloVA"),
    (Unit::VoltAmpere, 6, "MegaVA"),
    (Unit::VoltAmpere, 9, "GigaVA"),
    (Unit::Volt, -6, "MicroV"),
    (Unit::Volt, -3, "MilliV"),
    (Unit::Volt, 0, "V"),
    (Unit::Volt, 3, "KiloV"),
    (Unit::Volt, 6, "MegaV"),
    (Unit::Ampere, -6, "MicroA"),
    (Unit::Ampere, -3, "MilliA"),
    (Unit::Ampere, 0, "A"),
    (Unit::Ampere, 3, "KiloA"),
    (Unit::AmpereHour, -3, "MilliA-HR"),
    (Unit::AmpereHour, 0, "A-HR"),
    (Unit::AmpereHour, 3, "KiloA-HR"),
    (Unit::Hertz, -3, "MilliHZ"),
    (Unit::Hertz, 0, "HZ"),
    (Unit::Hertz, 3, "KiloHZ"),
    (Unit::HertzPerSecond, 0, "HZ-PER-SEC"),
    (Unit::Radian, -3, "MilliRAD"),
    (Unit::Radian, 0, "RAD"),
    (Unit::Degree, 0, "DEG"),
    (Unit::Second, -3, "MilliSEC"),
    (Unit::Second, 0, "SEC"),
    (Unit::DegreeCelsius, 0, "DEG_C"),
    (Unit::CosPhi, 0, "UNITLESS"),
    (Unit::Percent, 0, "PERCENT"),
    (Unit::Count, 0, "NUM"),
    (Unit::None, 0, "UNITLESS"),
];

/// The unit table: (unit, power of ten, QUDT local name).
pub fn units_table() -> &'static [(Unit, i8, &'static str)] {
    UNITS
}

/// The QUDT local name for `unit` × 10^`exponent`, when QUDT has one.
pub(crate) fn qudt_unit(unit: Unit, exponent: i8) -> Option<&'static str> {
    UNITS
        .iter()
        .find(|(u, e, _)| *u == unit && *e == exponent)
        .map(|(_, _, name)| *name)
}

/// The unit and exponent of a QUDT local name. `UNITLESS` reads as [`Unit::None`] unless the
/// measurement also says `platone:unitSymbol "cosPhi"`.
pub(crate) fn unit_of_qudt(local: &str) -> Option<(Unit, i8)> {
    UNITS
        .iter()
        .filter(|(u, _, _)| *u != Unit::CosPhi)
        .find(|(_, _, name)| *name == local)
        .map(|(u, e, _)| (*u, *e))
}

/// The SAREF core 3.1.1 unit class a unit belongs to (`saref:isMeasuredIn` ranges over
/// `saref:UnitOfMeasure`, so the QUDT unit is typed once).
pub(crate) fn unit_class(unit: Unit) -> &'static str {
    match unit {
        Unit::WattHour | Unit::VarHour | Unit::VoltAmpereHour => t::S_ENERGY_UNIT,
        Unit::Watt | Unit::Var | Unit::VoltAmpere => t::S_POWER_UNIT,
        Unit::DegreeCelsius => t::S_TEMPERATURE_UNIT,
        _ => t::S_UNIT_OF_MEASURE,
    }
}

/// The QUDT quantity kind of a measurement's kind and unit.
pub(crate) fn quantity_kind(kind: MeasurementKind, unit: Unit) -> Option<&'static str> {
    use MeasurementKind as K;
    Some(match (kind, unit) {
        (K::Energy, Unit::VarHour) => "ReactiveEnergy",
        (K::Energy, Unit::VoltAmpereHour) => "Energy",
        (K::Energy, _) => "ActiveEnergy",
        (K::Power | K::Demand, Unit::Var) => "ReactivePower",
        (K::Power | K::Demand, Unit::VoltAmpere) => "ApparentPower",
        (K::Power | K::Demand, _) => "ActivePower",
        (K::Voltage, _) => "Voltage",
        (K::Current, _) => "ElectricCurrent",
        (K::PhaseAngle, _) => "PlaneAngle",
        (K::Frequency, _) => "Frequency",
        (K::RateOfChangeOfFrequency, _) => "RateOfChangeOfFrequency",
        (K::PowerFactor, _) => "PowerFactor",
        (K::Temperature, _) => "Temperature",
        // No QUDT quantity kind, or a kind added to the model after this mapping.
        _ => return None,
    })
}

/// The SAREF4GRID property individual a property is narrower than, when there is one.
pub(crate) fn s4grid_broader(kind: MeasurementKind, unit: Unit) -> Option<&'static str> {
    use MeasurementKind as K;
    Some(match (kind, unit) {
        (K::Energy, Unit::VarHour) => "ReactiveEnergy",
        (K::Energy, Unit::WattHour) => "ActiveEnergy",
        (K::Power | K::Demand, Unit::Var) => "ReactivePower",
        (K::Power | K::Demand, Unit::VoltAmpere) => "ApparentPower",
        (K::Power | K::Demand, Unit::Watt) => "ActivePower",
        (K::Voltage, _) => "Voltage",
        (K::Current, _) => "Current",
        (K::PhaseAngle, _) => "PhaseAngle",
        (K::PowerFactor, _) => "PowerFactor",
        _ => return None,
    })
}

/// The SAREF core 3.1.1 property subclass of a kind, when it has one.
pub(crate) fn saref_property_class(kind: MeasurementKind) -> Option<&'static str> {
    use MeasurementKind as K;
    match kind {
        K::Energy => Some(t::S_ENERGY),
        K::Power | K::Demand => Some(t::S_POWER),
        K::Temperature => Some(t::S_TEMPERATURE),
        _ => None,
    }
}

/// The SARGON property class of a kind, when it has one (PMU quantities).
pub(crate) fn sargon_property_class(kind: MeasurementKind) -> Option<&'static str> {
    use MeasurementKind as K;
    match kind {
        K::Voltage => Some(t::SG_VOLTAGE),
        K::Current => Some(t::SG_CURRENT),
        _ => None,
    }
}

/// The SARGON channel class of a PMU quantity.
pub(crate) fn sargon_channel_class(kind: MeasurementKind) -> Option<&'static str> {
    use MeasurementKind as K;
    match kind {
        K::Voltage | K::Current => Some(t::SG_MAGNITUDE),
        K::PhaseAngle => Some(t::SG_ANGLE),
        K::Frequency => Some(t::SG_FREQUENCY),
        K::RateOfChangeOfFrequency => Some(t::SG_ROCOF),
        _ => None,
    }
}

/// The CIM `FlowDirectionKind` literal of a direction (`None` for not applicable).
pub(crate) fn cim_flow_direction(d: FlowDirection) -> Option<&'static str> {
    Some(match d {
        FlowDirection::NotApplicable => return None,
        FlowDirection::Forward => "FlowDirectionKind.forward",
        FlowDirection::Reverse => "FlowDirectionKind.reverse",
        FlowDirection::Net => "FlowDirectionKind.net",
        FlowDirection::Total => "FlowDirectionKind.total",
    })
}

/// The CIM `AccumulationKind` literal of an accumulation (`None` for not applicable).
pub(crate) fn cim_accumulation(a: Accumulation) -> Option<&'static str> {
    Some(match a {
        Accumulation::NotApplicable => return None,
        Accumulation::Instantaneous => "AccumulationKind.instantaneous",
        Accumulation::Cumulative => "AccumulationKind.cumulative",
        Accumulation::Delta => "AccumulationKind.deltaData",
        Accumulation::Indicating => "AccumulationKind.indicating",
        Accumulation::Summation => "AccumulationKind.summation",
        Accumulation::BulkQuantity => "AccumulationKind.bulkQuantity",
    })
}

/// The CIM `AggregateKind` literal of an aggregate (`None` for not aggregated).
pub(crate) fn cim_aggregate(a: Aggregate) -> Option<&'static str> {
    Some(match a {
        Aggregate::None => return None,
        Aggregate::Average => "AggregateKind.average",
        Aggregate::Sum => "AggregateKind.sum",
        Aggregate::Minimum => "AggregateKind.minimum",
        Aggregate::Maximum => "AggregateKind.maximum",
        Aggregate::Normal => "AggregateKind.normal",
        Aggregate::Nominal => "AggregateKind.nominal",
    })
}

/// The CIM phase literal of a phase set: `SinglePhaseKind.X` for one conductor,
/// `PhaseCode.X` for several (`None` for no phase, or a combination CIM has no code for).
pub(crate) fn cim_phases(p: PhaseSet) -> Option<String> {
    if p.is_empty() {
        return None;
    }
    let single = p.phases().count() == 1;
    let mut name = String::new();
    let split = p.contains(Phase::S1) || p.contains(Phase::S2);
    if split {
        // CIM writes split-phase codes s1, s2, s12, s1N, s2N, s12N.
        if p.contains(Phase::A) || p.contains(Phase::B) || p.contains(Phase::C) {
            return None;
        }
        name.push('s');
        if p.contains(Phase::S1) {
            name.push('1');
        }
        if p.contains(Phase::S2) {
            name.push('2');
        }
        if p.contains(Phase::N) {
            name.push('N');
        }
    } else {
        name = p.to_string();
    }
    Some(if single {
        format!("SinglePhaseKind.{name}")
    } else {
        format!("PhaseCode.{name}")
    })
}

/// The phase set of a CIM phase literal (`PhaseCode.ABC`, `SinglePhaseKind.A`, `PhaseCode.s12N`).
pub(crate) fn phases_of_cim(local: &str) -> Option<PhaseSet> {
    let name = local
        .strip_prefix("PhaseCode.")
        .or_else(|| local.strip_prefix("SinglePhaseKind."))?;
    if let Some(split) = name.strip_prefix('s') {
        let mut set = PhaseSet::NONE;
        let (digits, neutral) = match split.strip_suffix('N') {
            Some(d) => (d, true),
            None => (split, false),
        };
        match digits {
            "1" => set = set.with(Phase::S1),
            "2" => set = set.with(Phase::S2),
            "12" => set = set.with(Phase::S1).with(Phase::S2),
            _ => return None,
        }
        if neutral {
            set = set.with(Phase::N);
        }
        return Some(set);
    }
    name.parse().ok().filter(|p: &PhaseSet| !p.is_empty())
}

/// The `platone:` individual naming a measurement kind (`platone:MeasurementKind.energy`).
pub(crate) fn kind_local(kind: MeasurementKind) -> &'static str {
    use MeasurementKind as K;
    match kind {
        K::Energy => "MeasurementKind.energy",
        K::Power => "MeasurementKind.power",
        K::Demand => "MeasurementKind.demand",
        K::Voltage => "MeasurementKind.voltage",
        K::Current => "MeasurementKind.current",
        K::PhaseAngle => "MeasurementKind.phaseAngle",
        K::Frequency => "MeasurementKind.frequency",
        K::RateOfChangeOfFrequency => "MeasurementKind.rateOfChangeOfFrequency",
        K::PowerFactor => "MeasurementKind.powerFactor",
        K::TotalHarmonicDistortion => "MeasurementKind.totalHarmonicDistortion",
        K::Temperature => "MeasurementKind.temperature",
        K::Count => "MeasurementKind.count",
        // A kind added to the model after this mapping: named as not mapped yet.
        _ => "MeasurementKind.unmapped",
    }
}

/// The `platone:` individual naming a quality flag (`platone:Quality.estimated`).
pub(crate) fn quality_local(flag: QualityFlag) -> &'static str {
    match flag {
        QualityFlag::Missing => "Quality.missing",
        QualityFlag::Estimated => "Quality.estimated",
        QualityFlag::Substituted => "Quality.substituted",
        QualityFlag::Invalid => "Quality.invalid",
        QualityFlag::Questionable => "Quality.questionable",
        QualityFlag::TimeNotSynchronised => "Quality.timeNotSynchronised",
        QualityFlag::Overflow => "Quality.overflow",
        QualityFlag::DeviceError => "Quality.deviceError",
        QualityFlag::Test => "Quality.test",
        QualityFlag::Modified => "Quality.modified",
        // A flag added to the model after this mapping: named as not mapped yet.
        _ => "Quality.unmapped",
    }
}

/// The ontology versions the mapping follows, as (prefix, version).
pub const ONTOLOGY_VERSIONS: &[(&str, &str)] = &[
    ("saref", "3.1.1"),
    ("s4ener", "1.1.2"),
    ("s4grid", "1.0.0"),
    ("sargon", "1.0"),
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn phase_literals_round_trip() {
        let sets = [
            "A", "B", "N", "AB", "AC", "ABC", "ABCN", "AN", "S1", "S2", "S1S2", "S1N", "S1S2N",
        ];
        for text in sets {
            let set: PhaseSet = text.parse().unwrap();
            let cim = cim_phases(set).unwrap();
            assert_eq!(phases_of_cim(&cim), Some(set), "{text} -> {cim}");
        }
        assert_eq!(cim_phases(PhaseSet::A).unwrap(), "SinglePhaseKind.A");
        assert_eq!(cim_phases(PhaseSet::ABC).unwrap(), "PhaseCode.ABC");
        assert!(cim_phases("AS1".parse().unwrap()).is_none());
        assert!(cim_phases(PhaseSet::NONE).is_none());
    }

    #[test]
    fn unit_table_is_a_function_both_ways() {
        for (u, e, name) in UNITS {
            assert_eq!(qudt_unit(*u, *e), Some(*name));
            if *u != Unit::CosPhi {
                assert_eq!(unit_of_qudt(name), Some((*u, *e)));
            }
        }
    }
}
