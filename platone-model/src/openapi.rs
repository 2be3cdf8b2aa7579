//! OpenAPI schemas (utoipa) of the vocabulary, with the `openapi` feature: identifiers as
//! bounded strings, named enumerations as string enumerations of their JSON names, and the
//! compact forms of [`PhaseSet`], [`Quality`], [`UnitMultiplier`] and [`MeasuringPeriod`], so
//! that a service's generated document says exactly what these types accept.
//!
//! A [`Timestamp`](crate::Timestamp) is a `chrono` alias; fields of that type are documented
//! with `#[schema(value_type = String, format = DateTime)]`.

use utoipa::openapi::RefOr;
use utoipa::openapi::schema::{ArrayBuilder, ObjectBuilder, Schema, Type};
use utoipa::{PartialSchema, ToSchema};

use crate::id::MAX_ID_LEN;
use crate::{
    Accumulation, Aggregate, ComponentId, DeviceId, FlowDirection, MeasurementKind,
    MeasuringPeriod, MeterId, ParticipantId, PhaseSet, PodId, Quality, QualityFlag, Unit,
    UnitMultiplier, UsagePointId,
};

/// The schema of every identifier: not empty, at most [`MAX_ID_LEN`] bytes, no white space at
/// either end.
fn identifier(description: &str) -> RefOr<Schema> {
    ObjectBuilder::new()
        .schema_type(Type::String)
        .min_length(Some(1))
        .max_length(Some(MAX_ID_LEN))
        .pattern(Some(r"^\S(.*\S)?$"))
        .description(Some(description))
        .into()
}

macro_rules! identifier_schemas {
    ($($name:ident => $description:literal;)*) => {$(
        impl PartialSchema for $name {
            fn schema() -> RefOr<Schema> {
                identifier($description)
            }
        }
        impl ToSchema for $name {}
    )*};
}

identifier_schemas! {
    DeviceId => "A field device (smart meter, Light Node, PMU).";
    MeterId => "A meter.";
    PodId => "A Point of Delivery.";
    UsagePointId => "A CIM usage point.";
    ComponentId => "A grid component (bus, line) a PMU reports on.";
    ParticipantId => "A market or data-sharing participant.";
}

macro_rules! named_schemas {
    ($($name:ident => $description:literal;)*) => {$(
        impl PartialSchema for $name {
            fn schema() -> RefOr<Schema> {
                ObjectBuilder::new()
                    .schema_type(Type::String)
                    .enum_values(Some($name::ALL.iter().map(|v| v.as_str())))
                    .description(Some($description))
                    .into()
            }
        }
        impl ToSchema for $name {}
    )*};
}

named_schemas! {
    MeasurementKind => "The physical quantity.";
    Unit => "The unit (IEC 61968-9 symbols).";
    FlowDirection => "Which way energy flows, seen from the customer's meter.";
    Accumulation => "How the value accumulates.";
    Aggregate => "How samples were combined into the value.";
    QualityFlag => "One quality flag.";
}

impl PartialSchema for PhaseSet {
    fn schema() -> RefOr<Schema> {
        ObjectBuilder::new()
            .schema_type(Type::String)
            .pattern(Some("^(none|(A|B|C|N|S1|S2)*)$"))
            .description(Some(
                "The conductors: phases A, B, C, N, S1, S2 each at most once (written in that \
                 order), or `none`.",
            ))
            .examples(["ABC", "AN", "none"])
            .into()
    }
}
impl ToSchema for PhaseSet {}

impl PartialSchema for Quality {
    fn schema() -> RefOr<Schema> {
        ArrayBuilder::new()
            .items(QualityFlag::schema())
            .unique_items(true)
            .description(Some("Quality flags; empty is good."))
            .into()
    }
}
impl ToSchema for Quality {}

/// A bounded integer.
fn integer(minimum: i64, maximum: i64, description: &str) -> RefOr<Schema> {
    ObjectBuilder::new()
        .schema_type(Type::Integer)
        .minimum(Some(minimum))
        .maximum(Some(maximum))
        .description(Some(description))
        .into()
}

impl PartialSchema for UnitMultiplier {
    fn schema() -> RefOr<Schema> {
        integer(-24, 24, "The power of ten the unit carries (3 is kilo).")
    }
}
impl ToSchema for UnitMultiplier {}

impl PartialSchema for MeasuringPeriod {
    fn schema() -> RefOr<Schema> {
        integer(
            1,
            u32::MAX.into(),
            "The interval the value covers, in seconds.",
        )
    }
}
impl ToSchema for MeasuringPeriod {}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Measurement;

    fn json<T: PartialSchema>() -> serde_json::Value {
        serde_json::to_value(T::schema()).unwrap()
    }

    #[test]
    fn named_enumerations_list_their_json_names() {
        let unit = json::<Unit>();
        let names = unit["enum"].as_array().unwrap();
        assert_eq!(names.len(), Unit::ALL.len());
        for unit in Unit::ALL {
            assert!(names.contains(&serde_json::json!(unit.as_str())), "{unit}");
        }
    }

    #[test]
    fn a_measurement_requires_what_its_serde_form_requires() {
        let schema = json::<Measurement>();
        let mut required: Vec<&str> = schema["required"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_str().unwrap())
            .collect();
        required.sort_unstable();
        assert_eq!(required, ["kind", "source", "timestamp", "unit", "value"]);
        assert_eq!(schema["properties"]["timestamp"]["format"], "date-time");
        assert_eq!(
            schema["properties"]["kind"]["$ref"],
            "#/components/schemas/MeasurementKind"
        );
        let mut schemas = Vec::new();
        <Measurement as ToSchema>::schemas(&mut schemas);
        let names: Vec<&str> = schemas.iter().map(|(name, _)| name.as_str()).collect();
        for name in ["DeviceId", "MeasurementKind", "Unit", "PhaseSet", "Quality"] {
            assert!(names.contains(&name), "{name} missing from {names:?}");
        }
    }
}
