//! `GET /api/openapi.json`: the OpenAPI 3.1 document of the REST API, generated from the
//! handlers' `#[utoipa::path]` attributes and the types they take and answer, and completed
//! with the answers every Platone service shares ([`platone_service::openapi::complete`]).

use utoipa::OpenApi;
use utoipa::openapi::server::Server;

use super::{batches, certification, measurements, verify};

/// How the document describes a bearer token.
const BEARER: &str = "An OAuth 2.0 access token (JWT) of the configured OpenID Connect issuer \
    or of the BAL's embedded issuer (`POST /oauth/token`, client-credentials grant), or a static \
    token of a test or demonstration. The token's subject is the participant; the participant \
    or role `dso` sees everything.";

/// The BAL's API, as derived from its handlers (see [`document`] for the whole document).
#[derive(OpenApi)]
#[openapi(
    info(
        title = "Platone Blockchain Access Layer",
        description = "Certified energy data with proofs: subscriptions (D2.13 Table 2), \
            measurements with their Merkle inclusion proofs and anchor status, verification \
            against the ledger, batch certificates, health and metrics. Every error answer is \
            an RFC 9457 problem (`application/problem+json`) with `error` (the same as \
            `detail`) and `at`, naming the parameter, field, path segment or header concerned. \
            Every answer carries `x-request-id`.",
        license(name = "MIT OR Apache-2.0", identifier = "MIT OR Apache-2.0"),
    ),
    paths(
        certification::request,
        certification::list,
        certification::accept,
        certification::decline,
        measurements::list,
        verify::verify,
        batches::get,
        super::health,
        super::ready,
        platone_service::metrics,
        platone_service::openapi::serve_document,
    ),
    tags(
        (name = "subscriptions", description = "Data subscriptions, certified in every state."),
        (name = "measurements", description = "Stored measurements with their proofs."),
        (name = "certification", description = "Proofs, batches and the ledger."),
        (name = "operations", description = "Health, readiness, metrics and this document."),
    ),
)]
pub struct BalApi;

/// The whole document: [`BalApi`] completed with the shared answers and the bearer scheme, its
/// version the crate's, and `public_url` (when configured) as its server; without one, the
/// server is the document's own origin.
pub fn document(public_url: Option<&str>) -> utoipa::openapi::OpenApi {
    let mut document = BalApi::openapi();
    document.info.version = env!("CARGO_PKG_VERSION").into();
    if let Some(url) = public_url {
        document.servers = Some(vec![Server::new(url)]);
    }
    platone_service::openapi::complete(&mut document, BEARER);
    document
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::ROUTES;
    use serde_json::Value;

    fn json() -> Value {
        serde_json::to_value(document(None)).unwrap()
    }

    #[test]
    fn the_document_describes_every_route_and_only_those() {
        let doc = json();
        assert_eq!(doc["openapi"], "3.1.0");
        assert_eq!(doc["info"]["version"], env!("CARGO_PKG_VERSION"));
        let paths = doc["paths"].as_object().unwrap();
        let mut documented = 0;
        for (path, item) in paths {
            for (method, op) in item.as_object().unwrap() {
                documented += 1;
                let route = ROUTES
                    .iter()
                    .find(|r| r.documented == path && r.method.eq_ignore_ascii_case(method))
                    .unwrap_or_else(|| panic!("{method} {path} is documented but not routed"));
                let responses = op["responses"].as_object().unwrap();
                assert!(responses.contains_key("200"), "{method} {path}");
                assert!(responses.contains_key("429"), "{method} {path}");
                let public = op["security"] == serde_json::json!([]);
                assert_eq!(!public, route.authenticated, "security of {method} {path}");
                assert_eq!(
                    responses.contains_key("401"),
                    route.authenticated,
                    "401 of {method} {path}"
                );
            }
        }
        assert_eq!(documented, ROUTES.len());
    }

    #[test]
    fn every_reference_resolves() {
        let unresolved = platone_service::openapi::unresolved_references(&document(None));
        assert!(unresolved.is_empty(), "{unresolved:?}");
        // The check sees references: the document has plenty.
        let text = serde_json::to_string(&document(None)).unwrap();
        assert!(text.matches("\"$ref\"").count() > 20);
    }

    #[test]
    fn the_wire_names_are_documented() {
        let doc = json();
        let schemas = &doc["components"]["schemas"];
        let request = &schemas["SubscriptionRequest"];
        assert_eq!(
            request["required"],
            serde_json::json!(["providerId", "consumerId", "topic"])
        );
        assert_eq!(request["additionalProperties"], false);
        assert_eq!(schemas["VerifyRequest"]["additionalProperties"], false);
        let page = &schemas["MeasurementPage"];
        assert_eq!(page["required"], serde_json::json!(["items", "next"]));
        let listing = &doc["paths"]["/api/measurements"]["get"];
        let content = listing["responses"]["200"]["content"].as_object().unwrap();
        for media in [
            "application/json",
            "text/turtle",
            "application/ld+json",
            "application/n-triples",
        ] {
            assert!(content.contains_key(media), "{media}");
        }
        assert_eq!(
            doc["components"]["securitySchemes"]["bearer"]["scheme"],
            "bearer"
        );
    }

    #[test]
    fn a_public_url_is_the_server() {
        let doc = serde_json::to_value(document(Some("https://bal.example:8443"))).unwrap();
        assert_eq!(doc["servers"][0]["url"], "https://bal.example:8443");
        assert!(json().get("servers").is_none());
    }
}
