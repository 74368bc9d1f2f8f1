//! Query strings as Django's `QueryDict` reads them (both dialects are Django applications):
//! repeated keys kept in order, `get` = the last value; DRF's search terms; Python's `int()`.

use serde_json::Value;

use crate::api::error::ApiError;
use crate::api::fields::contains_nul;
use crate::domain::filter::{Direction, Filter};

/// Decoded query parameters.
#[derive(Debug, Clone, Default)]
pub struct Params(Vec<(String, String)>);

impl Params {
    /// Parses a raw query string (`None` = no query). NUL characters are dropped: no stored
    /// value can contain one, and PostgreSQL rejects them in text parameters.
    pub fn parse(query: Option<&str>) -> Params {
        Params(
            query
                .map(|q| {
                    form_urlencoded::parse(q.as_bytes())
                        .map(|(k, v)| (k.replace('\0', ""), v.replace('\0', "")))
                        .collect()
                })
                .unwrap_or_default(),
        )
    }

    /// The last value of `name`, as `QueryDict.get`.
    pub fn last(&self, name: &str) -> Option<&str> {
        self.0
            .iter()
            .rev()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    /// Every value of `name`, in order.
    pub fn all(&self, name: &str) -> Vec<&str> {
        self.0
            .iter()
            .filter(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
            .collect()
    }

    /// Whether `name` was given at all.
    pub fn has(&self, name: &str) -> bool {
        self.0.iter().any(|(k, _)| k == name)
    }

    /// An `include_*` flag: true only for the exact (case-insensitive) string `true`.
    pub fn flag(&self, name: &str, default: bool) -> bool {
        match self.last(name) {
            Some(v) => v.eq_ignore_ascii_case("true"),
            None => default,
        }
    }

    /// DRF's `?ordering=a,-b` against a table of orderable names; unknown names are ignored and
    /// `default` applies when nothing valid remains.
    pub fn ordering<S: Copy>(&self, orderable: &[(&str, S)], default: S) -> Vec<(S, Direction)> {
        let mut keys = Vec::new();
        let mut seen: Vec<usize> = Vec::new();
        if let Some(raw) = self.last("ordering") {
            for term in raw.split(',').map(str::trim).filter(|t| !t.is_empty()) {
                let (name, direction) = match term.strip_prefix('-') {
                    Some(rest) => (rest, Direction::Desc),
                    None => (term, Direction::Asc),
                };
                // Each field counts once (its first mention), which also bounds the clause.
                if let Some(pos) = orderable.iter().position(|(n, _)| *n == name) {
                    if !seen.contains(&pos) {
                        seen.push(pos);
                        keys.push((orderable[pos].1, direction));
                    }
                }
            }
        }
        if keys.is_empty() {
            keys.push((default, Direction::Asc));
        }
        keys
    }

    /// django-filter's boolean: `true/True/1`, `false/False/0`, anything else = no filter.
    pub fn boolean(&self, name: &str) -> Option<bool> {
        match self.last(name)? {
            "true" | "True" | "1" => Some(true),
            "false" | "False" | "0" => Some(false),
            _ => None,
        }
    }
}

/// `?attributes={"team":"green","a__b":1}`: each key (with `__` for nesting) of the JSON
/// object must equal its value in the entity's attributes `field`.
pub fn attributes_filter<F: Copy, R>(raw: &str, field: F) -> Result<Filter<F, R>, ApiError> {
    let parsed: Value = serde_json::from_str(raw)
        .map_err(|_| ApiError::FilterMessages(vec!["filter: failed to parse JSON".into()]))?;
    let Value::Object(map) = parsed else {
        return Err(ApiError::FilterMessages(vec![
            "filter: value must be key:value mapping".into(),
        ]));
    };
    if map.len() > MAX_ATTRIBUTE_KEYS {
        return Err(ApiError::FilterMessages(vec![format!(
            "filter: at most {MAX_ATTRIBUTE_KEYS} keys"
        )]));
    }
    Ok(Filter::and(
        map.into_iter()
            .map(|(key, value)| {
                // Stored attributes never hold NUL characters, so such a value matches nothing.
                if key.contains('\0') || contains_nul(&value) {
                    return Filter::Nothing;
                }
                Filter::Json(field, key.split("__").map(String::from).collect(), value)
            })
            .collect(),
    ))
}

/// django-filter's message for a value that names nothing.
pub fn choice_error(value: &str) -> String {
    format!("Select a valid choice. {value} is not one of the available choices.")
}

/// Splits a search string into terms as DRF's `search_smart_split`: whitespace and commas
/// separate, double quotes group a phrase.
pub fn search_terms(search: &str) -> Vec<String> {
    let mut terms = split_terms(search);
    // Bounded so a hostile query cannot build an unbounded SQL expression.
    terms.truncate(MAX_SEARCH_TERMS);
    terms
}

/// Most search terms honoured; later ones are ignored.
pub const MAX_SEARCH_TERMS: usize = 32;

/// Most keys of an `attributes` filter.
pub const MAX_ATTRIBUTE_KEYS: usize = 32;

fn split_terms(search: &str) -> Vec<String> {
    let cleaned = search.replace('\0', "");
    let mut terms = Vec::new();
    let mut current = String::new();
    let mut in_quotes = false;
    for c in cleaned.chars() {
        match c {
            '"' => {
                in_quotes = !in_quotes;
                if !in_quotes && !current.is_empty() {
                    terms.push(std::mem::take(&mut current));
                }
            }
            c if !in_quotes && (c.is_whitespace() || c == ',') => {
                if !current.is_empty() {
                    terms.push(std::mem::take(&mut current));
                }
            }
            c => current.push(c),
        }
    }
    if !current.is_empty() {
        terms.push(current);
    }
    terms
}

/// Python's `int()` of a query value: optional sign, digits, underscores between digits.
pub fn parse_python_int(s: &str) -> Option<i64> {
    let t = s.trim();
    let (neg, digits) = match t.as_bytes().first() {
        Some(b'-') => (true, &t[1..]),
        Some(b'+') => (false, &t[1..]),
        _ => (false, t),
    };
    if digits.is_empty()
        || digits.starts_with('_')
        || digits.ends_with('_')
        || digits.contains("__")
    {
        return None;
    }
    let cleaned: String = digits.chars().filter(|c| *c != '_').collect();
    if !cleaned.chars().all(|c| c.is_ascii_digit()) {
        return None;
    }
    let value: i64 = cleaned.parse().unwrap_or(i64::MAX);
    Some(if neg { -value } else { value })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn last_value_wins_and_all_keeps_order() {
        let p = Params::parse(Some("type=internal&type=external&page=1&page=2&x=a%20b"));
        assert_eq!(p.last("page"), Some("2"));
        assert_eq!(p.all("type"), vec!["internal", "external"]);
        assert_eq!(p.last("x"), Some("a b"));
        assert!(!p.has("y"));
    }

    #[test]
    fn search_splits_on_space_and_comma_but_keeps_phrases() {
        assert_eq!(search_terms("a b,c"), vec!["a", "b", "c"]);
        assert_eq!(search_terms("\"John Smith\" x"), vec!["John Smith", "x"]);
        assert_eq!(search_terms("  "), Vec::<String>::new());
    }
}
