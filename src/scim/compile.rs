//! SCIM filters → the shared query vocabulary (`crate::query`), the same indexed queries the
//! REST lists run. Only attributes gatehouse keeps in columns (or relations) are filterable;
//! any other attribute, or an operator that makes no sense for its type, is a 400
//! `invalidFilter` — never "ignore and return everything" (scim.md §1 rule 13).

use serde_json::Value;

use super::error::ScimError;
use super::filter::{AttrPath, Expr, Op};
use super::schema::{GROUP, USER};
use crate::domain::groups::{GroupField, GroupFilter, GroupRel};
use crate::domain::users::{UserField, UserFilter, UserRel};
use crate::domain::Timestamp;
use crate::query::filter::{Cmp, Filter, Literal};

/// What a user filter attribute names.
#[derive(Debug, Clone, Copy)]
enum UserTarget {
    Username,
    Id,
    ExternalId,
    Text(UserField),
    Active,
    Time(UserField),
    Groups,
}

fn unsupported(path: &AttrPath) -> ScimError {
    let sub = path
        .sub
        .as_deref()
        .map(|s| format!(".{s}"))
        .unwrap_or_default();
    ScimError::filter(format!(
        "Filtering on \"{}{sub}\" is not supported.",
        path.attr
    ))
}

fn core_urn(path: &AttrPath, urn: &str) -> Result<(), ScimError> {
    match &path.urn {
        Some(u) if !u.eq_ignore_ascii_case(urn) => Err(unsupported(path)),
        _ => Ok(()),
    }
}

fn user_target(path: &AttrPath, within: Option<&str>) -> Result<UserTarget, ScimError> {
    core_urn(path, USER)?;
    let attr = path.attr.to_ascii_lowercase();
    let sub = path.sub.as_deref().map(str::to_ascii_lowercase);
    let target = match (within, attr.as_str(), sub.as_deref()) {
        // Inside `emails[…]`: only `value` is kept in a column (the primary address); the
        // other sub-attributes (`type`, `primary`) are not checked (docs/compatibility.md).
        (Some("emails"), "value", None) => UserTarget::Text(UserField::Email),
        (Some("groups"), "value", None) => UserTarget::Groups,
        (Some(_), _, None) => return Err(unsupported(path)),
        (None, "username", None) => UserTarget::Username,
        (None, "id", None) => UserTarget::Id,
        (None, "externalid", None) => UserTarget::ExternalId,
        (None, "displayname", None) | (None, "name", Some("formatted")) => {
            UserTarget::Text(UserField::Name)
        }
        (None, "name", Some("givenname")) => UserTarget::Text(UserField::FirstName),
        (None, "name", Some("familyname")) => UserTarget::Text(UserField::LastName),
        (None, "emails", None | Some("value")) => UserTarget::Text(UserField::Email),
        (None, "active", None) => UserTarget::Active,
        (None, "meta", Some("created")) => UserTarget::Time(UserField::DateJoined),
        (None, "meta", Some("lastmodified")) => UserTarget::Time(UserField::LastUpdated),
        (None, "groups", None | Some("value")) => UserTarget::Groups,
        _ => return Err(unsupported(path)),
    };
    Ok(target)
}

fn text_value(value: &Value) -> Result<String, ScimError> {
    value
        .as_str()
        .map(str::to_string)
        .ok_or_else(|| ScimError::filter("This attribute compares with a string."))
}

fn cmp_of(op: Op) -> Option<Cmp> {
    match op {
        Op::Gt => Some(Cmp::Gt),
        Op::Ge => Some(Cmp::Ge),
        Op::Lt => Some(Cmp::Lt),
        Op::Le => Some(Cmp::Le),
        _ => None,
    }
}

/// A case-insensitive string attribute kept in column `field`.
fn text<F: Copy, R>(field: F, op: Op, value: &Value) -> Result<Filter<F, R>, ScimError> {
    let v = text_value(value)?;
    Ok(match op {
        Op::Eq => Filter::IExact(field, v),
        Op::Ne => Filter::Not(Box::new(Filter::IExact(field, v))),
        Op::Co => Filter::IContains(field, v),
        Op::Sw => Filter::IStartsWith(field, v),
        Op::Ew => Filter::IEndsWith(field, v),
        other => Filter::Compare(field, cmp_of(other).unwrap_or(Cmp::Eq), Literal::Text(v)),
    })
}

fn negate_if<F, R>(op: Op, f: Filter<F, R>) -> Result<Filter<F, R>, ScimError> {
    match op {
        Op::Eq => Ok(f),
        Op::Ne => Ok(Filter::Not(Box::new(f))),
        _ => Err(ScimError::filter("This attribute supports only eq and ne.")),
    }
}

fn user_compare(
    client: i64,
    target: UserTarget,
    op: Op,
    value: &Value,
) -> Result<UserFilter, ScimError> {
    match target {
        UserTarget::Username => match op {
            Op::Eq | Op::Ne => {
                negate_if(op, Filter::Rel(UserRel::UsernameFolded(text_value(value)?)))
            }
            Op::Sw => Ok(Filter::Rel(UserRel::UsernameFoldedPrefix(text_value(
                value,
            )?))),
            // The search index (trigrams on SQLite and PostgreSQL) finds the candidates among
            // the folded search text, which holds the username; the LIKE on the username keeps
            // the answer exact.
            Op::Co | Op::Ew => Ok(Filter::and(vec![
                Filter::Rel(UserRel::SearchTerm(text_value(value)?)),
                text(UserField::Username, op, value)?,
            ])),
            _ => text(UserField::Username, op, value),
        },
        UserTarget::Id => {
            let v = text_value(value)?.to_ascii_lowercase();
            match op {
                Op::Eq | Op::Ne => negate_if(
                    op,
                    Filter::Compare(UserField::Uuid, Cmp::Eq, Literal::Text(v)),
                ),
                _ => text(UserField::Uuid, op, &Value::String(v)),
            }
        }
        UserTarget::ExternalId => negate_if(
            op,
            Filter::Rel(UserRel::ScimExternalId {
                client,
                value: text_value(value)?,
            }),
        ),
        UserTarget::Text(field) => text(field, op, value),
        UserTarget::Active => {
            let b = match value {
                Value::Bool(b) => *b,
                Value::String(s) if s.eq_ignore_ascii_case("true") => true,
                Value::String(s) if s.eq_ignore_ascii_case("false") => false,
                _ => return Err(ScimError::filter("active compares with true or false.")),
            };
            negate_if(
                op,
                Filter::Compare(UserField::IsActive, Cmp::Eq, Literal::Bool(b)),
            )
        }
        UserTarget::Time(field) => {
            let t = value
                .as_str()
                .and_then(Timestamp::parse)
                .ok_or_else(|| ScimError::filter("Dates compare with an RFC 3339 date-time."))?;
            let lit = Literal::Time(t);
            match op {
                Op::Eq => Ok(Filter::Compare(field, Cmp::Eq, lit)),
                Op::Ne => Ok(Filter::Not(Box::new(Filter::Compare(field, Cmp::Eq, lit)))),
                Op::Co | Op::Sw | Op::Ew => Err(ScimError::filter(
                    "Dates support eq, ne, gt, ge, lt and le.",
                )),
                other => Ok(Filter::Compare(
                    field,
                    cmp_of(other).unwrap_or(Cmp::Eq),
                    lit,
                )),
            }
        }
        UserTarget::Groups => negate_if(
            op,
            Filter::Rel(UserRel::GroupUuids(vec![
                text_value(value)?.to_ascii_lowercase()
            ])),
        ),
    }
}

fn user_present(target: UserTarget) -> Result<UserFilter, ScimError> {
    Ok(match target {
        UserTarget::Username | UserTarget::Id | UserTarget::Active | UserTarget::Time(_) => {
            Filter::All
        }
        UserTarget::Text(field) => Filter::Not(Box::new(Filter::Compare(
            field,
            Cmp::Eq,
            Literal::Text(String::new()),
        ))),
        UserTarget::ExternalId | UserTarget::Groups => {
            return Err(ScimError::filter(
                "pr is not supported on externalId and groups.",
            ))
        }
    })
}

/// Compiles a user filter; `client` is the calling SCIM client (externalIds are per client).
pub fn users(expr: &Expr, client: i64) -> Result<UserFilter, ScimError> {
    user_expr(expr, client, None)
}

fn user_expr(expr: &Expr, client: i64, within: Option<&str>) -> Result<UserFilter, ScimError> {
    Ok(match expr {
        Expr::And(a, b) => Filter::And(vec![
            user_expr(a, client, within)?,
            user_expr(b, client, within)?,
        ]),
        Expr::Or(a, b) => Filter::Or(vec![
            user_expr(a, client, within)?,
            user_expr(b, client, within)?,
        ]),
        Expr::Not(inner) => Filter::Not(Box::new(user_expr(inner, client, within)?)),
        Expr::Present(path) => {
            if within == Some("emails") && !path.attr.eq_ignore_ascii_case("value") {
                return Ok(Filter::All);
            }
            user_present(user_target(path, within)?)?
        }
        Expr::Compare(path, op, value) => {
            if within == Some("emails") && !path.attr.eq_ignore_ascii_case("value") {
                // `type` / `primary` / `display` of an e-mail are not kept in a column.
                return Ok(Filter::All);
            }
            user_compare(client, user_target(path, within)?, *op, value)?
        }
        Expr::ValuePath(path, inner) => {
            core_urn(path, USER)?;
            let attr = path.attr.to_ascii_lowercase();
            if path.sub.is_some() || !matches!(attr.as_str(), "emails" | "groups") {
                return Err(unsupported(path));
            }
            user_expr(
                inner,
                client,
                Some(if attr == "emails" { "emails" } else { "groups" }),
            )?
        }
    })
}

/// Compiles a group filter.
pub fn groups(expr: &Expr, client: i64) -> Result<GroupFilter, ScimError> {
    group_expr(expr, client, false)
}

fn group_expr(expr: &Expr, client: i64, in_members: bool) -> Result<GroupFilter, ScimError> {
    Ok(match expr {
        Expr::And(a, b) => Filter::And(vec![
            group_expr(a, client, in_members)?,
            group_expr(b, client, in_members)?,
        ]),
        Expr::Or(a, b) => Filter::Or(vec![
            group_expr(a, client, in_members)?,
            group_expr(b, client, in_members)?,
        ]),
        Expr::Not(inner) => Filter::Not(Box::new(group_expr(inner, client, in_members)?)),
        Expr::Present(path) => {
            core_urn(path, GROUP)?;
            match (path.attr.to_ascii_lowercase().as_str(), path.sub.as_deref()) {
                ("displayname" | "id", None) => Filter::All,
                _ => return Err(unsupported(path)),
            }
        }
        Expr::Compare(path, op, value) => {
            core_urn(path, GROUP)?;
            let attr = path.attr.to_ascii_lowercase();
            let sub = path.sub.as_deref().map(str::to_ascii_lowercase);
            match (in_members, attr.as_str(), sub.as_deref()) {
                (true, "value", None) | (false, "members", None | Some("value")) => negate_if(
                    *op,
                    Filter::Rel(GroupRel::MemberUuids(vec![
                        text_value(value)?.to_ascii_lowercase()
                    ])),
                )?,
                (true, "type" | "display", None) => Filter::All,
                (false, "displayname", None) => text(GroupField::Name, *op, value)?,
                (false, "id", None) => {
                    let v = text_value(value)?.to_ascii_lowercase();
                    match op {
                        Op::Eq | Op::Ne => negate_if(
                            *op,
                            Filter::Compare(GroupField::Uuid, Cmp::Eq, Literal::Text(v)),
                        )?,
                        _ => text(GroupField::Uuid, *op, &Value::String(v))?,
                    }
                }
                (false, "externalid", None) => negate_if(
                    *op,
                    Filter::Rel(GroupRel::ScimExternalId {
                        client,
                        value: text_value(value)?,
                    }),
                )?,
                _ => return Err(unsupported(path)),
            }
        }
        Expr::ValuePath(path, inner) => {
            core_urn(path, GROUP)?;
            if !path.attr.eq_ignore_ascii_case("members") || path.sub.is_some() || in_members {
                return Err(unsupported(path));
            }
            group_expr(inner, client, true)?
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scim::filter::parse;

    #[test]
    fn user_filters_compile_to_indexed_words() {
        let f = users(&parse(r#"userName eq "Bjensen""#).unwrap(), 7).unwrap();
        assert_eq!(f, Filter::Rel(UserRel::UsernameFolded("Bjensen".into())));
        let f = users(&parse(r#"userName sw "BJ""#).unwrap(), 7).unwrap();
        assert_eq!(f, Filter::Rel(UserRel::UsernameFoldedPrefix("BJ".into())));
        let f = users(&parse(r#"userName co "ens""#).unwrap(), 7).unwrap();
        assert_eq!(
            f,
            Filter::And(vec![
                Filter::Rel(UserRel::SearchTerm("ens".into())),
                Filter::IContains(UserField::Username, "ens".into()),
            ])
        );
        let f = users(
            &parse(r#"externalId eq "x" and active eq "False""#).unwrap(),
            7,
        )
        .unwrap();
        assert_eq!(
            f,
            Filter::And(vec![
                Filter::Rel(UserRel::ScimExternalId {
                    client: 7,
                    value: "x".into()
                }),
                Filter::Compare(UserField::IsActive, Cmp::Eq, Literal::Bool(false)),
            ])
        );
        let f = users(
            &parse(r#"emails[type eq "work"].value eq "a@b.c""#).unwrap(),
            7,
        )
        .unwrap();
        assert_eq!(
            f,
            Filter::And(vec![
                Filter::All,
                Filter::IExact(UserField::Email, "a@b.c".into())
            ])
        );
        for bad in [
            r#"title eq "x""#,
            r#"active gt true"#,
            r#"userName eq 3"#,
            r#"meta.created co "2020""#,
        ] {
            let err = users(&parse(bad).unwrap(), 7).unwrap_err();
            assert_eq!(err.scim_type, Some("invalidFilter"), "{bad}");
        }
    }

    #[test]
    fn group_filters_compile() {
        let f = groups(&parse(r#"members[value eq "ABC"]"#).unwrap(), 1).unwrap();
        assert_eq!(f, Filter::Rel(GroupRel::MemberUuids(vec!["abc".into()])));
        let f = groups(&parse(r#"displayName eq "Admins""#).unwrap(), 1).unwrap();
        assert_eq!(f, Filter::IExact(GroupField::Name, "Admins".into()));
    }
}
