//! JSON values written as block-style YAML, for the OpenAPI document (the one YAML gatehouse
//! writes; a YAML library would be one more dependency for it). Strings are written as JSON
//! strings — double-quoted YAML scalars use the same escapes — unless they are plain words that
//! no YAML reader could take for anything but a string; keys likewise.

use serde_json::Value;

/// `value` as a YAML document.
pub fn to_yaml(value: &Value) -> String {
    let mut out = String::new();
    match value {
        Value::Object(map) if !map.is_empty() => write_map(&mut out, map, 0),
        Value::Array(items) if !items.is_empty() => write_seq(&mut out, items, 0),
        other => {
            out.push_str(&scalar(other));
            out.push('\n');
        }
    }
    out
}

fn indent(out: &mut String, depth: usize) {
    for _ in 0..depth {
        out.push_str("  ");
    }
}

fn write_map(out: &mut String, map: &serde_json::Map<String, Value>, depth: usize) {
    for (key, value) in map {
        indent(out, depth);
        out.push_str(&string(key));
        out.push(':');
        write_child(out, value, depth);
    }
}

fn write_seq(out: &mut String, items: &[Value], depth: usize) {
    for value in items {
        indent(out, depth);
        out.push('-');
        write_child(out, value, depth);
    }
}

/// The value after `key:` or `-`: nested collections on the following lines, one level deeper.
fn write_child(out: &mut String, value: &Value, depth: usize) {
    match value {
        Value::Object(map) if !map.is_empty() => {
            out.push('\n');
            write_map(out, map, depth + 1);
        }
        Value::Array(items) if !items.is_empty() => {
            out.push('\n');
            write_seq(out, items, depth + 1);
        }
        other => {
            out.push(' ');
            out.push_str(&scalar(other));
            out.push('\n');
        }
    }
}

fn scalar(value: &Value) -> String {
    match value {
        Value::Null => "null".into(),
        Value::Bool(b) => b.to_string(),
        Value::Number(n) => n.to_string(),
        Value::String(s) => string(s),
        Value::Array(_) => "[]".into(),
        Value::Object(_) => "{}".into(),
    }
}

/// A string, plain when it is an identifier-like word YAML reads back as that string.
fn string(s: &str) -> String {
    let plain = !s.is_empty()
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || "_-./{}".contains(c))
        && s.chars()
            .next()
            .is_some_and(|c| c.is_ascii_alphabetic() || c == '/')
        && !s.contains('{')
        && !matches!(
            s.to_ascii_lowercase().as_str(),
            "true" | "false" | "null" | "yes" | "no" | "on" | "off" | "y" | "n" | "nan" | "inf"
        );
    if plain {
        s.to_string()
    } else {
        Value::String(s.to_string()).to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn nests_quotes_and_keeps_empty_collections() {
        let doc = json!({
            "openapi": "3.1.0",
            "paths": {"/core/users/{id}/": {"get": {"tags": ["core"], "x": {}}}},
            "flags": [true, null, 1.5, "yes", "a: b"],
            "empty": []
        });
        assert_eq!(
            to_yaml(&doc),
            concat!(
                "openapi: \"3.1.0\"\n",
                "paths:\n",
                "  \"/core/users/{id}/\":\n",
                "    get:\n",
                "      tags:\n",
                "        - core\n",
                "      x: {}\n",
                "flags:\n",
                "  - true\n",
                "  - null\n",
                "  - 1.5\n",
                "  - \"yes\"\n",
                "  - \"a: b\"\n",
                "empty: []\n",
            )
        );
    }
}
