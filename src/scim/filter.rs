//! SCIM's filter grammar (RFC 7644 §3.4.2.2) and PATCH paths (§3.5.2): parsing into a tree,
//! and evaluating a tree against one JSON value (the elements a PATCH value filter selects).
//! Turning a tree into a directory query is `compile`'s job. Attribute names and operators are
//! case-insensitive; precedence is grouping, `not`, `and`, `or`.

use serde_json::Value;

use super::error::ScimError;

/// An attribute path: optional schema URN, attribute, optional sub-attribute.
#[derive(Debug, Clone, PartialEq)]
pub struct AttrPath {
    /// The schema URN prefix as written (`urn:…:User`), if any.
    pub urn: Option<String>,
    /// The attribute name as written.
    pub attr: String,
    /// The sub-attribute name as written, if any.
    pub sub: Option<String>,
}

impl AttrPath {
    /// Parses `[urn:…:]attr[.sub]`.
    pub fn parse(text: &str) -> Result<AttrPath, ScimError> {
        let bad = || ScimError::path(format!("Invalid attribute path \"{text}\"."));
        let (urn, rest) = if text.to_ascii_lowercase().starts_with("urn:") {
            let idx = text.rfind(':').ok_or_else(bad)?;
            (Some(text[..idx].to_string()), &text[idx + 1..])
        } else {
            (None, text)
        };
        let (attr, sub) = match rest.split_once('.') {
            Some((a, s)) => (a, Some(s.to_string())),
            None => (rest, None),
        };
        let valid = |s: &str| {
            !s.is_empty()
                && s.chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-' || c == '$')
        };
        if !valid(attr) || sub.as_deref().is_some_and(|s| !valid(s)) {
            return Err(bad());
        }
        Ok(AttrPath {
            urn,
            attr: attr.to_string(),
            sub,
        })
    }
}

/// A comparison operator.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    /// equal
    Eq,
    /// not equal
    Ne,
    /// contains
    Co,
    /// starts with
    Sw,
    /// ends with
    Ew,
    /// greater than
    Gt,
    /// greater than or equal
    Ge,
    /// less than
    Lt,
    /// less than or equal
    Le,
}

/// A filter expression.
#[derive(Debug, Clone, PartialEq)]
pub enum Expr {
    /// Both hold.
    And(Box<Expr>, Box<Expr>),
    /// Either holds.
    Or(Box<Expr>, Box<Expr>),
    /// The inner expression does not hold.
    Not(Box<Expr>),
    /// `attrPath op value`.
    Compare(AttrPath, Op, Value),
    /// `attrPath pr`.
    Present(AttrPath),
    /// `attr[filter]`: some value of the multi-valued `attr` matches `filter`.
    ValuePath(AttrPath, Box<Expr>),
}

/// A PATCH path: an attribute path, or `attr[filter]` with an optional `.sub`.
#[derive(Debug, Clone, PartialEq)]
pub struct PatchPath {
    /// The attribute (its `sub` is the sub-attribute after the filter, if any).
    pub attr: AttrPath,
    /// The value filter, if any.
    pub filter: Option<Expr>,
}

/// Parses a filter.
pub fn parse(text: &str) -> Result<Expr, ScimError> {
    let mut parser = Parser {
        chars: text.chars().collect(),
        pos: 0,
        in_brackets: false,
    };
    let expr = parser.or_expr()?;
    parser.skip_ws();
    if parser.pos < parser.chars.len() {
        return Err(parser.error("unexpected text"));
    }
    Ok(expr)
}

/// Parses a PATCH path.
pub fn parse_path(text: &str) -> Result<PatchPath, ScimError> {
    let text = text.trim();
    let Some(open) = text.find('[') else {
        return Ok(PatchPath {
            attr: AttrPath::parse(text)?,
            filter: None,
        });
    };
    let close = text
        .rfind(']')
        .filter(|c| *c > open)
        .ok_or_else(|| ScimError::path(format!("Invalid path \"{text}\".")))?;
    let mut attr = AttrPath::parse(&text[..open])?;
    if attr.sub.is_some() {
        return Err(ScimError::path(format!("Invalid path \"{text}\".")));
    }
    let filter = parse(&text[open + 1..close]).map_err(|e| ScimError::path(e.detail))?;
    let rest = &text[close + 1..];
    if !rest.is_empty() {
        let sub = rest
            .strip_prefix('.')
            .filter(|s| !s.is_empty() && s.chars().all(|c| c.is_ascii_alphanumeric() || c == '$'))
            .ok_or_else(|| ScimError::path(format!("Invalid path \"{text}\".")))?;
        attr.sub = Some(sub.to_string());
    }
    Ok(PatchPath {
        attr,
        filter: Some(filter),
    })
}

struct Parser {
    chars: Vec<char>,
    pos: usize,
    in_brackets: bool,
}

impl Parser {
    fn error(&self, what: &str) -> ScimError {
        let text: String = self.chars.iter().collect();
        ScimError::filter(format!(
            "Invalid filter \"{text}\": {what} at position {}.",
            self.pos
        ))
    }

    fn skip_ws(&mut self) {
        while self.chars.get(self.pos).is_some_and(|c| c.is_whitespace()) {
            self.pos += 1;
        }
    }

    fn peek(&self) -> Option<char> {
        self.chars.get(self.pos).copied()
    }

    /// The next bare word (attribute path, operator, keyword or literal), without consuming it.
    fn word_at(&self, from: usize) -> (String, usize) {
        let mut end = from;
        while let Some(c) = self.chars.get(end) {
            if c.is_whitespace() || matches!(c, '(' | ')' | '[' | ']' | '"') {
                break;
            }
            end += 1;
        }
        (self.chars[from..end].iter().collect(), end)
    }

    fn keyword(&mut self, kw: &str) -> bool {
        self.skip_ws();
        let (word, end) = self.word_at(self.pos);
        if word.eq_ignore_ascii_case(kw) {
            self.pos = end;
            true
        } else {
            false
        }
    }

    fn or_expr(&mut self) -> Result<Expr, ScimError> {
        let mut left = self.and_expr()?;
        while self.keyword("or") {
            let right = self.and_expr()?;
            left = Expr::Or(Box::new(left), Box::new(right));
        }
        Ok(left)
    }

    fn and_expr(&mut self) -> Result<Expr, ScimError> {
        let mut left = self.unary()?;
        while self.keyword("and") {
            let right = self.unary()?;
            left = Expr::And(Box::new(left), Box::new(right));
        }
        Ok(left)
    }

    fn unary(&mut self) -> Result<Expr, ScimError> {
        self.skip_ws();
        let (word, end) = self.word_at(self.pos);
        if word.eq_ignore_ascii_case("not") {
            self.pos = end;
            self.skip_ws();
            if self.peek() != Some('(') {
                return Err(self.error("\"not\" needs parentheses"));
            }
            return Ok(Expr::Not(Box::new(self.group()?)));
        }
        if self.peek() == Some('(') {
            return self.group();
        }
        self.comparison()
    }

    fn group(&mut self) -> Result<Expr, ScimError> {
        self.pos += 1;
        let inner = self.or_expr()?;
        self.skip_ws();
        if self.peek() != Some(')') {
            return Err(self.error("missing \")\""));
        }
        self.pos += 1;
        Ok(inner)
    }

    fn comparison(&mut self) -> Result<Expr, ScimError> {
        self.skip_ws();
        let (word, end) = self.word_at(self.pos);
        if word.is_empty() {
            return Err(self.error("expected an attribute"));
        }
        self.pos = end;
        if self.peek() == Some('[') {
            if self.in_brackets {
                return Err(self.error("nested value filters"));
            }
            let attr = AttrPath::parse(&word).map_err(|e| ScimError::filter(e.detail))?;
            self.pos += 1;
            self.in_brackets = true;
            let inner = self.or_expr()?;
            self.in_brackets = false;
            self.skip_ws();
            if self.peek() != Some(']') {
                return Err(self.error("missing \"]\""));
            }
            self.pos += 1;
            let mut expr = Expr::ValuePath(attr.clone(), Box::new(inner));
            // `emails[type eq "work"].value eq "x"`: a sub-attribute after the filter.
            if self.peek() == Some('.') {
                let (sub, end) = self.word_at(self.pos + 1);
                self.pos = end;
                let cond = self.operator_and_value(AttrPath {
                    urn: None,
                    attr: sub,
                    sub: None,
                })?;
                expr = match expr {
                    Expr::ValuePath(a, f) => {
                        Expr::ValuePath(a, Box::new(Expr::And(f, Box::new(cond))))
                    }
                    other => other,
                };
            }
            return Ok(expr);
        }
        let path = AttrPath::parse(&word).map_err(|e| ScimError::filter(e.detail))?;
        self.operator_and_value(path)
    }

    fn operator_and_value(&mut self, path: AttrPath) -> Result<Expr, ScimError> {
        self.skip_ws();
        let (op, end) = self.word_at(self.pos);
        self.pos = end;
        let op = match op.to_ascii_lowercase().as_str() {
            "pr" => return Ok(Expr::Present(path)),
            "eq" => Op::Eq,
            "ne" => Op::Ne,
            "co" => Op::Co,
            "sw" => Op::Sw,
            "ew" => Op::Ew,
            "gt" => Op::Gt,
            "ge" => Op::Ge,
            "lt" => Op::Lt,
            "le" => Op::Le,
            "" => return Err(self.error("expected an operator")),
            _ => return Err(self.error("unknown operator")),
        };
        self.skip_ws();
        let value = self.value()?;
        Ok(Expr::Compare(path, op, value))
    }

    fn value(&mut self) -> Result<Value, ScimError> {
        if self.peek() == Some('"') {
            let start = self.pos;
            self.pos += 1;
            let mut escaped = false;
            while let Some(c) = self.peek() {
                self.pos += 1;
                if escaped {
                    escaped = false;
                } else if c == '\\' {
                    escaped = true;
                } else if c == '"' {
                    let text: String = self.chars[start..self.pos].iter().collect();
                    return serde_json::from_str::<Value>(&text)
                        .map_err(|_| self.error("malformed string"));
                }
            }
            return Err(self.error("unterminated string"));
        }
        let (word, end) = self.word_at(self.pos);
        self.pos = end;
        match word.to_ascii_lowercase().as_str() {
            "true" => Ok(Value::Bool(true)),
            "false" => Ok(Value::Bool(false)),
            "null" => Ok(Value::Null),
            _ => match serde_json::from_str::<Value>(&word) {
                Ok(v @ Value::Number(_)) => Ok(v),
                _ => Err(self.error("expected a value")),
            },
        }
    }
}

/// Whether `element` (one value of a multi-valued attribute) matches `expr`; names are
/// looked up case-insensitively, strings compared case-insensitively.
pub fn matches(element: &Value, expr: &Expr) -> bool {
    match expr {
        Expr::And(a, b) => matches(element, a) && matches(element, b),
        Expr::Or(a, b) => matches(element, a) || matches(element, b),
        Expr::Not(inner) => !matches(element, inner),
        Expr::Present(path) => lookup(element, path).is_some_and(|v| !is_unassigned(v)),
        Expr::Compare(path, op, value) => match lookup(element, path) {
            Some(found) => compare(found, *op, value),
            None => *op == Op::Ne && !value.is_null(),
        },
        Expr::ValuePath(path, inner) => match lookup(element, path) {
            Some(Value::Array(items)) => items.iter().any(|i| matches(i, inner)),
            Some(v) => matches(v, inner),
            None => false,
        },
    }
}

/// Whether a value counts as unassigned (RFC 7643 §2.5).
pub fn is_unassigned(v: &Value) -> bool {
    match v {
        Value::Null => true,
        Value::Array(a) => a.is_empty(),
        Value::String(s) => s.is_empty(),
        Value::Object(o) => o.is_empty(),
        _ => false,
    }
}

fn lookup<'a>(element: &'a Value, path: &AttrPath) -> Option<&'a Value> {
    let get = |v: &'a Value, name: &str| -> Option<&'a Value> {
        v.as_object()?
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v)
    };
    // Inside a value filter a bare element (a string) answers for `value`.
    if !element.is_object() && path.attr.eq_ignore_ascii_case("value") && path.sub.is_none() {
        return Some(element);
    }
    let first = get(element, &path.attr)?;
    match &path.sub {
        Some(sub) => get(first, sub),
        None => Some(first),
    }
}

fn compare(found: &Value, op: Op, wanted: &Value) -> bool {
    if let Value::Array(items) = found {
        return items.iter().any(|i| compare(i, op, wanted));
    }
    match (found, wanted) {
        (Value::String(a), Value::String(b)) => {
            let (a, b) = (a.to_lowercase(), b.to_lowercase());
            match op {
                Op::Eq => a == b,
                Op::Ne => a != b,
                Op::Co => a.contains(&b),
                Op::Sw => a.starts_with(&b),
                Op::Ew => a.ends_with(&b),
                Op::Gt => a > b,
                Op::Ge => a >= b,
                Op::Lt => a < b,
                Op::Le => a <= b,
            }
        }
        (Value::Bool(a), Value::Bool(b)) => match op {
            Op::Eq => a == b,
            Op::Ne => a != b,
            _ => false,
        },
        (Value::Bool(a), Value::String(b)) => {
            let b = b.eq_ignore_ascii_case("true");
            match op {
                Op::Eq => *a == b,
                Op::Ne => *a != b,
                _ => false,
            }
        }
        (Value::Number(a), Value::Number(b)) => {
            let (Some(a), Some(b)) = (a.as_f64(), b.as_f64()) else {
                return false;
            };
            match op {
                Op::Eq => a == b,
                Op::Ne => a != b,
                Op::Gt => a > b,
                Op::Ge => a >= b,
                Op::Lt => a < b,
                Op::Le => a <= b,
                _ => false,
            }
        }
        (_, Value::Null) => match op {
            Op::Eq => found.is_null(),
            Op::Ne => !found.is_null(),
            _ => false,
        },
        _ => op == Op::Ne,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn parses_precedence_grouping_and_value_paths() {
        let e = parse(r#"userName Eq "a" or title pr and not (active eq false)"#).unwrap();
        assert!(matches!(e, Expr::Or(_, ref r) if matches!(**r, Expr::And(_, _))));
        let e = parse(r#"emails[type eq "work" and value co "@x"]"#).unwrap();
        assert!(matches!(e, Expr::ValuePath(ref p, _) if p.attr == "emails"));
        let e = parse(r#"emails[type eq "work"].value eq "a@x""#).unwrap();
        assert!(matches!(e, Expr::ValuePath(_, ref f) if matches!(**f, Expr::And(_, _))));
        let e = parse(r#"urn:ietf:params:scim:schemas:core:2.0:User:name.familyName sw "O\"B""#)
            .unwrap();
        match e {
            Expr::Compare(p, Op::Sw, v) => {
                assert_eq!(
                    p.urn.as_deref(),
                    Some("urn:ietf:params:scim:schemas:core:2.0:User")
                );
                assert_eq!(p.sub.as_deref(), Some("familyName"));
                assert_eq!(v, json!("O\"B"));
            }
            other => panic!("{other:?}"),
        }
        for bad in [
            "userName",
            "userName xx \"a\"",
            "(userName eq \"a\"",
            "not userName eq \"a\"",
            "userName eq",
            "a[b[c eq 1]]",
        ] {
            let err = parse(bad).unwrap_err();
            assert_eq!(err.scim_type, Some("invalidFilter"), "{bad}");
        }
    }

    #[test]
    fn patch_paths_and_element_matching() {
        let p = parse_path(r#"emails[type eq "work"].value"#).unwrap();
        assert_eq!(p.attr.attr, "emails");
        assert_eq!(p.attr.sub.as_deref(), Some("value"));
        let f = p.filter.unwrap();
        assert!(matches(&json!({"type": "Work", "value": "a"}), &f));
        assert!(!matches(&json!({"type": "home", "value": "a"}), &f));
        let p = parse_path(r#"members[value eq "abc"]"#).unwrap();
        assert!(matches(&json!({"value": "ABC"}), &p.filter.unwrap()));
        assert!(parse_path("members[value eq \"a\"").is_err());
        assert_eq!(
            parse_path("name.givenName").unwrap().attr.sub.as_deref(),
            Some("givenName")
        );
    }
}
