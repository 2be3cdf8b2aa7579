//! OpenAPI schemas (utoipa) of the certification records, with the `openapi` feature.
//!
//! [`Proof`](crate::Proof) and [`BatchCertificate`](crate::BatchCertificate) derive theirs;
//! the types with a JSON form of their own are written here: a [`Digest`] is `0x` and 64 hex
//! digits, an [`Anchor`] is the object of its wire form, and an [`AnchorStatus`] is either
//! `{"status": "pending"}` or the anchor's object with `"status": "anchored"` beside its
//! members (one object, so that the anchor's closed member list still holds).

use utoipa::openapi::RefOr;
use utoipa::openapi::schema::{Object, ObjectBuilder, OneOfBuilder, Schema, Type};
use utoipa::{PartialSchema, ToSchema};

use crate::certificate::{Anchor, AnchorStatus, BatchCertificate};
use crate::chain_anchor::AnchorWire;
use crate::scheme::Digest;

type Schemas = Vec<(String, RefOr<Schema>)>;

impl PartialSchema for Digest {
    fn schema() -> RefOr<Schema> {
        ObjectBuilder::new()
            .schema_type(Type::String)
            .pattern(Some("^0x[0-9a-f]{64}$"))
            .description(Some("A 32-byte hash: `0x` and 64 lower-case hex digits."))
            .into()
    }
}

impl ToSchema for Digest {}

impl PartialSchema for Anchor {
    fn schema() -> RefOr<Schema> {
        <AnchorWire as PartialSchema>::schema()
    }
}

impl ToSchema for Anchor {
    fn schemas(schemas: &mut Schemas) {
        // What the anchor's members name (its derived list leaves out those of optional
        // members).
        schemas.push((Digest::name().into(), Digest::schema()));
        schemas.push((BatchCertificate::name().into(), BatchCertificate::schema()));
        BatchCertificate::schemas(schemas);
    }
}

/// An object schema requiring `status` to be `value`, beside the members of `object`.
fn with_status(mut object: Object, value: &str) -> Object {
    object.properties.insert(
        "status".into(),
        ObjectBuilder::new()
            .schema_type(Type::String)
            .enum_values(Some([value]))
            .into(),
    );
    object.required.insert(0, "status".into());
    object
}

impl PartialSchema for AnchorStatus {
    fn schema() -> RefOr<Schema> {
        let pending = with_status(
            ObjectBuilder::new()
                .schema_type(Type::Object)
                .description(Some("Not yet confirmed by the ledger."))
                .build(),
            "pending",
        );
        let anchored = match Anchor::schema() {
            RefOr::T(Schema::Object(object)) => with_status(object, "anchored"),
            // The anchor's schema is derived as an object; anything else would be a change of
            // utoipa's, caught by this crate's tests.
            _ => with_status(ObjectBuilder::new().build(), "anchored"),
        };
        OneOfBuilder::new()
            .item(pending)
            .item(anchored)
            .description(Some(
                "Whether and where a batch certificate is anchored: `pending`, or `anchored` \
                 with the anchor's members.",
            ))
            .into()
    }
}

impl ToSchema for AnchorStatus {
    fn schemas(schemas: &mut Schemas) {
        // The anchored form inlines the anchor's members.
        <Anchor as ToSchema>::schemas(schemas);
    }
}
