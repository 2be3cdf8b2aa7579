//! OpenAPI 3.1 documents generated from the code (utoipa): what every Platone service's
//! document has in common, added by [`complete`] to the document a service derives from its
//! handlers and types, and the route that serves it ([`document_route`]).
//!
//! ```
//! use platone_service::openapi::{self, ProblemResponse};
//! use utoipa::OpenApi;
//!
//! /// The caller's name.
//! #[utoipa::path(get, path = "/api/whoami", responses((status = 200, body = String)))]
//! async fn whoami() -> &'static str {
//!     "aggregator-1"
//! }
//!
//! /// Liveness.
//! #[utoipa::path(get, path = "/health", security(()), responses((status = 200)))]
//! async fn health() {}
//!
//! #[derive(OpenApi)]
//! #[openapi(paths(whoami, health, openapi::serve_document, platone_service::metrics))]
//! struct Api;
//!
//! let mut document = Api::openapi();
//! openapi::complete(&mut document, "A token of the embedded issuer.");
//! let json = serde_json::to_value(&document).unwrap();
//! // The data route needs a token and answers the identity problems; the health route does not.
//! let whoami = &json["paths"]["/api/whoami"]["get"];
//! assert_eq!(whoami["responses"]["401"]["$ref"], "#/components/responses/Unauthorized");
//! assert!(json["paths"]["/health"]["get"]["responses"].get("401").is_none());
//! assert_eq!(json["paths"]["/api/openapi.json"]["get"]["security"], serde_json::json!([]));
//! assert_eq!(json["security"][0]["bearer"], serde_json::json!([]));
//! assert_eq!(
//!     json["components"]["responses"]["TooManyRequests"]["content"]
//!         ["application/problem+json"]["schema"]["$ref"],
//!     "#/components/schemas/Problem"
//! );
//! assert!(openapi::unresolved_references(&document).is_empty());
//! # let _ = ProblemResponse::NotFound;
//!
//! // Served at /api/openapi.json beside the service's routes:
//! let app: axum::Router = axum::Router::new()
//!     .route(openapi::OPENAPI_PATH, openapi::document_route(&document)?);
//! # Ok::<(), platone_service::ServiceError>(())
//! ```

use axum::extract::State;
use axum::http::header::CONTENT_TYPE;
use axum::response::{IntoResponse, Response as HttpResponse};
use axum::routing::{MethodRouter, get};
use bytes::Bytes;
use utoipa::openapi::path::Operation;
use utoipa::openapi::response::{Response, ResponseBuilder};
use utoipa::openapi::schema::{ObjectBuilder, Schema, Type};
use utoipa::openapi::security::{Http, HttpAuthScheme, SecurityRequirement, SecurityScheme};
use utoipa::openapi::{ContentBuilder, HeaderBuilder, OpenApi, Ref, RefOr};
use utoipa::{PartialSchema, ToSchema};

use crate::error::{Result, ServiceError};
use crate::problem::{PROBLEM_JSON, Problem};

/// The path every Platone service serves its document at.
pub const OPENAPI_PATH: &str = "/api/openapi.json";

/// The name of the bearer-token security scheme [`complete`] declares.
pub const BEARER_SCHEME: &str = "bearer";

impl PartialSchema for Problem {
    fn schema() -> RefOr<Schema> {
        let text = |description: &str| {
            ObjectBuilder::new()
                .schema_type(Type::String)
                .description(Some(description))
        };
        ObjectBuilder::new()
            .schema_type(Type::Object)
            .description(Some(
                "RFC 9457 problem details, with the members `at` and `error`.",
            ))
            .property(
                "type",
                text("A URI naming the kind of problem (`about:blank`)."),
            )
            .property("title", text("The status's reason phrase."))
            .property(
                "status",
                ObjectBuilder::new()
                    .schema_type(Type::Integer)
                    .minimum(Some(400))
                    .maximum(Some(599))
                    .description(Some("The HTTP status.")),
            )
            .property("detail", text("What is wrong."))
            .property(
                "at",
                text("The parameter, field, path segment or header concerned."),
            )
            .property("error", text("The same as `detail`."))
            .required("type")
            .required("title")
            .required("status")
            .required("detail")
            .required("at")
            .required("error")
            .into()
    }
}

impl ToSchema for Problem {}

/// The error answers every service gives the same way: each an
/// `application/problem+json` [`Problem`], declared once under `components/responses` by
/// [`complete`] and referenced by name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum ProblemResponse {
    /// 400: a parameter, field or body is invalid.
    BadRequest,
    /// 401: no valid bearer token.
    Unauthorized,
    /// 403: the token lacks the role or the policy denies it.
    Forbidden,
    /// 404: nothing is known under this name.
    NotFound,
    /// 409: the resource's state does not allow it.
    Conflict,
    /// 413: the body is larger than the service takes.
    PayloadTooLarge,
    /// 429: the client address's rate is spent.
    TooManyRequests,
    /// 500: an engine failed.
    Internal,
    /// 503: tokens cannot be checked now.
    Unavailable,
}

impl ProblemResponse {
    /// Every common answer.
    pub const ALL: [ProblemResponse; 9] = [
        ProblemResponse::BadRequest,
        ProblemResponse::Unauthorized,
        ProblemResponse::Forbidden,
        ProblemResponse::NotFound,
        ProblemResponse::Conflict,
        ProblemResponse::PayloadTooLarge,
        ProblemResponse::TooManyRequests,
        ProblemResponse::Internal,
        ProblemResponse::Unavailable,
    ];

    /// Its name under `components/responses`.
    pub fn name(self) -> &'static str {
        match self {
            ProblemResponse::BadRequest => "BadRequest",
            ProblemResponse::Unauthorized => "Unauthorized",
            ProblemResponse::Forbidden => "Forbidden",
            ProblemResponse::NotFound => "NotFound",
            ProblemResponse::Conflict => "Conflict",
            ProblemResponse::PayloadTooLarge => "PayloadTooLarge",
            ProblemResponse::TooManyRequests => "TooManyRequests",
            ProblemResponse::Internal => "Internal",
            ProblemResponse::Unavailable => "Unavailable",
        }
    }

    /// Its HTTP status.
    pub fn status(self) -> u16 {
        match self {
            ProblemResponse::BadRequest => 400,
            ProblemResponse::Unauthorized => 401,
            ProblemResponse::Forbidden => 403,
            ProblemResponse::NotFound => 404,
            ProblemResponse::Conflict => 409,
            ProblemResponse::PayloadTooLarge => 413,
            ProblemResponse::TooManyRequests => 429,
            ProblemResponse::Internal => 500,
            ProblemResponse::Unavailable => 503,
        }
    }

    fn description(self) -> &'static str {
        match self {
            ProblemResponse::BadRequest => "A parameter, field or body is invalid; `at` names it.",
            ProblemResponse::Unauthorized => {
                "Missing, malformed, unknown, expired or badly signed bearer token, or one for \
                 another audience; `WWW-Authenticate: Bearer` says why."
            }
            ProblemResponse::Forbidden => "The token's roles or the access policy deny it.",
            ProblemResponse::NotFound => "Nothing is known under this name.",
            ProblemResponse::Conflict => "The resource's state does not allow it.",
            ProblemResponse::PayloadTooLarge => {
                "The request body is larger than the service takes."
            }
            ProblemResponse::TooManyRequests => {
                "This client address made more requests than its rate allows."
            }
            ProblemResponse::Internal => "An engine (the store, the ledger) failed.",
            ProblemResponse::Unavailable => {
                "The token cannot be checked now (the OpenID Connect issuer's keys cannot be \
                 fetched)."
            }
        }
    }

    /// The response object.
    pub fn response(self) -> Response {
        let mut response = ResponseBuilder::new()
            .description(self.description())
            .content(
                PROBLEM_JSON,
                ContentBuilder::new()
                    .schema(Some(Ref::from_schema_name(Problem::name())))
                    .build(),
            );
        let header = |description: &str, kind: Type| {
            HeaderBuilder::new()
                .schema(Some(ObjectBuilder::new().schema_type(kind)))
                .description(Some(description))
                .build()
        };
        match self {
            ProblemResponse::Unauthorized => {
                response = response.header(
                    "WWW-Authenticate",
                    header(
                        "`Bearer realm=\"platone\"`, with `error=\"invalid_token\"` and the \
                         reason when a token was given.",
                        Type::String,
                    ),
                );
            }
            ProblemResponse::TooManyRequests | ProblemResponse::Unavailable => {
                response =
                    response.header("Retry-After", header("Seconds to wait.", Type::Integer));
            }
            _ => {}
        }
        response.build()
    }

    /// A reference to it, for an operation's responses.
    pub fn reference(self) -> RefOr<Response> {
        RefOr::Ref(Ref::new(format!("#/components/responses/{}", self.name())))
    }
}

/// Whether `operation` is served without a token: its own `security` is empty or admits the
/// empty requirement (`security(())` on `#[utoipa::path]`).
pub fn is_public(operation: &Operation) -> bool {
    operation.security.as_ref().is_some_and(|requirements| {
        requirements.is_empty()
            || requirements
                .iter()
                .any(|r| *r == SecurityRequirement::default())
    })
}

/// Completes `document` with what every Platone service answers alike:
///
/// - the [`Problem`] schema, every [`ProblemResponse`] under `components/responses`, and the
///   bearer scheme (`bearer`, described by `bearer_description`) required by default;
/// - on each operation, without replacing an answer it documents itself: 429 (every route is
///   rate-limited); for an operation that takes parameters or a body, 400; with a body, 413;
///   unless it is public ([`is_public`]), 401, 403, 500 and 503. A public operation's `security`
///   becomes `[]`.
pub fn complete(document: &mut OpenApi, bearer_description: &str) {
    let components = document.components.get_or_insert_with(Default::default);
    components
        .schemas
        .insert(Problem::name().into_owned(), Problem::schema());
    for answer in ProblemResponse::ALL {
        components
            .responses
            .insert(answer.name().into(), RefOr::T(answer.response()));
    }
    let mut bearer = Http::new(HttpAuthScheme::Bearer);
    bearer.description = Some(bearer_description.into());
    components
        .security_schemes
        .insert(BEARER_SCHEME.into(), RefOr::T(SecurityScheme::Http(bearer)));
    document.security = Some(vec![SecurityRequirement::new::<_, _, &str>(
        BEARER_SCHEME,
        [],
    )]);
    for item in document.paths.paths.values_mut() {
        let operations = [
            &mut item.get,
            &mut item.put,
            &mut item.post,
            &mut item.delete,
            &mut item.patch,
        ];
        for operation in operations.into_iter().flatten() {
            complete_operation(operation);
        }
    }
}

fn complete_operation(operation: &mut Operation) {
    let public = is_public(operation);
    if public {
        operation.security = Some(Vec::new());
    }
    let has_body = operation.request_body.is_some();
    let has_parameters = operation.parameters.as_ref().is_some_and(|p| !p.is_empty());
    let mut answers = vec![ProblemResponse::TooManyRequests];
    if has_body || has_parameters {
        answers.push(ProblemResponse::BadRequest);
    }
    if has_body {
        answers.push(ProblemResponse::PayloadTooLarge);
    }
    if !public {
        answers.extend([
            ProblemResponse::Unauthorized,
            ProblemResponse::Forbidden,
            ProblemResponse::Internal,
            ProblemResponse::Unavailable,
        ]);
    }
    for answer in answers {
        operation
            .responses
            .responses
            .entry(answer.status().to_string())
            .or_insert_with(|| answer.reference());
    }
}

/// The `$ref`s of `document` that point at nothing in it (a service's tests assert there are
/// none: a schema, response or parameter named but not given).
pub fn unresolved_references(document: &OpenApi) -> Vec<String> {
    fn collect(value: &serde_json::Value, out: &mut Vec<String>) {
        match value {
            serde_json::Value::Object(members) => {
                for (key, member) in members {
                    match (key.as_str(), member) {
                        ("$ref", serde_json::Value::String(target)) => out.push(target.clone()),
                        _ => collect(member, out),
                    }
                }
            }
            serde_json::Value::Array(items) => items.iter().for_each(|item| collect(item, out)),
            _ => {}
        }
    }
    let Ok(json) = serde_json::to_value(document) else {
        return vec!["(the document does not serialise)".into()];
    };
    let mut references = Vec::new();
    collect(&json, &mut references);
    references.retain(|target| {
        target
            .strip_prefix('#')
            .is_none_or(|pointer| json.pointer(pointer).is_none())
    });
    references
}

/// A document serialised once: the state [`serve_document`] answers with.
#[derive(Debug, Clone)]
pub struct DocumentJson(Bytes);

impl DocumentJson {
    /// `document` as JSON.
    pub fn new(document: &OpenApi) -> Result<Self> {
        serde_json::to_vec(document)
            .map(|json| DocumentJson(Bytes::from(json)))
            .map_err(|e| ServiceError::config("OpenAPI document", e))
    }
}

/// `GET /api/openapi.json`: the service's document. Route it with [`document_route`].
#[utoipa::path(
    get,
    path = "/api/openapi.json",
    operation_id = "openapi",
    security(()),
    responses((
        status = 200,
        description = "This document (OpenAPI 3.1).",
        content_type = "application/json",
        body = Object,
    )),
)]
pub async fn serve_document(State(json): State<DocumentJson>) -> HttpResponse {
    ([(CONTENT_TYPE, "application/json")], json.0).into_response()
}

/// The route serving `document` at [`OPENAPI_PATH`], for any router state.
pub fn document_route<S: Clone + Send + Sync + 'static>(
    document: &OpenApi,
) -> Result<MethodRouter<S>> {
    Ok(get(serve_document).with_state(DocumentJson::new(document)?))
}
