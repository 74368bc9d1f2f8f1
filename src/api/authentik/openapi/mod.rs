//! gatehouse's own OpenAPI document of `/api/v3/` (`GET /api/v3/schema/`, YAML by default, JSON
//! with `?format=json`, as authentik serves its own) and the browsable reference at `/api/v3/`.
//!
//! The document is built from the code, once, on its first request: its paths and methods
//! are the route table the dialect's modules declared (`api::routing::Routes`), and each
//! operation's request and response schemas come from the types the handlers serialize
//! (`utoipa::ToSchema` on the `*Out` shapes) or, for bodies parsed field by field, from the
//! request shapes in `requests.rs`. Each resource module declares its operations beside its
//! routes (`operations`); a served route without a declared operation, or an operation for a
//! route not served, fails the check of the route table — at start-up (when the router is
//! built, before the document itself is) and in every test.
//! It must not touch the domain: it describes shapes, it reads nothing.

pub mod reference;
pub mod requests;
pub mod schemas;
pub mod yaml;

use std::sync::{Arc, OnceLock};

use axum::extract::RawQuery;
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::Value;
use utoipa::openapi::content::Content;
use utoipa::openapi::path::{
    HttpMethod, Operation as ApiOperation, OperationBuilder, ParameterBuilder, ParameterIn, Paths,
};
use utoipa::openapi::request_body::RequestBodyBuilder;
use utoipa::openapi::response::ResponseBuilder;
use utoipa::openapi::schema::{
    AdditionalProperties, ArrayBuilder, ComponentsBuilder, ObjectBuilder, Schema, SchemaFormat,
    SchemaType, Type,
};
use utoipa::openapi::security::{Http, HttpAuthScheme, SecurityRequirement, SecurityScheme};
use utoipa::openapi::server::Server;
use utoipa::openapi::{InfoBuilder, OpenApiBuilder, Ref, RefOr, Required};
use utoipa::ToSchema;

use crate::api::query::Params;
use crate::api::routing::Methods;

/// The path of the document under `/api/v3` (a route of the table, like authentik's).
pub const SCHEMA_PATH: &str = "/schema/";

/// Why the document could not be built: the route table and the declared operations disagree.
#[derive(Debug, thiserror::Error)]
pub enum DocumentError {
    /// A route serves a method no module declared an operation for.
    #[error("{method} {path} is served but no operation describes it")]
    Undescribed {
        /// The route's path.
        path: String,
        /// The method.
        method: String,
    },
    /// An operation describes a method or path that no route serves.
    #[error("{method} {path} is described but not served")]
    NotServed {
        /// The operation's path.
        path: String,
        /// The method.
        method: String,
    },
    /// The document did not serialize.
    #[error("the document did not serialize: {0}")]
    Serialize(#[from] serde_json::Error),
}

/// What an operation answers on success.
pub enum Answer {
    /// One object.
    One(RefOr<Schema>),
    /// A page of objects in authentik's envelope (`pagination`, `results`, `autocomplete`).
    Page(RefOr<Schema>),
    /// A bare JSON array.
    List(RefOr<Schema>),
    /// No body.
    Empty,
}

/// One operation, as a resource module declares it beside its routes.
pub struct Operation {
    path: &'static str,
    method: &'static str,
    status: u16,
    body: Option<RefOr<Schema>>,
    answer: Answer,
    query: &'static [(&'static str, QueryType)],
    summary: &'static str,
}

/// The type of a query parameter.
#[derive(Debug, Clone, Copy)]
pub enum QueryType {
    /// A string.
    Str,
    /// A required choice among these values.
    Choice(&'static [&'static str]),
}

/// The query parameters every paginated list takes. Page numbers, sizes and flags are strings:
/// the server reads them as DRF does (`page=last`; a size it cannot read falls back to 20; a flag
/// it cannot read keeps its default), so no value of them is refused.
pub const LIST_QUERY: &[(&str, QueryType)] = &[
    ("page", QueryType::Str),
    ("page_size", QueryType::Str),
    ("ordering", QueryType::Str),
    ("search", QueryType::Str),
];

/// The operations of the dialect and the component schemas they name.
#[derive(Default)]
pub struct Spec {
    operations: Vec<Operation>,
    schemas: Vec<(String, RefOr<Schema>)>,
}

impl Spec {
    /// Registers `T` (and the schemas it names) as components; a reference to it.
    pub fn schema<T: ToSchema>(&mut self) -> RefOr<Schema> {
        T::schemas(&mut self.schemas);
        let name = T::name().into_owned();
        self.schemas.push((name.clone(), T::schema()));
        Ref::from_schema_name(name).into()
    }

    /// Registers the `Patched…` twin of `T` (every property optional: a PATCH body).
    pub fn patched<T: ToSchema>(&mut self) -> RefOr<Schema> {
        T::schemas(&mut self.schemas);
        let name = format!("Patched{}", T::name());
        let schema = match T::schema() {
            RefOr::T(Schema::Object(mut object)) => {
                object.required.clear();
                RefOr::T(Schema::Object(object))
            }
            other => other,
        };
        self.schemas.push((name.clone(), schema));
        Ref::from_schema_name(name).into()
    }

    /// Declares one operation.
    #[allow(clippy::too_many_arguments)]
    fn push(
        &mut self,
        method: &'static str,
        path: &'static str,
        status: u16,
        body: Option<RefOr<Schema>>,
        answer: Answer,
        query: &'static [(&'static str, QueryType)],
        summary: &'static str,
    ) {
        self.operations.push(Operation {
            path,
            method,
            status,
            body,
            answer,
            query,
            summary,
        });
    }

    /// `GET` answering 200 with `answer`, taking `query`.
    pub fn get(
        &mut self,
        path: &'static str,
        answer: Answer,
        query: &'static [(&'static str, QueryType)],
        summary: &'static str,
    ) {
        let status = if matches!(answer, Answer::Empty) {
            204
        } else {
            200
        };
        self.push("GET", path, status, None, answer, query, summary);
    }

    /// `POST` of `body` answering `status` with `answer`.
    pub fn post(
        &mut self,
        path: &'static str,
        body: Option<RefOr<Schema>>,
        status: u16,
        answer: Answer,
        summary: &'static str,
    ) {
        self.push("POST", path, status, body, answer, &[], summary);
    }

    /// `PUT` of `body` and `PATCH` of `patched`, both answering 200 with `answer`.
    pub fn put_patch(
        &mut self,
        path: &'static str,
        body: RefOr<Schema>,
        patched: RefOr<Schema>,
        answer: RefOr<Schema>,
        summary: &'static str,
    ) {
        self.push(
            "PUT",
            path,
            200,
            Some(body),
            Answer::One(answer.clone()),
            &[],
            summary,
        );
        self.push(
            "PATCH",
            path,
            200,
            Some(patched),
            Answer::One(answer),
            &[],
            summary,
        );
    }

    /// `PATCH` of `body` answering `status` with `answer`.
    pub fn patch(
        &mut self,
        path: &'static str,
        body: RefOr<Schema>,
        status: u16,
        answer: Answer,
        summary: &'static str,
    ) {
        self.push("PATCH", path, status, Some(body), answer, &[], summary);
    }

    /// `DELETE` answering 204.
    pub fn delete(&mut self, path: &'static str, summary: &'static str) {
        self.push("DELETE", path, 204, None, Answer::Empty, &[], summary);
    }
}

/// authentik's `operationId`: the path's literal segments joined by `_`, then what the method
/// does (`list` for a GET answering many, `retrieve`, `create`, `update`, `partial_update`,
/// `destroy`).
fn operation_id(path: &str, method: &str, answer: &Answer) -> String {
    let stem: Vec<&str> = path
        .split('/')
        .filter(|s| !s.is_empty() && !s.starts_with('{'))
        .collect();
    let verb = match (method, answer) {
        ("GET", Answer::Page(_) | Answer::List(_)) => "list",
        ("GET", _) => "retrieve",
        ("POST", _) => "create",
        ("PUT", _) => "update",
        ("PATCH", _) => "partial_update",
        _ => "destroy",
    };
    format!("{}_{verb}", stem.join("_"))
}

fn http_method(method: &str) -> HttpMethod {
    match method {
        "POST" => HttpMethod::Post,
        "PUT" => HttpMethod::Put,
        "PATCH" => HttpMethod::Patch,
        "DELETE" => HttpMethod::Delete,
        _ => HttpMethod::Get,
    }
}

fn json_content(schema: RefOr<Schema>) -> Content {
    Content::new(Some(schema))
}

fn page_schema(item: RefOr<Schema>) -> RefOr<Schema> {
    ObjectBuilder::new()
        .property("pagination", Ref::from_schema_name("Pagination"))
        .property("results", ArrayBuilder::new().items(item))
        .property(
            "autocomplete",
            ObjectBuilder::new().additional_properties(Some(AdditionalProperties::FreeForm(true))),
        )
        .required("pagination")
        .required("results")
        .required("autocomplete")
        .into()
}

fn operation(op: &Operation) -> ApiOperation {
    let mut builder = OperationBuilder::new()
        .operation_id(Some(operation_id(op.path, op.method, &op.answer)))
        .summary(Some(op.summary))
        .tag(op.path.split('/').find(|s| !s.is_empty()).unwrap_or("api"))
        .security(SecurityRequirement::new("authentik", Vec::<String>::new()));
    for segment in op.path.split('/') {
        if let Some(name) = segment.strip_prefix('{').and_then(|s| s.strip_suffix('}')) {
            let (kind, format) = match name {
                "id" => (Type::Integer, None),
                "identifier" => (Type::String, None),
                _ => (
                    Type::String,
                    Some(SchemaFormat::KnownFormat(
                        utoipa::openapi::KnownFormat::Uuid,
                    )),
                ),
            };
            builder = builder.parameter(
                ParameterBuilder::new()
                    .name(name)
                    .parameter_in(ParameterIn::Path)
                    .required(Required::True)
                    .schema(Some(
                        ObjectBuilder::new()
                            .schema_type(SchemaType::Type(kind))
                            .format(format),
                    )),
            );
        }
    }
    for (name, kind) in op.query {
        let (schema, required) = match kind {
            QueryType::Str => (
                ObjectBuilder::new().schema_type(Type::String),
                Required::False,
            ),
            QueryType::Choice(values) => (
                ObjectBuilder::new()
                    .schema_type(Type::String)
                    .enum_values(Some(values.iter().copied())),
                Required::True,
            ),
        };
        builder = builder.parameter(
            ParameterBuilder::new()
                .name(*name)
                .parameter_in(ParameterIn::Query)
                .required(required)
                .schema(Some(schema)),
        );
    }
    if let Some(body) = &op.body {
        builder = builder.request_body(Some(
            RequestBodyBuilder::new()
                .content("application/json", json_content(body.clone()))
                // PATCH changes what its body names: an empty body changes nothing.
                .required(Some(if op.method == "PATCH" {
                    Required::False
                } else {
                    Required::True
                }))
                .build(),
        ));
    }
    let success = match &op.answer {
        Answer::One(schema) => Some(schema.clone()),
        Answer::Page(item) => Some(page_schema(item.clone())),
        Answer::List(item) => Some(ArrayBuilder::new().items(item.clone()).into()),
        Answer::Empty => None,
    };
    let mut ok = ResponseBuilder::new().description("");
    if let Some(schema) = success {
        ok = ok.content("application/json", json_content(schema));
    }
    builder = builder.response(op.status.to_string(), ok.build());
    for (status, name, description) in [
        ("400", "ValidationError", "Bad request: field errors"),
        ("403", "GenericError", "Not authenticated, or not allowed"),
        ("404", "GenericError", "Not found"),
    ] {
        builder = builder.response(
            status,
            ResponseBuilder::new()
                .description(description)
                .content(
                    "application/json",
                    json_content(Ref::from_schema_name(name).into()),
                )
                .build(),
        );
    }
    builder.build()
}

/// The schemas every document names: the page numbers and the two error shapes.
fn common_schemas(spec: &mut Spec) {
    let pagination = [
        "next",
        "previous",
        "count",
        "current",
        "total_pages",
        "start_index",
        "end_index",
    ]
    .iter()
    .fold(ObjectBuilder::new(), |o, name| {
        o.property(*name, ObjectBuilder::new().schema_type(Type::Number))
            .required(*name)
    });
    spec.schemas.push(("Pagination".into(), pagination.into()));
    spec.schemas.push((
        "GenericError".into(),
        ObjectBuilder::new()
            .property("detail", ObjectBuilder::new().schema_type(Type::String))
            .property("code", ObjectBuilder::new().schema_type(Type::String))
            .required("detail")
            .into(),
    ));
    spec.schemas.push((
        "ValidationError".into(),
        ObjectBuilder::new()
            .schema_type(SchemaType::AnyValue)
            .description(Some(
                "DRF's field errors: an object naming each field's messages (`non_field_errors` \
                 the rest); a few filters answer a bare list of messages",
            ))
            .into(),
    ));
}

/// The operation of the document itself.
fn schema_operation(spec: &mut Spec) {
    spec.get(
        SCHEMA_PATH,
        Answer::One(schemas::free_object()),
        &[("format", QueryType::Str)],
        "This OpenAPI document (YAML; JSON with format=json)",
    );
}

/// Whether `table` (the served routes of `/api/v3`) and the operations `spec` declares agree:
/// every served method described, every described one served. Cheap next to building and
/// rendering the document, so it runs at start-up while the document waits for its first
/// request.
pub fn check(table: &[(&'static str, Methods)], spec: &Spec) -> Result<(), DocumentError> {
    for (path, methods) in table {
        for method in methods.documented() {
            if !spec
                .operations
                .iter()
                .any(|o| o.path == *path && o.method == method)
            {
                return Err(DocumentError::Undescribed {
                    path: (*path).to_string(),
                    method: method.to_string(),
                });
            }
        }
    }
    if let Some(op) = spec.operations.iter().find(|o| {
        !table
            .iter()
            .any(|(p, m)| *p == o.path && m.documented().any(|x| x == o.method))
    }) {
        return Err(DocumentError::NotServed {
            path: op.path.to_string(),
            method: op.method.to_string(),
        });
    }
    Ok(())
}

/// Builds the document of `table` (the served routes of `/api/v3`, paths relative to it) from
/// the operations `spec` declares.
pub fn document(table: &[(&'static str, Methods)], mut spec: Spec) -> Result<Value, DocumentError> {
    check(table, &spec)?;
    common_schemas(&mut spec);
    let mut paths = Paths::new();
    for (path, methods) in table {
        for method in methods.documented() {
            if let Some(op) = spec
                .operations
                .iter()
                .find(|o| o.path == *path && o.method == method)
            {
                paths.add_path_operation(*path, vec![http_method(method)], operation(op));
            }
        }
    }
    let mut components = ComponentsBuilder::new().security_scheme(
        "authentik",
        SecurityScheme::Http(Http::new(HttpAuthScheme::Bearer)),
    );
    for (name, schema) in spec.schemas {
        components = components.schema(name, schema);
    }
    let doc = OpenApiBuilder::new()
        .info(
            InfoBuilder::new()
                .title("gatehouse")
                .version(env!("CARGO_PKG_VERSION"))
                .description(Some(
                    "gatehouse's authentik dialect (/api/v3): users, groups, tokens, RBAC and \
                     events. Generated from the server's route table and answer types.",
                ))
                .build(),
        )
        .servers(Some([Server::new("/api/v3")]))
        .paths(paths)
        .components(Some(components.build()))
        .build();
    Ok(serde_json::to_value(doc)?)
}

/// Every operation of the dialect's modules, and the document's own.
pub fn operations() -> Spec {
    let mut spec = Spec::default();
    super::users::operations(&mut spec);
    super::groups::operations(&mut spec);
    super::tokens::operations(&mut spec);
    super::rbac::operations(&mut spec);
    super::events::operations(&mut spec);
    schema_operation(&mut spec);
    spec
}

/// The document rendered both ways, once.
pub struct Rendered {
    json: String,
    yaml: String,
}

impl Rendered {
    /// Renders `doc` as JSON and YAML.
    pub fn new(doc: &Value) -> Result<Rendered, DocumentError> {
        Ok(Rendered {
            json: serde_json::to_string(doc)?,
            yaml: yaml::to_yaml(doc),
        })
    }
}

/// The document of one route table, built and rendered when it is first asked for (off the
/// start-up path; the table was checked against the operations when the router was built).
#[derive(Default)]
pub struct Document {
    table: OnceLock<Vec<(&'static str, Methods)>>,
    rendered: OnceLock<Option<Rendered>>,
}

impl Document {
    /// Checks `table` against the declared operations and keeps it for the document.
    pub fn prepare(&self, table: &[(&'static str, Methods)]) -> Result<(), DocumentError> {
        check(table, &operations())?;
        let _ = self.table.set(table.to_vec());
        Ok(())
    }

    /// The rendered document (built on the first call); `None` before `prepare` or if it did not
    /// serialize.
    pub fn rendered(&self) -> Option<&Rendered> {
        let table = self.table.get()?;
        self.rendered
            .get_or_init(|| {
                let built = document(table, operations()).and_then(|doc| Rendered::new(&doc));
                match built {
                    Ok(rendered) => Some(rendered),
                    Err(e) => {
                        tracing::error!(error = %e, "the OpenAPI document could not be built");
                        None
                    }
                }
            })
            .as_ref()
    }
}

/// `GET /api/v3/schema/`: the document, YAML unless `format=json` (authentik's
/// `application/vnd.oai.openapi` and `application/vnd.oai.openapi+json`). It describes the API
/// and holds no data, so it needs no credential (like authentik's).
pub async fn serve(document: Arc<Document>, query: RawQuery) -> Response {
    let Some(rendered) = document.rendered() else {
        return StatusCode::SERVICE_UNAVAILABLE.into_response();
    };
    let params = Params::parse(query.0.as_deref());
    let (body, kind) = match params.last("format") {
        Some("json") => (rendered.json.clone(), "application/vnd.oai.openapi+json"),
        _ => (rendered.yaml.clone(), "application/vnd.oai.openapi"),
    };
    let mut r = (StatusCode::OK, body).into_response();
    r.headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(kind));
    r
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn operation_ids_follow_authentik() {
        let one = || Answer::One(ObjectBuilder::new().into());
        assert_eq!(
            operation_id("/core/users/{id}/", "PATCH", &one()),
            "core_users_partial_update"
        );
        assert_eq!(
            operation_id(
                "/core/groups/{group_uuid}/used_by/",
                "GET",
                &Answer::List(ObjectBuilder::new().into())
            ),
            "core_groups_used_by_list"
        );
        assert_eq!(
            operation_id("/core/users/me/", "GET", &one()),
            "core_users_me_retrieve"
        );
    }
}
