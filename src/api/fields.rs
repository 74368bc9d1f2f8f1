//! DRF's field coercion, shared by both dialects (AWX is DRF too): each reader takes one field
//! of a JSON object, converts it the way DRF would, and records DRF's message when it cannot.

use serde_json::{Map, Value};

use super::body::{python_str, python_type};
use crate::domain::{FieldErrors, Timestamp};

/// Rules of a string field.
#[derive(Debug, Clone, Copy)]
pub struct Str {
    /// `""` allowed (after trimming).
    pub allow_blank: bool,
    /// Maximum length in characters.
    pub max_len: Option<usize>,
    /// Strip surrounding whitespace (DRF's default).
    pub trim: bool,
}

impl Str {
    /// Non-blank, trimmed.
    pub const REQUIRED_TEXT: Str = Str {
        allow_blank: false,
        max_len: None,
        trim: true,
    };
    /// Blank allowed, trimmed.
    pub const TEXT: Str = Str {
        allow_blank: true,
        max_len: None,
        trim: true,
    };

    /// With a maximum length.
    pub const fn max(self, n: usize) -> Str {
        Str {
            max_len: Some(n),
            ..self
        }
    }
}

/// DRF's datetime format message.
pub const DATETIME_FORMAT_MESSAGE: &str =
    "Datetime has wrong format. Use one of these formats instead: YYYY-MM-DDThh:mm[:ss[.uuuuuu]][+HH:MM|-HH:MM|Z].";

/// Reads fields of one request object, collecting errors.
pub struct Input<'a> {
    obj: &'a Map<String, Value>,
    /// Errors found so far.
    pub errors: FieldErrors,
}

impl<'a> Input<'a> {
    /// Starts reading `obj`.
    pub fn new(obj: &'a Map<String, Value>) -> Self {
        Input {
            obj,
            errors: FieldErrors::new(),
        }
    }

    /// Whether the field was sent.
    pub fn present(&self, name: &str) -> bool {
        self.obj.contains_key(name)
    }

    /// Records "This field is required." when absent; returns whether present.
    pub fn require(&mut self, name: &str) -> bool {
        if self.present(name) {
            true
        } else {
            self.errors
                .add_code(name, "required", "This field is required.");
            false
        }
    }

    fn null(&mut self, name: &str) {
        self.errors
            .add_code(name, "null", "This field may not be null.");
    }

    /// A string field (numbers are turned into text, as DRF does).
    pub fn string(&mut self, name: &str, rule: Str) -> Option<String> {
        let value = self.obj.get(name)?;
        let raw = match value {
            Value::String(s) => s.clone(),
            Value::Number(_) => python_str(value),
            Value::Null => {
                self.null(name);
                return None;
            }
            _ => {
                self.errors.add(name, "Not a valid string.");
                return None;
            }
        };
        let text = if rule.trim {
            raw.trim().to_string()
        } else {
            raw
        };
        if text.is_empty() {
            if !rule.allow_blank {
                self.errors
                    .add_code(name, "blank", "This field may not be blank.");
                return None;
            }
            return Some(text);
        }
        if let Some(max) = rule.max_len {
            if text.chars().count() > max {
                self.errors.add_code(
                    name,
                    "max_length",
                    format!("Ensure this field has no more than {max} characters."),
                );
                return None;
            }
        }
        if text.contains('\0') {
            self.errors.add(name, "Null characters are not allowed.");
            return None;
        }
        Some(text)
    }

    /// A nullable string field (`null` → `Some(None)`).
    pub fn nullable_string(&mut self, name: &str, rule: Str) -> Option<Option<String>> {
        match self.obj.get(name)? {
            Value::Null => Some(None),
            _ => self.string(name, rule).map(Some),
        }
    }

    /// A boolean field with DRF's accepted spellings.
    pub fn boolean(&mut self, name: &str) -> Option<bool> {
        let value = self.obj.get(name)?;
        if value.is_null() {
            self.null(name);
            return None;
        }
        let parsed = parse_bool(value);
        if parsed.is_none() {
            self.errors.add(name, "Must be a valid boolean.");
        }
        parsed
    }

    /// A nullable datetime field.
    pub fn datetime_or_null(&mut self, name: &str) -> Option<Option<Timestamp>> {
        let value = self.obj.get(name)?;
        match value {
            Value::Null => Some(None),
            Value::String(s) => match Timestamp::parse(s) {
                Some(t) => Some(Some(t)),
                None => {
                    self.errors.add(name, DATETIME_FORMAT_MESSAGE);
                    None
                }
            },
            _ => {
                self.errors.add(name, DATETIME_FORMAT_MESSAGE);
                None
            }
        }
    }

    /// A list of UUID primary keys (a many-related field with a UUID pk); values are returned
    /// lowercase hyphenated. Existence is checked by the domain.
    pub fn uuid_list(&mut self, name: &str) -> Option<Vec<String>> {
        let value = self.obj.get(name)?;
        let items = match value {
            Value::Array(items) => items,
            Value::Null => {
                self.null(name);
                return None;
            }
            other => {
                self.errors.add_code(
                    name,
                    "not_a_list",
                    format!(
                        "Expected a list of items but got type \"{}\".",
                        python_type(other)
                    ),
                );
                return None;
            }
        };
        let mut out = Vec::with_capacity(items.len());
        for item in items {
            let parsed = match item {
                Value::String(s) => match uuid::Uuid::parse_str(s.trim()) {
                    Ok(u) => u.to_string(),
                    Err(_) => {
                        self.errors.add(name, format!("“{s}” is not a valid UUID."));
                        return None;
                    }
                },
                Value::Number(n) if n.is_u64() => {
                    uuid::Uuid::from_u128(u128::from(n.as_u64().unwrap_or(0))).to_string()
                }
                other => {
                    self.errors.add_code(
                        name,
                        "incorrect_type",
                        format!(
                            "Incorrect type. Expected pk value, received {}.",
                            python_type(other)
                        ),
                    );
                    return None;
                }
            };
            if !out.contains(&parsed) {
                out.push(parsed);
            }
        }
        Some(out)
    }

    /// An integer field (DRF's IntegerField: integral numbers and numeric strings).
    pub fn int(&mut self, name: &str) -> Option<i64> {
        let value = self.obj.get(name)?;
        if value.is_null() {
            self.null(name);
            return None;
        }
        let parsed = as_int(value);
        if parsed.is_none() {
            self.errors.add(name, "A valid integer is required.");
        }
        parsed
    }

    /// A list of integer primary keys (a many-related field with an integer pk).
    pub fn int_list(&mut self, name: &str) -> Option<Vec<i64>> {
        let value = self.obj.get(name)?;
        let items = match value {
            Value::Array(items) => items,
            Value::Null => {
                self.null(name);
                return None;
            }
            other => {
                self.errors.add_code(
                    name,
                    "not_a_list",
                    format!(
                        "Expected a list of items but got type \"{}\".",
                        python_type(other)
                    ),
                );
                return None;
            }
        };
        let mut out = Vec::with_capacity(items.len());
        for item in items {
            match (item, as_int(item)) {
                (Value::Bool(_), _) | (_, None) => {
                    self.errors.add_code(
                        name,
                        "incorrect_type",
                        format!(
                            "Incorrect type. Expected pk value, received {}.",
                            python_type(item)
                        ),
                    );
                    return None;
                }
                (_, Some(id)) => {
                    if !out.contains(&id) {
                        out.push(id);
                    }
                }
            }
        }
        Some(out)
    }

    /// A JSON object field. NUL characters anywhere inside are refused (PostgreSQL's JSON
    /// cannot hold them).
    pub fn object(&mut self, name: &str, message: &str) -> Option<Map<String, Value>> {
        match self.obj.get(name)? {
            Value::Object(map) => {
                if contains_nul(&Value::Object(map.clone())) {
                    self.errors.add(name, "Null characters are not allowed.");
                    return None;
                }
                Some(map.clone())
            }
            Value::Null => {
                self.null(name);
                None
            }
            _ => {
                self.errors.add(name, message);
                None
            }
        }
    }

    /// A choice field; `parse` maps the text to a value.
    pub fn choice<T>(&mut self, name: &str, parse: impl Fn(&str) -> Option<T>) -> Option<T> {
        let value = self.obj.get(name)?;
        if value.is_null() {
            self.null(name);
            return None;
        }
        let text = python_str(value);
        let parsed = match value {
            Value::String(s) => parse(s),
            Value::Number(_) => parse(&text),
            _ => None,
        };
        if parsed.is_none() {
            self.errors.add_code(
                name,
                "invalid_choice",
                format!("\"{text}\" is not a valid choice."),
            );
        }
        parsed
    }
}

/// An integral JSON number, or a string holding one, as an i64.
fn as_int(value: &Value) -> Option<i64> {
    match value {
        Value::Number(n) => n.as_i64().or_else(|| {
            n.as_f64()
                .filter(|f| f.fract() == 0.0 && f.abs() < 9.0e15)
                .map(|f| f as i64)
        }),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
}

/// Whether any key or string inside a JSON value contains a NUL character.
pub fn contains_nul(value: &Value) -> bool {
    match value {
        Value::String(s) => s.contains('\0'),
        Value::Array(items) => items.iter().any(contains_nul),
        Value::Object(map) => map.iter().any(|(k, v)| k.contains('\0') || contains_nul(v)),
        _ => false,
    }
}

/// DRF's BooleanField spellings.
pub fn parse_bool(value: &Value) -> Option<bool> {
    match value {
        Value::Bool(b) => Some(*b),
        Value::Number(n) => match n.as_f64() {
            Some(1.0) => Some(true),
            Some(0.0) => Some(false),
            _ => None,
        },
        Value::String(s) => match s.as_str() {
            "t" | "T" | "y" | "Y" | "yes" | "Yes" | "YES" | "true" | "True" | "TRUE" | "on"
            | "On" | "ON" | "1" => Some(true),
            "f" | "F" | "n" | "N" | "no" | "No" | "NO" | "false" | "False" | "FALSE" | "off"
            | "Off" | "OFF" | "0" => Some(false),
            _ => None,
        },
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn obj(v: Value) -> Map<String, Value> {
        v.as_object().cloned().unwrap_or_default()
    }

    #[test]
    fn strings_coerce_numbers_and_reject_bools() {
        let o = obj(json!({"a": 5, "b": true, "c": "  x  ", "d": "   ", "e": null}));
        let mut input = Input::new(&o);
        assert_eq!(input.string("a", Str::TEXT).as_deref(), Some("5"));
        assert_eq!(input.string("b", Str::TEXT), None);
        assert_eq!(input.string("c", Str::TEXT).as_deref(), Some("x"));
        assert_eq!(input.string("d", Str::REQUIRED_TEXT), None);
        assert_eq!(input.string("e", Str::TEXT), None);
        let rendered: Vec<(String, String)> = input
            .errors
            .0
            .iter()
            .map(|(f, e)| (f.clone(), e[0].message.clone()))
            .collect();
        assert_eq!(
            rendered,
            vec![
                ("b".into(), "Not a valid string.".into()),
                ("d".into(), "This field may not be blank.".into()),
                ("e".into(), "This field may not be null.".into()),
            ]
        );
    }

    #[test]
    fn booleans_accept_drf_spellings() {
        for v in [
            json!(true),
            json!("yes"),
            json!("True"),
            json!(1),
            json!("on"),
        ] {
            assert_eq!(parse_bool(&v), Some(true), "{v}");
        }
        for v in [json!("nah"), json!(2), json!([]), json!(null)] {
            assert_eq!(parse_bool(&v), None, "{v}");
        }
    }

    #[test]
    fn uuid_lists() {
        let o = obj(
            json!({"g": "abc", "h": ["abc"], "i": [true], "j": ["7F193D74-AEDD-4850-865D-14793F8DDC14"]}),
        );
        let mut input = Input::new(&o);
        assert_eq!(input.uuid_list("g"), None);
        assert_eq!(input.uuid_list("h"), None);
        assert_eq!(input.uuid_list("i"), None);
        assert_eq!(
            input.uuid_list("j"),
            Some(vec!["7f193d74-aedd-4850-865d-14793f8ddc14".to_string()])
        );
        assert_eq!(
            input.errors.0[0].1[0].message,
            "Expected a list of items but got type \"str\"."
        );
        assert_eq!(input.errors.0[1].1[0].message, "“abc” is not a valid UUID.");
        assert_eq!(
            input.errors.0[2].1[0].message,
            "Incorrect type. Expected pk value, received bool."
        );
    }
}
