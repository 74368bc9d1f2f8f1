//! SQL text and its bind arguments: statements written once with `$n` placeholders, the
//! values bound to them, the row types that decode from both backends and the dialect tag.

use sqlx::postgres::{PgArguments, PgRow};
use sqlx::sqlite::{SqliteArguments, SqliteRow};
use sqlx::{Arguments, FromRow};

use super::StoreError;

/// One bind value. Nulls are typed so PostgreSQL can infer parameter types.
#[derive(Debug, Clone)]
pub enum Arg {
    /// A 64-bit integer or NULL.
    Int(Option<i64>),
    /// A text value or NULL.
    Text(Option<String>),
    /// A boolean.
    Bool(bool),
}

impl From<i64> for Arg {
    fn from(v: i64) -> Self {
        Arg::Int(Some(v))
    }
}
impl From<Option<i64>> for Arg {
    fn from(v: Option<i64>) -> Self {
        Arg::Int(v)
    }
}
impl From<String> for Arg {
    fn from(v: String) -> Self {
        Arg::Text(Some(v))
    }
}
impl From<&str> for Arg {
    fn from(v: &str) -> Self {
        Arg::Text(Some(v.to_string()))
    }
}
impl From<&String> for Arg {
    fn from(v: &String) -> Self {
        Arg::Text(Some(v.clone()))
    }
}
impl From<Option<String>> for Arg {
    fn from(v: Option<String>) -> Self {
        Arg::Text(v)
    }
}
impl From<bool> for Arg {
    fn from(v: bool) -> Self {
        Arg::Bool(v)
    }
}

/// SQL text with `$n` placeholders and the values bound to them, built up piece by piece.
#[derive(Debug, Clone, Default)]
pub struct Sql {
    text: String,
    pub(super) args: Vec<Arg>,
}

impl Sql {
    /// Starts a statement with fixed text.
    pub fn new(text: &str) -> Self {
        Sql {
            text: text.to_string(),
            args: Vec::new(),
        }
    }

    /// Appends fixed SQL text (never user input).
    pub fn push(&mut self, text: &str) -> &mut Self {
        self.text.push_str(text);
        self
    }

    /// Appends a placeholder bound to `value`.
    pub fn bind(&mut self, value: impl Into<Arg>) -> &mut Self {
        self.args.push(value.into());
        self.text.push('$');
        self.text.push_str(&self.args.len().to_string());
        self
    }

    /// Appends `($a, $b, …)` bound to `values`; an empty list becomes `(NULL)`, which matches nothing.
    pub fn bind_list<A: Into<Arg>>(&mut self, values: impl IntoIterator<Item = A>) -> &mut Self {
        self.text.push('(');
        let mut first = true;
        for v in values {
            if !first {
                self.text.push_str(", ");
            }
            first = false;
            self.bind(v);
        }
        if first {
            self.text.push_str("NULL");
        }
        self.text.push(')');
        self
    }

    /// Appends another fragment, renumbering its placeholders.
    pub fn append(&mut self, other: Sql) -> &mut Self {
        let offset = self.args.len();
        let mut out = String::with_capacity(other.text.len());
        let bytes = other.text.as_bytes();
        let mut i = 0;
        while i < bytes.len() {
            if bytes[i] == b'$' {
                let start = i + 1;
                let mut end = start;
                while end < bytes.len() && bytes[end].is_ascii_digit() {
                    end += 1;
                }
                if end > start {
                    let n: usize = other.text[start..end].parse().unwrap_or(0);
                    out.push('$');
                    out.push_str(&(n + offset).to_string());
                    i = end;
                    continue;
                }
            }
            let ch_len = other.text[i..]
                .chars()
                .next()
                .map(|c| c.len_utf8())
                .unwrap_or(1);
            out.push_str(&other.text[i..i + ch_len]);
            i += ch_len;
        }
        self.text.push_str(&out);
        self.args.extend(other.args);
        self
    }

    /// Fixed text whose placeholders (`$1` …, possibly used more than once) take `args`.
    pub fn raw(text: &str, args: Vec<Arg>) -> Self {
        Sql {
            text: text.to_string(),
            args,
        }
    }

    /// The SQL text.
    pub fn text(&self) -> &str {
        &self.text
    }

    pub(super) fn sqlite_args(&self) -> Result<SqliteArguments<'static>, StoreError> {
        let mut out = SqliteArguments::default();
        for arg in &self.args {
            let res = match arg.clone() {
                Arg::Int(v) => out.add(v),
                Arg::Text(v) => out.add(v),
                Arg::Bool(v) => out.add(v),
            };
            res.map_err(|e| StoreError::Other(e.to_string()))?;
        }
        Ok(out)
    }

    pub(super) fn pg_args(&self) -> Result<PgArguments, StoreError> {
        let mut out = PgArguments::default();
        for arg in &self.args {
            let res = match arg.clone() {
                Arg::Int(v) => out.add(v),
                Arg::Text(v) => out.add(v),
                Arg::Bool(v) => out.add(v),
            };
            res.map_err(|e| StoreError::Other(e.to_string()))?;
        }
        Ok(out)
    }
}

/// A row type that decodes from both backends (and, through serde, from SQLite's write
/// connection; see `writer`).
pub trait Record:
    for<'r> FromRow<'r, SqliteRow>
    + for<'r> FromRow<'r, PgRow>
    + serde::de::DeserializeOwned
    + Send
    + Unpin
{
}
impl<T> Record for T where
    T: for<'r> FromRow<'r, SqliteRow>
        + for<'r> FromRow<'r, PgRow>
        + serde::de::DeserializeOwned
        + Send
        + Unpin
{
}

/// SQL fragments that differ between the backends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dialect {
    /// SQLite 3.
    Sqlite,
    /// PostgreSQL.
    Postgres,
}
