//! `GET /api/openapi.json`: the OpenAPI 3.1 document describing every route.

use axum::http::header::CONTENT_TYPE;
use axum::response::IntoResponse;

/// The OpenAPI 3.1 document of the REST API.
pub const OPENAPI_DOCUMENT: &str = include_str!("openapi.json");

/// The handler.
pub async fn serve() -> impl IntoResponse {
    ([(CONTENT_TYPE, "application/json")], OPENAPI_DOCUMENT)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::ROUTES;

    #[test]
    fn the_document_describes_every_route_and_only_those() {
        let doc: serde_json::Value = serde_json::from_str(OPENAPI_DOCUMENT).unwrap();
        assert_eq!(doc["openapi"], "3.1.0");
        assert_eq!(doc["info"]["version"], env!("CARGO_PKG_VERSION"));
        let paths = doc["paths"].as_object().unwrap();
        let mut documented = 0;
        for (path, item) in paths {
            for (method, op) in item.as_object().unwrap() {
                if method == "parameters" {
                    continue;
                }
                documented += 1;
                let route = ROUTES
                    .iter()
                    .find(|r| r.documented == path && r.method.eq_ignore_ascii_case(method))
                    .unwrap_or_else(|| panic!("{method} {path} is documented but not routed"));
                assert!(op["responses"].is_object(), "{method} {path}");
                assert_eq!(
                    op.get("security")
                        .is_none_or(|s| !s.as_array().unwrap().is_empty()),
                    route.authenticated,
                    "security of {method} {path}"
                );
            }
        }
        assert_eq!(documented, ROUTES.len());
        // Every schema referenced is defined.
        let schemas = doc["components"]["schemas"].as_object().unwrap();
        for reference in OPENAPI_DOCUMENT
            .split("\"$ref\": \"#/components/schemas/")
            .skip(1)
        {
            let name = reference.split('"').next().unwrap();
            assert!(
                schemas.contains_key(name),
                "schema {name} is referenced, not defined"
            );
        }
    }
}
