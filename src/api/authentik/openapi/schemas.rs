//! Small schemas for the answers the handlers build as JSON values rather than typed shapes
//! (`used_by`, the events, the RBAC grant pages, a few action answers).

use utoipa::openapi::schema::{
    AdditionalProperties, ArrayBuilder, ObjectBuilder, Schema, SchemaType, Type,
};
use utoipa::openapi::{Ref, RefOr};

use super::Spec;

/// Any JSON value.
pub fn any_value() -> RefOr<Schema> {
    ObjectBuilder::new()
        .schema_type(SchemaType::AnyValue)
        .into()
}

/// A string.
pub fn string() -> RefOr<Schema> {
    ObjectBuilder::new().schema_type(Type::String).into()
}

/// A string or `null`.
pub fn nullable_string() -> RefOr<Schema> {
    ObjectBuilder::new()
        .schema_type(SchemaType::from_iter([Type::String, Type::Null]))
        .into()
}

/// An integer.
pub fn integer() -> RefOr<Schema> {
    ObjectBuilder::new().schema_type(Type::Integer).into()
}

/// A boolean.
pub fn boolean() -> RefOr<Schema> {
    ObjectBuilder::new().schema_type(Type::Boolean).into()
}

/// A free-form object.
pub fn free_object() -> RefOr<Schema> {
    ObjectBuilder::new()
        .schema_type(Type::Object)
        .additional_properties(Some(AdditionalProperties::FreeForm(true)))
        .into()
}

/// An array of strings.
pub fn string_list() -> RefOr<Schema> {
    ArrayBuilder::new().items(string()).into()
}

/// An array of `item`.
pub fn list_of(item: RefOr<Schema>) -> RefOr<Schema> {
    ArrayBuilder::new().items(item).into()
}

/// An object with exactly these properties, all required.
pub fn object_of(properties: &[(&str, RefOr<Schema>)]) -> RefOr<Schema> {
    properties
        .iter()
        .fold(
            ObjectBuilder::new().schema_type(Type::Object),
            |o, (name, schema)| o.property(*name, schema.clone()).required(*name),
        )
        .into()
}

/// Registers a named component; a reference to it.
pub fn named(spec: &mut Spec, name: &str, schema: RefOr<Schema>) -> RefOr<Schema> {
    spec.schemas.push((name.to_string(), schema));
    Ref::from_schema_name(name).into()
}

/// authentik's `UsedBy`: what deleting an object would take with it.
pub fn used_by_schema(spec: &mut Spec) -> RefOr<Schema> {
    let schema = object_of(&[
        ("app", string()),
        ("model_name", string()),
        ("pk", string()),
        ("name", string()),
        ("action", string()),
    ]);
    named(spec, "UsedBy", schema)
}

/// A DRF timestamp.
pub fn date_time() -> RefOr<Schema> {
    ObjectBuilder::new()
        .schema_type(Type::String)
        .format(Some(utoipa::openapi::SchemaFormat::KnownFormat(
            utoipa::openapi::KnownFormat::DateTime,
        )))
        .into()
}
