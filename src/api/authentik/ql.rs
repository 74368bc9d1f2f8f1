//! DjangoQL for `?search=` (docs/compatibility.md#djangoql-search): a hand-written lexer and
//! recursive-descent parser for the subset authentik clients use, compiled against a model's QL
//! fields into the filter algebra.
//! `None` from the public functions means "not a valid DjangoQL expression for this model"
//! (syntax or schema error), and the caller falls back to plain search.
//!
//! Grammar (precedence like DjangoQL: `and` binds tighter than `or`):
//!
//! ```text
//! expression := or_expr
//! or_expr    := and_expr ("or" and_expr)*
//! and_expr   := unary ("and" unary)*
//! unary      := "(" expression ")" | comparison
//! comparison := name ("=" | "!=") (string | number | bool | None)
//!             | name (">" | ">=" | "<" | "<=") (string | number)
//!             | name ("~" | "!~" | ["not"] "startswith" | ["not"] "endswith") string
//!             | name ["not"] "in" "(" scalar ("," scalar)* ")"      scalar := string | number
//! name       := ident ("." ident)*                                  ident := [_A-Za-z][_0-9A-Za-z]*
//! ```
//!
//! Left out on purpose: DjangoQL's relation traversal (`groups.name`) and the `field = None`
//! test on relations; a bare `attributes` name; operators other than `=`/`!=` on attribute
//! paths; `~`/ordering on booleans (also a schema error in DjangoQL).

use serde_json::Value as Json;

use crate::domain::filter::{Cmp, Filter, Literal};
use crate::domain::groups::{GroupField, GroupFilter};
use crate::domain::users::{UserField, UserFilter, UserType};

/// Most comparisons one expression may hold.
const MAX_COMPARISONS: usize = 64;
/// Deepest parenthesis nesting accepted.
const MAX_DEPTH: usize = 32;
/// Most values all `in (…)` lists of one expression may hold together.
const MAX_LIST_VALUES: usize = 1024;

/// Parses `text` as a DjangoQL expression over the users QL fields; `None` on any error.
pub fn parse_user_query(text: &str) -> Option<UserFilter> {
    compile(&parse(text)?, &user_field)
}

/// Parses `text` as a DjangoQL expression over the groups QL fields; `None` on any error.
pub fn parse_group_query(text: &str) -> Option<GroupFilter> {
    compile(&parse(text)?, &group_field)
}

// ---------------------------------------------------------------------------------------------
// Schema

/// How a QL field compares.
#[derive(Clone, Copy)]
enum FieldKind<F> {
    /// A string column.
    Text(F),
    /// A string column restricted to known values (checked for `=`, `!=`, `in`, `not in`).
    Choice(F, fn(&str) -> bool),
    /// A boolean column; `nullable` as the QL schema declares it (allows `= None`).
    Bool { field: F, nullable: bool },
    /// A JSON column addressed by a dotted path.
    Json(F),
}

fn user_field(name: &str) -> Option<FieldKind<UserField>> {
    Some(match name {
        "username" => FieldKind::Text(UserField::Username),
        "name" => FieldKind::Text(UserField::Name),
        "email" => FieldKind::Text(UserField::Email),
        "path" => FieldKind::Text(UserField::Path),
        // The QL schema declares `is_active` nullable (docs/compatibility.md#djangoql-search):
        // `= None` is valid and matches nothing, as in authentik.
        "is_active" => FieldKind::Bool {
            field: UserField::IsActive,
            nullable: true,
        },
        "type" => FieldKind::Choice(UserField::Type, |s| UserType::parse(s).is_some()),
        "attributes" => FieldKind::Json(UserField::Attributes),
        _ => return None,
    })
}

fn group_field(name: &str) -> Option<FieldKind<GroupField>> {
    Some(match name {
        "name" => FieldKind::Text(GroupField::Name),
        "is_superuser" => FieldKind::Bool {
            field: GroupField::IsSuperuser,
            nullable: true,
        },
        "attributes" => FieldKind::Json(GroupField::Attributes),
        _ => return None,
    })
}

// ---------------------------------------------------------------------------------------------
// Syntax tree

#[derive(Debug, Clone, PartialEq)]
enum Expr {
    And(Vec<Expr>),
    Or(Vec<Expr>),
    Compare(Comparison),
}

#[derive(Debug, Clone, PartialEq)]
struct Comparison {
    name: Vec<String>,
    op: Op,
    value: Value,
}

/// An operator: its positive form and whether DjangoQL negates it (`!=`, `!~`, `not …`).
#[derive(Debug, Clone, Copy, PartialEq)]
struct Op {
    kind: OpKind,
    negated: bool,
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum OpKind {
    Eq,
    Order(Cmp),
    IContains,
    In,
    StartsWith,
    EndsWith,
}

#[derive(Debug, Clone, PartialEq)]
enum Value {
    Str(String),
    Int(i64),
    Float(f64),
    Bool(bool),
    Null,
    List(Vec<Value>),
}

// ---------------------------------------------------------------------------------------------
// Lexer

#[derive(Debug, Clone, PartialEq)]
enum Token {
    LParen,
    RParen,
    Comma,
    Eq,
    Ne,
    Tilde,
    NotTilde,
    Gt,
    Ge,
    Lt,
    Le,
    /// An identifier or dotted path (keywords included).
    Word(String),
    Str(String),
    Int(i64),
    Float(f64),
}

fn lex(text: &str) -> Option<Vec<Token>> {
    let chars: Vec<char> = text.chars().collect();
    let mut tokens = Vec::new();
    let mut i = 0;
    while let Some(&c) = chars.get(i) {
        if c.is_whitespace() {
            i += 1;
            continue;
        }
        let next = chars.get(i + 1).copied();
        let (token, len) = match c {
            '(' => (Token::LParen, 1),
            ')' => (Token::RParen, 1),
            ',' => (Token::Comma, 1),
            '=' => (Token::Eq, 1),
            '~' => (Token::Tilde, 1),
            '!' => match next {
                Some('=') => (Token::Ne, 2),
                Some('~') => (Token::NotTilde, 2),
                _ => return None,
            },
            '>' if next == Some('=') => (Token::Ge, 2),
            '>' => (Token::Gt, 1),
            '<' if next == Some('=') => (Token::Le, 2),
            '<' => (Token::Lt, 1),
            '"' => lex_string(&chars, i)?,
            '-' | '0'..='9' => lex_number(&chars, i)?,
            c if is_ident_start(c) => lex_name(&chars, i)?,
            _ => return None,
        };
        tokens.push(token);
        i += len;
    }
    Some(tokens)
}

fn is_ident_start(c: char) -> bool {
    c == '_' || c.is_ascii_alphabetic()
}

fn is_ident_char(c: char) -> bool {
    c == '_' || c.is_ascii_alphanumeric()
}

/// `ident ("." ident)*`; a dot must be followed by another identifier.
fn lex_name(chars: &[char], start: usize) -> Option<(Token, usize)> {
    let mut i = start;
    loop {
        if !chars.get(i).copied().is_some_and(is_ident_start) {
            return None;
        }
        while chars.get(i).copied().is_some_and(is_ident_char) {
            i += 1;
        }
        if chars.get(i) == Some(&'.') {
            i += 1;
        } else {
            break;
        }
    }
    let word: String = chars.get(start..i)?.iter().collect();
    Some((Token::Word(word), i - start))
}

/// JSON-style numbers: `-?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?`.
fn lex_number(chars: &[char], start: usize) -> Option<(Token, usize)> {
    let digits = |from: usize| {
        let mut j = from;
        while chars.get(j).is_some_and(char::is_ascii_digit) {
            j += 1;
        }
        j
    };
    let mut i = start;
    if chars.get(i) == Some(&'-') {
        i += 1;
    }
    let int_start = i;
    i = digits(i);
    if i == int_start || (chars.get(int_start) == Some(&'0') && i - int_start > 1) {
        return None;
    }
    let mut float = false;
    if chars.get(i) == Some(&'.') {
        let end = digits(i + 1);
        if end == i + 1 {
            return None;
        }
        i = end;
        float = true;
    }
    if matches!(chars.get(i), Some('e' | 'E')) {
        let mut j = i + 1;
        if matches!(chars.get(j), Some('+' | '-')) {
            j += 1;
        }
        let end = digits(j);
        if end == j {
            return None;
        }
        i = end;
        float = true;
    }
    let text: String = chars.get(start..i)?.iter().collect();
    let token = if float {
        let value: f64 = text.parse().ok()?;
        if !value.is_finite() {
            return None;
        }
        Token::Float(value)
    } else {
        // An integer outside i64 is refused rather than silently rounded.
        Token::Int(text.parse().ok()?)
    };
    Some((token, i - start))
}

/// A double-quoted string with `\" \\ \/ \b \f \n \r \t \uXXXX` escapes (surrogate pairs joined).
fn lex_string(chars: &[char], start: usize) -> Option<(Token, usize)> {
    let mut out = String::new();
    let mut i = start + 1;
    loop {
        let c = *chars.get(i)?;
        i += 1;
        match c {
            '"' => break,
            '\\' => {
                let e = *chars.get(i)?;
                i += 1;
                out.push(match e {
                    '"' => '"',
                    '\\' => '\\',
                    '/' => '/',
                    'b' => '\u{8}',
                    'f' => '\u{c}',
                    'n' => '\n',
                    'r' => '\r',
                    't' => '\t',
                    'u' => {
                        let high = hex4(chars, i)?;
                        i += 4;
                        if (0xD800..0xDC00).contains(&high) {
                            if chars.get(i) != Some(&'\\') || chars.get(i + 1) != Some(&'u') {
                                return None;
                            }
                            let low = hex4(chars, i + 2)?;
                            if !(0xDC00..0xE000).contains(&low) {
                                return None;
                            }
                            i += 6;
                            char::from_u32(0x10000 + ((high - 0xD800) << 10) + (low - 0xDC00))?
                        } else {
                            // A lone low surrogate is not a char: refused here.
                            char::from_u32(high)?
                        }
                    }
                    _ => return None,
                });
            }
            _ => out.push(c),
        }
    }
    Some((Token::Str(out), i - start))
}

fn hex4(chars: &[char], start: usize) -> Option<u32> {
    let digits = chars.get(start..start + 4)?;
    digits
        .iter()
        .try_fold(0u32, |acc, c| Some(acc * 16 + c.to_digit(16)?))
}

// ---------------------------------------------------------------------------------------------
// Parser

/// Words that cannot name a field.
const RESERVED: [&str; 11] = [
    "and",
    "or",
    "not",
    "in",
    "startswith",
    "endswith",
    "True",
    "False",
    "None",
    "true",
    "false",
];

fn parse(text: &str) -> Option<Expr> {
    let mut parser = Parser {
        tokens: lex(text)?,
        pos: 0,
        comparisons: 0,
        list_values: 0,
    };
    let expr = parser.or_expr(0)?;
    (parser.pos == parser.tokens.len()).then_some(expr)
}

struct Parser {
    tokens: Vec<Token>,
    pos: usize,
    comparisons: usize,
    list_values: usize,
}

impl Parser {
    fn peek(&self) -> Option<&Token> {
        self.tokens.get(self.pos)
    }

    fn next(&mut self) -> Option<Token> {
        let token = self.tokens.get(self.pos).cloned();
        if token.is_some() {
            self.pos += 1;
        }
        token
    }

    fn eat(&mut self, token: &Token) -> bool {
        if self.peek() == Some(token) {
            self.pos += 1;
            true
        } else {
            false
        }
    }

    fn eat_word(&mut self, word: &str) -> bool {
        if matches!(self.peek(), Some(Token::Word(w)) if w == word) {
            self.pos += 1;
            true
        } else {
            false
        }
    }

    fn or_expr(&mut self, depth: usize) -> Option<Expr> {
        let mut parts = vec![self.and_expr(depth)?];
        while self.eat_word("or") {
            parts.push(self.and_expr(depth)?);
        }
        Some(if parts.len() == 1 {
            parts.pop()?
        } else {
            Expr::Or(parts)
        })
    }

    fn and_expr(&mut self, depth: usize) -> Option<Expr> {
        let mut parts = vec![self.unary(depth)?];
        while self.eat_word("and") {
            parts.push(self.unary(depth)?);
        }
        Some(if parts.len() == 1 {
            parts.pop()?
        } else {
            Expr::And(parts)
        })
    }

    fn unary(&mut self, depth: usize) -> Option<Expr> {
        if self.eat(&Token::LParen) {
            if depth >= MAX_DEPTH {
                return None;
            }
            let inner = self.or_expr(depth + 1)?;
            return self.eat(&Token::RParen).then_some(inner);
        }
        self.comparison().map(Expr::Compare)
    }

    fn comparison(&mut self) -> Option<Comparison> {
        self.comparisons += 1;
        if self.comparisons > MAX_COMPARISONS {
            return None;
        }
        let name = match self.next()? {
            Token::Word(w) if !RESERVED.contains(&w.as_str()) => {
                w.split('.').map(String::from).collect()
            }
            _ => return None,
        };
        let op = self.operator()?;
        let value = if op.kind == OpKind::In {
            self.list()?
        } else {
            self.scalar()?
        };
        // Which values each operator takes, as DjangoQL's grammar has it.
        let allowed = match (op.kind, &value) {
            (OpKind::Eq, _) => true,
            (OpKind::Order(_), v) => matches!(v, Value::Str(_) | Value::Int(_) | Value::Float(_)),
            (OpKind::IContains | OpKind::StartsWith | OpKind::EndsWith, v) => {
                matches!(v, Value::Str(_))
            }
            (OpKind::In, v) => matches!(v, Value::List(_)),
        };
        allowed.then_some(Comparison { name, op, value })
    }

    fn operator(&mut self) -> Option<Op> {
        let plain = |kind| {
            Some(Op {
                kind,
                negated: false,
            })
        };
        let negated = |kind| {
            Some(Op {
                kind,
                negated: true,
            })
        };
        match self.next()? {
            Token::Eq => plain(OpKind::Eq),
            Token::Ne => negated(OpKind::Eq),
            Token::Tilde => plain(OpKind::IContains),
            Token::NotTilde => negated(OpKind::IContains),
            Token::Gt => plain(OpKind::Order(Cmp::Gt)),
            Token::Ge => plain(OpKind::Order(Cmp::Ge)),
            Token::Lt => plain(OpKind::Order(Cmp::Lt)),
            Token::Le => plain(OpKind::Order(Cmp::Le)),
            Token::Word(w) => match w.as_str() {
                "in" => plain(OpKind::In),
                "startswith" => plain(OpKind::StartsWith),
                "endswith" => plain(OpKind::EndsWith),
                "not" => match self.next()? {
                    Token::Word(w) => match w.as_str() {
                        "in" => negated(OpKind::In),
                        "startswith" => negated(OpKind::StartsWith),
                        "endswith" => negated(OpKind::EndsWith),
                        _ => None,
                    },
                    _ => None,
                },
                _ => None,
            },
            _ => None,
        }
    }

    fn scalar(&mut self) -> Option<Value> {
        Some(match self.next()? {
            Token::Str(s) => Value::Str(s),
            Token::Int(i) => Value::Int(i),
            Token::Float(f) => Value::Float(f),
            Token::Word(w) => match w.as_str() {
                "True" | "true" => Value::Bool(true),
                "False" | "false" => Value::Bool(false),
                "None" => Value::Null,
                _ => return None,
            },
            _ => return None,
        })
    }

    /// `"(" scalar ("," scalar)* ")"` of strings and numbers; no empty list, no trailing comma.
    fn list(&mut self) -> Option<Value> {
        if !self.eat(&Token::LParen) {
            return None;
        }
        let mut items = Vec::new();
        loop {
            self.list_values += 1;
            if self.list_values > MAX_LIST_VALUES {
                return None;
            }
            match self.scalar()? {
                v @ (Value::Str(_) | Value::Int(_) | Value::Float(_)) => items.push(v),
                _ => return None,
            }
            if self.eat(&Token::RParen) {
                return Some(Value::List(items));
            }
            if !self.eat(&Token::Comma) {
                return None;
            }
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Compilation against a schema

fn compile<F: Copy, R>(
    expr: &Expr,
    resolve: &dyn Fn(&str) -> Option<FieldKind<F>>,
) -> Option<Filter<F, R>> {
    match expr {
        Expr::And(parts) => Some(Filter::And(
            parts
                .iter()
                .map(|p| compile(p, resolve))
                .collect::<Option<_>>()?,
        )),
        Expr::Or(parts) => Some(Filter::Or(
            parts
                .iter()
                .map(|p| compile(p, resolve))
                .collect::<Option<_>>()?,
        )),
        Expr::Compare(c) => {
            let (head, path) = c.name.split_first()?;
            let base = match (resolve(head)?, path.is_empty()) {
                (FieldKind::Json(field), false) => json_compare(field, path, c.op.kind, &c.value)?,
                (FieldKind::Json(_), true) | (_, false) => return None,
                (FieldKind::Text(field), true) => text_compare(field, None, c.op.kind, &c.value)?,
                (FieldKind::Choice(field, valid), true) => {
                    text_compare(field, Some(valid), c.op.kind, &c.value)?
                }
                (FieldKind::Bool { field, nullable }, true) => {
                    bool_compare(field, nullable, c.op.kind, &c.value)?
                }
            };
            Some(if c.op.negated {
                Filter::Not(Box::new(base))
            } else {
                base
            })
        }
    }
}

/// The positive form of a comparison on a string column. Stored text never holds NUL (PostgreSQL
/// cannot store it), so a NUL-bearing operand of a matching operator matches nothing, like
/// `query::attributes_filter`; ordering against such an operand is refused.
fn text_compare<F: Copy, R>(
    field: F,
    choice: Option<fn(&str) -> bool>,
    op: OpKind,
    value: &Value,
) -> Option<Filter<F, R>> {
    let valid = |s: &str| choice.is_none_or(|ok| ok(s));
    match (op, value) {
        (OpKind::Eq, Value::Str(s)) => {
            if !valid(s) {
                return None;
            }
            if s.contains('\0') {
                return Some(Filter::Nothing);
            }
            Some(Filter::Compare(field, Cmp::Eq, Literal::Text(s.clone())))
        }
        (OpKind::Order(cmp), Value::Str(s)) if !s.contains('\0') => {
            Some(Filter::Compare(field, cmp, Literal::Text(s.clone())))
        }
        (OpKind::IContains | OpKind::StartsWith | OpKind::EndsWith, Value::Str(s))
            if s.contains('\0') =>
        {
            Some(Filter::Nothing)
        }
        (OpKind::IContains, Value::Str(s)) => Some(Filter::IContains(field, s.clone())),
        // Django's `startswith`/`endswith` are case-sensitive on PostgreSQL; so are these.
        (OpKind::StartsWith, Value::Str(s)) => Some(Filter::StartsWith(field, s.clone())),
        (OpKind::EndsWith, Value::Str(s)) => Some(Filter::EndsWith(field, s.clone())),
        (OpKind::In, Value::List(items)) => {
            let mut literals = Vec::with_capacity(items.len());
            for item in items {
                let Value::Str(s) = item else { return None };
                if !valid(s) {
                    return None;
                }
                if !s.contains('\0') {
                    literals.push(Literal::Text(s.clone()));
                }
            }
            // An empty list compiles to "matches nothing".
            Some(Filter::In(field, literals))
        }
        _ => None,
    }
}

/// The positive form of a comparison on a boolean column: `=` with True/False, or None when
/// the QL schema declares the field nullable.
fn bool_compare<F: Copy, R>(
    field: F,
    nullable: bool,
    op: OpKind,
    value: &Value,
) -> Option<Filter<F, R>> {
    match (op, value) {
        (OpKind::Eq, Value::Bool(b)) => Some(Filter::Compare(field, Cmp::Eq, Literal::Bool(*b))),
        (OpKind::Eq, Value::Null) if nullable => Some(Filter::IsNull(field)),
        _ => None,
    }
}

/// The positive form of `attributes.<path> = value`. `!=` becomes `Not(Json)`, which (as the
/// store compiles JSON equality) also leaves out rows where the path is missing.
fn json_compare<F: Copy, R>(
    field: F,
    path: &[String],
    op: OpKind,
    value: &Value,
) -> Option<Filter<F, R>> {
    if op != OpKind::Eq {
        return None;
    }
    let json = match value {
        Value::Str(s) if s.contains('\0') => return Some(Filter::Nothing),
        Value::Str(s) => Json::String(s.clone()),
        Value::Int(i) => Json::from(*i),
        Value::Float(f) => Json::Number(serde_json::Number::from_f64(*f)?),
        Value::Bool(b) => Json::Bool(*b),
        Value::Null => Json::Null,
        Value::List(_) => return None,
    };
    Some(Filter::Json(field, path.to_vec(), json))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::groups::GroupRel;
    use crate::domain::users::UserRel;

    type UF = Filter<UserField, UserRel>;
    type GF = Filter<GroupField, GroupRel>;

    fn text(s: &str) -> Literal {
        Literal::Text(s.to_string())
    }

    fn eq(field: UserField, s: &str) -> UF {
        Filter::Compare(field, Cmp::Eq, text(s))
    }

    fn not(f: UF) -> UF {
        Filter::Not(Box::new(f))
    }

    #[test]
    fn and_with_bool() {
        assert_eq!(
            parse_user_query(r#"username = "akadmin" and is_active = True"#),
            Some(Filter::And(vec![
                eq(UserField::Username, "akadmin"),
                Filter::Compare(UserField::IsActive, Cmp::Eq, Literal::Bool(true)),
            ]))
        );
        assert_eq!(
            parse_user_query("is_active = false"),
            Some(Filter::Compare(
                UserField::IsActive,
                Cmp::Eq,
                Literal::Bool(false)
            ))
        );
        assert_eq!(
            parse_user_query("is_active != None"),
            Some(not(Filter::IsNull(UserField::IsActive)))
        );
    }

    #[test]
    fn attributes() {
        assert_eq!(
            parse_user_query(r#"attributes.team = "green""#),
            Some(Filter::Json(
                UserField::Attributes,
                vec!["team".into()],
                Json::from("green")
            ))
        );
        assert_eq!(
            parse_user_query("attributes.a.b = 3"),
            Some(Filter::Json(
                UserField::Attributes,
                vec!["a".into(), "b".into()],
                Json::from(3)
            ))
        );
        assert_eq!(
            parse_user_query("attributes.x != None"),
            Some(not(Filter::Json(
                UserField::Attributes,
                vec!["x".into()],
                Json::Null
            )))
        );
        assert_eq!(
            parse_user_query("attributes.x = -1.5e1"),
            Some(Filter::Json(
                UserField::Attributes,
                vec!["x".into()],
                Json::from(-15.0)
            ))
        );
        assert_eq!(
            parse_group_query("attributes.enabled = True"),
            Some(GF::Json(
                GroupField::Attributes,
                vec!["enabled".into()],
                Json::Bool(true)
            ))
        );
        for bad in [
            r#"attributes = "x""#,
            r#"attributes.x ~ "y""#,
            r#"attributes.x in ("a")"#,
            "attributes.x > 3",
            r#"username.x = "y""#,
            r#"attributes. = "x""#,
            r#"attributes.x. = "x""#,
        ] {
            assert_eq!(parse_user_query(bad), None, "{bad}");
        }
    }

    #[test]
    fn icontains_or() {
        assert_eq!(
            parse_user_query(r#"name ~ "smi" or email ~ "example""#),
            Some(Filter::Or(vec![
                Filter::IContains(UserField::Name, "smi".into()),
                Filter::IContains(UserField::Email, "example".into()),
            ]))
        );
        assert_eq!(
            parse_user_query(r#"name !~ "smi""#),
            Some(not(Filter::IContains(UserField::Name, "smi".into())))
        );
    }

    #[test]
    fn precedence_and_parentheses() {
        let a = || eq(UserField::Username, "a");
        let b = || eq(UserField::Name, "b");
        let c = || eq(UserField::Email, "c");
        assert_eq!(
            parse_user_query(r#"username = "a" or name = "b" and email = "c""#),
            Some(Filter::Or(vec![a(), Filter::And(vec![b(), c()])]))
        );
        assert_eq!(
            parse_user_query(r#"username = "a" and name = "b" or email = "c""#),
            Some(Filter::Or(vec![Filter::And(vec![a(), b()]), c()]))
        );
        assert_eq!(
            parse_user_query(r#"(username = "a" or name = "b") and email = "c""#),
            Some(Filter::And(vec![Filter::Or(vec![a(), b()]), c()]))
        );
        assert_eq!(parse_user_query(r#"((username = "a"))"#), Some(a()));
    }

    #[test]
    fn in_and_not_in() {
        assert_eq!(
            parse_user_query(r#"type in ("internal", "external")"#),
            Some(Filter::In(
                UserField::Type,
                vec![text("internal"), text("external")]
            ))
        );
        assert_eq!(
            parse_user_query(r#"username not in ("a","b")"#),
            Some(not(Filter::In(
                UserField::Username,
                vec![text("a"), text("b")]
            )))
        );
        for bad in [
            "username in ()",
            r#"username in ("a",)"#,
            r#"username in "a""#,
            "username in (1, 2)",
            "username in (True)",
            r#"type in ("internal", "robot")"#,
            r#"username not ("a")"#,
        ] {
            assert_eq!(parse_user_query(bad), None, "{bad}");
        }
    }

    #[test]
    fn other_operators() {
        assert_eq!(
            parse_user_query(r#"username != "akadmin""#),
            Some(not(eq(UserField::Username, "akadmin")))
        );
        assert_eq!(
            parse_user_query(r#"type != "service_account""#),
            Some(not(eq(UserField::Type, "service_account")))
        );
        assert_eq!(
            parse_user_query(r#"path startswith "users/""#),
            Some(Filter::StartsWith(UserField::Path, "users/".into()))
        );
        assert_eq!(
            parse_user_query(r#"email not endswith "@example.com""#),
            Some(not(Filter::EndsWith(
                UserField::Email,
                "@example.com".into()
            )))
        );
        assert_eq!(
            parse_user_query(r#"username >= "m""#),
            Some(Filter::Compare(UserField::Username, Cmp::Ge, text("m")))
        );
        assert_eq!(
            parse_group_query(r#"name = "admins" and is_superuser = True"#),
            Some(GF::And(vec![
                GF::Compare(GroupField::Name, Cmp::Eq, text("admins")),
                GF::Compare(GroupField::IsSuperuser, Cmp::Eq, Literal::Bool(true)),
            ]))
        );
    }

    #[test]
    fn string_escapes() {
        assert_eq!(
            parse_user_query(r#"name = "a\"b\\c\nd\te\u00e9\/""#),
            Some(eq(UserField::Name, "a\"b\\c\nd\te\u{e9}/"))
        );
        assert_eq!(
            parse_user_query(r#"name = "\ud83d\ude00""#),
            Some(eq(UserField::Name, "\u{1F600}"))
        );
        assert_eq!(
            parse_user_query(r#"name = "x\u0000""#),
            Some(Filter::Nothing)
        );
        for bad in [
            r#"name = "\q""#,
            r#"name = "\u12""#,
            r#"name = "\ud83d""#,
            r#"name = "\ude00""#,
            r#"name = "open"#,
        ] {
            assert_eq!(parse_user_query(bad), None, "{bad}");
        }
    }

    #[test]
    fn invalid_is_none() {
        for bad in [
            "",
            "   ",
            "alice",
            "sample-alice-s1",
            "alice smith",
            "username =",
            r#"username = "a" and"#,
            r#"username = "a" garbage"#,
            r#"username = "a" "b""#,
            r#"(username = "a""#,
            r#"username = "a")"#,
            "()",
            r#"nope = "a""#,
            r#"Username = "a""#,
            r#"is_active = "yes""#,
            "is_active = 1",
            "is_active ~ True",
            "is_active > True",
            r#"type = "robot""#,
            "username = 3",
            "username = True",
            "username = None",
            "username ~ 3",
            r#"username AND name = "x""#,
            r#"username = "a" AND name = "b""#,
            r#"and = "x""#,
            "username = 007",
            "username = 99999999999999999999",
            r#"username == "a""#,
            r#"username ! "a""#,
            r#"not username = "a""#,
            r#"is_superuser = True"#,
        ] {
            assert_eq!(parse_user_query(bad), None, "{bad}");
        }
        assert_eq!(parse_group_query(r#"username = "a""#), None);
        assert_eq!(parse_group_query(r#"is_superuser = "yes""#), None);
    }

    #[test]
    fn bounds() {
        let clause = r#"username = "a""#;
        let at_limit = vec![clause; MAX_COMPARISONS].join(" or ");
        assert!(parse_user_query(&at_limit).is_some());
        let over = vec![clause; MAX_COMPARISONS + 1].join(" or ");
        assert_eq!(parse_user_query(&over), None);

        let nested = |n: usize| format!("{}{clause}{}", "(".repeat(n), ")".repeat(n));
        assert!(parse_user_query(&nested(MAX_DEPTH)).is_some());
        assert_eq!(parse_user_query(&nested(MAX_DEPTH + 1)), None);
        assert_eq!(parse_user_query(&"(".repeat(100_000)), None);

        let many = vec![r#""a""#; MAX_LIST_VALUES + 1].join(",");
        assert_eq!(parse_user_query(&format!("username in ({many})")), None);
    }
}
