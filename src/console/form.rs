//! Reading what a browser sends (form bodies and query strings, both urlencoded) and showing a
//! domain's field errors next to their fields.

use maud::{html, Markup};

use crate::domain::FieldErrors;

/// Urlencoded pairs, as sent.
#[derive(Debug, Clone, Default)]
pub struct Fields(Vec<(String, String)>);

impl Fields {
    /// Parses a form body or a query string.
    pub fn parse(bytes: &[u8]) -> Fields {
        Fields(form_urlencoded::parse(bytes).into_owned().collect())
    }

    /// Parses an optional query string.
    pub fn query(query: Option<&str>) -> Fields {
        Fields::parse(query.unwrap_or("").as_bytes())
    }

    /// The last value of `name`.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.0
            .iter()
            .rev()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    /// The last value of `name`, trimmed; `None` when absent or blank.
    pub fn text(&self, name: &str) -> Option<&str> {
        self.get(name).map(str::trim).filter(|v| !v.is_empty())
    }

    /// The page number asked for (1 when absent or unreadable).
    pub fn page(&self) -> i64 {
        self.text("page")
            .and_then(|p| p.parse::<i64>().ok())
            .filter(|p| *p >= 1)
            .unwrap_or(1)
    }
}

/// Builds a query string from pairs, leaving out empty values (so bookmarked URLs stay short).
pub fn query_string(pairs: &[(&str, &str)]) -> String {
    let mut out = form_urlencoded::Serializer::new(String::new());
    for (k, v) in pairs {
        if !v.is_empty() {
            out.append_pair(k, v);
        }
    }
    out.finish()
}

/// The messages of one field, as a list under it (nothing when it has none).
pub fn errors_of(errors: &FieldErrors, field: &str) -> Markup {
    let messages: Vec<&str> = errors
        .0
        .iter()
        .filter(|(f, _)| f == field)
        .flat_map(|(_, list)| list.iter().map(|e| e.message.as_str()))
        .collect();
    html! {
        @if !messages.is_empty() {
            ul.errors id={ "err-" (field) } role="alert" {
                @for m in &messages { li { (m) } }
            }
        }
    }
}

/// Messages of fields the form does not show (shown above it).
pub fn other_errors(errors: &FieldErrors, shown: &[&str]) -> Markup {
    let rest: Vec<(&str, &str)> = errors
        .0
        .iter()
        .filter(|(f, _)| !shown.contains(&f.as_str()))
        .flat_map(|(f, list)| list.iter().map(move |e| (f.as_str(), e.message.as_str())))
        .collect();
    html! {
        @if !rest.is_empty() {
            div.notice.err role="alert" {
                @for (f, m) in &rest { p { (f) ": " (m) } }
            }
        }
    }
}

/// A labelled text input with its errors (`kind` is the input type).
pub fn input(
    label: &str,
    name: &str,
    kind: &str,
    value: &str,
    errors: &FieldErrors,
    required: bool,
) -> Markup {
    let id = format!("f-{name}");
    let invalid = errors.has(name);
    html! {
        div.field {
            label for=(id) { (label) }
            input id=(id) type=(kind) name=(name) value=(value) required[required]
                aria-invalid=[invalid.then_some("true")]
                // Without script, this is how focus lands on the first field to correct.
                autofocus[invalid]
                aria-describedby=[invalid.then(|| format!("err-{name}"))];
            (errors_of(errors, name))
        }
    }
}
