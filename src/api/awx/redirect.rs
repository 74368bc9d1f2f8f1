//! Where `/api/login/` may send the browser after a login: only to a path of this origin.
//! Browsers are lenient with a `Location`: they drop leading spaces and control characters,
//! remove tabs and line breaks anywhere, and read a backslash as a slash, so `/\t/evil` and
//! `/\evil` both lead to `//evil`, another host. Rather than rewrite such values, anything a
//! browser would rewrite is refused, as is a path whose first segment is empty once its
//! percent-encoded slashes and backslashes are decoded (a proxy or framework may decode them).

/// Where a login goes when `next` is absent or refused.
pub const DEFAULT_TARGET: &str = "/api/";

/// `next` if it is a same-origin path a browser takes literally, else the default target.
pub fn safe_next(next: Option<&str>) -> String {
    match next {
        Some(n) if is_local_path(n) => n.to_string(),
        _ => DEFAULT_TARGET.to_string(),
    }
}

fn is_local_path(target: &str) -> bool {
    // Visible ASCII only: no space, tab, CR, LF or other control (browsers drop or strip
    // them), nothing a header cannot carry, and no backslash (read as a slash).
    if !target.chars().all(|c| c.is_ascii_graphic() && c != '\\') {
        return false;
    }
    let decoded = decode_separators(target);
    decoded.starts_with('/') && !decoded[1..].starts_with('/')
}

/// `%2F` and `%5C` (any case) as `/`, backslashes as `/`.
fn decode_separators(target: &str) -> String {
    let mut out = String::with_capacity(target.len());
    let mut rest = target;
    while let Some(c) = rest.chars().next() {
        let lower = rest.get(..3).map(str::to_ascii_lowercase);
        if matches!(lower.as_deref(), Some("%2f") | Some("%5c")) {
            out.push('/');
            rest = &rest[3..];
        } else {
            out.push(if c == '\\' { '/' } else { c });
            rest = &rest[c.len_utf8()..];
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn local_paths_pass() {
        for ok in [
            "/api/",
            "/api/v2/users/?page=2",
            "/a%20b/",
            "/.//x",
            "/a/%2F/b",
        ] {
            assert_eq!(safe_next(Some(ok)), ok, "{ok:?}");
        }
    }

    #[test]
    fn anything_a_browser_could_read_as_another_host_is_refused() {
        for bad in [
            "//evil.example/",
            "https://evil.example/",
            "/\t/evil.example/",
            "/\r\n/evil.example/",
            "/\n/evil.example/",
            " //evil.example/",
            "\u{1}//evil.example/",
            "\t/evil.example/",
            "/\\evil.example/",
            "\\/evil.example/",
            "\\\\evil.example/",
            "/%2F/evil.example/",
            "/%2fevil.example/",
            "%2F%2Fevil.example/",
            "/%5Cevil.example/",
            "/%5cevil.example/",
            "evil.example",
            "javascript:alert(1)",
            "/ü",
            "",
        ] {
            assert_eq!(safe_next(Some(bad)), DEFAULT_TARGET, "{bad:?}");
        }
        assert_eq!(safe_next(None), DEFAULT_TARGET);
    }
}
