//! AWX's filter grammar over users: field lookups, `or__`/`not__`/`chain__`, `search` and
//! `order_by`.

use axum::http::StatusCode;

use crate::api::awx::{detail, AwxError};
use crate::api::query::{search_terms, Params};
use crate::domain::filter::{Cmp, Direction, Filter, Literal};
use crate::domain::users::{UserField, UserFilter, UserRel, UserSort};
use crate::domain::Timestamp;

const RESERVED: [&str; 12] = [
    "page",
    "page_size",
    "format",
    "order",
    "order_by",
    "search",
    "type",
    "host_filter",
    "count_disabled",
    "no_truncate",
    "limit",
    "validate",
];

fn no_field(name: &str) -> AwxError {
    detail(
        StatusCode::BAD_REQUEST,
        &format!("User has no field named '{name}'"),
    )
}

/// The column a field name means (`created` is `date_joined`).
fn column(name: &str) -> Option<UserField> {
    Some(match name {
        "id" => UserField::Id,
        "username" => UserField::Username,
        "first_name" => UserField::FirstName,
        "last_name" => UserField::LastName,
        "email" => UserField::Email,
        "is_active" => UserField::IsActive,
        "last_login" => UserField::LastLogin,
        "date_joined" | "created" => UserField::DateJoined,
        _ => return None,
    })
}

fn literal(field: UserField, name: &str, raw: &str) -> Result<Literal, AwxError> {
    match field {
        UserField::Id => raw.trim().parse::<i64>().map(Literal::Int).map_err(|_| detail(StatusCode::BAD_REQUEST, &format!("Field '{name}' expected a number but got '{raw}'."))),
        UserField::IsActive => to_bool(raw).map(Literal::Bool).ok_or_else(|| detail(StatusCode::BAD_REQUEST, &format!("'{raw}' value must be either True or False."))),
        UserField::LastLogin | UserField::DateJoined => Timestamp::parse(raw)
            .map(Literal::Time)
            .ok_or_else(|| detail(StatusCode::BAD_REQUEST, &format!("'{raw}' value has an invalid format. It must be in YYYY-MM-DD HH:MM[:ss[.uuuuuu]][TZ] format."))),
        _ => Ok(Literal::Text(raw.to_string())),
    }
}

fn to_bool(raw: &str) -> Option<bool> {
    match raw.to_ascii_lowercase().as_str() {
        "true" | "1" | "t" | "yes" | "y" | "on" => Some(true),
        "false" | "0" | "f" | "no" | "n" | "off" | "" => Some(false),
        _ => None,
    }
}

/// One `field[__lookup]=value` term.
fn term(name: &str, raw: &str) -> Result<UserFilter, AwxError> {
    const LOOKUPS: [&str; 17] = [
        "exact",
        "iexact",
        "contains",
        "icontains",
        "startswith",
        "istartswith",
        "endswith",
        "iendswith",
        "regex",
        "iregex",
        "gt",
        "gte",
        "lt",
        "lte",
        "in",
        "isnull",
        "search",
    ];
    let (field_name, lookup) = match name.rsplit_once("__") {
        Some((f, l)) if LOOKUPS.contains(&l) => (f, l),
        _ => (name, "exact"),
    };
    if field_name == "password" || field_name.starts_with("password__") {
        return Err(detail(
            StatusCode::FORBIDDEN,
            "Filtering on password is not allowed.",
        ));
    }
    if field_name == "is_superuser" {
        let wanted = match lookup {
            "exact" => to_bool(raw),
            "isnull" => {
                return Ok(if to_bool(raw) == Some(true) {
                    Filter::Nothing
                } else {
                    Filter::All
                })
            }
            _ => None,
        }
        .ok_or_else(|| {
            detail(
                StatusCode::BAD_REQUEST,
                &format!("'{raw}' value must be either True or False."),
            )
        })?;
        return Ok(Filter::Rel(UserRel::DirectSuperuser(wanted)));
    }
    if !field_name.is_ascii() {
        return Err(detail(
            StatusCode::BAD_REQUEST,
            &format!("{field_name} is not an allowed field name. Must be ascii encodable."),
        ));
    }
    let field = column(field_name).ok_or_else(|| no_field(field_name))?;
    let text_field = matches!(
        field,
        UserField::Username | UserField::FirstName | UserField::LastName | UserField::Email
    );
    // Stored text never holds NUL (PostgreSQL refuses it), so a text value with one matches
    // nothing; in an `__in` list such a value is left out.
    if text_field && raw.contains('\0') && !matches!(lookup, "isnull" | "in") {
        return Ok(Filter::Nothing);
    }
    Ok(match lookup {
        "exact" => Filter::Compare(field, Cmp::Eq, literal(field, field_name, raw)?),
        "gt" => Filter::Compare(field, Cmp::Gt, literal(field, field_name, raw)?),
        "gte" => Filter::Compare(field, Cmp::Ge, literal(field, field_name, raw)?),
        "lt" => Filter::Compare(field, Cmp::Lt, literal(field, field_name, raw)?),
        "lte" => Filter::Compare(field, Cmp::Le, literal(field, field_name, raw)?),
        "isnull" => {
            let f = Filter::IsNull(field);
            if to_bool(raw).unwrap_or(false) {
                f
            } else {
                Filter::Not(Box::new(f))
            }
        }
        "in" => {
            if raw.is_empty() {
                return Err(detail(
                    StatusCode::BAD_REQUEST,
                    "in lookups need at least one value",
                ));
            }
            let values: Result<Vec<Literal>, AwxError> = raw
                .split(',')
                .filter(|v| !(text_field && v.contains('\0')))
                .map(|v| literal(field, field_name, v))
                .collect();
            Filter::In(field, values?)
        }
        _ if !text_field => {
            return Err(detail(StatusCode::BAD_REQUEST, &format!("{field_name} is not a text field and cannot be filtered by case-insensitive search")));
        }
        "iexact" => Filter::IExact(field, raw.to_string()),
        "contains" | "icontains" | "search" => Filter::IContains(field, raw.to_string()),
        "startswith" => Filter::StartsWith(field, raw.to_string()),
        "istartswith" => Filter::IStartsWith(field, raw.to_string()),
        "endswith" => Filter::EndsWith(field, raw.to_string()),
        "iendswith" => Filter::IEndsWith(field, raw.to_string()),
        _ => {
            return Err(detail(
                StatusCode::BAD_REQUEST,
                &format!("Lookup '{lookup}' is not supported on users."),
            ))
        }
    })
}

/// Most field lookups one query may filter by.
pub const MAX_FILTER_TERMS: usize = 200;
/// Most values (of `__in` lists and single lookups together) one query may filter by.
pub const MAX_FILTER_VALUES: usize = 10_000;

/// AWX's field-lookup filters: `field[__lookup]=v`, `or__…` (one OR group), `not__…`, `chain__…`,
/// plus `search` over username, first and last name and e-mail.
///
/// At most `MAX_FILTER_TERMS` lookups and `MAX_FILTER_VALUES` values in all: SQLite refuses
/// expressions nested deeper than 1,000 and statements with more than 32,766 parameters, so a
/// query string of thousands of lookups would otherwise fail in the database.
pub(crate) fn list_filter(
    params: &Params,
    pairs: &[(String, String)],
) -> Result<UserFilter, AwxError> {
    let mut and_parts = Vec::new();
    let mut or_parts = Vec::new();
    let (mut terms, mut values) = (0usize, 0usize);
    for (key, value) in pairs {
        if RESERVED.contains(&key.as_str()) {
            continue;
        }
        terms += 1;
        values += if key.ends_with("__in") {
            1 + value.matches(',').count()
        } else {
            1
        };
        if terms > MAX_FILTER_TERMS || values > MAX_FILTER_VALUES {
            return Err(detail(
                StatusCode::BAD_REQUEST,
                &format!(
                    "Too many filters: at most {MAX_FILTER_TERMS} lookups with {MAX_FILTER_VALUES} values in all."
                ),
            ));
        }
        let mut name = key.as_str();
        let mut in_or = false;
        let mut negate = false;
        loop {
            if let Some(rest) = name.strip_prefix("or__") {
                in_or = true;
                name = rest;
            } else if let Some(rest) = name.strip_prefix("not__") {
                negate = !negate;
                name = rest;
            } else if let Some(rest) = name.strip_prefix("chain__") {
                name = rest;
            } else {
                break;
            }
        }
        let mut f = term(name, value)?;
        if negate {
            f = Filter::Not(Box::new(f));
        }
        if in_or {
            or_parts.push(f);
        } else {
            and_parts.push(f);
        }
    }
    if !or_parts.is_empty() {
        and_parts.push(Filter::Or(or_parts));
    }
    if let Some(search) = params.last("search") {
        for t in search_terms(search) {
            and_parts.push(Filter::Or(
                [
                    UserField::Username,
                    UserField::FirstName,
                    UserField::LastName,
                    UserField::Email,
                ]
                .into_iter()
                .map(|f| Filter::IContains(f, t.clone()))
                .collect(),
            ));
        }
    }
    Ok(Filter::and(and_parts))
}

pub(crate) fn ordering(params: &Params) -> Result<Vec<(UserSort, Direction)>, AwxError> {
    let mut keys = Vec::new();
    if let Some(raw) = params.last("order_by").or_else(|| params.last("order")) {
        for t in raw.split(',').map(str::trim).filter(|t| !t.is_empty()) {
            let (name, dir) = match t.strip_prefix('-') {
                Some(n) => (n, Direction::Desc),
                None => (t, Direction::Asc),
            };
            if name == "type" {
                continue;
            }
            let sort = if name == "is_superuser" {
                UserSort::IsSuperuser
            } else {
                UserSort::Field(column(name).ok_or_else(|| no_field(name))?)
            };
            if !keys.iter().any(|(s, _)| *s == sort) && keys.len() < 16 {
                keys.push((sort, dir));
            }
        }
    }
    keys.push((UserSort::Field(UserField::Username), Direction::Asc));
    Ok(keys)
}
