//! The layers' rules, checked on the source text: front ends (and the shared credential checks
//! in `auth/`) reach the directory only through the domain (none names the store), the store does not depend upward, and the query
//! vocabulary depends on nothing of ours. A violation fails with its file and line.

use std::fs;
use std::path::{Path, PathBuf};

/// Folders holding front ends (those not written yet are checked once they exist),
/// `src/auth`, the credential checks every front end shares, and `src/metrics`, which reads
/// the store's numbers through the domain: all reach the directory through the domain.
const FRONT_ENDS: [&str; 8] = [
    "src/api",
    "src/auth",
    "src/metrics",
    "src/ldap",
    "src/scim",
    "src/cli",
    "src/import",
    "src/console",
];

#[test]
fn no_front_end_names_the_store() {
    let found = violations(&FRONT_ENDS, &["store"]);
    assert!(
        found.is_empty(),
        "front ends must reach the store through the domain:\n{}",
        found.join("\n")
    );
}

#[test]
fn the_store_does_not_depend_upward() {
    let found = violations(&["src/store"], &["domain", "api", "auth"]);
    assert!(
        found.is_empty(),
        "the store must not name the layers above it:\n{}",
        found.join("\n")
    );
}

#[test]
fn the_query_vocabulary_names_no_other_layer() {
    let found = violations(&["src/query"], &["domain", "store", "api", "auth"]);
    assert!(
        found.is_empty(),
        "the query vocabulary must not name other layers:\n{}",
        found.join("\n")
    );
}

#[test]
fn the_check_sees_every_spelling_of_a_module() {
    let text = "use crate::store::groups;\n\
                let x = crate::store::Store::connect;\n\
                use super::super::store;\n\
                use crate::{app::AppState, store::Touched};\n\
                use crate::{\n    api,\n    store,\n};\n\
                // a comment may say crate::store\n\
                use crate::storefront;\n\
                use crate::{stores, api::store};\n";
    let lines = mentions(text, "store");
    assert_eq!(lines, vec![1, 2, 3, 4, 7]);
}

/// Every mention of one of `modules` in the `.rs` files under `folders`, as `file:line: text`.
fn violations(folders: &[&str], modules: &[&str]) -> Vec<String> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut found = Vec::new();
    for folder in folders {
        for file in rust_files(&root.join(folder)) {
            let Ok(text) = fs::read_to_string(&file) else {
                found.push(format!("{}: unreadable", file.display()));
                continue;
            };
            let lines: Vec<&str> = text.lines().collect();
            for module in modules {
                for line in mentions(&text, module) {
                    let shown = file.strip_prefix(root).unwrap_or(&file).display();
                    let source = lines.get(line - 1).map_or("", |l| l.trim());
                    found.push(format!("{shown}:{line}: names {module}: {source}"));
                }
            }
        }
    }
    found
}

/// The `.rs` files under `dir`, recursively (none when it does not exist).
fn rust_files(dir: &Path) -> Vec<PathBuf> {
    let mut files = Vec::new();
    let Ok(entries) = fs::read_dir(dir) else {
        return files;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_dir() {
            files.extend(rust_files(&path));
        } else if path.extension().is_some_and(|e| e == "rs") {
            files.push(path);
        }
    }
    files.sort();
    files
}

/// Lines (1-based) where `text` names the crate's module `module`: `crate::module`,
/// `super::module` (at any depth of `super`) or `module` at the top of a `crate::{…}` group.
/// Lines that are comments do not count.
fn mentions(text: &str, module: &str) -> Vec<usize> {
    let code: String = text
        .lines()
        .map(|l| {
            if l.trim_start().starts_with("//") {
                ""
            } else {
                l
            }
        })
        .collect::<Vec<_>>()
        .join("\n");
    let line_of = |at: usize| code[..at].matches('\n').count() + 1;
    let mut lines = Vec::new();
    for prefix in ["crate::", "super::"] {
        let needle = format!("{prefix}{module}");
        for (at, _) in code.match_indices(&needle) {
            if ends_word(&code[at + needle.len()..]) && starts_word(&code[..at]) {
                lines.push(line_of(at));
            }
        }
    }
    for (at, _) in code.match_indices("crate::{") {
        let start = at + "crate::{".len();
        let mut depth = 1;
        let mut item_start = start;
        for (offset, c) in code[start..].char_indices() {
            let here = start + offset;
            match c {
                '{' => depth += 1,
                '}' | ',' if depth == 1 => {
                    if code[item_start..here].trim().split("::").next() == Some(module)
                        || code[item_start..here].trim() == module
                    {
                        lines.push(line_of(item_start + leading_space(&code[item_start..here])));
                    }
                    item_start = here + 1;
                    if c == '}' {
                        break;
                    }
                }
                '}' => depth -= 1,
                _ => {}
            }
        }
    }
    lines.sort();
    lines.dedup();
    lines
}

/// Whether what follows a name ends it (the name is not a prefix of a longer one).
fn ends_word(rest: &str) -> bool {
    !rest
        .chars()
        .next()
        .is_some_and(|c| c.is_alphanumeric() || c == '_')
}

/// Whether what precedes a path starts it (`crate` / `super` is not the tail of a longer name).
fn starts_word(before: &str) -> bool {
    !before
        .chars()
        .next_back()
        .is_some_and(|c| c.is_alphanumeric() || c == '_')
}

/// Bytes of whitespace at the start of `s`.
fn leading_space(s: &str) -> usize {
    s.len() - s.trim_start().len()
}
