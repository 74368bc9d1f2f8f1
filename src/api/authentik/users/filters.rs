//! The users list's query parameters: ordering names and the filters they translate to
//! (docs/compatibility.md#filtering-search-and-ordering).

use super::*;

// ---------------------------------------------------------------- list filters

pub(super) const ORDERABLE: [(&str, UserSort); 16] = [
    ("pk", UserSort::Field(UserField::Id)),
    ("username", UserSort::Field(UserField::Username)),
    ("name", UserSort::Field(UserField::Name)),
    ("is_active", UserSort::Field(UserField::IsActive)),
    ("last_login", UserSort::Field(UserField::LastLogin)),
    ("date_joined", UserSort::Field(UserField::DateJoined)),
    ("is_superuser", UserSort::IsSuperuser),
    ("groups", UserSort::Groups),
    ("roles", UserSort::Roles),
    ("email", UserSort::Field(UserField::Email)),
    ("attributes", UserSort::Field(UserField::Attributes)),
    ("path", UserSort::Field(UserField::Path)),
    ("type", UserSort::Field(UserField::Type)),
    ("uuid", UserSort::Field(UserField::Uuid)),
    (
        "password_change_date",
        UserSort::Field(UserField::PasswordChangeDate),
    ),
    ("last_updated", UserSort::Field(UserField::LastUpdated)),
];

/// `?ordering=a,-b`: known names only; default `username`.
pub(super) fn ordering(params: &Params) -> Vec<(UserSort, Direction)> {
    params.ordering(&ORDERABLE, UserSort::Field(UserField::Username))
}

use crate::api::query::choice_error;

/// Translates the list's query parameters into a user filter
/// (docs/compatibility.md#filtering-search-and-ordering).
pub(super) async fn list_filter(state: &AppState, params: &Params) -> Result<UserFilter, ApiError> {
    let mut parts: Vec<UserFilter> = Vec::new();
    let mut errors = FieldErrors::new();
    for (param, field) in [
        ("username", UserField::Username),
        ("email", UserField::Email),
        ("name", UserField::Name),
        ("path", UserField::Path),
    ] {
        if let Some(v) = params.last(param).filter(|v| !v.is_empty()) {
            parts.push(Filter::Compare(
                field,
                Cmp::Eq,
                Literal::Text(v.to_string()),
            ));
        }
    }
    if let Some(v) = params.last("path_startswith").filter(|v| !v.is_empty()) {
        parts.push(Filter::StartsWith(UserField::Path, v.to_string()));
    }
    if let Some(b) = params.boolean("is_active") {
        parts.push(Filter::Compare(
            UserField::IsActive,
            Cmp::Eq,
            Literal::Bool(b),
        ));
    }
    if let Some(b) = params.boolean("is_superuser") {
        parts.push(Filter::Rel(UserRel::DirectSuperuser(b)));
    }
    if let Some(v) = params.last("uuid").filter(|v| !v.is_empty()) {
        match uuid::Uuid::parse_str(v.trim()) {
            Ok(u) => parts.push(Filter::Compare(
                UserField::Uuid,
                Cmp::Eq,
                Literal::Text(u.to_string()),
            )),
            Err(_) => errors.add("uuid", "Enter a valid UUID."),
        }
    }
    let types: Vec<&str> = params
        .all("type")
        .into_iter()
        .filter(|v| !v.is_empty())
        .collect();
    if !types.is_empty() {
        let mut literals = Vec::new();
        for t in &types {
            match UserType::parse(t) {
                Some(ut) => literals.push(Literal::Text(ut.as_str().to_string())),
                None => {
                    errors.add("type", choice_error(t));
                    break;
                }
            }
        }
        parts.push(Filter::In(UserField::Type, literals));
    }
    for (base, field) in [
        ("date_joined", UserField::DateJoined),
        ("last_updated", UserField::LastUpdated),
        ("last_login", UserField::LastLogin),
    ] {
        for (suffix, cmp) in [("", Cmp::Eq), ("__lt", Cmp::Lt), ("__gt", Cmp::Gt)] {
            let param = format!("{base}{suffix}");
            if let Some(v) = params.last(&param).filter(|v| !v.is_empty()) {
                match Timestamp::parse(v) {
                    Some(t) => parts.push(Filter::Compare(field, cmp, Literal::Time(t))),
                    None => errors.add(&param, "Enter a valid date/time."),
                }
            }
        }
    }
    if let Some(b) = params.boolean("last_login__isnull") {
        let f = Filter::IsNull(UserField::LastLogin);
        parts.push(if b { f } else { Filter::Not(Box::new(f)) });
    }
    // groups_by_name / roles_by_name: every value must name an existing object.
    for (param, is_group) in [("groups_by_name", true), ("roles_by_name", false)] {
        let names: Vec<String> = params
            .all(param)
            .into_iter()
            .filter(|v| !v.is_empty())
            .map(String::from)
            .collect();
        if names.is_empty() {
            continue;
        }
        let existing = if is_group {
            existence::group_names(&state.store, &names).await?
        } else {
            existence::role_names(&state.store, &names).await?
        };
        if let Some(missing) = names.iter().find(|n| !existing.contains(n)) {
            errors.add(param, choice_error(missing));
            continue;
        }
        parts.push(Filter::Rel(if is_group {
            UserRel::GroupNames(names)
        } else {
            UserRel::RoleNames(names)
        }));
    }
    for (param, is_group) in [("groups_by_pk", true), ("roles_by_pk", false)] {
        let raw: Vec<&str> = params
            .all(param)
            .into_iter()
            .filter(|v| !v.is_empty())
            .collect();
        if raw.is_empty() {
            continue;
        }
        let mut uuids = Vec::new();
        let mut bad = None;
        for v in &raw {
            match uuid::Uuid::parse_str(v.trim()) {
                Ok(u) => uuids.push(u.to_string()),
                Err(_) => {
                    bad = Some(format!("“{v}” is not a valid value."));
                    break;
                }
            }
        }
        if let Some(message) = bad {
            errors.add(param, message);
            continue;
        }
        let existing = if is_group {
            existence::group_uuids(&state.store, &uuids).await?
        } else {
            existence::role_uuids(&state.store, &uuids).await?
        };
        if let Some(missing) = uuids.iter().find(|u| !existing.contains(u)) {
            errors.add(param, choice_error(missing));
            continue;
        }
        parts.push(Filter::Rel(if is_group {
            UserRel::GroupUuids(uuids)
        } else {
            UserRel::RoleUuids(uuids)
        }));
    }
    errors.into_result()?;
    if let Some(raw) = params.last("attributes").filter(|v| !v.is_empty()) {
        parts.push(crate::api::query::attributes_filter(
            raw,
            UserField::Attributes,
        )?);
    }
    if let Some(search) = params.last("search") {
        // A DjangoQL expression first (`username = "x" and is_active = True`); anything that
        // does not parse for this model is a plain search.
        let search = search.replace('\0', "");
        match crate::api::authentik::ql::parse_user_query(&search) {
            Some(query) => parts.push(query),
            None => {
                for term in search_terms(&search) {
                    parts.push(Filter::Rel(UserRel::SearchTerm(term)));
                }
            }
        }
    }
    Ok(Filter::and(parts))
}
