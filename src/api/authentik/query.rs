//! Query strings as Django's `QueryDict` reads them: repeated keys kept in order, `get` = the
//! last value.

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

    /// django-filter's boolean: `true/True/1`, `false/False/0`, anything else = no filter.
    pub fn boolean(&self, name: &str) -> Option<bool> {
        match self.last(name)? {
            "true" | "True" | "1" => Some(true),
            "false" | "False" | "0" => Some(false),
            _ => None,
        }
    }
}

/// Splits a search string into terms as DRF's `search_smart_split`: whitespace and commas
/// separate, double quotes group a phrase.
pub fn search_terms(search: &str) -> Vec<String> {
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
