//! The filter algebra every front end compiles its query parameters to, and the store compiles
//! to SQL once. Fields and relations are typed per entity, so a dialect cannot name a column
//! that does not exist.

use super::time::Timestamp;

/// A literal compared against a field.
#[derive(Debug, Clone, PartialEq)]
pub enum Literal {
    /// Text.
    Text(String),
    /// Integer.
    Int(i64),
    /// Boolean.
    Bool(bool),
    /// A point in time.
    Time(Timestamp),
}

/// Comparison operators.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cmp {
    /// `=`
    Eq,
    /// `<`
    Lt,
    /// `<=`
    Le,
    /// `>`
    Gt,
    /// `>=`
    Ge,
}

/// A boolean expression over the fields `F` and relations `R` of one entity.
#[derive(Debug, Clone, PartialEq)]
pub enum Filter<F, R> {
    /// Matches everything.
    All,
    /// Matches nothing.
    Nothing,
    /// Every part matches.
    And(Vec<Filter<F, R>>),
    /// At least one part matches.
    Or(Vec<Filter<F, R>>),
    /// The part does not match.
    Not(Box<Filter<F, R>>),
    /// `field <op> literal`.
    Compare(F, Cmp, Literal),
    /// `field` is one of the literals.
    In(F, Vec<Literal>),
    /// `field IS NULL`.
    IsNull(F),
    /// Case-insensitive substring match.
    IContains(F, String),
    /// Case-insensitive equality.
    IExact(F, String),
    /// Case-sensitive prefix match.
    StartsWith(F, String),
    /// Case-insensitive prefix match.
    IStartsWith(F, String),
    /// Case-sensitive suffix match.
    EndsWith(F, String),
    /// Case-insensitive suffix match.
    IEndsWith(F, String),
    /// The JSON value at `path` inside the field equals `value`.
    Json(F, Vec<String>, serde_json::Value),
    /// An entity-specific relation (membership, role, …).
    Rel(R),
}

impl<F, R> Filter<F, R> {
    /// Conjunction that drops `All` parts and collapses trivial cases.
    pub fn and(parts: Vec<Filter<F, R>>) -> Filter<F, R> {
        let mut kept: Vec<Filter<F, R>> = parts
            .into_iter()
            .filter(|p| !matches!(p, Filter::All))
            .collect();
        match kept.len() {
            0 => Filter::All,
            1 => kept.pop().unwrap_or(Filter::All),
            _ => Filter::And(kept),
        }
    }

    /// Whether every condition compares a field `allowed` accepts (no relations).
    pub fn only_fields(&self, allowed: &impl Fn(&F) -> bool) -> bool {
        match self {
            Filter::All | Filter::Nothing => true,
            Filter::And(parts) | Filter::Or(parts) => parts.iter().all(|p| p.only_fields(allowed)),
            Filter::Not(inner) => inner.only_fields(allowed),
            Filter::Compare(f, _, _)
            | Filter::In(f, _)
            | Filter::IsNull(f)
            | Filter::IContains(f, _)
            | Filter::IExact(f, _)
            | Filter::StartsWith(f, _)
            | Filter::IStartsWith(f, _)
            | Filter::EndsWith(f, _)
            | Filter::IEndsWith(f, _)
            | Filter::Json(f, _, _) => allowed(f),
            Filter::Rel(_) => false,
        }
    }
}

/// Sort direction.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    /// Smallest first.
    Asc,
    /// Largest first.
    Desc,
}
