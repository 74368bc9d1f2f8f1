//! Compiles the query vocabulary's filter algebra and sort keys to SQL, once for both
//! backends. The only backend-specific part is JSON path access.

use super::{Dialect, Sql};
use crate::query::filter::{Cmp, Direction, Filter, Literal};

/// How an entity's fields and relations become SQL.
pub trait Schema {
    /// Field enum of the entity.
    type Field;
    /// Relation enum of the entity.
    type Rel;
    /// Column expression of a field (qualified with the entity's alias).
    fn column(field: &Self::Field) -> &'static str;
    /// What compiling a relation needs besides the dialect (planned index lookups, say).
    type Context;
    /// Appends a boolean SQL expression for a relation.
    fn relation(rel: &Self::Rel, dialect: Dialect, context: &Self::Context, out: &mut Sql);
}

/// Appends the SQL condition for `filter` to `out`.
pub fn compile<S: Schema>(
    filter: &Filter<S::Field, S::Rel>,
    dialect: Dialect,
    context: &S::Context,
    out: &mut Sql,
) {
    match filter {
        Filter::All => {
            out.push("1 = 1");
        }
        Filter::Nothing => {
            out.push("1 = 0");
        }
        Filter::And(parts) | Filter::Or(parts) => {
            let joiner = if matches!(filter, Filter::And(_)) {
                " AND "
            } else {
                " OR "
            };
            if parts.is_empty() {
                out.push(if matches!(filter, Filter::And(_)) {
                    "1 = 1"
                } else {
                    "1 = 0"
                });
                return;
            }
            out.push("(");
            for (i, part) in parts.iter().enumerate() {
                if i > 0 {
                    out.push(joiner);
                }
                compile::<S>(part, dialect, context, out);
            }
            out.push(")");
        }
        Filter::Not(inner) => {
            out.push("NOT (");
            compile::<S>(inner, dialect, context, out);
            out.push(")");
        }
        Filter::Compare(field, cmp, literal) => {
            out.push(S::column(field));
            out.push(match cmp {
                Cmp::Eq => " = ",
                Cmp::Lt => " < ",
                Cmp::Le => " <= ",
                Cmp::Gt => " > ",
                Cmp::Ge => " >= ",
            });
            bind_literal(out, literal);
        }
        Filter::In(field, literals) => {
            if literals.is_empty() {
                out.push("1 = 0");
                return;
            }
            out.push(S::column(field));
            out.push(" IN (");
            for (i, literal) in literals.iter().enumerate() {
                if i > 0 {
                    out.push(", ");
                }
                bind_literal(out, literal);
            }
            out.push(")");
        }
        Filter::IsNull(field) => {
            out.push(S::column(field)).push(" IS NULL");
        }
        Filter::IContains(field, text) => like(
            out,
            S::column(field),
            &format!("%{}%", escape_like(&text.to_lowercase())),
            true,
        ),
        Filter::IExact(field, text) => like(
            out,
            S::column(field),
            &escape_like(&text.to_lowercase()),
            true,
        ),
        Filter::StartsWith(field, text) => {
            // Case-sensitive prefix: a range the column's index can use, made exact by SUBSTR.
            // The range is in code point order (SQLite's BINARY; `COLLATE "C"` on PostgreSQL,
            // the collation of its username column): every string with the prefix lies between
            // the prefix and the prefix with its last character advanced.
            let column = S::column(field);
            let bytewise = match dialect {
                Dialect::Sqlite => "",
                Dialect::Postgres => " COLLATE \"C\"",
            };
            out.push("(").push(column).push(" >= ").bind(text.clone());
            out.push(bytewise);
            if let Some(upper) = prefix_successor(text) {
                out.push(" AND ").push(column).push(" < ").bind(upper);
                out.push(bytewise);
            }
            out.push(" AND SUBSTR(").push(column).push(", 1, CAST(");
            out.bind(text.chars().count() as i64)
                .push(" AS INTEGER)) = ")
                .bind(text.clone());
            out.push(")");
        }
        Filter::IStartsWith(field, text) => like(
            out,
            S::column(field),
            &format!("{}%", escape_like(&text.to_lowercase())),
            true,
        ),
        Filter::EndsWith(field, text) => {
            let n = text.chars().count() as i64;
            out.push(match dialect {
                Dialect::Sqlite => "(SUBSTR(",
                Dialect::Postgres => "(RIGHT(",
            });
            out.push(S::column(field)).push(", CAST(");
            match dialect {
                Dialect::Sqlite => out.bind(-n),
                Dialect::Postgres => out.bind(n),
            };
            out.push(" AS INTEGER)) = ").bind(text.clone()).push(")");
        }
        Filter::IEndsWith(field, text) => like(
            out,
            S::column(field),
            &format!("%{}", escape_like(&text.to_lowercase())),
            true,
        ),
        Filter::Json(field, path, value) => {
            json_equals(out, dialect, S::column(field), path, value)
        }
        Filter::Rel(rel) => S::relation(rel, dialect, context, out),
    }
}

fn bind_literal(out: &mut Sql, literal: &Literal) {
    match literal {
        Literal::Text(s) => out.bind(s.clone()),
        Literal::Int(i) => out.bind(*i),
        Literal::Bool(b) => out.bind(*b),
        Literal::Time(t) => out.bind(t.0),
    };
}

fn like(out: &mut Sql, column: &str, pattern: &str, lower: bool) {
    if lower {
        out.push("LOWER(").push(column).push(")");
    } else {
        out.push(column);
    }
    out.push(" LIKE ")
        .bind(pattern.to_string())
        .push(" ESCAPE '\\'");
}

/// Escapes LIKE wildcards so user text matches literally.
pub fn escape_like(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        if matches!(c, '%' | '_' | '\\') {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

/// `column`'s JSON at `path` equals `value`, typed as PostgreSQL's jsonb equality.
pub(super) fn json_equals(
    out: &mut Sql,
    dialect: Dialect,
    column: &str,
    path: &[String],
    value: &serde_json::Value,
) {
    match dialect {
        Dialect::Sqlite => {
            if path.iter().any(|k| k.contains('"')) {
                out.push("1 = 0");
                return;
            }
            let json_path = path.iter().fold(String::from("$"), |mut acc, key| {
                acc.push_str(".\"");
                acc.push_str(key);
                acc.push('"');
                acc
            });
            // Typed like PostgreSQL's jsonb equality: true is not 1, null matches a stored null.
            out.push("(json_type(")
                .push(column)
                .push(", ")
                .bind(json_path.clone())
                .push(")");
            match value {
                serde_json::Value::Null => {
                    out.push(" = 'null')");
                }
                serde_json::Value::Bool(b) => {
                    out.push(if *b { " = 'true')" } else { " = 'false')" });
                }
                serde_json::Value::Number(_) => {
                    out.push(" IN ('integer', 'real') AND json_extract(")
                        .push(column)
                        .push(", ")
                        .bind(json_path);
                    out.push(") = json_extract(")
                        .bind(value.to_string())
                        .push(", '$'))");
                }
                serde_json::Value::String(text) => {
                    out.push(" = 'text' AND json_extract(")
                        .push(column)
                        .push(", ")
                        .bind(json_path);
                    out.push(") = ").bind(text.clone()).push(")");
                }
                serde_json::Value::Array(_) | serde_json::Value::Object(_) => {
                    out.push(" IN ('array', 'object') AND json_extract(")
                        .push(column)
                        .push(", ")
                        .bind(json_path);
                    out.push(") = json(").bind(value.to_string()).push("))");
                }
            }
        }
        Dialect::Postgres => {
            let array_literal = path.iter().fold(String::from("{"), |mut acc, key| {
                if acc.len() > 1 {
                    acc.push(',');
                }
                acc.push('"');
                for c in key.chars() {
                    if c == '"' || c == '\\' {
                        acc.push('\\');
                    }
                    acc.push(c);
                }
                acc.push('"');
                acc
            }) + "}";
            out.push("((")
                .push(column)
                .push(")::jsonb #> ")
                .bind(array_literal);
            out.push("::text[]) = ")
                .bind(value.to_string())
                .push("::jsonb");
        }
    }
}

/// Appends `ORDER BY …` for the given keys, nulls last ascending (PostgreSQL's rule, made
/// explicit so SQLite agrees), ties broken by `tiebreak`.
pub fn order_by(out: &mut Sql, keys: &[(String, Direction)], tiebreak: &str) {
    out.push(" ORDER BY ");
    for (expr, direction) in keys {
        out.push(expr);
        out.push(match direction {
            Direction::Asc => " ASC NULLS LAST, ",
            Direction::Desc => " DESC NULLS FIRST, ",
        });
    }
    out.push(tiebreak);
}

/// The least string above every string that starts with `prefix` in code point order: the
/// prefix with its last character advanced (`None` for an empty prefix or one ending in the
/// last code point).
fn prefix_successor(prefix: &str) -> Option<String> {
    let mut chars: Vec<char> = prefix.chars().collect();
    let last = chars.pop()?;
    let next = (last as u32 + 1..=char::MAX as u32).find_map(char::from_u32)?;
    chars.push(next);
    Some(chars.into_iter().collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_prefix_successor_is_above_every_string_with_the_prefix() {
        assert_eq!(
            prefix_successor("bench-user-00001").as_deref(),
            Some("bench-user-00002")
        );
        assert_eq!(prefix_successor("az").as_deref(), Some("a{"));
        assert_eq!(prefix_successor(""), None);
        // The surrogate gap is skipped.
        assert_eq!(prefix_successor("\u{d7ff}").as_deref(), Some("\u{e000}"));
        assert_eq!(prefix_successor("a\u{10ffff}"), None);
        let upper = prefix_successor("ab").expect("successor");
        for s in ["ab", "ab\u{10ffff}", "abzzz", "ab\u{1f600}"] {
            assert!(s < upper.as_str(), "{s:?}");
        }
    }

    #[test]
    fn like_escapes_wildcards() {
        assert_eq!(escape_like("a%b_c\\"), "a\\%b\\_c\\\\");
    }
}
